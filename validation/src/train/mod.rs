//! Training runs with an [`Optimizer`] (the study's plain SGD; SGD with momentum or weight
//! decay; Adam or AdamW), checkpoints on a geometric schedule, `R(t)`, losses, LLC traces;
//! resumable after `kill -9` with results identical to an uninterrupted run on the CPU.
//!
//! Conventions. "Step `s`" means "after `s` parameter updates"; checkpoint `s` holds `w_s`.
//! Update `s + 1` uses minibatch `s` of a stateless, seeded order ([`crate::batches`]); its loss
//! `L_B(w_s)` is recorded as the minibatch loss of step `s` (in the late window), and the length
//! of the update it made, `||w_{s+1} - w_s||_2`, as the jump of step `s`. The LLC at step `s`
//! ([`TrainConfig::llc_steps`]: by default on a geometric schedule plus every `llc_every` steps
//! in the late window, [`LlcSchedule`]) is estimated at `w_s` with the SGLD seed mixed with `s`.
//! `R(s) = ||w_s - w_0||_2` over the trainable parameters (BatchNorm running statistics excluded).
//!
//! Files in the run directory (all written atomically):
//! `checkpoints/step-NNNNNNNNNN.safetensors` (PyTorch names), `metrics.csv`
//! (`step,train_loss,train_accuracy,test_loss,test_accuracy,r`), `minibatch_losses.csv`
//! (`step,loss,jump`), `llc.csv` (`step,llc_mean,llc_std,init_loss,late`; `late` is 1 for the
//! estimates in the late window), `summary.json` ([`RunSummary`]) and `resume.safetensors`
//! (weights, optimizer state: Adam's moments or SGD's momentum buffer, records), written at every
//! checkpoint, every `resume_every` steps and at the end. A restart with the same configuration
//! continues from `resume.safetensors`.
//!
//! Networks without BatchNorm on the CPU train with the kernels of [`crate::mlp_cpu`]; BatchNorm
//! and CUDA use candle; both apply the update rules of [`crate::optim`]. The files of this
//! module: `config` (configuration and schedules), `records`, `runner`, `step` (the candle
//! update), `resume` (the resume file). Several runs can be advanced side by side, each with
//! exactly the records and files of [`run`], by [`crate::ensemble::run_ensemble`].
//!
//! ```
//! use ffpe_validation::{data, train::{self, TrainConfig}};
//! let d = data::load(&data::DataConfig::default()).unwrap();
//! let cfg = TrainConfig { arch: "784-8-10".parse().unwrap(), steps: 20, llc_every: 0,
//!                         ..TrainConfig::default() };
//! let dir = tempfile::tempdir().unwrap();
//! let s = train::run(&cfg, &d, dir.path(), &mut |_, _| true).unwrap();
//! assert!(s.finished);
//! assert_eq!(s.checkpoints.last().unwrap().step, 20);
//! ```

use crate::batches::Batcher;
use crate::data::{Data, Dataset};
use crate::device::DeviceKind;
use crate::error::{Error, Result};
use crate::grad;
use crate::io::checkpoint::{self, NamedTensor};
use crate::io::{remove_stale_temporaries, write_atomic};
use crate::llc::{self, LlcConfig};
use crate::mlp_cpu::{InputLayer, SgdMlp};
use crate::model::{Arch, BnMode, Network};
use crate::optim::sgd::{SgdOp, sgd_update};
use candle_core::{Device, Tensor, Var};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

pub use crate::optim::Optimizer;

/// Training-set loss at arbitrary flattened trainable weights, for a network of `arch` (BatchNorm
/// running statistics taken from `reference`, e.g. a checkpoint; `None`: mean 0, variance 1).
pub fn loss_at(
    arch: &Arch,
    flat: &[f32],
    reference: Option<&Network>,
    data: &Dataset,
) -> Result<f64> {
    let dev = reference.map_or(Device::Cpu, |r| r.device().clone());
    let mut n = Network::from_flat(arch, flat, None, &dev)?;
    if let Some(r) = reference {
        n.set_buffers(r.buffers().to_vec());
    }
    Ok(n.evaluate(data)?.loss)
}

mod config;
mod records;
mod resume;
mod runner;
mod step;
#[cfg(test)]
mod tests;

pub use config::{LlcSchedule, TrainConfig, checkpoint_schedule};
use records::*;
pub use records::{CheckpointRecord, LlcRecord, RunSummary, checkpoint_path, load_summary};
use resume::*;
pub(crate) use runner::Runner;
pub use runner::run;
use step::*;
