//! Across-run summaries: exponent histogram, fraction below 1/2, the SGD-versus-Adam table.

use super::stats::{ConfidenceInterval, mean, std_dev};
use serde::{Deserialize, Serialize};

/// A histogram with equal-width bins.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Histogram {
    /// Bin edges (`counts.len() + 1` values).
    pub edges: Vec<f64>,
    /// Counts per bin.
    pub counts: Vec<usize>,
}

/// Histogram of `v` with `bins` equal bins spanning `[min(v, lo), max(v, hi)]`.
pub fn histogram(v: &[f64], bins: usize, lo: f64, hi: f64) -> Histogram {
    let bins = bins.max(1);
    let vmin = v.iter().copied().fold(lo, f64::min);
    let vmax = v.iter().copied().fold(hi, f64::max);
    let w = ((vmax - vmin) / bins as f64).max(1e-12);
    let edges: Vec<f64> = (0..=bins).map(|i| vmin + w * i as f64).collect();
    let mut counts = vec![0; bins];
    for &x in v {
        if x.is_finite() {
            let i = (((x - vmin) / w) as usize).min(bins - 1);
            counts[i] += 1;
        }
    }
    Histogram { edges, counts }
}

/// A proportion with its Wilson score interval.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Proportion {
    /// Successes.
    pub k: usize,
    /// Trials.
    pub n: usize,
    /// `k / n`.
    pub fraction: f64,
    /// Wilson 95 % interval.
    pub ci: ConfidenceInterval,
}

/// Fraction of `v` strictly below `threshold`, with the Wilson 95 % score interval.
///
/// ```
/// use ffpe_validation::analysis::across::fraction_below;
/// let p = fraction_below(&[0.1, 0.2, 0.7, 0.3], 0.5);
/// assert_eq!((p.k, p.n), (3, 4));
/// ```
pub fn fraction_below(v: &[f64], threshold: f64) -> Proportion {
    proportion(v.iter().filter(|&&x| x < threshold).count(), v.len())
}

/// The proportion `k / n` with its Wilson 95 % score interval (`n = 0`: NaN in `[0, 1]`).
///
/// ```
/// use ffpe_validation::analysis::across::proportion;
/// let p = proportion(3, 4);
/// assert!((p.fraction - 0.75).abs() < 1e-15 && p.ci.lo < 0.75 && p.ci.hi > 0.75);
/// ```
pub fn proportion(k: usize, n: usize) -> Proportion {
    let z = 1.959_963_984_540_054;
    let (frac, lo, hi) = if n == 0 {
        (f64::NAN, 0.0, 1.0)
    } else {
        let nf = n as f64;
        let p = k as f64 / nf;
        let den = 1.0 + z * z / nf;
        let centre = (p + z * z / (2.0 * nf)) / den;
        let half = z * (p * (1.0 - p) / nf + z * z / (4.0 * nf * nf)).sqrt() / den;
        // at k = 0 (k = n) the lower (upper) bound is exactly 0 (1); the formula leaves a
        // rounding residue (5.6e-17 printed in a report)
        let lo = if k == 0 {
            0.0
        } else {
            (centre - half).max(0.0)
        };
        let hi = if k == n {
            1.0
        } else {
            (centre + half).min(1.0)
        };
        (p, lo, hi)
    };
    Proportion {
        k,
        n,
        fraction: frac,
        ci: ConfidenceInterval {
            lo,
            hi,
            level: 0.95,
        },
    }
}

/// One optimizer's row of the published-format table.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct OptimizerRow {
    /// `sgd` or `adam`.
    pub optimizer: crate::optim::OptimizerKind,
    /// Number of runs.
    pub runs: usize,
    /// Mean spectral dimension `d_s`.
    pub d_s_mean: f64,
    /// Standard deviation of `d_s` across runs.
    pub d_s_std: f64,
    /// Mean final LLC (mean of the last 10 estimates per run).
    pub llc_mean: f64,
    /// Standard deviation of the final LLC.
    pub llc_std: f64,
    /// Mean test accuracy, per cent.
    pub test_accuracy_mean: f64,
    /// Published `d_s` mean and std.
    pub published_d_s: (f64, f64),
    /// Published final LLC mean and std.
    pub published_llc: (f64, f64),
    /// Published test accuracy, per cent.
    pub published_test_accuracy: f64,
}

/// Published SGD-versus-Adam values (SPEC section 3): `(d_s mean, std, LLC mean, std, acc %)`.
pub fn published_values(
    optimizer: crate::optim::OptimizerKind,
) -> Option<(f64, f64, f64, f64, f64)> {
    match optimizer {
        crate::optim::OptimizerKind::Sgd => Some((7.8, 10.2, 12.5, 11.8, 94.1)),
        crate::optim::OptimizerKind::Adam => Some((0.41, 0.91, 3.1, 5.8, 90.4)),
    }
}

/// Builds the row for one optimizer from per-run `d_s`, final LLC and test accuracy (per cent).
pub fn optimizer_row(
    optimizer: crate::optim::OptimizerKind,
    d_s: &[f64],
    llc: &[f64],
    acc: &[f64],
) -> OptimizerRow {
    let p =
        published_values(optimizer).unwrap_or((f64::NAN, f64::NAN, f64::NAN, f64::NAN, f64::NAN));
    OptimizerRow {
        optimizer,
        runs: d_s.len(),
        d_s_mean: mean(d_s),
        d_s_std: std_dev(d_s),
        llc_mean: mean(llc),
        llc_std: std_dev(llc),
        test_accuracy_mean: mean(acc),
        published_d_s: (p.0, p.1),
        published_llc: (p.2, p.3),
        published_test_accuracy: p.4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_counts_everything() {
        let v = [0.1, 0.2, 0.25, 0.9, 1.3];
        let h = histogram(&v, 4, 0.0, 1.0);
        assert_eq!(h.counts.iter().sum::<usize>(), 5);
        assert_eq!(h.edges.len(), 5);
        assert!((h.edges[4] - 1.3).abs() < 1e-12);
    }

    #[test]
    fn wilson_interval_textbook() {
        // k = 8, n = 10: Wilson 95 % interval (0.490, 0.943) (Agresti and Coull 1998, table).
        let v: Vec<f64> = (0..10).map(|i| if i < 8 { 0.1 } else { 0.9 }).collect();
        let p = fraction_below(&v, 0.5);
        assert!(
            (p.ci.lo - 0.490).abs() < 1e-3 && (p.ci.hi - 0.943).abs() < 1e-3,
            "{p:?}"
        );
        // the ends are exact at k = 0 and k = n; k = 0 of 3: upper bound z^2 / (n + z^2)
        let z2 = 1.959_963_984_540_054f64.powi(2);
        for n in 1..40 {
            let (none, all) = (proportion(0, n), proportion(n, n));
            assert_eq!((none.ci.lo, all.ci.hi), (0.0, 1.0));
            let expected = z2 / (n as f64 + z2);
            assert!((none.ci.hi - expected).abs() < 1e-12, "{n}: {none:?}");
            assert!((all.ci.lo - (1.0 - expected)).abs() < 1e-12, "{n}: {all:?}");
        }
    }

    #[test]
    fn optimizer_row_means() {
        let r = optimizer_row(
            crate::optim::OptimizerKind::Sgd,
            &[1.0, 3.0],
            &[10.0, 14.0],
            &[90.0, 92.0],
        );
        assert!((r.d_s_mean - 2.0).abs() < 1e-12 && (r.llc_std - 8f64.sqrt()).abs() < 1e-12);
        assert!((r.published_d_s.0 - 7.8).abs() < 1e-12);
    }
}
