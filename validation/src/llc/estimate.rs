//! The estimate: `L(w*)`, the chains, and the LLC from their draws.

#[allow(unused_imports)]
use super::*;

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
    /// The `n_beta` used with its convention, and the values of both conventions
    /// (`B / ln B` and `n / ln n`).
    #[serde(default)]
    pub n_beta: NBetaRecord,
    /// Minibatch loss of every step (burn-in included), per chain: `trace[chain][step]`.
    pub trace: Vec<Vec<f64>>,
    /// Minibatch loss of every draw, per chain: `loss_traces[chain][draw]` (the draws of
    /// `trace`; what the diagnostics are computed from).
    #[serde(default)]
    pub loss_traces: Vec<Vec<f64>>,
    /// Running LLC estimate after each draw (all chains pooled).
    pub llc_running: Vec<f64>,
    /// Warnings (trace below the init loss, divergence); the diagnostics' warnings are in
    /// `diagnostics.warnings`.
    pub warnings: Vec<String>,
    /// Convergence diagnostics of the draws ([`LlcDiagnostics`]).
    #[serde(default)]
    pub diagnostics: LlcDiagnostics,
    /// SGLD steps per second, summed over chains.
    pub draws_per_second: f64,
}

/// Estimate the LLC of `net` on `data` (the training set).
pub fn estimate(net: &Network, data: &Dataset, config: &LlcConfig) -> Result<LlcResult> {
    let (init_loss, nbeta) = prepare(net, data, config)?;
    let start = std::time::Instant::now();
    let out = all_chains(net, data, config, nbeta, &Monitor::silent())?;
    let elapsed = start.elapsed().as_secs_f64();
    finish(config, init_loss, data.len(), out, elapsed)
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
    let out = all_chains(net, data, config, nbeta, &monitor)?;
    let elapsed = start.elapsed().as_secs_f64();
    monitor.finish()?;
    finish(config, init_loss, data.len(), out, elapsed)
}

/// Counts chain-steps for [`estimate_with_progress`] and passes them to its callback.
pub(super) struct Monitor<'a, 'b> {
    /// Chain-steps done, and the callback; under one lock so reports are in order.
    pub(super) state: std::sync::Mutex<(usize, Option<&'a mut ProgressFn<'b>>)>,
    /// Whether there is a callback (without one, [`Monitor::step`] takes no lock).
    pub(super) reports: bool,
    pub(super) total: usize,
    pub(super) stop: std::sync::atomic::AtomicBool,
}

impl<'a, 'b> Monitor<'a, 'b> {
    pub(super) fn new(progress: &'a mut ProgressFn<'b>, total: usize) -> Self {
        Monitor {
            state: std::sync::Mutex::new((0, Some(progress))),
            reports: true,
            total,
            stop: false.into(),
        }
    }

    /// No callback (never stops).
    pub(super) fn silent() -> Self {
        Monitor {
            state: std::sync::Mutex::new((0, None)),
            reports: false,
            total: 0,
            stop: false.into(),
        }
    }

    /// `n` more chain-steps done; `Err(Stopped)` when the callback asked to stop (now or in
    /// another thread).
    pub(super) fn step(&self, n: usize) -> Result<()> {
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
    pub(super) fn finish(&self) -> Result<()> {
        let done = self.state.lock().unwrap_or_else(|e| e.into_inner()).0;
        if done < self.total {
            self.step(self.total - done)?;
        }
        Ok(())
    }
}

/// Every chain of `config`, in `config.threads` groups on as many threads.
pub(super) fn all_chains(
    net: &Network,
    data: &Dataset,
    config: &LlcConfig,
    nbeta: f64,
    monitor: &Monitor<'_, '_>,
) -> Result<ChainsOut> {
    let c = config.chains;
    let groups = config.threads.clamp(1, c);
    let mut out = ChainsOut::default();
    if groups == 1 {
        out = run_chains(net, data, config, nbeta, 0..c, monitor)?;
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
            out.extend(r?);
        }
    }
    Ok(out)
}

/// Check `config` against `net` and `data`; returns `(L(w*), n_beta)`.
pub(super) fn prepare(net: &Network, data: &Dataset, config: &LlcConfig) -> Result<(f64, f64)> {
    config.validate()?;
    if data.is_empty() {
        return Err(Error::config("data", 0, "a non-empty training set"));
    }
    let arch = net.arch();
    if data.dim() != arch.input_dim() {
        return Err(Error::config(
            "arch",
            arch,
            format!("input width {} (pixels per image of the data)", data.dim()),
        ));
    }
    if data.num_classes() > arch.outputs() {
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
            if net.device().is_cpu() && net.arch().is_plain_mlp() {
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
        let mut per_job: Vec<ChainsOut> = vec![ChainsOut::default(); jobs.len()];
        for ((k, _), o) in tasks.iter().zip(outs) {
            per_job[*k].extend(o);
        }
        per_job
            .into_iter()
            .zip(jobs)
            .zip(&prepared)
            .map(|((out, (_, cfg)), (init_loss, _))| {
                finish(cfg, *init_loss, data.len(), out, elapsed)
            })
            .collect()
    })
}

/// The estimate from the chains' output: the per-chain LLC from the draws, the running
/// estimate, the warnings and the diagnostics. `n` is the training-set size (for the `n_beta`
/// record).
pub(crate) fn finish(
    config: &LlcConfig,
    init_loss: f64,
    n: usize,
    out: ChainsOut,
    elapsed: f64,
) -> Result<LlcResult> {
    let ChainsOut {
        traces: trace,
        mut warnings,
        accept,
    } = out;
    let n_beta = NBetaRecord::new(config, n);
    let nbeta = n_beta.value;
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
    let diagnostics = LlcDiagnostics::new(&draws, &accept);
    let loss_traces = draws;
    Ok(LlcResult {
        llc_mean: mean,
        llc_std: std,
        llc_per_chain: per_chain,
        init_loss,
        nbeta,
        n_beta,
        trace,
        loss_traces,
        llc_running: running,
        warnings,
        diagnostics,
        draws_per_second: if elapsed > 0.0 {
            total_steps as f64 / elapsed
        } else {
            0.0
        },
    })
}
