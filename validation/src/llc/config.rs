//! The LLC estimator's settings: every default of the SGLD estimate lives here
//! ([`LlcConfig::default`]); the command line, the Python bindings and the training runs take
//! theirs from it.

#[allow(unused_imports)]
use super::*;

/// Inverse temperature `n_beta`, and the convention it follows (SPEC section 3). The one type
/// for both: [`crate::analysis::llc_truth`] re-exports it.
///
/// Parsed from (and [`std::fmt::Display`]ed as) `batch`, `dataset` or a positive number.
/// Serialised as before (`"Batch"`, `"Dataset"`, `{"Value": x}`, so that older
/// `summary.json` files still load); the lower-case names are accepted when reading too.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum NBeta {
    /// `B / ln B` with `B` the SGLD batch size (devinterp's default).
    #[serde(alias = "batch")]
    Batch,
    /// `n / ln n` with `n` the training-set size (the paper's).
    #[serde(alias = "dataset")]
    Dataset,
    /// A given value.
    #[serde(alias = "value")]
    Value(f64),
}

impl NBeta {
    /// The names of the two conventions, as accepted by [`std::str::FromStr`].
    pub const NAMES: [&'static str; 2] = ["batch", "dataset"];

    /// The convention's name: `batch`, `dataset`, or `value` for a given number.
    pub fn name(self) -> &'static str {
        match self {
            NBeta::Batch => Self::NAMES[0],
            NBeta::Dataset => Self::NAMES[1],
            NBeta::Value(_) => "value",
        }
    }

    /// The numeric `n_beta`: `B / ln B` for [`NBeta::Batch`], `n / ln n` for
    /// [`NBeta::Dataset`] (`B` the batch size, `n` the training-set size), the number itself
    /// for [`NBeta::Value`].
    ///
    /// Errors: the size used is below 2 (`ln 1 = 0`); a value that is not positive and finite.
    pub fn value(self, batch_size: usize, dataset_size: usize) -> Result<f64> {
        let (flag, k) = match self {
            NBeta::Value(v) if v.is_finite() && v > 0.0 => return Ok(v),
            NBeta::Value(v) => return Err(Error::config("nbeta", v, "a positive finite number")),
            NBeta::Batch => ("batch-size", batch_size),
            NBeta::Dataset => ("data (training-set size)", dataset_size),
        };
        if k < 2 {
            return Err(Error::config(
                flag,
                k,
                "at least 2 for the n_beta convention (ln 1 = 0)",
            ));
        }
        Ok(x_over_ln_x(k))
    }
}

/// `x / ln x`.
pub(super) fn x_over_ln_x(k: usize) -> f64 {
    let k = k as f64;
    k / k.ln()
}

impl std::fmt::Display for NBeta {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NBeta::Value(v) => write!(f, "{v}"),
            _ => f.write_str(self.name()),
        }
    }
}

/// The `n_beta` an estimate used, with its convention and the values of both conventions.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NBetaRecord {
    /// The numeric `n_beta` used.
    pub value: f64,
    /// Its convention: `batch`, `dataset` or `value` (a given number).
    pub convention: String,
    /// `B / ln B` with `B` the batch size used (at most the training-set size).
    pub batch: f64,
    /// `n / ln n` with `n` the training-set size.
    pub dataset: f64,
}

impl NBetaRecord {
    /// The record of `config` on a training set of `n` examples (`NaN` for a convention whose
    /// size is below 2).
    pub fn new(config: &LlcConfig, n: usize) -> NBetaRecord {
        let b = config.batch_size.min(n);
        let conv = |k: usize| if k >= 2 { x_over_ln_x(k) } else { f64::NAN };
        NBetaRecord {
            value: config.nbeta_value(n),
            convention: config.nbeta.name().to_string(),
            batch: conv(b),
            dataset: conv(n),
        }
    }
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

pub(super) const INIT_LOSS_ALLOWED: &str =
    "`full`, `batches:K` with K >= 1, or a finite number >= 0";

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
/// full-data init loss, acceptance measured on every 50th draw step.
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
    /// Metropolis-adjusted acceptance probability ([`crate::analysis::mala`]) of every
    /// `acceptance_every`-th draw step (0: not measured). Each measured step costs two extra
    /// loss-and-gradient evaluations on that step's minibatch (at `w` and at the proposal `w'`),
    /// so the default 50 adds about 4 % to a chain; see [`super::LlcDiagnostics`].
    #[serde(default = "default_acceptance_every")]
    pub acceptance_every: usize,
}

pub(super) fn default_acceptance_every() -> usize {
    50
}

pub(super) fn one() -> usize {
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
            acceptance_every: default_acceptance_every(),
        }
    }
}

impl LlcConfig {
    /// The sampler's setting in words, as the reports print it: "SGLD epsilon E, gamma G, C
    /// chains x D draws after B burn-in steps" (the caller adds the `n_beta`).
    pub fn sampler_setting(&self) -> String {
        format!(
            "SGLD epsilon {}, gamma {}, {} chains x {} draws after {} burn-in steps",
            self.epsilon, self.gamma, self.chains, self.draws, self.burnin
        )
    }

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
