//! Local learning coefficient (LLC) by SGLD, the estimator of Lau et al. as implemented by
//! devinterp 1.x.
//!
//! Each chain starts at the trained weights `w*` and takes steps
//!
//! ```text
//! w <- w - (eps/2) (n_beta grad L_B(w) + gamma (w - w*)) + sqrt(eps) N(0, noise_level^2 I)
//! ```
//!
//! with `L_B` the mean cross-entropy of the step's minibatch. The loss recorded for a step is
//! `L_B` at the weights *before* that step's update. After `burnin` steps, every
//! `steps_between_draws`-th step is a draw; per chain `llc_c = n_beta (mean of draws - L(w*))`,
//! and the estimate is the mean over chains. `L(w*)` (`init_loss`) is the full training-set
//! loss at `w*` by default, the mean over the first `K` minibatches (devinterp's choice), or a
//! given number (devinterp's `init_loss=` argument).
//!
//! Every estimate carries its convergence diagnostics ([`LlcDiagnostics`]: R-hat, bulk and
//! tail ESS of the per-draw loss, the mean Metropolis-adjusted acceptance of a declared
//! subsample of the SGLD proposals, the burn-in detected from the loss traces, and plain-sentence
//! warnings) and the `n_beta` it used with both conventions ([`NBetaRecord`]).
//!
//! [`truth`] runs the same chains on models with a closed-form coefficient (reduced-rank
//! regression, powers, normal crossings): the estimator checked against the truth;
//! [`truth_data`] writes such a model's true parameter, settings and (reduced-rank regression)
//! a synthetic data set with exactly its loss to a file, for other estimators.
//!
//! [`estimate_with_progress`] reports the chain-steps done to a callback, which can stop the
//! run; the result is the same as [`estimate`]'s.
//!
//! On the CPU, networks without BatchNorm run each chain with the kernels of
//! [`crate::mlp_cpu`] (preallocated buffers, the gradient term fused into the weight-gradient
//! product, a sparse first layer for mostly-zero inputs). Otherwise all chains advance together
//! as one batched candle computation: every parameter gets a leading chain dimension and the
//! forward and backward passes use batched matrix products. Each chain has its own minibatch
//! stream and its own noise stream (a [`crate::rng::NormalBlocks`] seeded by `(seed, chain)`,
//! drawn parameter by parameter in PyTorch order on both paths, each weight matrix input by
//! input), so the result does not depend
//! on how many chains run together. Networks with BatchNorm are sampled in evaluation
//! mode (running statistics of `w*` held fixed), so the loss is a function of the weights only.
//!
//! ```
//! use ffpe_validation::{data, llc::{self, LlcConfig}, model::{Arch, Network}};
//! let d = data::load(&data::DataConfig::default()).unwrap();
//! let net = Network::init(&"784-8-10".parse::<Arch>().unwrap(), 0, &candle_core::Device::Cpu).unwrap();
//! let cfg = LlcConfig { chains: 2, draws: 5, ..LlcConfig::default() };
//! let r = llc::estimate(&net, &d.train, &cfg).unwrap();
//! assert_eq!(r.llc_per_chain.len(), 2);
//! assert_eq!(r.trace[0].len(), 5);
//! ```

use crate::batches::Batcher;
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::grad;
use crate::mlp_cpu::{InputLayer, SgdMlp};
use crate::model::{BnMode, Network};
use crate::optim::sgld::{SgldOp, SgldStep, draw_param_noise, sgld_tensors};
use crate::rng::{NormalBlocks, Rng};
use candle_core::{DType, Tensor};

mod accept;
mod chains;
mod config;
pub mod diagnostics;
mod estimate;
pub mod sweep;
#[cfg(test)]
mod tests;
pub mod truth;
pub mod truth_data;

use accept::*;
use chains::*;
pub use config::{InitLoss, LlcConfig, NBeta, NBetaRecord};
pub use diagnostics::LlcDiagnostics;
use estimate::*;
pub use estimate::{LlcResult, ProgressFn, estimate, estimate_many, estimate_with_progress};
