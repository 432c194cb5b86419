//! Smoke tests of the early API: history evaluators against each other, relaxation
//! against the Mittag-Leffler function, alpha = 1.

use faer::sparse::{SparseColMat, Triplet};
use ffpe_solvers::caputo::{TimeMesh, l1_leading_coefficient, l1_weight};
use ffpe_solvers::fode::LinearL1Stepper;
use ffpe_solvers::history::{HistoryKind, build_history};
use ffpe_solvers::mittag_leffler::mittag_leffler;

fn neg_identity(n: usize) -> SparseColMat<usize, f64> {
    let t: Vec<_> = (0..n).map(|i| Triplet::new(i, i, -1.0)).collect();
    SparseColMat::try_new_from_triplets(n, n, &t).expect("valid triplets")
}

fn relax_error(alpha: f64, mesh: TimeMesh, kind: HistoryKind) -> f64 {
    let mut st = LinearL1Stepper::new(neg_identity(1), alpha, mesh, kind, &[1.0]).unwrap();
    while !st.is_finished() {
        st.step(None).unwrap();
    }
    let exact = mittag_leffler(alpha, 1.0, -1.0).unwrap();
    (st.state()[0] - exact).abs()
}

#[test]
fn relaxation_reproduces_a05_table_at_n64() {
    // Issue table: uniform 1.12e-3, graded 3.20e-4 at N = 64, a = 0.5, t = 1.
    let e_u = relax_error(
        0.5,
        TimeMesh::uniform(1.0, 64).unwrap(),
        HistoryKind::Direct,
    );
    let e_g = relax_error(
        0.5,
        TimeMesh::graded_for_order(1.0, 64, 0.5).unwrap(),
        HistoryKind::Direct,
    );
    println!("uniform {e_u:.3e} graded {e_g:.3e}");
    assert!((e_u / 1.12e-3 - 1.0).abs() < 5e-3, "{e_u}");
    assert!((e_g / 3.20e-4 - 1.0).abs() < 5e-3, "{e_g}");
}

#[test]
fn weights_alpha_one_are_classical() {
    let m = TimeMesh::graded(2.0, 10, 3.0).unwrap();
    for n in 1..=10 {
        for k in 1..n {
            assert!(l1_weight(&m, 1.0, n, k).abs() < 1e-300);
        }
        assert!((l1_weight(&m, 1.0, n, n) - 1.0).abs() < 1e-15);
        let c = l1_leading_coefficient(&m, 1.0, n);
        assert!((c * m.step_sizes()[n - 1] - 1.0).abs() < 1e-14);
    }
}

#[test]
fn history_kinds_agree_uniform() {
    let mesh = TimeMesh::uniform(1.0, 300).unwrap();
    let alpha = 0.4;
    let dim = 3;
    let mut evs: Vec<_> = [
        HistoryKind::Direct,
        HistoryKind::Soe { tolerance: 1e-12 },
        HistoryKind::Fft,
    ]
    .iter()
    .map(|&k| build_history(k, &mesh, alpha, dim).unwrap())
    .collect();
    let mut outs = vec![vec![0.0; dim]; 3];
    for n in 1..=300 {
        for (e, o) in evs.iter_mut().zip(outs.iter_mut()) {
            e.history_into(n, o);
        }
        for ((d, s), f) in outs[0].iter().zip(&outs[1]).zip(&outs[2]) {
            assert!((s - d).abs() <= 1e-10 * (1.0 + d.abs()), "soe n={n}");
            assert!((f - d).abs() <= 1e-12 * (1.0 + d.abs()), "fft n={n}");
        }
        let delta: Vec<f64> = (0..dim)
            .map(|c| ((n * (c + 1)) as f64).sin() / (n as f64))
            .collect();
        for e in evs.iter_mut() {
            e.push_increment(n, &delta);
        }
    }
}
