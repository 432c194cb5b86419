//! Analysis of one training run: windows, exponents, model comparison, fractal relations and
//! the Gamma-law test, from the run's measured series.

use super::exponent::{find_windows, fit_displacement};
use super::gamma_law::test_gamma_law;
use super::stats::{
    BootstrapConfig, ConfidenceInterval, SplitMix64, block_resample_indices, compare_growth_models,
    default_block_len, mean, percentile_interval,
};
use super::theory::FractalQuantities;
use crate::analysis::results::{FfpeComparison, RunAnalysis};
use serde::{Deserialize, Serialize};

/// The measured series of one run (what training and LLC estimation produce).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct RunData {
    /// Run identifier.
    pub id: String,
    /// Architecture, for example `784-32-10`.
    pub arch: String,
    /// `sgd` or `adam`.
    pub optimizer: crate::optim::OptimizerKind,
    /// Seed.
    pub seed: u64,
    /// Trainable parameters.
    pub n_params: usize,
    /// Total training steps.
    pub steps: u64,
    /// Checkpoint steps `t` (geometric schedule).
    pub t: Vec<f64>,
    /// `R(t) = ||w_t - w_0||_2` at the checkpoints.
    pub r: Vec<f64>,
    /// Full training-set loss at the checkpoints.
    pub train_loss: Vec<f64>,
    /// Steps of the LLC estimates.
    pub llc_t: Vec<f64>,
    /// LLC estimates.
    pub llc: Vec<f64>,
    /// Final test accuracy, per cent.
    pub test_accuracy: f64,
    /// Final test loss.
    pub test_loss: f64,
}

/// Settings of the per-run analysis.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RunAnalysisConfig {
    /// Bootstrap settings.
    pub bootstrap: BootstrapConfig,
    /// Checkpoints with `t` below this are ignored by the change-point search.
    pub t_min: f64,
    /// Minimum points per window.
    pub min_window_points: usize,
}

impl Default for RunAnalysisConfig {
    /// 1000 resamples at 95 %, `t_min = 1`, 5 points per window.
    fn default() -> Self {
        Self {
            bootstrap: BootstrapConfig::default(),
            t_min: 1.0,
            min_window_points: 5,
        }
    }
}

/// Trapezoid weights of the points `t` (increasing): `w_i = (t_{i+1} - t_{i-1}) / 2` (half
/// intervals at the ends) over `t_last - t_0`, so that `sum_i w_i y_i` is the trapezoid time
/// average [`super::llc_truth::time_average_trapezoid`]. Equal weights when the points span no
/// time (one point, or equal times).
pub fn trapezoid_weights(t: &[f64]) -> Vec<f64> {
    let n = t.len();
    let span = if n > 1 { t[n - 1] - t[0] } else { 0.0 };
    if !(span > 0.0 && span.is_finite()) {
        return vec![1.0 / n.max(1) as f64; n];
    }
    (0..n)
        .map(|i| {
            let lo = t[i.saturating_sub(1)];
            let hi = t[(i + 1).min(n - 1)];
            0.5 * (hi - lo) / span
        })
        .collect()
}

/// `lambda_bar`: the trapezoid time average in `t` of the LLC estimates inside `[t0, t1]`
/// (`sum_i (t_{i+1} - t_i) (l_i + l_{i+1}) / 2 / (t_last - t_first)` over the estimates in the
/// window, [`trapezoid_weights`]), not the unweighted mean of the estimates: with geometrically
/// spaced estimates the two differ, and the time average is the quantity of SPEC section 1.3.
/// The interval is a block bootstrap of the estimates, each resample's weighted mean with the
/// resampled points' weights. Falls back to the plain mean of the last 10 estimates when the
/// window holds none.
pub fn lambda_bar(
    llc_t: &[f64],
    llc: &[f64],
    t0: f64,
    t1: f64,
    boot: &BootstrapConfig,
) -> (f64, Option<ConfidenceInterval>) {
    let mut pts: Vec<(f64, f64)> = llc_t
        .iter()
        .zip(llc)
        .filter(|(t, l)| **t >= t0 && **t <= t1 && l.is_finite() && t.is_finite())
        .map(|(t, l)| (*t, *l))
        .collect();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    pts.dedup_by(|b, a| b.0 <= a.0);
    let (v, wts): (Vec<f64>, Vec<f64>) = if pts.is_empty() {
        let v: Vec<f64> = llc
            .iter()
            .rev()
            .take(10)
            .copied()
            .filter(|x| x.is_finite())
            .collect();
        let w = vec![1.0 / v.len().max(1) as f64; v.len()];
        (v, w)
    } else {
        let t: Vec<f64> = pts.iter().map(|p| p.0).collect();
        (pts.iter().map(|p| p.1).collect(), trapezoid_weights(&t))
    };
    if v.is_empty() {
        return (f64::NAN, None);
    }
    let m: f64 = v.iter().zip(&wts).map(|(v, w)| v * w).sum();
    if v.len() < 3 {
        return (m, None);
    }
    let mut rng = SplitMix64::new(boot.seed ^ 0x11c);
    let mut idx = Vec::new();
    let block = default_block_len(v.len());
    let reps = (0..boot.resamples)
        .map(|_| {
            block_resample_indices(v.len(), block, &mut rng, &mut idx);
            let (s, w) = idx
                .iter()
                .fold((0.0, 0.0), |(s, w), &i| (s + wts[i] * v[i], w + wts[i]));
            if w > 0.0 { s / w } else { f64::NAN }
        })
        .collect();
    (m, Some(percentile_interval(reps, boot.level)))
}

/// Final LLC: the mean of the last 10 estimates.
pub fn final_llc(llc: &[f64]) -> f64 {
    let v: Vec<f64> = llc.iter().rev().take(10).copied().collect();
    mean(&v)
}

/// First and last of the steps `llc_t` of the estimates [`final_llc`] averages (`None`: no
/// estimate).
pub fn final_llc_steps(llc_t: &[f64]) -> Option<(f64, f64)> {
    let last = *llc_t.last()?;
    Some((llc_t[llc_t.len().saturating_sub(10)], last))
}

/// Analyses one run. Failures of single steps are recorded in `notes`, never panics.
pub fn analyse_run(d: &RunData, cfg: &RunAnalysisConfig) -> RunAnalysis {
    let mut notes = Vec::new();
    let boot = BootstrapConfig {
        seed: cfg.bootstrap.seed ^ d.seed.wrapping_mul(0x9E37_79B9),
        ..cfg.bootstrap
    };
    let windows = match find_windows(&d.t, &d.r, cfg.t_min, cfg.min_window_points) {
        Ok(w) => Some(w),
        Err(e) => {
            notes.push(format!("windows: {e}"));
            None
        }
    };
    let fit = |w: (f64, f64), name: &str, notes: &mut Vec<String>| match fit_displacement(
        &d.t, &d.r, w.0, w.1, &boot,
    ) {
        Ok(f) => Some(f),
        Err(e) => {
            notes.push(format!("{name} fit: {e}"));
            None
        }
    };
    let early_fit = windows
        .as_ref()
        .and_then(|w| fit(w.early, "early", &mut notes));
    let late_fit = windows
        .as_ref()
        .and_then(|w| fit(w.late, "late", &mut notes));
    let late = windows.as_ref().map(|w| w.late);
    let growth_models = late.and_then(|(t0, t1)| {
        let (t, r): (Vec<f64>, Vec<f64>) =
            d.t.iter()
                .zip(&d.r)
                .filter(|(t, _)| **t >= t0 && **t <= t1)
                .map(|(a, b)| (*a, *b))
                .unzip();
        match compare_growth_models(&t, &r) {
            Ok(c) => Some(c),
            Err(e) => {
                notes.push(format!("growth models: {e}"));
                None
            }
        }
    });
    let (t0, t1) = late.unwrap_or((f64::NEG_INFINITY, f64::INFINITY));
    let (lb, lb_ci) = lambda_bar(&d.llc_t, &d.llc, t0, t1, &boot);
    let theory = late_fit
        .as_ref()
        .filter(|_| lb.is_finite())
        .map(|f| FractalQuantities::new(f.displacement_exponent, Some(f.ci), lb, lb_ci));
    let gamma_law = if let Some((t0, t1)) = late {
        let losses: Vec<f64> =
            d.t.iter()
                .zip(&d.train_loss)
                .filter(|(t, _)| **t >= t0 && **t <= t1)
                .map(|(_, l)| *l)
                // a checkpoint without a logged loss (an analysed run's metrics) is left out
                .filter(|l| l.is_finite())
                .collect();
        match test_gamma_law(&losses, lb, &boot) {
            Ok(g) => Some(g),
            Err(e) => {
                notes.push(format!("Gamma-law test: {e}"));
                None
            }
        }
    } else {
        None
    };
    RunAnalysis {
        id: d.id.clone(),
        arch: d.arch.clone(),
        optimizer: d.optimizer,
        seed: d.seed,
        n_params: d.n_params,
        steps: d.steps,
        test_accuracy: d.test_accuracy,
        test_loss: d.test_loss,
        final_llc: final_llc(&d.llc),
        final_llc_steps: final_llc_steps(&d.llc_t),
        final_displacement: d.r.last().copied().unwrap_or(f64::NAN),
        windows,
        early_fit,
        late_fit,
        growth_models,
        lambda_bar: lb,
        lambda_bar_ci: lb_ci,
        theory,
        gamma_law,
        ffpe: FfpeComparison::default(),
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_llc_spans_the_steps_of_its_last_ten_estimates() {
        // a geometric schedule: 1, 2, 4, ..., 2^14; the last 10 start at 2^5 = 32
        let t: Vec<f64> = (0..15).map(|k| f64::from(1u32 << k)).collect();
        let l: Vec<f64> = (0..15).map(f64::from).collect();
        assert_eq!(final_llc_steps(&t), Some((32.0, 16384.0)));
        assert!((final_llc(&l) - 9.5).abs() < 1e-12); // mean of 5..=14
        // fewer than 10 estimates: all of them
        assert_eq!(final_llc_steps(&t[..3]), Some((1.0, 4.0)));
        assert_eq!(final_llc_steps(&[]), None);
    }

    #[test]
    fn lambda_bar_is_the_trapezoid_time_average() {
        // estimates at unevenly spaced steps: 1, 2, 4, 100 with values 1, 1, 1, 5; the
        // unweighted mean is 2, the trapezoid time average over [1, 100] is
        // (1*1 + 2*1 + 96*3) / 99 = 291 / 99 (exact up to a few roundings: 1e-12)
        let t = [1.0, 2.0, 4.0, 100.0];
        let l = [1.0, 1.0, 1.0, 5.0];
        let boot = BootstrapConfig::default();
        let (lb, ci) = lambda_bar(&t, &l, 0.0, 1e3, &boot);
        assert!((lb - 291.0 / 99.0).abs() < 1e-12, "{lb}");
        assert!(
            (mean(&l) - 2.0).abs() < 1e-12,
            "the unweighted mean differs"
        );
        let want = crate::analysis::llc_truth::time_average_trapezoid(&t, &l).unwrap();
        assert!((lb - want).abs() < 1e-12);
        assert!(ci.is_some());
        // the window keeps only its points: [1, 4] holds three equal values
        let (lb, _) = lambda_bar(&t, &l, 1.0, 4.0, &boot);
        assert!((lb - 1.0).abs() < 1e-12, "{lb}");
        // evenly spaced points: the trapezoid average weights the ends by half
        let (lb, _) = lambda_bar(&[0.0, 1.0, 2.0], &[0.0, 0.0, 3.0], 0.0, 2.0, &boot);
        assert!((lb - 0.75).abs() < 1e-12, "{lb}");
        // no point in the window: the mean of the last 10 estimates, as before
        let (lb, _) = lambda_bar(&t, &l, 200.0, 300.0, &boot);
        assert!((lb - 2.0).abs() < 1e-12, "{lb}");
        let w = trapezoid_weights(&t);
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }
}
