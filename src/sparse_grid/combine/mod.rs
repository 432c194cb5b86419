//! Solving every component grid (in parallel) and combining what they produce.
//!
//! A [`ComponentSolver`] solves the problem on one anisotropic full grid and hands
//! each output-time density to an observer; [`solve_combination`] reduces each
//! density at once to what the user asked for (raw moments, values at points,
//! marginals), drops it, and adds the reductions with the combination coefficients.
//! Nothing of a component but these reductions outlives its solve, so memory grows
//! with the number of threads times the largest component, not with the scheme.
//!
//! The phases live in their own files: `run.rs` checks the request and solves and
//! reduces the components (on this process's threads), `merge.rs` adds the reductions
//! with the combination coefficients, `solution.rs` holds what comes out,
//! `analytic.rs` the oracle component solver of the tests.

use std::time::Instant;

use serde::Serialize;

use super::error::Result;
use super::geometry::{BoxGrid, Extrapolation};
use super::scheme::CombinationScheme;

mod analytic;
mod merge;
mod run;
mod solution;
#[cfg(test)]
mod tests;

pub use analytic::AnalyticComponents;
pub(in crate::sparse_grid) use merge::{Gathered, combine_results};
pub(in crate::sparse_grid) use run::{ComponentResult, Reduced, prepare, run_components};
pub use run::{component_costs, peak_rss_bytes};
pub use solution::{
    CombinedSnapshot, CombinedSolution, ComponentStats, NegativityReport, RankStats,
    SparseGridStats,
};

/// One output-time density of a component solve: cell values of the density
/// (per unit volume) on a cell-centred grid.
#[derive(Clone, Copy, Debug)]
pub struct Snapshot<'a> {
    /// The component grid (box, cells per axis, storage order).
    pub grid: &'a BoxGrid,
    /// Density values at the cell centres, in `grid`'s storage order.
    pub density: &'a [f64],
}

/// What a component solve reports about its own work.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ComponentWork {
    /// Time steps taken.
    pub steps: usize,
    /// Largest working memory of the solve in bytes (matrix, factorisation, history,
    /// state), as estimated by the solver; 0 when unknown.
    pub bytes: usize,
    /// Iterations of the iterative linear solver over all steps (0 for direct solves).
    pub linear_iterations: usize,
}

/// Error type a component solver may return (converted to text in
/// [`SparseGridError::Component`](super::SparseGridError::Component)).
pub type ComponentError = Box<dyn std::error::Error + Send + Sync>;

/// "Solve the problem on one full grid": the only capability the combination
/// technique needs from a full-grid solver.
pub trait ComponentSolver: Sync {
    /// Lower corner of the box shared by all components.
    fn lower(&self) -> &[f64];
    /// Upper corner of the box shared by all components.
    fn upper(&self) -> &[f64];
    /// The output times, the same for every component (so that outputs combine).
    fn output_times(&self) -> &[f64];
    /// Solves on the grid with `cells[i]` cells along axis `i` and calls
    /// `observe(index, time, snapshot)` once for each output time, in order.
    fn solve_component(
        &self,
        cells: &[usize],
        observe: &mut dyn FnMut(usize, f64, Snapshot<'_>),
    ) -> std::result::Result<ComponentWork, ComponentError>;
    /// Time steps of every component solve, for the predicted cost `unknowns x steps`
    /// of the static assignment of components to ranks (default 1: unknowns alone).
    fn steps(&self) -> usize {
        1
    }
    /// The steady-state density on the grid with `cells` cells per axis, if this
    /// solver knows it (default: not available).
    fn steady_state(
        &self,
        cells: &[usize],
    ) -> Option<std::result::Result<(BoxGrid, Vec<f64>), ComponentError>> {
        let _ = cells;
        None
    }
}

/// What to extract from every component and combine, besides the raw moments
/// (always computed).
#[derive(Clone, Debug, Default, Serialize)]
pub struct CombineRequest {
    /// Points (each of length d, inside the box) where the density is evaluated.
    pub points: Vec<Vec<f64>>,
    /// Marginals to compute: each entry lists one axis (1-D marginal) or two distinct
    /// axes (2-D marginal). Combined marginals live on the finest grid, `2^level`
    /// cells per listed axis.
    pub marginals: Vec<Vec<usize>>,
    /// Also combine the components' steady states (when the solver provides them).
    pub steady_state: bool,
    /// Interpolation between the outermost cell centres and the boundary, for points
    /// and marginals (default constant: each component's interpolant stays
    /// non-negative, so negative combined values come from the combination alone).
    pub extrapolation: Extrapolation,
}

/// How to run the combination.
#[derive(Clone, Debug, Serialize)]
pub struct SparseGridConfig {
    /// Worker threads for the components (`None`: rayon's global pool).
    pub threads: Option<usize>,
    /// Refuse schemes whose largest component has more unknowns than this
    /// (default 2^24, about 16.8 million cells).
    pub max_component_unknowns: u128,
}

impl Default for SparseGridConfig {
    fn default() -> Self {
        Self {
            threads: None,
            max_component_unknowns: 1 << 24,
        }
    }
}

/// Solves every component grid of `scheme` with `solver` (in parallel) and combines
/// the outputs named in `request` at every output time.
///
/// ```
/// use ffpe::sparse_grid::{
///     AnalyticComponents, CombinationScheme, CombineRequest, Extrapolation, SparseGridConfig,
///     solve_combination,
/// };
/// // a density that is affine in each coordinate is reproduced exactly
/// let f = |_t: f64, x: &[f64]| (1.0 + 0.5 * x[0]) * (1.0 - 0.25 * x[1]) * (1.0 + 0.1 * x[2]);
/// let solver = AnalyticComponents::new(vec![-1.0; 3], vec![1.0; 3], vec![0.0], f)?;
/// let scheme = CombinationScheme::classic(3, 4)?;
/// let request = CombineRequest {
///     points: vec![vec![0.3, -0.7, 0.9]],
///     extrapolation: Extrapolation::Linear, // exact up to the boundary
///     ..Default::default()
/// };
/// let combined = solve_combination(&scheme, &solver, &request, &SparseGridConfig::default())?;
/// let exact = f(0.0, &[0.3, -0.7, 0.9]);
/// assert!((combined.snapshots[0].points[0] - exact).abs() < 1e-12);
/// # Ok::<(), ffpe::sparse_grid::SparseGridError>(())
/// ```
pub fn solve_combination<S: ComponentSolver + ?Sized>(
    scheme: &CombinationScheme,
    solver: &S,
    request: &CombineRequest,
    config: &SparseGridConfig,
) -> Result<CombinedSolution> {
    let start = Instant::now();
    let targets = prepare(scheme, solver, request, config)?;
    let all: Vec<usize> = (0..scheme.components().len()).collect();
    let (outcomes, threads) = run_components(scheme, solver, request, config, &all, 0)?;
    let mut slots: Vec<Option<ComponentResult>> = (0..all.len()).map(|_| None).collect();
    for (i, outcome) in outcomes {
        slots[i] = Some(outcome?);
    }
    let results: Vec<ComponentResult> = slots
        .into_iter()
        .map(|r| r.expect("every component ran"))
        .collect();
    let local = RankStats {
        rank: 0,
        components: results.len(),
        predicted_cost: component_costs(scheme, solver.steps()).iter().sum(),
        wall_seconds: start.elapsed().as_secs_f64(),
        component_seconds: results.iter().map(|r| r.stats.seconds).sum(),
        estimated_peak_bytes: 0,
        peak_rss_bytes: None,
    };
    let gathered = Gathered {
        results,
        threads,
        rank_stats: vec![local],
        assignment_balance: 1.0,
        start,
    };
    Ok(combine_results(scheme, solver, request, &targets, gathered))
}
