//! Measurements for BENCHMARKS.md (ignored by default: they take minutes).
//!
//! ```text
//! CARGO_TARGET_DIR=/work/tgt/core cargo test --release -p ffpe --test sparse_grid_report \
//!     -- --ignored --nocapture --test-threads 1 <name>
//! ```
//!
//! - `error_vs_unknowns`: coupled quadratic `K = I + (1.5/d) 1 1^T` (non-separable) in
//!   d = 2..6 (env `DIMS`, default "2,3,4"), sparse (truncated, min_level 2) and full grids,
//!   errors of mean and second moments against the exact moment solution; JSON lines.
//! - `ou_d6`: separable OU in d = 6 at level `LEVEL` (default 5) with `STEPS` (default 64),
//!   Richardson-extrapolated with `EXTRAPOLATE=1`: per-axis mean error against
//!   Mittag-Leffler (and that of the plain level-`LEVEL` combination from the same
//!   solves), time, memory; `SOE_TOL` sets the history's SOE tolerance (default 1e-12).
//!   Run under `/usr/bin/time -v`.
//! - `ou_1d_levels`: the 1-D errors behind `ou_d6` per level and step count.
//! - `spatial_error`: coupled quadratic, sparse (plain and extrapolated) versus full
//!   grids, spatial error alone (the reference is the L1 scheme on the closed moment
//!   equations, same time mesh).
//! - `speedup`: the same d = 4 solve with 1 and 2 threads.

use ffpe::problem::{Initial, Potential, Problem};
use ffpe::solve::{MeshKind, build_mesh};
use ffpe::solvers::caputo::TimeMesh;
use ffpe::solvers::history::HistoryKind;
use ffpe::solvers::mittag_leffler::mittag_leffler;
use ffpe::sparse_grid::{
    BoxGrid, CombinationScheme, CombineRequest, ComponentSolver, FokkerPlanckComponents,
    RawMoments, SparseGridConfig, solve_sparse,
};
use std::sync::Arc;
use std::time::Instant;

const ALPHA: f64 = 0.6;
const DIFF: f64 = 0.5;
const TIMES: [f64; 4] = [0.0, 0.25, 0.5, 1.0];
const HISTORY: HistoryKind = HistoryKind::Soe { tolerance: 1e-12 };

fn env_list<T: std::str::FromStr>(key: &str, default: &str) -> Vec<T> {
    std::env::var(key)
        .unwrap_or_else(|_| default.to_string())
        .split(',')
        .filter_map(|x| x.trim().parse().ok())
        .collect()
}

fn ml(z: f64) -> f64 {
    mittag_leffler(ALPHA, 1.0, z).unwrap()
}

fn coupled_problem(d: usize) -> (Problem, f64, f64) {
    let (a, b) = (1.0, 1.5 / d as f64);
    let potential = Potential::Closure(Arc::new(move |w: &[f64]| {
        let s: f64 = w.iter().sum();
        0.5 * (a * w.iter().map(|x| x * x).sum::<f64>() + b * s * s)
    }));
    let mean: Vec<f64> = (0..d)
        .map(|i| if i % 2 == 0 { 1.0 } else { -0.5 })
        .collect();
    let p = Problem::builder()
        .alpha(ALPHA)
        .gamma(1.0)
        .diffusion_scalar(DIFF)
        .potential(potential)
        .domain(&vec![-4.0; d], &vec![4.0; d], &vec![4; d])
        .initial(Initial::Gaussian {
            mean,
            std: vec![0.5],
        })
        .build()
        .unwrap();
    (p, a, b)
}

/// Exact mean and second-moment matrix of the coupled OU from the t = 0 moments.
fn exact(d: usize, a: f64, b: f64, m0: &RawMoments, t: f64) -> (Vec<f64>, Vec<f64>) {
    let lam = [a + d as f64 * b, a];
    let proj = |w: usize, i: usize, j: usize| {
        let p = 1.0 / d as f64;
        if w == 0 {
            p
        } else if i == j {
            1.0 - p
        } else {
            -p
        }
    };
    let mean0 = m0.mean();
    let s0: Vec<f64> = m0.second.iter().map(|s| s / m0.mass).collect();
    let ta = t.powf(ALPHA);
    let mut m = vec![0.0; d];
    for (i, mi) in m.iter_mut().enumerate() {
        for (w, &l) in lam.iter().enumerate() {
            let pm: f64 = (0..d).map(|j| proj(w, i, j) * mean0[j]).sum();
            *mi += ml(-l * ta) * pm;
        }
    }
    let mut s = vec![0.0; d * d];
    for u in 0..2 {
        for v in 0..2 {
            let rate = lam[u] + lam[v];
            let e = ml(-rate * ta);
            // X = P_u S0 P_v
            let mut x = vec![0.0; d * d];
            for i in 0..d {
                for q in 0..d {
                    let ps: f64 = (0..d).map(|p| proj(u, i, p) * s0[p * d + q]).sum();
                    for j in 0..d {
                        x[i * d + j] += ps * proj(v, q, j);
                    }
                }
            }
            for i in 0..d {
                for j in 0..d {
                    let inf = if u == v {
                        2.0 * DIFF * proj(u, i, j) / rate
                    } else {
                        0.0
                    };
                    s[i * d + j] += inf + (x[i * d + j] - inf) * e;
                }
            }
        }
    }
    (m, s)
}

fn errors(d: usize, a: f64, b: f64, moments: &[RawMoments]) -> (f64, f64) {
    let (mut em, mut es) = (0.0f64, 0.0f64);
    for (m, &t) in moments.iter().zip(&TIMES).skip(1) {
        let (xm, xs) = exact(d, a, b, &moments[0], t);
        for i in 0..d {
            em = em.max((m.mean()[i] - xm[i]).abs());
            for j in 0..d {
                es = es.max((m.second[i * d + j] / m.mass - xs[i * d + j]).abs());
            }
        }
    }
    (em, es)
}

fn mesh(steps: usize) -> TimeMesh {
    build_mesh(ALPHA, 1.0, steps, MeshKind::default(), &TIMES, HISTORY).unwrap()
}

/// The full grid with `2^level` cells per axis, through the same component solver.
fn full_grid(p: &Problem, level: u32, steps: usize) -> (Vec<RawMoments>, f64) {
    full_grid_with(p, level, mesh(steps), HISTORY)
}

/// [`full_grid`] on a given mesh and history.
fn full_grid_with(
    p: &Problem,
    level: u32,
    mesh: TimeMesh,
    history: HistoryKind,
) -> (Vec<RawMoments>, f64) {
    let solver = FokkerPlanckComponents::new(p, mesh, history, &TIMES).unwrap();
    let cells = vec![1usize << level; p.dim()];
    let mut moments = Vec::new();
    let start = Instant::now();
    solver
        .solve_component(&cells, &mut |_, _, snap| {
            let g: &BoxGrid = snap.grid;
            moments.push(g.moments(snap.density));
        })
        .unwrap();
    (moments, start.elapsed().as_secs_f64())
}

#[test]
#[ignore]
fn error_vs_unknowns() {
    let steps = 32;
    for d in env_list::<usize>("DIMS", "2,3,4") {
        let (p, a, b) = coupled_problem(d);
        let max_sparse: u32 = match d {
            2 => 8,
            3 => 7,
            4 => 7,
            5 => 5,
            _ => 5,
        };
        let max_full: u32 = match d {
            2 => 8,
            3 => 5,
            4 => 5,
            _ => 3,
        };
        for level in 3..=max_sparse {
            let scheme = CombinationScheme::truncated(d, level, 2).unwrap();
            let out = solve_sparse(
                &p,
                &scheme,
                mesh(steps),
                HISTORY,
                &TIMES,
                &CombineRequest::default(),
                &SparseGridConfig::default(),
            )
            .unwrap();
            let m: Vec<RawMoments> = out.snapshots.iter().map(|s| s.moments.clone()).collect();
            let (em, es) = errors(d, a, b, &m);
            println!(
                "{{\"kind\":\"sparse\",\"d\":{d},\"level\":{level},\"components\":{},\"unknowns\":{},\"seconds\":{:.3},\"mean_err\":{em:.3e},\"second_err\":{es:.3e}}}",
                scheme.components().len(),
                scheme.total_unknowns(),
                out.stats.wall_seconds
            );
        }
        for level in 3..=max_full {
            let (m, secs) = full_grid(&p, level, steps);
            let (em, es) = errors(d, a, b, &m);
            println!(
                "{{\"kind\":\"full\",\"d\":{d},\"level\":{level},\"unknowns\":{},\"seconds\":{secs:.3},\"mean_err\":{em:.3e},\"second_err\":{es:.3e}}}",
                1u128 << (level as usize * d)
            );
        }
    }
}

#[test]
#[ignore]
fn ou_d6() {
    let d = 6;
    let level: u32 = env_list("LEVEL", "5")[0];
    let steps: usize = env_list("STEPS", "64")[0];
    let threads: Vec<usize> = env_list("THREADS", "");
    let k: Vec<f64> = (0..d).map(|i| 1.0 + 0.25 * i as f64).collect();
    let mean0: Vec<f64> = (0..d)
        .map(|i| if i % 2 == 0 { 1.0 } else { -0.8 })
        .collect();
    let p = Problem::builder()
        .alpha(ALPHA)
        .gamma(1.0)
        .diffusion_scalar(DIFF)
        .potential(Potential::quadratic(&k))
        .domain(&vec![-4.0; d], &vec![4.0; d], &vec![4; d])
        .initial(Initial::Gaussian {
            mean: mean0,
            std: vec![0.5],
        })
        .build()
        .unwrap();
    let extrapolate = env_list::<u8>("EXTRAPOLATE", "0")[0] == 1;
    // SOE tolerance of the history (default that of the other measurements, 1e-12)
    let history = HistoryKind::Soe {
        tolerance: env_list("SOE_TOL", "1e-12")[0],
    };
    let scheme = if extrapolate {
        CombinationScheme::extrapolated(d, level, 2).unwrap()
    } else {
        CombinationScheme::truncated(d, level, 2).unwrap()
    };
    let config = SparseGridConfig {
        threads: threads.first().copied(),
        ..Default::default()
    };
    let out = solve_sparse(
        &p,
        &scheme,
        build_mesh(ALPHA, 1.0, steps, MeshKind::default(), &TIMES, history).unwrap(),
        history,
        &TIMES,
        &CombineRequest::default(),
        &config,
    )
    .unwrap();
    let m0 = &out.snapshots[0].moments;
    let (mut em, mut rel, mut plain) = (0.0f64, 0.0f64, 0.0f64);
    for (i, (s, &t)) in out.snapshots.iter().zip(&TIMES).enumerate().skip(1) {
        for (a, &ka) in k.iter().enumerate() {
            let x = m0.mean()[a] * ml(-ka * t.powf(ALPHA));
            let e = (s.moments.mean()[a] - x).abs();
            em = em.max(e);
            rel = rel.max(e / m0.mean()[a].abs());
            if let Some(pm) = out.plain_moments.get(i) {
                plain = plain.max((pm.mean()[a] - x).abs());
            }
        }
    }
    println!(
        "{{\"d\":6,\"level\":{level},\"extrapolated\":{extrapolate},\"plain_mean_abs_err\":{plain:.3e},\"steps\":{steps},\"history\":\"{history:?}\",\"components\":{},\"unknowns\":{},\"max_component\":{},\"threads\":{},\"wall_seconds\":{:.2},\"component_seconds\":{:.2},\"linear_iterations\":{},\"mean_abs_err\":{em:.3e},\"mean_rel_err\":{rel:.3e},\"estimated_peak_bytes\":{},\"peak_rss_bytes\":{:?}}}",
        scheme.components().len(),
        scheme.total_unknowns(),
        scheme.max_component_unknowns(),
        out.stats.threads,
        out.stats.wall_seconds,
        out.stats.component_seconds,
        out.stats
            .components
            .iter()
            .map(|c| c.work.linear_iterations)
            .sum::<usize>(),
        out.stats.estimated_peak_bytes,
        out.stats.peak_rss_bytes
    );
}

#[test]
#[ignore]
fn speedup() {
    let d = 4;
    let level: u32 = env_list("LEVEL", "5")[0];
    let (p, _, _) = coupled_problem(d);
    let scheme = CombinationScheme::truncated(d, level, 2).unwrap();
    for threads in [1usize, 2] {
        let config = SparseGridConfig {
            threads: Some(threads),
            ..Default::default()
        };
        let out = solve_sparse(
            &p,
            &scheme,
            mesh(32),
            HISTORY,
            &TIMES,
            &CombineRequest::default(),
            &config,
        )
        .unwrap();
        println!(
            "{{\"d\":{d},\"level\":{level},\"threads\":{threads},\"wall_seconds\":{:.3},\"component_seconds\":{:.3}}}",
            out.stats.wall_seconds, out.stats.component_seconds
        );
    }
}

/// Interpolation of the Gaussian `exp(-4 |x - 1/2|^2)` on `[0, 1]^d` by the combination
/// technique (classic scheme, cell-centred components, linear extrapolation), max error
/// over the 1000 Weyl points `x_a = frac((k + 1/2) sqrt(2 + a))` - the same function and
/// points as `benches/sparse_grid_anchor/sgpp_gaussian.py` (SG++).
#[test]
#[ignore]
fn gaussian_interpolation() {
    use ffpe::sparse_grid::{AnalyticComponents, Extrapolation, solve_combination};
    let f = |x: &[f64]| (-4.0 * x.iter().map(|v| (v - 0.5) * (v - 0.5)).sum::<f64>()).exp();
    for d in env_list::<usize>("DIMS", "2,3,4,5,6") {
        let points: Vec<Vec<f64>> = (0..1000)
            .map(|k| {
                (0..d)
                    .map(|a| ((k as f64 + 0.5) * (2.0 + a as f64).sqrt()).fract())
                    .collect()
            })
            .collect();
        for level in 2..=8u32 {
            let scheme = CombinationScheme::classic(d, level).unwrap();
            if scheme.total_unknowns() > 5_000_000 {
                break;
            }
            let solver =
                AnalyticComponents::new(vec![0.0; d], vec![1.0; d], vec![0.0], |_, x| f(x))
                    .unwrap();
            let request = CombineRequest {
                points: points.clone(),
                extrapolation: Extrapolation::Linear,
                ..Default::default()
            };
            let out = solve_combination(&scheme, &solver, &request, &SparseGridConfig::default())
                .unwrap();
            let err = points
                .iter()
                .zip(&out.snapshots[0].points)
                .map(|(x, v)| (v - f(x)).abs())
                .fold(0.0f64, f64::max);
            println!(
                "{{\"tool\":\"ffpe-combination\",\"d\":{d},\"level\":{level},\"components\":{},\"points\":{},\"max_err\":{err:.3e}}}",
                scheme.components().len(),
                scheme.total_unknowns()
            );
        }
    }
}

/// 1-D fractional OU (`k = KAPPA`, default 2.25, the stiffest axis of `ou_d6`): mean error
/// against Mittag-Leffler per level (`LEVELS`) and step count (`STEPS_LIST`), and the
/// Richardson value `(4 M_n - M_{n-1}) / 3` of consecutive levels. JSON lines.
#[test]
#[ignore]
fn ou_1d_levels() {
    let kappa: f64 = env_list("KAPPA", "2.25")[0];
    let levels: Vec<u32> = env_list("LEVELS", "4,5,6,7,8,9");
    for steps in env_list::<usize>("STEPS_LIST", "32,64,128,256") {
        let mut prev: Option<Vec<f64>> = None;
        for &level in &levels {
            let p = Problem::builder()
                .alpha(ALPHA)
                .gamma(1.0)
                .diffusion_scalar(DIFF)
                .potential(Potential::quadratic(&[kappa]))
                .domain(&[-4.0], &[4.0], &[4])
                .initial(Initial::Gaussian {
                    mean: vec![1.0],
                    std: vec![0.5],
                })
                .build()
                .unwrap();
            let (moments, _) = full_grid(&p, level, steps);
            let m0 = moments[0].mean()[0];
            let means: Vec<f64> = moments.iter().map(|m| m.mean()[0]).collect();
            let exact: Vec<f64> = TIMES
                .iter()
                .map(|&t| m0 * ml(-kappa * t.powf(ALPHA)))
                .collect();
            let err = |m: &[f64]| -> f64 {
                m.iter()
                    .zip(&exact)
                    .skip(1)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f64::max)
            };
            let rich = prev.as_ref().map(|pm| {
                let r: Vec<f64> = means
                    .iter()
                    .zip(pm)
                    .map(|(a, b)| (4.0 * a - b) / 3.0)
                    .collect();
                err(&r)
            });
            println!(
                "{{\"kappa\":{kappa},\"steps\":{steps},\"level\":{level},\"mean_abs_err\":{:.3e},\"richardson_err\":{}}}",
                err(&means),
                rich.map(|e| format!("{e:.3e}")).unwrap_or("null".into())
            );
            prev = Some(means);
        }
    }
}

/// Moments of the time-discrete, spatially exact solution of the coupled problem: the
/// L1 scheme on the same mesh applied to the closed moment equations
/// `D^a m = -K m`, `D^a S = -(K S + S K) + 2 D I` (gamma = 1), started from `m0`. The
/// L1 scheme is linear and the moment hierarchy of the PDE closes, so these are exactly
/// the moments of the L1-in-time solution without spatial error; subtracting them
/// from a grid solution's moments leaves its spatial error alone.
fn l1_moments(
    d: usize,
    a: f64,
    b: f64,
    m0: &RawMoments,
    mesh: &TimeMesh,
    history: HistoryKind,
) -> Vec<(Vec<f64>, Vec<f64>)> {
    use faer::sparse::{SparseColMat, Triplet};
    use ffpe::solvers::fode::LinearL1Stepper;
    let k = |i: usize, j: usize| if i == j { a + b } else { b };
    // state: m (d), S row-major (d^2), the constant 1
    let n = d + d * d + 1;
    let one = n - 1;
    let mut t = Vec::new();
    for i in 0..d {
        for j in 0..d {
            t.push(Triplet::new(i, j, -k(i, j)));
        }
    }
    for i in 0..d {
        for j in 0..d {
            let row = d + i * d + j;
            for q in 0..d {
                // (K S)_ij = K_iq S_qj, (S K)_ij = S_iq K_qj
                t.push(Triplet::new(row, d + q * d + j, -k(i, q)));
                t.push(Triplet::new(row, d + i * d + q, -k(q, j)));
            }
            if i == j {
                t.push(Triplet::new(row, one, 2.0 * DIFF));
            }
        }
    }
    let mat = SparseColMat::<usize, f64>::try_new_from_triplets(n, n, &t).unwrap();
    let mut y0 = m0.mean();
    y0.extend(m0.second.iter().map(|s| s / m0.mass));
    y0.push(1.0);
    let mut st = LinearL1Stepper::new(mat, ALPHA, mesh.clone(), history, &y0).unwrap();
    let mut out = vec![(y0[..d].to_vec(), y0[d..one].to_vec())];
    let mut next = 1;
    while !st.is_finished() && next < TIMES.len() {
        st.step(None).unwrap();
        if (st.time() - TIMES[next]).abs() < 1e-12 {
            let y = st.state();
            out.push((y[..d].to_vec(), y[d..one].to_vec()));
            next += 1;
        }
    }
    assert_eq!(out.len(), TIMES.len(), "output times are mesh nodes");
    out
}

/// Spatial errors (mean, second moments) against [`l1_moments`] on the same mesh.
fn spatial_errors(
    d: usize,
    a: f64,
    b: f64,
    moments: &[RawMoments],
    mesh: &TimeMesh,
    history: HistoryKind,
) -> (f64, f64) {
    let reference = l1_moments(d, a, b, &moments[0], mesh, history);
    let (mut em, mut es) = (0.0f64, 0.0f64);
    for (m, (rm, rs)) in moments.iter().zip(&reference).skip(1) {
        for (x, y) in m.mean().iter().zip(rm) {
            em = em.max((x - y).abs());
        }
        for (x, y) in m.second.iter().zip(rs) {
            es = es.max((x / m.mass - y).abs());
        }
    }
    (em, es)
}

/// Spatial error versus unknowns for the coupled quadratic (`DIMS`, default "4"): sparse
/// (plain and Richardson-extrapolated, levels `SPARSE_MIN`..=`SPARSE_MAX`, default 3..=7,
/// `MIN_LEVEL` default 2) and full grids (levels `FULL_MIN`..=`FULL_MAX`, default 3..=6), `STEPS` (default 16) graded L1 steps with the
/// direct history; the time error is removed by [`l1_moments`]. JSON lines.
#[test]
#[ignore]
fn spatial_error() {
    let steps: usize = env_list("STEPS", "16")[0];
    let sparse_max: u32 = env_list("SPARSE_MAX", "7")[0];
    let full_max: u32 = env_list("FULL_MAX", "6")[0];
    let sparse_min: u32 = env_list("SPARSE_MIN", "3")[0];
    let full_min: u32 = env_list("FULL_MIN", "3")[0];
    let min_level: u32 = env_list("MIN_LEVEL", "2")[0];
    let history = HistoryKind::Direct;
    let mesh = build_mesh(ALPHA, 1.0, steps, MeshKind::default(), &TIMES, history).unwrap();
    for d in env_list::<usize>("DIMS", "4") {
        let (p, a, b) = coupled_problem(d);
        for level in sparse_min.max(min_level)..=sparse_max {
            for extrapolate in [false, true] {
                if extrapolate && level <= min_level {
                    continue;
                }
                let scheme = if extrapolate {
                    CombinationScheme::extrapolated(d, level, min_level).unwrap()
                } else {
                    CombinationScheme::truncated(d, level, min_level).unwrap()
                };
                let out = solve_sparse(
                    &p,
                    &scheme,
                    mesh.clone(),
                    history,
                    &TIMES,
                    &CombineRequest::default(),
                    &SparseGridConfig::default(),
                )
                .unwrap();
                let m: Vec<RawMoments> = out.snapshots.iter().map(|s| s.moments.clone()).collect();
                let (em, es) = spatial_errors(d, a, b, &m, &mesh, history);
                println!(
                    "{{\"kind\":\"{}\",\"d\":{d},\"level\":{level},\"min_level\":{min_level},\"steps\":{steps},\"components\":{},\"unknowns\":{},\"seconds\":{:.3},\"mean_err\":{em:.3e},\"second_err\":{es:.3e}}}",
                    if extrapolate {
                        "sparse-extrapolated"
                    } else {
                        "sparse"
                    },
                    scheme.components().len(),
                    scheme.total_unknowns(),
                    out.stats.wall_seconds
                );
            }
        }
        for level in full_min..=full_max {
            let (m, secs) = full_grid_with(&p, level, mesh.clone(), history);
            let (em, es) = spatial_errors(d, a, b, &m, &mesh, history);
            println!(
                "{{\"kind\":\"full\",\"d\":{d},\"level\":{level},\"steps\":{steps},\"unknowns\":{},\"seconds\":{secs:.3},\"mean_err\":{em:.3e},\"second_err\":{es:.3e},\"peak_rss_bytes\":{:?}}}",
                1u128 << (level as usize * d),
                ffpe::sparse_grid::peak_rss_bytes()
            );
        }
    }
}
