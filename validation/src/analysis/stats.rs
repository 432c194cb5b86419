//! Small statistics toolbox: OLS, bootstrap, correlations, AIC model comparison.
//!
//! The random numbers of the bootstraps come from [`SplitMix64`], a tiny fixed generator,
//! so results are identical on every platform and every version of `rand`.

use super::{AnalysisError, Result};
use serde::{Deserialize, Serialize};

/// SplitMix64 (Steele, Lea and Flood 2014): a 64-bit generator with a fixed, documented
/// output sequence. Used for all bootstraps so that reports are reproducible bit for bit.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform index in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        // Multiply-shift: bias below 2^-32 for the n used here.
        (((self.next_u64() >> 32) * n as u64) >> 32) as usize
    }

    /// A uniform number in `[0, 1)`.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A standard normal number (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform();
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// A two-sided confidence interval.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub struct ConfidenceInterval {
    /// Lower end.
    pub lo: f64,
    /// Upper end.
    pub hi: f64,
    /// Coverage, for example 0.95.
    pub level: f64,
}

impl ConfidenceInterval {
    /// Whether `x` lies in `[lo, hi]`.
    pub fn contains(&self, x: f64) -> bool {
        self.lo <= x && x <= self.hi
    }
}

/// Ordinary least squares fit `y = intercept + slope x`.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub struct Ols {
    /// Slope.
    pub slope: f64,
    /// Intercept.
    pub intercept: f64,
    /// Coefficient of determination.
    pub r2: f64,
    /// Classical standard error of the slope (assumes independent residuals).
    pub slope_se: f64,
    /// Residual sum of squares.
    pub rss: f64,
    /// Number of points.
    pub n: usize,
}

fn check_finite(what: &'static str, v: &[f64]) -> Result<()> {
    for &x in v {
        if !x.is_finite() {
            return Err(AnalysisError::OutOfRange {
                what,
                value: x,
                allowed: "finite numbers",
            });
        }
    }
    Ok(())
}

/// Least-squares line through `(x, y)`. Needs at least 3 points and non-constant `x`.
///
/// ```
/// use ffpe_validation::analysis::stats::ols;
/// let x = [0.0, 1.0, 2.0, 3.0];
/// let y = [1.0, 3.0, 5.0, 7.0];
/// let f = ols(&x, &y).unwrap();
/// assert!((f.slope - 2.0).abs() < 1e-12 && (f.r2 - 1.0).abs() < 1e-12);
/// ```
pub fn ols(x: &[f64], y: &[f64]) -> Result<Ols> {
    if x.len() != y.len() {
        return Err(AnalysisError::LengthMismatch {
            what: "ols x/y",
            left: x.len(),
            right: y.len(),
        });
    }
    let n = x.len();
    if n < 3 {
        return Err(AnalysisError::TooFewPoints {
            what: "ols",
            needed: 3,
            got: n,
        });
    }
    check_finite("ols x", x)?;
    check_finite("ols y", y)?;
    // The fit itself is the core crate's (one implementation of OLS in the project).
    let f = ffpe::predict::exponent::ols(x, y).map_err(|_| AnalysisError::Degenerate {
        what: "ols",
        why: "all x values are equal",
    })?;
    Ok(Ols {
        slope: f.slope,
        intercept: f.intercept,
        r2: f.r2,
        slope_se: f.stderr,
        rss: f.rss,
        n,
    })
}

/// Mean of a slice (NaN for an empty slice).
pub fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// Least-squares slope of `y` on `x` (NaN with fewer than two distinct `x`).
pub fn slope(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len().min(y.len());
    if n < 2 {
        return f64::NAN;
    }
    let mx = mean(&x[..n]);
    let my = mean(&y[..n]);
    let sxx: f64 = x[..n].iter().map(|a| (a - mx) * (a - mx)).sum();
    let sxy: f64 = x[..n]
        .iter()
        .zip(&y[..n])
        .map(|(a, b)| (a - mx) * (b - my))
        .sum();
    if sxx <= 0.0 { f64::NAN } else { sxy / sxx }
}

/// Sample standard deviation (divisor n - 1; 0 for fewer than 2 values).
pub fn std_dev(v: &[f64]) -> f64 {
    if v.len() < 2 {
        return 0.0;
    }
    let m = mean(v);
    (v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (v.len() - 1) as f64).sqrt()
}

/// Empirical quantile with linear interpolation (type 7) of an already sorted slice.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let h = (sorted.len() - 1) as f64 * q.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = h.ceil() as usize;
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// Percentile interval of bootstrap replicates (non-finite replicates are dropped).
pub fn percentile_interval(mut reps: Vec<f64>, level: f64) -> ConfidenceInterval {
    reps.retain(|x| x.is_finite());
    reps.sort_by(f64::total_cmp);
    let a = (1.0 - level) / 2.0;
    ConfidenceInterval {
        lo: quantile_sorted(&reps, a),
        hi: quantile_sorted(&reps, 1.0 - a),
        level,
    }
}

/// Bootstrap settings.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub struct BootstrapConfig {
    /// Number of resamples.
    pub resamples: usize,
    /// Coverage of the interval.
    pub level: f64,
    /// Seed of the [`SplitMix64`] generator.
    pub seed: u64,
}

impl Default for BootstrapConfig {
    /// 1000 resamples, 95 %, seed 0.
    fn default() -> Self {
        Self {
            resamples: 1000,
            level: 0.95,
            seed: 0,
        }
    }
}

/// Indices of one moving-block bootstrap resample of `n` points with blocks of `block` points
/// (Kuensch 1989): blocks start at uniform positions and are concatenated until `n` points.
pub fn block_resample_indices(n: usize, block: usize, rng: &mut SplitMix64, out: &mut Vec<usize>) {
    out.clear();
    let block = block.clamp(1, n.max(1));
    let starts = n + 1 - block;
    while out.len() < n {
        let s = rng.below(starts);
        for i in s..(s + block).min(n) {
            if out.len() == n {
                break;
            }
            out.push(i);
        }
    }
}

/// Default block length for a series of `n` correlated points: `ceil(n^(1/3))`, at least 2.
pub fn default_block_len(n: usize) -> usize {
    ((n as f64).cbrt().ceil() as usize).max(2).min(n.max(1))
}

/// Moving-block bootstrap interval for the OLS slope of `y` on `x`.
pub fn block_bootstrap_slope(
    x: &[f64],
    y: &[f64],
    block: usize,
    cfg: &BootstrapConfig,
) -> Result<ConfidenceInterval> {
    ols(x, y)?;
    let n = x.len();
    let mut rng = SplitMix64::new(cfg.seed);
    let mut idx = Vec::with_capacity(n);
    let mut bx = vec![0.0; n];
    let mut by = vec![0.0; n];
    let mut reps = Vec::with_capacity(cfg.resamples);
    for _ in 0..cfg.resamples {
        block_resample_indices(n, block, &mut rng, &mut idx);
        for (k, &i) in idx.iter().enumerate() {
            bx[k] = x[i];
            by[k] = y[i];
        }
        if let Ok(f) = ols(&bx, &by) {
            reps.push(f.slope);
        }
    }
    if reps.len() < cfg.resamples / 2 {
        return Err(AnalysisError::Degenerate {
            what: "block bootstrap",
            why: "most resamples had constant x",
        });
    }
    Ok(percentile_interval(reps, cfg.level))
}

/// Bootstrap interval for the mean of independent values (for example one exponent per seed).
pub fn bootstrap_mean(v: &[f64], cfg: &BootstrapConfig) -> Result<ConfidenceInterval> {
    if v.len() < 2 {
        return Err(AnalysisError::TooFewPoints {
            what: "bootstrap of a mean",
            needed: 2,
            got: v.len(),
        });
    }
    check_finite("bootstrap of a mean", v)?;
    let mut rng = SplitMix64::new(cfg.seed);
    let n = v.len();
    let reps = (0..cfg.resamples)
        .map(|_| (0..n).map(|_| v[rng.below(n)]).sum::<f64>() / n as f64)
        .collect();
    Ok(percentile_interval(reps, cfg.level))
}

/// Pearson correlation coefficient (NaN if a variable is constant).
pub fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len().min(y.len());
    if n < 2 {
        return f64::NAN;
    }
    let mx = mean(&x[..n]);
    let my = mean(&y[..n]);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for i in 0..n {
        sxy += (x[i] - mx) * (y[i] - my);
        sxx += (x[i] - mx) * (x[i] - mx);
        syy += (y[i] - my) * (y[i] - my);
    }
    if sxx <= 0.0 || syy <= 0.0 {
        return f64::NAN;
    }
    sxy / (sxx * syy).sqrt()
}

/// Ranks starting at 1, ties get their average rank.
pub fn ranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut r = vec![0.0; v.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && v[idx[j + 1]].total_cmp(&v[idx[i]]).is_eq() {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            r[k] = avg;
        }
        i = j + 1;
    }
    r
}

/// Spearman rank correlation (Pearson correlation of the average ranks).
pub fn spearman(x: &[f64], y: &[f64]) -> f64 {
    pearson(&ranks(x), &ranks(y))
}

/// A correlation with its bootstrap interval (pairs resampled).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Correlation {
    /// Number of pairs.
    pub n: usize,
    /// Pearson coefficient.
    pub pearson: f64,
    /// Bootstrap interval of the Pearson coefficient.
    pub pearson_ci: ConfidenceInterval,
    /// Spearman coefficient.
    pub spearman: f64,
    /// Bootstrap interval of the Spearman coefficient.
    pub spearman_ci: ConfidenceInterval,
}

/// Pearson and Spearman correlations with pair-bootstrap percentile intervals.
pub fn correlation(x: &[f64], y: &[f64], cfg: &BootstrapConfig) -> Result<Correlation> {
    correlation_with_x_errors(x, &vec![0.0; x.len()], y, cfg)
}

/// [`correlation`] when each `x[i]` is itself an estimate with standard error `x_se[i]`:
/// every bootstrap replicate resamples the pairs and adds `N(0, x_se^2)` to each resampled
/// `x`, so the intervals carry the measurement error of `x` as well as the run-to-run
/// scatter. The point estimates use the data as given; with all `x_se = 0` this is
/// [`correlation`] exactly (the noise has its own generator, so the resampled pairs are the
/// same).
pub fn correlation_with_x_errors(
    x: &[f64],
    x_se: &[f64],
    y: &[f64],
    cfg: &BootstrapConfig,
) -> Result<Correlation> {
    if x.len() != y.len() || x.len() != x_se.len() {
        return Err(AnalysisError::LengthMismatch {
            what: "correlation x/y/x_se",
            left: x.len(),
            right: if x.len() != y.len() {
                y.len()
            } else {
                x_se.len()
            },
        });
    }
    let n = x.len();
    if n < 3 {
        return Err(AnalysisError::TooFewPoints {
            what: "correlation",
            needed: 3,
            got: n,
        });
    }
    check_finite("correlation x", x)?;
    check_finite("correlation y", y)?;
    check_finite("correlation x standard errors", x_se)?;
    let mut rng = SplitMix64::new(cfg.seed);
    let mut noise = SplitMix64::new(cfg.seed ^ 0x5e_e7);
    let mut rp = Vec::with_capacity(cfg.resamples);
    let mut rs = Vec::with_capacity(cfg.resamples);
    let mut bx = vec![0.0; n];
    let mut by = vec![0.0; n];
    for _ in 0..cfg.resamples {
        for k in 0..n {
            let i = rng.below(n);
            bx[k] = x[i];
            by[k] = y[i];
            if x_se[i] > 0.0 {
                bx[k] += x_se[i] * noise.normal();
            }
        }
        rp.push(pearson(&bx, &by));
        rs.push(spearman(&bx, &by));
    }
    Ok(Correlation {
        n,
        pearson: pearson(x, y),
        pearson_ci: percentile_interval(rp, cfg.level),
        spearman: spearman(x, y),
        spearman_ci: percentile_interval(rs, cfg.level),
    })
}

/// One candidate growth law of `R(t)` and its fit.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct GrowthModelFit {
    /// `power` (`R = A t^s`), `log` (`R = a + b ln t`) or `brownian` (`R = A t^(1/2)`).
    pub model: String,
    /// Fitted parameters: power `[A, s]`, log `[a, b]`, brownian `[A]`.
    pub params: Vec<f64>,
    /// Residual sum of squares in `R`.
    pub rss: f64,
    /// Akaike information criterion `n ln(RSS/n) + 2 k` (k counts the noise variance too).
    pub aic: f64,
    /// `aic - min aic` over the candidates.
    pub delta_aic: f64,
    /// Akaike weight `exp(-delta/2) / sum`.
    pub weight: f64,
}

/// Comparison of the three growth laws on one window.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct GrowthModelComparison {
    /// The fits, in the order power, log, brownian.
    pub fits: Vec<GrowthModelFit>,
    /// Name of the model with the smallest AIC.
    pub winner: String,
}

fn rss_power(t: &[f64], r: &[f64], s: f64) -> (f64, f64) {
    // For fixed s the best amplitude is closed form: A = sum r t^s / sum t^(2s).
    let (mut num, mut den) = (0.0, 0.0);
    for (&ti, &ri) in t.iter().zip(r) {
        let p = ti.powf(s);
        num += ri * p;
        den += p * p;
    }
    let a = num / den;
    let rss = t
        .iter()
        .zip(r)
        .map(|(&ti, &ri)| (ri - a * ti.powf(s)).powi(2))
        .sum();
    (a, rss)
}

/// Fits `R = A t^s`, `R = a + b ln t` and `R = A t^(1/2)` by least squares in `R`
/// (Gaussian errors of equal variance) and ranks them by AIC.
///
/// The power law's exponent is found by golden-section search on the profile RSS over
/// `s` in `[-2, 4]` after a coarse scan (the profile is unimodal in practice, the scan guards
/// against the rare exception).
pub fn compare_growth_models(t: &[f64], r: &[f64]) -> Result<GrowthModelComparison> {
    if t.len() != r.len() {
        return Err(AnalysisError::LengthMismatch {
            what: "growth models t/R",
            left: t.len(),
            right: r.len(),
        });
    }
    let n = t.len();
    if n < 4 {
        return Err(AnalysisError::TooFewPoints {
            what: "growth model comparison",
            needed: 4,
            got: n,
        });
    }
    for &ti in t {
        if !(ti > 0.0 && ti.is_finite()) {
            return Err(AnalysisError::OutOfRange {
                what: "growth model times",
                value: ti,
                allowed: "t > 0",
            });
        }
    }
    check_finite("growth model R", r)?;
    let nf = n as f64;
    // Power law: coarse scan then golden section.
    let (lo0, hi0, m) = (-2.0, 4.0, 120);
    let mut best = (f64::INFINITY, 0.0);
    for i in 0..=m {
        let s = lo0 + (hi0 - lo0) * i as f64 / m as f64;
        let (_, rss) = rss_power(t, r, s);
        if rss < best.0 {
            best = (rss, s);
        }
    }
    let step = (hi0 - lo0) / m as f64;
    let (mut a, mut b) = (best.1 - step, best.1 + step);
    let g = (5f64.sqrt() - 1.0) / 2.0;
    for _ in 0..80 {
        let c = b - g * (b - a);
        let d = a + g * (b - a);
        if rss_power(t, r, c).1 < rss_power(t, r, d).1 {
            b = d;
        } else {
            a = c;
        }
    }
    let s = 0.5 * (a + b);
    let (amp, rss_p) = rss_power(t, r, s);
    // Logarithmic law: linear regression of R on ln t.
    let lt: Vec<f64> = t.iter().map(|x| x.ln()).collect();
    let fl = ols(&lt, r)?;
    // Brownian: A = sum r sqrt(t) / sum t.
    let (amp_b, rss_b) = rss_power(t, r, 0.5);
    let aic = |rss: f64, k: usize| nf * (rss.max(1e-300) / nf).ln() + 2.0 * k as f64;
    let mut fits = vec![
        GrowthModelFit {
            model: "power".into(),
            params: vec![amp, s],
            rss: rss_p,
            aic: aic(rss_p, 3),
            delta_aic: 0.0,
            weight: 0.0,
        },
        GrowthModelFit {
            model: "log".into(),
            params: vec![fl.intercept, fl.slope],
            rss: fl.rss,
            aic: aic(fl.rss, 3),
            delta_aic: 0.0,
            weight: 0.0,
        },
        GrowthModelFit {
            model: "brownian".into(),
            params: vec![amp_b],
            rss: rss_b,
            aic: aic(rss_b, 2),
            delta_aic: 0.0,
            weight: 0.0,
        },
    ];
    let min = fits.iter().map(|f| f.aic).fold(f64::INFINITY, f64::min);
    let mut total = 0.0;
    for f in &mut fits {
        f.delta_aic = f.aic - min;
        f.weight = (-f.delta_aic / 2.0).exp();
        total += f.weight;
    }
    for f in &mut fits {
        f.weight /= total;
    }
    let winner = fits
        .iter()
        .min_by(|x, y| x.aic.total_cmp(&y.aic))
        .map(|f| f.model.clone())
        .unwrap_or_default();
    Ok(GrowthModelComparison { fits, winner })
}

/// The standard normal quantile at probability `p` in (0, 1).
pub fn normal_quantile(p: f64) -> f64 {
    use statrs::distribution::{ContinuousCDF, Normal};
    Normal::new(0.0, 1.0).expect("valid").inverse_cdf(p)
}

/// Bootstrap interval of `mean(a) - mean(b)` (each group resampled independently).
pub fn bootstrap_mean_difference(
    a: &[f64],
    b: &[f64],
    cfg: &BootstrapConfig,
) -> Option<ConfidenceInterval> {
    if a.len() < 2 || b.len() < 2 {
        return None;
    }
    let mut rng = SplitMix64::new(cfg.seed ^ 0xd1ff);
    let reps = (0..cfg.resamples)
        .map(|_| {
            let ma = (0..a.len()).map(|_| a[rng.below(a.len())]).sum::<f64>() / a.len() as f64;
            let mb = (0..b.len()).map(|_| b[rng.below(b.len())]).sum::<f64>() / b.len() as f64;
            ma - mb
        })
        .collect();
    Some(percentile_interval(reps, cfg.level))
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    #[test]
    fn ols_recovers_line_and_standard_error() {
        let x: Vec<f64> = (0..50).map(|i| i as f64 / 10.0).collect();
        let mut rng = SplitMix64::new(3);
        let y: Vec<f64> = x
            .iter()
            .map(|&a| 1.5 - 0.7 * a + 0.01 * rng.normal())
            .collect();
        let f = ols(&x, &y).unwrap();
        // 0.01 noise over x-range 5 with 50 points: se about 0.01/sqrt(50*2.1) ~ 1e-3; 5 se.
        assert!((f.slope + 0.7).abs() < 5e-3, "{f:?}");
        assert!(f.r2 > 0.999);
        assert!(f.slope_se > 2e-4 && f.slope_se < 3e-3);
    }

    #[test]
    fn ols_rejects_bad_input() {
        assert!(ols(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]).is_err());
        assert!(ols(&[1.0, 2.0], &[1.0, 2.0]).is_err());
        assert!(ols(&[1.0, 2.0, f64::NAN], &[1.0, 2.0, 3.0]).is_err());
        assert!(ols(&[1.0, 2.0, 3.0], &[1.0, 2.0]).is_err());
    }

    #[test]
    fn bootstrap_slope_interval_covers_truth_at_nominal_rate() {
        // 200 independent data sets with AR(1) noise; the 90 % block-bootstrap interval must
        // cover the true slope in 80-97 % of them (binomial sd at 200 trials is ~2 %;
        // block bootstraps of short series under-cover slightly, hence the lower band).
        let mut hits = 0;
        for rep in 0..200 {
            let mut rng = SplitMix64::new(1000 + rep);
            let n = 60;
            let x: Vec<f64> = (0..n).map(|i| i as f64 / n as f64).collect();
            let mut e = 0.0;
            let y: Vec<f64> = x
                .iter()
                .map(|&a| {
                    e = 0.3 * e + 0.05 * rng.normal();
                    0.25 * a + e
                })
                .collect();
            let ci = block_bootstrap_slope(
                &x,
                &y,
                default_block_len(n),
                &BootstrapConfig {
                    resamples: 300,
                    level: 0.9,
                    seed: rep,
                },
            )
            .unwrap();
            if ci.contains(0.25) {
                hits += 1;
            }
        }
        assert!((160..=194).contains(&hits), "coverage {hits}/200");
    }

    #[test]
    fn correlations_known_values() {
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        let y = [2.0, 4.0, 6.0, 8.0, 10.0];
        assert_relative_eq!(pearson(&x, &y), 1.0, epsilon = 1e-12);
        // Monotone but nonlinear: Spearman 1, Pearson < 1.
        let z = [1.0, 8.0, 27.0, 64.0, 125.0];
        assert_relative_eq!(spearman(&x, &z), 1.0, epsilon = 1e-12);
        assert!(pearson(&x, &z) < 0.99);
        // Ties get average ranks.
        assert_eq!(ranks(&[3.0, 1.0, 3.0]), vec![2.5, 1.0, 2.5]);
        // A textbook value: x = 1..5, y = [2, 1, 4, 3, 5]: Spearman = 1 - 6*4/(5*24) = 0.8.
        assert_relative_eq!(
            spearman(&x, &[2.0, 1.0, 4.0, 3.0, 5.0]),
            0.8,
            epsilon = 1e-12
        );
        let c = correlation(&x, &z, &BootstrapConfig::default()).unwrap();
        // measurement error in x widens the intervals and leaves the point estimates alone
        let se = vec![0.5; x.len()];
        let w = correlation_with_x_errors(&x, &se, &z, &BootstrapConfig::default()).unwrap();
        assert_eq!((w.pearson, w.spearman), (c.pearson, c.spearman));
        assert!(w.pearson_ci.hi - w.pearson_ci.lo > c.pearson_ci.hi - c.pearson_ci.lo);
        let zero =
            correlation_with_x_errors(&x, &vec![0.0; x.len()], &z, &BootstrapConfig::default())
                .unwrap();
        assert_eq!(zero, c);
        assert!(c.spearman_ci.hi <= 1.0 + 1e-12);
    }

    #[test]
    fn aic_picks_the_generating_law() {
        let t: Vec<f64> = (0..40).map(|i| 100.0 * 1.1f64.powi(i)).collect();
        let mut rng = SplitMix64::new(7);
        let noisy = |f: &dyn Fn(f64) -> f64, rng: &mut SplitMix64| -> Vec<f64> {
            t.iter()
                .map(|&x| f(x) * (1.0 + 0.002 * rng.normal()))
                .collect()
        };
        let r = noisy(&|x| 0.3 * x.powf(0.2), &mut rng);
        let c = compare_growth_models(&t, &r).unwrap();
        assert_eq!(c.winner, "power");
        assert!((c.fits[0].params[1] - 0.2).abs() < 0.01);
        let r = noisy(&|x| 2.0 + 0.8 * x.ln(), &mut rng);
        assert_eq!(compare_growth_models(&t, &r).unwrap().winner, "log");
        let r = noisy(&|x| 0.1 * x.sqrt(), &mut rng);
        let c = compare_growth_models(&t, &r).unwrap();
        assert_eq!(c.winner, "brownian", "{c:?}");
        let wsum: f64 = c.fits.iter().map(|f| f.weight).sum();
        assert_relative_eq!(wsum, 1.0, epsilon = 1e-12);
    }
}
