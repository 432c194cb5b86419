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
