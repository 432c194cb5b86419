//! Training runs: SGD or Adam, checkpoints on a geometric schedule, `R(t)`, losses, LLC traces;
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
//! (weights, optimizer state, records), written at every checkpoint, every `resume_every` steps
//! and at the end. A restart with the same configuration continues from `resume.safetensors`.
//!
//! Networks without BatchNorm on the CPU train with the kernels of [`crate::mlp_cpu`] (SGD and
//! Adam); BatchNorm and CUDA use candle. Several runs can be advanced side by side, each with
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
use crate::checkpoint::{self, NamedTensor};
use crate::data::{Data, Dataset};
use crate::device::DeviceKind;
use crate::error::{Error, Result};
use crate::grad;
use crate::llc::{self, LlcConfig};
use crate::mlp_cpu::{AdamStep, InputLayer, SgdMlp};
use crate::model::{Arch, BnMode, Network};
use candle_core::{Device, Tensor, Var};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Optimizer.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Optimizer {
    /// Plain SGD: no momentum, no weight decay.
    Sgd {
        /// Learning rate.
        lr: f64,
    },
    /// Adam (PyTorch's form, no weight decay).
    Adam {
        /// Learning rate.
        lr: f64,
        /// First-moment decay.
        beta1: f64,
        /// Second-moment decay.
        beta2: f64,
        /// Denominator epsilon.
        eps: f64,
    },
}

impl Optimizer {
    /// SGD with learning rate `lr`.
    pub fn sgd(lr: f64) -> Self {
        Optimizer::Sgd { lr }
    }
    /// Adam with learning rate `lr` and PyTorch's defaults (0.9, 0.999, 1e-8).
    pub fn adam(lr: f64) -> Self {
        Optimizer::Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }
    fn lr(&self) -> f64 {
        match self {
            Optimizer::Sgd { lr } | Optimizer::Adam { lr, .. } => *lr,
        }
    }
}

/// A training run's configuration.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainConfig {
    /// Architecture (default 784-128-10, no BatchNorm).
    pub arch: Arch,
    /// Optimizer (default SGD, lr 0.001).
    pub optimizer: Optimizer,
    /// Minibatch size (default 256).
    pub batch_size: usize,
    /// Number of updates (default 10,000).
    pub steps: u64,
    /// Seed of initialisation and minibatch order (default 0).
    pub seed: u64,
    /// Checkpoints per decade of steps on the geometric schedule (default 20).
    pub checkpoints_per_decade: u32,
    /// Record every minibatch loss for steps `>= steps - late_window`
    /// (`None`: the last 10 % of the run).
    pub late_window: Option<u64>,
    /// Estimate the LLC every this many steps (0: never; default 100); where, see
    /// `llc_schedule`.
    pub llc_every: u64,
    /// Which steps get an LLC estimate (default: [`LlcSchedule::Geometric`] with 10 per
    /// decade, plus every `llc_every` steps in the late window). Configurations written before
    /// this field existed read as [`LlcSchedule::Uniform`], the schedule they were run with.
    #[serde(
        default = "LlcSchedule::uniform",
        skip_serializing_if = "LlcSchedule::is_uniform"
    )]
    pub llc_schedule: LlcSchedule,
    /// SGLD settings of those estimates (default: 2 chains, 100 draws, else [`LlcConfig`]).
    pub llc: LlcConfig,
    /// Also save the resume state every this many steps (default 1000).
    pub resume_every: u64,
    /// Device (default CPU). Not part of the resume check.
    pub device: DeviceKind,
    /// CPU threads for a training step (default 1). Without BatchNorm, every minibatch is
    /// always processed as two halves; with 2 or more threads the halves run at the same time.
    /// Results do not depend on it; not part of the resume check.
    #[serde(default = "one_thread")]
    pub threads: usize,
    /// First layer of SGD on the CPU without BatchNorm ([`crate::mlp_cpu`]): sparse over the
    /// nonzero inputs, dense, or chosen from the input density (default).
    #[serde(default, skip_serializing_if = "InputLayer::is_auto")]
    pub input_layer: InputLayer,
}

fn one_thread() -> usize {
    1
}

/// When the LLC is estimated during a run (never when `llc_every` is 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LlcSchedule {
    /// Every `llc_every` steps from the start.
    Uniform,
    /// At the geometric steps `checkpoint_schedule(steps, per_decade)` (step 0 excluded: so
    /// `log t` is evenly sampled, as the checkpoints; with `per_decade` a divisor of
    /// `checkpoints_per_decade` they are checkpoint steps) and every `llc_every` steps in the late
    /// window, so that the late-window mean ([`RunSummary::late_llc_mean`]) averages
    /// `late window / llc_every` estimates.
    Geometric {
        /// Geometric estimates per decade of steps (at least 1).
        per_decade: u32,
    },
}

impl LlcSchedule {
    fn uniform() -> Self {
        LlcSchedule::Uniform
    }
    fn is_uniform(&self) -> bool {
        *self == LlcSchedule::Uniform
    }
}

impl Default for LlcSchedule {
    fn default() -> Self {
        LlcSchedule::Geometric { per_decade: 10 }
    }
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            arch: Arch {
                widths: vec![784, 128, 10],
                batchnorm: false,
            },
            optimizer: Optimizer::sgd(1e-3),
            batch_size: 256,
            steps: 10_000,
            seed: 0,
            checkpoints_per_decade: 20,
            late_window: None,
            llc_every: 100,
            llc_schedule: LlcSchedule::default(),
            llc: LlcConfig {
                chains: 2,
                draws: 100,
                ..LlcConfig::default()
            },
            resume_every: 1000,
            device: DeviceKind::Cpu,
            threads: 1,
            input_layer: InputLayer::Auto,
        }
    }
}

impl TrainConfig {
    /// Check ranges.
    pub fn validate(&self) -> Result<()> {
        self.arch.validate()?;
        let lr = self.optimizer.lr();
        if !(lr.is_finite() && lr > 0.0) {
            return Err(Error::config("lr", lr, "a positive finite number"));
        }
        if let Optimizer::Adam {
            beta1, beta2, eps, ..
        } = self.optimizer
        {
            for (f, v) in [("beta1", beta1), ("beta2", beta2)] {
                if !(0.0..1.0).contains(&v) {
                    return Err(Error::config(f, v, "in [0, 1)"));
                }
            }
            if !(eps.is_finite() && eps > 0.0) {
                return Err(Error::config("adam-eps", eps, "a positive finite number"));
            }
        }
        if self.batch_size == 0 {
            return Err(Error::config("batch-size", 0, "at least 1"));
        }
        if self.checkpoints_per_decade == 0 {
            return Err(Error::config("checkpoints-per-decade", 0, "at least 1"));
        }
        if self.resume_every == 0 {
            return Err(Error::config("resume-every", 0, "at least 1"));
        }
        if self.llc_every > 0 {
            self.llc.validate()?;
            if let LlcSchedule::Geometric { per_decade: 0 } = self.llc_schedule {
                return Err(Error::config("llc-per-decade", 0, "at least 1"));
            }
        }
        Ok(())
    }

    /// The steps whose weights get an LLC estimate, ascending (empty when `llc_every` is 0).
    pub fn llc_steps(&self) -> Vec<u64> {
        if self.llc_every == 0 {
            return vec![];
        }
        let mut v: BTreeSet<u64> = match self.llc_schedule {
            LlcSchedule::Uniform => (1..=self.steps / self.llc_every)
                .map(|k| k * self.llc_every)
                .collect(),
            LlcSchedule::Geometric { per_decade } => {
                let late = self.late_window_start();
                checkpoint_schedule(self.steps, per_decade)
                    .into_iter()
                    .chain(
                        (late.div_ceil(self.llc_every)..=self.steps / self.llc_every)
                            .map(|k| k * self.llc_every),
                    )
                    .collect()
            }
        };
        v.remove(&0);
        v.into_iter().collect()
    }

    /// First step whose minibatch loss is recorded.
    pub fn late_window_start(&self) -> u64 {
        self.steps
            .saturating_sub(self.late_window.unwrap_or(self.steps / 10))
    }

    fn resume_key(&self) -> Result<String> {
        let mut c = self.clone();
        c.device = DeviceKind::Cpu;
        c.threads = 1;
        Ok(serde_json::to_string(&c)?)
    }
}

/// Geometric checkpoint schedule: `0`, then `round(10^(k / per_decade))` for `k = 0, 1, ...`
/// (deduplicated) up to `steps`, and `steps` itself.
pub fn checkpoint_schedule(steps: u64, per_decade: u32) -> Vec<u64> {
    let mut s = BTreeSet::from([0, steps]);
    let mut k = 0u32;
    loop {
        let v = 10f64.powf(k as f64 / per_decade.max(1) as f64).round() as u64;
        if v > steps {
            break;
        }
        s.insert(v);
        k += 1;
    }
    s.into_iter().collect()
}

/// Metrics at one checkpoint.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CheckpointRecord {
    /// Step.
    pub step: u64,
    /// Mean cross-entropy on the training set (evaluation mode).
    pub train_loss: f64,
    /// Training accuracy.
    pub train_accuracy: f64,
    /// Mean cross-entropy on the test set.
    pub test_loss: f64,
    /// Test accuracy.
    pub test_accuracy: f64,
    /// `R = ||w_s - w_0||_2`.
    pub r: f64,
    /// Checkpoint file, relative to the run directory.
    pub file: String,
}

/// One LLC estimate during training.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LlcRecord {
    /// Step.
    pub step: u64,
    /// Mean over chains.
    pub llc_mean: f64,
    /// Chain-to-chain standard deviation.
    pub llc_std: f64,
    /// `L(w_s)`.
    pub init_loss: f64,
    /// Per-chain values.
    pub llc_per_chain: Vec<f64>,
    /// The step is in the late window (`step >= late_window_start()`).
    #[serde(default)]
    pub late: bool,
}

/// What a run produced (also `summary.json` in the run directory).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunSummary {
    /// The configuration.
    pub config: TrainConfig,
    /// Where the data came from.
    pub data_source: String,
    /// Updates done.
    pub steps_done: u64,
    /// True when `steps_done == config.steps`.
    pub finished: bool,
    /// Metrics at each checkpoint, by step.
    pub checkpoints: Vec<CheckpointRecord>,
    /// `(step, minibatch loss)` in the late window.
    pub minibatch_losses: Vec<(u64, f64)>,
    /// `(step s, ||w_{s+1} - w_s||_2)` in the late window (the same steps as
    /// `minibatch_losses`): the length of the update that minibatch `s` made, over the
    /// trainable parameters, from the f32 weights (summed in f64).
    #[serde(default)]
    pub jumps: Vec<(u64, f64)>,
    /// LLC estimates.
    pub llc: Vec<LlcRecord>,
    /// Mean of the last 10 LLC estimates.
    pub final_llc: Option<f64>,
    /// Mean of the LLC estimates in the late window (those with `late`): the run's LLC for the
    /// analysis ([`LlcSchedule::Geometric`] makes them `late window / llc_every`).
    #[serde(default)]
    pub late_llc_mean: Option<f64>,
    /// Number of late-window LLC estimates in `late_llc_mean`.
    #[serde(default)]
    pub late_llc_count: usize,
    /// Training-step throughput of the last session (updates per second, excluding evaluation,
    /// LLC and saving).
    pub steps_per_second: f64,
    /// Step this session resumed from, if it resumed.
    pub resumed_from: Option<u64>,
}

impl RunSummary {
    /// Recompute `final_llc`, `late_llc_mean` and `late_llc_count` from `llc`.
    fn update_llc_means(&mut self) {
        let tail: Vec<f64> = self.llc.iter().rev().take(10).map(|l| l.llc_mean).collect();
        self.final_llc = (!tail.is_empty()).then(|| tail.iter().sum::<f64>() / tail.len() as f64);
        let late: Vec<f64> = self
            .llc
            .iter()
            .filter(|l| l.late)
            .map(|l| l.llc_mean)
            .collect();
        self.late_llc_count = late.len();
        self.late_llc_mean =
            (!late.is_empty()).then(|| late.iter().sum::<f64>() / late.len() as f64);
    }

    /// `R(t)` at the checkpoints: `(step, R)`.
    pub fn r_of_t(&self) -> Vec<(u64, f64)> {
        self.checkpoints.iter().map(|c| (c.step, c.r)).collect()
    }
}

/// Path of the checkpoint of `step` in `run_dir`.
pub fn checkpoint_path(run_dir: &Path, step: u64) -> PathBuf {
    run_dir
        .join("checkpoints")
        .join(format!("step-{step:010}.safetensors"))
}

/// Read `summary.json` of a run directory.
pub fn load_summary(run_dir: &Path) -> Result<RunSummary> {
    let p = run_dir.join("summary.json");
    let s = std::fs::read_to_string(&p).map_err(|e| Error::io(&p, e))?;
    Ok(serde_json::from_str(&s)?)
}

struct OptState {
    t: u64,
    m: Vec<Tensor>,
    v: Vec<Tensor>,
}

/// Mean loss and gradients of a minibatch computed as two halves (candle path, used for Adam;
/// SGD goes through [`SgdMlp`]) (rows `..b/2` and `b/2..`),
/// each with its mean cross-entropy, combined with weights `n_half / b`: the same quantity as one
/// pass over the whole batch up to f32 rounding. The split never depends on the thread count, so
/// results are identical with one thread (halves in turn) and two (halves at once; candle's own
/// matrix products stay single-threaded, which is faster at these sizes than splitting gemm).
/// Only for networks without BatchNorm, whose batch statistics need the whole batch.
fn halves_loss_and_grads(
    arch: &Arch,
    params: &[Tensor],
    xs: &[f32],
    ys: &[u32],
    dim: usize,
    parallel: bool,
) -> Result<(Tensor, Vec<Tensor>)> {
    let b = ys.len();
    let h = b / 2;
    let half = |lo: usize, hi: usize| -> Result<grad::LossGrads> {
        let x = Tensor::from_slice(&xs[lo * dim..hi * dim], (hi - lo, dim), &Device::Cpu)?;
        grad::loss_and_grads(arch, params, &[], &x, &ys[lo..hi], BnMode::Train)
    };
    let (first, second) = if parallel {
        std::thread::scope(|s| {
            let j = s.spawn(|| half(0, h));
            let second = half(h, b);
            (j.join(), second)
        })
    } else {
        (Ok(half(0, h)), half(h, b))
    };
    let first = first.map_err(|_| {
        Error::Candle(candle_core::Error::Msg(
            "the thread computing the first half of a minibatch panicked".into(),
        ))
    })??;
    let second = second?;
    let (wa, wb) = (h as f64 / b as f64, (b - h) as f64 / b as f64);
    let loss = (first.loss.affine(wa, 0.0)? + second.loss.affine(wb, 0.0)?)?;
    let grads = first
        .grads
        .iter()
        .zip(&second.grads)
        .map(|(ga, gb)| Ok((ga.affine(wa, 0.0)? + gb.affine(wb, 0.0)?)?))
        .collect::<Result<Vec<_>>>()?;
    Ok((loss, grads))
}

fn opt_step(opt: &Optimizer, params: &[Var], grads: &[Tensor], st: &mut OptState) -> Result<()> {
    st.t += 1;
    match *opt {
        Optimizer::Sgd { lr } => {
            for (p, g) in params.iter().zip(grads) {
                let next = if p.device().is_cpu() {
                    p.as_tensor()
                        .apply_op2_no_bwd(g, &SgdUpdate { lr: lr as f32 })?
                } else {
                    (p.as_tensor() - g.affine(lr, 0.0)?)?
                };
                p.set(&next)?;
            }
        }
        Optimizer::Adam {
            lr,
            beta1,
            beta2,
            eps,
        } => {
            let bc1 = 1.0 - beta1.powi(st.t as i32);
            let bc2 = 1.0 - beta2.powi(st.t as i32);
            for (i, (p, g)) in params.iter().zip(grads).enumerate() {
                let m = (st.m[i].affine(beta1, 0.0)? + g.affine(1.0 - beta1, 0.0)?)?;
                let v = (st.v[i].affine(beta2, 0.0)? + g.sqr()?.affine(1.0 - beta2, 0.0)?)?;
                // PyTorch: denom = sqrt(v) / sqrt(bc2) + eps; p -= (lr / bc1) * m / denom
                let denom = v.sqrt()?.affine(1.0 / bc2.sqrt(), eps)?;
                let upd = (m.affine(lr / bc1, 0.0)? / denom)?;
                p.set(&(p.as_tensor() - upd)?)?;
                // Keep only the values: the moments are built from `g`, whose op graph reaches
                // back to the parameters; stored as-is they would chain every step's graph
                // (about 3 MB per step for 784-64-32-10).
                st.m[i] = m.detach();
                st.v[i] = v.detach();
            }
        }
    }
    Ok(())
}

/// `w - lr g` in one pass on the CPU (f32, as PyTorch's `p.add_(g, alpha=-lr)`).
struct SgdUpdate {
    lr: f32,
}

impl candle_core::CustomOp2 for SgdUpdate {
    fn name(&self) -> &'static str {
        "sgd-update"
    }

    fn cpu_fwd(
        &self,
        s1: &candle_core::CpuStorage,
        l1: &candle_core::Layout,
        s2: &candle_core::CpuStorage,
        l2: &candle_core::Layout,
    ) -> candle_core::Result<(candle_core::CpuStorage, candle_core::Shape)> {
        let slice = |s: &'_ candle_core::CpuStorage,
                     l: &candle_core::Layout|
         -> candle_core::Result<Vec<f32>> {
            let all = s.as_slice::<f32>()?;
            match l.contiguous_offsets() {
                Some((a, b)) => Ok(all[a..b].to_vec()),
                None => Err(candle_core::Error::Msg(
                    "sgd update needs contiguous tensors".into(),
                )),
            }
        };
        let mut w = slice(s1, l1)?;
        let all = s2.as_slice::<f32>()?;
        let g = match l2.contiguous_offsets() {
            Some((a, b)) => &all[a..b],
            None => {
                return Err(candle_core::Error::Msg(
                    "sgd update needs contiguous tensors".into(),
                ));
            }
        };
        for (w, g) in w.iter_mut().zip(g) {
            *w -= self.lr * g;
        }
        Ok((candle_core::CpuStorage::F32(w), l1.shape().clone()))
    }
}

fn l2_dist(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (*x as f64 - *y as f64).powi(2))
        .sum::<f64>()
        .sqrt()
}

fn mix(seed: u64, step: u64) -> u64 {
    let mut r = crate::rng::Rng::new(seed, &[0x11c, step]);
    rand::RngCore::next_u64(&mut r)
}

/// Train a network as `config` says on `data`, writing into `out_dir` (created if needed).
///
/// If `out_dir` holds `resume.safetensors` of the same configuration, the run continues from
/// there (a finished run returns at once); a different configuration is an error.
/// `progress(step, total)` is called after every update; returning `false` stops the run at
/// once *without saving* (like a kill; the result has `finished == false`).
pub fn run(
    config: &TrainConfig,
    data: &Data,
    out_dir: &Path,
    progress: &mut dyn FnMut(u64, u64) -> bool,
) -> Result<RunSummary> {
    let mut r = Runner::open(config, data, out_dir)?;
    while !r.done() {
        r.step(data)?;
        if !progress(r.steps_done(), config.steps) {
            return Ok(r.summary);
        }
    }
    Ok(r.finish())
}

/// One training run in progress: [`run`] is `open`, then `step` until `done`. The state of a
/// run lives here so that [`crate::ensemble`] can advance several runs side by side with
/// exactly the arithmetic, records and files of [`run`].
pub(crate) struct Runner {
    config: TrainConfig,
    out_dir: PathBuf,
    dev: Device,
    net: Network,
    st: OptState,
    summary: RunSummary,
    w0: Vec<f32>,
    schedule: BTreeSet<u64>,
    llc_steps: BTreeSet<u64>,
    late: u64,
    batcher: Batcher,
    /// Networks without BatchNorm on the CPU (SGD and Adam): the fast path holds the weights
    /// (and Adam's moments); `net` (and `st`) are brought up to date only where they are used.
    fast: Option<SgdMlp>,
    /// `net` is behind `fast`.
    stale: bool,
    xs: Vec<f32>,
    ys: Vec<u32>,
    train_time: f64,
    trained: u64,
}

impl Runner {
    /// Set up (or resume) the run of `config` in `out_dir`; a fresh run gets its step-0
    /// checkpoint and resume file here.
    pub(crate) fn open(config: &TrainConfig, data: &Data, out_dir: &Path) -> Result<Runner> {
        config.validate()?;
        let dev = config.device.device()?;
        let arch = &config.arch;
        if data.train.dim() != arch.widths[0] {
            return Err(Error::config(
                "arch",
                arch,
                format!(
                    "input width {} (pixels per image of the data)",
                    data.train.dim()
                ),
            ));
        }
        let classes = data.train.num_classes().max(data.test.num_classes());
        if classes > *arch.widths.last().unwrap_or(&0) {
            return Err(Error::config(
                "arch",
                arch,
                format!("output width at least {classes} (classes in the data)"),
            ));
        }
        let ck_dir = out_dir.join("checkpoints");
        std::fs::create_dir_all(&ck_dir).map_err(|e| Error::io(&ck_dir, e))?;
        remove_stale_temporaries(out_dir);
        remove_stale_temporaries(&ck_dir);
        let w0 = Network::init(arch, config.seed, &Device::Cpu)?.flat_params()?;
        let resume_path = out_dir.join("resume.safetensors");
        let (net, mut st, mut summary) = if resume_path.is_file() {
            load_resume(&resume_path, config, &dev)?
        } else {
            let net = Network::init(arch, config.seed, &dev)?;
            let st = OptState {
                t: 0,
                m: vec![],
                v: vec![],
            };
            let summary = RunSummary {
                config: config.clone(),
                data_source: data.source.clone(),
                steps_done: 0,
                finished: false,
                checkpoints: vec![],
                minibatch_losses: vec![],
                jumps: vec![],
                llc: vec![],
                final_llc: None,
                late_llc_mean: None,
                late_llc_count: 0,
                steps_per_second: 0.0,
                resumed_from: None,
            };
            (net, st, summary)
        };
        if matches!(config.optimizer, Optimizer::Adam { .. }) && st.m.is_empty() {
            st.m = net
                .params()
                .iter()
                .map(|p| p.as_tensor().zeros_like())
                .collect::<candle_core::Result<_>>()?;
            st.v = st.m.clone();
        }
        summary.config = config.clone();
        let schedule: BTreeSet<u64> =
            checkpoint_schedule(config.steps, config.checkpoints_per_decade)
                .into_iter()
                .collect();
        let llc_steps: BTreeSet<u64> = config.llc_steps().into_iter().collect();
        let batcher = Batcher::new(
            data.train.len(),
            config.batch_size,
            true,
            config.seed,
            &[0x7a1],
        );
        let fast = if !arch.batchnorm && dev.is_cpu() {
            let mut f = SgdMlp::new(
                arch,
                &net.flat_params()?,
                &data.train,
                config.input_layer,
                config.threads,
            )?;
            if let Optimizer::Adam { .. } = config.optimizer {
                let flat = |t: &[Tensor]| -> Result<Vec<f32>> {
                    let mut v = vec![];
                    for x in t {
                        v.extend(x.flatten_all()?.to_vec1::<f32>()?);
                    }
                    Ok(v)
                };
                f.set_adam_moments(&flat(&st.m)?, &flat(&st.v)?)?;
            }
            Some(f)
        } else {
            None
        };
        let mut r = Runner {
            late: config.late_window_start(),
            config: config.clone(),
            out_dir: out_dir.to_path_buf(),
            dev,
            net,
            st,
            summary,
            w0,
            schedule,
            llc_steps,
            batcher,
            fast,
            stale: false,
            xs: vec![],
            ys: vec![],
            train_time: 0.0,
            trained: 0,
        };
        if r.summary.steps_done == 0 {
            checkpoint_at(&r.net, 0, data, &r.w0, out_dir, &mut r.summary)?;
            save_state(&r.net, &r.st, &r.summary, out_dir)?;
        }
        Ok(r)
    }

    /// Updates done.
    pub(crate) fn steps_done(&self) -> u64 {
        self.summary.steps_done
    }

    /// All `config.steps` updates done.
    pub(crate) fn done(&self) -> bool {
        self.summary.steps_done >= self.config.steps
    }

    /// The summary of a run that has stopped.
    pub(crate) fn finish(mut self) -> RunSummary {
        self.summary.finished = self.summary.steps_done == self.config.steps;
        self.summary
    }

    /// The summary so far.
    pub(crate) fn summary(&self) -> &RunSummary {
        &self.summary
    }

    /// Bring `net` up to date with the fast path.
    fn sync(&mut self) -> Result<()> {
        if let (true, Some(f)) = (self.stale, &self.fast) {
            self.net.set_flat_params(&f.flat_params())?;
        }
        self.stale = false;
        Ok(())
    }

    /// Bring `net` and the optimizer state up to date and write the resume file.
    fn save(&mut self) -> Result<()> {
        self.sync()?;
        if let Some((m, v)) = self.fast.as_ref().and_then(|f| f.adam_moments()) {
            self.st.m = tensors_like(&self.config.arch, &m, &self.dev)?;
            self.st.v = tensors_like(&self.config.arch, &v, &self.dev)?;
        }
        save_state(&self.net, &self.st, &self.summary, &self.out_dir)
    }

    /// Update `s = steps_done` (minibatch `s`), then what the schedule asks at step `s + 1`:
    /// an LLC estimate, a checkpoint, the resume file.
    pub(crate) fn step(&mut self, data: &Data) -> Result<()> {
        let config = &self.config;
        let s = self.summary.steps_done;
        if s >= config.steps {
            return Ok(());
        }
        let t0 = std::time::Instant::now();
        let late = s >= self.late;
        let idx = self.batcher.indices(s);
        let (loss, jump) = if let Some(f) = self.fast.as_mut() {
            if late {
                f.snapshot();
            }
            let l = match config.optimizer {
                Optimizer::Sgd { lr } => f.step(&data.train, idx, lr as f32)?,
                Optimizer::Adam {
                    lr,
                    beta1,
                    beta2,
                    eps,
                } => f.adam_step(
                    &data.train,
                    idx,
                    &AdamStep {
                        lr,
                        beta1,
                        beta2,
                        eps,
                        t: self.st.t + 1,
                    },
                )?,
            };
            self.st.t += 1;
            self.stale = true;
            (
                l,
                if late {
                    f.distance_from_snapshot()
                } else {
                    None
                },
            )
        } else {
            self.xs.clear();
            self.ys.clear();
            data.train.gather_into(idx, &mut self.xs, &mut self.ys);
            let before = if late {
                Some(self.net.flat_params()?)
            } else {
                None
            };
            let dim = data.train.dim();
            let l = candle_step(
                config,
                &mut self.net,
                &mut self.st,
                &self.xs,
                &self.ys,
                dim,
                &self.dev,
            )?;
            let jump = match before {
                Some(b) => Some(l2_dist(&self.net.flat_params()?, &b)),
                None => None,
            };
            (l, jump)
        };
        if late {
            self.summary.minibatch_losses.push((s, loss));
            self.summary.jumps.push((s, jump.unwrap_or(f64::NAN)));
        }
        self.train_time += t0.elapsed().as_secs_f64();
        self.trained += 1;
        let s1 = s + 1;
        self.summary.steps_done = s1;
        if self.llc_steps.contains(&s1) {
            self.sync()?;
            let cfg = LlcConfig {
                seed: mix(self.config.llc.seed, s1),
                ..self.config.llc.clone()
            };
            let r = llc::estimate(&self.net, &data.train, &cfg)?;
            self.summary.llc.push(LlcRecord {
                step: s1,
                llc_mean: r.llc_mean,
                llc_std: r.llc_std,
                init_loss: r.init_loss,
                llc_per_chain: r.llc_per_chain,
                late: s1 >= self.late,
            });
            self.summary.update_llc_means();
        }
        let at_checkpoint = self.schedule.contains(&s1);
        if at_checkpoint {
            self.sync()?;
            checkpoint_at(
                &self.net,
                s1,
                data,
                &self.w0,
                &self.out_dir,
                &mut self.summary,
            )?;
        }
        let steps = self.config.steps;
        self.summary.finished = s1 == steps;
        self.summary.steps_per_second = if self.train_time > 0.0 {
            self.trained as f64 / self.train_time
        } else {
            0.0
        };
        if at_checkpoint || s1.is_multiple_of(self.config.resume_every) || s1 == steps {
            self.save()?;
        }
        Ok(())
    }
}

/// Per-parameter tensors (shapes of `arch`'s parameters) from a flat vector in PyTorch order.
fn tensors_like(arch: &Arch, flat: &[f32], dev: &Device) -> Result<Vec<Tensor>> {
    let mut out = vec![];
    let mut off = 0;
    for (_, shape) in arch.param_specs() {
        let n: usize = shape.iter().product();
        out.push(Tensor::from_slice(
            &flat[off..off + n],
            shape.as_slice(),
            dev,
        )?);
        off += n;
    }
    Ok(out)
}

/// One update on the candle path (Adam, BatchNorm, or a device other than the CPU); returns
/// the minibatch loss before the update.
fn candle_step(
    config: &TrainConfig,
    net: &mut Network,
    st: &mut OptState,
    xs: &[f32],
    ys: &[u32],
    dim: usize,
    dev: &Device,
) -> Result<f64> {
    let arch = &config.arch;
    let b = ys.len();
    let (loss, g) = if !arch.batchnorm && dev.is_cpu() && b >= 2 {
        halves_loss_and_grads(arch, &net.param_tensors(), xs, ys, dim, config.threads >= 2)?
    } else {
        let x = Tensor::from_slice(xs, (b, dim), dev)?;
        let lg = grad::loss_and_grads(
            arch,
            &net.param_tensors(),
            net.buffers(),
            &x,
            ys,
            BnMode::Train,
        )?;
        if arch.batchnorm {
            net.set_buffers(lg.new_buffers);
        }
        (lg.loss, lg.grads)
    };
    opt_step(&config.optimizer, net.params(), &g, st)?;
    Ok(loss.to_scalar::<f32>()? as f64)
}

/// Temporary files of an atomic write interrupted by a kill (`.NAME.tmp-PID`).
fn remove_stale_temporaries(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.starts_with('.') && n.contains(".tmp-") {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

fn checkpoint_at(
    net: &Network,
    step: u64,
    data: &Data,
    w0: &[f32],
    out_dir: &Path,
    summary: &mut RunSummary,
) -> Result<()> {
    let tr = net.evaluate(&data.train)?;
    let te = net.evaluate(&data.test)?;
    let w = net.flat_params()?;
    let path = checkpoint_path(out_dir, step);
    let mut meta = BTreeMap::new();
    meta.insert("step".to_string(), step.to_string());
    net.save(&path, meta)?;
    summary.checkpoints.retain(|c| c.step != step);
    summary.checkpoints.push(CheckpointRecord {
        step,
        train_loss: tr.loss,
        train_accuracy: tr.accuracy,
        test_loss: te.loss,
        test_accuracy: te.accuracy,
        r: l2_dist(&w, w0),
        file: format!("checkpoints/step-{step:010}.safetensors"),
    });
    Ok(())
}

fn write_outputs(summary: &RunSummary, out_dir: &Path) -> Result<()> {
    let mut m = String::from("step,train_loss,train_accuracy,test_loss,test_accuracy,r\n");
    for c in &summary.checkpoints {
        m += &format!(
            "{},{:e},{},{:e},{},{:e}\n",
            c.step, c.train_loss, c.train_accuracy, c.test_loss, c.test_accuracy, c.r
        );
    }
    checkpoint::write_atomic(&out_dir.join("metrics.csv"), m.as_bytes())?;
    let mut l = String::from("step,loss,jump\n");
    for (k, (s, v)) in summary.minibatch_losses.iter().enumerate() {
        let j = summary
            .jumps
            .get(k)
            .filter(|j| j.0 == *s)
            .map_or(f64::NAN, |j| j.1);
        l += &format!("{s},{v:e},{j:e}\n");
    }
    checkpoint::write_atomic(&out_dir.join("minibatch_losses.csv"), l.as_bytes())?;
    let mut c = String::from("step,llc_mean,llc_std,init_loss,late\n");
    for r in &summary.llc {
        c += &format!(
            "{},{:e},{:e},{:e},{}\n",
            r.step, r.llc_mean, r.llc_std, r.init_loss, r.late as u8
        );
    }
    checkpoint::write_atomic(&out_dir.join("llc.csv"), c.as_bytes())?;
    checkpoint::write_atomic(
        &out_dir.join("summary.json"),
        serde_json::to_string_pretty(summary)?.as_bytes(),
    )
}

fn save_state(net: &Network, st: &OptState, summary: &RunSummary, out_dir: &Path) -> Result<()> {
    write_outputs(summary, out_dir)?;
    let mut tensors = net.to_named()?;
    let specs = net.arch().param_specs();
    for (k, (mv, tag)) in [(&st.m, "adam.m."), (&st.v, "adam.v.")]
        .into_iter()
        .enumerate()
    {
        let _ = k;
        for ((name, shape), t) in specs.iter().zip(mv.iter()) {
            tensors.push(NamedTensor {
                name: format!("{tag}{name}"),
                shape: shape.clone(),
                data: t.flatten_all()?.to_vec1::<f32>()?,
            });
        }
    }
    let mut meta = BTreeMap::new();
    meta.insert("config".to_string(), summary.config.resume_key()?);
    meta.insert("optimizer_t".to_string(), st.t.to_string());
    meta.insert("summary".to_string(), serde_json::to_string(summary)?);
    // The records travel inside the same file as the weights, so the two can never disagree.
    checkpoint::save(&out_dir.join("resume.safetensors"), &tensors, meta)
}

fn load_resume(
    path: &Path,
    config: &TrainConfig,
    dev: &Device,
) -> Result<(Network, OptState, RunSummary)> {
    let (tensors, meta) = checkpoint::load(path)?;
    let bad = |what: String| Error::Resume {
        path: path.parent().unwrap_or(Path::new(".")).to_path_buf(),
        what,
    };
    let key = meta
        .get("config")
        .ok_or_else(|| bad("resume.safetensors has no config".into()))?;
    if *key != config.resume_key()? {
        return Err(bad(format!(
            "it holds a run with a different configuration ({key}); use a new directory"
        )));
    }
    let net = Network::from_named(&tensors, path, dev)?;
    let t: u64 = meta
        .get("optimizer_t")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| bad("resume.safetensors has no optimizer_t".into()))?;
    let mut summary: RunSummary = serde_json::from_str(
        meta.get("summary")
            .ok_or_else(|| bad("resume.safetensors has no summary".into()))?,
    )?;
    let mut m = vec![];
    let mut v = vec![];
    if matches!(config.optimizer, Optimizer::Adam { .. }) {
        for (name, shape) in config.arch.param_specs() {
            for (tag, out) in [("adam.m.", &mut m), ("adam.v.", &mut v)] {
                let t = tensors
                    .iter()
                    .find(|t| t.name == format!("{tag}{name}"))
                    .ok_or_else(|| bad(format!("missing {tag}{name}")))?;
                out.push(Tensor::from_slice(&t.data, shape.as_slice(), dev)?);
            }
        }
    }
    summary.resumed_from = Some(summary.steps_done);
    Ok((net, OptState { t, m, v }, summary))
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::DType;

    #[test]
    fn schedule_is_geometric() {
        let s = checkpoint_schedule(1000, 10);
        assert_eq!(s[..6], [0, 1, 2, 3, 4, 5]);
        assert_eq!(*s.last().unwrap(), 1000);
        assert!(s.contains(&100) && s.contains(&126) && s.contains(&158));
        // about per_decade points per decade once the values are distinct
        assert_eq!(s.iter().filter(|&&v| (100..1000).contains(&v)).count(), 10);
    }

    #[test]
    fn adam_and_sgd_match_hand_computation() {
        // Two Adam steps on one parameter with gradients 0.5 then -0.25 (PyTorch's formula).
        let dev = Device::Cpu;
        let p = Var::from_tensor(&Tensor::new(&[1.0f32], &dev).unwrap()).unwrap();
        let mut st = OptState {
            t: 0,
            m: vec![Tensor::zeros(1, DType::F32, &dev).unwrap()],
            v: vec![Tensor::zeros(1, DType::F32, &dev).unwrap()],
        };
        let opt = Optimizer::adam(0.1);
        let (b1, b2, eps, lr) = (0.9f64, 0.999f64, 1e-8, 0.1);
        let (mut m, mut v, mut w) = (0.0f64, 0.0f64, 1.0f64);
        for (t, g) in [(1, 0.5f64), (2, -0.25)] {
            let gt = Tensor::new(&[g as f32], &dev).unwrap();
            opt_step(&opt, std::slice::from_ref(&p), &[gt], &mut st).unwrap();
            m = b1 * m + (1.0 - b1) * g;
            v = b2 * v + (1.0 - b2) * g * g;
            let denom = v.sqrt() / (1.0 - b2.powi(t)).sqrt() + eps;
            w -= lr / (1.0 - b1.powi(t)) * m / denom;
            let got = p.as_tensor().to_vec1::<f32>().unwrap()[0] as f64;
            assert!((got - w).abs() < 1e-6, "step {t}: {got} vs {w}");
        }
        // SGD: w - lr g
        let q = Var::from_tensor(&Tensor::new(&[2.0f32, -1.0], &dev).unwrap()).unwrap();
        let g = Tensor::new(&[0.5f32, 4.0], &dev).unwrap();
        let mut st = OptState {
            t: 0,
            m: vec![],
            v: vec![],
        };
        opt_step(
            &Optimizer::sgd(0.1),
            std::slice::from_ref(&q),
            &[g],
            &mut st,
        )
        .unwrap();
        let got = q.as_tensor().to_vec1::<f32>().unwrap();
        assert!(
            (got[0] - 1.95).abs() < 1e-6 && (got[1] + 1.4).abs() < 1e-6,
            "{got:?}"
        );
    }
}
