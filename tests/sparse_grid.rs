//! Sparse grids (combination technique) against exact solutions and the full-grid solver.
//!
//! Exact references:
//! - separable fractional OU (`L = sum k_i w_i^2 / 2`, scalar `D`): per axis
//!   `<w>(t) = <w>(0) E_a(-gamma k t^a)` and
//!   `<w^2>(t) = D/(gamma k) + (<w^2>(0) - D/(gamma k)) E_a(-2 gamma k t^a)` (SPEC 1.2),
//!   evaluated with `ffpe_solvers::mittag_leffler` from the discrete initial moments;
//! - coupled quadratic `L = w^T K w / 2`, `K = a I + b 1 1^T`: the moment equations
//!   `D^a m = -gamma K m`, `D^a S = -gamma (K S + S K) + 2 D I` close and decouple on
//!   the eigenspaces of `K` (`P = 1 1^T / d` with eigenvalue `a + d b`, `Q = I - P`
//!   with eigenvalue `a`): every block relaxes as `y_inf + (y_0 - y_inf) E_a(-c t^a)`.
//!
//! Runs in release mode (CI: `cargo test --workspace --release`); sizes are chosen so
//! that the whole file takes well under a minute on two cores.

use ffpe::problem::{Initial, Potential, Problem};
use ffpe::solve::{MeshKind, build_mesh, solve_on_grid};
use ffpe::solvers::history::HistoryKind;
use ffpe::solvers::mittag_leffler::mittag_leffler;
use ffpe::sparse_grid::{
    CombinationScheme, CombineRequest, CombinedSolution, ComponentLinearSolver, SparseGridConfig,
    SparseGridError, SparseSolveOptions, solve_sparse, solve_sparse_with,
};
use std::sync::Arc;

const ALPHA: f64 = 0.6;
const GAMMA: f64 = 1.0;
const DIFF: f64 = 0.5;
const HALF_WIDTH: f64 = 4.0;
const TIMES: [f64; 4] = [0.0, 0.25, 0.5, 1.0];
const HISTORY: HistoryKind = HistoryKind::Soe { tolerance: 1e-12 };

fn ml(z: f64) -> f64 {
    mittag_leffler(ALPHA, 1.0, z).unwrap()
}

fn stiffness(d: usize) -> Vec<f64> {
    // unequal stiffness per axis: 1, 1.25, 1.5, ...
    (0..d).map(|i| 1.0 + 0.25 * i as f64).collect()
}

fn start(d: usize) -> Vec<f64> {
    (0..d)
        .map(|i| if i % 2 == 0 { 1.0 } else { -0.8 })
        .collect()
}

fn problem(potential: Potential, mean: &[f64]) -> Problem {
    let d = mean.len();
    Problem::builder()
        .alpha(ALPHA)
        .gamma(GAMMA)
        .diffusion_scalar(DIFF)
        .potential(potential)
        .domain(&vec![-HALF_WIDTH; d], &vec![HALF_WIDTH; d], &vec![4; d])
        .initial(Initial::Gaussian {
            mean: mean.to_vec(),
            std: vec![0.5],
        })
        .build()
        .unwrap()
}

fn sparse(p: &Problem, level: u32, steps: usize, request: &CombineRequest) -> CombinedSolution {
    let scheme = CombinationScheme::truncated(p.dim(), level, 2).unwrap();
    solve_scheme(p, &scheme, steps, request)
}

fn solve_scheme(
    p: &Problem,
    scheme: &CombinationScheme,
    steps: usize,
    request: &CombineRequest,
) -> CombinedSolution {
    let mesh = build_mesh(ALPHA, 1.0, steps, MeshKind::default(), &TIMES, HISTORY).unwrap();
    solve_sparse(
        p,
        scheme,
        mesh,
        HISTORY,
        &TIMES,
        request,
        &SparseGridConfig::default(),
    )
    .unwrap()
}

/// Largest error of the per-axis mean and second moment against the OU formulas.
fn ou_errors(out: &CombinedSolution, k: &[f64]) -> (f64, f64) {
    let m0 = &out.snapshots[0].moments;
    let (mut em, mut e2) = (0.0f64, 0.0f64);
    for (snap, &t) in out.snapshots.iter().zip(&out.times).skip(1) {
        let m = &snap.moments;
        for (a, &ka) in k.iter().enumerate() {
            let s = DIFF / (GAMMA * ka);
            let mean = m0.mean()[a] * ml(-GAMMA * ka * t.powf(ALPHA));
            let second = s + (m0.second_moment(a) - s) * ml(-2.0 * GAMMA * ka * t.powf(ALPHA));
            em = em.max((m.mean()[a] - mean).abs());
            e2 = e2.max((m.second_moment(a) - second).abs());
        }
    }
    (em, e2)
}

/// Least-squares slope of log2(error) against the level.
fn slope(levels: &[u32], errors: &[f64]) -> f64 {
    let n = levels.len() as f64;
    let x: Vec<f64> = levels.iter().map(|&l| l as f64).collect();
    let y: Vec<f64> = errors.iter().map(|e| e.log2()).collect();
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let sxy: f64 = x.iter().zip(&y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let sxx: f64 = x.iter().map(|a| (a - mx) * (a - mx)).sum();
    -sxy / sxx
}

fn check_separable_ou(d: usize, levels: &[u32], steps: usize) -> Vec<(f64, f64)> {
    let k = stiffness(d);
    let p = problem(Potential::quadratic(&k), &start(d));
    let request = CombineRequest {
        marginals: vec![vec![0]],
        ..Default::default()
    };
    let mut errors = Vec::new();
    for &level in levels {
        let out = sparse(&p, level, steps, &request);
        // mass: every component conserves it to rounding (LU, or BiCGSTAB iterates
        // rescaled to the exact step mass) and the coefficients sum to one
        for i in 0..out.times.len() {
            assert!((out.mass(i) - 1.0).abs() < 1e-11, "mass {}", out.mass(i));
            // per-axis variances of a separable problem are those of a 1-D solve: positive
            let cov = out.covariance(i);
            for a in 0..d {
                assert!(cov[a * d + a] > 0.0);
            }
        }
        // the 1-D marginal of a separable problem is the finest 1-D solution: the
        // coarser components cancel, up to round-off (values ~1e-17 where the marginal
        // is ~1e-20 in the tails may come out negative, and are reported)
        assert!(
            out.negativity.min_marginal_relative > -1e-12,
            "{:?}",
            out.negativity
        );
        assert!(out.negativity.component_min_density > -1e-12);
        errors.push(ou_errors(&out, &k));
        eprintln!(
            "d={d} level={level} components={} unknowns={} errors={:?} {:.2}s",
            out.stats.components.len(),
            out.stats.total_unknowns,
            errors.last().unwrap(),
            out.stats.wall_seconds
        );
    }
    errors
}

#[test]
fn separable_ou_d3_converges_at_second_order() {
    let levels = [3, 4, 5];
    let errors = check_separable_ou(3, &levels, 64);
    let mean: Vec<f64> = errors.iter().map(|e| e.0).collect();
    let second: Vec<f64> = errors.iter().map(|e| e.1).collect();
    // finite volumes are second order in h = 2^-level; the L1 time error at N = 64
    // (about 1e-3, measured with 1-D solves) flattens the last level a little, so
    // the fitted slope is asserted in [1.6, 2.4]
    for e in [&mean, &second] {
        let s = slope(&levels, e);
        assert!((1.6..=2.4).contains(&s), "slope {s} for {e:?}");
    }
    // regression guard: measured 9.9e-3 (mean) and 1.25e-2 (second moment) at level 5
    assert!(mean[2] < 1.5e-2 && second[2] < 1.9e-2, "{errors:?}");
}

#[test]
fn separable_ou_d4_error_falls_with_the_level() {
    let levels = [3, 4, 5];
    let errors = check_separable_ou(4, &levels, 32);
    let mean: Vec<f64> = errors.iter().map(|e| e.0).collect();
    let s = slope(&levels, &mean);
    // second order in space; at N = 32 the time error (about 3e-3) flattens level 5
    assert!((1.4..=2.4).contains(&s), "slope {s} for {mean:?}");
}

#[test]
fn separable_ou_d6_error_falls_with_the_level() {
    let levels = [3, 4];
    let errors = check_separable_ou(6, &levels, 24);
    // stiffness up to 2.25 makes the narrowest axis need more cells: errors 0.15, 0.05
    // at N = 32 (measured); a factor > 2.5 per level is asserted
    assert!(errors[1].0 < errors[0].0 / 2.5, "{errors:?}");
    assert!(errors[1].1 < errors[0].1 / 2.5, "{errors:?}");
}

#[test]
fn separable_moments_equal_the_finest_one_dimensional_solve() {
    // For a separable potential the operator is a Kronecker sum of mass-conserving 1-D
    // operators, so the marginal of every component along axis a is exactly the 1-D
    // solution with 2^l_a cells; the combination coefficients of all components with
    // l_a = j add up to 1 for j = level and 0 otherwise. So the combined per-axis moments
    // equal those of a 1-D solve with 2^level cells, up to linear-solver round-off.
    let d = 3;
    let level = 5;
    let steps = 16;
    let k = stiffness(d);
    let mean0 = start(d);
    let p = problem(Potential::quadratic(&k), &mean0);
    let out = sparse(&p, level, steps, &CombineRequest::default());
    let mesh = build_mesh(ALPHA, 1.0, steps, MeshKind::default(), &TIMES, HISTORY).unwrap();
    for a in 0..d {
        let p1 = problem(Potential::quadratic(&[k[a]]), &[mean0[a]]);
        let s = solve_on_grid(&p1, &[1 << level], &mesh, HISTORY, &TIMES, false).unwrap();
        for (i, o) in s.observables.iter().enumerate() {
            let m = &out.snapshots[i].moments;
            // LU round-off in each of 19 components, amplified by |coefficients| <= 2
            assert!(
                (m.mean()[a] - o.mean[0]).abs() < 1e-11,
                "axis {a} t={}",
                TIMES[i]
            );
            assert!((m.second_moment(a) - o.second_moment[0]).abs() < 1e-11);
        }
    }
}

/// `K = a I + b 1 1^T`.
struct Coupled {
    a: f64,
    b: f64,
    d: usize,
}

impl Coupled {
    fn potential(&self) -> Potential {
        let (a, b) = (self.a, self.b);
        Potential::Closure(Arc::new(move |w: &[f64]| {
            let s: f64 = w.iter().sum();
            0.5 * (a * w.iter().map(|x| x * x).sum::<f64>() + b * s * s)
        }))
    }

    /// Exact mean and second-moment matrix at time t from those at time 0.
    fn moments(&self, m0: &[f64], s0: &[f64], t: f64) -> (Vec<f64>, Vec<f64>) {
        let d = self.d;
        let lam = [self.a + d as f64 * self.b, self.a]; // on P, on Q
        let proj = |which: usize, i: usize, j: usize| {
            let p = 1.0 / d as f64;
            let id = if i == j { 1.0 } else { 0.0 };
            if which == 0 { p } else { id - p }
        };
        let ta = t.powf(ALPHA);
        let mut m = vec![0.0; d];
        for (i, mi) in m.iter_mut().enumerate() {
            for (w, &l) in lam.iter().enumerate() {
                let pm: f64 = (0..d).map(|j| proj(w, i, j) * m0[j]).sum();
                *mi += ml(-GAMMA * l * ta) * pm;
            }
        }
        // blocks X_uv = P_u S0 P_v relax with rate gamma (l_u + l_v); diagonal blocks
        // are forced by 2 D P_u
        let mut s = vec![0.0; d * d];
        for u in 0..2 {
            for v in 0..2 {
                let rate = GAMMA * (lam[u] + lam[v]);
                let e = ml(-rate * ta);
                for i in 0..d {
                    for j in 0..d {
                        let mut x0 = 0.0;
                        for p in 0..d {
                            for q in 0..d {
                                x0 += proj(u, i, p) * s0[p * d + q] * proj(v, q, j);
                            }
                        }
                        let inf = if u == v {
                            2.0 * DIFF * proj(u, i, j) / rate
                        } else {
                            0.0
                        };
                        s[i * d + j] += inf + (x0 - inf) * e;
                    }
                }
            }
        }
        (m, s)
    }
}

#[test]
fn coupled_quadratic_d3_agrees_with_the_full_grid_solver() {
    let d = 3;
    let c = Coupled { a: 1.0, b: 0.5, d };
    let mean0 = [1.0, -0.5, 0.25];
    let p = problem(c.potential(), &mean0);
    let steps = 16;
    let mesh = build_mesh(ALPHA, 1.0, steps, MeshKind::default(), &TIMES, HISTORY).unwrap();
    let request = CombineRequest {
        marginals: vec![vec![0, 1]],
        points: vec![vec![0.0; 3], vec![0.5, -0.25, 0.0], vec![3.5, 3.5, -3.5]],
        steady_state: true,
        ..Default::default()
    };
    let mut diffs = Vec::new();
    for level in [3u32, 4] {
        let scheme = CombinationScheme::truncated(d, level, 2).unwrap();
        let out = solve_sparse(
            &p,
            &scheme,
            mesh.clone(),
            HISTORY,
            &TIMES,
            &request,
            &SparseGridConfig::default(),
        )
        .unwrap();
        let n = 1usize << level;
        let full = solve_on_grid(&p, &[n; 3], &mesh, HISTORY, &TIMES, true).unwrap();
        let mut diff = 0.0f64;
        let mut err_full = 0.0f64;
        let mut err_sparse = 0.0f64;
        let m0 = &full.observables[0];
        let s0: Vec<f64> = (0..d * d)
            .map(|ij| m0.covariance[ij] + m0.mean[ij / d] * m0.mean[ij % d])
            .collect();
        for (i, o) in full.observables.iter().enumerate() {
            let m = &out.snapshots[i].moments;
            assert!((out.mass(i) - 1.0).abs() < 1e-12);
            let (em, es) = c.moments(&m0.mean, &s0, TIMES[i]);
            for a in 0..d {
                diff = diff.max((m.mean()[a] - o.mean[a]).abs());
                err_full = err_full.max((o.mean[a] - em[a]).abs());
                err_sparse = err_sparse.max((m.mean()[a] - em[a]).abs());
                for b in 0..d {
                    let full_s = o.covariance[a * d + b] + o.mean[a] * o.mean[b];
                    let sparse_s = m.second[a * d + b] / m.mass;
                    diff = diff.max((sparse_s - full_s).abs());
                    err_full = err_full.max((full_s - es[a * d + b]).abs());
                    err_sparse = err_sparse.max((sparse_s - es[a * d + b]).abs());
                }
            }
        }
        // the steady state combines the components' Boltzmann densities
        let steady = out.steady_state.as_ref().expect("Boltzmann density exists");
        assert!((steady.moments.mass - 1.0).abs() < 1e-12);
        // the negativity report counts what the combined outputs contain, nothing clipped
        let negative = out
            .snapshots
            .iter()
            .flat_map(|s| &s.points)
            .filter(|v| **v < 0.0)
            .count()
            + steady.points.iter().filter(|v| **v < 0.0).count();
        assert_eq!(out.negativity.negative_points, negative);
        eprintln!(
            "coupled d=3 level={level}: |sparse - full| = {diff:.3e}, |full - exact| = {err_full:.3e}, \
             |sparse - exact| = {err_sparse:.3e}, negativity {:?}",
            out.negativity
        );
        diffs.push((diff, err_full, err_sparse));
    }
    // the combination error is O(h^2 log h^-1), like the full grid's O(h^2): the difference
    // must shrink with the level (a factor > 2 per level is asserted), and the sparse
    // error against the exact moments must stay within the issue's goal of 2x the
    // full-grid error at the finest level tested
    assert!(diffs[1].0 < diffs[0].0 / 2.0, "{diffs:?}");
    let (_, err_full, err_sparse) = diffs[1];
    assert!(err_sparse < 2.0 * err_full, "{diffs:?}");
}

#[test]
fn direct_and_iterative_components_agree() {
    let d = 3;
    let p = problem(Potential::quadratic(&stiffness(d)), &start(d));
    let mesh = build_mesh(ALPHA, 1.0, 12, MeshKind::default(), &TIMES, HISTORY).unwrap();
    let scheme = CombinationScheme::truncated(d, 4, 2).unwrap();
    let run = |ls| {
        let opts = SparseSolveOptions {
            history: HISTORY,
            output_times: TIMES.to_vec(),
            linear_solver: ls,
            ..Default::default()
        };
        solve_sparse_with(&p, &scheme, mesh.clone(), &opts).unwrap()
    };
    let a = run(ComponentLinearSolver::Direct);
    let b = run(ComponentLinearSolver::Iterative(Default::default()));
    for (x, y) in a.snapshots.iter().zip(&b.snapshots) {
        for (u, v) in x.moments.second.iter().zip(&y.moments.second) {
            // BiCGSTAB stops at relative residual 1e-12 per step
            assert!((u - v).abs() < 1e-9);
        }
    }
}

#[test]
fn user_errors_name_the_field() {
    let p = problem(Potential::quadratic(&[1.0, 1.0]), &[0.0, 0.0]);
    let mesh = build_mesh(ALPHA, 1.0, 4, MeshKind::default(), &TIMES, HISTORY).unwrap();
    let classic = CombinationScheme::classic(2, 4).unwrap();
    let e = solve_sparse(
        &p,
        &classic,
        mesh.clone(),
        HISTORY,
        &TIMES,
        &CombineRequest::default(),
        &SparseGridConfig::default(),
    )
    .unwrap_err();
    assert!(matches!(e, SparseGridError::MinLevelTooCoarse { .. }));
    assert!(e.to_string().contains("min_level"));
    let three = CombinationScheme::truncated(3, 4, 2).unwrap();
    let e = solve_sparse(
        &p,
        &three,
        mesh.clone(),
        HISTORY,
        &TIMES,
        &CombineRequest::default(),
        &SparseGridConfig::default(),
    )
    .unwrap_err();
    assert!(matches!(e, SparseGridError::DimensionMismatch { .. }));
    let two = CombinationScheme::truncated(2, 4, 2).unwrap();
    let e = solve_sparse(
        &p,
        &two,
        mesh,
        HISTORY,
        &[0.0, 0.3333],
        &CombineRequest::default(),
        &SparseGridConfig::default(),
    )
    .unwrap_err();
    assert!(matches!(e, SparseGridError::OutputTime { index: 1, .. }));
}

const SPARSE_TOML: &str = r#"
[equation]
alpha = 0.6
gamma = 1.0
diffusion = 0.5

[potential]
kind = "quadratic"
stiffness = [1.0, 1.25, 1.5]

[domain]
lower = [-4.0, -4.0, -4.0]
upper = [4.0, 4.0, 4.0]
cells = 8

[initial]
kind = "gaussian"
mean = [1.0, -0.8, 1.0]
std = 0.5

[time]
t_end = 1.0
steps = 8
history = "soe"

[output]
times = [0.5, 1.0]

[grid]
kind = "sparse"
level = 4
"#;

#[test]
fn problem_file_with_a_sparse_grid() {
    let file = ffpe::config::parse_str(SPARSE_TOML).unwrap();
    let sol = ffpe::config::run_file(&file).unwrap();
    let sparse = sol.sparse.as_ref().expect("sparse report");
    // default min_level = 2: the truncated scheme of level 4 in d = 3 has 10 components
    assert_eq!(sparse.min_level, 2);
    assert_eq!(sparse.components, 10);
    assert_eq!(sparse.total_unknowns, 1984);
    assert_eq!(sparse.full_grid_unknowns, Some(4096));
    assert!(sparse.summary().contains("10 components"));
    assert_eq!(sol.observables.len(), 2);
    for o in &sol.observables {
        assert!((o.mass - 1.0).abs() < 1e-12);
        assert!(o.msd > 0.0);
    }
    // the --json output carries the report
    let json = ffpe::cli::solution_json(&sol);
    assert_eq!(json["sparse"]["components"], 10);
    assert_eq!(json["sparse"]["extrapolated"], false);

    // extrapolate = true: for d = 3, level 4 the level-3 grids are all in the level-4
    // scheme (same 10 solves), so the report differs only by the combination
    let text = SPARSE_TOML.replace("level = 4", "level = 4\nextrapolate = true");
    let rich = ffpe::config::run_file(&ffpe::config::parse_str(&text).unwrap()).unwrap();
    let report = rich.sparse.as_ref().unwrap();
    assert!(report.extrapolated);
    assert_eq!(report.components, 10);
    let (dm, ds) = report.richardson_correction.unwrap();
    assert!(dm > 0.0 && ds > 0.0);
    assert!(
        report
            .summary()
            .contains("Richardson-extrapolated with level 3")
    );
    for (o, r) in sol.observables.iter().zip(&rich.observables) {
        assert!((r.mass - 1.0).abs() < 1e-12);
        // the correction is what separates the two runs' means
        for (a, b) in o.mean.iter().zip(&r.mean) {
            assert!((a - b).abs() <= dm * (1.0 + 1e-9) && (a - b).abs() > 0.0);
        }
    }

    for (bad, key) in [
        ("level = 4\nthread = 2", "grid.thread"),
        ("level = 4\nlinear_solver = \"magic\"", "grid.linear_solver"),
        ("level = 4\nmin_level = 1", "min_level"),
        ("level = 4\nextrapolate = \"yes\"", "grid.extrapolate"),
        (
            "level = 2\nextrapolate = true",
            "extrapolate = true needs level >= min_level + 1",
        ),
    ] {
        let text = SPARSE_TOML.replace("level = 4", bad);
        let e = ffpe::config::parse_str(&text)
            .and_then(|f| ffpe::config::run_file(&f))
            .unwrap_err();
        assert!(e.to_string().contains(key), "{e}");
    }
}

/// Sparse solve of a separable OU with the Richardson-extrapolated scheme.
fn sparse_extrapolated(p: &Problem, level: u32, steps: usize) -> CombinedSolution {
    let scheme = CombinationScheme::extrapolated(p.dim(), level, 2).unwrap();
    solve_scheme(p, &scheme, steps, &CombineRequest::default())
}

/// Per-axis (mean, second moment) of a 1-D solve with `2^level` cells, per output time.
fn one_dimensional(k: f64, mean0: f64, level: u32, steps: usize) -> Vec<(f64, f64)> {
    let p1 = problem(Potential::quadratic(&[k]), &[mean0]);
    let mesh = build_mesh(ALPHA, 1.0, steps, MeshKind::default(), &TIMES, HISTORY).unwrap();
    let s = solve_on_grid(&p1, &[1 << level], &mesh, HISTORY, &TIMES, false).unwrap();
    s.observables
        .iter()
        .map(|o| (o.mean[0], o.second_moment[0]))
        .collect()
}

#[test]
fn extrapolated_separable_moments_are_the_richardson_value_of_one_dimensional_solves() {
    // The identity of `separable_moments_equal_the_finest_one_dimensional_solve` applied
    // to both combinations: the extrapolated per-axis moments are (4 m_n - m_{n-1}) / 3
    // of the 1-D solves with 2^n and 2^(n-1) cells.
    let (d, level, steps) = (3, 5, 16);
    let k = stiffness(d);
    let mean0 = start(d);
    let p = problem(Potential::quadratic(&k), &mean0);
    let out = sparse_extrapolated(&p, level, steps);
    assert!(out.stats.extrapolated);
    assert_eq!(out.plain_moments.len(), TIMES.len());
    for a in 0..d {
        let fine = one_dimensional(k[a], mean0[a], level, steps);
        let coarse = one_dimensional(k[a], mean0[a], level - 1, steps);
        for (i, (f, c)) in fine.iter().zip(&coarse).enumerate() {
            let m = &out.snapshots[i].moments;
            // LU round-off of 1-D-sized errors in each component, |coefficients| <= 8/3
            assert!((m.mean()[a] - (4.0 * f.0 - c.0) / 3.0).abs() < 1e-11);
            assert!((m.second_moment(a) - (4.0 * f.1 - c.1) / 3.0).abs() < 1e-11);
            // the plain combination from the same solves is the level-n 1-D solve
            let plain = &out.plain_moments[i];
            assert!((plain.mean()[a] - f.0).abs() < 1e-11);
            assert!((plain.second_moment(a) - f.1).abs() < 1e-11);
        }
    }
    let (dm, ds) = out.richardson_correction().unwrap();
    assert!(dm > 0.0 && ds > 0.0);
}

#[test]
fn extrapolated_scheme_is_fourth_order_in_space() {
    // Spatial error only: the reference is the same L1 time mesh on a fine 1-D grid
    // (Richardson of 2^12 and 2^11 cells, spatial error ~1e-10), so the time error
    // cancels. Finite volumes have the error expansion c2 h^2 + c4 h^4 + ..., hence
    // plain levels converge at order 2 and the extrapolated ones at order 4.
    let (d, steps) = (2, 16);
    let levels = [4u32, 5, 6, 7];
    let k = stiffness(d);
    let mean0 = start(d);
    let p = problem(Potential::quadratic(&k), &mean0);
    let reference: Vec<Vec<(f64, f64)>> = (0..d)
        .map(|a| {
            let f = one_dimensional(k[a], mean0[a], 12, steps);
            let c = one_dimensional(k[a], mean0[a], 11, steps);
            f.iter()
                .zip(&c)
                .map(|(f, c)| ((4.0 * f.0 - c.0) / 3.0, (4.0 * f.1 - c.1) / 3.0))
                .collect()
        })
        .collect();
    let (mut plain, mut rich) = (Vec::new(), Vec::new());
    for &level in &levels {
        let out = sparse_extrapolated(&p, level, steps);
        let (mut ep, mut er) = (0.0f64, 0.0f64);
        for i in 1..TIMES.len() {
            let (m, pm) = (&out.snapshots[i].moments, &out.plain_moments[i]);
            for (a, r) in reference.iter().enumerate() {
                er = er.max((m.mean()[a] - r[i].0).abs());
                er = er.max((m.second_moment(a) - r[i].1).abs());
                ep = ep.max((pm.mean()[a] - r[i].0).abs());
                ep = ep.max((pm.second_moment(a) - r[i].1).abs());
            }
        }
        eprintln!("level {level}: plain {ep:.3e} extrapolated {er:.3e}");
        plain.push(ep);
        rich.push(er);
    }
    let (sp, sr) = (slope(&levels, &plain), slope(&levels, &rich));
    eprintln!("slopes: plain {sp:.3} extrapolated {sr:.3}");
    assert!((1.8..=2.2).contains(&sp), "plain slope {sp}: {plain:?}");
    assert!(sr >= 3.5, "extrapolated slope {sr}: {rich:?}");
}
