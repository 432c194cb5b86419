//! Solutions against exact results (SPEC 1.2): free subdiffusion MSD, fractional
//! Ornstein-Uhlenbeck mean and second moment (1-D, and 2-D with unequal stiffness) for
//! alpha in {0.3, 0.5, 0.8, 1.0}, alpha = 1 against an independent integer-order solve.
//!
//! Error model used for the tolerances (each test states its numbers):
//! - time: graded L1 (r = (2 - a)/a) has error C_t N^-(2 - a) (Stynes et al. 2017);
//! - space: the Scharfetter-Gummel scheme is second order, C_x h^2 (tests/convergence.rs
//!   measures both orders);
//! - the moment equations of the continuous problem are closed for flat and quadratic
//!   potentials, so the exact references use the discrete initial moments.

use ffpe::problem::{Diffusion, Initial, Potential, Problem};
use ffpe::reference::{free_msd, ou_mean, ou_second_moment};
use ffpe::solve::{MeshKind, SolveOptions, solve};
use ffpe::solvers::history::HistoryKind;

fn opts(t_end: f64, steps: usize, outs: &[f64]) -> SolveOptions {
    SolveOptions {
        t_end,
        steps,
        mesh: MeshKind::Graded { r: None },
        history: HistoryKind::Soe { tolerance: 1e-12 },
        output_times: outs.to_vec(),
        ..Default::default()
    }
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-300)
}

#[test]
fn free_subdiffusion_msd_1d_and_2d() {
    for &(d, alpha) in &[(1usize, 0.3), (1, 0.5), (1, 0.8), (1, 1.0), (2, 0.6)] {
        let cells = if d == 1 { 161 } else { 81 };
        let p = Problem::builder()
            .alpha(alpha)
            .diffusion_scalar(0.5)
            .domain(&vec![-10.0; d], &vec![10.0; d], &vec![cells; d])
            .initial(Initial::Point { at: vec![0.0; d] })
            .build()
            .unwrap();
        let outs = [0.1, 0.3, 1.0];
        let s = solve(&p, &opts(1.0, 400, &outs)).unwrap();
        let mut worst = 0.0f64;
        for o in &s.observables {
            let exact = free_msd(&vec![0.5; d], alpha, o.time);
            worst = worst.max(rel(o.msd, exact));
        }
        // Flat potential: sum_i x_i^2 (A p)_i h = 2 D sum_i p_i h exactly away from the
        // walls (the walls at 10 are > 9 standard deviations away), so the discrete MSD
        // solves D^a m2 = 2 d D with no space error: what remains is the L1 error on
        // m2(0) + c t^a, graded mesh: C_t N^-(2-a) relative, C_t <= 4 (model of
        // fractional_ou_1d), asserted with a factor 2. At alpha = 1 backward Euler is exact
        // on this linear function (rounding only).
        let tol = if alpha >= 1.0 {
            1e-12
        } else {
            8.0 * 400f64.powf(-(2.0 - alpha))
        };
        eprintln!("free d={d} alpha={alpha}: max rel err {worst:.3e} (tol {tol:.1e})");
        assert!(worst < tol, "d={d} alpha={alpha}: {worst}");
    }
}

/// Steps and mesh per order: graded with r = (2 - a)/a; at alpha = 1 the L1 scheme is
/// backward Euler (first order) on a uniform mesh with one factorisation, so many steps
/// are cheap there.
fn time_opts(alpha: f64, t_end: f64, graded_steps: usize, outs: &[f64]) -> SolveOptions {
    let mut o = opts(t_end, graded_steps, outs);
    if alpha >= 1.0 {
        o.mesh = MeshKind::Uniform;
        o.steps = 10 * graded_steps;
    }
    o
}

/// Error model `|error| <= 2 (C_x h^2 + C_t N^-(2-a))`, a factor 2 of margin on:
/// - `C_x = 0.2`: tests/convergence.rs measures 0.17 h^2 for the OU moments at t = 1
///   (order 2.00); in the scaled variables `x sqrt(gamma k / D)` the second-moment error
///   in absolute units is independent of `k` and `D`, and it tends to 0 at steady state
///   (the discrete Boltzmann moments are spectrally accurate);
/// - `C_t = 4`: the largest time constant seen on this family, the second moment at
///   `T = 2`, `alpha = 0.8` (time error 1.3e-3 at N = 800, 2.3e-3 at N = 400: order 1.2 as
///   in tests/convergence.rs); the mean at `T = 1` has `C_t < 1`. At alpha = 1 the
///   uniform backward-Euler error is below `C_t / N` as well.
fn model_tol(h: f64, alpha: f64, n: usize) -> f64 {
    2.0 * (0.2 * h * h + 4.0 * (n as f64).powf(-(2.0 - alpha)))
}

#[test]
fn fractional_ou_1d() {
    for &alpha in &[0.3, 0.5, 0.8, 1.0] {
        let (k, gamma, d) = (1.0, 1.0, 1.0);
        let p = Problem::builder()
            .alpha(alpha)
            .gamma(gamma)
            .diffusion_scalar(d)
            .potential(Potential::quadratic(&[k]))
            .domain(&[-7.0], &[7.0], &[280])
            .initial(Initial::Gaussian {
                mean: vec![2.0],
                std: vec![0.5],
            })
            .build()
            .unwrap();
        let outs = [0.0, 0.25, 1.0, 2.0];
        let o = time_opts(alpha, 2.0, 3000, &outs);
        let s = solve(&p, &o).unwrap();
        let (m0, s0) = (s.observables[0].mean[0], s.observables[0].second_moment[0]);
        let (mut em, mut e2) = (0.0f64, 0.0f64);
        for o in &s.observables[1..] {
            em = em.max((o.mean[0] - ou_mean(m0, gamma, k, alpha, o.time).unwrap()).abs());
            e2 = e2.max(
                (o.second_moment[0] - ou_second_moment(s0, d, gamma, k, alpha, o.time).unwrap())
                    .abs(),
            );
        }
        let tol = model_tol(14.0 / 280.0, alpha, o.steps);
        eprintln!("OU 1-D alpha={alpha}: mean err {em:.3e}, m2 err {e2:.3e}, tol {tol:.3e}");
        assert!(em < tol && e2 < tol, "alpha {alpha}: {em} {e2} > {tol}");
    }
}

#[test]
fn fractional_ou_2d_unequal_stiffness() {
    let k = [1.0, 3.0];
    let dd = [1.0, 0.5];
    let (lo, hi, cells) = ([-6.0, -4.0], [6.0, 4.0], [72usize, 60]);
    let (mean, std) = ([1.5, -1.0], [0.4, 0.3]);
    for &alpha in &[0.3, 0.5, 0.8, 1.0] {
        let p = Problem::builder()
            .alpha(alpha)
            .diffusion(Diffusion::PerAxis(dd.to_vec()))
            .potential(Potential::quadratic(&k))
            .domain(&lo, &hi, &cells)
            .initial(Initial::Gaussian {
                mean: mean.to_vec(),
                std: std.to_vec(),
            })
            .build()
            .unwrap();
        let outs = [0.0, 0.5, 1.0];
        let o = time_opts(alpha, 1.0, 200, &outs);
        let s = solve(&p, &o).unwrap();
        let o0 = s.observables[0].clone();
        let (mut em, mut e2) = (0.0f64, 0.0f64);
        for ob in &s.observables[1..] {
            for a in 0..2 {
                em = em.max(
                    (ob.mean[a] - ou_mean(o0.mean[a], 1.0, k[a], alpha, ob.time).unwrap()).abs(),
                );
                e2 = e2.max(
                    (ob.second_moment[a]
                        - ou_second_moment(o0.second_moment[a], dd[a], 1.0, k[a], alpha, ob.time)
                            .unwrap())
                    .abs(),
                );
            }
        }
        // Same model with the larger cell width h = 12 / 72 (axis 1 has h = 8 / 60).
        let tol = model_tol(1.0 / 6.0, alpha, o.steps);
        eprintln!("OU 2-D alpha={alpha}: mean err {em:.3e}, m2 err {e2:.3e}, tol {tol:.3e}");
        assert!(em < tol && e2 < tol, "alpha {alpha}: {em} {e2} > {tol}");
        // Structure: for a separable potential the 2-D operator is a Kronecker sum and L1
        // is linear, so each marginal of the 2-D solution IS the 1-D solution on that
        // axis (same mesh): equal to rounding of the LU solves (~1e-13).
        for a in 0..2 {
            let q = Problem::builder()
                .alpha(alpha)
                .diffusion_scalar(dd[a])
                .potential(Potential::quadratic(&[k[a]]))
                .domain(&[lo[a]], &[hi[a]], &[cells[a]])
                .initial(Initial::Gaussian {
                    mean: vec![mean[a]],
                    std: vec![std[a]],
                })
                .build()
                .unwrap();
            let s1 = solve(&q, &o).unwrap();
            for (x, y) in s1.observables.iter().zip(&s.observables) {
                assert!((x.mean[0] - y.mean[a]).abs() < 1e-11);
                assert!((x.second_moment[0] - y.second_moment[a]).abs() < 1e-11);
            }
        }
    }
}

/// 3-D fractional OU with three stiffnesses (alpha = 0.5): moments against the
/// Mittag-Leffler formulas within the error model, and each marginal equal to the 1-D
/// solve on that axis (Kronecker-sum structure, as in 2-D). Piecewise-uniform graded mesh
/// and the default (Cholesky) backend.
#[test]
fn fractional_ou_3d() {
    let alpha = 0.5;
    let k = [1.0, 2.0, 4.0];
    let (lo, hi, cells) = ([-5.0, -4.0, -3.0], [5.0, 4.0, 3.0], [40usize, 32, 24]);
    let (mean, std) = ([1.5, -1.0, 0.5], [0.4, 0.3, 0.25]);
    let p = Problem::builder()
        .alpha(alpha)
        .potential(Potential::quadratic(&k))
        .domain(&lo, &hi, &cells)
        .initial(Initial::Gaussian {
            mean: mean.to_vec(),
            std: std.to_vec(),
        })
        .build()
        .unwrap();
    let mut o = opts(1.0, 200, &[0.0, 0.5, 1.0]);
    o.mesh = MeshKind::GradedBlocks { r: None };
    let s = solve(&p, &o).unwrap();
    let o0 = s.observables[0].clone();
    let mut err = 0.0f64;
    for ob in &s.observables[1..] {
        assert!((ob.mass - 1.0).abs() < 1e-12);
        for (a, &ka) in k.iter().enumerate() {
            err =
                err.max((ob.mean[a] - ou_mean(o0.mean[a], 1.0, ka, alpha, ob.time).unwrap()).abs());
            err = err.max(
                (ob.second_moment[a]
                    - ou_second_moment(o0.second_moment[a], 1.0, 1.0, ka, alpha, ob.time).unwrap())
                .abs(),
            );
        }
    }
    // Model of fractional_ou_1d with the largest width h = 0.25 and N = 200 base steps.
    let tol = model_tol(0.25, alpha, 200);
    eprintln!("OU 3-D alpha={alpha}: max moment err {err:.3e}, tol {tol:.3e}");
    assert!(err < tol, "{err} > {tol}");
    for a in 0..3 {
        let q = Problem::builder()
            .alpha(alpha)
            .potential(Potential::quadratic(&[k[a]]))
            .domain(&[lo[a]], &[hi[a]], &[cells[a]])
            .initial(Initial::Gaussian {
                mean: vec![mean[a]],
                std: vec![std[a]],
            })
            .build()
            .unwrap();
        let s1 = solve(&q, &o).unwrap();
        for (x, y) in s1.observables.iter().zip(&s.observables) {
            assert!((x.mean[0] - y.mean[a]).abs() < 1e-11);
            assert!((x.second_moment[0] - y.second_moment[a]).abs() < 1e-11);
        }
    }
}
