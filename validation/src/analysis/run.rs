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

/// Mean of the LLC estimates inside `[t0, t1]` with a block-bootstrap interval; falls back to
/// the last 10 estimates when the window holds none.
pub fn lambda_bar(
    llc_t: &[f64],
    llc: &[f64],
    t0: f64,
    t1: f64,
    boot: &BootstrapConfig,
) -> (f64, Option<ConfidenceInterval>) {
    let mut v: Vec<f64> = llc_t
        .iter()
        .zip(llc)
        .filter(|(t, l)| **t >= t0 && **t <= t1 && l.is_finite())
        .map(|(_, l)| *l)
        .collect();
    if v.is_empty() {
        v = llc
            .iter()
            .rev()
            .take(10)
            .copied()
            .filter(|x| x.is_finite())
            .collect();
    }
    if v.is_empty() {
        return (f64::NAN, None);
    }
    let m = mean(&v);
    if v.len() < 3 {
        return (m, None);
    }
    let mut rng = SplitMix64::new(boot.seed ^ 0x11c);
    let mut idx = Vec::new();
    let block = default_block_len(v.len());
    let reps = (0..boot.resamples)
        .map(|_| {
            block_resample_indices(v.len(), block, &mut rng, &mut idx);
            idx.iter().map(|&i| v[i]).sum::<f64>() / v.len() as f64
        })
        .collect();
    (m, Some(percentile_interval(reps, boot.level)))
}

/// Final LLC: the mean of the last 10 estimates.
pub fn final_llc(llc: &[f64]) -> f64 {
    let v: Vec<f64> = llc.iter().rev().take(10).copied().collect();
    mean(&v)
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
