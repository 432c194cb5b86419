//! Phase 2 of a combination solve: add the components' reductions (in scheme order)
//! with the combination coefficients, interpolate the marginals onto the finest grid,
//! count negative values, and collect the statistics. One code path for one process
//! and for rank 0 of many, so both give the same bits.

use std::collections::BTreeMap;
use std::time::Instant;

use super::super::geometry::{BoxGrid, Layout, RawMoments};
use super::super::scheme::CombinationScheme;
use super::run::{ComponentResult, Reduced, components_peak_bytes, peak_rss_bytes};
use super::{
    CombineRequest, CombinedSnapshot, CombinedSolution, ComponentSolver, ComponentStats,
    NegativityReport, RankStats, SparseGridStats,
};

/// What the components' solves left for the combination: their results in scheme
/// order and how they ran.
pub(in crate::sparse_grid) struct Gathered {
    /// The results of every component, in scheme order.
    pub(in crate::sparse_grid) results: Vec<ComponentResult>,
    /// Worker threads per rank.
    pub(in crate::sparse_grid) threads: usize,
    /// One entry per rank (rank 0 first).
    pub(in crate::sparse_grid) rank_stats: Vec<RankStats>,
    /// Load balance of the assignment of components to ranks (1 for one process).
    pub(in crate::sparse_grid) assignment_balance: f64,
    /// When the solve started (for the wall time).
    pub(in crate::sparse_grid) start: Instant,
}

/// The fixed inputs of [`Combiner::combine`]: the scheme, the component results, the
/// request, the target grids of the marginals and the box.
struct Combiner<'a> {
    scheme: &'a CombinationScheme,
    results: &'a [ComponentResult],
    request: &'a CombineRequest,
    targets: &'a [BoxGrid],
    lower: &'a [f64],
    upper: &'a [f64],
}

/// Combines the reductions of all components at one time; `pick` selects the
/// reduction (a time index or the steady state) of a component.
impl Combiner<'_> {
    fn combine(
        &self,
        pick: impl Fn(&ComponentResult) -> &Reduced,
        negativity: &mut NegativityReport,
    ) -> CombinedSnapshot {
        let Self {
            scheme,
            results,
            request,
            targets,
            lower,
            upper,
        } = *self;
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
            negativity.max_negative_marginal_mass =
                negativity.max_negative_marginal_mass.max(neg_mass);
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
}

/// Combines the results of every component (in scheme order) into the solution: the
/// one code path of one process and of rank 0 of many, so both give the same bits.
pub(in crate::sparse_grid) fn combine_results<S: ComponentSolver + ?Sized>(
    scheme: &CombinationScheme,
    solver: &S,
    request: &CombineRequest,
    targets: &[BoxGrid],
    gathered: Gathered,
) -> CombinedSolution {
    let Gathered {
        results,
        threads,
        mut rank_stats,
        assignment_balance,
        start,
    } = gathered;
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
    let combiner = Combiner {
        scheme,
        results: &results,
        request,
        targets,
        lower: &lower,
        upper: &upper,
    };
    let snapshots: Vec<CombinedSnapshot> = (0..times.len())
        .map(|t| combiner.combine(|r| &r.snapshots[t], &mut negativity))
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
        Some(combiner.combine(|r| r.steady.as_ref().expect("checked"), &mut negativity))
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
