//! Optimizers: the configuration ([`Optimizer`], parsed once from a name by [`OptimizerKind`])
//! and every update rule written once as a slice kernel.
//!
//! - [`sgd`]: SGD with optional momentum and (coupled) weight decay, as `torch.optim.SGD`:
//!   `g <- g + wd w`; `buf <- momentum buf + g` (`buf = g` on the first step, no dampening);
//!   `w <- w - lr buf` (with `momentum = 0`: `w <- w - lr g`, no buffer).
//! - [`adam`]: Adam with optional decoupled weight decay, as `torch.optim.AdamW`
//!   (`w <- (1 - lr wd) w`, then the Adam step; `wd = 0` is `torch.optim.Adam`).
//! - [`sgld`]: the localized SGLD step of the LLC estimator and the Langevin step of the Moons
//!   test, `w <- w - (eps/2) (n_beta g + gamma (w - w*)) + sigma z`.
//!
//! Each kernel runs over plain slices (`f32` for the networks, `f64` for the Moons MLP); the
//! candle ops and the CPU fast path ([`crate::mlp_cpu`]) call them. Two places keep a fused form
//! of the same arithmetic because it is faster and is what the study was run with: plain SGD and
//! the SGLD gradient term on the CPU fast path add `-lr dZ^T A` inside the weight-gradient
//! product (no gradient is stored), and devices other than the CPU apply the updates with
//! tensor operations. Both are tested against the kernels.
//!
//! ```
//! use ffpe_validation::optim::{Optimizer, OptimizerKind};
//! let k: OptimizerKind = "adam".parse().unwrap();
//! assert_eq!(k, OptimizerKind::Adam);
//! let e = "sdg".parse::<OptimizerKind>().unwrap_err().to_string();
//! assert!(e.contains("sgd") && e.contains("adam"));
//! let o = Optimizer::sgd(0.1).with_momentum(0.9).with_weight_decay(5e-4);
//! assert_eq!(o.kind(), OptimizerKind::Sgd);
//! ```

pub mod adam;
pub mod sgd;
pub mod sgld;

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

pub use adam::AdamStep;
pub use sgd::SgdStep;
pub use sgld::SgldStep;

/// The scalar types the kernels run on (`f32` for the networks, `f64` for the Moons MLP).
pub trait Real:
    Copy
    + PartialEq
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::Div<Output = Self>
    + std::ops::AddAssign
    + std::ops::SubAssign
    + std::ops::MulAssign
{
    /// Zero.
    const ZERO: Self;
    /// Square root.
    fn sqrt(self) -> Self;
    /// From an `f64` constant (rounded to nearest).
    fn of(x: f64) -> Self;
}

impl Real for f32 {
    const ZERO: Self = 0.0;
    fn sqrt(self) -> Self {
        f32::sqrt(self)
    }
    fn of(x: f64) -> Self {
        x as f32
    }
}

impl Real for f64 {
    const ZERO: Self = 0.0;
    fn sqrt(self) -> Self {
        f64::sqrt(self)
    }
    fn of(x: f64) -> Self {
        x
    }
}

/// Which optimizer, by name: `sgd` or `adam` (parsed once, at the edge; an unknown name is an
/// error that lists the allowed ones). Serialized as the lowercase name.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// Stochastic gradient descent ([`Optimizer::Sgd`]), the study's optimizer (the default).
    #[default]
    Sgd,
    /// Adam ([`Optimizer::Adam`]).
    Adam,
}

impl OptimizerKind {
    /// Every kind, in the order of the study (SGD first).
    pub const ALL: [OptimizerKind; 2] = [OptimizerKind::Sgd, OptimizerKind::Adam];

    /// The name (`sgd`, `adam`).
    pub const fn name(self) -> &'static str {
        match self {
            OptimizerKind::Sgd => "sgd",
            OptimizerKind::Adam => "adam",
        }
    }

    /// The allowed names, comma separated.
    pub fn allowed() -> String {
        Self::ALL.map(Self::name).join(", ")
    }
}

impl std::fmt::Display for OptimizerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for OptimizerKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| Error::UnknownOptimizer {
                name: s.to_string(),
                allowed: Self::allowed(),
            })
    }
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

/// An optimizer and its hyperparameters. The study's optimizer is plain SGD
/// ([`Optimizer::sgd`]: no momentum, no weight decay); Adam is the contrast. Momentum and weight
/// decay are written into configurations only when nonzero, so configurations (and resume
/// files) of plain SGD and Adam read and write as before they existed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Optimizer {
    /// SGD as `torch.optim.SGD` (no dampening, no Nesterov).
    Sgd {
        /// Learning rate.
        lr: f64,
        /// Momentum (default 0: none).
        #[serde(default, skip_serializing_if = "is_zero")]
        momentum: f64,
        /// L2 weight decay added to the gradient (default 0: none).
        #[serde(default, skip_serializing_if = "is_zero")]
        weight_decay: f64,
    },
    /// Adam as `torch.optim.AdamW` (no AMSGrad); with `weight_decay = 0`, `torch.optim.Adam`.
    Adam {
        /// Learning rate.
        lr: f64,
        /// First-moment decay.
        beta1: f64,
        /// Second-moment decay.
        beta2: f64,
        /// Denominator epsilon.
        eps: f64,
        /// Decoupled weight decay `w <- (1 - lr wd) w` before the step (default 0: none).
        #[serde(default, skip_serializing_if = "is_zero")]
        weight_decay: f64,
    },
}

impl Optimizer {
    /// Plain SGD with learning rate `lr` (no momentum, no weight decay).
    pub fn sgd(lr: f64) -> Self {
        Optimizer::Sgd {
            lr,
            momentum: 0.0,
            weight_decay: 0.0,
        }
    }

    /// Adam with learning rate `lr` and PyTorch's defaults (0.9, 0.999, 1e-8), no weight decay.
    pub fn adam(lr: f64) -> Self {
        Optimizer::Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
        }
    }

    /// The optimizer `kind` with learning rate `lr` and its defaults.
    pub fn of_kind(kind: OptimizerKind, lr: f64) -> Self {
        match kind {
            OptimizerKind::Sgd => Self::sgd(lr),
            OptimizerKind::Adam => Self::adam(lr),
        }
    }

    /// The same optimizer with momentum `m` (SGD only; Adam has its `beta1` and ignores it).
    pub fn with_momentum(mut self, m: f64) -> Self {
        if let Optimizer::Sgd { momentum, .. } = &mut self {
            *momentum = m;
        }
        self
    }

    /// The same optimizer with weight decay `wd` (coupled for SGD, decoupled for Adam).
    pub fn with_weight_decay(mut self, wd: f64) -> Self {
        match &mut self {
            Optimizer::Sgd { weight_decay, .. } | Optimizer::Adam { weight_decay, .. } => {
                *weight_decay = wd
            }
        }
        self
    }

    /// Which optimizer.
    pub fn kind(&self) -> OptimizerKind {
        match self {
            Optimizer::Sgd { .. } => OptimizerKind::Sgd,
            Optimizer::Adam { .. } => OptimizerKind::Adam,
        }
    }

    /// Learning rate.
    pub fn lr(&self) -> f64 {
        match self {
            Optimizer::Sgd { lr, .. } | Optimizer::Adam { lr, .. } => *lr,
        }
    }

    /// Momentum (0 for Adam).
    pub fn momentum(&self) -> f64 {
        match self {
            Optimizer::Sgd { momentum, .. } => *momentum,
            Optimizer::Adam { .. } => 0.0,
        }
    }

    /// Weight decay.
    pub fn weight_decay(&self) -> f64 {
        match self {
            Optimizer::Sgd { weight_decay, .. } | Optimizer::Adam { weight_decay, .. } => {
                *weight_decay
            }
        }
    }

    /// Plain SGD (no momentum, no weight decay): the study's optimizer, whose CPU update is fused
    /// into the gradient product.
    pub fn is_plain_sgd(&self) -> bool {
        matches!(self, Optimizer::Sgd { momentum, weight_decay, .. }
            if *momentum == 0.0 && *weight_decay == 0.0)
    }

    /// The optimizer keeps one buffer per parameter (SGD momentum) or two (Adam's moments).
    pub fn state_buffers(&self) -> usize {
        match self {
            Optimizer::Sgd { momentum, .. } => usize::from(*momentum != 0.0),
            Optimizer::Adam { .. } => 2,
        }
    }

    /// Check ranges.
    pub fn validate(&self) -> Result<()> {
        let lr = self.lr();
        if !(lr.is_finite() && lr > 0.0) {
            return Err(Error::config("lr", lr, "a positive finite number"));
        }
        let wd = self.weight_decay();
        if !(wd.is_finite() && wd >= 0.0) {
            return Err(Error::config("weight-decay", wd, "a finite number >= 0"));
        }
        match *self {
            Optimizer::Sgd { momentum, .. } => {
                if !(0.0..1.0).contains(&momentum) {
                    return Err(Error::config("momentum", momentum, "in [0, 1)"));
                }
            }
            Optimizer::Adam {
                beta1, beta2, eps, ..
            } => {
                for (f, v) in [("beta1", beta1), ("beta2", beta2)] {
                    if !(0.0..1.0).contains(&v) {
                        return Err(Error::config(f, v, "in [0, 1)"));
                    }
                }
                if !(eps.is_finite() && eps > 0.0) {
                    return Err(Error::config("adam-eps", eps, "a positive finite number"));
                }
            }
        }
        Ok(())
    }

    /// The SGD step constants of step `t` (counting from 1), in the parameter type `T`.
    /// `None` for Adam.
    pub fn sgd_step<T: Real>(&self, t: u64) -> Option<SgdStep<T>> {
        match *self {
            Optimizer::Sgd {
                lr,
                momentum,
                weight_decay,
            } => Some(SgdStep::new(lr, momentum, weight_decay, t)),
            Optimizer::Adam { .. } => None,
        }
    }

    /// The Adam step of step `t` (counting from 1). `None` for SGD.
    pub fn adam_step(&self, t: u64) -> Option<AdamStep> {
        match *self {
            Optimizer::Adam {
                lr,
                beta1,
                beta2,
                eps,
                weight_decay,
            } => Some(AdamStep {
                lr,
                beta1,
                beta2,
                eps,
                weight_decay,
                t,
            }),
            Optimizer::Sgd { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_once_and_typos_list_the_allowed() {
        for k in OptimizerKind::ALL {
            assert_eq!(k.name().parse::<OptimizerKind>().unwrap(), k);
            assert_eq!(serde_json::to_string(&k).unwrap(), format!("\"{k}\""));
        }
        let e = "sdg".parse::<OptimizerKind>().unwrap_err().to_string();
        assert!(e.contains("sdg") && e.contains("sgd, adam"), "{e}");
    }

    #[test]
    fn plain_configurations_serialize_as_before() {
        let s = serde_json::to_string(&Optimizer::sgd(0.001)).unwrap();
        assert_eq!(s, r#"{"Sgd":{"lr":0.001}}"#);
        let a = serde_json::to_string(&Optimizer::adam(0.001)).unwrap();
        assert_eq!(
            a,
            r#"{"Adam":{"lr":0.001,"beta1":0.9,"beta2":0.999,"eps":1e-8}}"#
        );
        let m = Optimizer::sgd(0.1).with_momentum(0.9);
        let back: Optimizer = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn validate_checks_the_new_options() {
        assert!(Optimizer::sgd(0.1).with_momentum(1.0).validate().is_err());
        assert!(
            Optimizer::sgd(0.1)
                .with_weight_decay(-1.0)
                .validate()
                .is_err()
        );
        assert!(
            Optimizer::adam(0.1)
                .with_weight_decay(0.01)
                .validate()
                .is_ok()
        );
    }
}
