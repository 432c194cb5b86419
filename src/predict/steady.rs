//! Steady states: the direct sparse null-space solve of the discrete operator and the
//! Boltzmann closed form, with their agreement.
//!
//! The null vector is computed by replacing one row of `A p = 0` with the normalisation
//! `h^d sum p = 1` (the rows of `A` sum to the zero row because its columns sum to zero,
//! so any one row is redundant when the grid graph is connected) and one sparse LU solve.

use crate::error::{FfpeError, Result};
use crate::observables::{ObservableContext, Observables};
use crate::operator::FokkerPlanckOperator;
use crate::problem::{Boundary, Problem};
use faer::linalg::solvers::Solve;
use faer::sparse::{SparseColMat, Triplet};
use serde::Serialize;

/// A steady state and its comparison with the Boltzmann closed form.
#[derive(Clone, Debug, Serialize)]
pub struct SteadyState {
    /// Null-space density (unit mass).
    pub density: Vec<f64>,
    /// Boltzmann closed form `exp(-gamma L / D) / Z` when it exists.
    pub boltzmann: Option<Vec<f64>>,
    /// `int |p_null - p_Boltzmann|`.
    pub l1_vs_boltzmann: Option<f64>,
    /// Observables of the null-space density.
    pub observables: Observables,
    /// `max |A p|` of the null-space density (residual).
    pub residual: f64,
}

/// Null vector of a column-sum-zero operator normalised to `volume * sum p = 1`.
pub fn null_vector(a: &SparseColMat<usize, f64>, volume: f64) -> Result<Vec<f64>> {
    let n = a.nrows();
    let m = a.as_ref();
    let r = n - 1; // row replaced by the normalisation
    let mut trip = Vec::with_capacity(m.compute_nnz() + n);
    for j in 0..n {
        for (i, &v) in m.row_idx_of_col(j).zip(m.val_of_col(j)) {
            if i != r {
                trip.push(Triplet::new(i, j, v));
            }
        }
        trip.push(Triplet::new(r, j, volume));
    }
    let b = SparseColMat::<usize, f64>::try_new_from_triplets(n, n, &trip).map_err(|e| {
        FfpeError::Linalg {
            context: "steady state".into(),
            reason: format!("{e:?}"),
        }
    })?;
    let lu = b.sp_lu().map_err(|e| FfpeError::Linalg {
        context: "steady state LU".into(),
        reason: format!("{e:?}"),
    })?;
    let mut rhs = faer::Mat::<f64>::zeros(n, 1);
    rhs[(r, 0)] = 1.0;
    lu.solve_in_place(rhs.as_mut());
    let p: Vec<f64> = (0..n).map(|i| rhs[(i, 0)]).collect();
    if p.iter().any(|x| !x.is_finite()) {
        return Err(FfpeError::Linalg {
            context: "steady state".into(),
            reason: "singular system (disconnected grid?)".into(),
        });
    }
    Ok(p)
}

/// Steady state of a problem (no-flux or periodic boundaries).
///
/// ```
/// use ffpe::{predict::steady_state, problem::{Potential, Problem}};
/// let p = Problem::builder()
///     .potential(Potential::quadratic(&[2.0]))
///     .domain(&[-5.0], &[5.0], &[100])
///     .build()
///     .unwrap();
/// let s = steady_state(&p).unwrap();
/// assert!(s.l1_vs_boltzmann.unwrap() < 1e-10);
/// // <w^2> = D / (gamma k) = 0.5 up to O(h^2)
/// assert!((s.observables.second_moment[0] - 0.5).abs() < 1e-3);
/// ```
pub fn steady_state(problem: &Problem) -> Result<SteadyState> {
    if problem.boundary() == Boundary::Absorbing {
        return Err(FfpeError::invalid(
            "domain.boundary",
            "absorbing boundaries have no steady state other than zero: use \"no-flux\" or \"periodic\"",
        ));
    }
    let op = FokkerPlanckOperator::assemble(problem)?;
    let g = problem.grid();
    let p = null_vector(op.matrix(), g.cell_volume())?;
    let mut ap = vec![0.0; p.len()];
    crate::operator::ApplyOperator::apply_into(&op, &p, &mut ap);
    let residual = ap.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let boltzmann = problem.boltzmann_density().ok();
    let l1 = boltzmann
        .as_ref()
        .map(|b| g.cell_volume() * p.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f64>());
    let ctx = ObservableContext::for_problem(problem)?.with_steady(boltzmann.clone());
    let observables = ctx.observe(f64::INFINITY, &p);
    Ok(SteadyState {
        density: p,
        boltzmann,
        l1_vs_boltzmann: l1,
        observables,
        residual,
    })
}
