//! Training the ensembles: members, their configurations and directories, one batched run.

use super::config::{DriftConfig, GroupConfig};
use crate::data::Data;
use crate::error::Result;
use crate::llc::LlcConfig;
use crate::train::{RunSummary, TrainConfig};
use std::path::{Path, PathBuf};

/// What a member is within its initialisation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberRole {
    /// Minibatch stream `j` (0-based).
    Stream(usize),
    /// The full-batch gradient-descent twin.
    GdTwin,
}

/// One run of a group.
#[derive(Clone, Debug)]
pub struct Member {
    /// Index of the group in the configuration.
    pub group: usize,
    /// Initialisation index `i` (init seed `first_init_seed + i`).
    pub init: usize,
    /// Stream or GD twin.
    pub role: MemberRole,
    /// Its training configuration.
    pub config: TrainConfig,
    /// Its run directory.
    pub dir: PathBuf,
}

/// The stream seed of stream `j` of initialisation `i`: different for every pair, so no two
/// members of a study share a minibatch order.
pub fn stream_seed(init: usize, stream: usize) -> u64 {
    1 + stream as u64 + 1000 * init as u64
}

/// The training configuration of one member of `g` (`n_train` training images: the GD twin's
/// batch is all of them, in order).
pub fn member_config(
    g: &GroupConfig,
    init: usize,
    role: MemberRole,
    n_train: usize,
) -> Result<TrainConfig> {
    let base = TrainConfig {
        arch: g.arch.clone(),
        optimizer: g.optimizer()?,
        batch_size: g.batch_size,
        steps: g.steps,
        checkpoints_per_decade: g.checkpoints_per_decade,
        checkpoint_every: g.checkpoint_every(),
        late_window: None,
        llc_every: 0,
        llc: LlcConfig::default(),
        threads: 1,
        ..TrainConfig::default()
    };
    let init_seed = g.first_init_seed + init as u64;
    Ok(match role {
        MemberRole::Stream(j) => base.with_seeds(init_seed, stream_seed(init, j)),
        MemberRole::GdTwin => TrainConfig {
            batch_size: n_train,
            steps: g.gd_twin_steps.unwrap_or(g.steps).min(g.steps),
            ..base
        }
        .with_seeds(init_seed, init_seed),
    })
}

/// Every member of every group, in order: group, initialisation, streams then the GD twin.
pub fn members(config: &DriftConfig, n_train: usize, out: &Path) -> Result<Vec<Member>> {
    let mut v = vec![];
    for (gi, g) in config.groups.iter().enumerate() {
        for i in 0..g.inits {
            let roles = (0..g.streams)
                .map(MemberRole::Stream)
                .chain(g.has_twin(i).then_some(MemberRole::GdTwin));
            for role in roles {
                let sub = match role {
                    MemberRole::Stream(j) => format!("stream-{j}"),
                    MemberRole::GdTwin => "gd".to_string(),
                };
                v.push(Member {
                    group: gi,
                    init: i,
                    role,
                    config: member_config(g, i, role, n_train)?,
                    dir: out.join(&g.name).join(format!("init-{i}")).join(sub),
                });
            }
        }
    }
    Ok(v)
}

/// Train every member of `config` into `out` (finished members are reused, interrupted ones
/// resume) on `threads` threads; returns the members and their summaries.
pub fn train(
    config: &DriftConfig,
    data: &Data,
    out: &Path,
    threads: usize,
    progress: &mut dyn FnMut(u64, u64) -> bool,
) -> Result<Vec<(Member, RunSummary)>> {
    config.validate()?;
    let ms = members(config, data.train.len(), out)?;
    let cfgs: Vec<TrainConfig> = ms.iter().map(|m| m.config.clone()).collect();
    let dirs: Vec<PathBuf> = ms.iter().map(|m| m.dir.clone()).collect();
    let sums = crate::ensemble::run_ensemble(&cfgs, data, &dirs, threads, progress)?;
    Ok(ms.into_iter().zip(sums).collect())
}
