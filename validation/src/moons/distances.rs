//! Distances between two samples of a 1-D summary (Wasserstein-1, KL, Jensen-Shannon) with
//! cluster-bootstrap intervals (recentred on the estimate) and cluster permutation tests.

#[allow(unused_imports)]
use super::*;

/// Wasserstein-1 distance of two empirical distributions: `int |F_a(t) - F_b(t)| dt`, exact.
///
/// ```
/// let d = ffpe_validation::moons::wasserstein1(&[0.0, 1.0], &[0.5, 1.5]);
/// assert!((d - 0.5).abs() < 1e-15);
/// ```
pub fn wasserstein1(a: &[f64], b: &[f64]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return f64::NAN;
    }
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j) = (0usize, 0usize);
    let mut x = a[0].min(b[0]);
    let mut total = 0.0;
    while i < a.len() || j < b.len() {
        let next = match (a.get(i), b.get(j)) {
            (Some(&p), Some(&q)) => p.min(q),
            (Some(&p), None) => p,
            (None, Some(&q)) => q,
            (None, None) => break,
        };
        total += (i as f64 / na - j as f64 / nb).abs() * (next - x);
        x = next;
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
    }
    total
}

/// A fixed histogram binning: `bins` equal bins on `[lo, hi)` and one overflow bin each side.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Binning {
    /// Lower edge.
    pub lo: f64,
    /// Upper edge.
    pub hi: f64,
    /// Inner bins.
    pub bins: usize,
}

impl Binning {
    /// Bins between the 0.5 % and 99.5 % quantiles of `reference` (widened to a unit interval
    /// about the value if they coincide).
    pub fn from_reference(reference: &[f64], bins: usize) -> Binning {
        let mut s = reference.to_vec();
        s.sort_by(f64::total_cmp);
        let q = |p: f64| crate::analysis::stats::quantile_sorted(&s, p);
        let (mut lo, mut hi) = (q(0.005), q(0.995));
        if hi.is_nan() || lo.is_nan() || hi <= lo {
            lo -= 0.5;
            hi = lo + 1.0;
        }
        Binning { lo, hi, bins }
    }

    /// Counts of `x` (length `bins + 2`: underflow first, overflow last).
    pub fn counts(&self, x: &[f64]) -> Vec<f64> {
        let mut c = vec![0.0; self.bins + 2];
        let width = (self.hi - self.lo) / self.bins as f64;
        for &v in x {
            let k = if v < self.lo {
                0
            } else if v >= self.hi {
                self.bins + 1
            } else {
                1 + (((v - self.lo) / width) as usize).min(self.bins - 1)
            };
            c[k] += 1.0;
        }
        c
    }
}

/// KL(P || Q) and the Jensen-Shannon divergence (nats) of two histograms after adding
/// `pseudo` to every bin of each.
///
/// ```
/// let (kl, js) = ffpe_validation::moons::kl_js(&[3.0, 1.0], &[3.0, 1.0], 0.5);
/// assert!(kl.abs() < 1e-15 && js.abs() < 1e-15);
/// ```
pub fn kl_js(p: &[f64], q: &[f64], pseudo: f64) -> (f64, f64) {
    let norm = |h: &[f64]| {
        let t: f64 = h.iter().map(|c| c + pseudo).sum();
        h.iter().map(|c| (c + pseudo) / t).collect::<Vec<f64>>()
    };
    let (p, q) = (norm(p), norm(q));
    let kl = |a: &[f64], b: &[f64]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| if *x > 0.0 { x * (x / y).ln() } else { 0.0 })
            .sum::<f64>()
    };
    let m: Vec<f64> = p.iter().zip(&q).map(|(a, b)| 0.5 * (a + b)).collect();
    (kl(&p, &q), 0.5 * (kl(&p, &m) + kl(&q, &m)))
}

/// A sample of one summary grouped in clusters (SGD runs or Langevin chains).
#[derive(Clone, Debug)]
pub(super) struct Clustered {
    pub(super) clusters: Vec<Vec<f64>>,
}

impl Clustered {
    pub(super) fn flat(&self) -> Vec<f64> {
        self.clusters.iter().flatten().copied().collect()
    }
    pub(super) fn resample(&self, rng: &mut SplitMix64) -> Vec<f64> {
        let k = self.clusters.len();
        let mut v = Vec::new();
        for _ in 0..k {
            v.extend_from_slice(&self.clusters[rng.below(k)]);
        }
        v
    }
}

pub(super) fn raw_distances(p: &[f64], q: &[f64], binning: &Binning, pseudo: f64) -> [f64; 3] {
    let (kl, js) = kl_js(&binning.counts(p), &binning.counts(q), pseudo);
    [kl, js, wasserstein1(p, q)]
}

/// The cluster-bootstrap interval of `value` from its replicates `reps`, recentred on `value`:
/// `[value - (m - q_lo), value + (q_hi - m)]`, `m` the median and `q_lo`, `q_hi` the
/// `(1 -+ level) / 2` quantiles of the finite replicates, the lower end raised to `floor`
/// when one is given (distances are non-negative). Returns the interval and the median bias
/// `m - value`.
///
/// Why not the percentile interval `[q_lo, q_hi]`: it assumes the bootstrap distribution of
/// `theta*` sits about `theta_hat` as the sampling distribution of `theta_hat` sits about
/// `theta` (Efron and Tibshirani 1993, ch. 13). For a distance between cluster resamples it
/// does not: a resample of `k` clusters with replacement holds only about `1 - 1/e = 63 %`
/// distinct clusters, the duplicates make both empirical distributions lumpier, and the
/// distance between them exceeds the distance between the samples they were drawn from. The
/// replicates are shifted up by a median bias `b = m - theta_hat > 0`, and when `b` exceeds the
/// interval's lower half-width the percentile interval lies wholly above its own estimate
/// (the committed medium null: KL 0.0257 with interval [0.0262, 0.0821]). Efron's
/// bias-corrected (BC) percentile interval corrects the levels by `z0 = Phi^-1(P*(theta* <
/// theta_hat))` but still excludes `theta_hat` once `|z0| > z_(alpha/2)`, which is this case;
/// the basic interval `[2 theta_hat - q_hi, 2 theta_hat - q_lo]` excludes it too whenever the
/// percentile one does. Subtracting the median bias from every replicate (the bootstrap
/// distribution recentred on the estimate, its spread and skew kept) contains `theta_hat` at
/// every level because `q_lo <= m <= q_hi`; the mean-shifted interval does not guarantee that
/// (a skewed replicate distribution can have its mean beyond a quantile). The interval is the
/// sampling spread of the estimate; the plug-in distance itself stays biased upward by about
/// `b` (reported beside it), which errs against calling a distance small.
pub(super) fn recentred_interval(
    value: f64,
    mut reps: Vec<f64>,
    level: f64,
    floor: Option<f64>,
) -> (ConfidenceInterval, f64) {
    reps.retain(|x| x.is_finite());
    reps.sort_by(f64::total_cmp);
    let q = |p: f64| crate::analysis::stats::quantile_sorted(&reps, p);
    let a = (1.0 - level) / 2.0;
    let (lo, med, hi) = (q(a), q(0.5), q(1.0 - a));
    let mut ci_lo = value - (med - lo);
    if let Some(f) = floor {
        ci_lo = ci_lo.max(f);
    }
    (
        ConfidenceInterval {
            lo: ci_lo,
            hi: value + (hi - med),
            level,
        },
        med - value,
    )
}

/// Distances between `p` and `q` with cluster-bootstrap intervals (recentred on the
/// estimates, [`recentred_interval`]) and cluster permutation tests ([`permutation_tests`]).
pub(super) fn distances(
    p: &Clustered,
    q: &Clustered,
    binning: &Binning,
    cfg: &MoonsConfig,
    seed: u64,
) -> Distances {
    let full = raw_distances(&p.flat(), &q.flat(), binning, cfg.pseudo_count);
    let mut rng = SplitMix64::new(cfg.bootstrap.seed ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut reps: [Vec<f64>; 3] = Default::default();
    for _ in 0..cfg.bootstrap.resamples {
        let d = raw_distances(
            &p.resample(&mut rng),
            &q.resample(&mut rng),
            binning,
            cfg.pseudo_count,
        );
        for (r, v) in reps.iter_mut().zip(d) {
            r.push(v);
        }
    }
    let perm = permutation_tests(p, q, binning, cfg, seed, full);
    let [rk, rj, rw] = reps;
    let est = |k: usize, r: Vec<f64>| {
        let (ci, bias) = recentred_interval(full[k], r, cfg.bootstrap.level, Some(0.0));
        Estimate {
            value: full[k],
            ci,
            bootstrap_median_bias: bias,
            permutation: Some(perm[k]),
        }
    };
    Distances {
        kl: est(0, rk),
        js: est(1, rj),
        w1: est(2, rw),
    }
}

/// Cluster permutation tests of "`p` and `q` are draws of one distribution" for the three
/// distances (KL, JS, W1; observed values `observed`): the clusters of both samples (SGD runs,
/// posterior chains) are pooled, their labels permuted [`MoonsConfig::permutations`] times
/// keeping the number of clusters of each group, and the distance recomputed; the band is the
/// `cfg.bootstrap.level` quantile of the permutation distances and the p-value
/// `(1 + #{d_perm >= d_obs}) / (1 + permutations)` (the observed labelling counted as one of
/// the permutations, so it is never 0). Exact when the clusters are exchangeable under the
/// hypothesis; SGD runs and chains hold different numbers of draws with different
/// correlations, so it is the between-cluster variability of the pool that sets the band.
pub(super) fn permutation_tests(
    p: &Clustered,
    q: &Clustered,
    binning: &Binning,
    cfg: &MoonsConfig,
    seed: u64,
    observed: [f64; 3],
) -> [PermutationTest; 3] {
    let pool: Vec<&Vec<f64>> = p.clusters.iter().chain(&q.clusters).collect();
    let kp = p.clusters.len();
    let mut order: Vec<usize> = (0..pool.len()).collect();
    let mut rng = Rng::new(cfg.bootstrap.seed, &[STREAM_PERMUTATION, seed]);
    let mut perms: [Vec<f64>; 3] = Default::default();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..cfg.permutations {
        rng.shuffle(&mut order);
        a.clear();
        b.clear();
        for (i, &c) in order.iter().enumerate() {
            (if i < kp { &mut a } else { &mut b }).extend_from_slice(pool[c]);
        }
        let d = raw_distances(&a, &b, binning, cfg.pseudo_count);
        for (r, v) in perms.iter_mut().zip(d) {
            r.push(v);
        }
    }
    let mut test = |k: usize| {
        let mut r = std::mem::take(&mut perms[k]);
        let exceed = r.iter().filter(|&&v| v >= observed[k]).count();
        r.retain(|v| v.is_finite());
        r.sort_by(f64::total_cmp);
        PermutationTest {
            band: crate::analysis::stats::quantile_sorted(&r, cfg.bootstrap.level),
            p_value: (1 + exceed) as f64 / (1 + cfg.permutations) as f64,
            permutations: cfg.permutations,
            level: cfg.bootstrap.level,
        }
    };
    [test(0), test(1), test(2)]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Replicates wholly above the estimate (the resampling bias of a distance near 0) give a
    /// percentile interval that excludes it; the recentred interval contains it, keeps the
    /// replicates' spread on each side of the median, reports the median bias, and stops at
    /// the floor.
    #[test]
    fn recentred_interval_contains_the_estimate() {
        let reps: Vec<f64> = (0..=100).map(|i| 1.0 + 0.01 * i as f64).collect();
        // quantiles of 1.00..2.00: 2.5 % at 1.025, median 1.5, 97.5 % at 1.975
        let (ci, bias) = recentred_interval(0.2, reps.clone(), 0.95, Some(0.0));
        assert!((bias - 1.3).abs() < 1e-12, "{bias}");
        assert!((ci.hi - (0.2 + 0.475)).abs() < 1e-12, "{ci:?}");
        assert!(ci.lo.abs() < 1e-300, "floored at 0: {ci:?}");
        let (ci, _) = recentred_interval(0.9, reps.clone(), 0.95, Some(0.0));
        assert!((ci.lo - (0.9 - 0.475)).abs() < 1e-12, "{ci:?}");
        // every level, and replicates with NaN left out
        let mut r2 = reps;
        r2.push(f64::NAN);
        for level in [0.5, 0.9, 0.95, 0.99] {
            for value in [-3.0, 0.0, 1.5, 7.0] {
                let (ci, _) = recentred_interval(value, r2.clone(), level, None);
                assert!(ci.lo <= value && value <= ci.hi, "{value} {ci:?}");
            }
        }
    }

    fn clustered(rng: &mut SplitMix64, k: usize, size: usize, shift: f64) -> Clustered {
        Clustered {
            clusters: (0..k)
                .map(|_| {
                    // a cluster effect and within-cluster noise: draws of a cluster correlated
                    let c = rng.normal();
                    (0..size).map(|_| shift + c + rng.normal()).collect()
                })
                .collect(),
        }
    }

    /// The permutation test holds its level when both samples come from one distribution
    /// (clusters exchangeable: the test is exact, P(p <= 0.05) <= 0.05), with correlated
    /// draws inside clusters, and rejects a clear shift at its smallest p-value.
    #[test]
    fn permutation_test_holds_its_level_and_detects_a_shift() {
        let cfg = MoonsConfig {
            permutations: 99,
            ..MoonsConfig::tiny()
        };
        let bin = Binning {
            lo: -3.0,
            hi: 3.0,
            bins: 10,
        };
        let mut rng = SplitMix64::new(42);
        let reps = 300;
        let mut reject = [0usize; 3];
        for rep in 0..reps {
            let p = clustered(&mut rng, 20, 4, 0.0);
            let q = clustered(&mut rng, 8, 10, 0.0);
            let obs = raw_distances(&p.flat(), &q.flat(), &bin, cfg.pseudo_count);
            let t = permutation_tests(&p, &q, &bin, &cfg, rep, obs);
            for k in 0..3 {
                assert!(t[k].p_value >= 0.01 && t[k].p_value <= 1.0);
                assert!(t[k].band >= 0.0);
                reject[k] += usize::from(t[k].p_value <= 0.05);
            }
        }
        // rejections ~ Binomial(300, <= 0.05): mean 15, sd 3.8; 15 + 5 sd = 34 is a
        // 1-in-10^6 false failure of a test that holds its level
        for (k, r) in reject.iter().enumerate() {
            assert!(*r <= 34, "metric {k}: {r} of {reps} rejected at 0.05");
        }
        // a shift of 3 cluster sds: the observed distance beats every permutation
        let p = clustered(&mut rng, 20, 4, 0.0);
        let q = clustered(&mut rng, 8, 10, 3.0);
        let obs = raw_distances(&p.flat(), &q.flat(), &bin, cfg.pseudo_count);
        let t = permutation_tests(&p, &q, &bin, &cfg, 7, obs);
        for k in 0..3 {
            assert!((t[k].p_value - 0.01).abs() < 1e-15, "{:?}", t[k]);
            assert!(t[k].band < obs[k]);
        }
    }
}
