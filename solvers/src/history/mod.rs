//! History evaluators for the L1 sum.
//!
//! The L1 formula splits into the new increment and the history:
//!
//! ```text
//! D^a u(t_n) ~= c_n (u^n - u^{n-1}) + h_n,
//! h_n = 1/Gamma(2-a) sum_{k=1}^{n-1} a_{n,k} (u^k - u^{k-1}) / tau_k.
//! ```
//!
//! Three evaluators implement [`HistoryEvaluator`]:
//!
//! | type | mesh | work per step | memory | accuracy |
//! |---|---|---|---|---|
//! | [`Direct`] | any | `O(n dim)` | `O(N dim)` | round-off (the oracle) |
//! | [`Soe`] | any | `O(N_exp dim)` | `O(N_exp dim)` | user tolerance (relative to the kernel) |
//! | [`Fft`] | uniform | `O(dim log^2 n)` amortised | `O(N dim)` | round-off |
//!
//! The L2-1sigma scheme ([`crate::caputo::Scheme::L21Sigma`]) has its own history,
//! [`L21SigmaHistory`] (direct or SOE, built from the same [`HistoryKind`]).
//!
//! Protocol: for each step `n = 1..N`, call [`HistoryEvaluator::history_into`]`(n, out)`
//! (any number of times), solve for `u^n`, then [`HistoryEvaluator::push_increment`]`(n, delta)`.

mod direct;
mod fft;
mod l21sigma;
mod soe;

pub use direct::Direct;
pub use fft::Fft;
pub use l21sigma::L21SigmaHistory;
pub use soe::{Soe, soe_exponentials};

use crate::caputo::TimeMesh;
use crate::error::{Result, SolverError, check_order};

/// Evaluates the L1 history term `h_n` step by step.
pub trait HistoryEvaluator: Send {
    /// Write `h_n` into `out` (len = dim) for step `n >= 1` (zero for `n = 1`).
    /// Requires the increments of steps `1..n-1` to have been pushed.
    fn history_into(&mut self, n: usize, out: &mut [f64]);
    /// Record the increment `u^n - u^{n-1}` once step `n` is solved (len = dim).
    fn push_increment(&mut self, n: usize, delta: &[f64]);
    /// Work and memory statistics (terms evaluated, exponentials used, bytes).
    fn stats(&self) -> HistoryStats;
}

/// Work and memory statistics of a history evaluator.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct HistoryStats {
    /// Number of kernel-times-vector terms evaluated (per component counted once).
    pub terms: u64,
    /// Number of exponentials in the sum-of-exponentials approximation (0 for others).
    pub exponentials: usize,
    /// Bytes of history storage.
    pub bytes: usize,
}

/// Which history evaluator to build.
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize, PartialEq)]
pub enum HistoryKind {
    /// Direct `O(n)` sum: exact to round-off, the oracle.
    Direct,
    /// Sum-of-exponentials fast L1 with the given relative kernel tolerance (e.g. `1e-12`).
    Soe {
        /// Relative tolerance of the exponential-sum approximation of the kernel,
        /// `1e-15 <= tolerance <= 1e-2`.
        tolerance: f64,
    },
    /// FFT block convolution (uniform meshes only).
    Fft,
}

impl Default for HistoryKind {
    fn default() -> Self {
        HistoryKind::Soe { tolerance: 1e-12 }
    }
}

/// Build a history evaluator of the given kind for a system of size `dim`.
///
/// ```
/// use ffpe_solvers::caputo::TimeMesh;
/// use ffpe_solvers::history::{build_history, HistoryKind};
/// let mesh = TimeMesh::uniform(1.0, 8)?;
/// let mut h = build_history(HistoryKind::Direct, &mesh, 0.5, 1)?;
/// let mut out = [1.0];
/// h.history_into(1, &mut out);
/// assert_eq!(out[0], 0.0); // no history before the first step
/// h.push_increment(1, &[1.0]);
/// h.history_into(2, &mut out);
/// assert!(out[0] > 0.0);
/// # Ok::<(), ffpe_solvers::SolverError>(())
/// ```
pub fn build_history(
    kind: HistoryKind,
    mesh: &TimeMesh,
    alpha: f64,
    dim: usize,
) -> Result<Box<dyn HistoryEvaluator>> {
    Ok(match kind {
        HistoryKind::Direct => Box::new(Direct::new(mesh, alpha, dim)?),
        HistoryKind::Soe { tolerance } => Box::new(Soe::new(mesh, alpha, dim, tolerance)?),
        HistoryKind::Fft => Box::new(Fft::new(mesh, alpha, dim)?),
    })
}

pub(crate) fn check_common(alpha: f64, dim: usize) -> Result<()> {
    check_order(alpha)?;
    if dim == 0 {
        return Err(SolverError::DimensionMismatch {
            what: "history dimension",
            expected: 1,
            got: 0,
        });
    }
    Ok(())
}

/// The caller contract of [`HistoryEvaluator::push_increment`], shared by every evaluator:
/// `delta` has the state's length and steps arrive in order (`n = pushed + 1`).
///
/// # Panics
/// On a broken contract (a caller bug, never user data).
pub(crate) fn check_push(dim: usize, pushed: usize, n: usize, delta: &[f64]) {
    assert_eq!(delta.len(), dim, "push_increment: delta has wrong length");
    assert_eq!(
        n,
        pushed + 1,
        "push_increment: steps must be pushed in order"
    );
}

/// `sum_i w_i h_i` with four independent accumulators (the scalar history sums are
/// latency-bound with one), combined as `(a0 + a1) + (a2 + a3) + tail`; the order of the
/// operations is fixed, so the bits are too. Plain multiply-add, not `mul_add`: on the
/// x86-64 baseline (no `fma` target feature) `mul_add` is a libm call per term, which
/// costs more than the sum it was meant to speed up (issue 13 profile, BENCHMARKS.md).
#[inline]
pub(crate) fn dot4(w: &[f64], h: &[f64]) -> f64 {
    let mut acc = [0.0_f64; 4];
    let mut wc = w.chunks_exact(4);
    let mut hc = h.chunks_exact(4);
    for (w4, h4) in (&mut wc).zip(&mut hc) {
        for j in 0..4 {
            acc[j] += w4[j] * h4[j];
        }
    }
    let tail: f64 = wc
        .remainder()
        .iter()
        .zip(hc.remainder())
        .map(|(w, h)| w * h)
        .sum();
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}
