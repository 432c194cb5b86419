//! # Curvature and gradient noise of a fully connected ReLU network, in `f64`
//!
//! The rival model of SPEC 3.1 (Kunin et al. 2021) predicts the SGD ensemble covariance from
//! the Hessian eigenvalues `h_i` and the gradient-noise variances `c_i` in the Hessian
//! eigenbasis. This module measures both, on the CPU and in double precision, independently of
//! candle:
//!
//! - [`mlp`]: a plain description of the network `Linear(784, h1) -> ReLU -> ... ->
//!   Linear(h_k, 10)` ([`Mlp`]) with all parameters in one flat `Vec<f64>` in PyTorch order;
//!   mean cross-entropy [`Mlp::loss`], its gradient [`Mlp::loss_grad`] (backprop), the **exact**
//!   Hessian-vector product [`Mlp::hvp`] (Pearlmutter's R-operator) and per-sample gradients
//!   [`Mlp::per_sample_grads`]. Samples are processed in chunks of [`mlp::CHUNK`] rows split
//!   over a fixed number of parts (rayon), so memory is bounded and every result is
//!   bit-identical whatever the number of threads.
//! - [`lanczos`]: Lanczos with full reorthogonalisation for any symmetric operator given as a
//!   closure, the top-k eigenpairs ([`lanczos_top_k`]); the tridiagonal eigenproblem is solved by
//!   implicit QL ([`tridiagonal_eigen`]).
//! - [`slq`](mod@slq): stochastic Lanczos quadrature ([`slq()`]): the spectral density of the Hessian,
//!   `tr H` and `tr H^2`, as PyHessian computes them.
//! - [`noise`]: the per-sample gradient covariance `C` projected on given directions
//!   ([`gradient_noise`]), streaming; a minibatch of size `B` has gradient covariance `C / B`.
//!
//! Workflow: build an [`Mlp`] from the layer sizes, take the flat parameters of a checkpoint,
//! wrap the data in a [`Batch`], get the operator `v -> H v` from [`Mlp::hessian`], hand it to
//! [`lanczos_top_k`] for the top eigenpairs and to [`slq()`] for the bulk, and project the
//! gradient noise on the eigenvectors with [`gradient_noise`].
//!
//! ```
//! # use ffpe_validation::curvature::{Batch, LanczosConfig, Mlp, lanczos_top_k, gradient_noise};
//! let mlp = Mlp::new(&[4, 3, 2])?;
//! let params: Vec<f64> = (0..mlp.n_params()).map(|i| ((i * 7 % 11) as f64 - 5.0) / 10.0).collect();
//! let x = [0.1f32, -0.2, 0.3, 0.4, -0.5, 0.6, 0.7, -0.8];
//! let y = [0u8, 1];
//! let data = Batch::new(&x, &y, 4)?;
//! let h = mlp.hessian(&params, data)?;
//! let top = lanczos_top_k(h.dim(), |v, out| h.apply(v, out), &LanczosConfig { k: 2, ..Default::default() })?;
//! let noise = gradient_noise(&mlp, &params, data, &top.vectors)?;
//! assert_eq!(noise.projected.len(), top.values.len());
//! # Ok::<(), ffpe_validation::curvature::CurvatureError>(())
//! ```
//!
//! Errors are [`CurvatureError`]: wrong lengths, labels out of range, bad configurations and a
//! tridiagonal eigensolver that does not converge. Nothing here panics on user data, except
//! [`Hessian::apply`], whose slice lengths are those of the operator (as for slice indexing).

pub mod lanczos;
pub mod measure;
pub mod mlp;
pub mod noise;
mod rng;
pub mod slq;
#[cfg(test)]
mod tests;

pub use lanczos::{LanczosConfig, LanczosResult, LanczosStop, lanczos_top_k, tridiagonal_eigen};
pub use measure::{HessianConfig, HessianReport, measure};
pub use mlp::{Batch, Hessian, Input, Label, Mlp};
pub use noise::{NoiseAccumulator, NoiseStats, gradient_noise, minibatch_noise_norms};
pub use slq::{SlqConfig, SlqResult, slq};

/// What can go wrong in [`crate::curvature`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CurvatureError {
    /// A slice has the wrong length.
    #[error("{what} has length {found}, expected {expected}")]
    Length {
        /// Which argument.
        what: &'static str,
        /// The length it must have.
        expected: usize,
        /// The length it has.
        found: usize,
    },
    /// A label is not a class of the network's output layer.
    #[error("label {label} of sample {sample} is out of range: the network has {classes} classes")]
    Label {
        /// The sample index.
        sample: usize,
        /// Its label.
        label: usize,
        /// The number of outputs of the network.
        classes: usize,
    },
    /// A configuration value is out of range.
    #[error("invalid {field} = {value}: {allowed}")]
    InvalidConfig {
        /// The field name.
        field: &'static str,
        /// The offending value.
        value: String,
        /// The allowed range.
        allowed: &'static str,
    },
    /// The operator returned a NaN or an infinity.
    #[error("{what} is not finite (the operator returned a NaN or an infinity)")]
    NonFinite {
        /// Which quantity.
        what: &'static str,
    },
    /// The implicit QL iteration on a tridiagonal matrix did not converge.
    #[error(
        "tridiagonal eigensolver: no convergence for eigenvalue {index} after {iterations} sweeps"
    )]
    NoConvergence {
        /// Index of the eigenvalue being isolated.
        index: usize,
        /// Sweeps spent on it.
        iterations: usize,
    },
}

/// Result type of [`crate::curvature`].
pub type Result<T> = std::result::Result<T, CurvatureError>;

/// `sum_i a_i b_i` with four accumulators (lets the compiler vectorise the reduction).
#[inline]
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    let n4 = a.len() / 4 * 4;
    let (mut s0, mut s1, mut s2, mut s3) = (0.0, 0.0, 0.0, 0.0);
    for (ca, cb) in a[..n4].chunks_exact(4).zip(b[..n4].chunks_exact(4)) {
        s0 += ca[0] * cb[0];
        s1 += ca[1] * cb[1];
        s2 += ca[2] * cb[2];
        s3 += ca[3] * cb[3];
    }
    let mut s = (s0 + s1) + (s2 + s3);
    for (x, y) in a[n4..].iter().zip(&b[n4..]) {
        s += x * y;
    }
    s
}

/// `y += alpha x`.
#[inline]
pub(crate) fn axpy(alpha: f64, x: &[f64], y: &mut [f64]) {
    debug_assert_eq!(x.len(), y.len());
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += alpha * xi;
    }
}

/// Checks a slice length.
pub(crate) fn check_len(what: &'static str, expected: usize, found: usize) -> Result<()> {
    if expected == found {
        Ok(())
    } else {
        Err(CurvatureError::Length {
            what,
            expected,
            found,
        })
    }
}
