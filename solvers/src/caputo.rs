//! Caputo derivative: time meshes and the L1 weights.
//!
//! On a mesh `0 = t_0 < t_1 < ... < t_N` with steps `tau_k = t_k - t_{k-1}` the L1 formula is
//!
//! ```text
//! D^a u(t_n) ~= 1/Gamma(2-a) sum_{k=1..n} a_{n,k} (u^k - u^{k-1}) / tau_k,
//! a_{n,k} = (t_n - t_{k-1})^(1-a) - (t_n - t_k)^(1-a).
//! ```
//!
//! Two numerical traps are avoided here:
//!
//! * the step sizes are stored directly (not recomputed as `t_k - t_{k-1}`, which loses all
//!   digits once `tau_k < eps * t_k` on strongly graded meshes);
//! * the weight is evaluated as `d^p expm1(p log1p(tau/d))` with `d = t_n - t_k` and
//!   `p = 1 - a`, which has no cancellation when `tau << d`, and gives exactly `0` for `a = 1`.

use crate::error::{Result, SolverError, check_order};

/// A time mesh `0 = t_0 < t_1 < ... < t_N = T` with its step sizes stored directly.
#[derive(Clone, Debug)]
pub struct TimeMesh {
    times: Vec<f64>,
    steps: Vec<f64>,
    uniform: bool,
}

fn check_t_end(t_end: f64, steps: usize) -> Result<()> {
    if !(t_end.is_finite() && t_end > 0.0) {
        return Err(SolverError::InvalidMesh {
            reason: format!("t_end = {t_end}: must be finite and > 0"),
        });
    }
    if steps == 0 {
        return Err(SolverError::InvalidMesh {
            reason: "steps = 0: need at least one step".into(),
        });
    }
    Ok(())
}

impl TimeMesh {
    /// Uniform mesh `t_j = T j / N`.
    ///
    /// ```
    /// use ffpe_solvers::caputo::TimeMesh;
    /// let m = TimeMesh::uniform(1.0, 4)?;
    /// assert_eq!(m.steps(), 4);
    /// assert!((m.times()[2] - 0.5).abs() < 1e-15);
    /// assert!(m.is_uniform());
    /// # Ok::<(), ffpe_solvers::SolverError>(())
    /// ```
    pub fn uniform(t_end: f64, steps: usize) -> Result<Self> {
        check_t_end(t_end, steps)?;
        let n = steps as f64;
        let tau = t_end / n;
        let mut times: Vec<f64> = (0..=steps).map(|j| t_end * (j as f64) / n).collect();
        times[steps] = t_end;
        Ok(Self {
            times,
            steps: vec![tau; steps],
            uniform: true,
        })
    }

    /// Graded mesh `t_j = T (j/N)^r` with grading exponent `r >= 1` (`r = 1` is uniform).
    ///
    /// Step sizes are computed as `T ((j-1)/N)^r expm1(r log1p(1/(j-1)))`, accurate to
    /// round-off even where `tau_j` is far below `eps * t_j`.
    ///
    /// ```
    /// use ffpe_solvers::caputo::TimeMesh;
    /// let m = TimeMesh::graded(1.0, 1024, 17.0 / 3.0)?; // r = (2 - a)/a for a = 0.3
    /// assert!(m.step_sizes()[0] < 1e-16);
    /// assert!((m.times()[1024] - 1.0).abs() < 1e-15);
    /// # Ok::<(), ffpe_solvers::SolverError>(())
    /// ```
    pub fn graded(t_end: f64, steps: usize, r: f64) -> Result<Self> {
        check_t_end(t_end, steps)?;
        if !(r.is_finite() && (1.0..=100.0).contains(&r)) {
            return Err(SolverError::InvalidMesh {
                reason: format!("grading exponent r = {r}: allowed range is 1 <= r <= 100"),
            });
        }
        let n = steps as f64;
        let mut times = Vec::with_capacity(steps + 1);
        let mut taus = Vec::with_capacity(steps);
        times.push(0.0);
        for j in 1..=steps {
            let jf = j as f64;
            times.push(t_end * (jf / n).powf(r));
            let tau = if j == 1 {
                t_end * (1.0 / n).powf(r)
            } else {
                let jm = jf - 1.0;
                t_end * (jm / n).powf(r) * (r * (1.0 / jm).ln_1p()).exp_m1()
            };
            taus.push(tau);
        }
        times[steps] = t_end;
        if taus.iter().any(|&t| t.is_nan() || t <= 0.0) {
            return Err(SolverError::InvalidMesh {
                reason: format!(
                    "graded mesh with steps = {steps}, r = {r} underflows: smallest step is 0; use fewer steps or a smaller r"
                ),
            });
        }
        Ok(Self {
            times,
            steps: taus,
            uniform: (r - 1.0).abs() < f64::EPSILON,
        })
    }

    /// Graded mesh with the optimal exponent `r = (2 - alpha)/alpha` for solutions behaving
    /// like `t^alpha` near `t = 0` (Stynes, O'Riordan and Gracia 2017).
    ///
    /// ```
    /// use ffpe_solvers::caputo::TimeMesh;
    /// let m = TimeMesh::graded_for_order(1.0, 16, 0.5)?; // r = 3
    /// assert!((m.times()[8] - 0.125).abs() < 1e-15);
    /// # Ok::<(), ffpe_solvers::SolverError>(())
    /// ```
    pub fn graded_for_order(t_end: f64, steps: usize, alpha: f64) -> Result<Self> {
        check_order(alpha)?;
        Self::graded(t_end, steps, (2.0 - alpha) / alpha)
    }

    /// A user mesh: `times[0] == 0`, strictly increasing, finite. Steps are `t_k - t_{k-1}`.
    ///
    /// ```
    /// use ffpe_solvers::caputo::TimeMesh;
    /// let m = TimeMesh::from_times(vec![0.0, 0.1, 0.3, 1.0])?;
    /// assert_eq!(m.steps(), 3);
    /// assert!(TimeMesh::from_times(vec![0.0, 0.5, 0.4]).is_err());
    /// # Ok::<(), ffpe_solvers::SolverError>(())
    /// ```
    pub fn from_times(times: Vec<f64>) -> Result<Self> {
        if times.len() < 2 {
            return Err(SolverError::InvalidMesh {
                reason: format!("times has {} entries: need at least 2", times.len()),
            });
        }
        if times[0].abs() > 0.0 {
            return Err(SolverError::InvalidMesh {
                reason: format!("times[0] = {}: must be 0", times[0]),
            });
        }
        let mut steps = Vec::with_capacity(times.len() - 1);
        for k in 1..times.len() {
            let (a, b) = (times[k - 1], times[k]);
            if !(b.is_finite() && b > a) {
                return Err(SolverError::InvalidMesh {
                    reason: format!(
                        "times[{k}] = {b} is not finite or not larger than times[{}] = {a}: times must be strictly increasing",
                        k - 1
                    ),
                });
            }
            steps.push(b - a);
        }
        let t0 = steps[0];
        let uniform = steps
            .iter()
            .all(|s| (s - t0).abs() <= 4.0 * f64::EPSILON * t0);
        Ok(Self {
            times,
            steps,
            uniform,
        })
    }

    /// Mesh points `t_0..t_N` (length `N + 1`).
    pub fn times(&self) -> &[f64] {
        &self.times
    }

    /// Step sizes `tau_1..tau_N` (length `N`); index `n - 1` holds `tau_n`.
    pub fn step_sizes(&self) -> &[f64] {
        &self.steps
    }

    /// Number of steps `N`.
    pub fn steps(&self) -> usize {
        self.steps.len()
    }

    /// Final time `t_N`.
    pub fn t_end(&self) -> f64 {
        self.times[self.steps.len()]
    }

    /// Whether all steps are equal (uniform builder, or a user mesh with equal steps).
    pub fn is_uniform(&self) -> bool {
        self.uniform
    }

    /// Smallest step size.
    pub fn min_step(&self) -> f64 {
        self.steps.iter().copied().fold(f64::INFINITY, f64::min)
    }

    /// `t_n - t_k` for `k <= n`, summed from stored steps when `n - k` is small (exact to
    /// round-off relative to the difference itself), from the times otherwise.
    pub fn distance(&self, n: usize, k: usize) -> f64 {
        debug_assert!(k <= n);
        if n - k <= 16 {
            self.steps[k..n].iter().sum()
        } else {
            self.times[n] - self.times[k]
        }
    }
}

/// `(d + tau)^p - d^p` without cancellation, for `d >= 0`, `tau > 0`, `0 <= p < 1`.
#[inline]
pub(crate) fn power_difference(d: f64, tau: f64, p: f64) -> f64 {
    if d > 0.0 {
        d.powf(p) * (p * (tau / d).ln_1p()).exp_m1()
    } else {
        tau.powf(p)
    }
}

/// L1 weight `a_{n,k} = (t_n - t_{k-1})^(1-a) - (t_n - t_k)^(1-a)` for `1 <= k <= n <= N`,
/// evaluated without cancellation (see the module docs). For `alpha = 1` it is `1` if
/// `k = n` and `0` otherwise. `alpha` must lie in `(0, 1]` (not checked here: this is an
/// inner-loop function; validated entry points check it).
///
/// # Panics
/// If `k == 0` or `n > mesh.steps()` (an indexing bug of the caller, not user data).
///
/// ```
/// use ffpe_solvers::caputo::{TimeMesh, l1_weight};
/// let m = TimeMesh::uniform(1.0, 4)?;
/// // a_{2,1} = (2 tau)^(1/2) - tau^(1/2) with tau = 1/4
/// let w = l1_weight(&m, 0.5, 2, 1);
/// assert!((w - (0.5f64.sqrt() - 0.5)).abs() < 1e-15);
/// # Ok::<(), ffpe_solvers::SolverError>(())
/// ```
pub fn l1_weight(mesh: &TimeMesh, alpha: f64, n: usize, k: usize) -> f64 {
    assert!(
        k >= 1 && k <= n && n <= mesh.steps(),
        "l1_weight: need 1 <= k <= n <= N"
    );
    let p = 1.0 - alpha;
    let tau = mesh.steps[k - 1];
    if k == n {
        return tau.powf(p);
    }
    power_difference(mesh.distance(n, k), tau, p)
}

/// Leading L1 coefficient `c_n = tau_n^(-alpha) / Gamma(2 - alpha)`, the factor of
/// `u^n - u^{n-1}` in the L1 formula (`1/tau_n` for `alpha = 1`).
///
/// # Panics
/// If `n == 0` or `n > mesh.steps()`.
///
/// ```
/// use ffpe_solvers::caputo::{TimeMesh, l1_leading_coefficient};
/// let m = TimeMesh::uniform(1.0, 10)?;
/// assert!((l1_leading_coefficient(&m, 1.0, 3) - 10.0).abs() < 1e-12);
/// # Ok::<(), ffpe_solvers::SolverError>(())
/// ```
pub fn l1_leading_coefficient(mesh: &TimeMesh, alpha: f64, n: usize) -> f64 {
    assert!(
        n >= 1 && n <= mesh.steps(),
        "l1_leading_coefficient: need 1 <= n <= N"
    );
    mesh.steps[n - 1].powf(-alpha) / gamma(2.0 - alpha)
}

/// Gamma function (libm `tgamma`).
#[inline]
pub(crate) fn gamma(x: f64) -> f64 {
    special::Gamma::gamma(x)
}

/// Discretisation of the Caputo derivative used by the steppers.
///
/// | scheme | evaluated at | order on the graded mesh `t_j = T (j/N)^r` | optimal `r` |
/// |---|---|---|---|
/// | [`Scheme::L1`] | `t_n` | `min(r a, 2 - a)` (Stynes, O'Riordan and Gracia 2017) | `(2 - a)/a` |
/// | [`Scheme::L21Sigma`] | `t_{n - a/2}` | `min(r a, 2)` (Chen and Stynes 2019) | `2/a` |
///
/// L2-1sigma (Alikhanov 2015; nonuniform meshes: Liao, McLean and Zhang 2021) interpolates
/// `u` linearly on the current step and quadratically (through `t_{k-1}, t_k, t_{k+1}`) on
/// every earlier step, and evaluates the equation at `t_{n-a/2} = t_{n-1} + sigma tau_n`,
/// `sigma = 1 - a/2`, where `u^{n - a/2} = sigma u^n + (1 - sigma) u^{n-1}` is second-order
/// accurate. For `a = 1` it is the Crank-Nicolson scheme; L1 is backward Euler.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Scheme {
    /// The L1 scheme (order `2 - a`), the default.
    #[default]
    L1,
    /// The L2-1sigma (Alikhanov) scheme (order 2).
    L21Sigma,
}

impl Scheme {
    /// The grading exponent `r` of `t_j = T (j/N)^r` that gives the scheme its full order
    /// for solutions behaving like `t^a` near `0`: `(2 - a)/a` for L1, `2/a` for L2-1sigma.
    ///
    /// ```
    /// use ffpe_solvers::caputo::Scheme;
    /// assert!((Scheme::L1.optimal_grading(0.5) - 3.0).abs() < 1e-15);
    /// assert!((Scheme::L21Sigma.optimal_grading(0.5) - 4.0).abs() < 1e-15);
    /// ```
    pub fn optimal_grading(self, alpha: f64) -> f64 {
        match self {
            Scheme::L1 => (2.0 - alpha) / alpha,
            Scheme::L21Sigma => 2.0 / alpha,
        }
    }

    /// The name used in problem files and on the command line (`l1`, `l2-1sigma`).
    pub fn name(self) -> &'static str {
        match self {
            Scheme::L1 => "l1",
            Scheme::L21Sigma => "l2-1sigma",
        }
    }

    /// Parses [`Scheme::name`] (also accepts `l21sigma`, `l2_1sigma`, `alikhanov`).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "l1" | "L1" => Some(Scheme::L1),
            "l2-1sigma" | "l21sigma" | "l2_1sigma" | "L2-1sigma" | "alikhanov" => {
                Some(Scheme::L21Sigma)
            }
            _ => None,
        }
    }
}

/// The L2-1sigma offset `sigma = 1 - alpha/2`: the equation is taken at
/// `t_{n-1} + sigma tau_n`.
pub fn l21sigma_sigma(alpha: f64) -> f64 {
    1.0 - 0.5 * alpha
}

/// Weights of one earlier step `[t_{k-1}, t_k]` (length `tau`) in the L2-1sigma sum
/// evaluated at distance `d = t_{n-a/2} - t_k > 0`, with the kernel
/// `w(t) = t^(-a) / Gamma(1-a)`:
///
/// ```text
/// A = int_{t_{k-1}}^{t_k} w(t_{n-a/2} - s) ds,
/// I = int_{t_{k-1}}^{t_k} (s - t_{k-1/2}) w(t_{n-a/2} - s) ds.
/// ```
///
/// `A` is the cancellation-free power difference; `I` is the closed form
/// `c A - ((d + tau)^(2-a) - d^(2-a)) (1-a)/Gamma(3-a)`, `c = d + tau/2`, while `d <= 2 tau`
/// (cancellation at most a factor `~12 (c/tau)^2 / a` there), and otherwise the odd
/// binomial series `I = 2 c^(2-a)/Gamma(1-a) sum_{m odd} (a)_m/m! q^(m+2)/(m+2)`,
/// `q = tau/(2c) <= 1/5`, with no cancellation (all terms positive).
///
/// ```
/// use ffpe_solvers::caputo::l21sigma_step_weights;
/// // alpha -> 1: the kernel is a point mass at t = 0, so both weights vanish for d > 0
/// let (a, i) = l21sigma_step_weights(0.5, 0.25, 1.0);
/// assert!(a.abs() < 1e-15 && i.abs() < 1e-15);
/// ```
pub fn l21sigma_step_weights(d: f64, tau: f64, alpha: f64) -> (f64, f64) {
    StepWeights::new(alpha).eval(d, tau)
}

/// The Gamma-function constants of [`l21sigma_step_weights`], computed once per stepper.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StepWeights {
    alpha: f64,
    inv_g1: f64,
    inv_g2: f64,
    g3c: f64,
}

impl StepWeights {
    pub(crate) fn new(alpha: f64) -> Self {
        Self {
            alpha,
            inv_g1: if alpha >= 1.0 {
                0.0
            } else {
                1.0 / gamma(1.0 - alpha)
            },
            inv_g2: 1.0 / gamma(2.0 - alpha),
            g3c: (1.0 - alpha) / gamma(3.0 - alpha),
        }
    }

    /// `(A, I)` of [`l21sigma_step_weights`].
    pub(crate) fn eval(&self, d: f64, tau: f64) -> (f64, f64) {
        let alpha = self.alpha;
        if alpha >= 1.0 {
            return (0.0, 0.0);
        }
        let a = power_difference(d, tau, 1.0 - alpha) * self.inv_g2;
        let c = d + 0.5 * tau;
        let i = if d <= 2.0 * tau {
            let pd2 = if d > 0.0 {
                d.powf(2.0 - alpha) * ((2.0 - alpha) * (tau / d).ln_1p()).exp_m1()
            } else {
                tau.powf(2.0 - alpha)
            };
            c * a - pd2 * self.g3c
        } else {
            let q = tau / (2.0 * c);
            let q2 = q * q;
            // m = 1: (a)_1 / 1! = a; then (a)_{m+2}/(m+2)! = (a)_m/m! (a+m)(a+m+1)/((m+1)(m+2))
            let mut coef = alpha;
            let mut qp = q2 * q; // q^(m+2)
            let mut sum = 0.0;
            let mut m = 1.0;
            loop {
                let term = coef * qp / (m + 2.0);
                sum += term;
                if term <= 1e-17 * sum || m > 80.0 {
                    break;
                }
                coef *= (alpha + m) * (alpha + m + 1.0) / ((m + 1.0) * (m + 2.0));
                qp *= q2;
                m += 2.0;
            }
            2.0 * c.powf(2.0 - alpha) * sum * self.inv_g1
        };
        (a, i)
    }
}
