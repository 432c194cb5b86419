//! `[grid] kind = "sparse"` in problem files: the sparse branch of [`super::run_file`].
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
//! The keys are read with the others (`spec.rs`, `validate.rs`) into
//! [`GridSpec::Sparse`]; data flows one way, from this module into
//! [`crate::sparse_grid`].

use super::{FileSolution, GridSpec, ProblemFile};
use crate::distributed::{Ranks, SingleProcess};
use crate::error::{FfpeError, Result};
use crate::observables::Observables;
use crate::solve::{SolveStats, StopReason, build_mesh};
use crate::sparse_grid::{
    CombinationScheme, CombineRequest, SparseGridConfig, SparseGridError, SparseReport,
    SparseSolveOptions, solve_sparse_on,
};

fn to_ffpe(e: SparseGridError) -> FfpeError {
    FfpeError::invalid("grid", e.to_string())
}

/// Runs a problem file with `[grid] kind = "sparse"` by the combination technique:
/// observables per output time (mass, mean, second moments, covariance, MSD from the
/// initial mean, `R`), the statistics, and a [`SparseReport`] in `sparse`. No density snapshots
/// (the combined density lives on no single grid); `min_density` of the observables is
/// the smallest density on any component.
pub fn run_sparse_file(file: &ProblemFile) -> Result<FileSolution> {
    run_sparse_file_on(file, &SingleProcess).map(|s| s.expect("rank 0 of one process"))
}

/// [`run_sparse_file`] with the components spread over `ranks` (`mpirun -np N ffpe
/// solve`): collective; `Some` on rank 0, identical bit for bit to the single-process
/// run, `None` on the other ranks.
pub fn run_sparse_file_on(file: &ProblemFile, ranks: &dyn Ranks) -> Result<Option<FileSolution>> {
    let GridSpec::Sparse {
        level,
        min_level,
        options,
    } = &file.grid
    else {
        return Err(FfpeError::invalid("grid.kind", "expected \"sparse\""));
    };
    let (level, min_level) = (*level, *min_level);
    let problem = &file.problem;
    let dim = problem.dim();
    let as_level = |key: &str, v: usize| {
        u32::try_from(v).map_err(|_| FfpeError::out_of_range(key, v, "a small integer"))
    };
    let (level, min_level) = (
        as_level("grid.level", level)?,
        as_level("grid.min_level", min_level)?,
    );
    let scheme = if options.extrapolate {
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
    let sparse_opts = SparseSolveOptions {
        history: opts.history,
        output_times: times,
        linear_solver: options.linear_solver,
        request: CombineRequest::default(),
        config: SparseGridConfig {
            threads: options.threads,
            ..SparseGridConfig::default()
        },
    };
    let Some(out) =
        solve_sparse_on(problem, &scheme, mesh, &sparse_opts, ranks).map_err(to_ffpe)?
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
