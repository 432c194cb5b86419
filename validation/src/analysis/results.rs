//! The analysis's own output types: what is measured and derived for one run, and the FFPE
//! comparisons of it (all part of `results.json`).

use crate::analysis::exponent::{DisplacementFit, Windows};
use crate::analysis::gamma_law::GammaLawTest;
use crate::analysis::stats::{ConfidenceInterval, GrowthModelComparison};
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
    pub optimizer: crate::optim::OptimizerKind,
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
    /// Final LLC (mean of the last 10 estimates, the SPEC's definition).
    pub final_llc: f64,
    /// First and last step of the estimates averaged in `final_llc`: on a geometric LLC
    /// schedule the last 10 estimates reach far back from the end of training.
    #[serde(default)]
    pub final_llc_steps: Option<(f64, f64)>,
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
    /// Trapezoid time average (in `t`) of the LLC estimates over the late window
    /// ([`super::run::lambda_bar`]); not the unweighted mean of the estimates.
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
