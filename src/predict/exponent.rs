//! Displacement exponent: OLS slope of `log R` on `log t`, with `r^2` and a confidence
//! interval from Student's t distribution.

use crate::error::{FfpeError, Result};
use crate::observables::Observables;
use serde::Serialize;
use special::Beta;

/// An OLS fit `log y = intercept + slope log x`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PowerLawFit {
    /// Fitted slope (the exponent).
    pub slope: f64,
    /// Fitted intercept (log of the prefactor).
    pub intercept: f64,
    /// Coefficient of determination.
    pub r2: f64,
    /// Standard error of the slope.
    pub stderr: f64,
    /// Two-sided 95 % confidence interval of the slope.
    pub ci95: (f64, f64),
    /// Residual sum of squares of the fit.
    pub rss: f64,
    /// Number of points used.
    pub n: usize,
}

/// Two-sided Student-t quantile: `P(|T_nu| > t) = p`.
///
/// ```
/// let t = ffpe::predict::exponent::student_t_two_sided(0.05, 10.0);
/// assert!((t - 2.228138851986).abs() < 1e-6);
/// ```
pub fn student_t_two_sided(p: f64, nu: f64) -> f64 {
    // P(|T| > t) = I_{nu / (nu + t^2)}(nu / 2, 1 / 2)
    let (a, b) = (0.5 * nu, 0.5);
    let x = p.inv_inc_beta(a, b, a.ln_beta(b));
    (nu * (1.0 - x) / x).sqrt()
}

/// OLS fit of `log y` on `log x` (all values must be positive and finite; n >= 3).
///
/// ```
/// let t: Vec<f64> = (1..20).map(|i| i as f64).collect();
/// let y: Vec<f64> = t.iter().map(|t| 3.0 * t.powf(0.25)).collect();
/// let f = ffpe::predict::fit_power_law(&t, &y).unwrap();
/// assert!((f.slope - 0.25).abs() < 1e-12 && f.r2 > 0.999_999);
/// ```
pub fn fit_power_law(x: &[f64], y: &[f64]) -> Result<PowerLawFit> {
    if x.len() != y.len() {
        return Err(FfpeError::DimensionMismatch {
            key: "fit.y".into(),
            found: y.len(),
            expected: x.len(),
        });
    }
    let mut lx = Vec::with_capacity(x.len());
    let mut ly = Vec::with_capacity(x.len());
    for (i, (&a, &b)) in x.iter().zip(y).enumerate() {
        if !(a > 0.0 && a.is_finite()) {
            return Err(FfpeError::out_of_range(
                &format!("fit.x[{i}]"),
                a,
                "positive and finite",
            ));
        }
        if !(b > 0.0 && b.is_finite()) {
            return Err(FfpeError::out_of_range(
                &format!("fit.y[{i}]"),
                b,
                "positive and finite",
            ));
        }
        lx.push(a.ln());
        ly.push(b.ln());
    }
    ols(&lx, &ly)
}

/// Plain OLS of `y` on `x` with slope CI.
pub fn ols(x: &[f64], y: &[f64]) -> Result<PowerLawFit> {
    let n = x.len();
    if n < 3 {
        return Err(FfpeError::out_of_range(
            "fit.points",
            n,
            "at least 3 points in the window",
        ));
    }
    let nf = n as f64;
    let mx = x.iter().sum::<f64>() / nf;
    let my = y.iter().sum::<f64>() / nf;
    let sxx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
    let syy: f64 = y.iter().map(|b| (b - my).powi(2)).sum();
    let sxy: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    if sxx.is_nan() || sxx <= 0.0 {
        return Err(FfpeError::invalid("fit.x", "all x values are equal"));
    }
    let slope = sxy / sxx;
    let intercept = my - slope * mx;
    let sse: f64 = x
        .iter()
        .zip(y)
        .map(|(a, b)| (b - intercept - slope * a).powi(2))
        .sum();
    let r2 = if syy > 0.0 { 1.0 - sse / syy } else { 1.0 };
    let stderr = (sse / (nf - 2.0) / sxx).sqrt();
    let t = student_t_two_sided(0.05, nf - 2.0);
    Ok(PowerLawFit {
        slope,
        intercept,
        r2,
        stderr,
        ci95: (slope - t * stderr, slope + t * stderr),
        rss: sse,
        n,
    })
}

/// Displacement exponent `s` of `R(t) ~ t^s` over the window `[t0, t1]` from a series of
/// observables (times with `t > 0` and `R > 0` inside the window are used).
pub fn displacement_exponent(obs: &[Observables], window: (f64, f64)) -> Result<PowerLawFit> {
    let (t0, t1) = window;
    if !(t0 > 0.0 && t1 > t0 && t1.is_finite()) {
        return Err(FfpeError::out_of_range(
            "window",
            format!("{t0},{t1}"),
            "0 < T0 < T1 (finite)",
        ));
    }
    let (t, r): (Vec<f64>, Vec<f64>) = obs
        .iter()
        .filter(|o| o.time >= t0 * (1.0 - 1e-12) && o.time <= t1 * (1.0 + 1e-12) && o.r > 0.0)
        .map(|o| (o.time, o.r))
        .unzip();
    fit_power_law(&t, &r)
}

/// `ffpe exponent`: the displacement exponent `s` of `R(t) ~ t^s` over `window = (T0, T1)`
/// (OLS of `log R` on `log t` at 24 log-spaced output times; an FFT history becomes SOE
/// with tolerance 1e-12, since the added output times leave the uniform mesh). `key` names
/// the window in errors (`--window` on the command line). What `ffpe exponent` and the
/// Python package's `exponent` run.
pub fn exponent_of_file(
    mut file: crate::config::ProblemFile,
    window: (f64, f64),
    key: &str,
) -> Result<PowerLawFit> {
    let (t0, t1) = window;
    if !(t0 > 0.0 && t1 > t0 && t1 <= file.options.t_end) {
        return Err(FfpeError::out_of_range(
            key,
            format!("{t0},{t1}"),
            &format!("T0,T1 with 0 < T0 < T1 <= t_end = {}", file.options.t_end),
        ));
    }
    let n = 24;
    let mut times: Vec<f64> = (0..n)
        .map(|i| (t0.ln() + (t1.ln() - t0.ln()) * i as f64 / (n - 1) as f64).exp())
        .collect();
    times[n - 1] = t1;
    if matches!(
        file.options.history,
        crate::solvers::history::HistoryKind::Fft
    ) {
        file.options.history = crate::solvers::history::HistoryKind::Soe { tolerance: 1e-12 };
    }
    file.options.output_times = times;
    let sol = crate::config::run_file(&file)?;
    displacement_exponent(&sol.observables, (t0, t1))
}
