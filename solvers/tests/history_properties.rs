//! Property tests of the fast history evaluators against the direct oracle.

use ffpe_solvers::caputo::TimeMesh;
use ffpe_solvers::history::{Direct, HistoryEvaluator, HistoryKind, build_history};

/// Deterministic pseudo-random increments in [-1, 1] (splitmix64).
fn noise(seed: u64, n: usize) -> Vec<f64> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            (z >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        })
        .collect()
}

/// Runs `fast` and `Direct` side by side on random increments scaled like a solution with
/// a `t^alpha` singularity; returns the max over steps of |h_fast - h_direct| / h_abs,
/// where `h_abs` is the direct history of the absolute increments (the natural scale of
/// the SOE error bound `tol * h_abs`).
fn compare(kind: HistoryKind, mesh: &TimeMesh, alpha: f64, dim: usize) -> f64 {
    let n = mesh.steps();
    let mut fast = build_history(kind, mesh, alpha, dim).unwrap();
    let mut direct = Direct::new(mesh, alpha, dim).unwrap();
    let mut abs = Direct::new(mesh, alpha, dim).unwrap();
    let (mut hf, mut hd, mut ha) = (vec![0.0; dim], vec![0.0; dim], vec![0.0; dim]);
    let rnd = noise(42 + dim as u64, n * dim);
    let t = mesh.times();
    let mut worst: f64 = 0.0;
    for step in 1..=n {
        fast.history_into(step, &mut hf);
        direct.history_into(step, &mut hd);
        abs.history_into(step, &mut ha);
        for c in 0..dim {
            if ha[c] > 0.0 {
                worst = worst.max((hf[c] - hd[c]).abs() / ha[c]);
            }
        }
        // increments of u = t^alpha (1 + noise): the L1 slopes blow up like t^(alpha-1)
        let du = t[step].powf(alpha) - t[step - 1].powf(alpha);
        let delta: Vec<f64> = (0..dim)
            .map(|c| du * (1.0 + 0.5 * rnd[(step - 1) * dim + c]))
            .collect();
        let dabs: Vec<f64> = delta.iter().map(|d| d.abs()).collect();
        fast.push_increment(step, &delta);
        direct.push_increment(step, &delta);
        abs.push_increment(step, &dabs);
    }
    worst
}

#[test]
fn soe_matches_direct_within_tolerance_uniform_and_graded() {
    for &alpha in &[0.3, 0.5, 0.7, 0.9] {
        for tol in [1e-6, 1e-10, 1e-13] {
            let kind = HistoryKind::Soe { tolerance: tol };
            let uni = compare(kind, &TimeMesh::uniform(1.0, 2000).unwrap(), alpha, 2);
            let gra = compare(
                kind,
                &TimeMesh::graded_for_order(1.0, 2000, alpha).unwrap(),
                alpha,
                2,
            );
            println!("alpha={alpha} tol={tol:e}: uniform {uni:.2e} graded {gra:.2e}");
            // The kernel approximation has relative error <= tol on [tau_min, T], so the
            // history error is <= tol * h_abs (plus round-off ~1e-15 of the sums).
            assert!(uni <= tol + 1e-14, "uniform alpha={alpha} tol={tol}: {uni}");
            assert!(gra <= tol + 1e-14, "graded alpha={alpha} tol={tol}: {gra}");
        }
    }
}

#[test]
fn soe_graded_trap_alpha_03() {
    // r = (2 - a)/a = 5.67 for a = 0.3: t_1 = 1e-17 at N = 1024 and tau_1 s_i << 1 for most
    // exponentials, where 1 - e^-x computed naively loses all digits.
    let alpha = 0.3;
    for n in [1024, 4096] {
        let mesh = TimeMesh::graded_for_order(1.0, n, alpha).unwrap();
        assert!(mesh.step_sizes()[0] < 1e-15);
        let e = compare(HistoryKind::Soe { tolerance: 1e-12 }, &mesh, alpha, 1);
        println!("graded a=0.3 N={n}: soe vs direct {e:.2e}");
        assert!(e <= 1e-12 + 1e-14, "N={n}: {e}");
    }
}

#[test]
fn fft_matches_direct_to_roundoff() {
    for &alpha in &[0.2, 0.5, 0.95] {
        for (n, dim) in [(1, 1), (7, 2), (64, 3), (1000, 1), (5000, 3)] {
            let e = compare(
                HistoryKind::Fft,
                &TimeMesh::uniform(2.0, n).unwrap(),
                alpha,
                dim,
            );
            // Round-off: the FFT error is a few eps times the sum of |terms| (log N growth).
            assert!(e <= 1e-13, "alpha={alpha} n={n} dim={dim}: {e:.2e}");
        }
    }
}

#[test]
fn alpha_one_has_no_history() {
    let mesh = TimeMesh::uniform(1.0, 50).unwrap();
    for kind in [
        HistoryKind::Direct,
        HistoryKind::Soe { tolerance: 1e-10 },
        HistoryKind::Fft,
    ] {
        let mut h = build_history(kind, &mesh, 1.0, 2).unwrap();
        let mut out = [1.0, 1.0];
        for n in 1..=50 {
            h.history_into(n, &mut out);
            assert!(out.iter().all(|v| v.abs() < 1e-300), "{kind:?}");
            h.push_increment(n, &[1.0, -2.0]);
        }
    }
}

#[test]
fn soe_reports_exponentials_and_rejects_bad_input() {
    let m = TimeMesh::uniform(1.0, 10_000).unwrap();
    let h = build_history(HistoryKind::Soe { tolerance: 1e-12 }, &m, 0.5, 1).unwrap();
    let ne = h.stats().exponentials;
    println!("uniform N=1e4, tol 1e-12: {ne} exponentials");
    assert!((20..=120).contains(&ne));
    let g = TimeMesh::graded_for_order(1.0, 10_000, 0.3).unwrap();
    let hg = build_history(HistoryKind::Soe { tolerance: 1e-12 }, &g, 0.3, 1).unwrap();
    println!(
        "graded a=0.3 N=1e4: {} exponentials",
        hg.stats().exponentials
    );
    assert!(hg.stats().exponentials <= 300);
    for bad in [0.0, -1.0, f64::NAN, 0.5] {
        assert!(build_history(HistoryKind::Soe { tolerance: bad }, &m, 0.5, 1).is_err());
    }
    assert!(build_history(HistoryKind::Direct, &m, 0.0, 1).is_err());
    assert!(build_history(HistoryKind::Direct, &m, 1.5, 1).is_err());
    assert!(build_history(HistoryKind::Direct, &m, f64::NAN, 1).is_err());
    assert!(build_history(HistoryKind::Fft, &g, 0.5, 1).is_err());
    assert!(build_history(HistoryKind::Direct, &m, 0.5, 0).is_err());
}
