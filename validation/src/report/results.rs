//! The data model of `results.json`: every number of the report lives here first.

use crate::analysis::across::{Histogram, OptimizerRow, Proportion};
use crate::analysis::results::RunAnalysis;
use crate::analysis::stats::{ConfidenceInterval, Correlation};
use crate::analysis::studies::{ArchitectureRow, BatchRow, ExponentStudy, ScaleScan};
use crate::verdict::Claim;
use serde::{Deserialize, Serialize};

/// Exponents of one (architecture, optimizer) group across seeds.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct GroupSummary {
    /// Architecture.
    pub arch: String,
    /// Optimizer.
    pub optimizer: crate::optim::OptimizerKind,
    /// Runs with a late fit.
    pub runs: usize,
    /// Mean late exponent.
    pub late_s_mean: f64,
    /// Bootstrap interval (across seeds) of the mean late exponent.
    pub late_s_ci: Option<ConfidenceInterval>,
    /// Mean early exponent.
    pub early_s_mean: f64,
    /// Mean `lambda_bar`.
    pub lambda_bar_mean: f64,
    /// Mean `d_s`.
    pub d_s_mean: f64,
    /// Mean test accuracy, per cent.
    pub test_accuracy_mean: f64,
}

/// Correlations across runs.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Correlations {
    /// `lambda_bar` against final displacement `R`.
    pub llc_vs_displacement: Option<Correlation>,
    /// `lambda_bar` against test error (per cent).
    pub llc_vs_test_error: Option<Correlation>,
}

/// How the run was made.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Meta {
    /// Crate version.
    pub version: String,
    /// Preset name.
    pub preset: String,
    /// Device.
    pub device: String,
    /// Data source.
    pub data: String,
    /// Architectures.
    pub architectures: Vec<String>,
    /// Optimizers.
    pub optimizers: Vec<crate::optim::OptimizerKind>,
    /// Seeds per (architecture, optimizer).
    pub seeds: usize,
    /// Training steps per run.
    pub steps: u64,
    /// Runs trained in this invocation.
    pub runs_trained: usize,
    /// Runs reused from a previous invocation.
    pub runs_reused: usize,
    /// Wall-clock seconds of this invocation.
    pub wall_seconds: f64,
    /// The displacement-exponent threshold of the bound (`s <= 1/2`).
    pub bound_threshold_s: f64,
    /// Bootstrap resamples.
    pub bootstrap_resamples: usize,
    /// Bootstrap level.
    pub bootstrap_level: f64,
    /// SGD learning rate.
    pub sgd_lr: f64,
    /// Adam learning rate.
    pub adam_lr: f64,
    /// SGD momentum (written only when nonzero).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub momentum: f64,
    /// Weight decay (written only when nonzero).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub weight_decay: f64,
    /// Minibatch size.
    pub batch_size: usize,
    /// The paper whose claims are tested (title, authors, arXiv number).
    #[serde(default)]
    pub paper: String,
    /// What the preset is for: a smoke run (tiny, quick) or a result (medium, paper).
    #[serde(default)]
    pub preset_note: String,
    /// The LLC estimator of the runs' in-training estimates (empty: not recorded).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub llc_setting: String,
}

/// The paper under test, as the report names it.
pub const PAPER: &str = "Hennick and De Baerdemacker, \"Almost Bayesian: the fractal dynamics of stochastic gradient descent\", arXiv 2503.22478";

/// What a preset's report is: the smoke presets say so and point to the committed result.
pub fn preset_note(preset: &str) -> String {
    match preset {
        "tiny" | "quick" => format!(
            "This is a smoke run (preset {preset}): its runs are short and its SGD runs are still in the early, ballistic phase, so its verdicts are not the study's result. The study's result is the committed medium report, validation/results/ in the repository (see the README)."
        ),
        _ => String::new(),
    }
}

/// The whole `results.json`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Results {
    /// How the run was made.
    pub meta: Meta,
    /// Per-run analyses.
    pub runs: Vec<RunAnalysis>,
    /// Per-group exponent summaries.
    pub groups: Vec<GroupSummary>,
    /// Correlations across runs.
    pub correlations: Correlations,
    /// Histogram of late exponents.
    pub exponent_histogram: Option<Histogram>,
    /// Fraction of runs with late `s < 1/2`.
    pub fraction_below_half: Option<Proportion>,
    /// Fraction of runs with early `s > 1/2` (super-diffusive early phase).
    pub fraction_early_superdiffusive: Option<Proportion>,
    /// Fraction of runs whose late growth is best described by the power law (AIC).
    pub aic_winner_counts: Vec<(String, usize)>,
    /// SGD-versus-Adam table beside the published values.
    pub optimizer_table: Vec<OptimizerRow>,
    /// Verdicts.
    pub claims: Vec<Claim>,
    /// The studies beyond the main sweep (empty for presets without them).
    #[serde(default)]
    pub studies: StudyResults,
    /// The diagnostics of every in-training LLC estimate of the runs, counted (`null`: no
    /// estimate carries diagnostics).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub llc_diagnostics: Option<LlcDiagnosticsSummary>,
    /// Files written, relative to the output directory.
    pub files: Vec<String>,
}

/// How many in-training LLC estimates fail the checks of [`crate::llc::diagnostics`].
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct LlcDiagnosticsSummary {
    /// Estimates counted.
    pub estimates: usize,
    /// The checks: largest R-hat, least bulk ESS, acceptance range.
    pub thresholds: LlcThresholds,
    /// R-hat above 1.01 or not computable.
    pub rhat_fail: usize,
    /// Bulk ESS below 100 or not computable.
    pub ess_fail: usize,
    /// Acceptance outside [0.5, 0.99] or not measured.
    pub acceptance_fail: usize,
    /// Failing at least one check.
    pub any_fail: usize,
    /// Estimates in the late window (where `lambda_bar` is averaged; 0 when not recorded).
    #[serde(default)]
    pub late_estimates: usize,
    /// Of those, failing at least one check.
    #[serde(default)]
    pub late_any_fail: usize,
    /// Median and largest R-hat.
    pub rhat_median: f64,
    /// Largest R-hat.
    pub rhat_max: f64,
    /// Smallest and largest acceptance.
    pub acceptance_min: f64,
    /// Largest acceptance.
    pub acceptance_max: f64,
}

/// The thresholds of the LLC checks (those of the estimator's warnings).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LlcThresholds {
    /// Largest R-hat.
    pub rhat_max: f64,
    /// Least bulk ESS.
    pub ess_bulk_min: f64,
    /// Acceptance range.
    pub acceptance: [f64; 2],
}

impl Default for LlcThresholds {
    fn default() -> Self {
        use crate::analysis::mcmc::{ACCEPTANCE_RANGE, ESS_PER_CHAIN_MIN, RHAT_MAX};
        Self {
            rhat_max: RHAT_MAX,
            // per estimate (the estimator's warning scales it by the chains)
            ess_bulk_min: ESS_PER_CHAIN_MIN,
            acceptance: [ACCEPTANCE_RANGE.0, ACCEPTANCE_RANGE.1],
        }
    }
}

impl LlcDiagnosticsSummary {
    /// Counts the estimates of `records` (`None` when none carries an R-hat).
    pub fn of<'a>(records: impl Iterator<Item = &'a crate::train::LlcRecord>) -> Option<Self> {
        let records: Vec<&crate::train::LlcRecord> = records.collect();
        let mut s = Self::of_values(records.iter().map(|r| (r.rhat, r.ess_bulk, r.acceptance)))?;
        if let Some(late) = Self::of_values(
            records
                .iter()
                .filter(|r| r.late)
                .map(|r| (r.rhat, r.ess_bulk, r.acceptance)),
        ) {
            s.late_estimates = late.estimates;
            s.late_any_fail = late.any_fail;
        }
        Some(s)
    }

    /// Counts estimates given as `(R-hat, bulk ESS, acceptance)` (`None` when none carries an
    /// R-hat).
    pub fn of_values(
        records: impl Iterator<Item = (Option<f64>, Option<f64>, Option<f64>)>,
    ) -> Option<Self> {
        let mut s = Self::default();
        let (mut rh, mut acc) = (vec![], vec![]);
        for (rhat, ess_bulk, acceptance) in records {
            s.estimates += 1;
            let t = &s.thresholds;
            let fr = !rhat.is_some_and(|x| x <= t.rhat_max);
            let fe = !ess_bulk.is_some_and(|x| x >= t.ess_bulk_min);
            let fa = !acceptance.is_some_and(|x| (t.acceptance[0]..=t.acceptance[1]).contains(&x));
            s.rhat_fail += usize::from(fr);
            s.ess_fail += usize::from(fe);
            s.acceptance_fail += usize::from(fa);
            s.any_fail += usize::from(fr || fe || fa);
            rh.extend(rhat.filter(|x| x.is_finite()));
            acc.extend(acceptance.filter(|x| x.is_finite()));
        }
        if rh.is_empty() {
            return None;
        }
        rh.sort_by(f64::total_cmp);
        acc.sort_by(f64::total_cmp);
        s.rhat_median = rh[rh.len() / 2];
        s.rhat_max = rh[rh.len() - 1];
        s.acceptance_min = acc.first().copied().unwrap_or(f64::NAN);
        s.acceptance_max = acc.last().copied().unwrap_or(f64::NAN);
        Some(s)
    }
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

/// Every study result of a report (all empty when the preset has no studies).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct StudyResults {
    /// Figure 4.
    pub exponents: Option<ExponentStudy>,
    /// Figure 5a (main sweep, one row per architecture and optimizer).
    pub architectures: Vec<ArchitectureRow>,
    /// Spearman correlation over the architecture rows of one optimizer between mean LLC and
    /// mean test error, with the bootstrap interval over runs (resampling seeds within each
    /// architecture): `(optimizer, correlation)`.
    pub architecture_correlation: Vec<(crate::optim::OptimizerKind, Option<Correlation>)>,
    /// The batch-size scan.
    pub batch_scan: Vec<BatchRow>,
    /// The LLC scale scan.
    pub scale_scan: Option<ScaleScan>,
    /// The Moons posterior test (when the preset runs it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moons: Option<crate::moons::MoonsResult>,
    /// The shared-initialisation ensembles: drift versus diffusion, rival predictions on
    /// held-out steps, the headline verdicts (when the preset runs them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ensembles: Option<crate::drift::EnsembleStudy>,
    /// The LLC at the paper's `n_beta = n / ln n` on the final checkpoint of every main-sweep
    /// run (when the preset estimates it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paper_nbeta: Option<PaperNbetaStudy>,
}

/// LLC estimates at the paper's inverse temperature `n_beta = n / ln n`, for the comparison
/// with the published values (which use it).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct PaperNbetaStudy {
    /// The estimator, in words.
    pub setting: String,
    /// One estimate per main-sweep run.
    pub estimates: Vec<PaperNbetaEstimate>,
    /// Per optimizer, beside the published value.
    pub rows: Vec<PaperNbetaRow>,
    /// The checks an estimate must pass to be usable.
    pub thresholds: LlcThresholds,
}

/// The estimates at the paper's `n_beta` of one optimizer.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PaperNbetaRow {
    /// `sgd` or `adam`.
    pub optimizer: crate::optim::OptimizerKind,
    /// Runs estimated.
    pub runs: usize,
    /// Usable estimates (positive, passing the checks).
    pub usable: usize,
    /// Negative estimates (the checkpoint is not at a minimum).
    pub negative: usize,
    /// Mean of the usable estimates (`None`: none usable).
    pub mean: Option<f64>,
    /// Their standard deviation across runs (`None`: fewer than 2).
    pub std: Option<f64>,
    /// The published LLC, mean and std (SPEC 3).
    pub published: Option<(f64, f64)>,
}

impl PaperNbetaRow {
    /// The row of `optimizer` from `estimates` (`None`: no estimate of it).
    pub fn of(
        optimizer: crate::optim::OptimizerKind,
        estimates: &[PaperNbetaEstimate],
    ) -> Option<PaperNbetaRow> {
        let all: Vec<&PaperNbetaEstimate> = estimates
            .iter()
            .filter(|e| e.optimizer == optimizer)
            .collect();
        if all.is_empty() {
            return None;
        }
        let ok: Vec<f64> = all
            .iter()
            .filter(|e| e.usable)
            .map(|e| e.llc_mean)
            .collect();
        let mean = (!ok.is_empty()).then(|| crate::analysis::stats::mean(&ok));
        let std = (ok.len() > 1).then(|| crate::analysis::stats::std_dev(&ok));
        Some(PaperNbetaRow {
            optimizer,
            runs: all.len(),
            usable: ok.len(),
            negative: all.iter().filter(|e| e.llc_mean <= 0.0).count(),
            mean,
            std,
            published: crate::analysis::across::published_values(optimizer).map(|p| (p.2, p.3)),
        })
    }
}

/// One LLC estimate at the paper's `n_beta` on a run's final checkpoint.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PaperNbetaEstimate {
    /// Run identifier.
    pub id: String,
    /// Architecture.
    pub arch: String,
    /// `sgd` or `adam`.
    pub optimizer: crate::optim::OptimizerKind,
    /// Step of the checkpoint.
    pub step: u64,
    /// The `n_beta` used (`n / ln n`).
    pub n_beta: f64,
    /// The estimate (mean over chains).
    pub llc_mean: f64,
    /// Its standard deviation over chains.
    pub llc_std: f64,
    /// Split R-hat of the per-draw loss.
    pub rhat: Option<f64>,
    /// Bulk effective sample size.
    pub ess_bulk: Option<f64>,
    /// MALA acceptance probability of the SGLD proposals.
    pub acceptance: Option<f64>,
    /// The estimate is positive and passes the estimator's checks (R-hat, bulk ESS,
    /// acceptance): a negative estimate means the chains found lower loss than `L(w*)`, so the
    /// checkpoint is not at a minimum and the LLC is not defined there.
    pub usable: bool,
}
