//! Small nonlinear fractional systems `D^a y = f(t, y)` with Newton's method.

use crate::caputo::{TimeMesh, l1_leading_coefficient};
use crate::error::{Result, SolverError, check_order};
use crate::history::{HistoryKind, build_history};

use super::{FodeStats, StopReason};

/// Newton options for [`solve_nonlinear`].
#[derive(Clone, Debug, serde::Serialize)]
pub struct NewtonOptions {
    /// Absolute residual tolerance (default `1e-12`), scaled by `1 + |c_n y|`.
    pub tolerance: f64,
    /// Maximum Newton iterations per step (default 30).
    pub max_iterations: usize,
    /// History evaluator (default Direct: small systems).
    pub history: HistoryKind,
}

impl Default for NewtonOptions {
    fn default() -> Self {
        Self {
            tolerance: 1e-12,
            max_iterations: 30,
            history: HistoryKind::Direct,
        }
    }
}

/// Trajectory and statistics of a nonlinear solve.
#[derive(Clone, Debug, serde::Serialize)]
pub struct FodeSolution {
    /// Mesh times `t_0..t_n` reached.
    pub times: Vec<f64>,
    /// States, row `j` (length `dim`) at `times[j]`.
    pub values: Vec<f64>,
    /// System size.
    pub dim: usize,
    /// Why the solve stopped.
    pub stop: StopReason,
    /// Work statistics (`factorizations` counts Jacobian LU decompositions).
    pub stats: FodeStats,
}

impl FodeSolution {
    /// The last state.
    pub fn last(&self) -> &[f64] {
        &self.values[self.values.len() - self.dim..]
    }
}

/// Solve `D^a y = f(t, y)`, `y(0) = y0`, with the implicit L1 scheme and Newton's method.
///
/// `f(t, y, out)` writes `f(t, y)`; `jac(t, y, out)` writes the Jacobian `df/dy`
/// (row-major `dim x dim`). Each step solves
/// `c_n (y^n - y^{n-1}) + h_n - f(t_n, y^n) = 0`.
///
/// ```
/// use ffpe_solvers::caputo::TimeMesh;
/// use ffpe_solvers::fode::{solve_nonlinear, NewtonOptions, StopReason};
/// // logistic-type D^a y = y (1 - y), y(0) = 0.1
/// let mesh = TimeMesh::graded_for_order(1.0, 200, 0.6)?;
/// let sol = solve_nonlinear(
///     |_t, y, out| out[0] = y[0] * (1.0 - y[0]),
///     |_t, y, j| j[0] = 1.0 - 2.0 * y[0],
///     0.6, &mesh, &[0.1], &NewtonOptions::default())?;
/// assert_eq!(sol.stop, StopReason::FinalTime);
/// assert!(sol.last()[0] > 0.1 && sol.last()[0] < 1.0);
/// # Ok::<(), ffpe_solvers::SolverError>(())
/// ```
pub fn solve_nonlinear<F, J>(
    mut f: F,
    mut jac: J,
    alpha: f64,
    mesh: &TimeMesh,
    y0: &[f64],
    options: &NewtonOptions,
) -> Result<FodeSolution>
where
    F: FnMut(f64, &[f64], &mut [f64]),
    J: FnMut(f64, &[f64], &mut [f64]),
{
    check_order(alpha)?;
    let dim = y0.len();
    if dim == 0 || dim > 64 {
        return Err(SolverError::DimensionMismatch {
            what: "y0 (solve_nonlinear is for 1..=64 unknowns)",
            expected: 1,
            got: dim,
        });
    }
    if y0.iter().any(|v| !v.is_finite()) {
        return Err(SolverError::NonFinite {
            what: "initial state y0",
            step: 0,
        });
    }
    if !(options.tolerance.is_finite() && options.tolerance > 0.0) {
        return Err(SolverError::InvalidParameter {
            name: "tolerance",
            value: options.tolerance,
            reason: "Newton tolerance must be finite and > 0",
        });
    }
    let start = std::time::Instant::now();
    let mut history = build_history(options.history, mesh, alpha, dim)?;
    let n_steps = mesh.steps();
    let mut times = Vec::with_capacity(n_steps + 1);
    let mut values = Vec::with_capacity((n_steps + 1) * dim);
    times.push(0.0);
    values.extend_from_slice(y0);
    let mut y_prev = y0.to_vec();
    let mut y = y0.to_vec();
    let mut h = vec![0.0; dim];
    let mut fv = vec![0.0; dim];
    let mut jm = vec![0.0; dim * dim];
    let mut r = vec![0.0; dim];
    let mut delta = vec![0.0; dim];
    let mut lu = crate::linalg::DenseLu::new(dim);
    let mut stats = FodeStats::default();
    for n in 1..=n_steps {
        let t = mesh.times()[n];
        let c = l1_leading_coefficient(mesh, alpha, n);
        history.history_into(n, &mut h);
        let mut converged = false;
        let mut res = f64::INFINITY;
        let mut it = 0;
        while it < options.max_iterations {
            it += 1;
            f(t, &y, &mut fv);
            let mut scale = 1.0_f64;
            for i in 0..dim {
                r[i] = c * (y[i] - y_prev[i]) + h[i] - fv[i];
                scale = scale.max((c * y[i]).abs()).max(fv[i].abs());
            }
            res = r.iter().map(|v| v.abs()).fold(0.0, f64::max);
            if !res.is_finite() {
                return Err(SolverError::NonFinite {
                    what: "Newton residual",
                    step: n,
                });
            }
            if res <= options.tolerance * scale {
                converged = true;
                break;
            }
            jac(t, &y, &mut jm);
            for v in jm.iter_mut() {
                *v = -*v;
            }
            for i in 0..dim {
                jm[i * dim + i] += c;
            }
            stats.factorizations += 1;
            for (d, ri) in delta.iter_mut().zip(&r) {
                *d = -ri;
            }
            if !lu.solve(&jm, &mut delta, 0.0) {
                return Err(SolverError::Singular {
                    step: n,
                    reason: "Newton matrix c_n I - df/dy is singular".into(),
                });
            }
            for (yi, d) in y.iter_mut().zip(&delta) {
                *yi += d;
            }
        }
        if !converged {
            return Err(SolverError::NoConvergence {
                step: n,
                residual: res,
                iterations: it,
            });
        }
        for i in 0..dim {
            delta[i] = y[i] - y_prev[i];
        }
        history.push_increment(n, &delta);
        y_prev.copy_from_slice(&y);
        times.push(t);
        values.extend_from_slice(&y);
        stats.steps += 1;
    }
    let hs = history.stats();
    stats.history_terms = hs.terms;
    stats.exponentials = hs.exponentials;
    stats.seconds = start.elapsed().as_secs_f64();
    Ok(FodeSolution {
        times,
        values,
        dim,
        stop: StopReason::FinalTime,
        stats,
    })
}
