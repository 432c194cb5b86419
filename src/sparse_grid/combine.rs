//! Solving every component grid (in parallel) and combining what they produce.
//!
//! A [`ComponentSolver`] solves the problem on one anisotropic full grid and hands
//! each output-time density to an observer; [`solve_combination`] reduces each
//! density at once to what the user asked for (raw moments, values at points,
//! marginals), drops it, and adds the reductions with the combination coefficients.
//! Nothing of a component but these reductions outlives its solve, so memory grows
//! with the number of threads times the largest component, not with the scheme.

use std::collections::BTreeMap;
use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;

use super::error::{Result, SparseGridError};
use super::geometry::{BoxGrid, Extrapolation, Layout, RawMoments, check_box};
use super::scheme::{CombinationScheme, Component};

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
/// [`SparseGridError::Component`]).
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

/// Outputs of one component at one time, before combination.
#[derive(Clone, Debug)]
pub(super) struct Reduced {
    pub(super) moments: RawMoments,
    pub(super) points: Vec<f64>,
    /// Marginal values on the component's own sub-grid (cells `2^l_a` [x `2^l_b`]).
    pub(super) marginals: Vec<Vec<f64>>,
    pub(super) min_density: f64,
}

/// Combined outputs at one time (or at the steady state).
#[derive(Clone, Debug, Serialize)]
pub struct CombinedSnapshot {
    /// Combined raw moments (mass, first and second moments).
    pub moments: RawMoments,
    /// Combined density at the requested points.
    pub points: Vec<f64>,
    /// Combined marginals, one per request, on [`CombinedSolution::marginal_grids`].
    pub marginals: Vec<Vec<f64>>,
}

/// Statistics of one component solve.
#[derive(Clone, Debug, Serialize)]
pub struct ComponentStats {
    /// Level per axis.
    pub levels: Vec<u32>,
    /// Cells per axis.
    pub cells: Vec<usize>,
    /// Combination coefficient.
    pub coefficient: f64,
    /// Unknowns (cells).
    pub unknowns: usize,
    /// Wall time of the solve and the reductions, seconds.
    pub seconds: f64,
    /// Work reported by the solver.
    pub work: ComponentWork,
    /// Smallest density value seen on this component (any time).
    pub min_density: f64,
    /// The rank that solved it (0 in a single process).
    pub rank: usize,
}

/// What one rank of a distributed combination did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RankStats {
    /// The rank.
    pub rank: usize,
    /// Components it solved.
    pub components: usize,
    /// Predicted cost of its components, `sum unknowns x steps`.
    pub predicted_cost: u128,
    /// Wall time of its component solves, seconds.
    pub wall_seconds: f64,
    /// Sum of its components' wall times, seconds.
    pub component_seconds: f64,
    /// Estimated peak working memory of its components (the `threads` largest at once)
    /// plus, on rank 0, the stored reductions of all components, bytes.
    pub estimated_peak_bytes: usize,
    /// Peak resident set size of its process (Linux `VmHWM`), bytes.
    pub peak_rss_bytes: Option<u64>,
}

/// Statistics of a whole combination solve.
#[derive(Clone, Debug, Serialize)]
pub struct SparseGridStats {
    /// Dimension.
    pub dim: usize,
    /// Finest level per axis.
    pub level: u32,
    /// Coarsest level per axis.
    pub min_level: u32,
    /// True when the scheme is Richardson-extrapolated (levels `n` and `n - 1`).
    pub extrapolated: bool,
    /// Per-component statistics, in scheme order.
    pub components: Vec<ComponentStats>,
    /// Sum of the unknowns of all components.
    pub total_unknowns: u128,
    /// Unknowns of the equivalent full grid (`None` if it overflows).
    pub full_grid_unknowns: Option<u128>,
    /// Threads used (per rank).
    pub threads: usize,
    /// Ranks (processes) the components were spread over (1: one process).
    pub ranks: usize,
    /// Load balance of the static assignment of components to ranks: mean / largest
    /// predicted cost per rank (1 for one rank).
    pub assignment_balance: f64,
    /// Per-rank statistics, in rank order (one entry for a single process).
    pub rank_stats: Vec<RankStats>,
    /// Wall time of the whole combination, seconds.
    pub wall_seconds: f64,
    /// Sum of the components' wall times (CPU-seconds spent in components).
    pub component_seconds: f64,
    /// Sum of the components' reported working memory, bytes.
    pub total_component_bytes: usize,
    /// Estimated peak working memory: the `threads` largest components at once plus
    /// the stored reductions, bytes.
    pub estimated_peak_bytes: usize,
    /// Peak resident set size of the process after the solve (Linux `VmHWM`), bytes;
    /// `None` where not available. Process-wide: includes everything run before. With
    /// several ranks: rank 0's process (the others are in `rank_stats`).
    pub peak_rss_bytes: Option<u64>,
}

/// Negative values in the combined outputs: the combination technique is not a
/// positive scheme (its coefficients alternate in sign), so combined densities and
/// marginals can dip below zero where the density is small. They are reported here,
/// never clipped.
#[derive(Clone, Debug, Default, Serialize)]
pub struct NegativityReport {
    /// Smallest density value on any component at any time (the full-grid solver is
    /// positive, so this should be >= 0 up to rounding).
    pub component_min_density: f64,
    /// Number of combined point values (over all times) that are negative.
    pub negative_points: usize,
    /// Number of combined point values in total.
    pub total_points: usize,
    /// Most negative combined point value (0 if none).
    pub min_point_value: f64,
    /// Number of combined marginal cell values (all marginals and times) that are negative.
    pub negative_marginal_cells: usize,
    /// Number of combined marginal cell values in total.
    pub total_marginal_cells: usize,
    /// Most negative combined marginal value, relative to the largest marginal value of
    /// the same marginal and time (0 if none).
    pub min_marginal_relative: f64,
    /// Largest negative mass (sum of negative values times cell size) of any combined
    /// marginal at any time (0 if none).
    pub max_negative_marginal_mass: f64,
}

impl NegativityReport {
    /// True when nothing combined is negative.
    pub fn is_clean(&self) -> bool {
        self.negative_points == 0 && self.negative_marginal_cells == 0
    }
}

/// The combined solution: outputs at every output time, statistics, negativity.
#[derive(Clone, Debug, Serialize)]
pub struct CombinedSolution {
    /// Output times.
    pub times: Vec<f64>,
    /// Combined outputs, one per output time.
    pub snapshots: Vec<CombinedSnapshot>,
    /// Combined steady state, when requested and available from the solver.
    pub steady_state: Option<CombinedSnapshot>,
    /// For an extrapolated scheme, the raw moments of the plain (not extrapolated)
    /// level-`n` combination at every output time, from the same component solves:
    /// `snapshots[i].moments - plain_moments[i]` is the Richardson correction, an
    /// estimate of the plain scheme's spatial error. Empty for other schemes.
    pub plain_moments: Vec<RawMoments>,
    /// The grids on which the combined marginals live (one per request).
    pub marginal_grids: Vec<BoxGrid>,
    /// Timing and memory.
    pub stats: SparseGridStats,
    /// Negative values found in the combined outputs.
    pub negativity: NegativityReport,
}

impl CombinedSolution {
    /// Combined mass `int p` at output `index` (exactly 1 up to rounding when every
    /// component conserves mass, since the coefficients sum to one).
    pub fn mass(&self, index: usize) -> f64 {
        self.snapshots[index].moments.mass
    }

    /// Combined mean at output `index`.
    pub fn mean(&self, index: usize) -> Vec<f64> {
        self.snapshots[index].moments.mean()
    }

    /// Combined covariance (row-major `d x d`) at output `index`.
    pub fn covariance(&self, index: usize) -> Vec<f64> {
        self.snapshots[index].moments.covariance()
    }

    /// Mean squared displacement at output `index`, measured from the mean at the
    /// first output time: `E|w(t) - <w>(t_0)|^2`.
    pub fn msd(&self, index: usize) -> f64 {
        let centre = self.snapshots[0].moments.mean();
        self.snapshots[index].moments.msd_about(&centre)
    }

    /// Root mean squared displacement `R(t) = sqrt(msd)` at output `index`.
    pub fn r(&self, index: usize) -> f64 {
        self.msd(index).max(0.0).sqrt()
    }

    /// For an extrapolated scheme, the largest Richardson correction of the mean and
    /// of the second moments `E[w_i w_j]` over all output times: `(max |mean_R -
    /// mean_n|, max |S_R - S_n|)`, the extrapolated minus the plain level-`n` values.
    /// `None` for schemes that are not extrapolated.
    pub fn richardson_correction(&self) -> Option<(f64, f64)> {
        if self.plain_moments.is_empty() {
            return None;
        }
        let (mut dm, mut ds) = (0.0f64, 0.0f64);
        for (snap, plain) in self.snapshots.iter().zip(&self.plain_moments) {
            for (a, b) in snap.moments.mean().iter().zip(plain.mean()) {
                dm = dm.max((a - b).abs());
            }
            let (ma, mb) = (snap.moments.mass, plain.mass);
            for (a, b) in snap.moments.second.iter().zip(&plain.second) {
                ds = ds.max((a / ma - b / mb).abs());
            }
        }
        Some((dm, ds))
    }
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

pub(super) struct ComponentResult {
    pub(super) snapshots: Vec<Reduced>,
    pub(super) steady: Option<Reduced>,
    pub(super) stats: ComponentStats,
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

/// Combines the reductions of all components at one time; `pick` selects the
/// reduction (a time index or the steady state) of a component.
#[allow(clippy::too_many_arguments)]
fn combine_one(
    scheme: &CombinationScheme,
    results: &[ComponentResult],
    pick: impl Fn(&ComponentResult) -> &Reduced,
    request: &CombineRequest,
    targets: &[BoxGrid],
    lower: &[f64],
    upper: &[f64],
    negativity: &mut NegativityReport,
) -> CombinedSnapshot {
    let dim = scheme.dim();
    let mut moments = RawMoments::zeros(dim);
    let mut points = vec![0.0; request.points.len()];
    for (component, result) in scheme.components().iter().zip(results) {
        let r = pick(result);
        let c = component.coefficient;
        moments.add_scaled(c, &r.moments);
        for (p, v) in points.iter_mut().zip(&r.points) {
            *p += c * v;
        }
    }
    let mut marginals = Vec::with_capacity(targets.len());
    for (m, (axes, target)) in request.marginals.iter().zip(targets).enumerate() {
        // group components by their levels along `axes`: their marginals live on the
        // same sub-grid and can be added before one interpolation (BTreeMap: fixed order)
        let mut groups: BTreeMap<Vec<u32>, Vec<f64>> = BTreeMap::new();
        for (component, result) in scheme.components().iter().zip(results) {
            let key: Vec<u32> = axes.iter().map(|&a| component.levels[a]).collect();
            let values = &pick(result).marginals[m];
            let acc = groups.entry(key).or_insert_with(|| vec![0.0; values.len()]);
            for (a, v) in acc.iter_mut().zip(values) {
                *a += component.coefficient * v;
            }
        }
        let mut out = vec![0.0; target.len()];
        let mut x = vec![0.0; axes.len()];
        for (key, values) in &groups {
            let lo: Vec<f64> = axes.iter().map(|&a| lower[a]).collect();
            let hi: Vec<f64> = axes.iter().map(|&a| upper[a]).collect();
            let cells: Vec<usize> = key.iter().map(|&l| 1usize << l).collect();
            let sub =
                BoxGrid::new(&lo, &hi, &cells, Layout::FirstAxisFastest).expect("checked box");
            target.for_each_cell(|idx, flat| {
                for (j, &k) in idx.iter().enumerate() {
                    x[j] = target.centre(j, k);
                }
                out[flat] += sub.interpolate_with(values, &x, request.extrapolation);
            });
        }
        // negativity of this combined marginal
        let max = out.iter().copied().fold(0.0f64, f64::max);
        let mut neg_mass = 0.0;
        for &v in &out {
            if v < 0.0 {
                negativity.negative_marginal_cells += 1;
                neg_mass -= v * target.cell_volume();
                if max > 0.0 {
                    negativity.min_marginal_relative =
                        negativity.min_marginal_relative.min(v / max);
                }
            }
        }
        negativity.total_marginal_cells += out.len();
        negativity.max_negative_marginal_mass = negativity.max_negative_marginal_mass.max(neg_mass);
        marginals.push(out);
    }
    for &v in &points {
        if v < 0.0 {
            negativity.negative_points += 1;
            negativity.min_point_value = negativity.min_point_value.min(v);
        }
    }
    negativity.total_points += points.len();
    CombinedSnapshot {
        moments,
        points,
        marginals,
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
    Ok(combine_results(
        scheme,
        solver,
        request,
        &targets,
        results,
        threads,
        vec![local],
        1.0,
        start,
    ))
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
pub(super) fn prepare<S: ComponentSolver + ?Sized>(
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
pub(super) type Outcomes = Vec<(usize, Result<ComponentResult>)>;

/// Solves the components `indices` of `scheme` on the configured threads (largest
/// first, for load balance); `rank` is recorded in their statistics.
pub(super) fn run_components<S: ComponentSolver + ?Sized>(
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
pub(super) fn components_peak_bytes(stats: &[&ComponentStats], threads: usize) -> usize {
    let mut bytes: Vec<usize> = stats.iter().map(|c| c.work.bytes).collect();
    bytes.sort_unstable_by(|a, b| b.cmp(a));
    bytes.iter().take(threads.max(1)).sum()
}

/// Combines the results of every component (in scheme order) into the solution: the
/// one code path of one process and of rank 0 of many, so both give the same bits.
#[allow(clippy::too_many_arguments)]
pub(super) fn combine_results<S: ComponentSolver + ?Sized>(
    scheme: &CombinationScheme,
    solver: &S,
    request: &CombineRequest,
    targets: &[BoxGrid],
    results: Vec<ComponentResult>,
    threads: usize,
    mut rank_stats: Vec<RankStats>,
    assignment_balance: f64,
    start: Instant,
) -> CombinedSolution {
    let lower = solver.lower().to_vec();
    let upper = solver.upper().to_vec();
    let mut negativity = NegativityReport {
        component_min_density: results
            .iter()
            .map(|r| r.stats.min_density)
            .fold(f64::INFINITY, f64::min),
        ..Default::default()
    };
    let times = solver.output_times().to_vec();
    let snapshots: Vec<CombinedSnapshot> = (0..times.len())
        .map(|t| {
            combine_one(
                scheme,
                &results,
                |r| &r.snapshots[t],
                request,
                targets,
                &lower,
                &upper,
                &mut negativity,
            )
        })
        .collect();
    let plain_moments: Vec<RawMoments> = if scheme.is_extrapolated() {
        (0..times.len())
            .map(|t| {
                let mut m = RawMoments::zeros(scheme.dim());
                for (component, result) in scheme.components().iter().zip(&results) {
                    if component.plain_coefficient != 0.0 {
                        m.add_scaled(component.plain_coefficient, &result.snapshots[t].moments);
                    }
                }
                m
            })
            .collect()
    } else {
        Vec::new()
    };
    let steady_state = if request.steady_state && results.iter().all(|r| r.steady.is_some()) {
        Some(combine_one(
            scheme,
            &results,
            |r| r.steady.as_ref().expect("checked"),
            request,
            targets,
            &lower,
            &upper,
            &mut negativity,
        ))
    } else {
        None
    };

    let components: Vec<ComponentStats> = results.into_iter().map(|r| r.stats).collect();
    let reduction_bytes = components.len()
        * (times.len() + 1)
        * 8
        * (1 + scheme.dim() * (scheme.dim() + 1) + request.points.len());
    let marginal_bytes: usize = components
        .iter()
        .map(|c| {
            request
                .marginals
                .iter()
                .map(|axes| axes.iter().map(|&a| c.cells[a]).product::<usize>())
                .sum::<usize>()
        })
        .sum::<usize>()
        * (times.len() + 1)
        * 8;
    // per rank: its largest components at once; rank 0 also holds every reduction
    for rs in rank_stats.iter_mut() {
        let mine: Vec<&ComponentStats> = components.iter().filter(|c| c.rank == rs.rank).collect();
        rs.estimated_peak_bytes = components_peak_bytes(&mine, threads)
            + if rs.rank == 0 {
                reduction_bytes + marginal_bytes
            } else {
                0
            };
    }
    let peak_rss = peak_rss_bytes();
    if let Some(r0) = rank_stats.first_mut() {
        r0.peak_rss_bytes = peak_rss;
    }
    let stats = SparseGridStats {
        dim: scheme.dim(),
        level: scheme.level(),
        min_level: scheme.min_level(),
        extrapolated: scheme.is_extrapolated(),
        total_unknowns: scheme.total_unknowns(),
        full_grid_unknowns: scheme.full_grid_unknowns(),
        threads,
        ranks: rank_stats.len(),
        assignment_balance,
        wall_seconds: start.elapsed().as_secs_f64(),
        component_seconds: components.iter().map(|c| c.seconds).sum(),
        total_component_bytes: components.iter().map(|c| c.work.bytes).sum(),
        estimated_peak_bytes: rank_stats
            .iter()
            .map(|r| r.estimated_peak_bytes)
            .max()
            .unwrap_or(0),
        peak_rss_bytes: peak_rss,
        rank_stats,
        components,
    };
    CombinedSolution {
        times,
        snapshots,
        steady_state,
        plain_moments,
        marginal_grids: targets.to_vec(),
        stats,
        negativity,
    }
}

/// A [`ComponentSolver`] that samples a known function `f(t, x)` at the cell centres
/// of each component: the oracle for tests (a function representable on every
/// component must be reproduced exactly) and for interpolation benchmarks.
pub struct AnalyticComponents<F> {
    lower: Vec<f64>,
    upper: Vec<f64>,
    times: Vec<f64>,
    f: F,
}

impl<F: Fn(f64, &[f64]) -> f64 + Sync> AnalyticComponents<F> {
    /// Samples `f` on the box `[lower, upper]` at the given output times.
    pub fn new(lower: Vec<f64>, upper: Vec<f64>, times: Vec<f64>, f: F) -> Result<Self> {
        if lower.len() != upper.len() {
            return Err(SparseGridError::DimensionMismatch {
                what: "box upper bounds",
                got: upper.len(),
                expected: lower.len(),
            });
        }
        check_box(&lower, &upper)?;
        Ok(Self {
            lower,
            upper,
            times,
            f,
        })
    }
}

impl<F: Fn(f64, &[f64]) -> f64 + Sync> ComponentSolver for AnalyticComponents<F> {
    fn lower(&self) -> &[f64] {
        &self.lower
    }
    fn upper(&self) -> &[f64] {
        &self.upper
    }
    fn output_times(&self) -> &[f64] {
        &self.times
    }
    fn solve_component(
        &self,
        cells: &[usize],
        observe: &mut dyn FnMut(usize, f64, Snapshot<'_>),
    ) -> std::result::Result<ComponentWork, ComponentError> {
        let grid = BoxGrid::new(&self.lower, &self.upper, cells, Layout::FirstAxisFastest)?;
        for (i, &t) in self.times.iter().enumerate() {
            let values = grid.sample(|x| (self.f)(t, x));
            observe(
                i,
                t,
                Snapshot {
                    grid: &grid,
                    density: &values,
                },
            );
        }
        Ok(ComponentWork {
            steps: self.times.len(),
            bytes: grid.len() * 8,
            linear_iterations: 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn affine_product(x: &[f64]) -> f64 {
        x.iter()
            .enumerate()
            .map(|(i, v)| 1.0 + 0.2 * (i as f64 + 1.0) * v)
            .product()
    }

    fn points(dim: usize, count: usize) -> Vec<Vec<f64>> {
        // deterministic quasi-random points in [-1, 1]^d (Weyl sequence)
        (0..count)
            .map(|k| {
                (0..dim)
                    .map(|a| {
                        let g = (2.0f64 + a as f64).sqrt();
                        2.0 * ((k as f64 + 0.5) * g).fract() - 1.0
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn representable_function_is_reproduced_exactly() {
        for dim in 2..=5 {
            for level in [dim as u32, dim as u32 + 2] {
                let scheme = CombinationScheme::classic(dim, level).unwrap();
                let solver = AnalyticComponents::new(
                    vec![-1.0; dim],
                    vec![1.0; dim],
                    vec![0.0, 1.0],
                    |t, x| (1.0 + t) * affine_product(x),
                )
                .unwrap();
                let request = CombineRequest {
                    points: points(dim, 20),
                    marginals: vec![vec![0], vec![dim - 1, 0]],
                    steady_state: false,
                    extrapolation: Extrapolation::Linear,
                };
                let c = solve_combination(&scheme, &solver, &request, &SparseGridConfig::default())
                    .unwrap();
                let abs_sum: f64 = scheme
                    .components()
                    .iter()
                    .map(|c| c.coefficient.abs())
                    .sum();
                for (t, snap) in c.times.iter().zip(&c.snapshots) {
                    for (x, v) in request.points.iter().zip(&snap.points) {
                        let exact = (1.0 + t) * affine_product(x);
                        // rounding only: each component interpolates with relative error
                        // ~ 2^d eps, amplified by the sum of |coefficients|
                        let tol = 2f64.powi(dim as i32) * abs_sum * f64::EPSILON * exact.abs();
                        assert!(
                            (v - exact).abs() < tol,
                            "d={dim} n={level} x={x:?} {}",
                            v - exact
                        );
                    }
                    // the mass of a multilinear density is integrated exactly by the midpoint rule
                    let mass = (1.0 + t) * 2f64.powi(dim as i32);
                    assert!((snap.moments.mass - mass).abs() < abs_sum * 1e-13 * mass);
                    // 1-D marginal along axis 0: 2^(d-1) (1 + 0.2 x), exact at every target centre
                    let g = &c.marginal_grids[0];
                    for k in 0..g.cells()[0] {
                        let x = g.centre(0, k);
                        let exact = (1.0 + t) * 2f64.powi(dim as i32 - 1) * (1.0 + 0.2 * x);
                        assert!((snap.marginals[0][k] - exact).abs() < abs_sum * 1e-13 * exact);
                    }
                    // 2-D marginal over (x_{d-1}, x_0), first listed axis fastest
                    let g2 = &c.marginal_grids[1];
                    g2.for_each_cell(|idx, flat| {
                        let (y, x) = (g2.centre(0, idx[0]), g2.centre(1, idx[1]));
                        let exact = (1.0 + t)
                            * 2f64.powi(dim as i32 - 2)
                            * (1.0 + 0.2 * dim as f64 * y)
                            * (1.0 + 0.2 * x);
                        let got = snap.marginals[1][flat];
                        assert!((got - exact).abs() < abs_sum * 1e-13 * exact.abs());
                    });
                }
                assert!(c.negativity.is_clean());
            }
        }
    }

    #[test]
    fn function_of_one_axis_equals_the_finest_one_dimensional_grid() {
        // sum_{l: l_0 = j} c_l is 1 for j = n and 0 otherwise: the combination of a
        // function of x_0 alone is its interpolant on the finest 1-D grid (2^n cells)
        let g = |x: f64| (-(x - 0.3) * (x - 0.3) / 0.02).exp();
        let dim = 4;
        let level = 5;
        let scheme = CombinationScheme::classic(dim, level).unwrap();
        let solver =
            AnalyticComponents::new(vec![-1.0; dim], vec![1.0; dim], vec![0.0], |_, x| g(x[0]))
                .unwrap();
        let request = CombineRequest {
            points: points(dim, 30),
            ..Default::default()
        };
        let c =
            solve_combination(&scheme, &solver, &request, &SparseGridConfig::default()).unwrap();
        let fine = BoxGrid::new(&[-1.0], &[1.0], &[1 << level], Layout::default()).unwrap();
        let values = fine.sample(|x| g(x[0]));
        for (x, v) in request.points.iter().zip(&c.snapshots[0].points) {
            let expected = fine.interpolate_with(&values, &x[..1], Extrapolation::Constant);
            assert!((v - expected).abs() < 1e-12);
        }
    }

    #[test]
    fn interpolation_error_of_a_gaussian_falls_with_the_level() {
        // smooth function with bounded mixed derivatives: the combination technique
        // converges like O(h^2 |log h|^(d-1)); asserting a factor > 2 per level is safe
        let dim = 3;
        let f = |_: f64, x: &[f64]| (-x.iter().map(|v| v * v).sum::<f64>()).exp();
        let pts = points(dim, 200);
        let mut errors = Vec::new();
        for level in 3..=7 {
            let scheme = CombinationScheme::classic(dim, level).unwrap();
            let solver =
                AnalyticComponents::new(vec![-1.0; dim], vec![1.0; dim], vec![0.0], f).unwrap();
            // linear extrapolation: constant extrapolation is only first order in the
            // boundary half cells (measured: the error halves per level there)
            let request = CombineRequest {
                points: pts.clone(),
                extrapolation: Extrapolation::Linear,
                ..Default::default()
            };
            let c = solve_combination(&scheme, &solver, &request, &SparseGridConfig::default())
                .unwrap();
            let err = pts
                .iter()
                .zip(&c.snapshots[0].points)
                .map(|(x, v)| (v - f(0.0, x)).abs())
                .fold(0.0f64, f64::max);
            errors.push(err);
        }
        for w in errors.windows(2) {
            assert!(w[1] < w[0] / 2.0, "{errors:?}");
        }
    }

    #[test]
    fn results_do_not_depend_on_the_thread_count() {
        let dim = 3;
        let f = |t: f64, x: &[f64]| (-(1.0 + t) * x.iter().map(|v| v * v).sum::<f64>()).exp();
        let scheme = CombinationScheme::classic(dim, 5).unwrap();
        let solver =
            AnalyticComponents::new(vec![-2.0; dim], vec![2.0; dim], vec![0.0, 0.5], f).unwrap();
        let request = CombineRequest {
            points: points(dim, 10),
            marginals: vec![vec![1], vec![0, 2]],
            ..Default::default()
        };
        let run = |threads| {
            let config = SparseGridConfig {
                threads: Some(threads),
                ..Default::default()
            };
            solve_combination(&scheme, &solver, &request, &config).unwrap()
        };
        let (a, b) = (run(1), run(2));
        assert_eq!(a.stats.threads, 1);
        assert_eq!(b.stats.threads, 2);
        for (x, y) in a.snapshots.iter().zip(&b.snapshots) {
            // components are combined in scheme order whatever the thread count:
            // results are bitwise identical
            assert_eq!(x.points, y.points);
            assert_eq!(x.marginals, y.marginals);
            assert_eq!(x.moments, y.moments);
        }
    }

    #[test]
    fn negative_combined_values_are_reported_not_clipped() {
        // a narrow bump: coarse anisotropic components overshoot and the alternating
        // coefficients produce negative combined values away from the bump
        let dim = 2;
        let f = |_: f64, x: &[f64]| (-(x[0] * x[0] + x[1] * x[1]) / 0.005).exp();
        let scheme = CombinationScheme::classic(dim, 6).unwrap();
        let solver =
            AnalyticComponents::new(vec![-1.0; dim], vec![1.0; dim], vec![0.0], f).unwrap();
        let grid = BoxGrid::new(&[-1.0; 2], &[1.0; 2], &[33, 33], Layout::default()).unwrap();
        let mut pts = Vec::new();
        grid.for_each_cell(|idx, _| pts.push(vec![grid.centre(0, idx[0]), grid.centre(1, idx[1])]));
        let request = CombineRequest {
            points: pts,
            marginals: vec![vec![0, 1]],
            ..Default::default()
        };
        let c =
            solve_combination(&scheme, &solver, &request, &SparseGridConfig::default()).unwrap();
        let negative = c.snapshots[0].points.iter().filter(|&&v| v < 0.0).count();
        assert!(
            negative > 0,
            "this case is chosen to produce negative values"
        );
        assert_eq!(c.negativity.negative_points, negative);
        assert_eq!(c.negativity.total_points, 33 * 33);
        let min = c.snapshots[0]
            .points
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min);
        assert!((c.negativity.min_point_value - min).abs() < 1e-15);
        assert!(c.negativity.component_min_density >= 0.0);
        assert!(!c.negativity.is_clean());
    }

    struct Faulty {
        lower: Vec<f64>,
        upper: Vec<f64>,
        times: Vec<f64>,
        mode: u8,
    }

    impl ComponentSolver for Faulty {
        fn lower(&self) -> &[f64] {
            &self.lower
        }
        fn upper(&self) -> &[f64] {
            &self.upper
        }
        fn output_times(&self) -> &[f64] {
            &self.times
        }
        fn solve_component(
            &self,
            cells: &[usize],
            observe: &mut dyn FnMut(usize, f64, Snapshot<'_>),
        ) -> std::result::Result<ComponentWork, ComponentError> {
            let grid = BoxGrid::new(&self.lower, &self.upper, cells, Layout::default())?;
            let values = vec![1.0; grid.len()];
            let snap = Snapshot {
                grid: &grid,
                density: &values,
            };
            match self.mode {
                0 => observe(0, 0.25, snap),
                1 => return Err("singular matrix".into()),
                _ => {}
            }
            Ok(ComponentWork::default())
        }
    }

    #[test]
    fn inconsistent_or_failing_components_are_errors() {
        let scheme = CombinationScheme::classic(2, 3).unwrap();
        let run = |mode| {
            let s = Faulty {
                lower: vec![0.0; 2],
                upper: vec![1.0; 2],
                times: vec![0.5],
                mode,
            };
            solve_combination(&scheme, &s, &CombineRequest::default(), &Default::default())
        };
        assert!(matches!(
            run(0),
            Err(SparseGridError::InconsistentTimes { .. })
        ));
        let e = run(1).unwrap_err();
        assert!(matches!(e, SparseGridError::Component { .. }));
        assert!(e.to_string().contains("singular matrix"));
        assert!(matches!(
            run(2),
            Err(SparseGridError::InconsistentTimes { .. })
        ));
    }

    #[test]
    fn bad_requests_are_errors() {
        let scheme = CombinationScheme::classic(2, 3).unwrap();
        let s = AnalyticComponents::new(vec![0.0; 2], vec![1.0; 2], vec![0.0], |_, _| 1.0).unwrap();
        let cfg = SparseGridConfig::default();
        let outside = CombineRequest {
            points: vec![vec![0.5, 1.5]],
            ..Default::default()
        };
        assert!(matches!(
            solve_combination(&scheme, &s, &outside, &cfg),
            Err(SparseGridError::PointOutsideBox {
                index: 0,
                axis: 1,
                ..
            })
        ));
        for axes in [vec![], vec![2], vec![0, 0], vec![0, 1, 1]] {
            let r = CombineRequest {
                marginals: vec![axes],
                ..Default::default()
            };
            assert!(matches!(
                solve_combination(&scheme, &s, &r, &cfg),
                Err(SparseGridError::InvalidMarginal { .. })
            ));
        }
        let small = SparseGridConfig {
            max_component_unknowns: 8,
            ..Default::default()
        };
        assert!(matches!(
            solve_combination(&scheme, &s, &CombineRequest::default(), &small),
            Err(SparseGridError::TooLarge { .. })
        ));
    }
}
