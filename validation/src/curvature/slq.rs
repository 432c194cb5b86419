//! Stochastic Lanczos quadrature: the spectral density of a symmetric operator and the traces
//! `tr f(A)`, as PyHessian (Yao et al. 2020) computes the Hessian's density.
//!
//! For a Rademacher probe `v` (entries +-1, `|v|^2 = n`), `m` Lanczos steps from `v / |v|` give
//! `T_m = S diag(theta) S^T`; with nodes `theta_k` and weights `tau_k = S_{0k}^2` (summing to
//! 1), `v^T f(A) v ~ n sum_k tau_k f(theta_k)`, the `m`-point Gauss quadrature of the spectral
//! measure of `A` seen from `v`, exact when `f` is a polynomial of degree at most `2m - 1`
//! (Golub and Meurant 2010). Averaging over `n_v` probes gives `tr f(A)` (Ubaru, Chen and Saad
//! 2017, "Fast estimation of tr(f(A)) via stochastic Lanczos quadrature"). For `f(x) = x` and
//! `x^2` (and `m >= 2`) the quadrature is exact, so [`SlqResult::trace`] and
//! [`SlqResult::trace_sq`] are the Hutchinson estimators, whose variance is
//! `2 (||A||_F^2 - sum_i A_ii^2) / n_v <= 2 ||A||_F^2 / n_v` for `tr A` (Hutchinson 1990;
//! Avron and Toledo 2011), and the same with `A^2` for `tr A^2`.
//!
//! The density is the quadrature measure smoothed by a Gaussian of width `sigma`:
//! `phi(t) = (1 / n_v) sum_probes sum_k tau_k N(t; theta_k, sigma^2)`, a probability density
//! (PyHessian's `density_generate`, without its renormalisation on the grid).
//!
//! Every probe uses full reorthogonalisation ([`super::lanczos`]); a breakdown (invariant
//! Krylov space) ends that probe early with an exact quadrature.

use super::lanczos::{self, tridiagonal_eigen};
use super::rng::SplitMix64;
use super::{CurvatureError, Result};
use serde::{Deserialize, Serialize};

/// Settings of [`slq()`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SlqConfig {
    /// Number of Rademacher probes `n_v`. Default 10.
    pub n_probes: usize,
    /// Lanczos steps per probe `m` (quadrature nodes), capped at the dimension. Default 100
    /// (PyHessian's `iter`).
    pub steps: usize,
    /// Seed: probe `i` is stream `i` of this seed. Default 0.
    pub seed: u64,
}

impl Default for SlqConfig {
    fn default() -> Self {
        Self {
            n_probes: 10,
            steps: 100,
            seed: 0,
        }
    }
}

/// Quadrature nodes and weights of every probe, from [`slq()`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlqResult {
    /// Dimension `n` of the operator.
    pub dim: usize,
    /// Nodes `theta_k` (Ritz values) of each probe, largest first.
    pub nodes: Vec<Vec<f64>>,
    /// Weights `tau_k` of each probe (each probe's weights sum to 1).
    pub weights: Vec<Vec<f64>>,
}

impl SlqResult {
    /// Per-probe estimates `n sum_k tau_k f(theta_k)` of `tr f(A)`.
    pub fn probe_traces(&self, f: impl Fn(f64) -> f64) -> Vec<f64> {
        self.nodes
            .iter()
            .zip(&self.weights)
            .map(|(th, w)| self.dim as f64 * th.iter().zip(w).map(|(&t, &w)| w * f(t)).sum::<f64>())
            .collect()
    }

    /// The estimate of `tr f(A)` (mean over probes) and its standard error (sample standard
    /// deviation over `sqrt(n_v)`; `NaN` for a single probe).
    pub fn trace_fn(&self, f: impl Fn(f64) -> f64) -> (f64, f64) {
        let t = self.probe_traces(f);
        let n = t.len() as f64;
        let mean = t.iter().sum::<f64>() / n;
        let var = t.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
        (mean, (var / n).sqrt())
    }

    /// The estimate of `tr A`.
    pub fn trace(&self) -> f64 {
        self.trace_fn(|x| x).0
    }

    /// The estimate of `tr A^2 = ||A||_F^2`.
    pub fn trace_sq(&self) -> f64 {
        self.trace_fn(|x| x * x).0
    }

    /// The Gaussian-smoothed spectral density at the points `grid`, with width `sigma`; it
    /// integrates to 1 over the real line.
    pub fn density(&self, grid: &[f64], sigma: f64) -> Result<Vec<f64>> {
        if !(sigma.is_finite() && sigma > 0.0) {
            return Err(CurvatureError::InvalidConfig {
                field: "sigma",
                value: sigma.to_string(),
                allowed: "finite and > 0",
            });
        }
        let norm = 1.0 / (self.nodes.len() as f64 * sigma * (std::f64::consts::TAU).sqrt());
        Ok(grid
            .iter()
            .map(|&t| {
                let s: f64 = self
                    .nodes
                    .iter()
                    .zip(&self.weights)
                    .flat_map(|(th, w)| th.iter().zip(w))
                    .map(|(&th, &w)| w * (-0.5 * ((t - th) / sigma).powi(2)).exp())
                    .sum();
                s * norm
            })
            .collect())
    }
}

/// Rademacher probe `probe` of `seed`: `dim` entries +-1.
pub(crate) fn rademacher(dim: usize, seed: u64, probe: usize) -> Vec<f64> {
    let mut g = SplitMix64::new(seed, probe as u64);
    (0..dim).map(|_| g.sign()).collect()
}

/// Stochastic Lanczos quadrature of the symmetric operator `op` (`op(v, out)` writes
/// `out = A v`): `n_probes` Rademacher probes, `steps` Lanczos steps each.
pub fn slq<F>(dim: usize, mut op: F, config: &SlqConfig) -> Result<SlqResult>
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
    if config.n_probes == 0 || config.steps == 0 {
        return Err(CurvatureError::InvalidConfig {
            field: "n_probes, steps",
            value: format!("{}, {}", config.n_probes, config.steps),
            allowed: "at least 1 each",
        });
    }
    let mut nodes = Vec::with_capacity(config.n_probes);
    let mut weights = Vec::with_capacity(config.n_probes);
    let scale = 1.0 / (dim as f64).sqrt();
    for p in 0..config.n_probes {
        let q0: Vec<f64> = rademacher(dim, config.seed, p)
            .into_iter()
            .map(|x| x * scale)
            .collect();
        let (kr, _) = lanczos::run(dim, &mut op, q0, config.steps, None, |_| Ok(false))?;
        let (theta, s) = tridiagonal_eigen(&kr.alpha, &kr.beta, &[0])?;
        weights.push(s[0].iter().map(|x| x * x).collect());
        nodes.push(theta);
    }
    Ok(SlqResult {
        dim,
        nodes,
        weights,
    })
}
