//! Sweeps beyond one process: `reproduce --shard i/n`, `merge`, and MPI ranks.
//!
//! The sweep is a list of **work units** ([`work_units`]): today one training run each;
//! a unit may later be a group of runs trained together (an ensemble of seeds of one
//! architecture and optimizer) without changing anything here. Shard `i` of `n` runs
//! the units that [`ffpe::distributed::balanced_assignment`] gives to part `i`
//! (predicted cost: parameters x steps; deterministic, so every shard computes the same
//! split on its own, under any scheduler: a Slurm job array, MPI ranks, separate
//! machines).
//!
//! - [`run_shard`] trains (resumes, reuses) only its units' runs, in the usual layout
//!   `OUT/runs/<id>/`, and writes the manifest `OUT/shards/<preset>-shard-<i>-of-<n>.json`
//!   (which runs it trained or reused); no report.
//! - [`merge`] puts the finished runs of several shard directories into one output
//!   directory (hard links where possible, else copies; nothing when the shards wrote
//!   into that directory) and writes the report from them alone
//!   ([`ReproduceOptions::train_missing`] `= false`): the same results as one process.
//! - `mpirun -np N ffpe-validate reproduce` (cargo feature `mpi`): rank `r` runs shard
//!   `r/N` into the shared output directory, all ranks meet in a gather, and rank 0
//!   merges and writes the report.
//!
//! A killed shard or rank loses at most the runs it was training, each from its last
//! save: rerunning it resumes them (the run directories are written atomically).

use crate::io::write_atomic;
use crate::reproduce::{
    Preset, ReproduceError, ReproduceOptions, is_finished, reproduce, specs, train_specs,
};
use ffpe::distributed::{Assignment, Shard, balanced_assignment};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// A unit of work that one shard or rank runs whole.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WorkUnit {
    /// Run ids (directories under `runs/`) of this unit.
    pub runs: Vec<String>,
    /// Predicted cost: trainable parameters x training steps x minibatch size, summed over the
    /// runs.
    pub cost: u128,
}

/// The work units of a preset's sweep, in sweep order: one per run.
pub fn work_units(p: &Preset) -> Vec<WorkUnit> {
    specs(p)
        .into_iter()
        .map(|s| {
            let params = s.arch.num_params();
            WorkUnit {
                runs: vec![s.id],
                cost: params as u128 * u128::from(p.steps.max(1)) * (s.batch_size.max(1) as u128),
            }
        })
        .collect()
}

/// The assignment of `units` to `count` shards.
pub fn assign(units: &[WorkUnit], count: usize) -> Assignment {
    let costs: Vec<u128> = units.iter().map(|u| u.cost).collect();
    balanced_assignment(&costs, count)
}

/// The run ids of shard `shard`, in sweep order.
pub fn shard_runs(p: &Preset, shard: Shard) -> Vec<String> {
    let units = work_units(p);
    let a = assign(&units, shard.count);
    a.units_of(shard.index)
        .into_iter()
        .flat_map(|u| units[u].runs.clone())
        .collect()
}

/// What one shard did (`OUT/shards/<preset>-shard-<i>-of-<n>.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShardManifest {
    /// Preset name.
    pub preset: String,
    /// The shard.
    pub shard: Shard,
    /// Runs trained (or resumed) by its last invocation.
    pub trained: Vec<String>,
    /// Runs that were already finished and were reused.
    pub reused: Vec<String>,
    /// Wall-clock seconds of its last invocation.
    pub wall_seconds: f64,
}

/// Path of a shard's manifest under an output directory.
pub fn manifest_path(out: &Path, preset: &str, shard: Shard) -> PathBuf {
    out.join("shards").join(format!(
        "{preset}-shard-{}-of-{}.json",
        shard.index, shard.count
    ))
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ReproduceError + '_ {
    move |source| ReproduceError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Trains the runs of `shard` into `opts.out/runs/` (resumable; finished runs are
/// reused) and writes its manifest; no analysis, no report.
pub fn run_shard(opts: &ReproduceOptions, shard: Shard) -> Result<ShardManifest, ReproduceError> {
    let start = Instant::now();
    let p = &opts.preset;
    std::fs::create_dir_all(&opts.out).map_err(io(&opts.out))?;
    let mine = shard_runs(p, shard);
    let todo: Vec<_> = specs(p)
        .into_iter()
        .filter(|s| mine.contains(&s.id))
        .collect();
    let data = crate::reproduce::load_data(p, opts)?;
    let multi = indicatif::MultiProgress::new();
    if !opts.progress {
        multi.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let (mut trained, mut reused) = (Vec::new(), Vec::new());
    for (s, r) in todo.iter().zip(train_specs(opts, &todo, &data, &multi)) {
        let (_, _, done_before) = r?;
        if done_before {
            reused.push(s.id.clone());
        } else {
            trained.push(s.id.clone());
        }
    }
    let manifest = ShardManifest {
        preset: p.name.clone(),
        shard,
        trained,
        reused,
        wall_seconds: start.elapsed().as_secs_f64(),
    };
    let path = manifest_path(&opts.out, &p.name, shard);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let json = serde_json::to_string_pretty(&manifest).map_err(crate::report::ReportError::from)?;
    write_atomic(&path, json.as_bytes())?;
    Ok(manifest)
}

/// Manifests of this preset found in `dir/shards/`.
fn manifests(dir: &Path, preset: &str) -> Vec<ShardManifest> {
    let Ok(entries) = std::fs::read_dir(dir.join("shards")) else {
        return Vec::new();
    };
    let mut out: Vec<ShardManifest> = entries
        .filter_map(|e| {
            let text = std::fs::read_to_string(e.ok()?.path()).ok()?;
            serde_json::from_str::<ShardManifest>(&text).ok()
        })
        .filter(|m| m.preset == preset)
        .collect();
    out.sort_by_key(|m| (m.shard.count, m.shard.index));
    out
}

/// Copies the directory tree `from` to `to` (hard links for files where the file
/// system allows, else copies).
fn copy_tree(from: &Path, to: &Path) -> Result<(), ReproduceError> {
    std::fs::create_dir_all(to).map_err(io(to))?;
    for entry in std::fs::read_dir(from).map_err(io(from))? {
        let entry = entry.map_err(io(from))?;
        let src = entry.path();
        let dst = to.join(entry.file_name());
        if entry.file_type().map_err(io(&src))?.is_dir() {
            copy_tree(&src, &dst)?;
        } else if std::fs::hard_link(&src, &dst).is_err() {
            std::fs::copy(&src, &dst).map_err(io(&src))?;
        }
    }
    Ok(())
}

/// Builds one report in `opts.out` from the finished runs of the shard directories
/// `dirs` (which may include `opts.out` itself): each run of the sweep is taken from
/// the first directory where it is finished and placed into `opts.out/runs/` (whole,
/// atomically: copied beside and renamed); then the report is written from those runs
/// alone. `meta.runs_trained` / `runs_reused` come from the shards' manifests when there
/// are any. Runs finished nowhere are an error ([`ReproduceError::MissingRuns`]).
pub fn merge(
    dirs: &[PathBuf],
    opts: &ReproduceOptions,
) -> Result<crate::report::results::Results, ReproduceError> {
    let p = &opts.preset;
    std::fs::create_dir_all(opts.out.join("runs")).map_err(io(&opts.out))?;
    let mut missing = Vec::new();
    for s in specs(p) {
        if is_finished(opts, &s) {
            continue;
        }
        let source = dirs.iter().find(|d| {
            let o = ReproduceOptions {
                out: (*d).clone(),
                ..opts.clone()
            };
            is_finished(&o, &s)
        });
        let Some(source) = source else {
            missing.push(s.id.clone());
            continue;
        };
        let target = opts.out.join("runs").join(&s.id);
        let partial =
            opts.out
                .join("runs")
                .join(format!(".{}.merging-{}", s.id, std::process::id()));
        if partial.exists() {
            std::fs::remove_dir_all(&partial).map_err(io(&partial))?;
        }
        copy_tree(&source.join("runs").join(&s.id), &partial)?;
        if target.exists() {
            // an unfinished run in the output directory: replaced by the finished one
            std::fs::remove_dir_all(&target).map_err(io(&target))?;
        }
        std::fs::rename(&partial, &target).map_err(io(&target))?;
    }
    if !missing.is_empty() {
        return Err(ReproduceError::MissingRuns(missing));
    }
    // trained = runs that some shard trained in its last invocation
    let mut shard_counts = None;
    let found: Vec<ShardManifest> = dirs
        .iter()
        .chain(std::iter::once(&opts.out))
        .flat_map(|d| manifests(d, &p.name))
        .collect();
    if !found.is_empty() {
        let ids: Vec<String> = specs(p).into_iter().map(|s| s.id).collect();
        let trained = ids
            .iter()
            .filter(|id| found.iter().any(|m| m.trained.contains(id)))
            .count();
        shard_counts = Some((trained, ids.len() - trained));
    }
    let o = ReproduceOptions {
        train_missing: false,
        shard_counts,
        ..opts.clone()
    };
    reproduce(&o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_the_sweep_and_balance_the_cost() {
        for p in [Preset::tiny(), Preset::quick(), Preset::paper()] {
            let units = work_units(&p);
            let all: Vec<String> = units.iter().flat_map(|u| u.runs.clone()).collect();
            for count in [1, 2, 3, 7, 64] {
                let mut seen: Vec<String> = (0..count)
                    .flat_map(|index| shard_runs(&p, Shard { index, count }))
                    .collect();
                seen.sort();
                let mut want = all.clone();
                want.sort();
                assert_eq!(seen, want, "{} / {count}", p.name);
            }
        }
        // paper: 270 runs on 8 shards (5 architectures x 2 optimizers x 20 seeds, 30 more
        // seeds for the histogram, 30 batch-scan runs): LPT balances to within the largest
        // unit over the mean load
        let a = assign(&work_units(&Preset::paper()), 8);
        assert!(a.balance() > 0.95, "{}", a.balance());
    }
}
