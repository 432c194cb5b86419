//! Drift versus diffusion of SGD ensembles started from one initialisation (SPEC 3.1).
//!
//! An ensemble is `S >= 2` runs from the same initial weights `w0` that differ only in their
//! minibatch streams; at one recorded step the members `w_1 .. w_S` (length `P` each) sample
//! the density `p(w, t)` that the Fokker-Planck equation describes.
//!
//! # Estimators at one time point ([`ensemble_stats`])
//!
//! - mean `m = (1/S) sum_i w_i`, computed as `w_1 + (1/S) sum_i (w_i - w_1)` so that identical
//!   members give `m = w_1` and a diffusion of exactly 0 (differences of `f32` inputs are exact
//!   in `f64`);
//! - drift `|m - w0|^2`, and `drift_debiased = |m - w0|^2 - tr Sigma / S`, unbiased for
//!   `|E w - w0|^2` (the plain drift carries the sampling variance `tr Sigma / S` of `m`);
//! - diffusion `tr Sigma = 1/(S-1) sum_i |w_i - m|^2`: the **unbiased** (`1/(S-1)`) covariance,
//!   computed in two passes from the centred members (never as `E|w|^2 - |m|^2`);
//! - `E|w - w0|^2 = (1/S) sum_i |w_i - w0|^2`, computed directly; it satisfies the split
//!   identity `E|w - w0|^2 = drift + (S-1)/S tr Sigma` exactly in exact arithmetic (the
//!   factor `(S-1)/S` converts the unbiased covariance back to the `1/S` one);
//! - the top eigenvalues of `Sigma` from the `S x S` Gram matrix `G_ij = (w_i - m).(w_j - m)`:
//!   the non-zero eigenvalues of `Sigma = C^T C / (S-1)` (`P x P`) are those of
//!   `C C^T / (S-1)` (`S x S`), at most `S - 1` of them;
//! - `|m - w_gd|^2` against a full-batch gradient-descent twin (the noise-free path).
//!
//! # MSD exponent of `tr Sigma(t)` ([`msd_exponent`], [`msd_exponent_across_inits`])
//!
//! `tr Sigma(t) ~ t^a` is fitted by OLS of `ln tr Sigma` on `ln t` on a window given as
//! fractions of the **`ln t` range** of the record, `[f0, f1]` meaning
//! `ln t in [ln t_min + f0 L, ln t_min + f1 L]`, `L = ln t_max - ln t_min` (the recording
//! schedule is geometric, so this is also nearly a fraction of the recorded points); the
//! default declared window is [`DEFAULT_WINDOW`] `= [0.25, 1.0]`. With `K` initialisations,
//! each with its own ensemble series on a shared time grid, the point estimate is the slope
//! of the fit to the **mean over initialisations** of `tr Sigma(t)` (arithmetic mean, the
//! estimate of `E tr Sigma`); the percentile bootstrap interval resamples the `K`
//! initialisations with replacement (never the time points, which are correlated). The mean
//! of the per-initialisation slopes is reported beside it.
//! [`exponent_vs_window_start`] gives the slope for a sequence of window starts.
//!
//! # Synthetic processes ([`synthetic`])
//!
//! Seeded generators of Brownian motion, the Ornstein-Uhlenbeck process (exact
//! discretisation) and a continuous-time random walk with Pareto waiting times, for tests.

use super::stats::{
    BootstrapConfig, ConfidenceInterval, Ols, SplitMix64, ols, percentile_interval,
};
use super::{AnalysisError, Result};
use serde::{Deserialize, Serialize};
use std::ops::Range;

pub mod synthetic;

/// Coordinates per block when the Gram matrix is accumulated (the centred block of all
/// members, `S x BLOCK` values, stays in cache).
const BLOCK: usize = 256;

/// The declared fit window, as fractions of the `ln t` range: the last three quarters.
pub const DEFAULT_WINDOW: (f64, f64) = (0.25, 1.0);

/// Statistics of one ensemble at one time point.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct EnsembleStats {
    /// Number of members `S`.
    pub members: usize,
    /// Number of parameters `P`.
    pub params: usize,
    /// Ensemble mean `m`.
    pub mean: Vec<f64>,
    /// Drift `|m - w0|^2`.
    pub drift: f64,
    /// `|m - w0|^2 - tr Sigma / S`, unbiased for `|E w - w0|^2` (may be negative by noise).
    pub drift_debiased: f64,
    /// Diffusion `tr Sigma` with the unbiased `1/(S-1)` normalisation.
    pub diffusion: f64,
    /// `(1/S) sum_i |w_i - w0|^2`, equal to `drift + (S-1)/S diffusion`.
    pub mean_sq_displacement: f64,
    /// Largest eigenvalues of `Sigma` (`1/(S-1)` normalisation), decreasing, at most `S - 1`;
    /// round-off negatives are set to 0.
    pub top_eigenvalues: Vec<f64>,
    /// `|m - w_gd|^2` when a gradient-descent twin was given.
    pub gd_gap: Option<f64>,
}

fn not_finite(what: &'static str, value: f64) -> AnalysisError {
    AnalysisError::OutOfRange {
        what,
        value,
        allowed: "finite numbers",
    }
}

/// Drift, diffusion and covariance spectrum of `S >= 2` members started from `w0`.
///
/// `members[i]`, `w0` and `w_gd` have the same length `P >= 1`; `n_eigen` is the number of
/// leading eigenvalues of `Sigma` wanted (capped at `S - 1`). Inputs are `f32` or `f64`;
/// everything is accumulated in `f64`. Memory: the mean (`P` values), the Gram matrix
/// (`S^2`) and one block of `S x 256` centred values. The eigenvalues come from faer's
/// self-adjoint eigen-solver on the Gram matrix.
///
/// ```
/// use ffpe_validation::analysis::ensemble::ensemble_stats;
/// let members = [[0.0f32, 0.0], [2.0, 0.0]];
/// let st = ensemble_stats(&members, &[0.0f32, 0.0], None, 1).unwrap();
/// assert!((st.drift - 1.0).abs() < 1e-15 && (st.diffusion - 2.0).abs() < 1e-15);
/// assert!((st.mean_sq_displacement - (st.drift + 0.5 * st.diffusion)).abs() < 1e-15);
/// ```
pub fn ensemble_stats<T, M>(
    members: &[M],
    w0: &[T],
    w_gd: Option<&[T]>,
    n_eigen: usize,
) -> Result<EnsembleStats>
where
    T: Copy + Into<f64>,
    M: AsRef<[T]>,
{
    let s = members.len();
    if s < 2 {
        return Err(AnalysisError::TooFewPoints {
            what: "ensemble members",
            needed: 2,
            got: s,
        });
    }
    let p = w0.len();
    if p == 0 {
        return Err(AnalysisError::TooFewPoints {
            what: "ensemble parameters",
            needed: 1,
            got: 0,
        });
    }
    for m in members {
        if m.as_ref().len() != p {
            return Err(AnalysisError::LengthMismatch {
                what: "ensemble member / w0",
                left: m.as_ref().len(),
                right: p,
            });
        }
    }
    if let Some(g) = w_gd
        && g.len() != p
    {
        return Err(AnalysisError::LengthMismatch {
            what: "gradient-descent twin / w0",
            left: g.len(),
            right: p,
        });
    }
    let sf = s as f64;
    let x0 = members[0].as_ref();
    // Pass 1: mean of the differences from member 0.
    let mut dbar = vec![0.0; p];
    for m in &members[1..] {
        for ((d, &a), &b) in dbar.iter_mut().zip(m.as_ref()).zip(x0) {
            *d += a.into() - b.into();
        }
    }
    dbar.iter_mut().for_each(|d| *d /= sf);
    let mean: Vec<f64> = x0.iter().zip(&dbar).map(|(&a, d)| a.into() + d).collect();
    let mut drift = 0.0;
    for ((&a, &w), d) in x0.iter().zip(w0).zip(&dbar) {
        let e = (a.into() - w.into()) + d;
        drift += e * e;
    }
    let gd_gap = w_gd.map(|g| {
        let mut acc = 0.0;
        for ((&a, &w), d) in x0.iter().zip(g).zip(&dbar) {
            let e = (a.into() - w.into()) + d;
            acc += e * e;
        }
        acc
    });
    // Pass 2: Gram matrix of the centred members, block by block, and E|w - w0|^2 directly.
    let mut gram = vec![0.0; s * s];
    let mut buf = vec![0.0; s * BLOCK];
    let mut msd = 0.0;
    let mut start = 0;
    while start < p {
        let end = (start + BLOCK).min(p);
        let b = end - start;
        for (k, m) in members.iter().enumerate() {
            let m = &m.as_ref()[start..end];
            let row = &mut buf[k * BLOCK..k * BLOCK + b];
            for (j, r) in row.iter_mut().enumerate() {
                let i = start + j;
                let xi: f64 = m[j].into();
                *r = (xi - x0[i].into()) - dbar[i];
                let dw = xi - w0[i].into();
                msd += dw * dw;
            }
        }
        for a in 0..s {
            let ra = &buf[a * BLOCK..a * BLOCK + b];
            for c in a..s {
                let rc = &buf[c * BLOCK..c * BLOCK + b];
                gram[a * s + c] += ra.iter().zip(rc).map(|(u, v)| u * v).sum::<f64>();
            }
        }
        start = end;
    }
    for a in 0..s {
        for c in 0..a {
            gram[a * s + c] = gram[c * s + a];
        }
    }
    msd /= sf;
    let trace: f64 = (0..s).map(|k| gram[k * s + k]).sum();
    let diffusion = trace / (sf - 1.0);
    for (what, v) in [
        ("ensemble drift", drift),
        ("ensemble diffusion", diffusion),
        ("ensemble mean square displacement", msd),
    ] {
        if !v.is_finite() {
            return Err(not_finite(what, v));
        }
    }
    if let Some(g) = gd_gap
        && !g.is_finite()
    {
        return Err(not_finite("gradient-descent gap", g));
    }
    let k = n_eigen.min(s - 1);
    let top_eigenvalues = if k == 0 {
        Vec::new()
    } else if trace > 0.0 {
        let g = faer::Mat::<f64>::from_fn(s, s, |i, j| gram[i * s + j]);
        let mut ev = g.self_adjoint_eigenvalues(faer::Side::Lower).map_err(|_| {
            AnalysisError::Degenerate {
                what: "ensemble covariance eigenvalues",
                why: "the self-adjoint eigen-solver did not converge",
            }
        })?;
        ev.reverse();
        ev.truncate(k);
        ev.iter_mut().for_each(|v| *v = (*v / (sf - 1.0)).max(0.0));
        ev
    } else {
        vec![0.0; k]
    };
    Ok(EnsembleStats {
        members: s,
        params: p,
        mean,
        drift,
        drift_debiased: drift - diffusion / sf,
        diffusion,
        mean_sq_displacement: msd,
        top_eigenvalues,
        gd_gap,
    })
}

fn check_times(t: &[f64]) -> Result<()> {
    if t.len() < 2 {
        return Err(AnalysisError::TooFewPoints {
            what: "times",
            needed: 2,
            got: t.len(),
        });
    }
    let mut prev = 0.0;
    for (i, &x) in t.iter().enumerate() {
        if !(x.is_finite() && x > 0.0) {
            return Err(AnalysisError::OutOfRange {
                what: "times",
                value: x,
                allowed: "finite t > 0",
            });
        }
        if i > 0 && x <= prev {
            return Err(AnalysisError::OutOfRange {
                what: "times",
                value: x,
                allowed: "strictly increasing",
            });
        }
        prev = x;
    }
    Ok(())
}

fn check_window(window: (f64, f64)) -> Result<()> {
    let (f0, f1) = window;
    if !(f0.is_finite() && (0.0..1.0).contains(&f0)) {
        return Err(AnalysisError::OutOfRange {
            what: "window start fraction",
            value: f0,
            allowed: "0 <= f0 < 1",
        });
    }
    if !(f1.is_finite() && f1 > f0 && f1 <= 1.0) {
        return Err(AnalysisError::OutOfRange {
            what: "window end fraction",
            value: f1,
            allowed: "f0 < f1 <= 1",
        });
    }
    Ok(())
}

/// Index range of the points of `t` (positive, strictly increasing) whose `ln t` lies in the
/// window `[f0, f1]` given as fractions of the `ln t` range (`0 <= f0 < f1 <= 1`).
/// End points within `1e-12` of the range are included. The range may be empty.
pub fn log_window(t: &[f64], window: (f64, f64)) -> Result<Range<usize>> {
    check_times(t)?;
    check_window(window)?;
    Ok(log_window_unchecked(t, window))
}

fn log_window_unchecked(t: &[f64], (f0, f1): (f64, f64)) -> Range<usize> {
    let l0 = t[0].ln();
    let len = t[t.len() - 1].ln() - l0;
    let eps = 1e-12 * len;
    let lo = l0 + f0 * len - eps;
    let hi = l0 + f1 * len + eps;
    let first = t.partition_point(|x| x.ln() < lo);
    let last = t.partition_point(|x| x.ln() <= hi);
    first..last.max(first)
}

fn fit_log_log(lt: &[f64], y: &[f64], ly: &mut Vec<f64>) -> Result<Ols> {
    ly.clear();
    for &v in y {
        if !(v.is_finite() && v > 0.0) {
            return Err(AnalysisError::OutOfRange {
                what: "tr Sigma in the fit window",
                value: v,
                allowed: "finite values > 0",
            });
        }
        ly.push(v.ln());
    }
    ols(lt, ly)
}

/// OLS fit of `ln y` on `ln t` over the window `[f0, f1]` of the `ln t` range (see
/// [`log_window`]); the slope is the MSD exponent of `y = tr Sigma(t)`. Needs at least 3
/// points in the window and `y > 0` there.
pub fn msd_exponent(t: &[f64], y: &[f64], window: (f64, f64)) -> Result<Ols> {
    if t.len() != y.len() {
        return Err(AnalysisError::LengthMismatch {
            what: "msd exponent t/y",
            left: t.len(),
            right: y.len(),
        });
    }
    let r = log_window(t, window)?;
    let lt: Vec<f64> = t[r.clone()].iter().map(|x| x.ln()).collect();
    fit_log_log(&lt, &y[r], &mut Vec::with_capacity(lt.len()))
}

/// MSD exponent of `tr Sigma(t)` over `K` initialisations, with a bootstrap over them.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct InitExponent {
    /// Slope of `ln(mean over inits of tr Sigma)` on `ln t` in the window.
    pub exponent: f64,
    /// Percentile bootstrap interval of `exponent`, resampling the initialisations.
    pub ci: ConfidenceInterval,
    /// The fit behind `exponent`.
    pub fit: Ols,
    /// The slope of each initialisation's own series.
    pub per_init: Vec<f64>,
    /// Mean of `per_init` (a second estimator, reported beside the first).
    pub mean_of_per_init: f64,
    /// Number of initialisations `K`.
    pub inits: usize,
    /// Number of time points in the window.
    pub window_points: usize,
    /// The window, as fractions of the `ln t` range.
    pub window: (f64, f64),
}

/// MSD exponent of `tr Sigma(t)` from `K >= 2` initialisations.
///
/// `series[k][i]` is `tr Sigma` of initialisation `k` at time `t[i]` (all on the grid `t`).
/// The point estimate is the OLS slope of `ln` of the mean over initialisations on `ln t`
/// in `window` (fractions of the `ln t` range); the interval is a percentile bootstrap with
/// `cfg.resamples` resamples of the `K` initialisations (with replacement).
pub fn msd_exponent_across_inits<S: AsRef<[f64]>>(
    t: &[f64],
    series: &[S],
    window: (f64, f64),
    cfg: &BootstrapConfig,
) -> Result<InitExponent> {
    let k = series.len();
    if k < 2 {
        return Err(AnalysisError::TooFewPoints {
            what: "initialisations",
            needed: 2,
            got: k,
        });
    }
    for s in series {
        if s.as_ref().len() != t.len() {
            return Err(AnalysisError::LengthMismatch {
                what: "tr Sigma series / times",
                left: s.as_ref().len(),
                right: t.len(),
            });
        }
    }
    if !(cfg.level > 0.0 && cfg.level < 1.0) {
        return Err(AnalysisError::OutOfRange {
            what: "bootstrap level",
            value: cfg.level,
            allowed: "0 < level < 1",
        });
    }
    let r = log_window(t, window)?;
    let n = r.len();
    let lt: Vec<f64> = t[r.clone()].iter().map(|x| x.ln()).collect();
    let mut ly = Vec::with_capacity(n);
    let mut per_init = Vec::with_capacity(k);
    for s in series {
        per_init.push(fit_log_log(&lt, &s.as_ref()[r.clone()], &mut ly)?.slope);
    }
    let mut avg = vec![0.0; n];
    let average = |pick: &mut dyn FnMut() -> usize, avg: &mut [f64]| {
        avg.iter_mut().for_each(|a| *a = 0.0);
        for _ in 0..k {
            let s = &series[pick()].as_ref()[r.clone()];
            avg.iter_mut().zip(s).for_each(|(a, v)| *a += v);
        }
        avg.iter_mut().for_each(|a| *a /= k as f64);
    };
    let mut next = 0;
    average(
        &mut || {
            next += 1;
            next - 1
        },
        &mut avg,
    );
    let fit = fit_log_log(&lt, &avg, &mut ly)?;
    let mut rng = SplitMix64::new(cfg.seed);
    let mut reps = Vec::with_capacity(cfg.resamples);
    for _ in 0..cfg.resamples {
        average(&mut || rng.below(k), &mut avg);
        if let Ok(f) = fit_log_log(&lt, &avg, &mut ly) {
            reps.push(f.slope);
        }
    }
    let mean_of_per_init = per_init.iter().sum::<f64>() / k as f64;
    Ok(InitExponent {
        exponent: fit.slope,
        ci: percentile_interval(reps, cfg.level),
        fit,
        per_init,
        mean_of_per_init,
        inits: k,
        window_points: n,
        window,
    })
}

/// OLS slope of `ln y` on `ln t` for each window `[start, end_fraction]` of the `ln t` range,
/// one per entry of `starts_fractions` (for the exponent-versus-window plot). A window with
/// fewer than 3 points, a start not below `end_fraction`, or a non-positive `y` inside the
/// window gives NaN for that start.
pub fn exponent_vs_window_start(
    t: &[f64],
    y: &[f64],
    starts_fractions: &[f64],
    end_fraction: f64,
) -> Result<Vec<f64>> {
    if t.len() != y.len() {
        return Err(AnalysisError::LengthMismatch {
            what: "exponent vs window start t/y",
            left: t.len(),
            right: y.len(),
        });
    }
    check_times(t)?;
    let lt_all: Vec<f64> = t.iter().map(|x| x.ln()).collect();
    let mut ly = Vec::with_capacity(t.len());
    Ok(starts_fractions
        .iter()
        .map(|&f0| {
            if check_window((f0, end_fraction)).is_err() {
                return f64::NAN;
            }
            let r = log_window_unchecked(t, (f0, end_fraction));
            fit_log_log(&lt_all[r.clone()], &y[r], &mut ly).map_or(f64::NAN, |f| f.slope)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::synthetic::{brownian, ctrw_pareto};
    use super::*;

    fn random_f32(p: usize, offset: f32, scale: f32, rng: &mut SplitMix64) -> Vec<f32> {
        (0..p)
            .map(|_| offset + scale * rng.normal() as f32)
            .collect()
    }

    #[test]
    fn identical_members_have_exactly_zero_diffusion() {
        let mut rng = SplitMix64::new(1);
        let x = random_f32(1000, 0.3, 0.1, &mut rng);
        let w0 = random_f32(1000, 0.0, 0.1, &mut rng);
        let members = vec![x.clone(); 7];
        let st = ensemble_stats(&members, &w0, Some(&x), 3).unwrap();
        assert_eq!(st.diffusion.to_bits(), 0, "{}", st.diffusion);
        assert!(st.top_eigenvalues.iter().all(|v| v.to_bits() == 0));
        assert_eq!(st.gd_gap.map(f64::to_bits), Some(0));
        // the mean is member 0 exactly, so the drift is |x - w0|^2 summed in f64
        assert!(
            st.mean
                .iter()
                .zip(&x)
                .all(|(m, &a)| m.to_bits() == f64::from(a).to_bits())
        );
        let d: f64 = x
            .iter()
            .zip(&w0)
            .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
            .sum();
        assert_eq!(st.drift.to_bits(), d.to_bits());
    }

    #[test]
    fn known_two_member_values() {
        // m = (1, 0): drift 1; centred (-1, 0), (1, 0): tr Sigma = 2 / (S - 1) = 2;
        // E|w - w0|^2 = (0 + 4) / 2 = 2 = 1 + (1/2) 2; one eigenvalue, 2.
        let st =
            ensemble_stats(&[[0.0, 0.0], [2.0, 0.0]], &[0.0, 0.0], Some(&[1.0, 1.0]), 5).unwrap();
        let close = |a: f64, b: f64| (a - b).abs() < 1e-15; // exact small integers
        assert!(close(st.drift, 1.0) && close(st.diffusion, 2.0));
        assert!(close(st.drift_debiased, 0.0) && close(st.mean_sq_displacement, 2.0));
        assert_eq!(st.top_eigenvalues.len(), 1);
        assert!(close(st.top_eigenvalues[0], 2.0));
        assert!(close(st.gd_gap.unwrap(), 1.0));
    }

    #[test]
    fn split_identity_holds_to_round_off() {
        let mut rng = SplitMix64::new(2);
        for (s, p) in [(2, 1), (7, 1000), (16, 3000)] {
            // weights of size ~1 that moved ~0.01 from w0: cancellation-prone on purpose
            let w0 = random_f32(p, 1.0, 0.5, &mut rng);
            let members: Vec<Vec<f32>> = (0..s)
                .map(|_| {
                    w0.iter()
                        .map(|&w| w + 0.01 + 0.01 * rng.normal() as f32)
                        .collect()
                })
                .collect();
            let st = ensemble_stats(&members, &w0, None, 0).unwrap();
            let split = st.drift + (s as f64 - 1.0) / s as f64 * st.diffusion;
            // both sides are sums of ~S P non-negative terms in f64: round-off ~1e-15 relative
            let rel = (st.mean_sq_displacement - split).abs() / st.mean_sq_displacement;
            assert!(rel < 1e-12, "S {s} P {p}: relative error {rel}");
            assert!(st.top_eigenvalues.is_empty());
            // f64 members give the same numbers (the f32 -> f64 conversion is exact)
            let m64: Vec<Vec<f64>> = members
                .iter()
                .map(|m| m.iter().map(|&v| f64::from(v)).collect())
                .collect();
            let w64: Vec<f64> = w0.iter().map(|&v| f64::from(v)).collect();
            let st64 = ensemble_stats(&m64, &w64, None, 0).unwrap();
            assert_eq!(st64.diffusion.to_bits(), st.diffusion.to_bits());
        }
    }

    #[test]
    fn gram_eigenvalues_match_dense_covariance() {
        let mut rng = SplitMix64::new(3);
        for (s, p) in [(6, 4), (4, 9), (8, 8)] {
            let members: Vec<Vec<f64>> = (0..s)
                .map(|_| (0..p).map(|j| (1.0 + j as f64) * rng.normal()).collect())
                .collect();
            let w0 = vec![0.0; p];
            let st = ensemble_stats(&members, &w0, None, s).unwrap();
            let sigma = faer::Mat::<f64>::from_fn(p, p, |a, b| {
                members
                    .iter()
                    .map(|m| (m[a] - st.mean[a]) * (m[b] - st.mean[b]))
                    .sum::<f64>()
                    / (s as f64 - 1.0)
            });
            let mut dense = sigma.self_adjoint_eigenvalues(faer::Side::Lower).unwrap();
            dense.reverse();
            let k = (s - 1).min(p);
            assert_eq!(st.top_eigenvalues.len(), s - 1);
            for (i, (g, d)) in st.top_eigenvalues.iter().zip(&dense).take(k).enumerate() {
                // two backward-stable eigen-solvers on matrices of norm ~tr Sigma: agree to
                // ~1e-15 tr Sigma; allow 1e-10
                let err = (g - d).abs();
                assert!(err < 1e-10 * st.diffusion, "S {s} P {p} eig {i}: {err}");
            }
            // beyond the rank min(S-1, P) the Gram spectrum is zero
            assert!(
                st.top_eigenvalues[k..]
                    .iter()
                    .all(|v| *v < 1e-10 * st.diffusion)
            );
            let sum: f64 = st.top_eigenvalues.iter().sum();
            assert!((sum - st.diffusion).abs() < 1e-12 * st.diffusion);
        }
    }

    #[test]
    fn rejects_bad_input() {
        let w0 = [0.0f64; 3];
        assert!(ensemble_stats(&[[0.0f64; 3]], &w0, None, 1).is_err());
        assert!(ensemble_stats(&[vec![0.0f64; 3], vec![0.0; 2]], &w0, None, 1).is_err());
        assert!(ensemble_stats(&[[0.0f64; 3]; 2], &w0, Some(&[0.0; 2]), 1).is_err());
        assert!(ensemble_stats(&[[0.0, f64::NAN, 0.0]; 2], &w0, None, 1).is_err());
        let t = [1.0, 2.0, 4.0, 8.0];
        assert!(log_window(&t, (0.5, 0.5)).is_err());
        assert!(log_window(&[1.0, 1.0, 2.0], (0.0, 1.0)).is_err());
        assert!(msd_exponent(&t, &[1.0, 0.0, 1.0, 1.0], (0.0, 1.0)).is_err());
    }

    fn geometric(t0: f64, t1: f64, n: usize) -> Vec<f64> {
        (0..n)
            .map(|i| t0 * (t1 / t0).powf(i as f64 / (n - 1) as f64))
            .collect()
    }

    #[test]
    fn window_and_exponent_vs_start_on_exact_power_law() {
        let t = geometric(1.0, 1e4, 41);
        // ln t range [0, 4 ln 10], 41 points: [0.25, 1] holds points 10..=40
        assert_eq!(log_window(&t, (0.25, 1.0)).unwrap(), 10..41);
        let y: Vec<f64> = t.iter().map(|x| 3.0 * x.powf(0.7)).collect();
        let f = msd_exponent(&t, &y, DEFAULT_WINDOW).unwrap();
        assert!((f.slope - 0.7).abs() < 1e-12); // exact power law: round-off only
        let s = exponent_vs_window_start(&t, &y, &[0.0, 0.5, 0.9, 0.99, 1.0], 1.0).unwrap();
        assert!(s[..3].iter().all(|v| (v - 0.7).abs() < 1e-12), "{s:?}");
        assert!(s[3].is_nan() && s[4].is_nan()); // < 3 points; empty window
    }

    /// `tr Sigma(t)` series of `k` initialisations with `s` members of dimension `p`,
    /// generated by `generate(times, x0, rng)`.
    /// A path generator: `(times, x0, rng) -> positions`.
    type Generate = dyn Fn(&[f64], &[f64], &mut SplitMix64) -> Vec<f64>;

    fn ensemble_series(
        t: &[f64],
        k: usize,
        s: usize,
        p: usize,
        seed: u64,
        generate: &Generate,
    ) -> Vec<Vec<f64>> {
        let mut rng = SplitMix64::new(seed);
        (0..k)
            .map(|_| {
                let x0: Vec<f64> = (0..p).map(|_| rng.normal()).collect();
                let paths: Vec<Vec<f64>> = (0..s).map(|_| generate(t, &x0, &mut rng)).collect();
                (0..t.len())
                    .map(|i| {
                        let members: Vec<&[f64]> =
                            paths.iter().map(|x| &x[i * p..(i + 1) * p]).collect();
                        ensemble_stats(&members, &x0, None, 0).unwrap().diffusion
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn brownian_ensembles_give_exponent_one() {
        let t = geometric(1.0, 1e4, 50);
        let series = ensemble_series(&t, 10, 16, 4, 10, &|t, x0, rng| {
            brownian(t, x0, 0.5, rng).unwrap()
        });
        let cfg = BootstrapConfig {
            resamples: 500,
            level: 0.95,
            seed: 4,
        };
        let e = msd_exponent_across_inits(&t, &series, DEFAULT_WINDOW, &cfg).unwrap();
        // 10 x 16 paths of 4 coordinates: the slope's sampling sd is a few 1e-2
        assert!(e.ci.contains(1.0), "{e:?}");
        assert!((e.exponent - 1.0).abs() < 0.08, "{e:?}");
        assert!((e.mean_of_per_init - 1.0).abs() < 0.1, "{e:?}");
        assert_eq!(e.per_init.len(), 10);
    }

    #[test]
    fn ctrw_ensembles_give_exponent_one_half() {
        let t = geometric(1.0, 1e6, 60);
        let series = ensemble_series(&t, 12, 16, 4, 11, &|t, x0, rng| {
            ctrw_pareto(t, x0, 0.5, 1.0, 1.0, rng).unwrap()
        });
        let cfg = BootstrapConfig {
            resamples: 500,
            level: 0.95,
            seed: 5,
        };
        let e = msd_exponent_across_inits(&t, &series, DEFAULT_WINDOW, &cfg).unwrap();
        // window t in [31, 1e6]: the renewal function's correction is O(t^-1/2) there;
        // the heavy-tailed jump counts make the sampling sd ~0.05
        assert!(e.ci.contains(0.5), "{e:?}");
        assert!((e.exponent - 0.5).abs() < 0.12, "{e:?}");
        assert!(e.ci.hi < 0.8, "distinguishable from diffusion: {e:?}");
    }
}
