//! The Metropolis-adjusted acceptance probability of measured SGLD steps (which steps, and
//! why not all: [`super::diagnostics`]).

#[allow(unused_imports)]
use super::*;
use crate::analysis::mala::{LangevinState, acceptance};

/// Measures the MALA acceptance probability of SGLD proposals `w -> w'` for the target
/// `exp(-U / s^2)`, `U(w) = n_beta L_B(w) + (gamma / 2) |w - w*|^2`, `s` the noise level: the
/// SGLD step `w' = w - (eps/2) grad U + sqrt(eps) s xi` is the Langevin step of that target
/// with step size `eps s^2`.
pub(crate) struct MalaProbe {
    /// Every `every`-th draw step is measured.
    every: usize,
    burnin: usize,
    between: usize,
    nbeta: f64,
    gamma: f64,
    /// `eps s^2`.
    eps: f64,
    /// `1 / s^2`.
    inv_s2: f64,
    /// `w*`, flat (PyTorch order); empty for callers that pass their own.
    pub(crate) wstar: Vec<f64>,
}

impl MalaProbe {
    /// The probe of `config` (`None` when nothing is measured: `acceptance_every = 0` or
    /// noise level 0), for chains at `wstar`.
    pub(crate) fn new(config: &LlcConfig, nbeta: f64, wstar: Vec<f64>) -> Option<MalaProbe> {
        let s2 = config.noise_level * config.noise_level;
        (config.acceptance_every > 0 && s2 > 0.0).then(|| MalaProbe {
            every: config.acceptance_every,
            burnin: config.burnin,
            between: config.steps_between_draws.max(1),
            nbeta,
            gamma: config.gamma,
            eps: config.epsilon * s2,
            inv_s2: 1.0 / s2,
            wstar,
        })
    }

    /// The probe for the chains of `net` (flat `w*`); the chains evaluate the losses and
    /// gradients themselves, with the kernels that step them.
    pub(super) fn for_network(
        net: &Network,
        config: &LlcConfig,
        nbeta: f64,
    ) -> Result<Option<MalaProbe>> {
        if config.acceptance_every == 0 || config.noise_level <= 0.0 {
            return Ok(None);
        }
        let wstar: Vec<f64> = net.flat_params()?.iter().map(|&v| f64::from(v)).collect();
        Ok(Self::new(config, nbeta, wstar))
    }

    /// Whether the step `t` (0-based, burn-in included) is measured: every `every`-th draw.
    pub(crate) fn measured(&self, t: usize) -> bool {
        t >= self.burnin
            && (t - self.burnin).is_multiple_of(self.between)
            && ((t - self.burnin) / self.between).is_multiple_of(self.every)
    }

    /// `(U, grad U) / s^2` at `w` from the loss `l` and its gradient `gl` there.
    fn potential(&self, w: &[f64], l: f64, gl: &[f64]) -> (f64, Vec<f64>) {
        let mut sq = 0.0;
        let g = w
            .iter()
            .zip(&self.wstar)
            .zip(gl)
            .map(|((&w, &a), &g)| {
                sq += (w - a) * (w - a);
                (self.nbeta * g + self.gamma * (w - a)) * self.inv_s2
            })
            .collect();
        ((self.nbeta * l + 0.5 * self.gamma * sq) * self.inv_s2, g)
    }

    /// The acceptance probability of `w -> w'` from the losses and loss gradients at both
    /// (`None` when it is undefined: a non-finite value, lengths that differ).
    pub(crate) fn accept(
        &self,
        (w, l, gl): (&[f64], f64, &[f64]),
        (wn, ln, gln): (&[f64], f64, &[f64]),
    ) -> Option<f64> {
        let (u, g) = self.potential(w, l, gl);
        let (un, gn) = self.potential(wn, ln, gln);
        let un = if un.is_nan() { f64::INFINITY } else { un };
        acceptance(
            &LangevinState { w, u, grad: &g },
            &LangevinState {
                w: wn,
                u: un,
                grad: &gn,
            },
            self.eps,
        )
        .ok()
    }
}

/// Flat f64 weights of a CPU chain.
pub(super) fn to_f64(w: &[f32]) -> Vec<f64> {
    w.iter().map(|&v| f64::from(v)).collect()
}

/// The per-chain flat f64 rows of chain-batched tensors (`[chains, ...]` each).
pub(super) fn per_chain_rows(ts: &[Tensor], chains: usize) -> Result<Vec<Vec<f64>>> {
    let mut rows = vec![vec![]; chains];
    for t in ts {
        let m = t.flatten_from(1)?.to_dtype(DType::F64)?.to_vec2::<f64>()?;
        for (r, v) in rows.iter_mut().zip(m) {
            r.extend(v);
        }
    }
    Ok(rows)
}
