//! What `ffpe solve` reports about a sparse-grid run: [`SparseReport`], the summary of
//! a [`CombinedSolution`] (components, unknowns against the equivalent full grid,
//! threads and ranks, wall time, memory, negative combined values).

use serde::Serialize;

use super::combine::{CombinedSolution, NegativityReport};

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
