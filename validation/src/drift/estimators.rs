//! The estimators the study calls (pure; numbers in, numbers out).
//!
//! A thin interface: each function has one job, so that the shared estimators of
//! [`crate::analysis`] can take their places one by one.

use crate::analysis::gamma_law::lag1_autocorrelation;
use crate::analysis::pca::symmetric_eigen;
use crate::analysis::stats::{BootstrapConfig, ConfidenceInterval, SplitMix64, ols, percentile_interval};
use serde::{Deserialize, Serialize};

/// Moments of an ensemble of `S` weight vectors about their common start `w_0`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Moments {
    /// `||m - w_0||^2` (plug-in mean `m`).
    pub drift: f64,
    /// `tr Sigma`, unbiased: `sum_j ||w_j - m||^2 / (S - 1)`.
    pub diffusion: f64,
    /// `mean_j ||w_j - w_0||^2 = drift + (S - 1) / S diffusion`.
    pub msd: f64,
}

/// The ensemble mean of `members` into `mean` (f64) and the [`Moments`] about `w0`.
/// Needs at least two members of the length of `w0`.
pub fn ensemble_moments(members: &[&[f32]], w0: &[f32], mean: &mut Vec<f64>) -> Moments {
    let s = members.len();
    mean.clear();
    mean.resize(w0.len(), 0.0);
    for w in members {
        for (m, x) in mean.iter_mut().zip(w.iter()) {
            *m += *x as f64;
        }
    }
    for m in mean.iter_mut() {
        *m /= s as f64;
    }
    let drift = mean
        .iter()
        .zip(w0)
        .map(|(m, a)| (m - *a as f64).powi(2))
        .sum::<f64>();
    let spread: f64 = members
        .iter()
        .map(|w| {
            w.iter()
                .zip(mean.iter())
                .map(|(x, m)| (*x as f64 - m).powi(2))
                .sum::<f64>()
        })
        .sum();
    Moments {
        drift,
        diffusion: spread / (s as f64 - 1.0).max(1.0),
        msd: drift + spread / s as f64,
    }
}

/// Squared distance in f64.
pub fn dist2(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (*x as f64 - *y as f64).powi(2))
        .sum()
}

/// Squared distance between an f64 and an f32 vector.
pub fn dist2_mixed(a: &[f64], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - *y as f64).powi(2)).sum()
}

/// The `k` largest eigenvalues of the ensemble covariance `Sigma` (unbiased, `/(S-1)`), from
/// the `S x S` Gram matrix of the centred members (its nonzero eigenvalues are those of
/// `Sigma`'s: at most `S - 1` of them).
pub fn covariance_eigenvalues(members: &[&[f32]], mean: &[f64], k: usize) -> Vec<f64> {
    let s = members.len();
    if s < 2 {
        return vec![];
    }
    let mut g = vec![0.0; s * s];
    for a in 0..s {
        for b in a..s {
            let v: f64 = members[a]
                .iter()
                .zip(members[b].iter())
                .zip(mean)
                .map(|((x, y), m)| (*x as f64 - m) * (*y as f64 - m))
                .sum();
            g[a * s + b] = v;
            g[b * s + a] = v;
        }
    }
    let (mut ev, _) = symmetric_eigen(&g, s);
    ev.truncate(k.min(s - 1));
    ev.iter().map(|e| e.max(0.0) / (s as f64 - 1.0)).collect()
}

/// Power-law exponent of a positive series in a window, pooled over replicates (the mean over
/// replicates at each time), with an interval that resamples the replicates.
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

/// Fit `log y ~ a + alpha log t` over the points with `lo <= t <= hi`, `t > 0`, where every
/// replicate's `y` is positive; `None` with fewer than `min_points` such points.
/// `y[r][k]` is replicate `r` at time `t[k]`.
pub fn exponent_fit(
    t: &[u64],
    y: &[Vec<f64>],
    lo: f64,
    hi: f64,
    min_points: usize,
    boot: &BootstrapConfig,
) -> Option<ExponentFit> {
    let idx: Vec<usize> = (0..t.len())
        .filter(|&k| {
            let tk = t[k] as f64;
            tk > 0.0 && tk >= lo && tk <= hi && y.iter().all(|r| r[k] > 0.0 && r[k].is_finite())
        })
        .collect();
    if idx.len() < min_points.max(3) || y.is_empty() {
        return None;
    }
    let lt: Vec<f64> = idx.iter().map(|&k| (t[k] as f64).ln()).collect();
    let slope_of = |reps: &[usize]| -> Option<(f64, f64)> {
        let ly: Vec<f64> = idx
            .iter()
            .map(|&k| (reps.iter().map(|&r| y[r][k]).sum::<f64>() / reps.len() as f64).ln())
            .collect();
        ols(&lt, &ly).ok().map(|f| (f.slope, f.r2))
    };
    let all: Vec<usize> = (0..y.len()).collect();
    let (exponent, r2) = slope_of(&all)?;
    let per_replicate = (0..y.len())
        .map(|r| slope_of(&[r]).map_or(f64::NAN, |f| f.0))
        .collect();
    let ci = (y.len() >= 2).then(|| {
        let mut rng = SplitMix64::new(boot.seed);
        let reps: Vec<f64> = (0..boot.resamples)
            .filter_map(|_| {
                let pick: Vec<usize> = (0..y.len()).map(|_| rng.below(y.len())).collect();
                slope_of(&pick).map(|f| f.0)
            })
            .collect();
        percentile_interval(reps, boot.level)
    });
    Some(ExponentFit {
        from_step: t[idx[0]],
        to_step: t[*idx.last().unwrap_or(&0)],
        points: idx.len(),
        exponent,
        r2,
        ci,
        per_replicate,
    })
}

/// Mann-Kendall trend test with the variance inflated for serial correlation (effective sample
/// size from the lag-1 autocorrelation of the series detrended by Sen's slope).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MannKendall {
    /// Points.
    pub n: usize,
    /// `S = sum_{i<j} sign(x_j - x_i)`.
    pub s: f64,
    /// Effective sample size `n (1 - rho) / (1 + rho)` (clamped to `[2, n]`).
    pub n_eff: f64,
    /// Normal score of `S` with the inflated variance.
    pub z: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// Sen's slope (per point).
    pub sen_slope: f64,
}

/// [`MannKendall`] of `x` (`None` with fewer than 3 points or a non-finite value).
pub fn mann_kendall(x: &[f64]) -> Option<MannKendall> {
    let n = x.len();
    if n < 3 || x.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let mut s = 0.0;
    let mut slopes = Vec::with_capacity(n * (n - 1) / 2);
    for i in 0..n {
        for j in i + 1..n {
            let d = x[j] - x[i];
            s += if d > 0.0 {
                1.0
            } else if d < 0.0 {
                -1.0
            } else {
                0.0
            };
            slopes.push(d / (j - i) as f64);
        }
    }
    slopes.sort_by(f64::total_cmp);
    let sen_slope = slopes[slopes.len() / 2];
    let resid: Vec<f64> = x
        .iter()
        .enumerate()
        .map(|(i, v)| v - sen_slope * i as f64)
        .collect();
    let rho = lag1_autocorrelation(&resid);
    let rho = if rho.is_finite() { rho.clamp(-0.99, 0.99) } else { 0.0 };
    let nf = n as f64;
    let n_eff = (nf * (1.0 - rho) / (1.0 + rho)).clamp(2.0, nf);
    let var = nf * (nf - 1.0) * (2.0 * nf + 5.0) / 18.0 * (nf / n_eff);
    let z = if s > 0.0 {
        (s - 1.0) / var.sqrt()
    } else if s < 0.0 {
        (s + 1.0) / var.sqrt()
    } else {
        0.0
    };
    let p_value = 2.0 * (1.0 - normal_cdf(z.abs()));
    Some(MannKendall {
        n,
        s,
        n_eff,
        z,
        p_value,
        sen_slope,
    })
}

fn normal_cdf(z: f64) -> f64 {
    use statrs::distribution::{ContinuousCDF, Normal};
    Normal::new(0.0, 1.0).map_or(f64::NAN, |d| d.cdf(z))
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
        }
    }

    /// The next sample.
    pub fn push(&mut self, w: &[f32]) {
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

/// `EB` of Brownian motion (the ergodic reference), lag `l` in a trajectory of `n` samples:
/// `4 l / (3 (n - 1))` to leading order in `l / n`.
pub fn eb_brownian(lag: usize, samples: usize) -> f64 {
    4.0 * lag as f64 / (3.0 * (samples.max(2) - 1) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_split_the_msd() {
        let w0 = [0.0f32, 0.0];
        let a = [1.0f32, 0.0];
        let b = [3.0f32, 2.0];
        let mut m = vec![];
        let mo = ensemble_moments(&[&a, &b], &w0, &mut m);
        assert!((mo.drift - 5.0).abs() < 1e-12); // m = (2, 1)
        assert!((mo.diffusion - 4.0).abs() < 1e-12); // (2 + 2) / 1
        assert!((mo.msd - 7.0).abs() < 1e-12); // (1 + 13) / 2
        let ev = covariance_eigenvalues(&[&a, &b], &m, 3);
        assert_eq!(ev.len(), 1);
        assert!((ev[0] - 4.0).abs() < 1e-12);
    }

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
    fn mann_kendall_sees_a_trend_and_not_noise() {
        let mut rng = SplitMix64::new(3);
        let noise: Vec<f64> = (0..60).map(|_| rng.normal()).collect();
        let trend: Vec<f64> = noise.iter().enumerate().map(|(i, v)| v + 0.2 * i as f64).collect();
        assert!(mann_kendall(&trend).unwrap().p_value < 0.01);
        assert!(mann_kendall(&noise).unwrap().p_value > 0.05);
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
    }
}
