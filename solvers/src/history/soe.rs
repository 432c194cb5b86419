//! Sum-of-exponentials ("fast L1") history, any mesh.
//!
//! The history is the convolution of the piecewise-constant L1 derivative with the kernel
//! `(t_n - s)^(-a) / Gamma(1-a)` over `[0, t_{n-1}]`, where `t_n - s >= tau_n >= tau_min`.
//! On `[tau_min, T]` the kernel is replaced by a sum of exponentials
//!
//! ```text
//! t^(-a) = 1/Gamma(a) int_R exp(-t e^x(y) + a x(y)) x'(y) dy ~= sum_i w_i exp(-s_i t),
//! x(y) = y - e^(-y)   (McLean 2018: double-exponential decay of the lower tail),
//! ```
//!
//! discretised by the trapezoid rule in `y`; the step `h` is refined until the relative
//! error, checked on a log-spaced sample of `[tau_min, T]`, is below the user tolerance.
//! Each exponential then obeys the exact recurrence (Jiang, Zhang, Zhang and Zhang 2017)
//!
//! ```text
//! H_i(n+1) = e^(-s_i tau_{n+1}) (H_i(n) + g_n (1 - e^(-s_i tau_n)) / s_i),  g_n = (u^n - u^{n-1})/tau_n,
//! ```
//!
//! with `1 - e^(-x)` evaluated as `-expm1(-x)` (no cancellation for tiny `x = s_i tau_n`,
//! the trap that makes one public fast-L1 code diverge on strongly graded meshes), and
//! `h_n = 1/Gamma(1-a) sum_i w_i H_i(n)`.
//!
//! Error bound: `|h_n^soe - h_n| <= tol * 1/Gamma(2-a) sum_k a_{n,k} |u^k - u^{k-1}| / tau_k`.

use super::{HistoryEvaluator, HistoryStats, check_common};
use crate::caputo::{TimeMesh, gamma};
use crate::error::{Result, SolverError};

/// Sum-of-exponentials history evaluator (fast L1): `O(N_exp dim)` work and memory per step.
#[derive(Clone, Debug)]
pub struct Soe {
    steps: Vec<f64>,
    dim: usize,
    /// Exponents `s_i` (sorted ascending; `0` allowed for the merged constant term).
    s: Vec<f64>,
    /// Weights `w_i / Gamma(1-a)`.
    w: Vec<f64>,
    /// `1 / s_i` (0 for `s_i = 0`).
    inv_s: Vec<f64>,
    /// State `H_i` (row-major: `i * dim + c`), holding `H(pushed + 1)`.
    state: Vec<f64>,
    /// Scratch: `expm1(-s_i tau)` for the current step.
    em1: Vec<f64>,
    /// Uniform meshes: constant `expm1(-s_i tau)`.
    uniform: bool,
    pushed: usize,
    terms: u64,
    tolerance: f64,
}

/// The end `y` of the trapezoid rule with `x(y) = y - e^(-y) >= x_hi`. For `x_hi >= 0`
/// the first fixed-point iterate `x_hi + e^(-x_hi)` (a slight overestimate, `x(y) ~ y`);
/// for `x_hi < 0` (steps `delta` above `v_hi`, as for `t_end = 1e9`) that iterate is
/// `e^(|x_hi|)`, far too large (hundreds of thousands of nodes), so the root is found by
/// bisection and its upper bracket taken.
fn upper_node(x_hi: f64) -> f64 {
    if x_hi >= 0.0 {
        return x_hi + 1e-300_f64.max((-x_hi).exp());
    }
    let (mut lo, mut hi) = (-60.0_f64, 0.0_f64);
    if hi - (-hi).exp() < x_hi {
        return hi;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid - (-mid).exp() < x_hi {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

/// Number of exponentials `N_exp` of the SOE history ([`Soe`], and the L2-1sigma SOE
/// history) for order `alpha`, smallest step `delta`, final time `t_end` and `tolerance`:
/// the kernel is built (a few thousand exponentials, no storage per unknown), so a
/// caller can budget the `N_exp x dim` history storage before allocating it. Invalid
/// arguments give 0 (the evaluator's constructor reports them).
pub fn soe_exponentials(alpha: f64, delta: f64, t_end: f64, tolerance: f64) -> usize {
    let ok = alpha.is_finite()
        && alpha > 0.0
        && delta.is_finite()
        && delta > 0.0
        && t_end.is_finite()
        && t_end > 0.0
        && check_tolerance(tolerance).is_ok();
    if !ok {
        return 0;
    }
    soe_kernel(alpha, delta.min(t_end), t_end, tolerance)
        .0
        .len()
}

/// Trapezoid SOE nodes for `t^(-a)` on `[delta, t_end]` with step `h`.
fn nodes(alpha: f64, delta: f64, t_end: f64, tol: f64, h: f64) -> (Vec<f64>, Vec<f64>) {
    let ga = gamma(alpha);
    // Lower tail: int_{-inf}^{y_lo} e^{a x} x' dy = e^{a x(y_lo)}/a <= 0.05 tol Gamma(a) T^-a.
    let x_lo = ((0.05 * tol * alpha * ga).ln() - alpha * t_end.ln()) / alpha;
    // Solve y - e^{-y} = x_lo (x_lo < 0 typically) by bisection on [-60, 60].
    let (mut lo, mut hi) = (-60.0_f64, 60.0_f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid - (-mid).exp() < x_lo {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let y_lo = lo;
    // Upper tail: e^{-v} v^{a-1} <= 0.05 tol Gamma(a) with v = delta e^x.
    let v_hi = (20.0 / tol).ln() + 3.0;
    let x_hi = (v_hi / delta).ln();
    let y_hi = upper_node(x_hi);
    // at least one interval; the count is finite: y_hi and y_lo lie in [-60, 60 + 1]
    let m = ((y_hi - y_lo).max(h) / h).ceil() as usize + 1;
    let mut s = Vec::with_capacity(m);
    let mut w = Vec::with_capacity(m);
    for j in 0..=m {
        let y = y_lo + j as f64 * h;
        let e = (-y).exp();
        let x = y - e;
        s.push(x.exp());
        w.push(h * (1.0 + e) * (alpha * x).exp() / ga);
    }
    (s, w)
}

/// Max relative error of the SOE on a log-spaced sample of `[delta, t_end]`, or the first
/// sampled error above `stop` (the caller only compares the result with `stop`, so the
/// scan ends there: the rejected tries of [`soe_kernel`] cost a fraction of a full scan).
/// `s` is sorted ascending, so the terms with `s_i t > 745` (exactly `0` in f64, adding
/// nothing to the sum) are a suffix and are not evaluated.
fn max_rel_error(alpha: f64, delta: f64, t_end: f64, s: &[f64], w: &[f64], stop: f64) -> f64 {
    let samples = 400;
    let (l0, l1) = (delta.ln(), t_end.ln());
    let mut err: f64 = 0.0;
    for q in 0..=samples {
        let t = (l0 + (l1 - l0) * q as f64 / samples as f64).exp();
        let k = s.partition_point(|&si| si * t <= 745.0);
        let approx: f64 = s[..k]
            .iter()
            .zip(&w[..k])
            .map(|(si, wi)| wi * (-si * t).exp())
            .sum();
        let exact = t.powf(-alpha);
        err = err.max(((approx - exact) / exact).abs());
        if err > stop {
            break;
        }
    }
    err
}

/// Merge exponentials that are constant to within `tol` on `[0, t_end]` into one `s = 0` term.
fn merge_small(s: Vec<f64>, w: Vec<f64>, t_end: f64, tol: f64) -> (Vec<f64>, Vec<f64>) {
    let mut s2 = vec![0.0];
    let mut w2 = vec![0.0];
    for (si, wi) in s.into_iter().zip(w) {
        if si * t_end < 1e-3 * tol {
            w2[0] += wi;
        } else {
            s2.push(si);
            w2.push(wi);
        }
    }
    if w2[0] <= 0.0 {
        s2.remove(0);
        w2.remove(0);
    }
    (s2, w2)
}

/// Exponents `s_i` and weights `w_i` (divided by `Gamma(1-a)`) with
/// `sum_i w_i e^(-s_i t) ~= t^(-a) / Gamma(1-a)` to relative error `tolerance` on
/// `[delta, t_end]`: the trapezoid rule of the module docs, `h` refined until the sampled
/// error is below `tolerance / 2`. Empty for `alpha >= 1` (no memory). Shared by the L1
/// ([`Soe`]) and L2-1sigma ([`super::L21SigmaHistory`]) fast histories.
pub(crate) fn soe_kernel(
    alpha: f64,
    delta: f64,
    t_end: f64,
    tolerance: f64,
) -> (Vec<f64>, Vec<f64>) {
    if alpha >= 1.0 {
        return (Vec::new(), Vec::new());
    }
    // Target a bit below the tolerance; refine h until the sampled error meets it.
    let target = 0.5 * tolerance;
    let mut h = std::f64::consts::PI.powi(2) / (2.0 / target).ln();
    let mut best;
    let mut tries = 0;
    loop {
        let (s, w) = nodes(alpha, delta, t_end, target, h);
        let (s, w) = merge_small(s, w, t_end, target);
        let err = max_rel_error(alpha, delta, t_end, &s, &w, target);
        best = (s, w);
        tries += 1;
        if err <= target || tries >= 12 {
            break;
        }
        h *= 0.85;
    }
    let inv_g = 1.0 / gamma(1.0 - alpha);
    let w = best.1.iter().map(|x| x * inv_g).collect();
    (best.0, w)
}

/// Checks the SOE tolerance range `[1e-15, 1e-2]`.
pub(crate) fn check_tolerance(tolerance: f64) -> Result<()> {
    if !(tolerance.is_finite() && (1e-15..=1e-2).contains(&tolerance)) {
        return Err(SolverError::InvalidParameter {
            name: "tolerance",
            value: tolerance,
            reason: "the SOE tolerance must lie in [1e-15, 1e-2]",
        });
    }
    Ok(())
}

impl Soe {
    /// SOE evaluator with relative kernel tolerance `tolerance` in `[1e-15, 1e-2]`.
    ///
    /// ```
    /// use ffpe_solvers::caputo::TimeMesh;
    /// use ffpe_solvers::history::{Soe, HistoryEvaluator};
    /// let mesh = TimeMesh::graded_for_order(1.0, 1000, 0.5)?;
    /// let soe = Soe::new(&mesh, 0.5, 1, 1e-12)?;
    /// assert!(soe.stats().exponentials < 200);
    /// # Ok::<(), ffpe_solvers::SolverError>(())
    /// ```
    pub fn new(mesh: &TimeMesh, alpha: f64, dim: usize, tolerance: f64) -> Result<Self> {
        check_common(alpha, dim)?;
        check_tolerance(tolerance)?;
        let t_end = mesh.t_end();
        let delta = mesh.min_step().min(t_end);
        let (s, w) = soe_kernel(alpha, delta, t_end, tolerance);
        let nexp = s.len();
        Ok(Self {
            uniform: mesh.is_uniform(),
            steps: mesh.step_sizes().to_vec(),
            dim,
            em1: s
                .iter()
                .map(|&si| expm1_neg(si, mesh.step_sizes()[0]))
                .collect(),
            inv_s: s
                .iter()
                .map(|&si| if si > 0.0 { 1.0 / si } else { 0.0 })
                .collect(),
            s,
            w,
            state: vec![0.0; nexp * dim],
            pushed: 0,
            terms: 0,
            tolerance,
        })
    }

    /// The tolerance requested by the user.
    pub fn tolerance(&self) -> f64 {
        self.tolerance
    }

    /// Number of exponentials `N_exp`.
    pub fn exponentials(&self) -> usize {
        self.s.len()
    }
}

#[inline]
pub(crate) fn expm1_neg(s: f64, tau: f64) -> f64 {
    let x = s * tau;
    if x > 40.0 {
        -1.0
    } else if x < 1e-4 {
        // series: truncation error x^5/120 < 1e-16 x
        -x * (1.0 - 0.5 * x * (1.0 - x / 3.0 * (1.0 - 0.25 * x)))
    } else if x > 0.5 {
        // no cancellation in e^-x - 1 here; exp is cheaper than expm1
        (-x).exp() - 1.0
    } else {
        (-x).exp_m1()
    }
}

impl HistoryEvaluator for Soe {
    fn history_into(&mut self, n: usize, out: &mut [f64]) {
        assert_eq!(out.len(), self.dim, "history_into: out has wrong length");
        out.fill(0.0);
        if n <= 1 || self.s.is_empty() {
            return;
        }
        assert_eq!(
            self.pushed + 1,
            n,
            "Soe::history_into: increments of steps 1..n-1 must be pushed first"
        );
        let dim = self.dim;
        if dim == 1 {
            // scalar fast path: four independent accumulators (latency-bound otherwise)
            out[0] = super::dot4(&self.w, &self.state);
        } else {
            for (i, wi) in self.w.iter().enumerate() {
                let row = &self.state[i * dim..(i + 1) * dim];
                for (o, h) in out.iter_mut().zip(row) {
                    *o += wi * h;
                }
            }
        }
        self.terms += self.s.len() as u64;
    }

    fn push_increment(&mut self, n: usize, delta: &[f64]) {
        super::check_push(self.dim, self.pushed, n, delta);
        self.pushed = n;
        if self.s.is_empty() {
            return;
        }
        let dim = self.dim;
        let tau_n = self.steps[n - 1];
        let tau_next = self.steps.get(n).copied().unwrap_or(tau_n);
        let inv_tau = 1.0 / tau_n;
        let nonuniform = !self.uniform;
        for (i, &si) in self.s.iter().enumerate() {
            // coefficient (1 - e^{-s tau_n}) / s, with the s = 0 limit tau_n.
            // em1[i] holds expm1(-s_i tau_n): set at construction (n = 1) or at push n-1.
            let e_n = self.em1[i];
            let coef = if si > 0.0 {
                -e_n * self.inv_s[i]
            } else {
                tau_n
            };
            let decay = if nonuniform {
                if n < self.steps.len() {
                    let e_next = expm1_neg(si, tau_next);
                    self.em1[i] = e_next;
                    1.0 + e_next
                } else {
                    1.0
                }
            } else {
                1.0 + e_n
            };
            let c = coef * inv_tau;
            let row = &mut self.state[i * dim..(i + 1) * dim];
            for (h, d) in row.iter_mut().zip(delta) {
                *h = decay * (*h + c * d);
            }
        }
    }

    fn stats(&self) -> HistoryStats {
        HistoryStats {
            terms: self.terms,
            exponentials: self.s.len(),
            bytes: (self.state.len() + 3 * self.s.len() + self.steps.len()) * 8,
        }
    }
}
