//! What the study adds to the shared estimators of [`crate::analysis`] (ensemble statistics,
//! MSD exponents, Mann-Kendall, EB references): the exponent of a window given in steps, and a
//! streamed time-averaged MSD (a ring of the last `max_lag` checkpoints, never a whole
//! trajectory in memory, which [`crate::analysis::aging`]'s functions take).

use crate::analysis::ensemble::{log_window, msd_exponent, msd_exponent_across_inits};
use crate::analysis::stats::{BootstrapConfig, ConfidenceInterval};
use serde::{Deserialize, Serialize};

/// Squared distance in f64.
pub fn dist2(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (*x as f64 - *y as f64).powi(2))
        .sum()
}

/// Power-law exponent of a positive series in a window of steps, pooled over replicates (the
/// mean over replicates at each time), with an interval that resamples the replicates: the
/// step window as [`msd_exponent_across_inits`] (or [`msd_exponent`] for one replicate) sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExponentFit {
    /// First step in the window.
    pub from_step: u64,
    /// Last step in the window.
    pub to_step: u64,
    /// Points fitted.
    pub points: usize,
    /// Slope of `log y` on `log t` of the replicate mean.
    pub exponent: f64,
    /// `r^2` of that fit.
    pub r2: f64,
    /// Percentile interval over resampled replicates (`None` with one replicate).
    pub ci: Option<ConfidenceInterval>,
    /// The exponent of each replicate alone.
    pub per_replicate: Vec<f64>,
}

/// Fit `log y ~ a + alpha log t` over the steps `lo <= t <= hi` (`t > 0`); `None` with fewer
/// than `min_points` points or a non-positive value there. `y[r][k]` is replicate `r` at step
/// `t[k]`. The window in steps becomes a window in fractions of the `ln t` range of the
/// positive steps, as the shared estimators take it.
pub fn exponent_fit(
    t: &[u64],
    y: &[Vec<f64>],
    lo: f64,
    hi: f64,
    min_points: usize,
    boot: &BootstrapConfig,
) -> Option<ExponentFit> {
    let first = t.iter().position(|&s| s > 0)?;
    let tf: Vec<f64> = t[first..].iter().map(|&s| s as f64).collect();
    let ys: Vec<&[f64]> = y.iter().map(|r| &r[first..]).collect();
    let (l0, l1) = (tf[0].ln(), tf.last()?.ln());
    if l1 <= l0 || ys.is_empty() {
        return None;
    }
    let frac = |v: f64| ((v.max(tf[0]).ln() - l0) / (l1 - l0)).clamp(0.0, 1.0);
    let window = (frac(lo), frac(hi));
    if window.0 >= window.1 {
        return None;
    }
    let r = log_window(&tf, window).ok()?;
    if r.len() < min_points.max(3) {
        return None;
    }
    let (from_step, to_step) = (tf[r.start] as u64, tf[r.end - 1] as u64);
    if ys.len() == 1 {
        let f = msd_exponent(&tf, ys[0], window).ok()?;
        return Some(ExponentFit {
            from_step,
            to_step,
            points: r.len(),
            exponent: f.slope,
            r2: f.r2,
            ci: None,
            per_replicate: vec![f.slope],
        });
    }
    let f = msd_exponent_across_inits(&tf, &ys, window, boot).ok()?;
    Some(ExponentFit {
        from_step,
        to_step,
        points: f.window_points,
        exponent: f.exponent,
        r2: f.fit.r2,
        ci: Some(f.ci),
        per_replicate: f.per_init,
    })
}

/// A bounded sample of one-sample increments `x = w_{k+1} - w_k` of several trajectories, for
/// the effective dimension of their covariance `C`: the participation ratio
/// `(tr C)^2 / tr(C^2)`. `tr C` is the mean of `|x|^2` over every increment seen;
/// `tr(C^2)` is the mean of `(x_n . x_m)^2` over pairs of kept increments from **different
/// trajectories with the same label** (independent given `C`: `E (x^T y)^2 = tr(C^2)` for
/// independent zero-mean `x, y` of covariance `C`; pairs from one trajectory would be
/// correlated in time, pairs across labels, e.g. initialisations in different basins, would
/// measure `tr(C_1 C_2)` instead). Each
/// trajectory keeps evenly spaced increments, at most [`IncrementSketch::PER_TRAJECTORY`] and
/// at most [`IncrementSketch::MAX_FLOATS`] numbers in all.
#[derive(Clone, Debug)]
pub struct IncrementSketch {
    labels: Vec<usize>,
    prev: Vec<Option<Vec<f32>>>,
    seen: Vec<usize>,
    every: usize,
    kept: Vec<Vec<Vec<f32>>>,
    sum_sq: f64,
    count: usize,
    samples: usize,
}

impl IncrementSketch {
    /// Most increments kept per trajectory.
    pub const PER_TRAJECTORY: usize = 16;
    /// Most `f32` numbers kept in all (128 MiB).
    pub const MAX_FLOATS: usize = 1 << 25;

    /// One trajectory per label (trajectories with equal labels are paired), `samples`
    /// samples each.
    pub fn new(labels: Vec<usize>, samples: usize) -> IncrementSketch {
        let trajectories = labels.len();
        IncrementSketch {
            labels,
            prev: vec![None; trajectories],
            seen: vec![0; trajectories],
            every: 1,
            kept: vec![vec![]; trajectories],
            sum_sq: 0.0,
            count: 0,
            samples,
        }
    }

    /// The next sample `w` of trajectory `p`.
    pub fn push(&mut self, p: usize, w: &[f32]) {
        if p >= self.prev.len() {
            return;
        }
        if let Some(prev) = &self.prev[p] {
            if self.count == 0 {
                // sized on the first increment, once the dimension is known
                let per = (Self::MAX_FLOATS / (w.len().max(1) * self.prev.len().max(1)))
                    .clamp(2, Self::PER_TRAJECTORY);
                self.every = (self.samples.saturating_sub(1) / per).max(1);
            }
            let x: Vec<f32> = w.iter().zip(prev).map(|(a, b)| a - b).collect();
            self.sum_sq += x.iter().map(|v| f64::from(*v) * f64::from(*v)).sum::<f64>();
            self.count += 1;
            if self.seen[p].is_multiple_of(self.every) {
                self.kept[p].push(x);
            }
            self.seen[p] += 1;
        }
        match &mut self.prev[p] {
            Some(v) => {
                v.clear();
                v.extend_from_slice(w);
            }
            slot => *slot = Some(w.to_vec()),
        }
    }

    /// `(tr C)^2 / tr(C^2)`, or `None` without two trajectories of one label holding
    /// increments (or with a zero covariance).
    pub fn effective_dimension(&self) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let tr = self.sum_sq / self.count as f64;
        let mut s2 = 0.0;
        let mut pairs = 0usize;
        for p in 0..self.kept.len() {
            for q in (p + 1..self.kept.len()).filter(|&q| self.labels[q] == self.labels[p]) {
                for x in &self.kept[p] {
                    for y in &self.kept[q] {
                        let d: f64 = x
                            .iter()
                            .zip(y)
                            .map(|(a, b)| f64::from(*a) * f64::from(*b))
                            .sum();
                        s2 += d * d;
                        pairs += 1;
                    }
                }
            }
        }
        let dim = self.kept.iter().flatten().map(Vec::len).max().unwrap_or(0) as f64;
        // The participation ratio of a d-dimensional covariance lies in [1, d]. The ratio of
        // the two estimates does not: with few kept increments (two per trajectory at 4e6
        // parameters, the memory cap) the pair mean of (x.y)^2 has a relative standard error
        // near sqrt(2 / pairs), and a low draw put the ratio at 1.45 d on a synthetic isotropic
        // ensemble. Values outside the range are sampling noise: clamp to it.
        (pairs > 0 && s2 > 0.0 && tr > 0.0)
            .then(|| (tr * tr / (s2 / pairs as f64)).clamp(1.0, dim.max(1.0)))
    }
}

/// Time-averaged MSD of one evenly sampled trajectory, accumulated one sample at a time (a
/// ring of the last `max_lag` samples; never the whole trajectory).
#[derive(Clone, Debug)]
pub struct Tamsd {
    ring: std::collections::VecDeque<Vec<f32>>,
    first: Option<Vec<f32>>,
    sums: Vec<f64>,
    counts: Vec<usize>,
    /// `||w_l - w_first||^2` for lags `l = 1..=max_lag` (the single-time MSD from the start).
    pub from_first: Vec<f64>,
    /// `||w_{k+1} - w_k||^2` for every consecutive pair (for aging: any later start).
    pub increments: Vec<f64>,
    max_lag: usize,
    dim: usize,
}

impl Tamsd {
    /// Lags `1..=max_lag` samples.
    pub fn new(max_lag: usize) -> Tamsd {
        Tamsd {
            ring: Default::default(),
            first: None,
            sums: vec![0.0; max_lag],
            counts: vec![0; max_lag],
            from_first: vec![],
            increments: vec![],
            max_lag,
            dim: 0,
        }
    }

    /// Lowers the largest lag to `max_lag` (at least 1); only before the first sample.
    pub fn limit_lag(&mut self, max_lag: usize) {
        if self.ring.is_empty() && self.first.is_none() && max_lag >= 1 {
            self.max_lag = self.max_lag.min(max_lag);
            self.sums.truncate(self.max_lag);
            self.counts.truncate(self.max_lag);
        }
    }

    /// The largest lag.
    pub fn max_lag(&self) -> usize {
        self.max_lag
    }

    /// Coordinates per sample (0 before the first).
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The next sample.
    pub fn push(&mut self, w: &[f32]) {
        self.dim = w.len();
        for (l, prev) in self.ring.iter().rev().enumerate() {
            let d = dist2(w, prev);
            self.sums[l] += d;
            self.counts[l] += 1;
            if l == 0 {
                self.increments.push(d);
            }
        }
        match &self.first {
            None => self.first = Some(w.to_vec()),
            Some(f) if self.from_first.len() < self.max_lag => self.from_first.push(dist2(w, f)),
            _ => {}
        }
        if self.max_lag > 0 {
            if self.ring.len() == self.max_lag {
                let mut old = self.ring.pop_front().unwrap_or_default();
                old.clear();
                old.extend_from_slice(w);
                self.ring.push_back(old);
            } else {
                self.ring.push_back(w.to_vec());
            }
        }
    }

    /// `delta^2(l)` for `l = 1..=max_lag` (NaN where no pair was seen).
    pub fn values(&self) -> Vec<f64> {
        self.sums
            .iter()
            .zip(&self.counts)
            .map(|(s, &c)| if c > 0 { s / c as f64 } else { f64::NAN })
            .collect()
    }
}

/// Ergodicity-breaking parameter `EB = Var(delta^2) / E[delta^2]^2` over members' TAMSDs at
/// one lag (NaN with fewer than 2 values).
pub fn ergodicity_breaking(values: &[f64]) -> f64 {
    let n = values.len();
    if n < 2 {
        return f64::NAN;
    }
    let m = values.iter().sum::<f64>() / n as f64;
    let var = values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n as f64 - 1.0);
    var / (m * m)
}

#[cfg(test)]
mod tests {
    #[test]
    fn effective_dimension_of_isotropic_and_low_rank_increments() {
        use crate::analysis::stats::SplitMix64;
        let mut rng = SplitMix64::new(7);
        let mut normal = move || rng.normal();
        let (d, n, walkers) = (200, 60, 6);
        // isotropic: C = I_d, participation ratio d; with P = 15 x 15 x 5 pairs per label the
        // estimate of tr(C^2) = d has relative standard error about sqrt(2 / d + 2 / P) ~ 0.11
        // (each (x.y)^2 has variance ~ 2 d^2 + ...); asserted within 30 %
        let mut iso = IncrementSketch::new(vec![0, 0, 0, 1, 1, 1], n);
        // rank 3 embedded in d coordinates with variances 1, 1, 1: participation ratio 3
        let mut low = IncrementSketch::new(vec![0; walkers], n);
        for p in 0..walkers {
            let (mut w, mut u) = (vec![0f32; d], vec![0f32; d]);
            for _ in 0..n {
                for x in w.iter_mut() {
                    *x += normal() as f32;
                }
                for x in u.iter_mut().take(3) {
                    *x += normal() as f32;
                }
                iso.push(p, &w);
                low.push(p, &u);
            }
        }
        let e = iso.effective_dimension().unwrap();
        assert!((e / d as f64 - 1.0).abs() < 0.3, "{e}");
        let e = low.effective_dimension().unwrap();
        assert!((e / 3.0 - 1.0).abs() < 0.3, "{e}");
        // two increments per trajectory, two trajectories (one pair of trajectories, four
        // pairs of increments): the ratio is noisy but never above the dimension or below 1
        for seed in 0..20 {
            let mut rng = SplitMix64::new(100 + seed);
            let mut few = IncrementSketch::new(vec![0, 0], 3);
            for p in 0..2 {
                let mut w = vec![0f32; 50];
                for _ in 0..3 {
                    for x in w.iter_mut() {
                        *x += rng.normal() as f32;
                    }
                    few.push(p, &w);
                }
            }
            let e = few.effective_dimension().unwrap();
            assert!((1.0..=50.0).contains(&e), "seed {seed}: {e}");
        }
        // one trajectory per label: no pairs, no estimate
        let mut one = IncrementSketch::new(vec![0, 1], n);
        one.push(0, &[0.0, 1.0]);
        one.push(0, &[1.0, 1.0]);
        one.push(1, &[0.0, 1.0]);
        one.push(1, &[1.0, 2.0]);
        assert!(one.effective_dimension().is_none());
    }

    use super::*;

    #[test]
    fn exponent_of_a_power_law() {
        let t: Vec<u64> = (1..=100).collect();
        let y: Vec<Vec<f64>> = [1.0, 2.0]
            .iter()
            .map(|c| t.iter().map(|&s| c * (s as f64).powf(0.7)).collect())
            .collect();
        let f = exponent_fit(&t, &y, 10.0, 100.0, 4, &BootstrapConfig::default()).unwrap();
        assert!((f.exponent - 0.7).abs() < 1e-9);
        let ci = f.ci.unwrap();
        assert!(ci.lo <= 0.7 + 1e-9 && ci.hi >= 0.7 - 1e-9);
        assert!(exponent_fit(&t, &y, 1.0, 2.0, 4, &BootstrapConfig::default()).is_none());
    }

    #[test]
    fn tamsd_of_a_line() {
        // w_k = k (one coordinate): delta^2(l) = l^2
        let mut t = Tamsd::new(3);
        for k in 0..10 {
            t.push(&[k as f32]);
        }
        let v = t.values();
        for (l, x) in v.iter().enumerate() {
            assert!((x - ((l + 1) * (l + 1)) as f64).abs() < 1e-12);
        }
        assert_eq!(t.increments.len(), 9);
        assert_eq!(t.from_first, vec![1.0, 4.0, 9.0]);
        assert!(ergodicity_breaking(&[2.0, 2.0]).abs() < 1e-12);
        // a lowered largest lag keeps the first lags exactly and a shorter ring
        let mut c = Tamsd::new(3);
        c.limit_lag(2);
        assert_eq!(c.max_lag(), 2);
        for k in 0..10 {
            c.push(&[k as f32]);
        }
        assert_eq!(c.values(), v[..2].to_vec());
        assert_eq!(c.ring.len(), 2);
        assert_eq!(c.increments, t.increments);
        // not after the first sample
        c.limit_lag(1);
        assert_eq!(c.max_lag(), 2);
    }
}
