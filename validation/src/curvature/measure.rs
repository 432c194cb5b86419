//! One call from a checkpoint's weights to the measured curvature and gradient noise: what
//! `ffpe-validate hessian` prints and what the rival (Ornstein-Uhlenbeck) model of SPEC 3.1
//! takes as input.

use super::{
    Batch, CurvatureError, LanczosConfig, Mlp, Result, SlqConfig, gradient_noise, lanczos_top_k,
    slq,
};
use serde::{Deserialize, Serialize};

/// What to measure ([`measure`]); defaults in [`HessianConfig::default`].
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct HessianConfig {
    /// Top eigenpairs by Lanczos (default 5).
    pub top: usize,
    /// Lanczos steps at most (default 100).
    pub lanczos_steps: usize,
    /// Also the spectral density by stochastic Lanczos quadrature (default false).
    pub density: bool,
    /// SLQ probes (default 10).
    pub slq_probes: usize,
    /// SLQ Lanczos steps per probe (default 80).
    pub slq_steps: usize,
    /// Points of the density grid (default 200).
    pub density_points: usize,
    /// Also the gradient-noise covariance on the top eigenvectors (default true).
    pub noise: bool,
    /// Use the first `max_samples` images only (default: all).
    pub max_samples: Option<usize>,
    /// Seed of the Lanczos start vector and the SLQ probes (default 0).
    pub seed: u64,
}

impl Default for HessianConfig {
    fn default() -> Self {
        Self {
            top: 5,
            lanczos_steps: 100,
            density: false,
            slq_probes: 10,
            slq_steps: 80,
            density_points: 200,
            noise: true,
            max_samples: None,
            seed: 0,
        }
    }
}

/// The spectral density of the Hessian on a grid (Gaussian-smoothed SLQ).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Density {
    /// Grid of eigenvalues.
    pub grid: Vec<f64>,
    /// Density values (integrate to 1).
    pub values: Vec<f64>,
    /// Smoothing width.
    pub sigma: f64,
    /// `tr H` estimated by SLQ.
    pub trace: f64,
    /// `tr H^2` estimated by SLQ.
    pub trace_sq: f64,
}

/// The measured curvature of the mean cross-entropy at one point.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct HessianReport {
    /// Layer widths, input first.
    pub widths: Vec<usize>,
    /// Trainable parameters.
    pub n_params: usize,
    /// Images the loss averages over.
    pub n_samples: usize,
    /// Mean cross-entropy at the weights.
    pub loss: f64,
    /// Norm of the full-batch gradient.
    pub grad_norm: f64,
    /// Top eigenvalues, largest first.
    pub eigenvalues: Vec<f64>,
    /// Residual norms `|H v - theta v|` of the Ritz pairs.
    pub residuals: Vec<f64>,
    /// Lanczos steps taken.
    pub lanczos_steps: usize,
    /// Spectral density (when asked for).
    pub density: Option<Density>,
    /// `tr C` of the per-sample gradient covariance (when asked for).
    pub noise_trace: Option<f64>,
    /// `c_i = v_i^T C v_i` on the top eigenvectors (when asked for).
    pub noise_projected: Option<Vec<f64>>,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// Measures the Hessian of the mean cross-entropy of the ReLU network `widths` with flat
/// parameters `params` (PyTorch order: per layer weight `[out, in]`, then bias) over the
/// images `x` (`n x widths[0]`) with labels `y`.
pub fn measure<X: super::Input, L: super::Label>(
    widths: &[usize],
    params: &[f64],
    x: &[X],
    y: &[L],
    cfg: &HessianConfig,
) -> Result<HessianReport> {
    let start = std::time::Instant::now();
    if cfg.top == 0 {
        return Err(CurvatureError::InvalidConfig {
            field: "top",
            value: "0".into(),
            allowed: "at least 1",
        });
    }
    if cfg.max_samples == Some(0) {
        return Err(CurvatureError::InvalidConfig {
            field: "max-samples",
            value: "0".into(),
            allowed: "at least 1 (the loss is a mean over the samples)",
        });
    }
    let mlp = Mlp::new(widths)?;
    let d = widths[0];
    let n = match cfg.max_samples {
        Some(m) => m.min(y.len()),
        None => y.len(),
    };
    let data = Batch::new(&x[..(n * d).min(x.len())], &y[..n], d)?;
    let mut grad = vec![0.0; mlp.n_params()];
    let loss = mlp.loss_grad(params, data, &mut grad)?;
    let grad_norm = grad.iter().map(|g| g * g).sum::<f64>().sqrt();
    let h = mlp.hessian(params, data)?;
    let lc = LanczosConfig {
        k: cfg.top,
        max_steps: cfg.lanczos_steps.max(cfg.top + 1),
        seed: cfg.seed,
        ..LanczosConfig::default()
    };
    let top = lanczos_top_k(h.dim(), |v, out| h.apply(v, out), &lc)?;
    let density = if cfg.density {
        let sc = SlqConfig {
            n_probes: cfg.slq_probes,
            steps: cfg.slq_steps,
            seed: cfg.seed,
        };
        let r = slq(h.dim(), |v, out| h.apply(v, out), &sc)?;
        let (lo, hi) = r
            .nodes
            .iter()
            .flatten()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        let span = (hi - lo).max(1e-12);
        let (lo, hi) = (lo - 0.05 * span, hi + 0.05 * span);
        let m = cfg.density_points.max(2);
        let grid: Vec<f64> = (0..m)
            .map(|i| lo + (hi - lo) * i as f64 / (m - 1) as f64)
            .collect();
        // PyHessian's smoothing: a Gaussian of width 1 % of the spectrum's span
        let sigma = 0.01 * span;
        let values = r.density(&grid, sigma)?;
        Some(Density {
            grid,
            values,
            sigma,
            trace: r.trace(),
            trace_sq: r.trace_sq(),
        })
    } else {
        None
    };
    let (noise_trace, noise_projected) = if cfg.noise {
        let s = gradient_noise(&mlp, params, data, &top.vectors)?;
        (Some(s.trace), Some(s.projected))
    } else {
        (None, None)
    };
    Ok(HessianReport {
        widths: widths.to_vec(),
        n_params: mlp.n_params(),
        n_samples: n,
        loss,
        grad_norm,
        eigenvalues: top.values,
        residuals: top.residuals,
        lanczos_steps: top.steps,
        density,
        noise_trace,
        noise_projected,
        seconds: start.elapsed().as_secs_f64(),
    })
}
