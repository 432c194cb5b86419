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
//! [`estimate_with_progress`] reports the chain-steps done to a callback, which can stop the
//! run; the result is the same as [`estimate`]'s.
//!
//! On the CPU, networks without BatchNorm run each chain with the kernels of
//! [`crate::mlp_cpu`] (preallocated buffers, the gradient term fused into the weight-gradient
//! product, a sparse first layer for mostly-zero inputs). Otherwise all chains advance together
//! as one batched candle computation: every parameter gets a leading chain dimension and the
//! forward and backward passes use batched matrix products. Each chain has its own minibatch
//! stream and its own noise stream (seeded by `(seed, chain)`, drawn parameter by parameter in
//! PyTorch order on both paths), so the result does not depend on how many chains run together. Networks with BatchNorm are sampled in evaluation
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
use crate::mlp_cpu::{InputLayer, SgdMlp, SgldStep};
use crate::model::{BnMode, Network};
use crate::rng::Rng;
use candle_core::{CpuStorage, CustomOp3, DType, Layout, Shape, Tensor};

/// Inverse temperature `n_beta`.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum NBeta {
    /// `B / ln B` with `B` the batch size (devinterp's default).
    Batch,
    /// `n / ln n` with `n` the training-set size.
    Dataset,
    /// A given value.
    Value(f64),
}

impl std::str::FromStr for NBeta {
    type Err = Error;
    fn from_str(s: &str) -> Result<NBeta> {
        match s {
            "batch" => Ok(NBeta::Batch),
            "dataset" => Ok(NBeta::Dataset),
            _ => match s.parse::<f64>() {
                Ok(v) if v.is_finite() && v > 0.0 => Ok(NBeta::Value(v)),
                _ => Err(Error::config(
                    "nbeta",
                    s,
                    "`batch`, `dataset` or a positive number",
                )),
            },
        }
    }
}

/// How `L(w*)` is computed.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum InitLoss {
    /// Full training-set loss at `w*`.
    Full,
    /// Mean of the losses of the first `K` minibatches of chain 0's stream (devinterp-compatible).
    Batches(usize),
    /// A given value (devinterp's `init_loss=` argument), finite and >= 0 (a cross-entropy).
    Value(f64),
}

const INIT_LOSS_ALLOWED: &str = "`full`, `batches:K` with K >= 1, or a finite number >= 0";

impl InitLoss {
    /// Check a given value (finite, >= 0) and a batch count (>= 1).
    pub fn check(&self) -> Result<()> {
        match *self {
            InitLoss::Value(v) if !(v.is_finite() && v >= 0.0) => {
                Err(Error::config("init-loss", v, INIT_LOSS_ALLOWED))
            }
            InitLoss::Batches(0) => Err(Error::config("init-loss", "batches:0", INIT_LOSS_ALLOWED)),
            _ => Ok(()),
        }
    }
}

impl std::str::FromStr for InitLoss {
    type Err = Error;
    fn from_str(s: &str) -> Result<InitLoss> {
        if s == "full" {
            return Ok(InitLoss::Full);
        }
        if let Ok(v) = s.parse::<f64>() {
            let v = InitLoss::Value(v);
            v.check()?;
            return Ok(v);
        }
        match s.strip_prefix("batches:").map(|k| k.parse::<usize>()) {
            Some(Ok(k)) if k > 0 => Ok(InitLoss::Batches(k)),
            _ => Err(Error::config("init-loss", s, INIT_LOSS_ALLOWED)),
        }
    }
}

/// SGLD/LLC settings. Defaults: eps 1e-4, gamma 100, n_beta `batch`, 4 chains, 1000 draws,
/// no burn-in, a draw every step, batch 256, seed 0, noise level 1, shuffled minibatches,
/// full-data init loss.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LlcConfig {
    /// Step size `eps`.
    pub epsilon: f64,
    /// Localization strength `gamma`.
    pub gamma: f64,
    /// Inverse temperature.
    pub nbeta: NBeta,
    /// Number of chains.
    pub chains: usize,
    /// Draws per chain.
    pub draws: usize,
    /// Burn-in steps (excluded from the mean).
    pub burnin: usize,
    /// Steps between draws (1: every step after burn-in is a draw).
    pub steps_between_draws: usize,
    /// Minibatch size.
    pub batch_size: usize,
    /// Seed of minibatch order and noise.
    pub seed: u64,
    /// Standard deviation multiplier of the noise (0: deterministic gradient steps).
    pub noise_level: f64,
    /// Shuffle minibatches (false: dataset order).
    pub shuffle: bool,
    /// How `L(w*)` is computed.
    pub init_loss: InitLoss,
    /// Threads: chains are split into this many groups, each advanced as one batched
    /// computation on its own thread (default 1). Results do not depend on it.
    #[serde(default = "one")]
    pub threads: usize,
}

fn one() -> usize {
    1
}

impl Default for LlcConfig {
    fn default() -> Self {
        LlcConfig {
            epsilon: 1e-4,
            gamma: 100.0,
            nbeta: NBeta::Batch,
            chains: 4,
            draws: 1000,
            burnin: 0,
            steps_between_draws: 1,
            batch_size: 256,
            seed: 0,
            noise_level: 1.0,
            shuffle: true,
            init_loss: InitLoss::Full,
            threads: 1,
        }
    }
}

impl LlcConfig {
    /// Check ranges.
    pub fn validate(&self) -> Result<()> {
        let pos = |f: &'static str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(Error::config(f, v, "a positive finite number"))
            }
        };
        pos("epsilon", self.epsilon)?;
        if !(self.gamma.is_finite() && self.gamma >= 0.0) {
            return Err(Error::config("gamma", self.gamma, "a finite number >= 0"));
        }
        if !(self.noise_level.is_finite() && self.noise_level >= 0.0) {
            return Err(Error::config(
                "noise-level",
                self.noise_level,
                "a finite number >= 0",
            ));
        }
        if let NBeta::Value(v) = self.nbeta {
            pos("nbeta", v)?;
        }
        self.init_loss.check()?;
        for (f, v) in [
            ("chains", self.chains),
            ("draws", self.draws),
            ("batch-size", self.batch_size),
            ("steps-between-draws", self.steps_between_draws),
        ] {
            if v == 0 {
                return Err(Error::config(f, v, "at least 1"));
            }
        }
        Ok(())
    }

    /// The numeric `n_beta` for a training set of `n` examples.
    pub fn nbeta_value(&self, n: usize) -> f64 {
        match self.nbeta {
            NBeta::Value(v) => v,
            NBeta::Batch => {
                let b = self.batch_size.min(n) as f64;
                b / b.ln()
            }
            NBeta::Dataset => n as f64 / (n as f64).ln(),
        }
    }

    /// Total SGLD steps per chain.
    pub fn total_steps(&self) -> usize {
        self.burnin + self.draws * self.steps_between_draws
    }
}

/// Result of an LLC estimate.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct LlcResult {
    /// Mean over chains of the per-chain LLC.
    pub llc_mean: f64,
    /// Standard deviation of the per-chain LLCs (n-1 denominator; 0 for one chain).
    pub llc_std: f64,
    /// LLC of each chain.
    pub llc_per_chain: Vec<f64>,
    /// `L(w*)`.
    pub init_loss: f64,
    /// The numeric `n_beta` used.
    pub nbeta: f64,
    /// Minibatch loss of every step (burn-in included), per chain: `trace[chain][step]`.
    pub trace: Vec<Vec<f64>>,
    /// Running LLC estimate after each draw (all chains pooled).
    pub llc_running: Vec<f64>,
    /// Warnings (trace below the init loss, divergence).
    pub warnings: Vec<String>,
    /// SGLD steps per second, summed over chains.
    pub draws_per_second: f64,
}

/// Estimate the LLC of `net` on `data` (the training set).
pub fn estimate(net: &Network, data: &Dataset, config: &LlcConfig) -> Result<LlcResult> {
    let (init_loss, nbeta) = prepare(net, data, config)?;
    let start = std::time::Instant::now();
    let (trace, warnings) = all_chains(net, data, config, nbeta, &Monitor::silent())?;
    let elapsed = start.elapsed().as_secs_f64();
    finish(config, init_loss, nbeta, trace, warnings, elapsed)
}

/// A progress callback: `(chain-steps done, total chain-steps)`; returning false stops the run.
pub type ProgressFn<'a> = dyn FnMut(usize, usize) -> bool + Send + 'a;

/// [`estimate`] with progress reports: `progress(done, total)` after every SGLD step of every
/// chain, `done` increasing (by 1 per chain-step, by the group size when chains advance
/// together) and ending at `total = chains * config.total_steps()` (also when a chain diverged
/// and stopped early). When `progress` returns false the chains stop at their next step and
/// the result is [`Error::Stopped`]. Otherwise the result is exactly [`estimate`]'s (same
/// chains, same streams, same arithmetic). With `config.threads > 1` the callback is called
/// from the chain threads, one call at a time.
pub fn estimate_with_progress(
    net: &Network,
    data: &Dataset,
    config: &LlcConfig,
    progress: &mut ProgressFn<'_>,
) -> Result<LlcResult> {
    let (init_loss, nbeta) = prepare(net, data, config)?;
    let total = config.chains.saturating_mul(config.total_steps());
    let monitor = Monitor::new(progress, total);
    let start = std::time::Instant::now();
    let (trace, warnings) = all_chains(net, data, config, nbeta, &monitor)?;
    let elapsed = start.elapsed().as_secs_f64();
    monitor.finish()?;
    finish(config, init_loss, nbeta, trace, warnings, elapsed)
}

/// Counts chain-steps for [`estimate_with_progress`] and passes them to its callback.
struct Monitor<'a, 'b> {
    /// Chain-steps done, and the callback; under one lock so reports are in order.
    state: std::sync::Mutex<(usize, Option<&'a mut ProgressFn<'b>>)>,
    /// Whether there is a callback (without one, [`Monitor::step`] takes no lock).
    reports: bool,
    total: usize,
    stop: std::sync::atomic::AtomicBool,
}

impl<'a, 'b> Monitor<'a, 'b> {
    fn new(progress: &'a mut ProgressFn<'b>, total: usize) -> Self {
        Monitor {
            state: std::sync::Mutex::new((0, Some(progress))),
            reports: true,
            total,
            stop: false.into(),
        }
    }

    /// No callback (never stops).
    fn silent() -> Self {
        Monitor {
            state: std::sync::Mutex::new((0, None)),
            reports: false,
            total: 0,
            stop: false.into(),
        }
    }

    /// `n` more chain-steps done; `Err(Stopped)` when the callback asked to stop (now or in
    /// another thread).
    fn step(&self, n: usize) -> Result<()> {
        use std::sync::atomic::Ordering::Relaxed;
        if !self.reports {
            return Ok(());
        }
        if self.stop.load(Relaxed) {
            return Err(Error::Stopped);
        }
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if self.stop.load(Relaxed) {
            return Err(Error::Stopped);
        }
        let (done, cb) = &mut *st;
        if let Some(cb) = cb {
            *done = (*done + n).min(self.total);
            if !cb(*done, self.total) {
                self.stop.store(true, Relaxed);
                return Err(Error::Stopped);
            }
        }
        Ok(())
    }

    /// The final report `(total, total)` if the chains ended early (divergence).
    fn finish(&self) -> Result<()> {
        let done = self.state.lock().unwrap_or_else(|e| e.into_inner()).0;
        if done < self.total {
            self.step(self.total - done)?;
        }
        Ok(())
    }
}

/// Every chain of `config`, in `config.threads` groups on as many threads.
fn all_chains(
    net: &Network,
    data: &Dataset,
    config: &LlcConfig,
    nbeta: f64,
    monitor: &Monitor<'_, '_>,
) -> Result<ChainsOut> {
    let c = config.chains;
    let groups = config.threads.clamp(1, c);
    let mut trace = vec![];
    let mut warnings = vec![];
    if groups == 1 {
        (trace, warnings) = run_chains(net, data, config, nbeta, 0..c, monitor)?;
    } else {
        // Chain groups on separate threads; every chain keeps its own streams, so the result
        // does not depend on the grouping.
        let per = c.div_ceil(groups);
        // Group 0 runs on the calling thread (a caller can react to its progress reports
        // there, e.g. to Ctrl-C in Python), the others on their own threads.
        let results: Vec<Result<ChainsOut>> = std::thread::scope(|s| {
            let handles: Vec<_> = (per..c)
                .step_by(per)
                .map(|k0| {
                    let r = k0..(k0 + per).min(c);
                    s.spawn(move || run_chains(net, data, config, nbeta, r, monitor))
                })
                .collect();
            let first = run_chains(net, data, config, nbeta, 0..per.min(c), monitor);
            std::iter::once(first)
                .chain(handles.into_iter().map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(Error::config(
                            "threads",
                            "panic",
                            "a chain group thread panicked",
                        ))
                    })
                }))
                .collect()
        });
        // A stop requested by the callback is reported as such, not as another group's error.
        if results.iter().any(|r| matches!(r, Err(Error::Stopped))) {
            return Err(Error::Stopped);
        }
        for r in results {
            let (t, w) = r?;
            trace.extend(t);
            warnings.extend(w);
        }
    }
    Ok((trace, warnings))
}

/// Check `config` against `net` and `data`; returns `(L(w*), n_beta)`.
fn prepare(net: &Network, data: &Dataset, config: &LlcConfig) -> Result<(f64, f64)> {
    config.validate()?;
    if data.is_empty() {
        return Err(Error::config("data", 0, "a non-empty training set"));
    }
    let arch = net.arch();
    if data.dim() != arch.widths[0] {
        return Err(Error::config(
            "arch",
            arch,
            format!("input width {} (pixels per image of the data)", data.dim()),
        ));
    }
    if data.num_classes() > *arch.widths.last().unwrap_or(&0) {
        return Err(Error::config(
            "arch",
            arch,
            format!(
                "output width at least {} (classes in the data)",
                data.num_classes()
            ),
        ));
    }
    let nbeta = config.nbeta_value(data.len());
    let init_loss = match config.init_loss {
        InitLoss::Full => net.evaluate(data)?.loss,
        InitLoss::Batches(k) => {
            let mut b = chain_batcher(data, config, 0);
            let mut s = 0.0;
            for t in 0..k {
                let idx = b.indices(t as u64).to_vec();
                s += net.evaluate(&data.subset(&idx))?.loss;
            }
            s / k as f64
        }
        InitLoss::Value(v) => v,
    };
    Ok((init_loss, nbeta))
}

/// Batched SGLD: the LLC of several networks (checkpoints, seeds) or of one network under
/// several settings, all in one batch. `jobs[k] = (network, settings)`; every chain of every job
/// is one task, the tasks spread over `threads` threads. Each result equals
/// `estimate(jobs[k].0, data, jobs[k].1)` exactly: the same chains on the same minibatch and
/// noise streams with the same arithmetic (only `draws_per_second`, the job's chain-steps over
/// the whole batch's wall time, differs). Networks with BatchNorm or off the CPU are estimated
/// as one task each (their chains advance together as in [`estimate`]).
pub fn estimate_many(
    jobs: &[(&Network, &LlcConfig)],
    data: &Dataset,
    threads: usize,
) -> Result<Vec<LlcResult>> {
    if threads == 0 {
        return Err(Error::config("threads", 0, "at least 1"));
    }
    let start = std::time::Instant::now();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| Error::Device {
            device: "cpu".into(),
            what: format!("cannot start {threads} SGLD threads: {e}"),
        })?;
    pool.install(|| {
        use rayon::prelude::*;
        let prepared: Vec<(f64, f64)> = jobs
            .par_iter()
            .with_max_len(1)
            .map(|(net, cfg)| prepare(net, data, cfg))
            .collect::<Result<_>>()?;
        // Tasks: (job, chains); one chain each on the CPU kernels, else the whole job.
        let mut tasks = vec![];
        for (k, (net, cfg)) in jobs.iter().enumerate() {
            if net.device().is_cpu() && !net.arch().batchnorm {
                tasks.extend((0..cfg.chains).map(|c| (k, c..c + 1)));
            } else {
                tasks.push((k, 0..cfg.chains));
            }
        }
        let silent = Monitor::silent();
        let outs: Vec<ChainsOut> = tasks
            .par_iter()
            .with_max_len(1)
            .map(|(k, ks)| {
                let (net, cfg) = jobs[*k];
                if ks.len() == cfg.chains {
                    all_chains(net, data, cfg, prepared[*k].1, &silent)
                } else {
                    run_chains(net, data, cfg, prepared[*k].1, ks.clone(), &silent)
                }
            })
            .collect::<Result<_>>()?;
        let elapsed = start.elapsed().as_secs_f64();
        let mut per_job: Vec<ChainsOut> = vec![(vec![], vec![]); jobs.len()];
        for ((k, _), (t, w)) in tasks.iter().zip(outs) {
            per_job[*k].0.extend(t);
            per_job[*k].1.extend(w);
        }
        per_job
            .into_iter()
            .zip(jobs)
            .zip(&prepared)
            .map(|(((trace, warnings), (_, cfg)), (init_loss, nbeta))| {
                finish(cfg, *init_loss, *nbeta, trace, warnings, elapsed)
            })
            .collect()
    })
}

/// Traces (one per chain) and warnings of a group of chains.
type ChainsOut = (Vec<Vec<f64>>, Vec<String>);

fn chain_batcher(data: &Dataset, config: &LlcConfig, k: usize) -> Batcher {
    Batcher::new(
        data.len(),
        config.batch_size,
        config.shuffle,
        config.seed,
        &[0x5c1d, k as u64],
    )
}

/// Run the chains `ks`: on the CPU without BatchNorm each chain on its own with the
/// [`crate::mlp_cpu`] kernels, else as one chain-batched candle computation.
fn run_chains(
    net: &Network,
    data: &Dataset,
    config: &LlcConfig,
    nbeta: f64,
    ks: std::ops::Range<usize>,
    monitor: &Monitor<'_, '_>,
) -> Result<ChainsOut> {
    if net.device().is_cpu() && !net.arch().batchnorm {
        run_chains_cpu(net, data, config, nbeta, ks, monitor)
    } else {
        run_chains_batched(net, data, config, nbeta, ks, monitor)
    }
}

/// The chains `ks` one after the other with [`SgdMlp::sgld_step`] (same minibatch and noise
/// streams, same arithmetic up to f32 summation order as [`run_chains_batched`]).
fn run_chains_cpu(
    net: &Network,
    data: &Dataset,
    config: &LlcConfig,
    nbeta: f64,
    ks: std::ops::Range<usize>,
    monitor: &Monitor<'_, '_>,
) -> Result<ChainsOut> {
    let flat = net.flat_params()?;
    let step = SgldStep {
        half_eps: (config.epsilon / 2.0) as f32,
        nbeta: nbeta as f32,
        gamma: config.gamma as f32,
        noise_scale: (config.epsilon.sqrt() * config.noise_level) as f32,
    };
    let steps = config.total_steps();
    let mut traces = vec![];
    let mut warnings = vec![];
    let mut m = SgdMlp::new(net.arch(), &flat, data, InputLayer::Auto, 1)?;
    let anchor = m.anchor();
    for k in ks {
        m.reset(&anchor)?;
        let mut batcher = chain_batcher(data, config, k);
        let mut rng = Rng::new(config.seed, &[0x901e, k as u64]);
        let mut trace = Vec::with_capacity(steps);
        for t in 0..steps {
            let l = m.sgld_step(data, batcher.indices(t as u64), &anchor, &step, &mut rng)?;
            monitor.step(1)?;
            trace.push(l);
            if !l.is_finite() {
                warnings.push(format!(
                    "diverged: non-finite minibatch loss at step {t} (chain {k}); lower epsilon or \
                     raise gamma"
                ));
                break;
            }
        }
        traces.push(trace);
    }
    Ok((traces, warnings))
}

/// Run the chains `ks` as one chain-batched computation; returns their traces and warnings.
fn run_chains_batched(
    net: &Network,
    data: &Dataset,
    config: &LlcConfig,
    nbeta: f64,
    ks: std::ops::Range<usize>,
    monitor: &Monitor<'_, '_>,
) -> Result<ChainsOut> {
    let arch = net.arch().clone();
    let dev = net.device().clone();
    let c = ks.len();
    let buffers = net.buffers().to_vec();
    let mut batchers: Vec<Batcher> = ks.clone().map(|k| chain_batcher(data, config, k)).collect();
    // Chain-batched parameters and w*.
    let wstar: Vec<Tensor> = net
        .param_tensors()
        .iter()
        .map(|p| {
            let mut shape = vec![c];
            shape.extend(p.dims());
            p.unsqueeze(0)?.broadcast_as(shape)?.contiguous()
        })
        .collect::<candle_core::Result<_>>()?;
    let mut params: Vec<Tensor> = wstar.clone();
    let (eps, gamma) = (config.epsilon, config.gamma);
    let nscale = (eps.sqrt() * config.noise_level) as f32;
    let noise_rngs: Vec<Rng> = ks
        .clone()
        .map(|k| Rng::new(config.seed, &[0x901e, k as u64]))
        .collect();
    let sizes: Vec<usize> = params.iter().map(|p| p.elem_count() / c).collect();
    let mut noise_buf: Vec<Vec<f32>> = if dev.is_cpu() {
        vec![vec![]; sizes.len()]
    } else {
        sizes.iter().map(|&s| vec![0f32; s * c]).collect()
    };
    let steps = config.total_steps();
    let mut trace = vec![Vec::with_capacity(steps); c];
    let mut warnings = vec![];
    let dim = data.dim();
    let (mut xs, mut ys) = (vec![], vec![]);
    let update = SgldUpdate {
        half_eps: (eps / 2.0) as f32,
        nbeta: nbeta as f32,
        gamma: gamma as f32,
        nscale,
        chains: c,
        rngs: std::cell::RefCell::new(noise_rngs),
    };
    for t in 0..steps {
        xs.clear();
        ys.clear();
        let mut bsz = 0;
        for b in batchers.iter_mut() {
            let idx = b.indices(t as u64);
            bsz = idx.len();
            data.gather_into(idx, &mut xs, &mut ys);
        }
        let x = Tensor::from_slice(&xs, (c, bsz, dim), &dev)?;
        let lg = grad::loss_and_grads(&arch, &params, &buffers, &x, &ys, BnMode::Eval)?;
        let losses = lg.loss.to_dtype(DType::F64)?.to_vec1::<f64>()?;
        let diverged = losses.iter().any(|l| !l.is_finite());
        monitor.step(c)?;
        for (tr, l) in trace.iter_mut().zip(&losses) {
            tr.push(*l);
        }
        if diverged {
            warnings.push(format!(
                "diverged: non-finite minibatch loss at step {t}; lower epsilon or raise gamma"
            ));
            break;
        }
        for (i, p) in params.iter_mut().enumerate() {
            let g = &lg.grads[i];
            let next = if dev.is_cpu() {
                p.apply_op3_no_bwd(g, &wstar[i], &update)?
            } else {
                // Same arithmetic with tensor ops on other devices; noise from the same streams.
                if nscale > 0.0 {
                    let mut rngs = update.rngs.borrow_mut();
                    for (k, r) in rngs.iter_mut().enumerate() {
                        r.fill_normal_f32(&mut noise_buf[i][k * sizes[i]..(k + 1) * sizes[i]]);
                    }
                }
                let d = (g.affine(nbeta, 0.0)? + (&*p - &wstar[i])?.affine(gamma, 0.0)?)?;
                let mut q = (&*p - d.affine(eps / 2.0, 0.0)?)?;
                if nscale > 0.0 {
                    let nz = Tensor::from_slice(&noise_buf[i], p.shape(), &dev)?;
                    q = (q + nz.affine(nscale as f64, 0.0)?)?;
                }
                q
            };
            *p = next;
        }
    }
    Ok((trace, warnings))
}

fn finish(
    config: &LlcConfig,
    init_loss: f64,
    nbeta: f64,
    trace: Vec<Vec<f64>>,
    mut warnings: Vec<String>,
    elapsed: f64,
) -> Result<LlcResult> {
    let c = trace.len();
    let is_draw = |t: usize| {
        t >= config.burnin && (t - config.burnin).is_multiple_of(config.steps_between_draws)
    };
    let draws: Vec<Vec<f64>> = trace
        .iter()
        .map(|tr| {
            tr.iter()
                .enumerate()
                .filter(|(t, _)| is_draw(*t))
                .map(|(_, l)| *l)
                .collect()
        })
        .collect();
    let per_chain: Vec<f64> = draws
        .iter()
        .map(|d| nbeta * (d.iter().sum::<f64>() / d.len().max(1) as f64 - init_loss))
        .collect();
    let mean = per_chain.iter().sum::<f64>() / c as f64;
    let std = if c > 1 {
        (per_chain.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (c - 1) as f64).sqrt()
    } else {
        0.0
    };
    let nd = draws.iter().map(|d| d.len()).min().unwrap_or(0);
    let mut running = Vec::with_capacity(nd);
    let mut acc = 0.0;
    for j in 0..nd {
        acc += draws.iter().map(|d| d[j]).sum::<f64>();
        running.push(nbeta * (acc / ((j + 1) * c) as f64 - init_loss));
    }
    for (k, v) in per_chain.iter().enumerate() {
        if *v < 0.0 {
            warnings.push(format!(
                "chain {k}: mean sampled loss is below the init loss (llc {v:.4}): w* is not at a \
                 local minimum; train longer, or raise gamma"
            ));
        }
    }
    let big = init_loss.abs().max(1.0) * 10.0 + init_loss;
    if draws.iter().flatten().any(|l| *l > big)
        && !warnings.iter().any(|w| w.starts_with("diverged"))
    {
        warnings.push(format!(
            "diverging: a sampled loss exceeds 10x the init loss {init_loss:.4}; lower epsilon or raise gamma"
        ));
    }
    let total_steps: usize = trace.iter().map(|t| t.len()).sum();
    Ok(LlcResult {
        llc_mean: mean,
        llc_std: std,
        llc_per_chain: per_chain,
        init_loss,
        nbeta,
        trace,
        llc_running: running,
        warnings,
        draws_per_second: if elapsed > 0.0 {
            total_steps as f64 / elapsed
        } else {
            0.0
        },
    })
}

/// The fused SGLD update on the CPU: one pass over `w`, `grad L_B(w)` and `w*` per parameter,
/// drawing chain `c`'s noise from its own stream (chain-major blocks), no temporaries:
/// `w - (eps/2) (n_beta g + gamma (w - w*)) + sqrt(eps) noise_level z`, in f32 as PyTorch.
struct SgldUpdate {
    half_eps: f32,
    nbeta: f32,
    gamma: f32,
    nscale: f32,
    chains: usize,
    rngs: std::cell::RefCell<Vec<Rng>>,
}

fn contiguous<'a>(s: &'a CpuStorage, l: &Layout) -> candle_core::Result<&'a [f32]> {
    let all = s.as_slice::<f32>()?;
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&all[a..b]),
        None => Err(candle_core::Error::Msg(
            "sgld update needs contiguous tensors".into(),
        )),
    }
}

impl CustomOp3 for SgldUpdate {
    fn name(&self) -> &'static str {
        "sgld-update"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (w, g, w0) = (
            contiguous(s1, l1)?,
            contiguous(s2, l2)?,
            contiguous(s3, l3)?,
        );
        let n = w.len() / self.chains;
        let mut out = vec![0f32; w.len()];
        let mut rngs = self.rngs.borrow_mut();
        for (k, r) in rngs.iter_mut().enumerate() {
            let range = k * n..(k + 1) * n;
            let o = &mut out[range.clone()];
            for (((o, &w), &g), &w0) in o
                .iter_mut()
                .zip(&w[range.clone()])
                .zip(&g[range.clone()])
                .zip(&w0[range])
            {
                let d = self.nbeta * g + self.gamma * (w - w0);
                let q = w - self.half_eps * d;
                *o = if self.nscale > 0.0 {
                    q + self.nscale * r.normal_f32()
                } else {
                    q
                };
            }
        }
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{self, DataConfig};
    use crate::model::Arch;

    #[test]
    fn chains_do_not_depend_on_grouping_or_count() {
        let d = data::load(&DataConfig {
            n_train: 600,
            n_test: 10,
            ..Default::default()
        })
        .unwrap();
        let arch: Arch = "784-8-10+bn".parse().unwrap();
        let net = Network::init(&arch, 1, &candle_core::Device::Cpu).unwrap();
        let cfg = LlcConfig {
            chains: 3,
            draws: 6,
            batch_size: 64,
            ..LlcConfig::default()
        };
        let a = estimate(&net, &d.train, &cfg).unwrap();
        let b = estimate(
            &net,
            &d.train,
            &LlcConfig {
                threads: 2,
                ..cfg.clone()
            },
        )
        .unwrap();
        let one = estimate(
            &net,
            &d.train,
            &LlcConfig {
                chains: 1,
                ..cfg.clone()
            },
        )
        .unwrap();
        assert_eq!(a.trace, b.trace);
        assert_eq!(a.trace[0], one.trace[0]);
        assert_eq!(a.trace.len(), 3);
        assert!(a.trace[1] != a.trace[2]);
        // running estimate ends at the mean
        assert!((a.llc_running.last().unwrap() - a.llc_mean).abs() < 1e-9);
        let e = estimate(
            &net,
            &d.train,
            &LlcConfig {
                chains: 0,
                ..cfg.clone()
            },
        )
        .unwrap_err();
        assert!(e.to_string().contains("chains"), "{e}");
        let small =
            Network::init(&"784-8-5".parse().unwrap(), 1, &candle_core::Device::Cpu).unwrap();
        let e = estimate(&small, &d.train, &cfg).unwrap_err();
        assert!(e.to_string().contains("output width"), "{e}");
    }

    /// Batched SGLD: every job of `estimate_many` (two checkpoints of one architecture, another
    /// architecture, other settings, a BatchNorm network on the candle path) gives exactly what
    /// `estimate` gives for it alone, with 1 and 3 threads.
    #[test]
    fn estimate_many_equals_estimate_per_job() {
        let d = data::load(&DataConfig {
            n_train: 600,
            n_test: 10,
            ..Default::default()
        })
        .unwrap();
        let dev = candle_core::Device::Cpu;
        let a: Arch = "784-16-10".parse().unwrap();
        let nets = [
            Network::init(&a, 1, &dev).unwrap(),
            Network::init(&a, 2, &dev).unwrap(),
            Network::init(&"784-12-8-10".parse().unwrap(), 3, &dev).unwrap(),
            Network::init(&"784-8-10+bn".parse().unwrap(), 4, &dev).unwrap(),
        ];
        let base = LlcConfig {
            chains: 3,
            draws: 8,
            batch_size: 64,
            ..LlcConfig::default()
        };
        let cfgs = [
            base.clone(),
            LlcConfig {
                seed: 7,
                ..base.clone()
            },
            LlcConfig {
                epsilon: 3e-4,
                gamma: 30.0,
                chains: 2,
                burnin: 2,
                ..base.clone()
            },
            base.clone(),
        ];
        let mut jobs: Vec<(&Network, &LlcConfig)> = nets.iter().zip(&cfgs).collect();
        // one checkpoint under a second setting too (a scale scan)
        jobs.push((&nets[0], &cfgs[2]));
        let want: Vec<LlcResult> = jobs
            .iter()
            .map(|(n, c)| estimate(n, &d.train, c).unwrap())
            .collect();
        for threads in [1, 3] {
            let got = estimate_many(&jobs, &d.train, threads).unwrap();
            assert_eq!(got.len(), want.len());
            for (k, (g, w)) in got.iter().zip(&want).enumerate() {
                assert_eq!(g.trace, w.trace, "job {k}");
                assert_eq!(g.llc_per_chain, w.llc_per_chain, "job {k}");
                assert_eq!(g.llc_mean.to_bits(), w.llc_mean.to_bits(), "job {k}");
                assert_eq!(g.llc_std.to_bits(), w.llc_std.to_bits(), "job {k}");
                assert_eq!(g.init_loss.to_bits(), w.init_loss.to_bits(), "job {k}");
                assert_eq!(g.llc_running, w.llc_running, "job {k}");
                assert_eq!(g.warnings, w.warnings, "job {k}");
            }
        }
        assert!(estimate_many(&jobs, &d.train, 0).is_err());
        let bad = LlcConfig {
            draws: 0,
            ..base.clone()
        };
        let e = estimate_many(&[(&nets[0], &bad)], &d.train, 2).unwrap_err();
        assert!(e.to_string().contains("draws"), "{e}");
    }

    /// The CPU kernels against the chain-batched candle path on a network without BatchNorm:
    /// same minibatches and noise, traces equal up to f32 summation order.
    #[test]
    fn cpu_chains_match_batched_chains() {
        let d = data::load(&DataConfig {
            n_train: 600,
            n_test: 10,
            ..Default::default()
        })
        .unwrap();
        for arch in ["784-70-10", "784-10"] {
            let net = Network::init(&arch.parse().unwrap(), 2, &candle_core::Device::Cpu).unwrap();
            for noise_level in [0.0, 1.0] {
                let cfg = LlcConfig {
                    chains: 2,
                    draws: 8,
                    batch_size: 64,
                    noise_level,
                    epsilon: 1e-3,
                    ..LlcConfig::default()
                };
                let nbeta = cfg.nbeta_value(d.train.len());
                let m = Monitor::silent();
                let (a, _) = run_chains_cpu(&net, &d.train, &cfg, nbeta, 0..2, &m).unwrap();
                let (b, _) = run_chains_batched(&net, &d.train, &cfg, nbeta, 0..2, &m).unwrap();
                for (ta, tb) in a.iter().zip(&b) {
                    assert_eq!(ta.len(), tb.len());
                    for (x, y) in ta.iter().zip(tb) {
                        assert!(
                            (x - y).abs() < 1e-5,
                            "{arch} noise {noise_level}: {x} vs {y}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn parse_options() {
        assert_eq!("batch".parse::<NBeta>().unwrap(), NBeta::Batch);
        assert_eq!("12.5".parse::<NBeta>().unwrap(), NBeta::Value(12.5));
        assert!("-1".parse::<NBeta>().is_err());
        assert_eq!(
            "batches:3".parse::<InitLoss>().unwrap(),
            InitLoss::Batches(3)
        );
        assert!("batches:0".parse::<InitLoss>().is_err());
        assert_eq!("2.25".parse::<InitLoss>().unwrap(), InitLoss::Value(2.25));
        assert_eq!("0".parse::<InitLoss>().unwrap(), InitLoss::Value(0.0));
        for bad in ["-0.5", "nan", "inf", "fast"] {
            let e = bad.parse::<InitLoss>().unwrap_err().to_string();
            assert!(e.contains("init-loss"), "{bad}: {e}");
        }
        let e = LlcConfig {
            init_loss: InitLoss::Value(f64::NAN),
            ..LlcConfig::default()
        }
        .validate()
        .unwrap_err();
        assert!(e.to_string().contains("init-loss"), "{e}");
        let c = LlcConfig::default();
        assert!((c.nbeta_value(8000) - 256.0 / 256f64.ln()).abs() < 1e-12);
    }

    /// A given `init_loss` is used as `L(w*)`: with the full-data loss of a `Full` run given as
    /// a number, the result is bit-identical; with another number `c`, every per-chain LLC is
    /// `n_beta (mean draw loss - c)` on the same traces (the traces do not depend on `L(w*)`).
    #[test]
    fn given_init_loss() {
        let d = data::load(&DataConfig {
            n_train: 600,
            n_test: 10,
            ..Default::default()
        })
        .unwrap();
        let net =
            Network::init(&"784-16-10".parse().unwrap(), 1, &candle_core::Device::Cpu).unwrap();
        let cfg = LlcConfig {
            chains: 2,
            draws: 7,
            batch_size: 64,
            ..LlcConfig::default()
        };
        let full = estimate(&net, &d.train, &cfg).unwrap();
        let same = estimate(
            &net,
            &d.train,
            &LlcConfig {
                init_loss: InitLoss::Value(full.init_loss),
                ..cfg.clone()
            },
        )
        .unwrap();
        assert_eq!(same.llc_mean.to_bits(), full.llc_mean.to_bits());
        assert_eq!(same.llc_per_chain, full.llc_per_chain);
        let c = 1.5;
        let other = estimate(
            &net,
            &d.train,
            &LlcConfig {
                init_loss: InitLoss::Value(c),
                ..cfg.clone()
            },
        )
        .unwrap();
        assert_eq!(other.trace, full.trace);
        assert_eq!(other.init_loss.to_bits(), c.to_bits()); // passed through as given
        for (k, tr) in other.trace.iter().enumerate() {
            let want = other.nbeta * (tr.iter().sum::<f64>() / tr.len() as f64 - c);
            // the same sum in the same order as `finish`: equal up to rounding of the mean
            assert!((other.llc_per_chain[k] - want).abs() < 1e-12 * want.abs().max(1.0));
        }
    }

    /// `estimate_with_progress`: the same result as `estimate` (CPU kernels, threads 1 and 2,
    /// and the chain-batched BatchNorm path), `done` strictly increasing and ending at
    /// `chains * total_steps`; a callback returning false stops the run with `Error::Stopped`.
    #[test]
    fn progress_reports_and_stops() {
        let d = data::load(&DataConfig {
            n_train: 600,
            n_test: 10,
            ..Default::default()
        })
        .unwrap();
        let dev = candle_core::Device::Cpu;
        for (arch, threads) in [("784-16-10", 1), ("784-16-10", 2), ("784-8-10+bn", 1)] {
            let net = Network::init(&arch.parse().unwrap(), 1, &dev).unwrap();
            let cfg = LlcConfig {
                chains: 3,
                draws: 5,
                burnin: 2,
                batch_size: 64,
                threads,
                ..LlcConfig::default()
            };
            let want = estimate(&net, &d.train, &cfg).unwrap();
            let mut seen = vec![];
            let got = estimate_with_progress(&net, &d.train, &cfg, &mut |done, total| {
                seen.push((done, total));
                true
            })
            .unwrap();
            assert_eq!(got.trace, want.trace, "{arch} threads {threads}");
            assert_eq!(got.llc_mean.to_bits(), want.llc_mean.to_bits());
            assert_eq!(got.llc_running, want.llc_running);
            let total = 3 * 7;
            assert!(seen.iter().all(|&(_, t)| t == total));
            assert!(seen.windows(2).all(|w| w[0].0 < w[1].0), "{seen:?}");
            assert_eq!(seen.last().unwrap().0, total);
            // chain-batched path: one report per step for all chains together
            let per_step = if arch.ends_with("+bn") { 3 } else { 1 };
            assert_eq!(seen[0].0, per_step, "{seen:?}");

            let mut calls = 0;
            let e = estimate_with_progress(&net, &d.train, &cfg, &mut |done, _| {
                calls += 1;
                done < 4
            })
            .unwrap_err();
            assert!(matches!(e, Error::Stopped), "{e}");
            assert!(e.to_string().contains("stopped"), "{e}");
            // stopping is prompt: no report after the one that returned false (one thread), at
            // most one more per other thread
            assert!(calls <= 4 / per_step + threads, "{calls}");
        }
    }
}
