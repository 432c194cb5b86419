//! Analysis of measured trajectories: the quantities of SPEC sections 1.3 and 1.4.
//!
//! Every function here is pure (numbers in, numbers out) and tested on synthetic data with
//! known answers. The workflow for one run is
//!
//! 1. [`exponent::find_windows`]: split the log-log displacement curve `R(t)` into an early
//!    and a late window at the change point of the local slope;
//! 2. [`exponent::fit_displacement`]: OLS slope `s` of `log R` on `log t` with r^2 and a
//!    block-bootstrap confidence interval;
//! 3. [`stats::compare_growth_models`]: power law versus `ln t` versus Brownian `t^(1/2)` by AIC;
//! 4. [`theory::FractalQuantities`]: `d_s = 2 lambda_bar s`, `nu = 1/s`, `caputo_alpha = 2 s`,
//!    `log D_xi`, and the bound `d_s <= lambda_bar` (equivalently `s <= 1/2`);
//! 5. [`gamma_law::test_gamma_law`]: the excess losses against a Gamma law whose shape is the LLC;
//! 6. [`pca::principal_directions`]: the top principal directions of the weight trajectory.
//!
//! Across runs, [`across`] gives bootstrap correlations, the exponent histogram and the
//! SGD-versus-Adam table.

pub mod across;
pub mod aging;
pub mod burn_in;
pub mod ensemble;
pub mod exponent;
pub mod ffpe_predict;
pub mod gamma_law;
pub mod llc_truth;
pub mod mala;
pub mod mcmc;
pub mod ou_rival;
pub mod pca;
pub mod resampling;
pub mod results;
pub mod run;
pub mod stationarity;
pub mod stats;
pub mod studies;
pub mod theory;
pub mod verdict_rules;

/// Errors of the analysis functions. They name the input and the allowed range.
#[non_exhaustive]
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum AnalysisError {
    /// Too few points for the requested fit.
    #[error("{what}: need at least {needed} points, got {got}")]
    TooFewPoints {
        /// Which input.
        what: &'static str,
        /// Minimum number of points.
        needed: usize,
        /// Number of points given.
        got: usize,
    },
    /// Two inputs that must have equal lengths differ.
    #[error("{what}: lengths differ ({left} vs {right})")]
    LengthMismatch {
        /// Which inputs.
        what: &'static str,
        /// First length.
        left: usize,
        /// Second length.
        right: usize,
    },
    /// A value outside its allowed range (NaN, non-positive where positivity is required, ...).
    #[error("{what}: value {value} is outside the allowed range {allowed}")]
    OutOfRange {
        /// Which input.
        what: &'static str,
        /// The offending value.
        value: f64,
        /// The allowed range, in words.
        allowed: &'static str,
    },
    /// The data are degenerate for this fit (for example all x equal).
    #[error("{what}: degenerate data ({why})")]
    Degenerate {
        /// Which fit.
        what: &'static str,
        /// Why.
        why: &'static str,
    },
}

/// Result alias of the analysis module.
pub type Result<T> = std::result::Result<T, AnalysisError>;
