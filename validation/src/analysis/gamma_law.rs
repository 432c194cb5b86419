//! The loss-level test of the steady state (SPEC section 1.4).
//!
//! Under `p_s ~ exp(-(L - L*)/T)` near a minimum with LLC `lambda`, the excess loss
//! `E = L - L*` is Gamma distributed with shape `lambda` and scale `T`. The shape is taken
//! from the independently estimated LLC (`lambda_bar`), not fitted; the scale `T` and the
//! unknown minimum level `L*` are fitted by maximum likelihood with the shape held fixed
//! (profile likelihood over `L*` below the smallest loss). The test reports the
//! Kolmogorov-Smirnov distance and p-value, QQ data, and beside it the shape fitted freely
//! (same likelihood, shape free) with a block-bootstrap interval.
//!
//! Caveats, stated in the report: estimating `T` and `L*` from the same data makes the
//! classical KS p-value conservative (too large), and serial correlation of the iterates makes
//! it anti-conservative (too small); both p-values (nominal `n` and effective `n` from the
//! lag-1 autocorrelation) are reported.

use super::stats::{
    BootstrapConfig, ConfidenceInterval, SplitMix64, block_resample_indices, default_block_len,
    mean, percentile_interval,
};
use super::{AnalysisError, Result};
use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, Gamma};
use statrs::function::gamma::{digamma, ln_gamma};

/// Result of the Gamma-law test on one run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct GammaLawTest {
    /// Number of loss values.
    pub n: usize,
    /// Effective sample size `n (1 - rho1) / (1 + rho1)` from the lag-1 autocorrelation.
    pub n_effective: f64,
    /// The shape held fixed: the window-mean LLC.
    pub shape_llc: f64,
    /// Fitted minimum level `L*` (shape fixed).
    pub location: f64,
    /// Fitted scale (temperature) `T` (shape fixed).
    pub scale: f64,
    /// Kolmogorov-Smirnov distance between the excess losses and Gamma(shape_llc, scale).
    pub ks_statistic: f64,
    /// Asymptotic KS p-value with the nominal `n`.
    pub ks_p_value: f64,
    /// Asymptotic KS p-value with the effective `n`.
    pub ks_p_value_effective: f64,
    /// QQ data: (Gamma quantile, sorted excess loss) at probabilities `(i - 1/2)/n`.
    pub qq: Vec<(f64, f64)>,
    /// Shape fitted freely (location and scale fitted too).
    pub free_shape: f64,
    /// Block-bootstrap interval of the free shape.
    pub free_shape_ci: ConfidenceInterval,
    /// Scale of the free fit.
    pub free_scale: f64,
    /// Whether `shape_llc` lies inside `free_shape_ci`.
    pub llc_inside_free_ci: bool,
    /// Spearman correlation of the losses with time: a steady state has none; a value far
    /// from 0 means the window is still relaxing and the test's premise fails.
    pub trend_spearman: f64,
}

impl GammaLawTest {
    /// Whether the sample can test the steady state at all: at least 10 effective points
    /// and no strong trend (`|trend_spearman| < 0.5`).
    pub fn informative(&self) -> bool {
        self.n_effective >= 10.0 && self.trend_spearman.abs() < 0.5
    }
}

/// Asymptotic Kolmogorov p-value `Q_KS((sqrt(n) + 0.12 + 0.11/sqrt(n)) D)` (Stephens 1970).
pub fn ks_p_value(d: f64, n: f64) -> f64 {
    let sn = n.max(1.0).sqrt();
    let lam = (sn + 0.12 + 0.11 / sn) * d;
    if lam < 1e-3 {
        return 1.0;
    }
    let mut sum = 0.0;
    let mut sign = 1.0;
    for j in 1..=200 {
        let jf = j as f64;
        let term = sign * (-2.0 * jf * jf * lam * lam).exp();
        sum += term;
        if term.abs() < 1e-16 {
            break;
        }
        sign = -sign;
    }
    (2.0 * sum).clamp(0.0, 1.0)
}

/// KS distance of a sorted sample from a continuous CDF.
pub fn ks_statistic_sorted(sorted: &[f64], cdf: impl Fn(f64) -> f64) -> f64 {
    let n = sorted.len() as f64;
    let mut d: f64 = 0.0;
    for (i, &x) in sorted.iter().enumerate() {
        let f = cdf(x);
        d = d.max((i as f64 + 1.0) / n - f).max(f - i as f64 / n);
    }
    d
}

/// Lag-1 autocorrelation of a series.
pub fn lag1_autocorrelation(v: &[f64]) -> f64 {
    if v.len() < 3 {
        return 0.0;
    }
    let m = mean(v);
    let den: f64 = v.iter().map(|x| (x - m) * (x - m)).sum();
    if den <= 0.0 {
        return 0.0;
    }
    let num: f64 = v.windows(2).map(|w| (w[0] - m) * (w[1] - m)).sum();
    num / den
}

/// Maximum-likelihood shape of a Gamma sample with location known: solves
/// `ln k - psi(k) = ln(mean E) - mean(ln E)` by bisection on `ln k`.
fn mle_shape(log_mean: f64, mean_log: f64) -> f64 {
    let s0 = log_mean - mean_log;
    if s0 <= 1e-14 {
        return 1e6;
    }
    let (mut lo, mut hi) = (-12.0f64, 16.0f64);
    for _ in 0..80 {
        let mid = 0.5 * (lo + hi);
        let k = mid.exp();
        // ln k - psi(k) decreases in k.
        if k.ln() - digamma(k) > s0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (0.5 * (lo + hi)).exp()
}

/// A shifted Gamma fit: `L = location + E`, `E ~ Gamma(shape, scale)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GammaFit {
    /// The minimum level `L*`.
    pub location: f64,
    /// Shape `k`.
    pub shape: f64,
    /// Scale `theta` (the temperature `T`).
    pub scale: f64,
}

type Fit = GammaFit;

/// Profile maximum likelihood over the location `L* = min - delta`, shape fixed (`Some`)
/// or free (`None`). `losses` must hold at least two distinct finite values (the callers
/// check); the location grid spans `range / n` to `1e4 range` below the smallest loss.
pub fn profile_fit(losses: &[f64], fixed_shape: Option<f64>) -> GammaFit {
    let n = losses.len() as f64;
    let lmin = losses.iter().copied().fold(f64::INFINITY, f64::min);
    let lmax = losses.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let range = (lmax - lmin).max(1e-12 * lmax.abs().max(1e-300));
    // For shapes below 1 the likelihood is unbounded as L* -> min; the smallest admissible
    // gap (range / n, the typical spacing of order statistics) keeps the fit finite.
    let delta_min = range / n;
    let delta_max = range * 1e4;
    let grid = 240;
    let mut best: Option<(f64, Fit)> = None;
    let mut e = vec![0.0; losses.len()];
    for g in 0..=grid {
        let delta = delta_min * (delta_max / delta_min).powf(g as f64 / grid as f64);
        let loc = lmin - delta;
        for (ei, &l) in e.iter_mut().zip(losses) {
            *ei = l - loc;
        }
        let me = mean(&e);
        let mle = e.iter().map(|x| x.ln()).sum::<f64>() / n;
        let k = fixed_shape.unwrap_or_else(|| mle_shape(me.ln(), mle));
        let theta = me / k;
        let ll = (k - 1.0) * n * mle - n * me / theta - n * k * theta.ln() - n * ln_gamma(k);
        if ll.is_finite() && best.as_ref().is_none_or(|b| ll > b.0) {
            best = Some((
                ll,
                Fit {
                    location: loc,
                    shape: k,
                    scale: theta,
                },
            ));
        }
    }
    best.map(|b| b.1).unwrap_or(Fit {
        location: lmin - delta_min,
        shape: fixed_shape.unwrap_or(1.0),
        scale: range,
    })
}

/// Tests the losses of late-window iterates against Gamma(`lambda_bar`, `T`).
///
/// `losses` is the series of (full training set) losses in time order; at least 8 values,
/// not all equal, and `lambda_bar > 0`.
///
/// ```
/// use ffpe_validation::analysis::{gamma_law::test_gamma_law, stats::BootstrapConfig};
/// // Gamma(2, 0.01) quantiles on a regular probability grid, shifted by 0.3.
/// use statrs::distribution::{ContinuousCDF, Gamma};
/// let g = Gamma::new(2.0, 100.0).unwrap();
/// let losses: Vec<f64> = (0..200).map(|i| 0.3 + g.inverse_cdf((i as f64 + 0.5) / 200.0)).collect();
/// let t = test_gamma_law(&losses, 2.0, &BootstrapConfig { resamples: 50, ..Default::default() }).unwrap();
/// assert!(t.ks_statistic < 0.05 && (t.scale - 0.01).abs() < 1e-3);
/// ```
pub fn test_gamma_law(
    losses: &[f64],
    lambda_bar: f64,
    boot: &BootstrapConfig,
) -> Result<GammaLawTest> {
    if losses.len() < 8 {
        return Err(AnalysisError::TooFewPoints {
            what: "Gamma-law test losses",
            needed: 8,
            got: losses.len(),
        });
    }
    if !(lambda_bar > 0.0 && lambda_bar.is_finite()) {
        return Err(AnalysisError::OutOfRange {
            what: "Gamma-law shape lambda_bar",
            value: lambda_bar,
            allowed: "finite and > 0",
        });
    }
    for &l in losses {
        if !l.is_finite() {
            return Err(AnalysisError::OutOfRange {
                what: "Gamma-law test losses",
                value: l,
                allowed: "finite numbers",
            });
        }
    }
    let lmin = losses.iter().copied().fold(f64::INFINITY, f64::min);
    let lmax = losses.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if lmax - lmin <= 0.0 {
        return Err(AnalysisError::Degenerate {
            what: "Gamma-law test",
            why: "all losses are equal",
        });
    }
    let n = losses.len();
    let fixed = profile_fit(losses, Some(lambda_bar));
    let dist =
        Gamma::new(lambda_bar, 1.0 / fixed.scale).map_err(|_| AnalysisError::Degenerate {
            what: "Gamma-law test",
            why: "fitted scale is not positive",
        })?;
    let mut e: Vec<f64> = losses.iter().map(|l| l - fixed.location).collect();
    e.sort_by(f64::total_cmp);
    let d = ks_statistic_sorted(&e, |x| dist.cdf(x));
    let rho = lag1_autocorrelation(losses).clamp(-0.99, 0.99);
    let n_eff = (n as f64 * (1.0 - rho) / (1.0 + rho)).clamp(2.0, n as f64);
    let qq = e
        .iter()
        .enumerate()
        .map(|(i, &x)| (dist.inverse_cdf((i as f64 + 0.5) / n as f64), x))
        .collect();
    let free = profile_fit(losses, None);
    let mut rng = SplitMix64::new(boot.seed);
    let mut idx = Vec::with_capacity(n);
    let mut b = vec![0.0; n];
    let mut reps = Vec::with_capacity(boot.resamples);
    let block = default_block_len(n);
    for _ in 0..boot.resamples {
        block_resample_indices(n, block, &mut rng, &mut idx);
        for (k, &i) in idx.iter().enumerate() {
            b[k] = losses[i];
        }
        let bmin = b.iter().copied().fold(f64::INFINITY, f64::min);
        let bmax = b.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if bmax > bmin {
            reps.push(profile_fit(&b, None).shape);
        }
    }
    let free_shape_ci = percentile_interval(reps, boot.level);
    Ok(GammaLawTest {
        n,
        n_effective: n_eff,
        shape_llc: lambda_bar,
        location: fixed.location,
        scale: fixed.scale,
        ks_statistic: d,
        ks_p_value: ks_p_value(d, n as f64),
        ks_p_value_effective: ks_p_value(d, n_eff),
        qq,
        free_shape: free.shape,
        free_shape_ci,
        free_scale: free.scale,
        llc_inside_free_ci: free_shape_ci.contains(lambda_bar),
        trend_spearman: super::stats::spearman(
            &(0..n).map(|i| i as f64).collect::<Vec<_>>(),
            losses,
        ),
    })
}

/// One draw of `Gamma(k, theta)` (`k > 0`, `theta > 0`) by Marsaglia and Tsang (2000), with the
/// `U^(1/k)` boost for `k < 1`: the seeded sampler of the synthetic tests of the Gamma law.
pub fn sample_gamma(k: f64, theta: f64, rng: &mut SplitMix64) -> f64 {
    if k < 1.0 {
        let u = rng.uniform().max(1e-300);
        return sample_gamma(k + 1.0, theta, rng) * u.powf(1.0 / k);
    }
    let d = k - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let x = rng.normal();
        let v = (1.0 + c * x).powi(3);
        if v <= 0.0 {
            continue;
        }
        let u = rng.uniform();
        if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
            return d * v * theta;
        }
    }
}

/// Kolmogorov-Smirnov distance of `losses` from the shifted Gamma law with shape `shape` held
/// fixed and location and scale fitted by maximum likelihood ([`profile_fit`]), with the fit.
/// `None` when the losses are too few (< 3), not finite, or all equal, or the shape is not
/// positive.
pub fn ks_fixed_shape(losses: &[f64], shape: f64) -> Option<(f64, GammaFit)> {
    if losses.len() < 3 || !(shape > 0.0 && shape.is_finite()) {
        return None;
    }
    if losses.iter().any(|l| !l.is_finite()) {
        return None;
    }
    let lmin = losses.iter().copied().fold(f64::INFINITY, f64::min);
    let lmax = losses.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if lmax <= lmin {
        return None;
    }
    let fit = profile_fit(losses, Some(shape));
    let dist = Gamma::new(shape, 1.0 / fit.scale).ok()?;
    let mut e: Vec<f64> = losses.iter().map(|l| l - fit.location).collect();
    e.sort_by(f64::total_cmp);
    Some((ks_statistic_sorted(&e, |x| dist.cdf(x)), fit))
}

/// Parametric-bootstrap p-value of the KS distance `d_obs` of [`ks_fixed_shape`]: the share of
/// `resamples` samples of size `n` drawn from `Gamma(shape, scale)` whose own distance (location
/// and scale refitted, as for the data) is at least `d_obs`, as `(1 + count) / (1 + resamples)`.
/// Refitting in every resample makes the level exact for independent draws, where the classical
/// KS table with fitted parameters is conservative (the test could then hardly fail).
pub fn ks_parametric_p(
    d_obs: f64,
    n: usize,
    shape: f64,
    scale: f64,
    resamples: usize,
    seed: u64,
) -> f64 {
    let mut rng = SplitMix64::new(seed);
    let mut x = vec![0.0; n.max(3)];
    let mut count = 0usize;
    let mut done = 0usize;
    for _ in 0..resamples {
        for xi in x.iter_mut() {
            *xi = sample_gamma(shape, scale, &mut rng);
        }
        if let Some((d, _)) = ks_fixed_shape(&x, shape) {
            done += 1;
            count += usize::from(d >= d_obs);
        }
    }
    (1.0 + count as f64) / (1.0 + done as f64)
}

/// Integrated autocorrelation time `tau = 1 + 2 sum_k rho_k` of several series of one process
/// pooled (each demeaned by its own mean; `rho_k` from the lag-`k` products of all series),
/// summed up to Sokal's self-consistent window, the least `M` with `M >= 5 tau(M)`, in units of
/// the series' spacing. 1 for independent points; below 1 for alternating ones. `None` when
/// fewer than 4 points in all or no variance.
pub fn integrated_autocorrelation_time(series: &[Vec<f64>]) -> Option<f64> {
    let total: usize = series.iter().map(Vec::len).sum();
    let longest = series.iter().map(Vec::len).max().unwrap_or(0);
    if total < 4 || longest < 2 {
        return None;
    }
    let centred: Vec<Vec<f64>> = series
        .iter()
        .filter(|s| !s.is_empty())
        .map(|s| {
            let m = mean(s);
            s.iter().map(|x| x - m).collect()
        })
        .collect();
    let cov = |k: usize| {
        let (mut sum, mut pairs) = (0.0, 0usize);
        for s in &centred {
            if s.len() > k {
                sum += s.iter().zip(&s[k..]).map(|(a, b)| a * b).sum::<f64>();
                pairs += s.len() - k;
            }
        }
        (pairs > 0).then(|| sum / pairs as f64)
    };
    let c0 = cov(0)?;
    if c0 <= 0.0 || !c0.is_finite() {
        return None;
    }
    let mut tau = 1.0;
    for k in 1..longest / 2 {
        let Some(ck) = cov(k) else { break };
        tau += 2.0 * ck / c0;
        if k as f64 >= 5.0 * tau {
            break;
        }
    }
    Some(tau)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gamma_sample(k: f64, theta: f64, rng: &mut SplitMix64) -> f64 {
        sample_gamma(k, theta, rng)
    }

    #[test]
    fn ks_p_value_known_points() {
        // Q_KS(1.36) = 0.049 and Q_KS(1.63) = 0.0098 (standard Kolmogorov table); large n
        // makes the Stephens correction negligible (3e-4 relative at n = 1e6).
        assert!((ks_p_value(1.358 / 1000.0, 1e6) - 0.05).abs() < 1e-3);
        assert!((ks_p_value(1.628 / 1000.0, 1e6) - 0.01).abs() < 5e-4);
        assert!((ks_p_value(0.0, 100.0) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn accepts_true_gamma_and_recovers_shape() {
        let mut rng = SplitMix64::new(11);
        let (k, theta, lstar) = (6.0, 0.002, 0.05);
        let losses: Vec<f64> = (0..800)
            .map(|_| lstar + gamma_sample(k, theta, &mut rng))
            .collect();
        let boot = BootstrapConfig {
            resamples: 100,
            ..Default::default()
        };
        let t = test_gamma_law(&losses, k, &boot).unwrap();
        // iid sample from the null: p-value is uniform; below 1e-3 only by a 1-in-1000 draw.
        assert!(t.ks_p_value > 1e-3, "{t:?}");
        // Scale and location with the true shape: a few per cent at n = 800.
        assert!((t.scale / theta - 1.0).abs() < 0.1, "{}", t.scale);
        assert!((t.location - lstar).abs() < 0.2 * k * theta);
        assert!(t.llc_inside_free_ci || t.free_shape_ci.lo > 0.0);
    }

    #[test]
    fn free_shape_interval_covers_the_truth_in_most_samples() {
        // The free 3-parameter shape is poorly determined (the location trades against the
        // shape) and its percentile bootstrap interval under-covers somewhat (a skewed MLE):
        // measured 7 of 8 at n = 800 while writing this test. Require at least 7 of 10
        // fixed samples (deterministic seeds, so no flakiness); a broken estimator covers 0-2.
        let (k, theta) = (6.0, 0.002);
        let boot = BootstrapConfig {
            resamples: 100,
            ..Default::default()
        };
        let mut covered = 0;
        for seed in 0..10 {
            let mut rng = SplitMix64::new(100 + seed);
            let losses: Vec<f64> = (0..800)
                .map(|_| 0.05 + gamma_sample(k, theta, &mut rng))
                .collect();
            let t = test_gamma_law(&losses, k, &boot).unwrap();
            covered += usize::from(t.free_shape_ci.contains(k));
        }
        assert!(covered >= 7, "covered {covered} of 10");
    }

    #[test]
    fn rejects_a_wrong_shape() {
        let mut rng = SplitMix64::new(5);
        // Exponential losses (shape 1) tested against shape 20: clearly rejected.
        let losses: Vec<f64> = (0..800)
            .map(|_| 0.1 + gamma_sample(1.0, 0.01, &mut rng))
            .collect();
        let boot = BootstrapConfig {
            resamples: 100,
            ..Default::default()
        };
        let t = test_gamma_law(&losses, 20.0, &boot).unwrap();
        assert!(t.ks_p_value < 1e-4, "{t:?}");
        assert!(!t.free_shape_ci.contains(20.0));
    }

    #[test]
    fn bad_input_is_an_error() {
        let b = BootstrapConfig::default();
        assert!(test_gamma_law(&[1.0; 10], 2.0, &b).is_err());
        assert!(test_gamma_law(&[1.0, 2.0], 2.0, &b).is_err());
        let l: Vec<f64> = (0..10).map(|i| i as f64).collect();
        assert!(test_gamma_law(&l, -1.0, &b).is_err());
        assert!(test_gamma_law(&l, f64::NAN, &b).is_err());
    }
}
