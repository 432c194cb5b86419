//! The error type of `ffpe-solvers`.
//!
//! Every fallible entry point returns [`Result`]; user data never causes a panic.
//! Each variant names the offending quantity and the allowed range.

/// Errors of the fractional-calculus kernels.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum SolverError {
    /// The fractional order is outside the supported range.
    #[error("invalid fractional order alpha = {alpha}: allowed range is {allowed}")]
    InvalidOrder {
        /// The rejected order.
        alpha: f64,
        /// The allowed range, in words (for example `0 < alpha <= 1`).
        allowed: &'static str,
    },
    /// A Mittag-Leffler parameter or argument is invalid (NaN, out of range).
    #[error("invalid Mittag-Leffler input {name} = {value}: {reason}")]
    InvalidArgument {
        /// The name of the parameter (`a`, `b`, `z`, ...).
        name: &'static str,
        /// The rejected value (real part for complex arguments).
        value: f64,
        /// Why it was rejected and what is allowed.
        reason: &'static str,
    },
    /// A time mesh is invalid.
    #[error("invalid time mesh: {reason}")]
    InvalidMesh {
        /// What is wrong with the mesh, naming the field and the allowed range.
        reason: String,
    },
    /// A vector or matrix has the wrong length or shape.
    #[error("dimension mismatch for {what}: expected {expected}, got {got}")]
    DimensionMismatch {
        /// Which quantity has the wrong size.
        what: &'static str,
        /// The expected size.
        expected: usize,
        /// The size that was passed.
        got: usize,
    },
    /// A tolerance or other numerical parameter is out of range.
    #[error("invalid parameter {name} = {value}: {reason}")]
    InvalidParameter {
        /// The name of the parameter.
        name: &'static str,
        /// The rejected value.
        value: f64,
        /// The allowed range.
        reason: &'static str,
    },
    /// A history evaluator cannot be used on this mesh (for example FFT on a non-uniform mesh).
    #[error("history evaluator {kind} is not applicable: {reason}")]
    HistoryNotApplicable {
        /// The evaluator.
        kind: &'static str,
        /// Why it cannot be used.
        reason: &'static str,
    },
    /// A sparse factorization failed (structurally or numerically singular matrix).
    #[error("singular system at step {step}: {reason}")]
    Singular {
        /// The time index at which the factorization failed.
        step: usize,
        /// The reason reported by the factorization.
        reason: String,
    },
    /// Stepping past the end of the mesh.
    #[error("the stepper already reached the final time (step {steps} of {steps})")]
    Finished {
        /// Number of steps of the mesh.
        steps: usize,
    },
    /// A nonlinear solve did not converge.
    #[error(
        "Newton iteration did not converge at step {step} (residual {residual:e} after {iterations} iterations)"
    )]
    NoConvergence {
        /// The time index.
        step: usize,
        /// The last residual norm.
        residual: f64,
        /// The number of iterations performed.
        iterations: usize,
    },
    /// An iterative linear solve of an implicit step failed (no convergence, breakdown).
    #[error("linear solve failed at step {step}: {reason}")]
    LinearSolve {
        /// The time index.
        step: usize,
        /// What went wrong.
        reason: String,
    },
    /// A right-hand side or state became non-finite.
    #[error("non-finite value in {what} at step {step}")]
    NonFinite {
        /// Which quantity.
        what: &'static str,
        /// The time index.
        step: usize,
    },
}

/// Result alias of the crate.
pub type Result<T> = std::result::Result<T, SolverError>;

/// Check `0 < alpha <= 1` (the Caputo L1 range).
pub(crate) fn check_order(alpha: f64) -> Result<()> {
    if alpha.is_finite() && alpha > 0.0 && alpha <= 1.0 {
        Ok(())
    } else {
        Err(SolverError::InvalidOrder {
            alpha,
            allowed: "0 < alpha <= 1",
        })
    }
}
