//! Phase 1 of a combination solve: check the request against the scheme and the box,
//! solve the components on this process's threads (largest first) and reduce each
//! output-time density at once to moments, point values and marginals.

use std::time::Instant;

use rayon::prelude::*;

use super::super::error::{Result, SparseGridError};
use super::super::geometry::{BoxGrid, Layout, RawMoments, check_box};
use super::super::scheme::{CombinationScheme, Component};
use super::{CombineRequest, ComponentSolver, ComponentStats, Snapshot, SparseGridConfig};

/// Outputs of one component at one time, before combination.
#[derive(Clone, Debug)]
pub(in crate::sparse_grid) struct Reduced {
    pub(in crate::sparse_grid) moments: RawMoments,
    pub(in crate::sparse_grid) points: Vec<f64>,
    /// Marginal values on the component's own sub-grid (cells `2^l_a` [x `2^l_b`]).
    pub(in crate::sparse_grid) marginals: Vec<Vec<f64>>,
    pub(in crate::sparse_grid) min_density: f64,
}

/// Validates the request against the scheme and the box; returns the target grids
/// of the marginals.
fn check_request(
    scheme: &CombinationScheme,
    lower: &[f64],
    upper: &[f64],
    request: &CombineRequest,
) -> Result<Vec<BoxGrid>> {
    let dim = scheme.dim();
    for (what, len) in [
        ("box lower bounds", lower.len()),
        ("box upper bounds", upper.len()),
    ] {
        if len != dim {
            return Err(SparseGridError::DimensionMismatch {
                what,
                got: len,
                expected: dim,
            });
        }
    }
    check_box(lower, upper)?;
    for (index, p) in request.points.iter().enumerate() {
        if p.len() != dim {
            return Err(SparseGridError::DimensionMismatch {
                what: "evaluation point",
                got: p.len(),
                expected: dim,
            });
        }
        for (axis, &value) in p.iter().enumerate() {
            if !(value >= lower[axis] && value <= upper[axis]) {
                return Err(SparseGridError::PointOutsideBox {
                    index,
                    axis,
                    value,
                    lower: lower[axis],
                    upper: upper[axis],
                });
            }
        }
    }
    let mut grids = Vec::new();
    for axes in &request.marginals {
        let distinct = axes.len() < 2 || axes[0] != axes[1];
        if axes.is_empty() || axes.len() > 2 || !distinct || axes.iter().any(|&a| a >= dim) {
            return Err(SparseGridError::InvalidMarginal {
                axes: axes.clone(),
                dim,
            });
        }
        let lo: Vec<f64> = axes.iter().map(|&a| lower[a]).collect();
        let hi: Vec<f64> = axes.iter().map(|&a| upper[a]).collect();
        let cells = vec![scheme.finest_cells(); axes.len()];
        grids.push(BoxGrid::new(&lo, &hi, &cells, Layout::FirstAxisFastest)?);
    }
    Ok(grids)
}

fn reduce(snapshot: Snapshot<'_>, request: &CombineRequest) -> Reduced {
    let grid = snapshot.grid;
    let density = snapshot.density;
    Reduced {
        moments: grid.moments(density),
        points: request
            .points
            .iter()
            .map(|x| grid.interpolate_with(density, x, request.extrapolation))
            .collect(),
        marginals: request
            .marginals
            .iter()
            .map(|axes| grid.marginal(density, axes).1)
            .collect(),
        min_density: density.iter().copied().fold(f64::INFINITY, f64::min),
    }
}

/// The reductions and statistics of one solved component.
pub(in crate::sparse_grid) struct ComponentResult {
    pub(in crate::sparse_grid) snapshots: Vec<Reduced>,
    pub(in crate::sparse_grid) steady: Option<Reduced>,
    pub(in crate::sparse_grid) stats: ComponentStats,
}

fn run_component<S: ComponentSolver + ?Sized>(
    solver: &S,
    component: &Component,
    request: &CombineRequest,
) -> Result<ComponentResult> {
    let start = Instant::now();
    let cells = component.cells();
    let times = solver.output_times();
    let mut snapshots: Vec<Reduced> = Vec::with_capacity(times.len());
    let mut problem: Option<SparseGridError> = None;
    let mut observe = |index: usize, time: f64, snap: Snapshot<'_>| {
        if problem.is_some() {
            return;
        }
        let expected = times.get(index).copied().unwrap_or(f64::NAN);
        // times must agree to rounding: all components share one time mesh
        let tol = 1e-12 * expected.abs().max(1.0);
        if index != snapshots.len() || (time - expected).abs() > tol {
            problem = Some(SparseGridError::InconsistentTimes {
                component: component.levels.clone(),
                index,
                got: time,
                expected,
            });
            return;
        }
        if snap.grid.cells() != cells.as_slice() || snap.density.len() != snap.grid.len() {
            problem = Some(SparseGridError::InconsistentGrid {
                component: component.levels.clone(),
                got: snap.grid.cells().to_vec(),
                expected: cells.clone(),
            });
            return;
        }
        snapshots.push(reduce(snap, request));
    };
    let work =
        solver
            .solve_component(&cells, &mut observe)
            .map_err(|e| SparseGridError::Component {
                component: component.levels.clone(),
                cells: cells.clone(),
                message: e.to_string(),
            })?;
    if let Some(p) = problem {
        return Err(p);
    }
    if snapshots.len() != times.len() {
        return Err(SparseGridError::InconsistentTimes {
            component: component.levels.clone(),
            index: snapshots.len(),
            got: f64::NAN,
            expected: times.get(snapshots.len()).copied().unwrap_or(f64::NAN),
        });
    }
    let steady = if request.steady_state {
        match solver.steady_state(&cells) {
            None => None,
            Some(Err(e)) => {
                return Err(SparseGridError::Component {
                    component: component.levels.clone(),
                    cells: cells.clone(),
                    message: format!("steady state: {e}"),
                });
            }
            Some(Ok((grid, density))) => {
                if grid.cells() != cells.as_slice() || density.len() != grid.len() {
                    return Err(SparseGridError::InconsistentGrid {
                        component: component.levels.clone(),
                        got: grid.cells().to_vec(),
                        expected: cells.clone(),
                    });
                }
                Some(reduce(
                    Snapshot {
                        grid: &grid,
                        density: &density,
                    },
                    request,
                ))
            }
        }
    } else {
        None
    };
    let min_density = snapshots
        .iter()
        .chain(steady.iter())
        .map(|r| r.min_density)
        .fold(f64::INFINITY, f64::min);
    Ok(ComponentResult {
        snapshots,
        steady,
        stats: ComponentStats {
            levels: component.levels.clone(),
            unknowns: cells.iter().product(),
            cells,
            coefficient: component.coefficient,
            seconds: start.elapsed().as_secs_f64(),
            work,
            min_density,
            rank: 0,
        },
    })
}

/// Peak resident set size of this process (Linux `VmHWM`), bytes.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The predicted cost of each component of `scheme` (scheme order): unknowns x `steps`.
pub fn component_costs(scheme: &CombinationScheme, steps: usize) -> Vec<u128> {
    scheme
        .components()
        .iter()
        .map(|c| c.unknowns() * steps.max(1) as u128)
        .collect()
}

/// Checks shared by every rank: the request, the box and the component size; returns
/// the target grids of the marginals.
pub(in crate::sparse_grid) fn prepare<S: ComponentSolver + ?Sized>(
    scheme: &CombinationScheme,
    solver: &S,
    request: &CombineRequest,
    config: &SparseGridConfig,
) -> Result<Vec<BoxGrid>> {
    let targets = check_request(scheme, solver.lower(), solver.upper(), request)?;
    scheme.check_size(config.max_component_unknowns)?;
    Ok(targets)
}

/// Outcomes of the components `indices` (scheme indices) solved on this process, each
/// with its scheme index, and the thread count.
pub(in crate::sparse_grid) type Outcomes = Vec<(usize, Result<ComponentResult>)>;

/// Solves the components `indices` of `scheme` on the configured threads (largest
/// first, for load balance); `rank` is recorded in their statistics.
pub(in crate::sparse_grid) fn run_components<S: ComponentSolver + ?Sized>(
    scheme: &CombinationScheme,
    solver: &S,
    request: &CombineRequest,
    config: &SparseGridConfig,
    indices: &[usize],
    rank: usize,
) -> Result<(Outcomes, usize)> {
    let mut order: Vec<usize> = indices.to_vec();
    order.sort_by_key(|&i| std::cmp::Reverse(scheme.components()[i].unknowns()));
    let run_all = || -> Outcomes {
        order
            .par_iter()
            .with_max_len(1)
            .map(|&i| {
                let r = run_component(solver, &scheme.components()[i], request).map(|mut r| {
                    r.stats.rank = rank;
                    r
                });
                (i, r)
            })
            .collect()
    };
    Ok(match config.threads {
        Some(threads) => {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .map_err(|e| SparseGridError::ThreadPool {
                    threads,
                    message: e.to_string(),
                })?;
            (pool.install(run_all), threads)
        }
        None => (run_all(), rayon::current_num_threads()),
    })
}

/// Estimated peak working memory of the components `stats` run `threads` at a time.
pub(in crate::sparse_grid) fn components_peak_bytes(
    stats: &[&ComponentStats],
    threads: usize,
) -> usize {
    let mut bytes: Vec<usize> = stats.iter().map(|c| c.work.bytes).collect();
    bytes.sort_unstable_by(|a, b| b.cmp(a));
    bytes.iter().take(threads.max(1)).sum()
}
