//! Ensembles: many training runs (seeds, learning rates, batch sizes) advanced side by side.
//!
//! [`run_ensemble`] trains `S` members, each a [`TrainConfig`] with its own run directory.
//! Every member's computation is exactly that of [`crate::train::run`] with its configuration:
//! the same kernels, the same minibatch and SGLD streams, the same records and files, written at
//! the same steps. So each member's directory is byte for byte what `train::run` writes
//! (`summary.json` aside, which holds timings), and it resumes the same way: after an
//! interruption, rerunning the ensemble (or `train::run` on one member) continues every member
//! from its last save with results identical to an uninterrupted run.
//!
//! How it is batched. On the CPU the members are spread over `threads` threads, each member
//! running one thread's worth of work (its minibatch halves one after the other), instead of
//! splitting every minibatch of one run over the threads: the members share nothing but the
//! data, so the threads never wait on each other within a step and two threads give about two
//! members' speed. The `S` members are held as `S` blocks of weights (the CPU kernels of
//! [`crate::mlp_cpu`] on each), not as one `[S, out, in]` tensor: on the CPU a batched matrix
//! product is a loop of `S` products anyway, and separate blocks keep each member's arithmetic
//! identical to a run of that member alone. Members advance in windows of [`WINDOW`] steps (a
//! member's working set stays in cache for a window; windows end at multiples of `WINDOW`); the LLC estimates of a member run on the
//! member's thread, so the ensemble's SGLD chains are spread over the threads as well.
//! Members on a device other than the CPU advance one after the other on the calling thread.
//!
//! ```
//! use ffpe_validation::{data, ensemble, train::{self, TrainConfig}};
//! let d = data::load(&data::DataConfig::default()).unwrap();
//! let base = TrainConfig { arch: "784-8-10".parse().unwrap(), steps: 20, llc_every: 0,
//!                          ..TrainConfig::default() };
//! let cfgs: Vec<TrainConfig> = (0..3).map(|seed| TrainConfig { seed, ..base.clone() }).collect();
//! let root = tempfile::tempdir().unwrap();
//! let dirs: Vec<_> = (0..3).map(|k| root.path().join(format!("s{k}"))).collect();
//! let runs = ensemble::run_ensemble(&cfgs, &d, &dirs, 2, &mut |_, _| true).unwrap();
//! assert!(runs.iter().all(|r| r.finished));
//! // member 1 is exactly the run of seed 1 alone
//! let alone = tempfile::tempdir().unwrap();
//! let one = train::run(&cfgs[1], &d, alone.path(), &mut |_, _| true).unwrap();
//! assert_eq!(one.checkpoints, runs[1].checkpoints);
//! ```

use crate::data::Data;
use crate::error::{Error, Result};
use crate::train::{RunSummary, Runner, TrainConfig};
use rayon::prelude::*;
use std::path::PathBuf;

/// Steps every member advances between two calls of the progress callback.
pub const WINDOW: u64 = 25;

/// Train the members `configs[k]` in the run directories `dirs[k]` (created if needed; one per
/// member, all different) on `data`, spread over `threads` threads; returns the members'
/// summaries in order.
///
/// Each member is exactly [`crate::train::run`] of its configuration (see the module docs):
/// finished members return at once, interrupted ones continue from their resume files, a
/// directory holding another configuration is an error. `progress(done, total)` is called after
/// every window with the updates done and to do, summed over the members; returning `false`
/// stops every member at once *without saving* (like a kill; those summaries have
/// `finished == false`).
pub fn run_ensemble(
    configs: &[TrainConfig],
    data: &Data,
    dirs: &[PathBuf],
    threads: usize,
    progress: &mut dyn FnMut(u64, u64) -> bool,
) -> Result<Vec<RunSummary>> {
    if configs.is_empty() {
        return Err(Error::config("configs", 0, "at least one member"));
    }
    if dirs.len() != configs.len() {
        return Err(Error::config(
            "dirs",
            dirs.len(),
            format!("one run directory per member ({})", configs.len()),
        ));
    }
    if threads == 0 {
        return Err(Error::config("threads", 0, "at least 1"));
    }
    for (k, c) in configs.iter().enumerate() {
        c.validate().map_err(|e| member_error(k, e))?;
    }
    let mut seen = std::collections::BTreeMap::new();
    for (k, d) in dirs.iter().enumerate() {
        std::fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
        let canon = d.canonicalize().map_err(|e| Error::io(d, e))?;
        if let Some(j) = seen.insert(canon, k) {
            return Err(Error::config(
                "dirs",
                d.display(),
                format!("a directory of its own (members {j} and {k} share it)"),
            ));
        }
    }
    let cpu = configs
        .iter()
        .all(|c| c.device.device().is_ok_and(|d| d.is_cpu()));
    let threads = if cpu { threads.min(configs.len()) } else { 1 };
    let pool = if threads >= 2 {
        Some(
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .map_err(|e| Error::Device {
                    device: "cpu".into(),
                    what: format!("cannot start {threads} ensemble threads: {e}"),
                })?,
        )
    } else {
        None
    };
    let on_pool = |f: &mut (dyn FnMut() + Send)| match &pool {
        Some(p) => p.install(f),
        None => f(),
    };
    let mut opened: Vec<Result<Runner>> = vec![];
    on_pool(&mut || {
        opened = configs
            .par_iter()
            .zip(dirs)
            .with_max_len(1)
            .map(|(c, d)| Runner::open(c, data, d))
            .collect();
    });
    let mut runners = opened
        .into_iter()
        .enumerate()
        .map(|(k, r)| r.map_err(|e| member_error(k, e)))
        .collect::<Result<Vec<_>>>()?;
    let total: u64 = configs.iter().map(|c| c.steps).sum();
    while runners.iter().any(|r| !r.done()) {
        // Windows end at multiples of WINDOW, wherever the members resumed.
        let behind = runners
            .iter()
            .filter(|r| !r.done())
            .map(|r| r.steps_done())
            .min()
            .unwrap_or(0);
        let clock = (behind / WINDOW + 1) * WINDOW;
        let mut results: Vec<Result<()>> = vec![];
        on_pool(&mut || {
            results = runners
                .par_iter_mut()
                .with_max_len(1)
                .map(|r| {
                    while !r.done() && r.steps_done() < clock {
                        r.step(data)?;
                    }
                    Ok(())
                })
                .collect();
        });
        for (k, r) in results.into_iter().enumerate() {
            r.map_err(|e| member_error(k, e))?;
        }
        let done: u64 = runners.iter().map(|r| r.steps_done()).sum();
        if !progress(done, total) {
            return Ok(runners.iter().map(|r| r.summary().clone()).collect());
        }
    }
    Ok(runners.into_iter().map(Runner::finish).collect())
}

/// `e` with the member it happened in.
fn member_error(k: usize, e: Error) -> Error {
    Error::Member {
        member: k,
        source: Box::new(e),
    }
}
