//! The Moons posterior test: the data generator, the MLP gradient, the distances, and the
//! whole study at tiny size (it runs, and a deliberately wrong temperature is detected).

use ffpe_validation::moons::{
    self, Binning, Mlp, MoonsConfig, kl_js, make_moons, run_study, wasserstein1,
};
use ffpe_validation::verdict::Verdict;

#[test]
fn moons_data_are_deterministic() {
    let a = make_moons(301, 0.2, 7);
    let b = make_moons(301, 0.2, 7);
    let bits = |d: &(Vec<[f64; 2]>, Vec<u8>)| {
        d.0.iter()
            .flat_map(|p| [p[0].to_bits(), p[1].to_bits()])
            .collect::<Vec<u64>>()
    };
    assert_eq!(bits(&a), bits(&b));
    assert_eq!(a.1, b.1);
    let c = make_moons(301, 0.2, 8);
    assert_ne!(bits(&a), bits(&c));
    assert_ne!(a.1, c.1, "the shuffle depends on the seed");
}

#[test]
fn moons_labels_are_balanced() {
    for n in [2usize, 9, 100, 301] {
        let (x, y) = make_moons(n, 0.1, 3);
        assert_eq!(x.len(), n);
        assert_eq!(y.len(), n);
        let ones = y.iter().filter(|&&l| l == 1).count();
        let zeros = y.iter().filter(|&&l| l == 0).count();
        assert_eq!(zeros, n / 2);
        assert_eq!(ones, n - n / 2);
    }
    assert!(make_moons(0, 0.1, 3).0.is_empty());
}

#[test]
fn noiseless_moons_lie_on_the_half_circles() {
    let n = 200;
    let (x, y) = make_moons(n, 0.0, 11);
    // cos^2 + sin^2 of correctly rounded values: a few ulps of 1 (the 1 - cos and 1/2 - sin
    // shifts add one rounding each), so 1e-15 is ample and far below any noise
    let tol = 1e-15;
    let mut angles: [Vec<f64>; 2] = Default::default();
    for (p, &l) in x.iter().zip(&y) {
        let (cx, cy) = if l == 0 { (0.0, 0.0) } else { (1.0, 0.5) };
        let (dx, dy) = (p[0] - cx, p[1] - cy);
        assert!(
            ((dx * dx + dy * dy) - 1.0).abs() < 4.0 * tol,
            "{p:?} label {l}"
        );
        if l == 0 {
            assert!(dy >= -tol, "outer moon is the upper half circle: {p:?}");
            angles[0].push(dy.abs().atan2(dx));
        } else {
            assert!(dy <= tol, "inner moon is the lower half circle: {p:?}");
            // the inner moon is (1 - cos t, 1/2 - sin t): dx = -cos t, dy = -sin t
            angles[1].push(dy.abs().atan2(-dx));
        }
    }
    // angles equally spaced in [0, pi], endpoints included (as numpy's linspace)
    for a in &mut angles {
        a.sort_by(f64::total_cmp);
        let m = a.len();
        for (i, t) in a.iter().enumerate() {
            let want = std::f64::consts::PI * i as f64 / (m - 1) as f64;
            assert!((t - want).abs() < 1e-13, "angle {t} vs {want}");
        }
    }
}

#[test]
fn mlp_gradient_matches_finite_differences() {
    for hidden in [vec![5usize], vec![4, 3], vec![]] {
        let mlp = Mlp::new(&hidden).unwrap();
        let (x, y) = make_moons(20, 0.2, 1);
        let idx: Vec<usize> = (0..20).collect();
        // a generic point, away from the initialisation's scale
        let w: Vec<f64> = mlp.init(3).iter().map(|v| 1.7 * v + 0.05).collect();
        let mut work = mlp.work();
        let mut g = vec![0.0; mlp.num_params()];
        let wd = 0.03;
        mlp.loss_grad(&w, &x, &y, &idx, wd, &mut work, &mut g);
        let mut scratch = vec![0.0; g.len()];
        let h = 1e-5;
        for k in 0..w.len() {
            let mut wp = w.clone();
            let mut wm = w.clone();
            wp[k] += h;
            wm[k] -= h;
            let lp = mlp.loss_grad(&wp, &x, &y, &idx, wd, &mut work, &mut scratch);
            let lm = mlp.loss_grad(&wm, &x, &y, &idx, wd, &mut work, &mut scratch);
            let fd = (lp - lm) / (2.0 * h);
            // central differences: truncation h^2 |L'''| / 6 ~ 1e-10, rounding
            // eps |L| / h ~ 1e-11; 1e-8 leaves a wide margin and catches any wrong term
            assert!(
                (fd - g[k]).abs() < 1e-8 * (1.0 + g[k].abs()),
                "hidden {hidden:?}, parameter {k}: analytic {} vs finite difference {fd}",
                g[k]
            );
        }
    }
}

#[test]
fn distances_match_exact_values() {
    // W1 of a sample and its shift is the shift; of unequal sizes, by hand:
    // F_a jumps 1/2 at 0 and 1, F_b 1 at 0.25 => |F_a - F_b| = 1/2 on [0, 0.25), 1/2 on
    // [0.25, 1) => 0.125 + 0.375
    let a: Vec<f64> = (0..50).map(|i| (i as f64 * 0.37).sin()).collect();
    let b: Vec<f64> = a.iter().map(|v| v + 0.3).collect();
    assert!((wasserstein1(&a, &b) - 0.3).abs() < 1e-14);
    assert!((wasserstein1(&[0.0, 1.0], &[0.25]) - 0.5).abs() < 1e-15);
    assert!(wasserstein1(&a, &a).abs() <= 0.0, "exactly zero");
    // KL and JS of two-bin histograms against the closed forms
    let (kl, js) = kl_js(&[3.0, 1.0], &[1.0, 1.0], 0.0);
    let (p, q) = ([0.75f64, 0.25], [0.5f64, 0.5]);
    let want_kl = p[0] * (p[0] / q[0]).ln() + p[1] * (p[1] / q[1]).ln();
    let m = [0.625f64, 0.375];
    let klm = |a: [f64; 2]| a[0] * (a[0] / m[0]).ln() + a[1] * (a[1] / m[1]).ln();
    assert!((kl - want_kl).abs() < 1e-15);
    assert!((js - 0.5 * (klm(p) + klm(q))).abs() < 1e-15);
    // disjoint supports: JS is ln 2 without pseudo-counts
    let (_, js) = kl_js(&[5.0, 0.0], &[0.0, 5.0], 0.0);
    assert!((js - 2f64.ln()).abs() < 1e-15);
    // binning: under- and overflow bins, the upper edge goes to the overflow bin
    let bin = Binning {
        lo: 0.0,
        hi: 1.0,
        bins: 4,
    };
    assert_eq!(
        bin.counts(&[-1.0, 0.0, 0.3, 0.99, 1.0, 7.0]),
        vec![1.0, 1.0, 1.0, 0.0, 1.0, 2.0]
    );
}

#[test]
fn invalid_config_names_the_field() {
    let cfg = MoonsConfig {
        lr: -1.0,
        ..MoonsConfig::tiny()
    };
    let e = run_study(&cfg).unwrap_err().to_string();
    assert!(e.contains("moons.lr"), "{e}");
    let cfg = MoonsConfig {
        steps: 10,
        ..MoonsConfig::tiny()
    };
    let e = run_study(&cfg).unwrap_err().to_string();
    assert!(e.contains("moons.steps"), "{e}");
    let cfg = MoonsConfig {
        hidden: vec![4, 0],
        ..MoonsConfig::tiny()
    };
    assert!(
        run_study(&cfg)
            .unwrap_err()
            .to_string()
            .contains("moons.hidden")
    );
}

#[test]
fn tiny_study_runs_and_detects_wrong_temperatures() {
    let cfg = MoonsConfig::tiny();
    let r = run_study(&cfg).unwrap();
    let json = serde_json::to_string(&r).unwrap();
    let back: moons::MoonsResult = serde_json::from_str(&json).unwrap();
    assert_eq!(back.matched, r.matched);
    assert!(moons::markdown(&r).contains("Verdict"));
    assert_eq!(r.controls.len(), 1 + cfg.control_factors.len());
    // the walk dimension is measured from the runs and compared at its own temperature
    let w = r.walk.as_ref().unwrap();
    assert!(w.nu.is_finite() && w.nu > 0.0 && w.points >= 3, "{w:?}");
    assert!(w.nu_ci.lo <= w.nu_ci.hi);
    let c = w.comparison.as_ref().unwrap();
    assert!((c.nbeta - w.nbeta).abs() <= 1e-12 * w.nbeta);
    assert!(moons::markdown(&r).contains("Walk dimension"));
    // the mis-tempered controls (x0.1, x10) are farther from SGD than the matched posterior:
    // beyond the upper end of the matched distance's 95 % bootstrap interval (fixed seeds, so
    // deterministic; at tiny size the intervals themselves are too wide to be disjoint)
    for c in &r.controls[1..] {
        assert!(
            c.principal.w1.value > r.matched.principal.w1.ci.hi,
            "{}: W1 {:?} vs matched {:?}",
            c.label,
            c.principal.w1,
            r.matched.principal.w1
        );
    }
    // a deliberately mis-set "matched" temperature (x10 too cold) is noticed: the study does
    // not call it supported, and the control at x0.1 (the true SGD temperature) fits better
    let wrong = run_study(&MoonsConfig {
        temperature_factor: 10.0,
        ..cfg
    })
    .unwrap();
    assert_ne!(
        wrong.verdict,
        Verdict::Supported,
        "{}",
        wrong.verdict_reason
    );
    let true_t = &wrong.controls[1];
    assert!(
        wrong.matched.principal.w1.value > true_t.principal.w1.ci.hi,
        "{:?} vs {:?}",
        true_t.principal.w1,
        wrong.matched.principal.w1
    );
}

/// Every interval of a study's result: (where, value, lo, hi).
fn intervals(r: &moons::MoonsResult) -> Vec<(String, f64, f64, f64)> {
    let mut cmps: Vec<&moons::Comparison> = vec![&r.matched, &r.null];
    cmps.extend(&r.controls);
    if let Some(c) = r.walk.as_ref().and_then(|w| w.comparison.as_ref()) {
        cmps.push(c);
    }
    if let Some(ou) = &r.ou {
        cmps.push(&ou.comparison);
        cmps.extend(&ou.stationary_comparison);
    }
    let mut out = Vec::new();
    for c in cmps {
        for (summary, d) in [
            ("principal", &c.principal),
            ("mean prob", &c.mean_probability),
        ] {
            for (metric, e) in [("KL", &d.kl), ("JS", &d.js), ("W1", &d.w1)] {
                out.push((
                    format!("{} {summary} {metric}", c.label),
                    e.value,
                    e.ci.lo,
                    e.ci.hi,
                ));
            }
        }
    }
    if let Some(w) = &r.walk {
        out.push(("walk dimension nu".into(), w.nu, w.nu_ci.lo, w.nu_ci.hi));
    }
    out
}

/// Issue 21, item 2: on the study's outputs every printed interval contains its estimate
/// (the recentred cluster bootstrap, module docs item 8); every comparison carries a
/// permutation test (item 9) whose p-value is a proper one; the OU rival is there (item 11).
#[test]
fn tiny_study_intervals_contain_their_estimates() {
    let cfg = MoonsConfig::tiny();
    let r = run_study(&cfg).unwrap();
    let all = intervals(&r);
    // 5 posterior comparisons + walk + OU (+ stationary OU) x 2 summaries x 3 metrics, + nu
    assert!(all.len() > 7 * 6, "{}", all.len());
    for (what, v, lo, hi) in &all {
        assert!(v.is_finite(), "{what}: {v}");
        assert!(lo <= v && v <= hi, "{what}: {v} not in [{lo}, {hi}]");
    }
    let ou = r.ou.as_ref().expect("the OU rival");
    let mut cmps = vec![&r.matched, &r.null, &ou.comparison];
    cmps.extend(&r.controls);
    for c in cmps {
        for e in [&c.principal.w1, &c.principal.kl, &c.mean_probability.js] {
            let t = e.permutation.expect("a permutation test");
            assert_eq!(t.permutations, cfg.permutations);
            let min_p = 1.0 / (1 + cfg.permutations) as f64;
            assert!(t.p_value >= min_p && t.p_value <= 1.0, "{}: {t:?}", c.label);
            assert!(t.band >= 0.0 && t.band.is_finite(), "{}: {t:?}", c.label);
        }
    }
    // the x0.1 control is far from SGD: its W1 beats every permutation
    let hot = &r.controls[1];
    assert!(
        hot.principal.w1.permutation.unwrap().p_value < 0.05,
        "{:?}",
        hot.principal.w1
    );
    // the OU rival: the stationary law exists exactly when every eta lambda lies in (0, 2)
    // (at the tiny size w* is not an exact minimum: 5,000 pretraining steps leave a few
    // slightly negative curvatures that the weight decay does not lift, so the rival is the
    // finite-time law alone), and its parts are reported accordingly
    let stationary = ou.nonpositive_eigenvalues == 0
        && ou.hessian_min_eigenvalue > 0.0
        && cfg.lr * ou.hessian_max_eigenvalue < 2.0;
    assert_eq!(ou.stationary, stationary, "{ou:?}");
    assert_eq!(ou.stationary_comparison.is_some(), stationary);
    assert_eq!(ou.mean_shift_stationary.is_some(), stationary);
    assert_eq!(ou.slowest_relaxation_steps.is_some(), stationary);
    assert!(ou.hessian_min_eigenvalue <= ou.hessian_max_eigenvalue);
    assert!(ou.grad_norm.is_finite() && ou.trace_c > 0.0 && ou.trace_cov_last > 0.0);
    assert_eq!(ou.comparison.label, "OU (linearised SGD at w*)");
    let md = moons::markdown(&r);
    assert!(md.contains("rival: OU (linearised SGD at w*)"), "{md}");
    assert!(md.contains("closer to SGD than the OU"), "{md}");
    assert!(md.contains("null band"), "{md}");
    // the new numbers survive results.json (the study results there hold the MoonsResult)
    let st = ffpe_validation::report::results::StudyResults {
        moons: Some(r.clone()),
        ..Default::default()
    };
    let back: ffpe_validation::report::results::StudyResults =
        serde_json::from_str(&serde_json::to_string(&st).unwrap()).unwrap();
    let back = back.moons.unwrap();
    assert_eq!(back.ou, r.ou);
    assert_eq!(back.matched, r.matched);
    assert!(back.is_current());
    // the headline claims: the nu = 2 verdict, the measured-walk one beside it, and the rival's,
    // each with the verdict the study computed; the Markdown section has the same rows
    let claims = ffpe_validation::report::claims::study_claims(&st);
    let claim = |id: &str| {
        claims
            .iter()
            .find(|c| c.id == id)
            .unwrap_or_else(|| panic!("claim {id} missing"))
    };
    assert_eq!(claim("moons_posterior").verdict, r.verdict);
    let walk = r.walk.as_ref().unwrap();
    assert_eq!(claim("moons_posterior_measured_walk").verdict, walk.verdict);
    let rival = claim("moons_posterior_vs_ou");
    assert_eq!(rival.verdict, ou.verdict);
    assert!(
        rival.evidence.contains("OU (linearised SGD at w*)"),
        "{}",
        rival.evidence
    );
    assert!(
        rival.evidence.contains("permutation null band"),
        "{}",
        rival.evidence
    );
    // the rival's rule: the posterior's W1 interval below the OU's, above it, or overlapping
    let (m, o) = (r.matched.principal.w1.ci, ou.comparison.principal.w1.ci);
    let want = if m.hi < o.lo {
        Verdict::Supported
    } else if m.lo > o.hi {
        Verdict::Contradicted
    } else {
        Verdict::Inconclusive
    };
    assert_eq!(ou.verdict, want);
    assert!(md.contains("at the measured walk dimension"), "{md}");
    assert!(md.contains("| matched (tempered) |"), "{md}");
}

/// The Hessian of the loss: exact for logistic regression (no hidden layer), where
/// `H = (1/n) sum_i p_i (1 - p_i) x~_i x~_i^T + wd I` with `x~ = (x_1, x_2, 1)`; for an MLP,
/// against second differences of the loss itself (independent of the gradient code).
#[test]
fn hessian_matches_exact_and_finite_differences() {
    let (x, y) = make_moons(40, 0.2, 2);
    let wd = 0.01;
    let lr = Mlp::new(&[]).unwrap();
    let w = vec![0.7, -1.1, 0.3];
    let h = lr.hessian(&w, &x, &y, wd);
    let mut want = [0.0; 9];
    for xi in &x {
        let xt = [xi[0], xi[1], 1.0];
        let z: f64 = xt.iter().zip(&w).map(|(a, b)| a * b).sum();
        let p = 1.0 / (1.0 + (-z).exp());
        for a in 0..3 {
            for b in 0..3 {
                want[a * 3 + b] += p * (1.0 - p) * xt[a] * xt[b] / x.len() as f64;
            }
        }
    }
    for a in 0..3 {
        want[a * 4] += wd;
    }
    // central differences of the exact gradient at h = 1e-5: truncation h^2 |g'''| / 6 and
    // rounding eps |g| / h are both ~1e-11 here
    for k in 0..9 {
        assert!(
            (h[k] - want[k]).abs() < 1e-9,
            "entry {k}: {} vs {}",
            h[k],
            want[k]
        );
    }
    let mlp = Mlp::new(&[4]).unwrap();
    let w: Vec<f64> = mlp.init(3).iter().map(|v| 1.5 * v + 0.05).collect();
    let d = mlp.num_params();
    let h = mlp.hessian(&w, &x, &y, wd);
    let all: Vec<usize> = (0..x.len()).collect();
    let mut work = mlp.work();
    let mut g = vec![0.0; d];
    let mut loss = |v: &[f64]| mlp.loss_grad(v, &x, &y, &all, wd, &mut work, &mut g);
    let s = 1e-4;
    for i in 0..d {
        for j in 0..d {
            let mut at = |di: f64, dj: f64| {
                let mut v = w.clone();
                v[i] += di;
                v[j] += dj;
                loss(&v)
            };
            let fd = (at(s, s) - at(s, -s) - at(-s, s) + at(-s, -s)) / (4.0 * s * s);
            // second differences: truncation s^2 |L''''| / 6 ~ 1e-9, rounding
            // 4 eps |L| / (4 s^2) ~ 1e-8; 1e-6 leaves a margin and catches any wrong entry
            assert!(
                (fd - h[i * d + j]).abs() < 1e-6 * (1.0 + h[i * d + j].abs()),
                "({i}, {j}): {} vs {fd}",
                h[i * d + j]
            );
        }
    }
    // symmetric by construction
    for i in 0..d {
        for j in 0..d {
            assert!((h[i * d + j] - h[j * d + i]).abs() <= 0.0);
        }
    }
}

/// The gradient covariance `C`: its trace is `Mlp::noise_traces`'s `tr C` (an independent
/// accumulation), it is symmetric and positive semi-definite (`v^T C v >= 0` for every `v`,
/// checked on the per-point gradients' own directions and random ones).
#[test]
fn gradient_covariance_matches_noise_traces() {
    let (x, y) = make_moons(50, 0.25, 4);
    let mlp = Mlp::new(&[5]).unwrap();
    let w: Vec<f64> = mlp.init(1).iter().map(|v| 2.0 * v).collect();
    let d = mlp.num_params();
    let c = mlp.gradient_covariance(&w, &x, &y);
    let (tc, _) = mlp.noise_traces(&w, &x, &y, &mut mlp.work());
    let tr: f64 = (0..d).map(|i| c[i * d + i]).sum();
    // two orders of summation of the same ~50 x 31 products: a few ulps of tr C
    assert!((tr - tc).abs() < 1e-12 * tc, "{tr} vs {tc}");
    for i in 0..d {
        for j in 0..d {
            assert!((c[i * d + j] - c[j * d + i]).abs() <= 1e-15 * tc);
        }
    }
    let mut s = 0x1234_5678u64;
    for _ in 0..20 {
        let v: Vec<f64> = (0..d)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
            })
            .collect();
        let q: f64 = (0..d)
            .map(|i| (0..d).map(|j| v[i] * c[i * d + j] * v[j]).sum::<f64>())
            .sum();
        assert!(q >= -1e-14 * tc, "{q}");
    }
}
