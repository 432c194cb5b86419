//! `ffpe-validate reproduce`: the one-command reproduction of the MNIST study.
//!
//! Trains the configured sweep (architectures x seeds x optimizers) with [`crate::train::run`]
//! (LLC estimated during training), analyses every run ([`crate::analysis::run`]), tabulates
//! the reduced loss landscape along the top principal directions of the late-window weights,
//! runs the FFPE comparisons with the core solver ([`crate::analysis::ffpe_predict`]), and
//! writes the report ([`crate::report::write_report`]).
//!
//! Resumable: each run lives in `OUT/runs/<id>/` (training resumes from its last saved state
//! and a finished run is reused as it is), each landscape in `OUT/runs/<id>/landscape.json`
//! (written atomically). Interrupting at any moment (Ctrl-C, kill) leaves only complete
//! files, and rerunning the same command continues where it stopped.
//!
//! ```no_run
//! use ffpe_validation::reproduce::{Preset, ReproduceOptions, reproduce};
//! let opts = ReproduceOptions::new(Preset::quick(), "ffpe-report".into());
//! let results = reproduce(&opts).unwrap();
//! println!("{} claims", results.claims.len());
//! ```

use crate::analysis::ffpe_predict::{
    PredictionInput, ReducedLandscape, predict_normal_crossing, predict_reduced,
    steady_state_comparison,
};
use crate::analysis::pca::principal_directions;
use crate::analysis::results::RunAnalysis;
use crate::analysis::run::{RunAnalysisConfig, RunData, analyse_run};
use crate::analysis::stats::BootstrapConfig;
use crate::analysis::studies;
use crate::data::{Data, DataConfig};
use crate::device::DeviceKind;
use crate::io::{JsonCache, remove_stale_temporaries, write_atomic};
use crate::llc::LlcConfig;
use crate::model::{Arch, read_flat_params};
use crate::optim::{Optimizer, OptimizerKind};
use crate::report::results::{Meta, Results, StudyResults};
use crate::report::{summary::summarize, write_report};
use crate::train::{RunSummary, TrainConfig, checkpoint_path};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Errors of the reproduction.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum ReproduceError {
    /// Training, data or LLC failed.
    #[error(transparent)]
    Train(#[from] crate::error::Error),
    /// Writing the report failed.
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
    /// An analysis step that the reproduction cannot do without failed.
    #[error("analysis: {0}")]
    Analysis(String),
    /// A preset name is unknown.
    #[error("unknown preset {0:?}: allowed are quick, medium, paper, tiny, conv")]
    UnknownPreset(String),
    /// Analysing existing runs only (`merge`, rank 0 under MPI), and some runs of the
    /// sweep are not finished in the output directory.
    #[error(
        "{} run(s) of the sweep are not finished in the output directory (train them with \
         `reproduce --shard i/n` or drop --analyse-only): {}",
        .0.len(), .0.join(", ")
    )]
    MissingRuns(Vec<String>),
    /// File system.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// A bar for a `MultiProgress`: created hidden, so that it never draws on the terminal by
/// itself before `multi.add` gives it the shared target (a bar that drew alone first left a
/// stale line behind on the screen).
fn bar(opts: &ReproduceOptions, len: u64, msg: &str) -> ProgressBar {
    let pb = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::hidden());
    if opts.progress {
        pb.set_style(
            ProgressStyle::with_template(
                "{msg:28} [{elapsed_precise}] {bar:40} {pos}/{len} (eta {eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
    }
    pb.set_message(msg.to_string());
    pb
}

fn ffpe_comparisons(
    a: &mut RunAnalysis,
    d: &RunData,
    land: Option<(&ReducedLandscape, f64)>,
    total_var: f64,
) {
    let (Some(w), Some(g)) = (a.windows.as_ref(), a.gamma_law.as_ref()) else {
        a.notes.push(
            "FFPE comparisons skipped: need the late window and the Gamma-law temperature".into(),
        );
        return;
    };
    let inp = PredictionInput {
        t: &d.t,
        r: &d.r,
        late: w.late,
        lambda_bar: a.lambda_bar,
        temperature: g.scale,
        total_variance: land.map_or(total_var, |l| l.1),
    };
    if let Some((l, _)) = land {
        match predict_reduced(&inp, l) {
            Ok(p) => a.ffpe.predictions.push(p),
            Err(e) => a.notes.push(format!("FFPE reduced landscape: {e}")),
        }
        match steady_state_comparison(l, g.scale) {
            Ok(s) => a.ffpe.steady_state = Some(s),
            Err(e) => a.notes.push(format!("FFPE steady state: {e}")),
        }
    }
    if inp.total_variance.is_finite() && inp.total_variance > 0.0 {
        match predict_normal_crossing(&inp) {
            Ok(p) => a.ffpe.predictions.push(p),
            Err(e) => a.notes.push(format!("FFPE normal crossing: {e}")),
        }
    } else {
        a.notes
            .push("FFPE normal crossing skipped: late-window weight variance unavailable".into());
    }
}

/// Applies `f` to every item on `jobs` worker threads; results in item order.
fn parallel_map<T: Sync, R: Send>(items: &[T], jobs: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let out: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|sc| {
        for _ in 0..jobs.clamp(1, items.len().max(1)) {
            sc.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= items.len() {
                        break;
                    }
                    let r = f(&items[i]);
                    if let Ok(mut o) = out.lock() {
                        o[i] = Some(r);
                    }
                }
            });
        }
    });
    out.into_inner()
        .unwrap_or_default()
        .into_iter()
        .map(|r| r.expect("every item is processed exactly once"))
        .collect()
}

/// Runs the whole reproduction and writes the report into `opts.out`.
pub fn reproduce(opts: &ReproduceOptions) -> Result<Results, ReproduceError> {
    let start = Instant::now();
    let p = &opts.preset;
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| ReproduceError::Io { path, source }
    };
    std::fs::create_dir_all(&opts.out).map_err(io(&opts.out))?;
    // temporaries of writes that a kill interrupted (run directories clean their own)
    remove_stale_temporaries(&opts.out);
    remove_stale_temporaries(&opts.out.join("plots"));
    let data = load_data(p, opts)?;
    let specs = specs(p);
    if !opts.train_missing {
        let missing: Vec<String> = specs
            .iter()
            .filter(|s| !is_finished(opts, s))
            .map(|s| s.id.clone())
            .collect();
        if !missing.is_empty() {
            return Err(ReproduceError::MissingRuns(missing));
        }
    }
    let multi = indicatif::MultiProgress::new();
    if !opts.progress {
        multi.set_draw_target(ProgressDrawTarget::hidden());
    }
    let trained_runs = train_specs(opts, &specs, &data, &multi);
    let mut summaries = Vec::new();
    let (mut trained, mut reused) = (0, 0);
    for r in trained_runs {
        let (dir, sum, done_before) = r?;
        if done_before {
            reused += 1;
        } else {
            trained += 1;
        }
        summaries.push((dir, sum));
    }
    if let Some(counts) = opts.shard_counts {
        (trained, reused) = counts;
    }
    analyse_and_report(
        opts,
        start,
        &specs,
        &summaries,
        &data,
        &multi,
        (trained, reused),
    )
}

/// The data of preset `p`: the bundled digits or `opts.data`, split `n_train`/`n_test`
/// (seed 0); with [`Preset::subsample_given`], sets given in full are cut to that size too.
pub(crate) fn load_data(p: &Preset, opts: &ReproduceOptions) -> Result<Data, ReproduceError> {
    let data = crate::data::load(&DataConfig {
        dir: opts.data.clone(),
        n_train: p.n_train,
        n_test: p.n_test,
        split_seed: 0,
    })?;
    Ok(if p.subsample_given {
        crate::data::subsample(data, p.n_train, p.n_test, 0)?
    } else {
        data
    })
}

/// True when the run of `s` is finished in `opts.out` with the configuration of the preset.
pub(crate) fn is_finished(opts: &ReproduceOptions, s: &RunSpec) -> bool {
    let dir = opts.out.join("runs").join(&s.id);
    let cfg = train_config(&opts.preset, s, opts.device);
    crate::train::load_summary(&dir).is_ok_and(|x| x.finished && x.config == cfg)
}

/// Trains (resumes, or reuses when finished) the runs `specs` in `opts.out/runs/<id>/`
/// on `opts.jobs` threads; per run: its directory, summary and whether it was finished
/// before. No analysis (`ffpe-validate reproduce --shard` stops here).
pub(crate) fn train_specs(
    opts: &ReproduceOptions,
    specs: &[RunSpec],
    data: &Data,
    multi: &indicatif::MultiProgress,
) -> Vec<Result<(PathBuf, RunSummary, bool), ReproduceError>> {
    let p = &opts.preset;
    let overall = multi.add(bar(opts, specs.len() as u64, "training runs"));
    let trained_runs = parallel_map(specs, opts.jobs, |s| {
        let dir = opts.out.join("runs").join(&s.id);
        let cfg = train_config(p, s, opts.device);
        let done_before =
            crate::train::load_summary(&dir).is_ok_and(|x| x.finished && x.config == cfg);
        let pb = multi.add(bar(opts, p.steps, &s.id));
        let sum = crate::train::run(&cfg, data, &dir, &mut |step, _| {
            pb.set_position(step);
            true
        });
        pb.finish_and_clear();
        multi.remove(&pb);
        overall.inc(1);
        sum.map(|x| (dir, x, done_before))
            .map_err(ReproduceError::from)
    });
    overall.finish_and_clear();
    trained_runs
}

/// The analysis and the report of the finished runs `summaries` (one per spec).
fn analyse_and_report(
    opts: &ReproduceOptions,
    start: Instant,
    specs: &[RunSpec],
    summaries: &[(PathBuf, RunSummary)],
    data: &Data,
    multi: &indicatif::MultiProgress,
    (trained, reused): (usize, usize),
) -> Result<Results, ReproduceError> {
    let p = &opts.preset;
    let boot = BootstrapConfig {
        resamples: p.bootstrap_resamples,
        level: 0.95,
        seed: 2025,
    };
    let acfg = RunAnalysisConfig {
        bootstrap: boot,
        ..Default::default()
    };
    let data_runs: Vec<RunData> = specs
        .iter()
        .zip(summaries)
        .map(|(s, (_, sum))| run_data(s, sum))
        .collect();
    let pb = multi.add(bar(opts, specs.len() as u64, "analysis + FFPE fits"));
    // The first `landscape_runs_per_group` seeds of every group get a reduced landscape.
    let work: Vec<(usize, bool)> = specs
        .iter()
        .enumerate()
        .map(|(i, s)| {
            (
                i,
                s.role == Role::Main && (s.seed as usize) < p.landscape_runs_per_group,
            )
        })
        .collect();
    let analyses = parallel_map(&work, opts.jobs, |&(i, wants_landscape)| {
        let (dir, sum) = &summaries[i];
        let d = &data_runs[i];
        let mut a = analyse_run(d, &acfg);
        if let Some(w) = a.windows.clone() {
            let land = if wants_landscape {
                match landscape(dir, sum, w.late, p.landscape_cells, data) {
                    Ok(l) => Some(l),
                    Err(e) => {
                        a.notes.push(format!("reduced landscape: {e}"));
                        None
                    }
                }
            } else {
                None
            };
            let tv = match &land {
                Some(l) => l.1,
                None => late_variance(dir, sum, w.late).unwrap_or(f64::NAN),
            };
            ffpe_comparisons(&mut a, d, land.as_ref().map(|(l, v)| (l, *v)), tv);
        }
        pb.inc(1);
        a
    });
    pb.finish_and_clear();
    let meta = Meta {
        version: env!("CARGO_PKG_VERSION").into(),
        preset: p.name.clone(),
        device: match opts.device {
            DeviceKind::Cpu => "cpu".into(),
            DeviceKind::Cuda(i) => format!("cuda:{i}"),
        },
        data: data.source.clone(),
        architectures: p.architectures.iter().map(Preset::arch_name).collect(),
        optimizers: p.optimizers.clone(),
        seeds: p.seeds,
        steps: p.steps,
        runs_trained: trained,
        runs_reused: reused,
        wall_seconds: start.elapsed().as_secs_f64(),
        bound_threshold_s: crate::analysis::theory::BOUND_S,
        bootstrap_resamples: boot.resamples,
        bootstrap_level: boot.level,
        sgd_lr: p.sgd_lr,
        adam_lr: p.adam_lr,
        momentum: p.momentum,
        weight_decay: p.weight_decay,
        batch_size: p.batch_size,
        paper: crate::report::results::PAPER.into(),
        preset_note: crate::report::results::preset_note(&p.name),
        llc_setting: {
            let c = p.llc_config();
            format!("{}, n_beta {}", c.sampler_setting(), c.nbeta.name())
        },
    };
    // The main sweep's claims use the main runs only (every group the same size); the studies
    // use every run.
    let is_main: Vec<bool> = specs.iter().map(|s| s.role == Role::Main).collect();
    let main_analyses: Vec<RunAnalysis> = analyses
        .iter()
        .zip(&is_main)
        .filter(|(_, m)| **m)
        .map(|(a, _)| a.clone())
        .collect();
    let main_data: Vec<RunData> = data_runs
        .iter()
        .zip(&is_main)
        .filter(|(_, m)| **m)
        .map(|(d, _)| d.clone())
        .collect();
    let mut res = summarize(main_analyses, meta, &boot);
    res.llc_diagnostics = crate::report::results::LlcDiagnosticsSummary::of(
        summaries.iter().flat_map(|(_, s)| s.llc.iter()),
    );
    res.studies = study_results(opts, specs, summaries, &analyses, data, &boot)?;
    let extra = crate::report::claims::study_claims(&res.studies);
    res.claims.extend(extra);
    write_report(&mut res, &main_data, &opts.out)?;
    Ok(res)
}

mod landscape;
mod plan;
mod preset;
mod study;

use landscape::*;
pub use plan::ReproduceOptions;
use plan::*;
pub(crate) use plan::{RunSpec, specs};
use preset::*;
pub use preset::{
    Preset, Studies, conv_ensembles, medium_ensembles, paper_ensembles, quick_ensembles,
    tiny_ensembles,
};
use study::*;
