//! The study's configuration: groups, and every analysis choice declared before the data.

use crate::analysis::stats::BootstrapConfig;
use crate::data::DataConfig;
use crate::error::{Error, Result};
use crate::model::Arch;
use crate::train::Optimizer;
use serde::{Deserialize, Serialize};

/// Which optimizer a group trains with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// Plain SGD (with `weight_decay` when it is positive).
    #[default]
    Sgd,
    /// Adam.
    Adam,
}

/// One ensemble: `inits` initialisations x `streams` minibatch streams of one training setup.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupConfig {
    /// Name (a directory name: letters, digits, `-`, `_`, `.`).
    pub name: String,
    /// Architecture (default 784-32-10).
    pub arch: Arch,
    /// Optimizer (default SGD).
    pub optimizer: OptimizerKind,
    /// Learning rate (default 0.001).
    pub lr: f64,
    /// Minibatch size (default 256).
    pub batch_size: usize,
    /// Weight decay (L2 coefficient `wd`; default 0). The weights relax in about
    /// `1 / (lr wd)` steps, the confinement that makes a stationary state possible.
    pub weight_decay: f64,
    /// Updates per member (default 20,000).
    pub steps: u64,
    /// Initialisations `K` (init seeds `first_init_seed ..`; default 2).
    pub inits: usize,
    /// Minibatch streams `S` per initialisation (default 8; at least 2 for a covariance).
    pub streams: usize,
    /// Full-batch gradient-descent twins (default true).
    pub gd_twin: bool,
    /// How many initialisations (the first ones) get a twin when `gd_twin` is set (default
    /// `None`: all). A full-batch step costs `n / B` minibatch steps, so a budget gives one
    /// twin per group.
    #[serde(default)]
    pub gd_twin_inits: Option<usize>,
    /// Updates of each twin (default `None`: as many as the streams). A full-batch step on the
    /// 8,000 training images costs about 31 minibatch steps of 256, so a budget runs the twin
    /// over the first part of the run only; its gap to the ensemble mean is then reported up to
    /// its last step.
    #[serde(default)]
    pub gd_twin_steps: Option<u64>,
    /// Heavy-ball momentum of SGD (default 0).
    #[serde(default)]
    pub momentum: f64,
    /// Init seed of the first initialisation (default 0).
    pub first_init_seed: u64,
    /// Geometric checkpoints per decade (default 20).
    pub checkpoints_per_decade: u32,
    /// Evenly spaced checkpoints over the run besides the geometric ones (default 100): the
    /// loss series of the stationarity test and the time averages of the aging analysis.
    pub uniform_checkpoints: u64,
    /// Runs analysed from their checkpoints (`ffpe-validate analyze`), not trained here: what
    /// they are, in words (`null` for the study's own groups). The training fields above
    /// (architecture, optimizer, learning rate, batch, weight decay, momentum, seeds) are then
    /// not known to the analysis and are not reported; `steps`, `inits`, `streams` and
    /// `uniform_checkpoints` describe the runs as found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<String>,
    /// Why the LLC estimator has no calibrated setting on this group's network (`null`: it
    /// has one). Declared before the data from an `llc-sweep` calibration; the Gamma-law test
    /// of such a group, whose shape is that estimator's LLC, is then computed and described
    /// but not testable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub llc_uncalibrated: Option<String>,
}

impl Default for GroupConfig {
    fn default() -> Self {
        GroupConfig {
            name: "sgd".into(),
            arch: Arch {
                widths: vec![784, 32, 10],
                batchnorm: false,
                conv: None,
            },
            optimizer: OptimizerKind::Sgd,
            lr: 1e-3,
            batch_size: 256,
            weight_decay: 0.0,
            steps: 20_000,
            inits: 2,
            streams: 8,
            gd_twin: true,
            gd_twin_inits: None,
            gd_twin_steps: None,
            momentum: 0.0,
            first_init_seed: 0,
            checkpoints_per_decade: 20,
            uniform_checkpoints: 100,
            external: None,
            llc_uncalibrated: None,
        }
    }
}

impl GroupConfig {
    /// The members' optimizer.
    pub fn optimizer(&self) -> Result<Optimizer> {
        Ok(match self.optimizer {
            OptimizerKind::Sgd => Optimizer::sgd(self.lr),
            OptimizerKind::Adam => Optimizer::adam(self.lr),
        }
        .with_momentum(self.momentum)
        .with_weight_decay(self.weight_decay))
    }

    /// Whether initialisation `i` gets a gradient-descent twin.
    pub fn has_twin(&self, i: usize) -> bool {
        self.gd_twin && i < self.gd_twin_inits.unwrap_or(self.inits)
    }

    /// Steps between the evenly spaced checkpoints (`None`: none).
    pub fn checkpoint_every(&self) -> Option<u64> {
        (self.uniform_checkpoints > 0).then(|| (self.steps / self.uniform_checkpoints).max(1))
    }

    /// Check ranges.
    pub fn validate(&self) -> Result<()> {
        let ok_name = !self.name.is_empty()
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            && !self.name.starts_with('.');
        if !ok_name {
            return Err(Error::config(
                "group name",
                &self.name,
                "letters, digits, '-', '_', '.' (not first)",
            ));
        }
        self.arch.validate()?;
        self.optimizer()?;
        if self.inits == 0 {
            return Err(Error::config("inits", 0, "at least 1"));
        }
        if !(2..=1000).contains(&self.streams) {
            return Err(Error::config("streams", self.streams, "2 to 1000"));
        }
        if self.steps == 0 {
            return Err(Error::config("steps", 0, "at least 1"));
        }
        if self.gd_twin_steps == Some(0) {
            return Err(Error::config("gd_twin_steps", 0, "at least 1 (or absent)"));
        }
        if !(self.momentum.is_finite() && (0.0..1.0).contains(&self.momentum)) {
            return Err(Error::config(
                "momentum",
                self.momentum,
                "0 <= momentum < 1",
            ));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err(Error::config(
                "weight-decay",
                self.weight_decay,
                "a finite number >= 0",
            ));
        }
        Ok(())
    }
}

/// Exponent against window start: windows `[t_a, ratio t_a]`, `t_a` geometric from
/// `from * steps` to `steps / ratio`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepConfig {
    /// First window start, as a fraction of the run (default 0.001).
    pub from: f64,
    /// Window end / window start (default 10: one decade).
    pub ratio: f64,
    /// Window starts per decade (default 4).
    pub per_decade: u32,
}

impl Default for SweepConfig {
    fn default() -> Self {
        SweepConfig {
            from: 1e-3,
            ratio: 10.0,
            per_decade: 4,
        }
    }
}

/// The stationarity test of the loss, declared before the data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StationarityConfig {
    /// The tested stretch: the last `tail` of the run (default 0.25, the last quarter).
    pub tail: f64,
    /// Significance level of the Mann-Kendall trend test (default 0.05): stationary when no
    /// trend is found at this level.
    pub level: f64,
    /// Fewest loss points in a tested stretch (default 10, the shared test's least).
    pub min_points: usize,
}

impl Default for StationarityConfig {
    fn default() -> Self {
        StationarityConfig {
            tail: 0.25,
            level: 0.05,
            min_points: crate::analysis::stationarity::MIN_POINTS,
        }
    }
}

/// Aging and ergodicity on the stationary stretch (evenly spaced checkpoints).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgingConfig {
    /// Largest lag, as a fraction of the stationary stretch (default 0.25).
    pub max_lag: f64,
    /// Window starts `t_a` for the aging slope: fractions of the stationary stretch
    /// (default 0, 0.25, 0.5).
    pub starts: Vec<f64>,
}

impl Default for AgingConfig {
    fn default() -> Self {
        AgingConfig {
            max_lag: 0.25,
            starts: vec![0.0, 0.25, 0.5],
        }
    }
}

/// The whole study.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DriftConfig {
    /// The ensembles.
    pub groups: Vec<GroupConfig>,
    /// The data (default: the bundled 8,000/2,000 split).
    pub data: DataConfig,
    /// Fit windows of the MSD exponent of `tr Sigma(t)`: `[lo, hi]` fractions of the run
    /// (default `[0.01, 0.1]` and `[0.1, 1]`).
    pub fit_windows: Vec<[f64; 2]>,
    /// Exponent against window start.
    pub sweep: SweepConfig,
    /// Fewest checkpoints in a fit window (default 4).
    pub min_fit_points: usize,
    /// Top eigenvalues of `Sigma(t)` reported (default 3).
    pub eigenvalues: usize,
    /// Bootstrap over initialisations (default 1000 resamples, 95 %, seed 0).
    pub bootstrap: BootstrapConfig,
    /// The stationarity test.
    pub stationarity: StationarityConfig,
    /// Aging and ergodicity.
    pub aging: AgingConfig,
    /// The rival predictions scored on held-out steps ([`super::rivals`]).
    #[serde(default)]
    pub rivals: RivalConfig,
    /// The Gamma law of late losses on the stationary stretches ([`super::steady`]).
    #[serde(default)]
    pub gamma_law: super::steady::GammaLawConfig,
}

/// The predictions of `tr Sigma(t)` scored on held-out steps, declared before the data: every
/// model's inputs come from the fit segment `[fit_from, split]` (fractions of the run), the
/// score is over the held-out steps `(split, 1]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RivalConfig {
    /// Start of the fit segment, a fraction of the run (default 0.01).
    pub fit_from: f64,
    /// End of the fit segment and start of the held-out steps (default 0.1).
    pub split: f64,
    /// Hessian eigenpairs of the Ornstein-Uhlenbeck rival (default 20).
    pub top: usize,
    /// Training images the curvature and noise are measured on (default 2,000: the first of
    /// the training split).
    pub samples: usize,
    /// Two-sided family-wise error rate of the headline claims (default 0.05; Holm).
    pub alpha: f64,
}

impl Default for RivalConfig {
    fn default() -> Self {
        RivalConfig {
            fit_from: 0.01,
            split: 0.1,
            top: 20,
            samples: 2000,
            alpha: 0.05,
        }
    }
}

impl Default for DriftConfig {
    fn default() -> Self {
        DriftConfig {
            groups: vec![GroupConfig::default()],
            data: DataConfig::default(),
            fit_windows: vec![[0.01, 0.1], [0.1, 1.0]],
            sweep: SweepConfig::default(),
            min_fit_points: 4,
            eigenvalues: 3,
            bootstrap: BootstrapConfig::default(),
            stationarity: StationarityConfig::default(),
            aging: AgingConfig::default(),
            rivals: RivalConfig::default(),
            gamma_law: super::steady::GammaLawConfig::default(),
        }
    }
}

impl DriftConfig {
    /// Check ranges.
    pub fn validate(&self) -> Result<()> {
        if self.groups.is_empty() {
            return Err(Error::config("groups", 0, "at least one"));
        }
        let mut names = std::collections::BTreeSet::new();
        for g in &self.groups {
            g.validate()?;
            if !names.insert(&g.name) {
                return Err(Error::config("group name", &g.name, "unique"));
            }
        }
        for w in &self.fit_windows {
            if !(0.0 <= w[0] && w[0] < w[1] && w[1] <= 1.0) {
                return Err(Error::config(
                    "fit window",
                    format!("{w:?}"),
                    "0 <= lo < hi <= 1",
                ));
            }
        }
        let s = &self.sweep;
        if !(s.from > 0.0 && s.from < 1.0 && s.ratio > 1.0 && s.per_decade > 0) {
            return Err(Error::config(
                "sweep",
                format!("{s:?}"),
                "0 < from < 1, ratio > 1, per_decade >= 1",
            ));
        }
        let st = &self.stationarity;
        if !(st.tail > 0.0 && st.tail <= 1.0 && st.level > 0.0 && st.level < 1.0) {
            return Err(Error::config(
                "stationarity",
                format!("{st:?}"),
                "0 < tail <= 1, 0 < level < 1",
            ));
        }
        if !(self.aging.max_lag > 0.0 && self.aging.max_lag < 1.0)
            || self.aging.starts.iter().any(|f| !(0.0..1.0).contains(f))
        {
            return Err(Error::config(
                "aging",
                format!("{:?}", self.aging),
                "0 < max_lag < 1, starts in [0, 1)",
            ));
        }
        let r = &self.rivals;
        if !(r.fit_from > 0.0 && r.fit_from < r.split && r.split < 1.0) {
            return Err(Error::config(
                "rivals",
                format!("fit_from {}, split {}", r.fit_from, r.split),
                "0 < fit_from < split < 1",
            ));
        }
        if r.top == 0 || r.samples == 0 || !(r.alpha > 0.0 && r.alpha < 1.0) {
            return Err(Error::config(
                "rivals",
                format!("top {}, samples {}, alpha {}", r.top, r.samples, r.alpha),
                "top >= 1, samples >= 1, 0 < alpha < 1",
            ));
        }
        self.gamma_law.validate()?;
        if self.min_fit_points < 3 {
            return Err(Error::config(
                "min_fit_points",
                self.min_fit_points,
                "at least 3",
            ));
        }
        Ok(())
    }
}
