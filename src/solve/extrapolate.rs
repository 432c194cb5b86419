//! Richardson extrapolation in space of a full-grid solve ([`SolveOptions::extrapolate`],
//! `[grid] kind = "full"` with `extrapolate = true` in problem files).
//!
//! The problem is solved on its grid (`N_a` cells per axis, every `N_a` even) and on the
//! grid with half the cells per axis, on the **same time mesh**, and the two are combined
//! as `(4 u_h - u_2h) / 3`:
//!
//! - **observables** (mass, mean, second moments, covariance, MSD, free energy, KL and
//!   L1 distance to the steady state) are combined value by value; `r` is
//!   `sqrt(msd)` of the combined MSD (the moments are the fourth-order ones tested; the
//!   L1 distance `int |p - p_s|` is not smooth where `p` crosses `p_s`, so its
//!   combination gains less);
//! - the **density** (snapshots, final state) lives on the coarse grid:
//!   `(4 R u_h - u_2h) / 3`, where `R` averages the `2^d` fine cells of each coarse
//!   cell. `R` conserves mass and the coefficients sum to one, so the combined density
//!   has the mass of the fine one (up to rounding; tested to 1e-13). It is **not
//!   clipped**: negative values are counted and reported in [`SpaceExtrapolation`], and
//!   `min_density` of the observables is the smallest combined value.
//!
//! Why it works: on a uniform grid the Scharfetter-Gummel fluxes are symmetric about
//! each face, so the semi-discrete error of smooth solutions expands in even powers,
//! `u_h = u + c h^2 + O(h^4)` (measured in `tests/extrapolation.rs`: the ratio
//! `e_h / h^2` of the mean and of the second moment settles to a constant, and the
//! extrapolated error falls 16x per halving of `h`). Read as cell averages, the fine
//! values averaged by `R` approximate the coarse cell averages with the same `c h^2`
//! term, which the combination cancels: the combined density is fourth order *as cell
//! averages*. The moments are extrapolated directly, not recomputed from the combined
//! coarse density: the midpoint rule on the coarse cells would put back an `O(H^2)`
//! quadrature term (`H^2 / 12` per axis in `<w_i^2>`).
//!
//! The time error is the same on both grids (same mesh) and passes through the
//! combination unchanged (coefficients sum to one): extrapolation removes spatial error
//! only. It pays when the spatial error dominates, and costs `1 + 2^-d` solves
//! (1.5 in 1-D, 1.25 in 2-D, 1.125 in 3-D). Non-smooth starts (`initial.kind = "point"`)
//! and absorbing walls do not have the smooth expansion everywhere and gain less.
//!
//! The largest change of the mean and of the second moments made by the extrapolation
//! over the output times ([`SpaceExtrapolation::richardson_correction`], as for the
//! extrapolated sparse grids) estimates the spatial error of the plain fine-grid solve.

use super::{Observer, Solution, SolveOptions, SolveStats, solve_plain};
use crate::error::{FfpeError, Result};
use crate::grid::TensorGrid;
use crate::observables::Observables;
use crate::problem::{Initial, Problem};
use serde::Serialize;
use std::time::Instant;

/// What the spatial Richardson extrapolation did ([`Solution::extrapolation`]).
#[derive(Clone, Debug, Serialize)]
pub struct SpaceExtrapolation {
    /// Cells per axis of the fine grid (the problem's `domain.cells`).
    pub fine_cells: Vec<usize>,
    /// Cells per axis of the coarse grid (half of them), where the combined density lives.
    pub coarse_cells: Vec<usize>,
    /// Largest change made by the extrapolation over the output times, of the mean
    /// (any axis) and of the second moments `<w_i^2>` (any axis): `|extrapolated - fine|`,
    /// an estimate of the spatial error of the plain fine-grid solve.
    pub richardson_correction: (f64, f64),
    /// Number of negative values of the combined density over the output times and the
    /// final state (reported, never clipped).
    pub negative_cells: usize,
    /// Number of combined density values checked.
    pub checked_cells: usize,
    /// Most negative combined density value (0 if none is negative).
    pub min_density: f64,
    /// Largest `|mass - fine mass|` of the combined density over the checked states
    /// (rounding only: `R` conserves mass and the coefficients sum to one).
    pub mass_defect: f64,
    /// Statistics of the fine solve.
    pub fine_stats: SolveStats,
    /// Statistics of the coarse solve.
    pub coarse_stats: SolveStats,
}

impl SpaceExtrapolation {
    /// One human-readable line (printed by `ffpe solve`).
    pub fn summary(&self) -> String {
        let cells = |c: &[usize]| {
            c.iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join("x")
        };
        format!(
            "Richardson extrapolation in space: (4 u[{}] - u[{}]) / 3 on the same time mesh \
             (correction: mean {:.2e}, second moments {:.2e}; fine solve {:.3} s, coarse {:.3} s); \
             density on the {} grid: {} of {} values negative (most negative {:.2e}, not clipped), \
             mass defect {:.1e}",
            cells(&self.fine_cells),
            cells(&self.coarse_cells),
            self.richardson_correction.0,
            self.richardson_correction.1,
            self.fine_stats.seconds,
            self.coarse_stats.seconds,
            cells(&self.coarse_cells),
            self.negative_cells,
            self.checked_cells,
            self.min_density,
            self.mass_defect
        )
    }
}

/// Cells per axis of the coarse grid of the extrapolation, after checking that `problem`
/// can be extrapolated: every axis has an even number of cells, at least 6 (the coarse
/// grid needs 3), and neither the potential nor the initial density is tabulated (both
/// are tied to the fine grid). Errors name `domain.cells`, `potential.kind` or
/// `initial.kind`.
///
/// ```
/// use ffpe::problem::Problem;
/// use ffpe::solve::extrapolation_cells;
/// let p = Problem::builder().domain(&[0.0, 0.0], &[1.0, 1.0], &[16, 8]).build().unwrap();
/// assert_eq!(extrapolation_cells(&p).unwrap(), vec![8, 4]);
/// let odd = Problem::builder().domain(&[0.0], &[1.0], &[15]).build().unwrap();
/// assert!(extrapolation_cells(&odd).unwrap_err().to_string().contains("domain.cells"));
/// ```
pub fn extrapolation_cells(problem: &Problem) -> Result<Vec<usize>> {
    let cells = problem.grid().cells();
    let d = cells.len();
    let mut coarse = Vec::with_capacity(d);
    for (a, &n) in cells.iter().enumerate() {
        if n % 2 != 0 || n < 6 {
            let key = if d == 1 {
                "domain.cells".to_string()
            } else {
                format!("domain.cells[{a}]")
            };
            return Err(FfpeError::out_of_range(
                &key,
                n,
                "an even number >= 6 with [grid] extrapolate = true (the coarse grid has half the cells, at least 3)",
            ));
        }
        coarse.push(n / 2);
    }
    if problem.potential().is_tabulated() {
        return Err(FfpeError::invalid(
            "potential.kind",
            "a tabulated potential is tied to its grid: [grid] extrapolate = true needs the potential on the coarse grid too (use a catalogue potential)",
        ));
    }
    if matches!(problem.initial(), Initial::Tabulated(_)) {
        return Err(FfpeError::invalid(
            "initial.kind",
            "a tabulated initial density is tied to its grid: [grid] extrapolate = true needs it on the coarse grid too (use gaussian, point or boltzmann)",
        ));
    }
    Ok(coarse)
}

/// `R u`: the average of the `2^d` fine cells of every coarse cell (axis 0 fastest).
///
/// ```
/// use ffpe::grid::TensorGrid;
/// use ffpe::solve::restrict_to_coarse;
/// let fine = TensorGrid::new(&[0.0, 0.0], &[1.0, 1.0], &[4, 4]).unwrap();
/// let u: Vec<f64> = (0..16).map(|i| i as f64).collect(); // rows 0..3, 4..7, 8..11, 12..15
/// assert_eq!(restrict_to_coarse(&fine, &u), vec![2.5, 4.5, 10.5, 12.5]);
/// ```
pub fn restrict_to_coarse(fine: &TensorGrid, u: &[f64]) -> Vec<f64> {
    let d = fine.dim();
    let coarse_cells: Vec<usize> = fine.cells().iter().map(|n| n / 2).collect();
    let mut strides = vec![1usize; d];
    for a in 1..d {
        strides[a] = strides[a - 1] * coarse_cells[a - 1];
    }
    let len: usize = coarse_cells.iter().product();
    let mut out = vec![0.0; len];
    let w = 0.5f64.powi(d as i32);
    let mut mi = vec![0usize; d];
    for (idx, &v) in u.iter().enumerate() {
        fine.unravel_into(idx, &mut mi);
        let c: usize = mi.iter().zip(&strides).map(|(&i, &s)| (i / 2) * s).sum();
        out[c] += w * v;
    }
    out
}

/// `(4 a - b) / 3`.
fn rich(a: f64, b: f64) -> f64 {
    (4.0 * a - b) / 3.0
}

fn rich_vec(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(x, y)| rich(*x, *y)).collect()
}

fn rich_opt(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    Some(rich(a?, b?))
}

/// The Richardson combination of the observables of the fine (`f`) and coarse (`c`)
/// solves at one time; `min_density` is that of the combined density.
fn combine_observables(f: &Observables, c: &Observables, min_density: f64) -> Observables {
    let msd = rich(f.msd, c.msd);
    Observables {
        time: f.time,
        mass: rich(f.mass, c.mass),
        mean: rich_vec(&f.mean, &c.mean),
        second_moment: rich_vec(&f.second_moment, &c.second_moment),
        covariance: rich_vec(&f.covariance, &c.covariance),
        msd,
        r: msd.max(0.0).sqrt(),
        free_energy: rich_opt(f.free_energy, c.free_energy),
        kl_to_steady: rich_opt(f.kl_to_steady, c.kl_to_steady),
        l1_to_steady: rich_opt(f.l1_to_steady, c.l1_to_steady),
        min_density,
    }
}

/// Negativity and mass bookkeeping of the combined densities.
struct Check {
    negative: usize,
    checked: usize,
    min: f64,
    mass_defect: f64,
}

impl Check {
    /// Combines `R fine` and `coarse`, records negativity and the mass defect; returns the
    /// combined density and its smallest value.
    fn combine(&mut self, fine_grid: &TensorGrid, fine: &[f64], coarse: &[f64]) -> (Vec<f64>, f64) {
        let combined = rich_vec(&restrict_to_coarse(fine_grid, fine), coarse);
        let fine_mass: f64 = fine.iter().sum::<f64>() * fine_grid.cell_volume();
        let coarse_volume = fine_grid.cell_volume() * (1usize << fine_grid.dim()) as f64;
        let mass: f64 = combined.iter().sum::<f64>() * coarse_volume;
        self.mass_defect = self.mass_defect.max((mass - fine_mass).abs());
        let mut min = f64::INFINITY;
        for &v in &combined {
            min = min.min(v);
            if v < 0.0 {
                self.negative += 1;
            }
        }
        self.min = self.min.min(min.min(0.0));
        self.checked += combined.len();
        (combined, min)
    }
}

/// The extrapolated solve of [`super::solve_with_observer`] (`opts.extrapolate`): the
/// fine solve calls `observer` (it sees the fine density); the coarse solve takes
/// exactly as many steps, so both stop at the same mesh node.
pub(super) fn solve_extrapolated(
    problem: &Problem,
    opts: &SolveOptions,
    observer: &mut dyn Observer,
) -> Result<Solution> {
    let start = Instant::now();
    let coarse_cells = extrapolation_cells(problem)?;
    let coarse_problem = problem.with_cells(&coarse_cells)?;
    // both solves keep their snapshots: the combined density is checked at every output time
    let inner = SolveOptions {
        extrapolate: false,
        snapshots: true,
        ..opts.clone()
    };
    let fine = solve_plain(problem, &inner, observer)?;
    let coarse_opts = SolveOptions {
        max_steps: Some(fine.stats.steps),
        ..inner
    };
    let coarse = solve_plain(&coarse_problem, &coarse_opts, &mut super::NoObserver)?;
    if coarse.stats.steps != fine.stats.steps || coarse.times.len() != fine.times.len() {
        return Err(FfpeError::invalid(
            "grid.extrapolate",
            format!(
                "the fine and coarse solves reached different times ({} and {} steps)",
                fine.stats.steps, coarse.stats.steps
            ),
        ));
    }
    let mut check = Check {
        negative: 0,
        checked: 0,
        min: 0.0,
        mass_defect: 0.0,
    };
    let mut snapshots = Vec::with_capacity(fine.snapshots.len());
    let mut observables = Vec::with_capacity(fine.observables.len());
    let mut correction = (0.0f64, 0.0f64);
    for ((fo, co), (fs, cs)) in fine
        .observables
        .iter()
        .zip(&coarse.observables)
        .zip(fine.snapshots.iter().zip(&coarse.snapshots))
    {
        let (combined, min) = check.combine(&fine.grid, fs, cs);
        let o = combine_observables(fo, co, min);
        for (x, y) in o.mean.iter().zip(&fo.mean) {
            correction.0 = correction.0.max((x - y).abs());
        }
        for (x, y) in o.second_moment.iter().zip(&fo.second_moment) {
            correction.1 = correction.1.max((x - y).abs());
        }
        observables.push(o);
        if opts.snapshots {
            snapshots.push(combined);
        }
    }
    let (final_density, _) = check.combine(&fine.grid, &fine.final_density, &coarse.final_density);
    let (f, c) = (&fine.stats, &coarse.stats);
    let stats = SolveStats {
        steps: f.steps,
        history_terms: f.history_terms + c.history_terms,
        exponentials: f.exponentials,
        factorizations: f.factorizations + c.factorizations,
        seconds: start.elapsed().as_secs_f64(),
        step_seconds: f.step_seconds + c.step_seconds,
        unknowns: f.unknowns + c.unknowns,
    };
    let report = SpaceExtrapolation {
        fine_cells: problem.grid().cells().to_vec(),
        coarse_cells,
        richardson_correction: correction,
        negative_cells: check.negative,
        checked_cells: check.checked,
        min_density: check.min,
        mass_defect: check.mass_defect,
        fine_stats: fine.stats.clone(),
        coarse_stats: coarse.stats.clone(),
    };
    Ok(Solution {
        times: fine.times,
        observables,
        snapshots,
        final_density,
        final_time: fine.final_time,
        stop_reason: fine.stop_reason,
        stats,
        grid: coarse.grid,
        extrapolation: Some(report),
    })
}
