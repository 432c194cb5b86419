//! Distances between two samples of a 1-D summary (Wasserstein-1, KL, Jensen-Shannon) with
//! cluster-bootstrap intervals.

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

/// Distances between `p` and `q` with cluster-bootstrap intervals.
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
    let [rk, rj, rw] = reps;
    let est = |value: f64, r: Vec<f64>| Estimate {
        value,
        ci: percentile_interval(r, cfg.bootstrap.level),
    };
    Distances {
        kl: est(full[0], rk),
        js: est(full[1], rj),
        w1: est(full[2], rw),
    }
}
