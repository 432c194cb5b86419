//! Exact solutions for tests and benchmarks (SPEC section 1.2), and the semi-discrete
//! exact solution of the finite-volume system (eigen-decomposition of the spatial
//! operator with the Mittag-Leffler function of its eigenvalues).
//!
//! Benchmarks and tests use the same constructors, so what is benchmarked is what is
//! verified.

use crate::error::{FfpeError, Result};
use crate::operator::FokkerPlanckOperator;
use crate::problem::Problem;
use ffpe_solvers::mittag_leffler::mittag_leffler;
use special::Gamma;

/// Free subdiffusion MSD `2 (sum_i D_i) t^alpha / Gamma(1 + alpha)` (`= 2 d D t^a / Gamma(1+a)`
/// for isotropic `D`).
///
/// ```
/// let m = ffpe::reference::free_msd(&[1.0, 1.0], 1.0, 2.0);
/// assert!((m - 8.0).abs() < 1e-12); // 2 d D t with d = 2, t = 2
/// ```
pub fn free_msd(diffusion: &[f64], alpha: f64, t: f64) -> f64 {
    2.0 * diffusion.iter().sum::<f64>() * t.powf(alpha) / Gamma::gamma(1.0 + alpha)
}

/// `E_alpha(z)`, with `E_1(z) = exp(z)` taken exactly.
pub fn ml(alpha: f64, z: f64) -> Result<f64> {
    if (alpha - 1.0).abs() < 1e-15 {
        Ok(z.exp())
    } else {
        Ok(mittag_leffler(alpha, 1.0, z)?)
    }
}

/// Fractional OU mean on one axis: `m0 E_alpha(-gamma k t^alpha)` (centre 0).
pub fn ou_mean(m0: f64, gamma: f64, k: f64, alpha: f64, t: f64) -> Result<f64> {
    Ok(m0 * ml(alpha, -gamma * k * t.powf(alpha))?)
}

/// Fractional OU second moment on one axis (centre 0), for any initial density with
/// second moment `m2_0`: `D/(gamma k) + (m2_0 - D/(gamma k)) E_alpha(-2 gamma k t^alpha)`.
/// (The moment equations `D^a m2 = -2 gamma k m2 + 2 D` are closed, so this holds
/// beyond the point start of SPEC 1.2.)
pub fn ou_second_moment(m2_0: f64, d: f64, gamma: f64, k: f64, alpha: f64, t: f64) -> Result<f64> {
    let s = d / (gamma * k);
    Ok(s + (m2_0 - s) * ml(alpha, -2.0 * gamma * k * t.powf(alpha))?)
}

/// Fractional relaxation `D^a y = -c y, y(0) = 1`: `E_alpha(-c t^alpha)`.
pub fn relaxation(c: f64, alpha: f64, t: f64) -> Result<f64> {
    ml(alpha, -c * t.powf(alpha))
}

/// The exact solution of the semi-discrete system `D^a u = A u` (`A` the finite-volume
/// operator): `A` is similar to the symmetric `S = Pi^(-1/2) A Pi^(1/2)` (`Pi` the
/// discrete Boltzmann weights), so `u(t) = Pi^(1/2) Q E_a(Lambda t^a) Q^T Pi^(-1/2) u0`.
/// Dense: for grids up to a few thousand cells. Needs a Boltzmann density
/// (isotropic `D`, or separable potential).
///
/// ```
/// use ffpe::problem::{Potential, Problem};
/// use ffpe::reference::SemiDiscreteExact;
/// let p = Problem::builder()
///     .alpha(0.5)
///     .potential(Potential::quadratic(&[1.0]))
///     .domain(&[-4.0], &[4.0], &[40])
///     .build()
///     .unwrap();
/// let exact = SemiDiscreteExact::new(&p).unwrap();
/// let u0 = p.initial_density().unwrap();
/// let u = exact.solve(&u0, 1.0).unwrap();
/// // the semi-discrete flow conserves mass exactly (one zero eigenvalue)
/// let mass: f64 = p.grid().integrate(&u);
/// assert!((mass - 1.0).abs() < 1e-10);
/// ```
#[derive(Clone, Debug)]
pub struct SemiDiscreteExact {
    alpha: f64,
    sqrt_pi: Vec<f64>,
    q: faer::Mat<f64>,
    lambda: Vec<f64>,
}

impl SemiDiscreteExact {
    /// Eigen-decomposes the operator of `problem`.
    pub fn new(problem: &Problem) -> Result<Self> {
        let op = FokkerPlanckOperator::assemble(problem)?;
        let n = problem.grid().len();
        if n > 6000 {
            return Err(FfpeError::out_of_range(
                "domain.cells",
                n,
                "at most 6000 cells for the dense semi-discrete reference",
            ));
        }
        let pi = problem.boltzmann_density()?;
        let sqrt_pi: Vec<f64> = pi.iter().map(|p| p.sqrt()).collect();
        if sqrt_pi.iter().any(|s| s.is_nan() || *s <= 0.0) {
            return Err(FfpeError::invalid(
                "potential",
                "Boltzmann weights underflow: the semi-discrete reference needs gamma L / D < 700",
            ));
        }
        let a = op.to_dense();
        let s = faer::Mat::<f64>::from_fn(n, n, |i, j| {
            // symmetrise exactly (average of the two triangles)
            let x = a[i][j] * sqrt_pi[j] / sqrt_pi[i];
            let y = a[j][i] * sqrt_pi[i] / sqrt_pi[j];
            0.5 * (x + y)
        });
        let evd = s
            .self_adjoint_eigen(faer::Side::Lower)
            .map_err(|e| FfpeError::Linalg {
                context: "semi-discrete eigen-decomposition".into(),
                reason: format!("{e:?}"),
            })?;
        let lambda: Vec<f64> = (0..n).map(|i| evd.S().column_vector()[i]).collect();
        Ok(Self {
            alpha: problem.alpha(),
            sqrt_pi,
            q: evd.U().to_owned(),
            lambda,
        })
    }

    /// Eigenvalues of the operator (non-positive, ascending).
    pub fn eigenvalues(&self) -> &[f64] {
        &self.lambda
    }

    /// `u(t)` from `u0`.
    pub fn solve(&self, u0: &[f64], t: f64) -> Result<Vec<f64>> {
        let n = self.lambda.len();
        // c = Q^T Pi^(-1/2) u0
        let v: Vec<f64> = (0..n).map(|i| u0[i] / self.sqrt_pi[i]).collect();
        let mut c = vec![0.0; n];
        for (k, ck) in c.iter_mut().enumerate() {
            let col = self.q.col(k);
            let mut s = 0.0;
            for i in 0..n {
                s += col[i] * v[i];
            }
            // eigenvalues of a column-sum-zero operator are <= 0; clip rounding noise
            *ck = s * ml(self.alpha, self.lambda[k].min(0.0) * t.powf(self.alpha))?;
        }
        let mut u = vec![0.0; n];
        for (k, ck) in c.iter().enumerate() {
            let col = self.q.col(k);
            for (i, ui) in u.iter_mut().enumerate() {
                *ui += col[i] * ck;
            }
        }
        for (ui, s) in u.iter_mut().zip(&self.sqrt_pi) {
            *ui *= s;
        }
        Ok(u)
    }
}

/// Exact per-axis mean and second moment `<w_i^2>` of the continuum problem at time `t`,
/// where SPEC 1.2 has a closed form: a flat potential (free subdiffusion:
/// `<w_i^2>(t) = <w_i^2>(0) + 2 D_i t^a / Gamma(1 + a)`, valid while the walls are not
/// felt) or a quadratic one (fractional Ornstein-Uhlenbeck per axis, [`ou_mean`] and
/// [`ou_second_moment`] about the centre), with no-flux walls and a diagonal diffusion.
/// `None` for every other problem.
///
/// The initial moments are those of the discrete initial density, so the difference from
/// the numerical moments is the time-stepping, spatial and truncation error of the solve.
///
/// ```
/// use ffpe::problem::{Initial, Potential, Problem};
/// let p = Problem::builder()
///     .alpha(0.5)
///     .potential(Potential::quadratic(&[1.0]))
///     .domain(&[-6.0], &[6.0], &[96])
///     .initial(Initial::Gaussian { mean: vec![2.0], std: vec![0.5] })
///     .build()
///     .unwrap();
/// let (mean, _second) = ffpe::reference::exact_moments(&p, 0.0).unwrap().unwrap();
/// assert!((mean[0] - 2.0).abs() < 1e-3);
/// ```
pub fn exact_moments(problem: &Problem, t: f64) -> Result<Option<(Vec<f64>, Vec<f64>)>> {
    use crate::problem::{Boundary, Potential};
    if problem.boundary() != Boundary::NoFlux {
        return Ok(None);
    }
    let d = problem.dim();
    let (stiffness, center) = match problem.potential() {
        Potential::Flat => (vec![0.0; d], vec![0.0; d]),
        Potential::Quadratic { stiffness, center } => {
            let bc = |v: &[f64], default: f64| match v.len() {
                0 => vec![default; d],
                1 => vec![v[0]; d],
                _ => v.to_vec(),
            };
            (bc(stiffness, 0.0), bc(center, 0.0))
        }
        _ => return Ok(None),
    };
    let grid = problem.grid();
    let p0 = problem.initial_density()?;
    let vol = grid.cell_volume();
    let mut m1 = vec![0.0; d];
    let mut m2 = vec![0.0; d];
    let mut x = vec![0.0; d];
    for (idx, p) in p0.iter().enumerate() {
        grid.centre_into(idx, &mut x);
        for a in 0..d {
            m1[a] += p * vol * x[a];
            m2[a] += p * vol * x[a] * x[a];
        }
    }
    let alpha = problem.alpha();
    let gamma = problem.gamma();
    let diff = problem.diffusion_per_axis();
    let mut mean = vec![0.0; d];
    let mut second = vec![0.0; d];
    for a in 0..d {
        let (k, c, da) = (stiffness[a], center[a], diff[a]);
        if k > 0.0 {
            // moments of y = w - c, then back: <w^2> = <y^2> + 2 c <w> - c^2
            let y1 = ou_mean(m1[a] - c, gamma, k, alpha, t)?;
            let y2_0 = m2[a] - 2.0 * c * m1[a] + c * c;
            let y2 = ou_second_moment(y2_0, da, gamma, k, alpha, t)?;
            mean[a] = c + y1;
            second[a] = y2 + 2.0 * c * mean[a] - c * c;
        } else {
            mean[a] = m1[a];
            second[a] = m2[a] + free_msd(&[da], alpha, t);
        }
    }
    Ok(Some((mean, second)))
}
