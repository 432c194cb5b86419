//! The studies beyond the main sweep: the tail index of the SGD jumps (Hill
//! estimator), the exponent histogram of many seeds (Figure 4 of the paper), LLC and test error
//! across architectures (Figure 5a), the batch-size scan and the LLC scale scan. Pure functions
//! and result types; `crate::reproduce` gathers the inputs.

use super::across::{Histogram, Proportion, histogram, proportion};
use super::stats::{BootstrapConfig, ConfidenceInterval, bootstrap_mean, mean, slope};
use serde::{Deserialize, Serialize};

/// A Hill estimate of the tail index of a positive sample.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub struct HillEstimate {
    /// Sample size.
    pub n: usize,
    /// Order statistics used (the `k` largest values above the `(k+1)`-th).
    pub k: usize,
    /// Tail index `alpha`: `P(X > x) ~ x^-alpha` (below 2: infinite variance).
    pub alpha: f64,
    /// Asymptotic 95 % interval `alpha (1 +- z / sqrt(k))` (valid for independent draws from a
    /// regularly varying tail; serial correlation makes it too narrow).
    pub ci: ConfidenceInterval,
    /// The estimate with `k / 2` and `2 k` order statistics (a Hill plot in two points: a
    /// stable tail gives similar values).
    pub alpha_half_k: f64,
    /// See `alpha_half_k`.
    pub alpha_double_k: f64,
}

/// The number of order statistics the Hill estimates use: 5 % of the sample, at least 10 and
/// at most 1000 (the usual compromise between the bias of a large `k` and the variance
/// `alpha^2 / k` of a small one).
pub fn hill_k(n: usize) -> usize {
    (n / 20).clamp(10, 1000)
}

fn hill_alpha(sorted_desc: &[f64], k: usize) -> f64 {
    let xk = sorted_desc[k];
    let s: f64 = sorted_desc[..k].iter().map(|x| (x / xk).ln()).sum();
    k as f64 / s
}

/// Hill estimator of the tail index of `x` (positive finite values; others are dropped) with
/// `k = hill_k(n)`; `None` when fewer than `2 k + 1` (at least 21) values remain or the top
/// values are all equal.
///
/// ```
/// use ffpe_validation::analysis::studies::hill;
/// // Exact Pareto quantiles with tail index 1.5
/// let n = 4000;
/// let x: Vec<f64> = (0..n).map(|i| (1.0 - (i as f64 + 0.5) / n as f64).powf(-1.0 / 1.5)).collect();
/// let h = hill(&x).unwrap();
/// assert!((h.alpha - 1.5).abs() < 0.05);
/// ```
pub fn hill(x: &[f64]) -> Option<HillEstimate> {
    let mut v: Vec<f64> = x
        .iter()
        .copied()
        .filter(|v| v.is_finite() && *v > 0.0)
        .collect();
    let n = v.len();
    let k = hill_k(n);
    if n < 2 * k + 1 {
        return None;
    }
    v.sort_by(|a, b| b.total_cmp(a));
    if v[0] <= v[2 * k] {
        return None;
    }
    let alpha = hill_alpha(&v, k);
    let z = 1.959_963_984_540_054; // the standard normal 0.975 quantile
    let half = z / (k as f64).sqrt();
    Some(HillEstimate {
        n,
        k,
        alpha,
        ci: ConfidenceInterval {
            lo: alpha * (1.0 - half).max(0.0),
            hi: alpha * (1.0 + half),
            level: 0.95,
        },
        alpha_half_k: hill_alpha(&v, (k / 2).max(1)),
        alpha_double_k: hill_alpha(&v, 2 * k),
    })
}

/// A mean over independent runs with its bootstrap interval (`None` with fewer than 2 runs).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct MeanCi {
    /// Number of values.
    pub n: usize,
    /// Their mean.
    pub mean: f64,
    /// Bootstrap percentile interval of the mean over the values.
    pub ci: Option<ConfidenceInterval>,
}

/// The mean of the finite values of `v` with its bootstrap interval.
pub fn mean_ci(v: &[f64], boot: &BootstrapConfig) -> MeanCi {
    let f: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    MeanCi {
        n: f.len(),
        mean: if f.is_empty() { f64::NAN } else { mean(&f) },
        ci: bootstrap_mean(&f, boot).ok(),
    }
}

/// Figure 4 of the paper: the distribution of the late displacement exponent over many seeds
/// of one architecture.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ExponentStudy {
    /// Architecture.
    pub arch: String,
    /// Optimizer.
    pub optimizer: crate::optim::OptimizerKind,
    /// Runs with a late fit.
    pub runs: usize,
    /// Late exponent `s` per run.
    pub s: Vec<f64>,
    /// `d_s / (2 lambda_final)` per run: the paper's `nu(w)` with the final LLC (the mean of the
    /// last estimates) in place of the window mean `lambda_bar` that defines `d_s = 2 lambda_bar
    /// s`; it differs from `s` only by `lambda_bar / lambda_final`.
    pub nu: Vec<f64>,
    /// Histogram of `s` on `[0, 1]` (20 bins; the range grows to hold every value).
    pub s_histogram: Histogram,
    /// Histogram of `nu`, same bins.
    pub nu_histogram: Histogram,
    /// Mean of `s` with its bootstrap interval over the seeds.
    pub s_mean: MeanCi,
    /// Median of `s`.
    pub s_median: f64,
    /// Fraction of runs with `s` in `[HIGH, 0.5)`: concentrated at high values just below the
    /// bound (Wilson interval).
    pub fraction_high: Proportion,
    /// Fraction with `s >= 0.5` (not subdiffusive).
    pub fraction_above_half: Proportion,
}

/// Lower end of the "high values" band of [`ExponentStudy::fraction_high`].
pub const HIGH: f64 = 0.4;

/// The exponent study of the per-run late exponents `s` and the matching `(d_s, final LLC)`.
pub fn exponent_study(
    arch: &str,
    optimizer: crate::optim::OptimizerKind,
    s: &[f64],
    d_s_final_llc: &[(f64, f64)],
    boot: &BootstrapConfig,
) -> ExponentStudy {
    let nu: Vec<f64> = d_s_final_llc
        .iter()
        .map(|(d, l)| d / (2.0 * l))
        .filter(|x| x.is_finite())
        .collect();
    let mut sorted = s.to_vec();
    sorted.sort_by(f64::total_cmp);
    let in_band = s.iter().filter(|x| (HIGH..0.5).contains(*x)).count();
    let above = s.iter().filter(|&&x| x >= 0.5).count();
    ExponentStudy {
        arch: arch.into(),
        optimizer,
        runs: s.len(),
        s: s.to_vec(),
        nu: nu.clone(),
        s_histogram: histogram(s, 20, 0.0, 1.0),
        nu_histogram: histogram(&nu, 20, 0.0, 1.0),
        s_mean: mean_ci(s, boot),
        s_median: if sorted.is_empty() {
            f64::NAN
        } else {
            super::stats::quantile_sorted(&sorted, 0.5)
        },
        fraction_high: proportion(in_band, s.len()),
        fraction_above_half: proportion(above, s.len()),
    }
}

/// One row of Figure 5a: an architecture and optimizer with its LLC and test error over seeds.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ArchitectureRow {
    /// Architecture.
    pub arch: String,
    /// Optimizer.
    pub optimizer: crate::optim::OptimizerKind,
    /// Trainable parameters.
    pub n_params: usize,
    /// Final LLC over seeds.
    pub llc: MeanCi,
    /// Test error (%) over seeds.
    pub test_error: MeanCi,
    /// Late exponent over seeds.
    pub late_s: MeanCi,
}

/// One row of the batch-size scan.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct BatchRow {
    /// Minibatch size.
    pub batch_size: usize,
    /// Runs.
    pub runs: usize,
    /// Late-window jumps left out of the Hill estimates, summed over the runs: the steps on
    /// the smaller last minibatch of an epoch when the batch size does not divide the
    /// training set.
    #[serde(default)]
    pub partial_batch_jumps_excluded: usize,
    /// Hill tail index of the late-window jumps `||w_{t+1} - w_t||` (full minibatches), per run.
    pub hill_per_run: Vec<Option<HillEstimate>>,
    /// Mean Hill tail index over the runs with its bootstrap interval.
    pub hill_alpha: MeanCi,
    /// Hill tail index of the noise part of the step, `||g_B(w) - g(w)||` over minibatches at
    /// the run's final weights (minibatch minus full-batch gradient), per run; `None` for a
    /// network the exact-gradient code does not describe.
    #[serde(default)]
    pub hill_noise_per_run: Vec<Option<HillEstimate>>,
    /// Mean Hill tail index of the noise part over the runs with its bootstrap interval
    /// (`None` in results written before it was measured).
    #[serde(default)]
    pub hill_noise_alpha: Option<MeanCi>,
    /// Late exponent over the runs.
    pub late_s: MeanCi,
    /// Fraction of runs with late `s < 0.5`.
    pub fraction_subdiffusive: Option<Proportion>,
    /// Final LLC over the runs.
    pub llc: MeanCi,
    /// Test error (%) over the runs.
    pub test_error: MeanCi,
}

/// One LLC estimate of the scale scan.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ScaleScanPoint {
    /// Run whose final weights are the centre `w*`.
    pub run: String,
    /// Factor on the preset's SGLD step size.
    pub epsilon_factor: f64,
    /// Factor on the preset's localisation.
    pub gamma_factor: f64,
    /// The step size used.
    pub epsilon: f64,
    /// The localisation used.
    pub gamma: f64,
    /// LLC estimate (mean over chains).
    pub llc: f64,
    /// Standard deviation over chains.
    pub llc_std: f64,
    /// Ratio to the estimate at factors (1, 1) for the same run.
    pub ratio_to_base: f64,
}

/// The scale scan and its sensitivities.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ScaleScan {
    /// Every estimate.
    pub points: Vec<ScaleScanPoint>,
    /// Least-squares slope of `ln llc` on `ln epsilon` at the base gamma (pooled over the runs):
    /// 0 means insensitive.
    pub d_ln_llc_d_ln_epsilon: f64,
    /// Same on `ln gamma` at the base epsilon.
    pub d_ln_llc_d_ln_gamma: f64,
    /// Largest and smallest ratio to the base estimate over the scan.
    pub ratio_range: (f64, f64),
}

/// The sensitivities of a scan's points.
pub fn scale_scan(points: Vec<ScaleScanPoint>) -> ScaleScan {
    let sel = |eps_axis: bool| -> (Vec<f64>, Vec<f64>) {
        points
            .iter()
            .filter(|p| p.llc > 0.0 && p.ratio_to_base.is_finite())
            .filter(|p| {
                if eps_axis {
                    (p.gamma_factor - 1.0).abs() < 1e-12
                } else {
                    (p.epsilon_factor - 1.0).abs() < 1e-12
                }
            })
            .map(|p| {
                let f = if eps_axis {
                    p.epsilon_factor
                } else {
                    p.gamma_factor
                };
                (f.ln(), p.ratio_to_base.ln())
            })
            .unzip()
    };
    let (xe, ye) = sel(true);
    let (xg, yg) = sel(false);
    let ratios: Vec<f64> = points
        .iter()
        .map(|p| p.ratio_to_base)
        .filter(|r| r.is_finite())
        .collect();
    ScaleScan {
        d_ln_llc_d_ln_epsilon: slope(&xe, &ye),
        d_ln_llc_d_ln_gamma: slope(&xg, &yg),
        ratio_range: (
            ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            ratios.iter().copied().fold(f64::INFINITY, f64::min),
        ),
        points,
    }
}

/// The correlation between the group means of `x` and `y` over groups of independent `(x, y)`
/// runs (for example architectures, each with several seeds), with intervals that resample the
/// runs within every group (so they carry the seed-to-seed scatter of each mean). `None` with
/// fewer than 3 groups, an empty group or non-finite values.
pub fn grouped_correlation(
    groups: &[Vec<(f64, f64)>],
    boot: &BootstrapConfig,
) -> Option<super::stats::Correlation> {
    use super::stats::{SplitMix64, pearson, percentile_interval, spearman};
    if groups.len() < 3
        || groups
            .iter()
            .any(|g| g.is_empty() || g.iter().any(|(a, b)| !a.is_finite() || !b.is_finite()))
    {
        return None;
    }
    let means = |g: &[(f64, f64)]| {
        let n = g.len() as f64;
        (
            g.iter().map(|p| p.0).sum::<f64>() / n,
            g.iter().map(|p| p.1).sum::<f64>() / n,
        )
    };
    let (x, y): (Vec<f64>, Vec<f64>) = groups.iter().map(|g| means(g)).unzip();
    let mut rng = SplitMix64::new(boot.seed);
    let (mut rp, mut rs) = (Vec::new(), Vec::new());
    let mut bx = vec![0.0; groups.len()];
    let mut by = vec![0.0; groups.len()];
    let mut tmp = Vec::new();
    for _ in 0..boot.resamples {
        for (k, g) in groups.iter().enumerate() {
            tmp.clear();
            tmp.extend((0..g.len()).map(|_| g[rng.below(g.len())]));
            (bx[k], by[k]) = means(&tmp);
        }
        let (p, r) = (pearson(&bx, &by), spearman(&bx, &by));
        if p.is_finite() && r.is_finite() {
            rp.push(p);
            rs.push(r);
        }
    }
    if rp.is_empty() {
        return None;
    }
    Some(super::stats::Correlation {
        n: groups.len(),
        pearson: pearson(&x, &y),
        pearson_ci: percentile_interval(rp, boot.level),
        spearman: spearman(&x, &y),
        spearman_ci: percentile_interval(rs, boot.level),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::stats::SplitMix64;

    /// Pareto(alpha) draws by inversion; the Hill estimator is unbiased for 1/alpha on an exact
    /// Pareto tail with standard deviation (1/alpha)/sqrt(k), so 4 standard deviations is a
    /// tolerance that fails by chance with probability 6e-5.
    #[test]
    fn hill_recovers_pareto_tail_index() {
        for &a in &[0.8, 1.5, 3.0] {
            let mut rng = SplitMix64::new(7);
            let x: Vec<f64> = (0..20_000)
                .map(|_| (1.0 - rng.uniform()).powf(-1.0 / a))
                .collect();
            let h = hill(&x).unwrap();
            assert_eq!(h.k, 1000);
            let sd = 1.0 / (a * (h.k as f64).sqrt());
            assert!(
                (1.0 / h.alpha - 1.0 / a).abs() < 4.0 * sd,
                "alpha {a}: {}",
                h.alpha
            );
            assert!(h.ci.contains(a) || (1.0 / h.alpha - 1.0 / a).abs() < 4.0 * sd);
        }
    }

    /// A light (exponential) tail has no finite tail index: the Hill estimate is about
    /// `ln(n / k)` (3.6 here, far above the heavy-tail range) and grows as `k` falls, unlike a
    /// Pareto tail.
    #[test]
    fn hill_separates_light_from_heavy_tails() {
        let mut rng = SplitMix64::new(3);
        let e: Vec<f64> = (0..20_000).map(|_| -(1.0 - rng.uniform()).ln()).collect();
        let h = hill(&e).unwrap();
        assert!(h.alpha > 3.0, "{}", h.alpha);
        assert!(h.alpha_half_k > h.alpha_double_k);
    }

    #[test]
    fn hill_rejects_short_or_degenerate_samples() {
        assert!(hill(&[1.0; 10]).is_none());
        assert!(hill(&[2.0; 100]).is_none());
        assert!(hill(&[f64::NAN, -1.0, 0.0]).is_none());
    }

    #[test]
    fn exponent_study_counts_the_band() {
        let boot = BootstrapConfig {
            resamples: 200,
            level: 0.95,
            seed: 1,
        };
        let s = [0.45, 0.42, 0.3, 0.55, 0.49];
        let e = exponent_study(
            "a",
            crate::optim::OptimizerKind::Sgd,
            &s,
            &[(2.0, 4.0), (1.0, 0.0)],
            &boot,
        );
        assert_eq!((e.fraction_high.k, e.fraction_high.n), (3, 5));
        assert_eq!(e.fraction_above_half.k, 1);
        assert_eq!(e.nu.len(), 1);
        assert!((e.nu[0] - 0.25).abs() < 1e-15);
        assert!((e.s_median - 0.45).abs() < 1e-15);
    }

    /// Group means that rise together give correlation 1; resampling within tight groups
    /// keeps the interval near 1.
    #[test]
    fn grouped_correlation_of_means() {
        let boot = BootstrapConfig {
            resamples: 300,
            level: 0.95,
            seed: 4,
        };
        let g: Vec<Vec<(f64, f64)>> = (0..4)
            .map(|k| {
                let c = k as f64;
                vec![
                    (c, 2.0 * c),
                    (c + 0.01, 2.0 * c - 0.01),
                    (c - 0.01, 2.0 * c),
                ]
            })
            .collect();
        let c = grouped_correlation(&g, &boot).unwrap();
        assert_eq!(c.n, 4);
        assert!((c.spearman - 1.0).abs() < 1e-12 && c.spearman_ci.lo > 0.99);
        assert!(grouped_correlation(&g[..2], &boot).is_none());
    }

    #[test]
    fn scale_scan_slopes() {
        let mk = |ef: f64, gf: f64, r: f64| ScaleScanPoint {
            run: "r".into(),
            epsilon_factor: ef,
            gamma_factor: gf,
            epsilon: ef,
            gamma: gf,
            llc: r,
            llc_std: 0.0,
            ratio_to_base: r,
        };
        // ratio = eps^0.5 on the epsilon axis, gamma^-1 on the gamma axis
        let pts = vec![
            mk(0.25, 1.0, 0.5),
            mk(1.0, 1.0, 1.0),
            mk(4.0, 1.0, 2.0),
            mk(1.0, 0.25, 4.0),
            mk(1.0, 4.0, 0.25),
        ];
        let s = scale_scan(pts);
        assert!((s.d_ln_llc_d_ln_epsilon - 0.5).abs() < 1e-12);
        assert!((s.d_ln_llc_d_ln_gamma + 1.0).abs() < 1e-12);
        assert!((s.ratio_range.0 - 4.0).abs() < 1e-15 && (s.ratio_range.1 - 0.25).abs() < 1e-15);
    }
}
