//! The configuration of a training run and its schedules (checkpoints, LLC estimates).

#[allow(unused_imports)]
use super::*;

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
    /// Seed of initialisation and of the noise (minibatch order, SGLD of the in-training LLC
    /// estimates) (default 0): the shorthand for both; [`TrainConfig::init_seed`] and
    /// [`TrainConfig::stream_seed`] override one each.
    pub seed: u64,
    /// Seed of the initialisation only (`None`: `seed`). See [`TrainConfig::effective_init_seed`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_seed: Option<u64>,
    /// Seed of the noise only: the minibatch order and the SGLD seeds of the in-training LLC
    /// estimates (`None`: `seed`, and the SGLD seeds are `llc.seed` as before these fields
    /// existed). See [`TrainConfig::effective_stream_seed`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_seed: Option<u64>,
    /// Also checkpoint every this many steps (`None`: the geometric schedule only), e.g. for
    /// time averages over a late window, which need evenly spaced weights.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_every: Option<u64>,
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

pub(super) fn one_thread() -> usize {
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
    pub(super) fn uniform() -> Self {
        LlcSchedule::Uniform
    }
    pub(super) fn is_uniform(&self) -> bool {
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
                conv: None,
            },
            optimizer: Optimizer::sgd(1e-3),
            batch_size: 256,
            steps: 10_000,
            seed: 0,
            init_seed: None,
            stream_seed: None,
            checkpoint_every: None,
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
        self.optimizer.validate()?;
        if self.batch_size == 0 {
            return Err(Error::config("batch-size", 0, "at least 1"));
        }
        if self.steps == 0 {
            return Err(Error::config("steps", 0, "at least 1"));
        }
        if self.checkpoints_per_decade == 0 {
            return Err(Error::config("checkpoints-per-decade", 0, "at least 1"));
        }
        if self.checkpoint_every == Some(0) {
            return Err(Error::config("checkpoint-every", 0, "at least 1"));
        }
        if self.late_window == Some(0) {
            // an empty late window records no minibatch losses: the Gamma law would have none
            return Err(Error::config("late-window", 0, "at least 1 step"));
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

    /// The seed of the initial weights: `init_seed`, else `seed`.
    pub fn effective_init_seed(&self) -> u64 {
        self.init_seed.unwrap_or(self.seed)
    }

    /// The seed of the minibatch order: `stream_seed`, else `seed`.
    pub fn effective_stream_seed(&self) -> u64 {
        self.stream_seed.unwrap_or(self.seed)
    }

    /// The base seed of the in-training SGLD chains (mixed with the step of each estimate):
    /// `llc.seed`, mixed with `stream_seed` when that is given (so members of a shared-init
    /// ensemble differ in their SGLD noise too).
    pub fn sgld_seed(&self) -> u64 {
        match self.stream_seed {
            None => self.llc.seed,
            Some(s) => {
                let mut r = crate::rng::Rng::new(self.llc.seed, &[0x5eed, s]);
                rand::RngCore::next_u64(&mut r)
            }
        }
    }

    /// A configuration with the given initialisation and noise seeds, stored as `--seed` would
    /// store them: `seed = init`, `init_seed = None`, and `stream_seed = None` when the two are
    /// equal (then it is exactly the configuration of `seed` alone).
    pub fn with_seeds(mut self, init: u64, stream: u64) -> Self {
        self.seed = init;
        self.init_seed = None;
        self.stream_seed = (stream != init).then_some(stream);
        self
    }

    /// Checkpoint steps: the geometric schedule, plus every `checkpoint_every` steps.
    pub fn checkpoint_steps(&self) -> Vec<u64> {
        let mut s: BTreeSet<u64> = checkpoint_schedule(self.steps, self.checkpoints_per_decade)
            .into_iter()
            .collect();
        if let Some(k) = self.checkpoint_every.filter(|&k| k > 0) {
            s.extend((1..=self.steps / k).map(|j| j * k));
        }
        s.into_iter().collect()
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

    pub(super) fn resume_key(&self) -> Result<String> {
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
