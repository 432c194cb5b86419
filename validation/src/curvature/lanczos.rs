//! Lanczos with full reorthogonalisation: the extreme eigenpairs of a symmetric operator.
//!
//! The operator is a closure `op(v, out)` writing `out = A v`; nothing else of `A` is needed.
//! Starting from a seeded Gaussian vector `q_1`, step `j` computes `w = A q_j - beta_{j-1}
//! q_{j-1}`, `alpha_j = q_j . A q_j`, `w -= alpha_j q_j`, then orthogonalises `w` twice against
//! every basis vector (modified Gram-Schmidt, "twice is enough": Giraud, Langou and Rozloznik
//! 2005), so the basis stays orthonormal to rounding and no spurious copies of converged Ritz
//! values appear (Parlett, "The Symmetric Eigenvalue Problem", ch. 13). `beta_j = |w|`,
//! `q_{j+1} = w / beta_j`. The Ritz values are the eigenvalues of the tridiagonal `T_m`
//! (`alpha` on the diagonal, `beta` off it), found by [`tridiagonal_eigen`]; the Ritz pair
//! `(theta_i, Q s_i)` has residual `|A y - theta y| = beta_m |s_{m,i}|` (Parlett, 13.1), which is
//! the stopping test, and `|theta_i - lambda| <= residual` for some eigenvalue `lambda`.
//!
//! When `beta_j` vanishes the Krylov space is invariant; the iteration then restarts from a new
//! seeded vector orthogonal to the basis (a zero coupling in `T`), so eigenvalues missing from
//! the start vector are still found. A multiple eigenvalue is found once per restart at most: in
//! exact arithmetic a Krylov space holds one vector of each eigenspace.
//!
//! Memory: the basis, `steps x dim` values.

use super::rng::SplitMix64;
use super::{CurvatureError, Result, axpy, dot};
use serde::{Deserialize, Serialize};

/// Settings of [`lanczos_top_k`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LanczosConfig {
    /// Number of eigenpairs wanted, largest algebraic first. Default 3.
    pub k: usize,
    /// Most Lanczos steps (operator applications); capped at the dimension. Default 100.
    pub max_steps: usize,
    /// Stop when every wanted Ritz pair has residual `|A y - theta y| <= tol * ||T||`, with
    /// `||T||` the largest `|alpha_j| + beta_{j-1} + beta_j` so far (an estimate of `||A||`
    /// from below). Default `1e-10`.
    pub tol: f64,
    /// Seed of the start vector (and of restart vectors). Default 0.
    pub seed: u64,
}

impl Default for LanczosConfig {
    fn default() -> Self {
        Self {
            k: 3,
            max_steps: 100,
            tol: 1e-10,
            seed: 0,
        }
    }
}

/// Why the Lanczos iteration stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LanczosStop {
    /// Every wanted Ritz pair met the residual tolerance.
    Converged,
    /// `max_steps` steps were taken.
    MaxSteps,
    /// The basis spans an invariant subspace that no further vector can extend (the whole
    /// space, or a breakdown without restart): the Ritz values are eigenvalues.
    Exhausted,
}

/// The top eigenpairs found by [`lanczos_top_k`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LanczosResult {
    /// Ritz values, largest algebraic first (`min(k, steps)` of them).
    pub values: Vec<f64>,
    /// Ritz vectors (unit norm), in the order of `values`.
    pub vectors: Vec<Vec<f64>>,
    /// Residual norms `|A y - theta y|` of the pairs (from `beta_m |s_{m,i}|`).
    pub residuals: Vec<f64>,
    /// Lanczos steps taken (operator applications).
    pub steps: usize,
    /// Restarts after an invariant subspace was found.
    pub restarts: usize,
    /// Why it stopped.
    pub stop: LanczosStop,
}

/// A Lanczos basis and its tridiagonal matrix.
pub(crate) struct Krylov {
    /// Orthonormal basis, `steps x dim` row-major.
    pub(crate) basis: Vec<f64>,
    /// Diagonal of `T`.
    pub(crate) alpha: Vec<f64>,
    /// Couplings of `T` (`alpha.len() - 1` of them; zero at a restart).
    pub(crate) beta: Vec<f64>,
    /// Norm of the last residual `w` (the coupling to the next, not yet formed, vector).
    pub(crate) beta_next: f64,
    /// `||T||` estimate (largest row sum).
    pub(crate) tnorm: f64,
    /// Restarts taken.
    pub(crate) restarts: usize,
}

/// Relative size of `beta` below which the Krylov space is taken as invariant.
fn breakdown_tol(dim: usize) -> f64 {
    100.0 * (dim as f64).sqrt() * f64::EPSILON
}

/// Orthogonalises `w` against the `steps` rows of `basis`, twice (modified Gram-Schmidt).
fn reorthogonalise(basis: &[f64], dim: usize, w: &mut [f64]) {
    for _ in 0..2 {
        for q in basis.chunks_exact(dim) {
            let c = dot(q, w);
            axpy(-c, q, w);
        }
    }
}

/// Runs Lanczos from the unit vector `q0` for at most `max_steps` steps. After each step that
/// is not a breakdown, `converged(&krylov)` may stop the iteration. With `restart_seed`, a
/// breakdown restarts from a seeded random vector orthogonal to the basis; without, it stops.
pub(crate) fn run<F, C>(
    dim: usize,
    op: &mut F,
    q0: Vec<f64>,
    max_steps: usize,
    restart_seed: Option<u64>,
    mut converged: C,
) -> Result<(Krylov, LanczosStop)>
where
    F: FnMut(&[f64], &mut [f64]),
    C: FnMut(&Krylov) -> Result<bool>,
{
    let max_steps = max_steps.min(dim);
    let mut kr = Krylov {
        basis: Vec::with_capacity(max_steps * dim),
        alpha: Vec::with_capacity(max_steps),
        beta: Vec::with_capacity(max_steps),
        beta_next: 0.0,
        tnorm: 0.0,
        restarts: 0,
    };
    kr.basis.extend_from_slice(&q0);
    let mut w = vec![0.0; dim];
    let mut beta_prev = 0.0;
    loop {
        let j = kr.alpha.len();
        let q = &kr.basis[j * dim..(j + 1) * dim];
        op(q, &mut w);
        let a = dot(q, &w);
        if !a.is_finite() {
            return Err(CurvatureError::NonFinite {
                what: "Lanczos alpha = q . A q",
            });
        }
        axpy(-a, q, &mut w);
        if j > 0 {
            axpy(-beta_prev, &kr.basis[(j - 1) * dim..j * dim], &mut w);
        }
        kr.alpha.push(a);
        reorthogonalise(&kr.basis, dim, &mut w);
        let b = dot(&w, &w).sqrt();
        kr.beta_next = b;
        kr.tnorm = kr.tnorm.max(a.abs() + beta_prev + b);
        if kr.alpha.len() >= max_steps {
            let stop = if kr.alpha.len() == dim {
                LanczosStop::Exhausted
            } else {
                LanczosStop::MaxSteps
            };
            return Ok((kr, stop));
        }
        if b <= breakdown_tol(dim) * kr.tnorm {
            let Some(seed) = restart_seed else {
                return Ok((kr, LanczosStop::Exhausted));
            };
            kr.restarts += 1;
            let mut g = SplitMix64::new(seed, kr.restarts as u64);
            w.iter_mut().for_each(|x| *x = g.normal());
            let n0 = dot(&w, &w).sqrt();
            reorthogonalise(&kr.basis, dim, &mut w);
            let n1 = dot(&w, &w).sqrt();
            if n1 <= 1e-8 * n0 {
                return Ok((kr, LanczosStop::Exhausted));
            }
            w.iter_mut().for_each(|x| *x /= n1);
            kr.beta_next = 0.0;
            beta_prev = 0.0;
        } else {
            if converged(&kr)? {
                return Ok((kr, LanczosStop::Converged));
            }
            w.iter_mut().for_each(|x| *x /= b);
            beta_prev = b;
        }
        kr.beta.push(beta_prev);
        kr.basis.extend_from_slice(&w);
    }
}

/// A seeded unit Gaussian vector (stream 0 of `seed`).
pub(crate) fn start_vector(dim: usize, seed: u64) -> Vec<f64> {
    let mut g = SplitMix64::new(seed, 0);
    let mut v: Vec<f64> = (0..dim).map(|_| g.normal()).collect();
    let n = dot(&v, &v).sqrt();
    v.iter_mut().for_each(|x| *x /= n);
    v
}

/// The `k` largest (algebraic) eigenpairs of the symmetric operator `op` (`op(v, out)` writes
/// `out = A v`, both `dim` long) by Lanczos with full reorthogonalisation; see the module
/// documentation. Returns fewer than `k` pairs only if `dim < k`.
pub fn lanczos_top_k<F>(dim: usize, mut op: F, config: &LanczosConfig) -> Result<LanczosResult>
where
    F: FnMut(&[f64], &mut [f64]),
{
    if dim == 0 {
        return Err(CurvatureError::InvalidConfig {
            field: "dim",
            value: "0".into(),
            allowed: "at least 1",
        });
    }
    if config.k == 0 {
        return Err(CurvatureError::InvalidConfig {
            field: "k",
            value: "0".into(),
            allowed: "at least 1 eigenpair",
        });
    }
    if config.max_steps < config.k {
        return Err(CurvatureError::InvalidConfig {
            field: "max_steps",
            value: config.max_steps.to_string(),
            allowed: "at least k",
        });
    }
    if !(config.tol.is_finite() && config.tol > 0.0) {
        return Err(CurvatureError::InvalidConfig {
            field: "tol",
            value: config.tol.to_string(),
            allowed: "finite and > 0",
        });
    }
    let k = config.k.min(dim);
    let q0 = start_vector(dim, config.seed);
    let (kr, stop) = run(
        dim,
        &mut op,
        q0,
        config.max_steps,
        Some(config.seed),
        |kr| {
            let m = kr.alpha.len();
            if m < k {
                return Ok(false);
            }
            let (_, last) = tridiagonal_eigen(&kr.alpha, &kr.beta, &[m - 1])?;
            Ok(last[0][..k]
                .iter()
                .all(|s| (kr.beta_next * s).abs() <= config.tol * kr.tnorm))
        },
    )?;
    let m = kr.alpha.len();
    let rows: Vec<usize> = (0..m).collect();
    let (theta, s) = tridiagonal_eigen(&kr.alpha, &kr.beta, &rows)?;
    let k = k.min(m);
    let mut vectors = vec![vec![0.0; dim]; k];
    for (r, q) in kr.basis.chunks_exact(dim).enumerate() {
        for (i, y) in vectors.iter_mut().enumerate() {
            axpy(s[r][i], q, y);
        }
    }
    for y in &mut vectors {
        let n = dot(y, y).sqrt();
        y.iter_mut().for_each(|x| *x /= n);
    }
    Ok(LanczosResult {
        values: theta[..k].to_vec(),
        vectors,
        residuals: (0..k).map(|i| (kr.beta_next * s[m - 1][i]).abs()).collect(),
        steps: m,
        restarts: kr.restarts,
        stop,
    })
}

/// Eigenvalues of the symmetric tridiagonal matrix with diagonal `diag` (`n`) and off-diagonal
/// `off` (`n - 1`), largest algebraic first, and rows `rows` of the orthogonal matrix of
/// eigenvectors: `result.1[r][i]` is component `rows[r]` of eigenvector `i`.
///
/// Implicit QL with Wilkinson-type shifts, the EISPACK `tql2` algorithm (Bowdler, Martin,
/// Reinsch and Wilkinson 1968) in the form of Numerical Recipes' `tqli` (Press et al., 3rd ed.,
/// section 11.4). Each Givens rotation acts on two columns of the eigenvector matrix row by row,
/// so only the requested rows are accumulated: row 0 gives the Gauss quadrature weights of SLQ,
/// row `n - 1` the Lanczos residuals, all rows the Ritz vectors. Cost `O(n^2)` plus
/// `O(n^2 * rows.len())`.
pub fn tridiagonal_eigen(
    diag: &[f64],
    off: &[f64],
    rows: &[usize],
) -> Result<(Vec<f64>, Vec<Vec<f64>>)> {
    let n = diag.len();
    super::check_len("off-diagonal", n.saturating_sub(1), off.len())?;
    if let Some(&r) = rows.iter().find(|&&r| r >= n) {
        return Err(CurvatureError::InvalidConfig {
            field: "rows",
            value: r.to_string(),
            allowed: "row indices below the matrix size",
        });
    }
    if diag.iter().chain(off).any(|x| !x.is_finite()) {
        return Err(CurvatureError::NonFinite {
            what: "tridiagonal matrix",
        });
    }
    let nr = rows.len();
    let mut d = diag.to_vec();
    let mut e = off.to_vec();
    e.push(0.0);
    let mut z = vec![0.0; nr * n];
    for (k, &r) in rows.iter().enumerate() {
        z[k * n + r] = 1.0;
    }
    for l in 0..n {
        let mut iter = 0;
        loop {
            let mut m = l;
            while m + 1 < n {
                let dd = d[m].abs() + d[m + 1].abs();
                if e[m].abs() <= f64::EPSILON * dd {
                    break;
                }
                m += 1;
            }
            if m == l {
                break;
            }
            iter += 1;
            if iter > 60 {
                return Err(CurvatureError::NoConvergence {
                    index: l,
                    iterations: iter,
                });
            }
            let mut g = (d[l + 1] - d[l]) / (2.0 * e[l]);
            let mut r = g.hypot(1.0);
            g = d[m] - d[l] + e[l] / (g + r.copysign(g));
            let (mut s, mut c, mut p) = (1.0, 1.0, 0.0);
            let mut underflow = false;
            for i in (l..m).rev() {
                let f = s * e[i];
                let b = c * e[i];
                r = f.hypot(g);
                e[i + 1] = r;
                if r == 0.0 {
                    d[i + 1] -= p;
                    e[m] = 0.0;
                    underflow = true;
                    break;
                }
                s = f / r;
                c = g / r;
                g = d[i + 1] - p;
                r = (d[i] - g) * s + 2.0 * c * b;
                p = s * r;
                d[i + 1] = g + p;
                g = c * r - b;
                for zk in z.chunks_exact_mut(n) {
                    let f = zk[i + 1];
                    zk[i + 1] = s * zk[i] + c * f;
                    zk[i] = c * zk[i] - s * f;
                }
            }
            if underflow {
                continue;
            }
            d[l] -= p;
            e[l] = g;
            e[m] = 0.0;
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| d[b].total_cmp(&d[a]));
    let values = order.iter().map(|&i| d[i]).collect();
    let comps = z
        .chunks_exact(n.max(1))
        .take(nr)
        .map(|zk| order.iter().map(|&i| zk[i]).collect())
        .collect();
    Ok((values, comps))
}
