//! The rival model: SGD near a minimum as a discrete Ornstein-Uhlenbeck process
//! (Kunin et al. 2021, "Limiting dynamics of SGD"; SPEC 3.1).
//!
//! Near a minimum the loss is quadratic. In the Hessian eigenbasis, with eigenvalues `h_i`,
//! per-sample gradient-noise variances `c_i`, learning rate `eta`, batch `B` and weight decay
//! `wd` (so that the effective curvature is `h_i' = h_i + wd`), plain SGD moves each mode as
//!
//! ```text
//! x_{t+1} = (1 - eta h_i') x_t - eta xi_t,        xi_t ~ N(0, c_i / B) independent
//! ```
//!
//! a linear (OU) recursion with closed forms and **no fitted parameter**:
//!
//! - mean `x_i(t) = (1 - eta h_i')^t x_i(0)`;
//! - variance `v_i(t) = s_i (1 - (1 - eta h_i')^(2t))`, stationary `s_i = eta c_i / (B h_i' (2 - eta h_i'))`
//!   (computed as the geometric sum `(eta^2 c_i / B) sum_{k<t} (1 - eta h_i')^(2k)`, which is
//!   also exact for `h_i' = 0`: free diffusion `eta^2 c_i t / B`);
//! - ensemble trace `tr Sigma(t) = sum_i v_i(t)` plus an optional [`Residual`] for the modes
//!   that were not measured;
//! - `E|w_t - w_0|^2 = sum_i (x_i(t) - x_i(0))^2 + tr Sigma(t)` (drift plus diffusion).
//!
//! With heavy-ball momentum `beta` (PyTorch form: `buf = beta buf + g`, `w -= eta buf`, the
//! buffer starting at zero, weight decay added to the gradient) each mode is the second-order
//! recursion `x_{t+1} = (1 + beta - eta h') x_t - beta x_{t-1} - eta xi_t` with `x_{-1} = x_0`.
//! The mean is the power of the 2x2 companion matrix `A`, the covariance the exact iteration of
//! the 2x2 Lyapunov recursion `P_{t+1} = A P_t A^T + Q` (no closed form is used); the
//! stationary variance is the AR(2) one,
//! `eta^2 c (1 + beta) / (B a (1 - beta) (2 (1 + beta) - a))` with `a = eta h'`.
//!
//! A spread of `h_i` over decades makes `tr Sigma(t)` look like a power law `t^(1 - gamma)` on a
//! log-log plot (for `c_i ~ h_i^gamma` and eigenvalues spread evenly in `log h`) with no fractal
//! and no memory: the mechanism a subdiffusion claim has to beat.
//!
//! A mode is *stable* when its deterministic propagator contracts (`0 < eta h' < 2` without
//! momentum, `0 < eta h' < 2 (1 + beta)` with it), *marginal* when `h' = 0` (free diffusion) and
//! *unstable* otherwise (`eta h' >= 2`, or `h' < 0`). [`OuRivalBuilder::build`] rejects unstable
//! modes unless [`OuRivalBuilder::allow_unstable`] is set; then their finite-time moments are
//! still exact for the linear model (they grow geometrically) and
//! [`OuRival::stationary_trace`] is `None`.

use super::{AnalysisError, Result};
use serde::{Deserialize, Serialize};

/// Settings of the rival model. Defaults are the spec's MNIST optimiser (SPEC 3).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct OuRivalConfig {
    /// Learning rate `eta` (default 0.001).
    pub learning_rate: f64,
    /// Batch size `B` (default 256).
    pub batch_size: f64,
    /// Weight decay `wd`, added to every curvature (default 0).
    pub weight_decay: f64,
    /// Heavy-ball momentum `beta` in `[0, 1)` (default 0).
    pub momentum: f64,
    /// Keep unstable modes instead of rejecting them (default false).
    pub allow_unstable: bool,
}

impl Default for OuRivalConfig {
    /// `eta = 0.001`, `B = 256`, no weight decay, no momentum, unstable modes rejected.
    fn default() -> Self {
        Self {
            learning_rate: 1e-3,
            batch_size: 256.0,
            weight_decay: 0.0,
            momentum: 0.0,
            allow_unstable: false,
        }
    }
}

/// One measured mode: a Hessian eigen-direction.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub struct Mode {
    /// Hessian eigenvalue `h_i` (weight decay is added by the model).
    pub curvature: f64,
    /// Per-sample gradient-noise variance `c_i` along the eigenvector (the batch divides it).
    pub noise_variance: f64,
    /// Offset of the start from the minimum along the eigenvector, `x_i(0)`.
    pub initial_offset: f64,
}

/// The modes that were not measured, lumped together.
///
/// The remaining trace of the per-sample noise covariance, `c_rest = tr C - sum_i c_i`, is
/// spread over the unmeasured modes, all given the same `curvature` (0 when unknown; weight
/// decay is added as for the measured modes). Because the variance is linear in the noise,
/// only `c_rest` matters, not how many modes share it: with curvature 0 and no weight decay the
/// contribution is free diffusion `eta^2 c_rest t / B`. The unmeasured modes are taken to start
/// at the minimum (no drift).
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub struct Residual {
    /// `c_rest`: the trace of the per-sample noise covariance outside the measured modes.
    pub noise_trace: f64,
    /// Common curvature of the unmeasured modes (0 gives free diffusion).
    pub curvature: f64,
}

/// Stability of one mode's deterministic propagator.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ModeStability {
    /// The propagator contracts: a stationary variance exists.
    Stable,
    /// `h' = 0`: free diffusion, the variance grows linearly.
    Marginal,
    /// `h' < 0` or `eta h'` beyond the stability limit: the moments grow geometrically.
    Unstable,
}

/// Stability of a mode with effective curvature `h_eff = h + wd`.
///
/// Stable iff `0 < eta h_eff < 2 (1 + beta)` (for `beta = 0`: `0 < eta h_eff < 2`).
pub fn classify_mode(learning_rate: f64, h_eff: f64, momentum: f64) -> ModeStability {
    let a = learning_rate * h_eff;
    if h_eff.abs() <= 0.0 {
        ModeStability::Marginal
    } else if a > 0.0 && a < 2.0 * (1.0 + momentum) {
        ModeStability::Stable
    } else {
        ModeStability::Unstable
    }
}

/// Builder of [`OuRival`]; see [`OuRivalConfig`] for the defaults.
#[derive(Clone, Debug, Default)]
pub struct OuRivalBuilder {
    config: OuRivalConfig,
    modes: Vec<Mode>,
    residual: Option<Residual>,
    /// A mismatch found by a setter, reported by `build`.
    pending: Option<AnalysisError>,
}

impl OuRivalBuilder {
    /// Learning rate `eta > 0`.
    pub fn learning_rate(mut self, eta: f64) -> Self {
        self.config.learning_rate = eta;
        self
    }
    /// Batch size `B > 0`.
    pub fn batch_size(mut self, batch: f64) -> Self {
        self.config.batch_size = batch;
        self
    }
    /// Weight decay `wd >= 0`.
    pub fn weight_decay(mut self, wd: f64) -> Self {
        self.config.weight_decay = wd;
        self
    }
    /// Heavy-ball momentum `beta` in `[0, 1)`.
    pub fn momentum(mut self, beta: f64) -> Self {
        self.config.momentum = beta;
        self
    }
    /// Keep unstable modes (their moments grow; no stationary state).
    pub fn allow_unstable(mut self, allow: bool) -> Self {
        self.config.allow_unstable = allow;
        self
    }
    /// Replace the whole configuration.
    pub fn config(mut self, config: OuRivalConfig) -> Self {
        self.config = config;
        self
    }
    /// Modes from curvatures and noise variances (equal lengths), starting at the minimum.
    pub fn modes(mut self, curvatures: &[f64], noise_variances: &[f64]) -> Self {
        self.modes = curvatures
            .iter()
            .zip(noise_variances)
            .map(|(&h, &c)| Mode {
                curvature: h,
                noise_variance: c,
                initial_offset: 0.0,
            })
            .collect();
        if curvatures.len() != noise_variances.len() {
            self.pending = Some(AnalysisError::LengthMismatch {
                what: "OU rival curvatures / noise variances",
                left: curvatures.len(),
                right: noise_variances.len(),
            });
        }
        self
    }
    /// Modes given one by one (with initial offsets).
    pub fn mode_list(mut self, modes: Vec<Mode>) -> Self {
        self.modes = modes;
        self
    }
    /// Initial offsets `x_i(0)` of the modes already given (lengths must match at build).
    pub fn initial_offsets(mut self, offsets: &[f64]) -> Self {
        if offsets.len() == self.modes.len() {
            for (m, &x) in self.modes.iter_mut().zip(offsets) {
                m.initial_offset = x;
            }
        } else {
            self.pending = Some(AnalysisError::LengthMismatch {
                what: "OU rival modes / initial offsets",
                left: self.modes.len(),
                right: offsets.len(),
            });
        }
        self
    }
    /// The unmeasured modes (none by default).
    pub fn residual(mut self, residual: Residual) -> Self {
        self.residual = Some(residual);
        self
    }

    /// Validates and builds the model.
    ///
    /// Errors: `eta <= 0`, `B <= 0`, `wd < 0`, `beta` outside `[0, 1)`, a non-finite or negative
    /// noise variance, a non-finite curvature or offset, mismatched lengths, and (unless
    /// unstable modes are allowed) an unstable mode, reported with its `eta (h + wd)`.
    pub fn build(self) -> Result<OuRival> {
        if let Some(e) = self.pending {
            return Err(e);
        }
        let c = &self.config;
        let pos = |what, v: f64| {
            if v > 0.0 && v.is_finite() {
                Ok(())
            } else {
                Err(AnalysisError::OutOfRange {
                    what,
                    value: v,
                    allowed: "finite and > 0",
                })
            }
        };
        pos("OU rival learning rate", c.learning_rate)?;
        pos("OU rival batch size", c.batch_size)?;
        if !(c.weight_decay >= 0.0 && c.weight_decay.is_finite()) {
            return Err(AnalysisError::OutOfRange {
                what: "OU rival weight decay",
                value: c.weight_decay,
                allowed: "finite and >= 0",
            });
        }
        if !(0.0..1.0).contains(&c.momentum) {
            return Err(AnalysisError::OutOfRange {
                what: "OU rival momentum",
                value: c.momentum,
                allowed: "[0, 1)",
            });
        }
        let mut stability = Vec::with_capacity(self.modes.len());
        for m in &self.modes {
            if !m.curvature.is_finite() || !m.initial_offset.is_finite() {
                return Err(AnalysisError::OutOfRange {
                    what: "OU rival mode curvature / offset",
                    value: if m.curvature.is_finite() {
                        m.initial_offset
                    } else {
                        m.curvature
                    },
                    allowed: "finite",
                });
            }
            if !(m.noise_variance >= 0.0 && m.noise_variance.is_finite()) {
                return Err(AnalysisError::OutOfRange {
                    what: "OU rival mode noise variance",
                    value: m.noise_variance,
                    allowed: "finite and >= 0",
                });
            }
            let s = classify_mode(c.learning_rate, m.curvature + c.weight_decay, c.momentum);
            if s == ModeStability::Unstable && !c.allow_unstable {
                return Err(AnalysisError::OutOfRange {
                    what: "OU rival mode eta (h + wd): unstable (set allow_unstable to keep it)",
                    value: c.learning_rate * (m.curvature + c.weight_decay),
                    allowed: "0 <= eta (h + wd) < 2 (1 + momentum)",
                });
            }
            stability.push(s);
        }
        if let Some(r) = self.residual {
            if !(r.noise_trace >= 0.0 && r.noise_trace.is_finite()) {
                return Err(AnalysisError::OutOfRange {
                    what: "OU rival residual noise trace",
                    value: r.noise_trace,
                    allowed: "finite and >= 0",
                });
            }
            if !r.curvature.is_finite() {
                return Err(AnalysisError::OutOfRange {
                    what: "OU rival residual curvature",
                    value: r.curvature,
                    allowed: "finite",
                });
            }
            let s = classify_mode(c.learning_rate, r.curvature + c.weight_decay, c.momentum);
            if s == ModeStability::Unstable && !c.allow_unstable {
                return Err(AnalysisError::OutOfRange {
                    what: "OU rival residual eta (h + wd): unstable (set allow_unstable to keep it)",
                    value: c.learning_rate * (r.curvature + c.weight_decay),
                    allowed: "0 <= eta (h + wd) < 2 (1 + momentum)",
                });
            }
        }
        Ok(OuRival {
            config: self.config,
            modes: self.modes,
            residual: self.residual,
            stability,
        })
    }
}

/// The rival model's prediction on a set of steps.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct OuPrediction {
    /// Steps `t`.
    pub steps: Vec<u64>,
    /// `tr Sigma(t)`: ensemble variance summed over modes (residual included).
    pub trace_covariance: Vec<f64>,
    /// `sum_i (x_i(t) - x_i(0))^2`: the squared drift of the mean.
    pub drift_squared: Vec<f64>,
    /// `E|w_t - w_0|^2 = drift_squared + trace_covariance`.
    pub mean_squared_displacement: Vec<f64>,
    /// `tr Sigma(infinity)` when every mode (and the residual) is stable.
    pub stationary_trace: Option<f64>,
    /// Stability of each measured mode.
    pub stability: Vec<ModeStability>,
}

/// The discrete OU model of SGD near a minimum. Build with [`OuRival::builder`].
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct OuRival {
    config: OuRivalConfig,
    modes: Vec<Mode>,
    residual: Option<Residual>,
    stability: Vec<ModeStability>,
}

/// `sum_{k<t} q^k` for `q >= 0` given `1 - q = one_minus_q`, accurate when `q` is near 1.
fn geometric_sum(one_minus_q: f64, t: u64) -> f64 {
    if t == 0 {
        return 0.0;
    }
    let tf = t as f64;
    if one_minus_q.abs() < 1e-300 {
        return tf;
    }
    let q = 1.0 - one_minus_q;
    if q <= 0.0 {
        // q == 0 (eta h' = 1): only the k = 0 term.
        return 1.0;
    }
    let ln_q = (-one_minus_q).ln_1p();
    // (1 - q^t) / (1 - q) with q^t = exp(t ln q)
    -(tf * ln_q).exp_m1() / one_minus_q
}

/// `r^t` for any real `r` (integer power via `powf`, which handles negative bases).
fn power(r: f64, t: u64) -> f64 {
    r.powf(t as f64)
}

impl OuRival {
    /// A builder with the defaults of [`OuRivalConfig`] and no modes.
    pub fn builder() -> OuRivalBuilder {
        OuRivalBuilder::default()
    }

    /// The configuration.
    pub fn config(&self) -> &OuRivalConfig {
        &self.config
    }

    /// The measured modes.
    pub fn modes(&self) -> &[Mode] {
        &self.modes
    }

    /// The residual (unmeasured) modes, if any.
    pub fn residual(&self) -> Option<Residual> {
        self.residual
    }

    /// Stability of each measured mode.
    pub fn stability(&self) -> &[ModeStability] {
        &self.stability
    }

    fn h_eff(&self, h: f64) -> f64 {
        h + self.config.weight_decay
    }

    /// Variance of one noise kick on the weights, `eta^2 c / B`.
    fn kick(&self, c: f64) -> f64 {
        let eta = self.config.learning_rate;
        eta * eta * c / self.config.batch_size
    }

    fn has_momentum(&self) -> bool {
        self.config.momentum > 0.0
    }

    /// Mean of one mode after `t` steps without momentum: `(1 - eta h')^t x(0)`.
    fn mean_plain(&self, h: f64, x0: f64, t: u64) -> f64 {
        power(1.0 - self.config.learning_rate * self.h_eff(h), t) * x0
    }

    /// Variance of one mode after `t` steps without momentum.
    fn variance_plain(&self, h: f64, c: f64, t: u64) -> f64 {
        let a = self.config.learning_rate * self.h_eff(h);
        // 1 - (1 - a)^2 = a (2 - a)
        self.kick(c) * geometric_sum(a * (2.0 - a), t)
    }

    /// Mean and variance of one mode at the (ascending) `steps`, with momentum, by exact
    /// iteration of the 2x2 recursions on `(x_t, x_{t-1})`.
    fn momentum_path(&self, h: f64, c: f64, x0: f64, steps: &[u64]) -> (Vec<f64>, Vec<f64>) {
        let beta = self.config.momentum;
        let a = self.config.learning_rate * self.h_eff(h);
        let a11 = 1.0 + beta - a;
        let a12 = -beta;
        let q = self.kick(c);
        // Mean state (m0, m1) = (x_t, x_{t-1}); covariance [[p00, p01], [p01, p11]].
        let (mut m0, mut m1) = (x0, x0);
        let (mut p00, mut p01, mut p11) = (0.0f64, 0.0f64, 0.0f64);
        let mut means = Vec::with_capacity(steps.len());
        let mut vars = Vec::with_capacity(steps.len());
        let mut t = 0u64;
        for &target in steps {
            while t < target {
                let n0 = a11 * m0 + a12 * m1;
                m1 = m0;
                m0 = n0;
                // A P A^T with A = [[a11, a12], [1, 0]], plus Q = diag(q, 0).
                let n00 = a11 * a11 * p00 + 2.0 * a11 * a12 * p01 + a12 * a12 * p11 + q;
                let n01 = a11 * p00 + a12 * p01;
                let n11 = p00;
                p00 = n00;
                p01 = n01;
                p11 = n11;
                t += 1;
            }
            means.push(m0);
            vars.push(p00);
        }
        (means, vars)
    }

    /// Stationary variance of a mode with curvature `h` and noise `c`, if it is stable.
    fn stationary_of(&self, h: f64, c: f64) -> Option<f64> {
        let beta = self.config.momentum;
        let h_eff = self.h_eff(h);
        if classify_mode(self.config.learning_rate, h_eff, beta) != ModeStability::Stable {
            return None;
        }
        let a = self.config.learning_rate * h_eff;
        Some(self.kick(c) * (1.0 + beta) / (a * (1.0 - beta) * (2.0 * (1.0 + beta) - a)))
    }

    /// Stationary variance of mode `i`:
    /// `eta c_i / (B h_i' (2 - eta h_i'))` without momentum; `None` if the mode is not stable
    /// or `i` is out of range.
    pub fn mode_stationary_variance(&self, i: usize) -> Option<f64> {
        let m = self.modes.get(i)?;
        self.stationary_of(m.curvature, m.noise_variance)
    }

    /// `tr Sigma(infinity)`, or `None` when some mode (or the residual) is not stable.
    pub fn stationary_trace(&self) -> Option<f64> {
        let mut total = 0.0;
        for m in &self.modes {
            total += self.stationary_of(m.curvature, m.noise_variance)?;
        }
        if let Some(r) = self.residual
            && r.noise_trace > 0.0
        {
            total += self.stationary_of(r.curvature, r.noise_trace)?;
        }
        Some(total)
    }

    /// Mean `x_i(t)` and variance `v_i(t)` of mode `i` at the given steps (any order).
    pub fn mode_moments(&self, i: usize, steps: &[u64]) -> Result<(Vec<f64>, Vec<f64>)> {
        let m = *self.modes.get(i).ok_or(AnalysisError::OutOfRange {
            what: "OU rival mode index",
            value: i as f64,
            allowed: "below the number of modes",
        })?;
        Ok(self.moments(m.curvature, m.noise_variance, m.initial_offset, steps))
    }

    fn moments(&self, h: f64, c: f64, x0: f64, steps: &[u64]) -> (Vec<f64>, Vec<f64>) {
        if !self.has_momentum() {
            let means = steps.iter().map(|&t| self.mean_plain(h, x0, t)).collect();
            let vars = steps
                .iter()
                .map(|&t| self.variance_plain(h, c, t))
                .collect();
            return (means, vars);
        }
        // Iterate in ascending order, then put the results back in the caller's order.
        let mut order: Vec<usize> = (0..steps.len()).collect();
        order.sort_by_key(|&k| steps[k]);
        let sorted: Vec<u64> = order.iter().map(|&k| steps[k]).collect();
        let (ms, vs) = self.momentum_path(h, c, x0, &sorted);
        let mut means = vec![0.0; steps.len()];
        let mut vars = vec![0.0; steps.len()];
        for (j, &k) in order.iter().enumerate() {
            means[k] = ms[j];
            vars[k] = vs[j];
        }
        (means, vars)
    }

    /// The prediction at the given steps: `tr Sigma(t)`, the squared drift and their sum.
    ///
    /// Cost: without momentum `O(modes x steps)`; with momentum `O(modes x max step)`.
    pub fn predict(&self, steps: &[u64]) -> OuPrediction {
        let n = steps.len();
        let mut trace = vec![0.0; n];
        let mut drift = vec![0.0; n];
        for m in &self.modes {
            let (means, vars) =
                self.moments(m.curvature, m.noise_variance, m.initial_offset, steps);
            for k in 0..n {
                trace[k] += vars[k];
                let d = means[k] - m.initial_offset;
                drift[k] += d * d;
            }
        }
        if let Some(r) = self.residual {
            let (_, vars) = self.moments(r.curvature, r.noise_trace, 0.0, steps);
            for k in 0..n {
                trace[k] += vars[k];
            }
        }
        let msd = trace.iter().zip(&drift).map(|(a, b)| a + b).collect();
        OuPrediction {
            steps: steps.to_vec(),
            trace_covariance: trace,
            drift_squared: drift,
            mean_squared_displacement: msd,
            stationary_trace: self.stationary_trace(),
            stability: self.stability.clone(),
        }
    }
}

impl OuRival {
    /// Relaxation of one mode's variance in operational time, `v(t) = s (1 - q^t)`: the kick
    /// scale `s` and `q`, or `None` where the mode has no such form (momentum and not stable).
    /// `q = (1 - eta h')^2` without momentum (exact); with momentum `q = rho^2`, `rho` the
    /// spectral radius of the companion matrix (the asymptotic rate) and `s` the AR(2)
    /// stationary variance.
    /// Returns `(s, q, 1 - q)` (`1 - q` computed without cancellation).
    fn relaxation(&self, h: f64, c: f64) -> Option<(f64, f64, f64)> {
        let a = self.config.learning_rate * self.h_eff(h);
        if !self.has_momentum() {
            let q = (1.0 - a) * (1.0 - a);
            let one_minus_q = a * (2.0 - a);
            return Some((self.kick(c) / one_minus_q, q, one_minus_q));
        }
        let s = self.stationary_of(h, c)?;
        let beta = self.config.momentum;
        let b = 1.0 + beta - a;
        let disc = b * b - 4.0 * beta;
        let rho = if disc < 0.0 {
            beta.sqrt()
        } else {
            (b.abs() + disc.sqrt()) / 2.0
        };
        Some((s, rho * rho, 1.0 - rho * rho))
    }

    /// `tr Sigma(t)` of the **time-fractional** model in the same basin: the Caputo FFPE of
    /// order `alpha` (SPEC 1.1) with this model's curvature, noise, learning rate, batch and
    /// weight decay. Each mode's variance obeys `D_t^alpha v = -kappa (v - s)`, `v(0) = 0`, so
    ///
    /// ```text
    /// v_i(t) = s_i (1 - E_alpha(-kappa_i t^alpha)),   kappa_i = -ln q_i
    /// ```
    ///
    /// with `s_i` and `q_i` those of the Ornstein-Uhlenbeck variance `s_i (1 - q_i^t)`
    /// (`q_i = (1 - eta h_i')^2`), time in steps (one jump of the underlying continuous-time
    /// random walk per step: the rate `kappa_i` is per `step^alpha`). This is the OU process
    /// run on the inverse-stable clock of a CTRW with waiting-time exponent `alpha`
    /// (`E[exp(-kappa S_t)] = E_alpha(-kappa t^alpha)`), so at `alpha = 1` it **is** the OU
    /// model's variance (exactly without momentum; with momentum the variance relaxes at the
    /// companion matrix's asymptotic rate instead of along its exact path). Free modes
    /// (`h' = 0`) give `eta^2 c t^alpha / (B Gamma(1 + alpha))`, the free FFPE; unstable modes
    /// (`h' < 0`) grow as `E_alpha` of a positive argument, as the OU moments grow
    /// geometrically. A mode with no relaxation form, or a Mittag-Leffler value that cannot be
    /// computed, gives NaN at every step.
    ///
    /// # Errors
    /// `alpha` outside `[0.05, 1]` (the accurate range of the Mittag-Leffler evaluator).
    pub fn predict_fractional_trace(&self, steps: &[u64], alpha: f64) -> Result<Vec<f64>> {
        if !(0.05..=1.0).contains(&alpha) {
            return Err(AnalysisError::OutOfRange {
                what: "Caputo order of the fractional basin model",
                value: alpha,
                allowed: "0.05..=1",
            });
        }
        use ffpe::solvers::mittag_leffler::{mittag_leffler, reciprocal_gamma};
        let mut trace = vec![0.0; steps.len()];
        let mut modes: Vec<(f64, f64)> = self
            .modes
            .iter()
            .map(|m| (m.curvature, m.noise_variance))
            .collect();
        if let Some(r) = self.residual {
            modes.push((r.curvature, r.noise_trace));
        }
        for (h, c) in modes {
            let rel = self.relaxation(h, c);
            for (k, &t) in steps.iter().enumerate() {
                let tf = t as f64;
                let v = match rel {
                    _ if t == 0 => 0.0,
                    None => f64::NAN,
                    // free mode (the geometric sum is t): its fractional clock t^a / Gamma(1+a)
                    Some((_, _, one_minus_q)) if one_minus_q.abs() < 1e-300 => {
                        self.kick(c) * tf.powf(alpha) * reciprocal_gamma(1.0 + alpha)
                    }
                    // eta h' = 1 (q = 0): the variance is one kick from the first step on
                    Some((s, q, _)) if q <= 0.0 => s,
                    Some((s, q, _)) => {
                        let kappa = -q.ln();
                        mittag_leffler(alpha, 1.0, -kappa * tf.powf(alpha))
                            .map_or(f64::NAN, |e| s * (1.0 - e))
                    }
                };
                trace[k] += v;
            }
        }
        Ok(trace)
    }
}

/// Local slopes `d ln y / d ln t` of a curve by central differences (one-sided at the ends):
/// the apparent exponent of the rival's `tr Sigma(t)` to set beside a measured one. Points with
/// `t <= 0` or `y <= 0` give NaN slopes around them.
pub fn local_log_slopes(t: &[f64], y: &[f64]) -> Result<Vec<f64>> {
    if t.len() != y.len() {
        return Err(AnalysisError::LengthMismatch {
            what: "local log slopes t/y",
            left: t.len(),
            right: y.len(),
        });
    }
    let n = t.len();
    if n < 2 {
        return Err(AnalysisError::TooFewPoints {
            what: "local log slopes",
            needed: 2,
            got: n,
        });
    }
    let lt: Vec<f64> = t
        .iter()
        .map(|x| if *x > 0.0 { x.ln() } else { f64::NAN })
        .collect();
    let ly: Vec<f64> = y
        .iter()
        .map(|x| if *x > 0.0 { x.ln() } else { f64::NAN })
        .collect();
    Ok((0..n)
        .map(|k| {
            let (i, j) = (k.saturating_sub(1), (k + 1).min(n - 1));
            (ly[j] - ly[i]) / (lt[j] - lt[i])
        })
        .collect())
}

#[cfg(test)]
#[path = "ou_rival_tests.rs"]
mod tests;
