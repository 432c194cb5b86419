//! The combination technique over several processes (MPI ranks).
//!
//! Every rank computes the same static assignment of components to ranks
//! ([`crate::distributed::balanced_assignment`] of the predicted costs unknowns x time
//! steps), solves its own components (on its own threads), reduces each density at once
//! exactly as one process does, and sends the reductions to rank 0 in one gather.
//! Rank 0 puts them back in scheme order and runs the same combination code as a single
//! process: the combined output is identical bit for bit, whatever the number of ranks
//! (tested against [`super::solve_combination`] with ranks simulated by threads).

use std::time::Instant;

use super::combine::{
    CombineRequest, CombinedSolution, ComponentResult, ComponentSolver, ComponentStats,
    ComponentWork, Gathered, RankStats, Reduced, SparseGridConfig, combine_results,
    component_costs, peak_rss_bytes, prepare, run_components,
};
use super::error::{Result, SparseGridError};
use super::geometry::RawMoments;
use super::scheme::CombinationScheme;
use crate::distributed::wire::{Reader, WireError, Writer};
use crate::distributed::{Ranks, balanced_assignment};

/// [`super::solve_combination`] with the components spread over `ranks`: every rank
/// calls it (it is collective); rank 0 gets `Some(solution)`, identical bit for bit to
/// the single-process solution, the other ranks `None`. A component that fails on any
/// rank is an error on rank 0 ([`SparseGridError::Rank`] names the rank); the other
/// ranks return `Ok(None)` after sending it. Errors found before any solve (bad request,
/// component too large) are returned on every rank.
///
/// ```
/// use ffpe::distributed::run_local;
/// use ffpe::sparse_grid::{
///     AnalyticComponents, CombinationScheme, CombineRequest, SparseGridConfig,
///     solve_combination, solve_combination_on,
/// };
/// let f = |t: f64, x: &[f64]| (-(1.0 + t) * (x[0] * x[0] + 2.0 * x[1] * x[1])).exp();
/// let solver = AnalyticComponents::new(vec![-1.0; 2], vec![1.0; 2], vec![0.0, 1.0], f)?;
/// let scheme = CombinationScheme::classic(2, 5)?;
/// let (req, cfg) = (CombineRequest::default(), SparseGridConfig::default());
/// let one = solve_combination(&scheme, &solver, &req, &cfg)?;
/// let three = run_local(3, |r| solve_combination_on(&scheme, &solver, &req, &cfg, r));
/// let root = three[0].as_ref().unwrap().as_ref().unwrap();
/// assert_eq!(root.snapshots[1].moments, one.snapshots[1].moments); // bit for bit
/// assert_eq!(root.stats.ranks, 3);
/// # Ok::<(), ffpe::sparse_grid::SparseGridError>(())
/// ```
pub fn solve_combination_on<S: ComponentSolver + ?Sized>(
    scheme: &CombinationScheme,
    solver: &S,
    request: &CombineRequest,
    config: &SparseGridConfig,
    ranks: &dyn Ranks,
) -> Result<Option<CombinedSolution>> {
    if ranks.size() <= 1 {
        return super::solve_combination(scheme, solver, request, config).map(Some);
    }
    let start = Instant::now();
    let targets = prepare(scheme, solver, request, config)?;
    let costs = component_costs(scheme, solver.steps());
    let assignment = balanced_assignment(&costs, ranks.size());
    let rank = ranks.rank();
    let mine = assignment.units_of(rank);
    let local_start = Instant::now();
    let (outcomes, threads) = match run_components(scheme, solver, request, config, &mine, rank) {
        Ok(x) => x,
        // a thread pool that cannot be built fails this rank's components alike
        Err(e) => (mine.iter().map(|&i| (i, Err(e.clone()))).collect(), 1),
    };
    let wall = local_start.elapsed().as_secs_f64();
    let mut w = Writer::new();
    w.usize(threads);
    w.f64(wall);
    w.u64(peak_rss_bytes().map_or(u64::MAX, |b| b));
    w.usize(outcomes.len());
    for (index, outcome) in &outcomes {
        w.usize(*index);
        match outcome {
            Ok(r) => {
                w.u64(0);
                encode_result(&mut w, r);
            }
            Err(e) => {
                w.u64(1);
                w.str(&e.to_string());
            }
        }
    }
    drop(outcomes);
    let pieces = ranks.gather(&w.into_bytes());
    if rank != 0 {
        return Ok(None);
    }
    let n = scheme.components().len();
    let mut slots: Vec<Option<ComponentResult>> = (0..n).map(|_| None).collect();
    let mut rank_stats = Vec::with_capacity(pieces.len());
    let mut first_error: Option<(usize, usize, String)> = None;
    for (from, piece) in pieces.iter().enumerate() {
        let wire = |e: WireError| SparseGridError::Rank {
            rank: from,
            message: e.to_string(),
        };
        let mut r = Reader::new(piece);
        let _threads = r.usize().map_err(wire)?;
        let wall_seconds = r.f64().map_err(wire)?;
        let rss = r.u64().map_err(wire)?;
        let count = r.usize().map_err(wire)?;
        let mut component_seconds = 0.0;
        for _ in 0..count {
            let index = r.usize().map_err(wire)?;
            if index >= n || slots[index].is_some() {
                return Err(wire(WireError(format!("component index {index}"))));
            }
            if r.u64().map_err(wire)? == 0 {
                let result = decode_result(&mut r).map_err(wire)?;
                component_seconds += result.stats.seconds;
                slots[index] = Some(result);
            } else {
                let message = r.str().map_err(wire)?;
                if first_error.as_ref().is_none_or(|e| index < e.0) {
                    first_error = Some((index, from, message));
                }
            }
        }
        if !r.is_done() {
            return Err(wire(WireError("trailing bytes".into())));
        }
        rank_stats.push(RankStats {
            rank: from,
            components: count,
            predicted_cost: assignment.loads[from],
            wall_seconds,
            component_seconds,
            estimated_peak_bytes: 0,
            peak_rss_bytes: (rss != u64::MAX).then_some(rss),
        });
    }
    if let Some((_, rank, message)) = first_error {
        return Err(SparseGridError::Rank { rank, message });
    }
    let results: Vec<ComponentResult> = slots
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            r.ok_or_else(|| SparseGridError::Rank {
                rank: assignment.owner[i],
                message: format!("component #{i} was not sent"),
            })
        })
        .collect::<Result<_>>()?;
    let gathered = Gathered {
        results,
        threads,
        rank_stats,
        assignment_balance: assignment.balance(),
        start,
    };
    Ok(Some(combine_results(
        scheme, solver, request, &targets, gathered,
    )))
}

/// Bytes of the fixed part of each rank's message to rank 0 in [`solve_combination_on`]
/// (threads, wall time, peak RSS, component count).
pub const RANK_MESSAGE_HEADER_BYTES: usize = 32;

/// Bytes one solved component adds to its rank's message to rank 0 in
/// [`solve_combination_on`]: its statistics and its reductions, with `dim` axes,
/// `snapshots` output times, `steady` when the steady state is sent too, `points`
/// requested point values and marginals of `marginal_cells` cells each (one entry per
/// requested marginal, on this component's own sub-grid). The default request of
/// `ffpe solve` (no points, no marginals, no steady state) sends
/// `104 + 4 dim + snapshots (48 + 8 dim + 8 dim^2)` bytes: 1,664 for d = 6 and 4 times.
/// Tested against the encoder. A rank's whole message is
/// [`RANK_MESSAGE_HEADER_BYTES`] plus this over its components.
pub fn component_message_bytes(
    dim: usize,
    snapshots: usize,
    steady: bool,
    points: usize,
    marginal_cells: &[usize],
) -> usize {
    // one reduction: mass, first (length + d), second (length + d^2), points (length + n),
    // marginal count, each marginal (length + cells), min_density
    let reduced = 8
        + (8 + 8 * dim)
        + (8 + 8 * dim * dim)
        + (8 + 8 * points)
        + 8
        + marginal_cells.iter().map(|c| 8 + 8 * c).sum::<usize>()
        + 8;
    // index and status, levels (length + d u32), 8 statistics, snapshot count, the
    // snapshots, the steady-state flag and the steady state
    16 + (8 + 4 * dim) + 64 + 8 + snapshots * reduced + 8 + if steady { reduced } else { 0 }
}

fn encode_moments(w: &mut Writer, m: &RawMoments) {
    w.f64(m.mass);
    w.f64s(&m.first);
    w.f64s(&m.second);
}

fn decode_moments(r: &mut Reader<'_>) -> std::result::Result<RawMoments, WireError> {
    Ok(RawMoments {
        mass: r.f64()?,
        first: r.f64s()?,
        second: r.f64s()?,
    })
}

fn encode_reduced(w: &mut Writer, x: &Reduced) {
    encode_moments(w, &x.moments);
    w.f64s(&x.points);
    w.usize(x.marginals.len());
    for m in &x.marginals {
        w.f64s(m);
    }
    w.f64(x.min_density);
}

fn decode_reduced(r: &mut Reader<'_>) -> std::result::Result<Reduced, WireError> {
    let moments = decode_moments(r)?;
    let points = r.f64s()?;
    let count = r.usize()?;
    let marginals = (0..count.min(1 << 16))
        .map(|_| r.f64s())
        .collect::<std::result::Result<_, _>>()?;
    Ok(Reduced {
        moments,
        points,
        marginals,
        min_density: r.f64()?,
    })
}

fn encode_result(w: &mut Writer, x: &ComponentResult) {
    let s = &x.stats;
    w.u32s(&s.levels);
    w.f64(s.coefficient);
    w.usize(s.unknowns);
    w.f64(s.seconds);
    w.usize(s.work.steps);
    w.usize(s.work.bytes);
    w.usize(s.work.linear_iterations);
    w.f64(s.min_density);
    w.usize(s.rank);
    w.usize(x.snapshots.len());
    for snap in &x.snapshots {
        encode_reduced(w, snap);
    }
    match &x.steady {
        Some(steady) => {
            w.u64(1);
            encode_reduced(w, steady);
        }
        None => w.u64(0),
    }
}

fn decode_result(r: &mut Reader<'_>) -> std::result::Result<ComponentResult, WireError> {
    let levels = r.u32s()?;
    let stats = ComponentStats {
        cells: levels.iter().map(|&l| 1usize << l.min(63)).collect(),
        levels,
        coefficient: r.f64()?,
        unknowns: r.usize()?,
        seconds: r.f64()?,
        work: ComponentWork {
            steps: r.usize()?,
            bytes: r.usize()?,
            linear_iterations: r.usize()?,
        },
        min_density: r.f64()?,
        rank: r.usize()?,
    };
    let count = r.usize()?;
    let snapshots = (0..count.min(1 << 20))
        .map(|_| decode_reduced(r))
        .collect::<std::result::Result<_, _>>()?;
    let steady = if r.u64()? == 1 {
        Some(decode_reduced(r)?)
    } else {
        None
    };
    Ok(ComponentResult {
        snapshots,
        steady,
        stats,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distributed::run_local;
    use crate::sparse_grid::{AnalyticComponents, Extrapolation};

    fn request(dim: usize) -> CombineRequest {
        CombineRequest {
            points: (0..7)
                .map(|k| {
                    (0..dim)
                        .map(|a| ((k * 3 + a) as f64 * 0.37).sin())
                        .collect()
                })
                .collect(),
            marginals: vec![vec![0], vec![1, dim - 1]],
            steady_state: false,
            extrapolation: Extrapolation::Linear,
        }
    }

    #[test]
    fn any_rank_count_gives_the_single_process_bits() {
        let dim = 3;
        let f = |t: f64, x: &[f64]| {
            (-(1.0 + t) * (x[0] * x[0] + 0.5 * x[1] * x[1] + 0.3 * x[0] * x[2])).exp()
        };
        let solver =
            AnalyticComponents::new(vec![-2.0; dim], vec![2.0; dim], vec![0.0, 0.5, 1.0], f)
                .unwrap();
        let req = request(dim);
        for scheme in [
            CombinationScheme::classic(dim, 6).unwrap(),
            CombinationScheme::extrapolated(dim, 6, 2).unwrap(),
        ] {
            let cfg = SparseGridConfig {
                threads: Some(1),
                ..Default::default()
            };
            let one = super::super::solve_combination(&scheme, &solver, &req, &cfg).unwrap();
            for size in [2, 3, 5] {
                let out = run_local(size, |r| {
                    solve_combination_on(&scheme, &solver, &req, &cfg, r)
                });
                assert!(out[1..].iter().all(|o| matches!(o, Ok(None))));
                let root = out[0].as_ref().unwrap().as_ref().unwrap();
                // same components, combined in scheme order: equal bit for bit
                for (a, b) in root.snapshots.iter().zip(&one.snapshots) {
                    assert_eq!(a.moments, b.moments);
                    assert_eq!(a.points, b.points);
                    assert_eq!(a.marginals, b.marginals);
                }
                assert_eq!(root.plain_moments, one.plain_moments);
                assert_eq!(root.stats.ranks, size);
                assert_eq!(root.stats.rank_stats.len(), size);
                let solved: usize = root.stats.rank_stats.iter().map(|r| r.components).sum();
                assert_eq!(solved, scheme.components().len());
                let ranks_used: std::collections::BTreeSet<usize> =
                    root.stats.components.iter().map(|c| c.rank).collect();
                assert_eq!(ranks_used.len(), size);
                for (a, b) in root.stats.components.iter().zip(&one.stats.components) {
                    assert_eq!(a.levels, b.levels);
                    assert_eq!(a.unknowns, b.unknowns);
                }
                assert!(root.stats.assignment_balance > 0.5);
            }
        }
    }

    #[test]
    fn component_message_bytes_is_what_the_encoder_writes() {
        let f = |t: f64, x: &[f64]| (-(1.0 + t) * x.iter().map(|v| v * v).sum::<f64>()).exp();
        for (dim, times) in [(3, vec![0.0, 0.5, 1.0]), (6, vec![0.0, 0.25, 0.5, 1.0])] {
            let solver =
                AnalyticComponents::new(vec![-1.0; dim], vec![1.0; dim], times.clone(), f).unwrap();
            let scheme = CombinationScheme::truncated(dim, 4, 2).unwrap();
            let cfg = SparseGridConfig::default();
            for req in [CombineRequest::default(), request(dim)] {
                let all: Vec<usize> = (0..scheme.components().len()).collect();
                let (outcomes, _) = run_components(&scheme, &solver, &req, &cfg, &all, 0).unwrap();
                for (_, outcome) in outcomes {
                    let r = outcome.unwrap();
                    let mut w = Writer::new();
                    encode_result(&mut w, &r);
                    let cells: Vec<usize> = req
                        .marginals
                        .iter()
                        .map(|axes| axes.iter().map(|&a| r.stats.cells[a]).product())
                        .collect();
                    // + 16: the index and status words written before each result
                    assert_eq!(
                        w.into_bytes().len() + 16,
                        component_message_bytes(
                            dim,
                            times.len(),
                            r.steady.is_some(),
                            req.points.len(),
                            &cells
                        )
                    );
                }
            }
        }
        assert_eq!(component_message_bytes(6, 4, false, 0, &[]), 1664);
    }

    struct FailsOn<F>(AnalyticComponents<F>, Vec<usize>);

    impl<F: Fn(f64, &[f64]) -> f64 + Sync> ComponentSolver for FailsOn<F> {
        fn lower(&self) -> &[f64] {
            self.0.lower()
        }
        fn upper(&self) -> &[f64] {
            self.0.upper()
        }
        fn output_times(&self) -> &[f64] {
            self.0.output_times()
        }
        fn solve_component(
            &self,
            cells: &[usize],
            observe: &mut dyn FnMut(usize, f64, crate::sparse_grid::Snapshot<'_>),
        ) -> std::result::Result<ComponentWork, crate::sparse_grid::ComponentError> {
            if cells == self.1.as_slice() {
                return Err("singular matrix".into());
            }
            self.0.solve_component(cells, observe)
        }
    }

    #[test]
    fn a_failing_component_is_an_error_on_rank_zero_naming_the_rank() {
        let inner =
            AnalyticComponents::new(vec![0.0; 2], vec![1.0; 2], vec![0.0], |_, _: &[f64]| 1.0)
                .unwrap();
        let scheme = CombinationScheme::classic(2, 4).unwrap();
        // costs 32 x 4 then 16 x 3: components 0, 1, 2 go to ranks 0, 1, 2; component 1
        // has levels (2, 3), cells (4, 8)
        let solver = FailsOn(inner, vec![4, 8]);
        let cfg = SparseGridConfig::default();
        let req = CombineRequest::default();
        let out = run_local(3, |r| solve_combination_on(&scheme, &solver, &req, &cfg, r));
        let e = out[0].as_ref().unwrap_err();
        assert!(matches!(e, SparseGridError::Rank { rank: 1, .. }), "{e}");
        assert!(e.to_string().contains("singular matrix"), "{e}");
        assert!(out[1..].iter().all(|o| matches!(o, Ok(None))));
        // errors before any solve are returned on every rank
        let bad = CombineRequest {
            marginals: vec![vec![5]],
            ..Default::default()
        };
        let out = run_local(2, |r| solve_combination_on(&scheme, &solver, &bad, &cfg, r));
        assert!(out.iter().all(|o| o.is_err()));
    }
}
