//! Properties of the Scharfetter-Gummel finite-volume operator and of the time stepping:
//! zero column sums, M-matrix signs, the discrete Boltzmann null vector, sparse vs dense
//! apply, and mass conservation / non-negativity over 10^4 steps.

use ffpe::operator::{ApplyOperator, FokkerPlanckOperator};
use ffpe::problem::{Boundary, Diffusion, Potential, Problem};
use ffpe::solve::{MeshKind, SolveOptions, StopWhen, solve_with_observer};
use ffpe::solvers::history::HistoryKind;
use std::sync::Arc;

fn problems() -> Vec<Problem> {
    let b = Problem::builder;
    vec![
        b().potential(Potential::quadratic(&[2.0]))
            .domain(&[-4.0], &[4.0], &[41])
            .build()
            .unwrap(),
        b().potential(Potential::DoubleWell {
            height: 3.0,
            width: 1.0,
            center: vec![0.2],
        })
        .gamma(2.0)
        .diffusion_scalar(0.3)
        .domain(&[-2.0], &[2.5], &[57])
        .build()
        .unwrap(),
        b().potential(Potential::quadratic(&[1.0, 5.0]))
            .diffusion(Diffusion::PerAxis(vec![1.0, 0.25]))
            .domain(&[-3.0, -2.0], &[3.0, 2.0], &[17, 12])
            .build()
            .unwrap(),
        b().potential(Potential::product_square())
            .domain(&[-1.5, -1.0], &[1.5, 1.0], &[13, 11])
            .build()
            .unwrap(),
        b().potential(Potential::Power {
            coefficient: 0.5,
            k: 2.0,
        })
        .domain(&[-1.5, -1.0, -2.0], &[1.5, 1.0, 2.0], &[7, 6, 9])
        .build()
        .unwrap(),
        b().potential(Potential::Closure(Arc::new(|w: &[f64]| {
            (2.0 * std::f64::consts::PI * w[0]).cos()
                + 0.5 * (2.0 * std::f64::consts::PI * w[1]).sin()
        })))
        .boundary(Boundary::Periodic)
        .domain(&[0.0, 0.0], &[1.0, 1.0], &[16, 10])
        .build()
        .unwrap(),
    ]
}

#[test]
fn columns_sum_to_zero_and_signs() {
    for p in problems() {
        let op = FokkerPlanckOperator::assemble(&p).unwrap();
        let dense = op.to_dense();
        let scale = dense.iter().flatten().fold(0.0f64, |m, x| m.max(x.abs()));
        // Column sums are sums of +-coef*B(x) pairs that cancel exactly in exact arithmetic;
        // rounding leaves at most a few ulps of the largest entry.
        for (j, s) in op.column_sums().iter().enumerate() {
            assert!(
                s.abs() <= 1e-13 * scale,
                "column {j} sums to {s} (scale {scale})"
            );
        }
        for (i, row) in dense.iter().enumerate() {
            for (j, &v) in row.iter().enumerate() {
                if i != j {
                    assert!(v >= 0.0, "off-diagonal ({i},{j}) = {v} < 0");
                } else {
                    assert!(v <= 0.0);
                }
            }
        }
    }
}

#[test]
fn boltzmann_is_the_null_vector() {
    for p in problems() {
        let op = FokkerPlanckOperator::assemble(&p).unwrap();
        let pi = p.boltzmann_density().unwrap();
        let mut out = vec![0.0; pi.len()];
        op.apply_into(&pi, &mut out);
        let scale: f64 = op
            .to_dense()
            .iter()
            .flatten()
            .fold(0.0f64, |m, x| m.max(x.abs()))
            * pi.iter().fold(0.0f64, |m, x| m.max(*x));
        // Each flux B(x) p_P - B(-x) p_Q vanishes to rounding when p_Q/p_P = e^-x.
        let res = out.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        assert!(res <= 1e-13 * scale, "|A pi| = {res}, scale {scale}");
    }
}

#[test]
fn sparse_apply_matches_dense_apply() {
    for p in problems() {
        let op = FokkerPlanckOperator::assemble(&p).unwrap();
        let dense = op.to_dense();
        let n = dense.len();
        let x: Vec<f64> = (0..n).map(|i| ((i * 7919) % 101) as f64 / 101.0).collect();
        let mut y = vec![0.0; n];
        op.apply_into(&x, &mut y);
        for i in 0..n {
            let yd: f64 = (0..n).map(|j| dense[i][j] * x[j]).sum();
            assert!((yd - y[i]).abs() <= 1e-12 * (1.0 + yd.abs()));
        }
    }
}

#[test]
fn absorbing_columns_lose_mass_only_at_the_walls() {
    let p = Problem::builder()
        .potential(Potential::quadratic(&[1.0, 2.0]))
        .boundary(Boundary::Absorbing)
        .domain(&[-2.0, -2.0], &[2.0, 2.0], &[10, 8])
        .build()
        .unwrap();
    let op = FokkerPlanckOperator::assemble(&p).unwrap();
    let g = p.grid();
    let mut mi = [0usize; 2];
    for (j, s) in op.column_sums().iter().enumerate() {
        g.unravel_into(j, &mut mi);
        let wall = mi[0] == 0 || mi[0] == 9 || mi[1] == 0 || mi[1] == 7;
        if wall {
            assert!(*s < 0.0);
        } else {
            assert!(s.abs() < 1e-12);
        }
    }
}

/// Mass is conserved to 1e-12 over 10^4 steps (alpha = 0.5, double well, SOE history)
/// and the density stays non-negative. Each step solves (c I - A) u = rhs with an LU of
/// relative accuracy ~1e-15; since 1^T A = 0 the mass changes only by the rounding of the
/// solve, ~1e-16 per step, so 10^4 steps stay well below 1e-12.
#[test]
fn mass_conserved_over_ten_thousand_steps() {
    let p = Problem::builder()
        .alpha(0.5)
        .potential(Potential::DoubleWell {
            height: 1.0,
            width: 1.0,
            center: vec![],
        })
        .domain(&[-2.5], &[2.5], &[80])
        .initial(ffpe::problem::Initial::Gaussian {
            mean: vec![1.0],
            std: vec![0.3],
        })
        .build()
        .unwrap();
    let opts = SolveOptions {
        t_end: 10.0,
        steps: 10_000,
        mesh: MeshKind::Graded { r: None },
        history: HistoryKind::Soe { tolerance: 1e-12 },
        ..Default::default()
    };
    let h = p.grid().cell_volume();
    let mut worst_mass = 0.0f64;
    let mut worst_neg = 0.0f64;
    let mut count = 0usize;
    let sol = solve_with_observer(
        &p,
        &opts,
        &mut StopWhen(|_n, _t, u: &[f64]| {
            let m: f64 = h * u.iter().sum::<f64>();
            worst_mass = worst_mass.max((m - 1.0).abs());
            worst_neg = worst_neg.min(u.iter().cloned().fold(f64::INFINITY, f64::min));
            count += 1;
            false
        }),
    )
    .unwrap();
    assert_eq!(count, 10_001);
    assert_eq!(sol.stats.steps, 10_000);
    assert!(worst_mass < 1e-12, "mass drift {worst_mass}");
    // The implicit step with an M-matrix keeps positivity up to rounding (-1e-16 level).
    assert!(worst_neg > -1e-14, "min density {worst_neg}");
}

/// The two linear solvers of the implicit steps give the same L1 solution: LU of
/// `c I - A` and Cholesky of the symmetrised `c I - Pi^(-1/2) A Pi^(1/2)` (the change of
/// variables commutes with the linear L1 scheme). Both solves are backward stable, so the
/// densities agree to ~1e-13 relative (asserted 1e-10 of the largest value).
#[test]
fn cholesky_and_lu_backends_agree() {
    use ffpe::solve::{LinearBackend, solve};
    let mut cases = problems();
    cases.push(
        Problem::builder()
            .alpha(0.7)
            .potential(Potential::quadratic(&[1.0, 2.0]))
            .boundary(Boundary::Absorbing)
            .domain(&[-2.0, -2.0], &[2.0, 2.0], &[10, 8])
            .build()
            .unwrap(),
    );
    // Both schemes: L2-1sigma also applies A (the full matrix for LU, the symmetric
    // lower triangle for Cholesky), which must commute with the change of variables too.
    for scheme in [ffpe::solve::Scheme::L1, ffpe::solve::Scheme::L21Sigma] {
        for (k, p) in cases.iter().enumerate() {
            let p = p.to_builder().alpha(0.6).build().unwrap();
            let run = |b| {
                solve(
                    &p,
                    &SolveOptions {
                        t_end: 0.5,
                        steps: 40,
                        backend: b,
                        scheme,
                        history: HistoryKind::Direct,
                        ..Default::default()
                    },
                )
                .unwrap()
            };
            let lu = run(LinearBackend::Lu);
            let ch = run(LinearBackend::Cholesky);
            let scale = lu.final_density.iter().fold(0.0f64, |m, x| m.max(x.abs()));
            let diff = lu
                .final_density
                .iter()
                .zip(&ch.final_density)
                .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
            assert!(
                diff <= 1e-10 * scale,
                "{scheme:?} case {k}: {diff} vs {scale}"
            );
        }
    }
    // Per-axis diffusion with a non-separable potential has no Boltzmann weights:
    // Cholesky is refused with an error naming the setting, Auto falls back to LU.
    let p = Problem::builder()
        .potential(Potential::product_square())
        .diffusion(Diffusion::PerAxis(vec![1.0, 0.5]))
        .domain(&[-1.0, -1.0], &[1.0, 1.0], &[8, 8])
        .build()
        .unwrap();
    let o = SolveOptions {
        t_end: 0.1,
        steps: 5,
        backend: LinearBackend::Cholesky,
        ..Default::default()
    };
    assert!(solve(&p, &o).unwrap_err().to_string().contains("backend"));
    let o = SolveOptions {
        backend: LinearBackend::Auto,
        ..o
    };
    assert!(solve(&p, &o).is_ok());
}
