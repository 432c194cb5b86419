//! Drift and diffusion of SGD from one initialisation (SPEC 3.1): shared-init ensembles.
//!
//! The Fokker-Planck equation is about the density `p(w, t)` of SGD iterates started from one
//! point `w_0`: its mean `m(t)` is the drift, its covariance `Sigma(t)` the diffusion. A single
//! run's `R(t) = ||w_t - w_0||` mixes the two. This study samples `p(w, t)` directly:
//!
//! 1. [`DriftConfig`]: groups (architecture, optimizer, lr, batch, weight decay, steps), each
//!    trained as `K` initialisations x `S` minibatch streams ([`crate::train::TrainConfig::with_seeds`]:
//!    the init seed fixes `w_0`, the stream seed the noise), plus per initialisation an optional
//!    full-batch gradient-descent twin (batch = the whole training split: the noise-free path);
//!    fit windows, the stationarity test and the aging lags are declared here, before the data.
//! 2. [`runner::train`]: every member of every group in one [`crate::ensemble::run_ensemble`]
//!    (each member exactly `train::run` of its configuration; finished member directories are
//!    reused, interrupted ones resume).
//! 3. [`analysis::analyse`]: reads the members' checkpoints one time point at a time (never all
//!    checkpoints in memory) and gives [`DriftResults`]: per group and time, the drift
//!    `||m(t) - w_0||^2`, the diffusion `tr Sigma(t)` (unbiased, from the `S` streams), the mean
//!    `E||w_t - w_0||^2 = drift + (S-1)/S tr Sigma`, the gap to the GD twin `||m(t) - w_GD(t)||^2`
//!    and the top eigenvalues of `Sigma(t)` (from the `S x S` Gram matrix); the MSD exponent of
//!    `tr Sigma(t)` in the declared windows and against the window start, with intervals that
//!    resample the initialisations; the stationarity of the loss (Mann-Kendall over the last
//!    quarter with an effective sample size) and, where stationary, aging and ergodicity
//!    (time-averaged MSD, the ergodicity-breaking parameter `EB`, the aging slope).
//! 4. [`steady::group_gamma_law`] (called by [`analysis::analyse`]): on the same stationary
//!    stretch, the Gamma law of late losses with the LLC shape fixed before the test (the
//!    sample thinned by the measured loss autocorrelation time, one per initialisation), or
//!    "not testable" with the reason.
//!
//! Directory layout: `OUT/<group>/init-<i>/stream-<j>` and `OUT/<group>/init-<i>/gd`, each a
//! run directory of [`crate::train`]; `ffpe-validate ensemble` writes `OUT/ensemble.json`.

pub mod analysis;
pub mod claims;
pub mod config;
pub mod estimators;
pub mod external;
pub mod metrics;
pub mod rivals;
pub mod runner;
pub mod steady;

pub use analysis::{DriftResults, analyse};
pub use config::{
    AgingConfig, DriftConfig, GroupConfig, RivalConfig, StationarityConfig, SweepConfig,
};
pub use runner::{Member, MemberRole, members, train};

use crate::data::Data;
use crate::error::Result;
use std::path::Path;

/// Train every group of `config` into `out` on `threads` threads and analyse it.
/// `progress(done, total)` as in [`crate::ensemble::run_ensemble`].
pub fn run_study(
    config: &DriftConfig,
    data: &Data,
    out: &Path,
    threads: usize,
    progress: &mut dyn FnMut(u64, u64) -> bool,
) -> Result<DriftResults> {
    let t0 = std::time::Instant::now();
    train(config, data, out, threads, progress)?;
    let train_seconds = t0.elapsed().as_secs_f64();
    let mut r = analyse(config, data, out)?;
    r.train_seconds = train_seconds;
    r.wall_seconds = t0.elapsed().as_secs_f64();
    Ok(r)
}

/// The ensemble study as `reproduce` reports it: the drift/diffusion analysis, the rival
/// predictions scored on held-out steps, and the headline verdicts.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EnsembleStudy {
    /// Drift, diffusion, exponents, stationarity, aging per group.
    pub results: DriftResults,
    /// The rival predictions per group (same order; `null` where they failed, with the reason
    /// in `rival_notes`).
    pub rivals: Vec<Option<rivals::GroupRivals>>,
    /// Why a group's rivals are missing.
    pub rival_notes: Vec<String>,
    /// The headline claims, their rules, evidence and verdicts (Holm over all of them).
    pub verdicts: crate::analysis::verdict_rules::VerdictReport,
}

/// Analyses the trained study in `out` (every stream finished) and adds the rival scores and
/// the headline verdicts.
pub fn analyse_study(config: &DriftConfig, data: &Data, out: &Path) -> Result<EnsembleStudy> {
    let results = analyse(config, data, out)?;
    let ms = members(config, data.train.len(), out)?;
    let mut rivals = vec![];
    let mut rival_notes = vec![];
    for (gi, (g, gr)) in config.groups.iter().zip(&results.groups).enumerate() {
        let mine: Vec<&Member> = ms.iter().filter(|m| m.group == gi).collect();
        match rivals::score_group(
            g,
            gr,
            Some((&mine, data)),
            &config.rivals,
            &config.bootstrap,
        ) {
            Ok(r) => rivals.push(Some(r)),
            Err(e) => {
                rival_notes.push(format!("{}: {e}", g.name));
                rivals.push(None);
            }
        }
    }
    let verdicts = claims::headline_verdicts(&results, &rivals)?;
    Ok(EnsembleStudy {
        results,
        rivals,
        rival_notes,
        verdicts,
    })
}
