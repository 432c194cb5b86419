//! Gradient-noise covariance from per-sample gradients, projected on given directions.
//!
//! With `g_j` the gradient of sample `j`'s loss (`j = 1..n`) and `g_bar` their mean (the full
//! gradient), the per-sample covariance is `C = (1/n) sum_j (g_j - g_bar)(g_j - g_bar)^T`. A
//! minibatch of `B` samples drawn uniformly **with** replacement has mean gradient with
//! covariance `C / B`; drawn without replacement (an epoch's shuffled batches), `C / B` times
//! the finite-population factor `(n - B) / (n - 1)` ([`NoiseStats::minibatch_scale`]).
//!
//! On a direction `v_i` (a Hessian eigenvector, for the OU model of SPEC 3.1) the noise
//! variance is `c_i = v_i^T C v_i`, the variance over samples of the scalar `g_j . v_i`; the
//! total is `tr C = (1/n) sum_j |g_j - g_bar|^2`. Both are accumulated in one streaming pass
//! with Welford's update and merged across parallel parts with Chan, Golub and LeVeque's
//! pairwise formula (1979), so `C` (`n_params^2`) is never formed and no mean is subtracted
//! after the fact (no cancellation).

use super::mlp::{Batch, Input, Label, Mlp, parts};
use super::{Result, check_len, dot};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Per-sample gradients computed at once by [`gradient_noise`], per parallel part (memory
/// `ROWS x n_params` per running thread).
const ROWS: usize = 32;

/// Streaming mean and covariance statistics of per-sample gradients (Welford).
#[derive(Debug, Clone)]
pub struct NoiseAccumulator<'a> {
    directions: &'a [Vec<f64>],
    n: usize,
    mean: Vec<f64>,
    /// `sum_j |g_j - mean|^2`.
    m2: f64,
    proj_mean: Vec<f64>,
    proj_m2: Vec<f64>,
}

impl<'a> NoiseAccumulator<'a> {
    /// An empty accumulator for gradients of dimension `dim`, projecting on `directions`
    /// (each `dim` long; unit vectors, for `c_i` to be a variance along a direction).
    pub fn new(dim: usize, directions: &'a [Vec<f64>]) -> Result<Self> {
        for v in directions {
            check_len("direction", dim, v.len())?;
        }
        Ok(Self {
            directions,
            n: 0,
            mean: vec![0.0; dim],
            m2: 0.0,
            proj_mean: vec![0.0; directions.len()],
            proj_m2: vec![0.0; directions.len()],
        })
    }

    /// Adds one per-sample gradient.
    pub fn push(&mut self, g: &[f64]) -> Result<()> {
        check_len("gradient", self.mean.len(), g.len())?;
        self.n += 1;
        let inv = 1.0 / self.n as f64;
        let mut m2 = 0.0;
        for (m, &x) in self.mean.iter_mut().zip(g) {
            let d = x - *m;
            *m += d * inv;
            m2 += d * (x - *m);
        }
        self.m2 += m2;
        for ((v, pm), pm2) in self
            .directions
            .iter()
            .zip(&mut self.proj_mean)
            .zip(&mut self.proj_m2)
        {
            let s = dot(v, g);
            let d = s - *pm;
            *pm += d * inv;
            *pm2 += d * (s - *pm);
        }
        Ok(())
    }

    /// Adds the statistics of `other` (same dimension and directions), as if its gradients had
    /// been pushed here.
    pub fn merge(&mut self, other: &Self) -> Result<()> {
        check_len("merged dimension", self.mean.len(), other.mean.len())?;
        check_len(
            "merged directions",
            self.proj_mean.len(),
            other.proj_mean.len(),
        )?;
        if other.n == 0 {
            return Ok(());
        }
        let (na, nb) = (self.n as f64, other.n as f64);
        let n = na + nb;
        let mut dd = 0.0;
        for (m, &mb) in self.mean.iter_mut().zip(&other.mean) {
            let d = mb - *m;
            dd += d * d;
            *m += d * nb / n;
        }
        self.m2 += other.m2 + dd * na * nb / n;
        for i in 0..self.proj_mean.len() {
            let d = other.proj_mean[i] - self.proj_mean[i];
            self.proj_mean[i] += d * nb / n;
            self.proj_m2[i] += other.proj_m2[i] + d * d * na * nb / n;
        }
        self.n += other.n;
        Ok(())
    }

    /// The statistics so far.
    pub fn finish(&self) -> NoiseStats {
        let inv = if self.n > 0 {
            1.0 / self.n as f64
        } else {
            f64::NAN
        };
        NoiseStats {
            n_samples: self.n,
            mean_grad: self.mean.clone(),
            trace: self.m2 * inv,
            projected: self.proj_m2.iter().map(|m| m * inv).collect(),
            projected_mean: self.proj_mean.clone(),
        }
    }
}

/// The per-sample gradient covariance `C` in summary (population normalisation `1/n`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoiseStats {
    /// Number of samples `n`.
    pub n_samples: usize,
    /// The mean gradient `g_bar` (the full-batch gradient).
    pub mean_grad: Vec<f64>,
    /// `tr C = (1/n) sum_j |g_j - g_bar|^2`.
    pub trace: f64,
    /// `c_i = v_i^T C v_i` for each direction.
    pub projected: Vec<f64>,
    /// `g_bar . v_i` for each direction.
    pub projected_mean: Vec<f64>,
}

impl NoiseStats {
    /// The factor turning `C` into the covariance of a minibatch mean gradient of size `b`:
    /// `1 / b` with replacement, `(n - b) / (b (n - 1))` without.
    pub fn minibatch_scale(&self, b: usize, with_replacement: bool) -> f64 {
        let (n, b) = (self.n_samples as f64, b as f64);
        if with_replacement || self.n_samples < 2 {
            1.0 / b
        } else {
            (n - b) / (b * (n - 1.0))
        }
    }
}

/// The per-sample gradient covariance of `mlp` at `params` over `data`, projected on
/// `directions` (each `n_params` long): one streaming pass over per-sample gradients
/// ([`Mlp::per_sample_grads`], 32 at a time per part), parts merged in order, so the result
/// does not depend on the number of threads.
pub fn gradient_noise<X: Input, L: Label>(
    mlp: &Mlp,
    params: &[f64],
    data: Batch<'_, X, L>,
    directions: &[Vec<f64>],
) -> Result<NoiseStats> {
    let np = mlp.n_params();
    check_len("params", np, params.len())?;
    let mut total = NoiseAccumulator::new(np, directions)?;
    let partial: Vec<Result<NoiseAccumulator<'_>>> = parts(data.len())
        .into_par_iter()
        .map(|range| {
            let mut acc = NoiseAccumulator::new(np, directions)?;
            let mut buf = vec![0.0; ROWS * np];
            for start in range.clone().step_by(ROWS) {
                let rows = data.slice(start..(start + ROWS).min(range.end));
                let g = &mut buf[..rows.len() * np];
                mlp.per_sample_grads(params, rows, g)?;
                for gj in g.chunks_exact(np) {
                    acc.push(gj)?;
                }
            }
            Ok(acc)
        })
        .collect();
    for acc in partial {
        total.merge(&acc?)?;
    }
    if total.n == 0 {
        // an empty batch: let the network's checks say so
        mlp.loss(params, data)?;
    }
    Ok(total.finish())
}

/// The norms `|g_B - g|` of the minibatch gradient noise at `params`: `count` minibatches of
/// size `b` drawn as SGD draws them (consecutive chunks of seeded permutations of `data`, full
/// chunks only, without replacement within an epoch), `g_B` their mean gradient and `g` the
/// full-batch gradient over `data`. The noise part of the SGD step is `lr (g_B - g)`; its mean
/// square is `tr C (n - b) / (b (n - 1))` ([`NoiseStats::minibatch_scale`]). The same `seed`
/// gives the same minibatches.
pub fn minibatch_noise_norms<X: Input, L: Label>(
    mlp: &Mlp,
    params: &[f64],
    data: Batch<'_, X, L>,
    b: usize,
    count: usize,
    seed: u64,
) -> Result<Vec<f64>> {
    let n = data.len();
    if b == 0 || b > n {
        return Err(super::CurvatureError::InvalidConfig {
            field: "minibatch size",
            value: b.to_string(),
            allowed: "1 to the number of samples",
        });
    }
    let np = mlp.n_params();
    let mut g = vec![0.0; np];
    mlp.loss_grad(params, data, &mut g)?;
    let dim = data.n_in();
    let (xs, ys) = (data.inputs(), data.labels());
    let mut rng = crate::rng::Rng::new(seed, &[0x6e6f_6973_6521, b as u64]);
    let mut x: Vec<X> = Vec::with_capacity(b * dim);
    let mut y: Vec<L> = Vec::with_capacity(b);
    let mut gb = vec![0.0; np];
    let mut out = Vec::with_capacity(count);
    let mut perm: Vec<usize> = Vec::new();
    let mut at = n;
    while out.len() < count {
        if at + b > n {
            perm = rng.permutation(n);
            at = 0;
        }
        x.clear();
        y.clear();
        for &k in &perm[at..at + b] {
            x.extend_from_slice(&xs[k * dim..(k + 1) * dim]);
            y.push(ys[k]);
        }
        at += b;
        mlp.loss_grad(params, Batch::new(&x, &y, dim)?, &mut gb)?;
        let d2: f64 = gb.iter().zip(&g).map(|(a, c)| (a - c) * (a - c)).sum();
        out.push(d2.sqrt());
    }
    Ok(out)
}
