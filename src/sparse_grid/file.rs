//! `[grid] kind = "sparse"` in problem files: the sparse branch of
//! [`crate::config::run_file`] and the summary printed by `ffpe solve`.
//!
//! ```toml
//! [grid]
//! kind = "sparse"
//! level = 5              # finest level per axis: 2^level cells (>= 2)
//! min_level = 2          # coarsest level per axis (>= 2: the solver needs 3+ cells)
//! # extrapolate = false  # Richardson: (4 u_n - u_{n-1}) / 3, needs level >= min_level + 1
//! # threads = 2          # worker threads for the components (default: all cores)
//! # linear_solver = "auto"   # auto (LU for d <= 3, BiCGSTAB for d >= 4) | direct | iterative
//! ```
//!
//! The `cells` of `[domain]` are not used: every component has `2^l_i` cells on axis `i`.

use serde::Serialize;
use toml::{Table, Value};

use super::combine::{CombineRequest, CombinedSolution, NegativityReport, SparseGridConfig};
use super::fokker_planck::{ComponentLinearSolver, solve_sparse_on};
use super::krylov::KrylovSettings;
use super::scheme::CombinationScheme;
use crate::config::{FileSolution, ProblemFile};
use crate::distributed::{Ranks, SingleProcess};
use crate::error::{FfpeError, Result};
use crate::observables::Observables;
use crate::solve::{SolveStats, StopReason, build_mesh};

/// What `ffpe solve` reports about a sparse-grid run.
#[derive(Clone, Debug, Serialize)]
pub struct SparseReport {
    /// Dimension.
    pub dim: usize,
    /// Finest level per axis.
    pub level: u32,
    /// Coarsest level per axis.
    pub min_level: u32,
    /// Richardson-extrapolated combination of levels `level` and `level - 1`.
    pub extrapolated: bool,
    /// For an extrapolated scheme: the largest Richardson correction of the mean and of
    /// the second moments over the output times (extrapolated minus plain level `n`),
    /// an estimate of the plain scheme's spatial error.
    pub richardson_correction: Option<(f64, f64)>,
    /// Number of component grids.
    pub components: usize,
    /// Sum of the unknowns of all components.
    pub total_unknowns: u128,
    /// Unknowns of the equivalent full grid, `2^(level d)` (None if it overflows).
    pub full_grid_unknowns: Option<u128>,
    /// Worker threads (per rank).
    pub threads: usize,
    /// MPI ranks the components were spread over (1: one process).
    pub ranks: usize,
    /// Load balance of the assignment of components to ranks (mean / largest predicted
    /// cost, unknowns x steps).
    pub assignment_balance: f64,
    /// Per-rank components, predicted cost, wall time and peak memory.
    pub rank_stats: Vec<super::combine::RankStats>,
    /// Wall time, seconds.
    pub wall_seconds: f64,
    /// Sum of the components' wall times, seconds.
    pub component_seconds: f64,
    /// Estimated peak working memory (largest components running at once), bytes.
    pub estimated_peak_bytes: usize,
    /// Measured peak resident set size of the process, bytes (Linux only).
    pub peak_rss_bytes: Option<u64>,
    /// Negative values in the combined outputs (reported, never clipped).
    pub negativity: NegativityReport,
    /// Per-component levels, cells, coefficient, unknowns, seconds and memory.
    pub component_stats: Vec<super::combine::ComponentStats>,
}

impl SparseReport {
    /// The summary of a combined solution.
    pub fn new(out: &CombinedSolution) -> Self {
        let s = &out.stats;
        Self {
            dim: s.dim,
            level: s.level,
            min_level: s.min_level,
            extrapolated: s.extrapolated,
            richardson_correction: out.richardson_correction(),
            components: s.components.len(),
            total_unknowns: s.total_unknowns,
            full_grid_unknowns: s.full_grid_unknowns,
            threads: s.threads,
            ranks: s.ranks,
            assignment_balance: s.assignment_balance,
            rank_stats: s.rank_stats.clone(),
            wall_seconds: s.wall_seconds,
            component_seconds: s.component_seconds,
            estimated_peak_bytes: s.estimated_peak_bytes,
            peak_rss_bytes: s.peak_rss_bytes,
            negativity: out.negativity.clone(),
            component_stats: s.components.clone(),
        }
    }

    /// One human-readable line (printed by `ffpe solve`).
    pub fn summary(&self) -> String {
        let full = self
            .full_grid_unknowns
            .map_or("more than 2^128".to_string(), |f| f.to_string());
        let ratio = self.full_grid_unknowns.map_or(String::new(), |f| {
            format!(
                " ({:.3}% of it)",
                100.0 * self.total_unknowns as f64 / f as f64
            )
        });
        let rss = self.peak_rss_bytes.map_or("n/a".to_string(), |b| {
            format!("{:.1} MiB", b as f64 / 1048576.0)
        });
        let rich = match self.richardson_correction {
            Some((m, s)) => format!(
                ", Richardson-extrapolated with level {} (correction: mean {m:.2e}, \
                 second moments {s:.2e})",
                self.level.saturating_sub(1)
            ),
            None => String::new(),
        };
        let threads = if self.ranks > 1 {
            let max_rss = self
                .rank_stats
                .iter()
                .filter_map(|r| r.peak_rss_bytes)
                .max()
                .map_or("n/a".to_string(), |b| {
                    format!("{:.1} MiB", b as f64 / 1048576.0)
                });
            format!(
                "{} MPI ranks x {} threads (assignment balance {:.3}, largest peak RSS of a rank {})",
                self.ranks, self.threads, self.assignment_balance, max_rss
            )
        } else {
            format!("{} threads", self.threads)
        };
        format!(
            "sparse grid (combination technique): d = {}, level {}, min_level {}{}: {} components, \
             {} unknowns in total; the equivalent full grid has {} unknowns{}; {}, \
             {:.3} s wall, peak RSS {}; negative combined values: {} points, {} marginal cells",
            self.dim,
            self.level,
            self.min_level,
            rich,
            self.components,
            self.total_unknowns,
            full,
            ratio,
            threads,
            self.wall_seconds,
            rss,
            self.negativity.negative_points,
            self.negativity.negative_marginal_cells
        )
    }
}

/// Options of `[grid] kind = "sparse"` besides `level` and `min_level`.
struct SparseOptions {
    config: SparseGridConfig,
    linear: ComponentLinearSolver,
    extrapolate: bool,
}

fn sparse_options(extra: &Table) -> Result<SparseOptions> {
    let mut config = SparseGridConfig::default();
    let mut linear = ComponentLinearSolver::Auto;
    let mut extrapolate = false;
    for (key, value) in extra {
        match (key.as_str(), value) {
            ("extrapolate", Value::Boolean(b)) => extrapolate = *b,
            ("extrapolate", v) => {
                return Err(FfpeError::invalid(
                    "grid.extrapolate",
                    format!("expected true or false, found {v}"),
                ));
            }
            ("threads", Value::Integer(t)) if (1..=1024).contains(t) => {
                config.threads = Some(*t as usize);
            }
            ("threads", v) => {
                return Err(FfpeError::out_of_range(
                    "grid.threads",
                    v,
                    "an integer 1..=1024",
                ));
            }
            ("linear_solver", Value::String(s)) => {
                linear = match s.as_str() {
                    "auto" => ComponentLinearSolver::Auto,
                    "direct" => ComponentLinearSolver::Direct,
                    "iterative" => ComponentLinearSolver::Iterative(KrylovSettings::default()),
                    other => {
                        return Err(FfpeError::UnknownKind {
                            key: "grid.linear_solver".into(),
                            value: other.into(),
                            allowed: "\"auto\", \"direct\", \"iterative\"".into(),
                        });
                    }
                }
            }
            ("linear_solver", v) => {
                return Err(FfpeError::invalid(
                    "grid.linear_solver",
                    format!("expected a string, found {v}"),
                ));
            }
            (other, _) => {
                return Err(FfpeError::invalid(
                    &format!("grid.{other}"),
                    "unknown key for kind = \"sparse\" (allowed: kind, level, min_level, extrapolate, threads, linear_solver)",
                ));
            }
        }
    }
    Ok(SparseOptions {
        config,
        linear,
        extrapolate,
    })
}

fn to_ffpe(e: super::error::SparseGridError) -> FfpeError {
    FfpeError::invalid("grid", e.to_string())
}

/// Runs a problem file with `[grid] kind = "sparse"` by the combination technique:
/// observables per output time (mass, mean, second moments, covariance, MSD from the
/// initial mean, `R`), the statistics, and a [`SparseReport`] in `sparse`. No density snapshots
/// (the combined density lives on no single grid); `min_density` of the observables is
/// the smallest density on any component.
pub fn run_sparse_file(
    file: &ProblemFile,
    level: usize,
    min_level: usize,
    extra: &Table,
) -> Result<FileSolution> {
    run_sparse_file_on(file, level, min_level, extra, &SingleProcess)
        .map(|s| s.expect("rank 0 of one process"))
}

/// [`run_sparse_file`] with the components spread over `ranks` (`mpirun -np N ffpe
/// solve`): collective; `Some` on rank 0, identical bit for bit to the single-process
/// run, `None` on the other ranks.
pub fn run_sparse_file_on(
    file: &ProblemFile,
    level: usize,
    min_level: usize,
    extra: &Table,
    ranks: &dyn Ranks,
) -> Result<Option<FileSolution>> {
    let problem = &file.problem;
    let dim = problem.dim();
    let SparseOptions {
        config,
        linear,
        extrapolate,
    } = sparse_options(extra)?;
    let as_level = |key: &str, v: usize| {
        u32::try_from(v).map_err(|_| FfpeError::out_of_range(key, v, "a small integer"))
    };
    let (level, min_level) = (
        as_level("grid.level", level)?,
        as_level("grid.min_level", min_level)?,
    );
    let scheme = if extrapolate {
        CombinationScheme::extrapolated(dim, level, min_level)
    } else {
        CombinationScheme::truncated(dim, level, min_level)
    }
    .map_err(to_ffpe)?;
    let opts = &file.options;
    let requested = if opts.output_times.is_empty() {
        vec![opts.t_end]
    } else {
        opts.output_times.clone()
    };
    // t = 0 is always computed: the MSD is measured from the initial mean
    let mut times = requested.clone();
    let prepend = times.first().is_none_or(|&t| t > 0.0);
    if prepend {
        times.insert(0, 0.0);
    }
    let mesh = build_mesh(
        problem.alpha(),
        opts.t_end,
        opts.steps,
        opts.mesh,
        &times,
        opts.history,
    )?;
    let Some(out) = solve_sparse_on(
        problem,
        &scheme,
        mesh,
        opts.history,
        &times,
        linear,
        &CombineRequest::default(),
        &config,
        ranks,
    )
    .map_err(to_ffpe)?
    else {
        return Ok(None);
    };
    let report = SparseReport::new(&out);
    let first = usize::from(prepend);
    let observables = (first..out.times.len())
        .map(|i| {
            let d = dim;
            let m = &out.snapshots[i].moments;
            let msd = out.msd(i);
            Observables {
                time: out.times[i],
                mass: m.mass,
                mean: m.mean(),
                second_moment: (0..d).map(|a| m.second_moment(a)).collect(),
                covariance: m.covariance(),
                msd,
                r: msd.max(0.0).sqrt(),
                free_energy: None,
                kl_to_steady: None,
                l1_to_steady: None,
                min_density: out.negativity.component_min_density,
            }
        })
        .collect();
    let steps = out.stats.components.first().map_or(0, |c| c.work.steps);
    let stats = SolveStats {
        steps,
        seconds: out.stats.wall_seconds,
        step_seconds: out.stats.component_seconds,
        unknowns: usize::try_from(out.stats.total_unknowns).unwrap_or(usize::MAX),
        ..Default::default()
    };
    Ok(Some(FileSolution {
        observables,
        stats,
        stop_reason: StopReason::FinalTime,
        snapshots: vec![],
        sparse: Some(report),
        extrapolation: None,
    }))
}
