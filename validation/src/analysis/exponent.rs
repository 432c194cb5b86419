//! The displacement exponent `s` (OLS slope of `log R` on `log t`) and the early/late windows.

use super::stats::{
    BootstrapConfig, ConfidenceInterval, block_bootstrap_slope, default_block_len, ols,
};
use super::{AnalysisError, Result};
use serde::{Deserialize, Serialize};

/// A fit of `log R = c + s log t` over a time window.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DisplacementFit {
    /// First time of the window (inclusive).
    pub t_start: f64,
    /// Last time of the window (inclusive).
    pub t_end: f64,
    /// Number of points used.
    pub n: usize,
    /// The displacement exponent `s` (slope).
    pub displacement_exponent: f64,
    /// Intercept `c` (natural logarithms).
    pub intercept: f64,
    /// Coefficient of determination of the log-log fit.
    pub r2: f64,
    /// Classical standard error of the slope (independent residuals assumed).
    pub slope_se: f64,
    /// Moving-block bootstrap interval of `s` (blocks of consecutive time points).
    pub ci: ConfidenceInterval,
}

fn log_points(t: &[f64], r: &[f64], t0: f64, t1: f64) -> Result<(Vec<f64>, Vec<f64>)> {
    if t.len() != r.len() {
        return Err(AnalysisError::LengthMismatch {
            what: "R(t) times/values",
            left: t.len(),
            right: r.len(),
        });
    }
    let mut lx = Vec::new();
    let mut ly = Vec::new();
    for (&ti, &ri) in t.iter().zip(r) {
        if ti >= t0 && ti <= t1 && ti > 0.0 && ri > 0.0 && ti.is_finite() && ri.is_finite() {
            lx.push(ti.ln());
            ly.push(ri.ln());
        }
    }
    Ok((lx, ly))
}

/// Fits `s` over the window `[t0, t1]` (points with `t > 0` and `R > 0` only).
///
/// ```
/// use ffpe_validation::analysis::{exponent::fit_displacement, stats::BootstrapConfig};
/// let t: Vec<f64> = (1..=30).map(|i| (i as f64).powi(2)).collect();
/// let r: Vec<f64> = t.iter().map(|x: &f64| 2.0 * x.powf(0.3)).collect();
/// let f = fit_displacement(&t, &r, 1.0, 900.0, &BootstrapConfig::default()).unwrap();
/// assert!((f.displacement_exponent - 0.3).abs() < 1e-10);
/// ```
pub fn fit_displacement(
    t: &[f64],
    r: &[f64],
    t0: f64,
    t1: f64,
    boot: &BootstrapConfig,
) -> Result<DisplacementFit> {
    let (lx, ly) = log_points(t, r, t0, t1)?;
    let f = ols(&lx, &ly)?;
    let ci = block_bootstrap_slope(&lx, &ly, default_block_len(lx.len()), boot)?;
    Ok(DisplacementFit {
        t_start: lx[0].exp(),
        t_end: lx[lx.len() - 1].exp(),
        n: f.n,
        displacement_exponent: f.slope,
        intercept: f.intercept,
        r2: f.r2,
        slope_se: f.slope_se,
        ci,
    })
}

/// The early and late windows of a run, split where the local slope changes.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Windows {
    /// `[t_start, t_end]` of the early window.
    pub early: (f64, f64),
    /// `[t_start, t_end]` of the late window (the default for theory checks).
    pub late: (f64, f64),
    /// The change point (first time of the late window).
    pub change_point: f64,
    /// Slope of the early segment of the two-segment fit.
    pub early_slope: f64,
    /// Slope of the late segment.
    pub late_slope: f64,
}

/// Change point of the local slope: the two-segment piecewise-linear fit of `log R` against
/// `log t` (segments share the break point, each at least `min_points` long) with the smallest
/// total residual sum of squares. Points with `t <= t_min` are ignored (the first steps, where
/// `R` is dominated by the initial transient of the optimizer).
pub fn find_windows(t: &[f64], r: &[f64], t_min: f64, min_points: usize) -> Result<Windows> {
    let (lx, ly) = log_points(t, r, t_min.max(f64::MIN_POSITIVE), f64::INFINITY)?;
    let n = lx.len();
    let m = min_points.max(3);
    if n < 2 * m {
        return Err(AnalysisError::TooFewPoints {
            what: "change-point windows",
            needed: 2 * m,
            got: n,
        });
    }
    let mut best: Option<(f64, usize, f64, f64)> = None;
    for k in m..=(n - m) {
        // Early segment 0..k, late k-1..n: the break point belongs to both (continuity in
        // time, not enforced in value; the residual sums decide).
        let (Ok(a), Ok(b)) = (ols(&lx[..k], &ly[..k]), ols(&lx[k - 1..], &ly[k - 1..])) else {
            continue;
        };
        let rss = a.rss + b.rss;
        if best.is_none_or(|bb| rss < bb.0) {
            best = Some((rss, k, a.slope, b.slope));
        }
    }
    let (_, k, es, ls) = best.ok_or(AnalysisError::Degenerate {
        what: "change-point windows",
        why: "no admissible split",
    })?;
    Ok(Windows {
        early: (lx[0].exp(), lx[k - 1].exp()),
        late: (lx[k - 1].exp(), lx[n - 1].exp()),
        change_point: lx[k - 1].exp(),
        early_slope: es,
        late_slope: ls,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::stats::SplitMix64;

    fn broken_power(t: f64, tc: f64, s1: f64, s2: f64) -> f64 {
        if t < tc {
            t.powf(s1)
        } else {
            tc.powf(s1) * (t / tc).powf(s2)
        }
    }

    #[test]
    fn change_point_finds_the_break_and_both_slopes() {
        let t: Vec<f64> = (0..60).map(|i| 10f64.powf(i as f64 / 15.0)).collect();
        let mut rng = SplitMix64::new(1);
        let r: Vec<f64> = t
            .iter()
            .map(|&x| broken_power(x, 100.0, 0.9, 0.2) * (1.0 + 0.005 * rng.normal()))
            .collect();
        let w = find_windows(&t, &r, 0.5, 5).unwrap();
        // The grid has 15 points per decade: the break is found within one grid step.
        assert!(
            (w.change_point.log10() - 2.0).abs() <= 1.0 / 15.0 + 1e-9,
            "{w:?}"
        );
        assert!((w.early_slope - 0.9).abs() < 0.02 && (w.late_slope - 0.2).abs() < 0.02);
        let f = fit_displacement(&t, &r, w.late.0, w.late.1, &BootstrapConfig::default()).unwrap();
        assert!(f.ci.contains(0.2), "{f:?}");
        assert!(f.ci.hi - f.ci.lo < 0.02);
    }

    #[test]
    fn windows_need_enough_points() {
        let t = [1.0, 2.0, 3.0, 4.0];
        assert!(find_windows(&t, &t, 0.5, 3).is_err());
    }
}
