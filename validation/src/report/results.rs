//! The data model of `results.json`: every number of the report lives here first.

use crate::analysis::across::{Histogram, OptimizerRow, Proportion};
use crate::analysis::exponent::{DisplacementFit, Windows};
use crate::analysis::gamma_law::GammaLawTest;
use crate::analysis::stats::{ConfidenceInterval, Correlation, GrowthModelComparison};
use crate::analysis::theory::FractalQuantities;
use serde::{Deserialize, Serialize};

/// The FFPE's out-of-sample prediction of `R(t)` on the second half of the late window.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DisplacementPrediction {
    /// `reduced_landscape` (loss along the top principal directions) or `normal_crossing`
    /// (a separable power / normal-crossing potential whose LLC equals `lambda_bar`).
    pub model: String,
    /// Fitted Caputo order.
    pub caputo_alpha: f64,
    /// Fitted diffusion coefficient `D` (model units).
    pub diffusion: f64,
    /// Friction `gamma` (`D / T` with `T` the temperature).
    pub gamma: f64,
    /// Temperature `T = D / gamma` used for the model (from the Gamma-law fit where available).
    pub temperature: f64,
    /// Time of the window start (model time 0).
    pub t_origin: f64,
    /// Steps of the fit half.
    pub fit_times: Vec<f64>,
    /// Steps of the test half.
    pub test_times: Vec<f64>,
    /// Measured `R(t)` on the fit half.
    pub measured_fit: Vec<f64>,
    /// Measured `R(t)` on the test half.
    pub measured_test: Vec<f64>,
    /// FFPE-predicted `R(t)` on the fit half (in-sample).
    pub predicted_fit: Vec<f64>,
    /// FFPE-predicted `R(t)` on the test half (out of sample).
    pub predicted_test: Vec<f64>,
    /// Naive power-law extrapolation (fit on the first half) on the test half.
    pub naive_test: Vec<f64>,
    /// Root-mean-square error of `ln R` of the FFPE on the fit half.
    pub fit_rmse_log: f64,
    /// Root-mean-square error of `ln R` of the FFPE on the test half.
    pub test_rmse_log: f64,
    /// Root-mean-square error of `ln R` of the naive extrapolation on the test half.
    pub naive_test_rmse_log: f64,
    /// Whether the FFPE's test error is below the naive one.
    pub beats_naive: bool,
    /// Number of FFPE solves used by the fit.
    pub solves: usize,
}

/// Histogram of projected weights against the FFPE steady state of the reduced landscape.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SteadyStateComparison {
    /// Bin centres along the first principal direction.
    pub centres: Vec<f64>,
    /// Histogram density of the projected late-window weights.
    pub measured_density: Vec<f64>,
    /// FFPE steady-state marginal density (`exp(-gamma L / D)`, solved by the core solver).
    pub ffpe_density: Vec<f64>,
    /// L1 distance between the two densities (0 = identical, 2 = disjoint).
    pub l1_distance: f64,
    /// Temperature used.
    pub temperature: f64,
    /// Fraction of trajectory variance along the first direction.
    pub explained_variance: f64,
}

/// FFPE comparisons of one run.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct FfpeComparison {
    /// Out-of-sample displacement predictions (one per model).
    pub predictions: Vec<DisplacementPrediction>,
    /// Projected-weights histogram against the steady state.
    pub steady_state: Option<SteadyStateComparison>,
}

/// Everything measured and derived for one training run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RunAnalysis {
    /// Run identifier (`<arch>_<optimizer>_s<seed>`).
    pub id: String,
    /// Architecture, for example `784-32-10`.
    pub arch: String,
    /// `sgd` or `adam`.
    pub optimizer: String,
    /// Seed.
    pub seed: u64,
    /// Number of trainable parameters.
    pub n_params: usize,
    /// Training steps.
    pub steps: u64,
    /// Final test accuracy, per cent.
    pub test_accuracy: f64,
    /// Final test loss.
    pub test_loss: f64,
    /// Final LLC (mean of the last 10 estimates).
    pub final_llc: f64,
    /// `R` at the last checkpoint.
    pub final_displacement: f64,
    /// Early/late windows.
    pub windows: Option<Windows>,
    /// Exponent over the early window.
    pub early_fit: Option<DisplacementFit>,
    /// Exponent over the late window (the default for theory checks).
    pub late_fit: Option<DisplacementFit>,
    /// Power law versus log versus Brownian on the late window.
    pub growth_models: Option<GrowthModelComparison>,
    /// Mean LLC over the late window.
    pub lambda_bar: f64,
    /// Block-bootstrap interval of `lambda_bar`.
    pub lambda_bar_ci: Option<ConfidenceInterval>,
    /// Fractal relations on the late window.
    pub theory: Option<FractalQuantities>,
    /// Loss-level (Gamma law) test.
    pub gamma_law: Option<GammaLawTest>,
    /// FFPE comparisons.
    pub ffpe: FfpeComparison,
    /// Analysis steps that could not be done, with the reason.
    pub notes: Vec<String>,
}

/// Exponents of one (architecture, optimizer) group across seeds.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct GroupSummary {
    /// Architecture.
    pub arch: String,
    /// Optimizer.
    pub optimizer: String,
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

/// The verdict on one claim.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The data support the claim within their uncertainty.
    Supported,
    /// The data contradict the claim.
    Contradicted,
    /// The uncertainty is too large, or the evidence is mixed.
    Inconclusive,
    /// The check could not be run (reason in the evidence).
    NotTested,
}

impl Verdict {
    /// Words for the report.
    pub fn words(self) -> &'static str {
        match self {
            Verdict::Supported => "supported",
            Verdict::Contradicted => "contradicted",
            Verdict::Inconclusive => "inconclusive",
            Verdict::NotTested => "not tested",
        }
    }
}

/// One claim of the theory with its verdict.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Claim {
    /// Short identifier.
    pub id: String,
    /// The claim in words.
    pub statement: String,
    /// Verdict.
    pub verdict: Verdict,
    /// The evidence in words, with numbers and intervals (all of them also in this file).
    pub evidence: String,
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
    pub optimizers: Vec<String>,
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
    /// Minibatch size.
    pub batch_size: usize,
    /// The paper whose claims are tested (title, authors, arXiv number).
    #[serde(default)]
    pub paper: String,
    /// What the preset is for: a smoke run (tiny, quick) or a result (medium, paper).
    #[serde(default)]
    pub preset_note: String,
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
    pub studies: crate::analysis::studies::StudyResults,
    /// Files written, relative to the output directory.
    pub files: Vec<String>,
}
