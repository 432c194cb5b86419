//! A run in progress: set up or resumed, stepped, checkpointed, estimated.

#[allow(unused_imports)]
use super::*;

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
        if data.train.dim() != arch.input_dim() {
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
        if classes > arch.outputs() {
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
        let init_seed = config.effective_init_seed();
        let w0 = Network::init(arch, init_seed, &Device::Cpu)?.flat_params()?;
        let resume_path = out_dir.join("resume.safetensors");
        let (net, mut st, mut summary) = if resume_path.is_file() {
            load_resume(&resume_path, config, &dev)?
        } else {
            let net = Network::init(arch, init_seed, &dev)?;
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
                diverged_at: None,
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
        let buffers = config.optimizer.state_buffers();
        if buffers > 0 && st.m.is_empty() {
            st.m = net
                .params()
                .iter()
                .map(|p| p.as_tensor().zeros_like())
                .collect::<candle_core::Result<_>>()?;
            if buffers == 2 {
                st.v = st.m.clone();
            }
        }
        summary.config = config.clone();
        let schedule: BTreeSet<u64> = config.checkpoint_steps().into_iter().collect();
        let llc_steps: BTreeSet<u64> = config.llc_steps().into_iter().collect();
        // A batch of the whole training split is gradient descent: the examples in their
        // order, the same every step, whatever the stream seed.
        let batcher = Batcher::new(
            data.train.len(),
            config.batch_size,
            config.batch_size < data.train.len(),
            config.effective_stream_seed(),
            &[0x7a1],
        );
        let fast = if arch.is_plain_mlp() && dev.is_cpu() {
            let mut f = SgdMlp::new(
                arch,
                &net.flat_params()?,
                &data.train,
                config.input_layer,
                config.threads,
            )?;
            let flat = |t: &[Tensor]| -> Result<Vec<f32>> {
                let mut v = vec![];
                for x in t {
                    v.extend(x.flatten_all()?.to_vec1::<f32>()?);
                }
                Ok(v)
            };
            match (&config.optimizer, buffers) {
                (Optimizer::Adam { .. }, _) => f.set_adam_moments(&flat(&st.m)?, &flat(&st.v)?)?,
                (Optimizer::Sgd { .. }, 1) => f.set_momentum_buffer(&flat(&st.m)?)?,
                _ => {}
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
    pub(super) fn sync(&mut self) -> Result<()> {
        if let (true, Some(f)) = (self.stale, &self.fast) {
            self.net.set_flat_params(&f.flat_params())?;
        }
        self.stale = false;
        Ok(())
    }

    /// Bring `net` and the optimizer state up to date and write the resume file.
    pub(super) fn save(&mut self) -> Result<()> {
        self.sync()?;
        if let Some((m, v)) = self.fast.as_ref().and_then(|f| f.adam_moments()) {
            self.st.m = tensors_like(&self.config.arch, &m, &self.dev)?;
            self.st.v = tensors_like(&self.config.arch, &v, &self.dev)?;
        }
        if self.config.optimizer.state_buffers() == 1
            && let Some(b) = self.fast.as_ref().and_then(|f| f.momentum_buffer())
        {
            self.st.m = tensors_like(&self.config.arch, &b, &self.dev)?;
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
            let t = self.st.t + 1;
            let l = match (
                config.optimizer.sgd_step::<f32>(t),
                config.optimizer.adam_step(t),
            ) {
                (Some(c), _) => f.sgd_step(&data.train, idx, &c)?,
                (_, Some(c)) => f.adam_step(&data.train, idx, &c)?,
                (None, None) => f64::NAN,
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
                seed: mix(self.config.sgld_seed(), s1),
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
                rhat: r.diagnostics.rhat,
                ess_bulk: r.diagnostics.ess_bulk,
                ess_tail: r.diagnostics.ess_tail,
                acceptance: r.diagnostics.acceptance,
                burn_in: r.diagnostics.burn_in,
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
