//! What a combination solve returns: the combined outputs per time, the statistics of
//! every component and rank, and the negative values of the combined density.

use serde::Serialize;

use super::super::geometry::{BoxGrid, RawMoments};
use super::ComponentWork;

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
