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
use crate::analysis::run::{RunAnalysisConfig, RunData, analyse_run};
use crate::analysis::stats::BootstrapConfig;
use crate::analysis::studies::{self, StudyResults};
use crate::data::{Data, DataConfig};
use crate::device::DeviceKind;
use crate::llc::LlcConfig;
use crate::model::{Arch, read_flat_params};
use crate::report::results::{Meta, Results, RunAnalysis};
use crate::report::{summary::summarize, write_atomic, write_report};
use crate::train::{Optimizer, RunSummary, TrainConfig, checkpoint_path};
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
    #[error("unknown preset {0:?}: allowed are quick, medium, paper, tiny")]
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

/// A sweep and its analysis settings.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Preset {
    /// Name (`quick`, `paper`, `tiny`).
    pub name: String,
    /// Layer widths of each architecture (input 784, output 10).
    pub architectures: Vec<Vec<usize>>,
    /// Seeds per (architecture, optimizer).
    pub seeds: usize,
    /// Optimizers (`sgd`, `adam`).
    pub optimizers: Vec<String>,
    /// Training steps per run.
    pub steps: u64,
    /// SGD learning rate.
    pub sgd_lr: f64,
    /// Adam learning rate.
    pub adam_lr: f64,
    /// Minibatch size.
    pub batch_size: usize,
    /// Checkpoints per decade of steps.
    pub checkpoints_per_decade: u32,
    /// LLC every this many steps.
    pub llc_every: u64,
    /// SGLD chains per LLC estimate.
    pub llc_chains: usize,
    /// SGLD draws per chain.
    pub llc_draws: usize,
    /// Training images (bundled data: seeded split).
    pub n_train: usize,
    /// Test images.
    pub n_test: usize,
    /// Cells per axis of the reduced landscape grid.
    pub landscape_cells: usize,
    /// Runs per (architecture, optimizer) that get a reduced landscape.
    pub landscape_runs_per_group: usize,
    /// Bootstrap resamples.
    pub bootstrap_resamples: usize,
    /// Studies beyond the main sweep (Figure 4 seeds, batch-size scan, LLC scale scan).
    #[serde(default)]
    pub studies: Studies,
}

/// The studies of a preset beyond the main sweep. Each is off when its size is 0 /
/// its list is empty. They all use the first architecture with SGD at the preset's settings,
/// so that their runs with the main sweep's settings *are* main-sweep runs (reused, not
/// retrained).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Studies {
    /// Seeds of the first architecture with SGD for the exponent histogram (Figure 4 of the
    /// paper); seeds beyond the main sweep's are extra runs, analysed but kept out of the main
    /// sweep's claims so that every group has the same number of runs.
    pub histogram_seeds: usize,
    /// Minibatch sizes of the batch-size scan (SGD at the preset's learning rate and steps).
    pub batch_sizes: Vec<usize>,
    /// Seeds per batch size.
    pub batch_seeds: usize,
    /// Factors applied to the SGLD step size `epsilon` and, separately, to the localisation
    /// `gamma` in the LLC scale scan (1 is the preset's setting).
    pub llc_scale_factors: Vec<f64>,
    /// Main-sweep runs (first architecture, SGD, seeds 0..) whose final weights get the scale
    /// scan.
    pub llc_scale_runs: usize,
    /// The Moons posterior test ([`crate::moons`]), `None`: not run.
    #[serde(default)]
    pub moons: Option<crate::moons::MoonsConfig>,
}

/// What a run is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// The main sweep (architectures x optimizers x seeds): every claim of the main report.
    Main,
    /// An extra seed of the exponent histogram.
    Histogram,
    /// A run of the batch-size scan with a batch size other than the preset's.
    BatchScan,
}

impl Preset {
    /// The quick preset: 2 architectures x 3 seeds x SGD and Adam at the study's settings
    /// (SGD lr 0.001, batch 256, no momentum or weight decay; Adam lr 0.001), 10,000 steps,
    /// small nets; finishes within 10 minutes on a 2-core CPU. A smoke run: at 10,000 steps
    /// the SGD runs are still ballistic, so its verdicts are not the study's result (the
    /// committed medium report is).
    pub fn quick() -> Self {
        Self {
            name: "quick".into(),
            architectures: vec![vec![784, 32, 10], vec![784, 64, 32, 10]],
            seeds: 3,
            optimizers: vec!["sgd".into(), "adam".into()],
            steps: 10_000,
            sgd_lr: 0.001,
            adam_lr: 0.001,
            batch_size: 256,
            checkpoints_per_decade: 40,
            llc_every: 100,
            llc_chains: 2,
            llc_draws: 50,
            n_train: 8000,
            n_test: 2000,
            landscape_cells: 15,
            landscape_runs_per_group: 3,
            bootstrap_resamples: 1000,
            studies: Studies::default(),
        }
    }

    /// The medium preset: 3 architectures x 10 seeds x SGD and Adam at the study's
    /// settings (SGD lr 0.001, batch 256, no momentum or weight decay; Adam lr 0.001),
    /// 40,000 steps, plus 50 seeds of 784-32-10 with SGD for the exponent histogram, a
    /// batch-size scan (16, 64, 256, 1024; 5 seeds) and an LLC scale scan. Sized for <= 60
    /// minutes on a 2-core CPU (the committed report under `validation/results/` states the
    /// measured wall time and peak memory).
    pub fn medium() -> Self {
        Self {
            name: "medium".into(),
            architectures: vec![vec![784, 32, 10], vec![784, 64, 32, 10], vec![784, 128, 10]],
            seeds: 10,
            optimizers: vec!["sgd".into(), "adam".into()],
            steps: MEDIUM_STEPS,
            sgd_lr: 0.001,
            adam_lr: 0.001,
            batch_size: 256,
            checkpoints_per_decade: 20,
            llc_every: 100,
            llc_chains: 2,
            llc_draws: 100,
            n_train: 8000,
            n_test: 2000,
            landscape_cells: 15,
            landscape_runs_per_group: 2,
            bootstrap_resamples: 1000,
            studies: Studies {
                histogram_seeds: 50,
                batch_sizes: vec![16, 64, 256, 1024],
                batch_seeds: 5,
                llc_scale_factors: vec![0.25, 1.0, 4.0],
                llc_scale_runs: 3,
                moons: Some(crate::moons::MoonsConfig::default()),
            },
        }
    }

    /// The paper preset: 5 architectures x 20 seeds x SGD and Adam, the study's SGD
    /// (lr 0.001, batch 256), 100,000 steps, LLC every 500 steps (2 chains x 200 draws),
    /// 20 checkpoints per decade (about 20 GB of checkpoints in all). Sized for one GPU;
    /// on a 2-core CPU about 11 hours, modelled from measured parts
    /// (`validation/scripts/paper_cpu_cost.py`, BENCHMARKS.md).
    pub fn paper() -> Self {
        Self {
            name: "paper".into(),
            architectures: vec![
                vec![784, 128, 10],
                vec![784, 256, 10],
                vec![784, 128, 128, 10],
                vec![784, 256, 256, 10],
                vec![784, 512, 256, 128, 10],
            ],
            seeds: 20,
            optimizers: vec!["sgd".into(), "adam".into()],
            steps: 100_000,
            sgd_lr: 0.001,
            adam_lr: 0.001,
            batch_size: 256,
            checkpoints_per_decade: 20,
            llc_every: 500,
            llc_chains: 2,
            llc_draws: 200,
            n_train: 8000,
            n_test: 2000,
            landscape_cells: 25,
            landscape_runs_per_group: 2,
            bootstrap_resamples: 2000,
            studies: Studies {
                histogram_seeds: 50,
                batch_sizes: vec![16, 64, 256, 1024],
                batch_seeds: 10,
                llc_scale_factors: vec![0.25, 1.0, 4.0],
                llc_scale_runs: 5,
                moons: Some(crate::moons::MoonsConfig::default()),
            },
        }
    }

    /// A tiny preset for tests (seconds): one small architecture, 2 seeds x SGD and Adam,
    /// 300 steps on 1000 training images.
    pub fn tiny() -> Self {
        Self {
            name: "tiny".into(),
            architectures: vec![vec![784, 8, 10]],
            seeds: 2,
            optimizers: vec!["sgd".into(), "adam".into()],
            steps: 300,
            sgd_lr: 0.05,
            adam_lr: 0.003,
            batch_size: 64,
            checkpoints_per_decade: 30,
            llc_every: 25,
            llc_chains: 1,
            llc_draws: 20,
            n_train: 1000,
            n_test: 500,
            landscape_cells: 9,
            landscape_runs_per_group: 1,
            bootstrap_resamples: 200,
            studies: Studies {
                histogram_seeds: 3,
                batch_sizes: vec![16, 64],
                batch_seeds: 1,
                llc_scale_factors: vec![0.5, 1.0],
                llc_scale_runs: 1,
                // the Moons test has its own tests (tests/moons.rs); here it would add ~10 s
                moons: None,
            },
        }
    }

    /// A preset by name.
    pub fn by_name(name: &str) -> Result<Self, ReproduceError> {
        match name {
            "quick" => Ok(Self::quick()),
            "medium" => Ok(Self::medium()),
            "paper" => Ok(Self::paper()),
            "tiny" => Ok(Self::tiny()),
            other => Err(ReproduceError::UnknownPreset(other.into())),
        }
    }

    fn arch_name(w: &[usize]) -> String {
        w.iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join("-")
    }
}

/// Options of one invocation.
#[derive(Clone, Debug)]
pub struct ReproduceOptions {
    /// The sweep.
    pub preset: Preset,
    /// Device for training.
    pub device: DeviceKind,
    /// Output directory.
    pub out: PathBuf,
    /// Data directory (`None`: the bundled MNIST subset).
    pub data: Option<PathBuf>,
    /// Show progress bars.
    pub progress: bool,
    /// Runs trained (and analysed) concurrently; each run is sequential inside, so with
    /// `RAYON_NUM_THREADS=1` two jobs use two cores far better than one job with two threads
    /// for these small networks.
    pub jobs: usize,
    /// Train runs that are not finished (default true). `false`: analyse only the runs
    /// already finished in `out` and fail with [`ReproduceError::MissingRuns`] otherwise
    /// (`ffpe-validate merge`, rank 0 under MPI: the shards trained them).
    pub train_missing: bool,
    /// Runs trained and reused by the invocations that trained them (the shards), for
    /// `meta.runs_trained` / `meta.runs_reused` of a merged report; `None`: this
    /// invocation's own counts.
    pub shard_counts: Option<(usize, usize)>,
}

impl ReproduceOptions {
    /// CPU, bundled data, progress bars on.
    pub fn new(preset: Preset, out: PathBuf) -> Self {
        Self {
            preset,
            device: DeviceKind::Cpu,
            out,
            data: None,
            progress: true,
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            train_missing: true,
            shard_counts: None,
        }
    }
}

pub(crate) struct RunSpec {
    pub(crate) id: String,
    pub(crate) arch: Vec<usize>,
    pub(crate) optimizer: String,
    pub(crate) seed: u64,
    pub(crate) batch_size: usize,
    pub(crate) role: Role,
}

/// Every run of the preset: the main sweep first (architecture, optimizer, seed), then the
/// histogram's extra seeds, then the batch-size scan's runs at other batch sizes. A study run
/// with the main sweep's settings is the main-sweep run (not listed twice).
pub(crate) fn specs(p: &Preset) -> Vec<RunSpec> {
    let mut v = Vec::new();
    for a in &p.architectures {
        for o in &p.optimizers {
            for s in 0..p.seeds as u64 {
                v.push(RunSpec {
                    id: format!("{}_{}_s{}", Preset::arch_name(a), o, s),
                    arch: a.clone(),
                    optimizer: o.clone(),
                    seed: s,
                    batch_size: p.batch_size,
                    role: Role::Main,
                });
            }
        }
    }
    let Some(a0) = p.architectures.first() else {
        return v;
    };
    let st = &p.studies;
    let sgd_main = p.optimizers.iter().any(|o| o == "sgd");
    for s in 0..st.histogram_seeds as u64 {
        if sgd_main && (s as usize) < p.seeds {
            continue;
        }
        v.push(RunSpec {
            id: format!("{}_sgd_s{}", Preset::arch_name(a0), s),
            arch: a0.clone(),
            optimizer: "sgd".into(),
            seed: s,
            batch_size: p.batch_size,
            role: Role::Histogram,
        });
    }
    for &b in &st.batch_sizes {
        for s in 0..st.batch_seeds as u64 {
            if b == p.batch_size
                && ((sgd_main && (s as usize) < p.seeds) || (s as usize) < st.histogram_seeds)
            {
                continue;
            }
            v.push(RunSpec {
                id: if b == p.batch_size {
                    format!("{}_sgd_s{}", Preset::arch_name(a0), s)
                } else {
                    format!("{}_sgd_b{}_s{}", Preset::arch_name(a0), b, s)
                },
                arch: a0.clone(),
                optimizer: "sgd".into(),
                seed: s,
                batch_size: b,
                role: Role::BatchScan,
            });
        }
    }
    v
}

fn train_config(p: &Preset, s: &RunSpec, device: DeviceKind) -> TrainConfig {
    let optimizer = if s.optimizer == "adam" {
        Optimizer::adam(p.adam_lr)
    } else {
        Optimizer::sgd(p.sgd_lr)
    };
    TrainConfig {
        arch: Arch {
            widths: s.arch.clone(),
            batchnorm: false,
        },
        optimizer,
        batch_size: s.batch_size,
        steps: p.steps,
        seed: s.seed,
        checkpoints_per_decade: p.checkpoints_per_decade,
        late_window: None,
        llc_every: p.llc_every,
        llc_schedule: Default::default(),
        llc: LlcConfig {
            chains: p.llc_chains,
            draws: p.llc_draws,
            seed: s.seed,
            ..LlcConfig::default()
        },
        resume_every: (p.steps / 10).max(1),
        device,
        threads: 1,
        input_layer: Default::default(),
    }
}

fn run_data(s: &RunSpec, sum: &RunSummary) -> RunData {
    let ck: Vec<_> = sum.checkpoints.iter().filter(|c| c.step > 0).collect();
    let last = sum.checkpoints.last();
    RunData {
        id: s.id.clone(),
        arch: Preset::arch_name(&s.arch),
        optimizer: s.optimizer.clone(),
        seed: s.seed,
        n_params: sum.config.arch.num_params(),
        steps: sum.steps_done,
        t: ck.iter().map(|c| c.step as f64).collect(),
        r: ck.iter().map(|c| c.r).collect(),
        train_loss: ck.iter().map(|c| c.train_loss).collect(),
        llc_t: sum.llc.iter().map(|l| l.step as f64).collect(),
        llc: sum.llc.iter().map(|l| l.llc_mean).collect(),
        test_accuracy: last.map_or(f64::NAN, |c| 100.0 * c.test_accuracy),
        test_loss: last.map_or(f64::NAN, |c| c.test_loss),
    }
}

fn bar(opts: &ReproduceOptions, len: u64, msg: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    if opts.progress {
        pb.set_style(
            ProgressStyle::with_template(
                "{msg:28} [{elapsed_precise}] {bar:40} {pos}/{len} (eta {eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
    } else {
        pb.set_draw_target(ProgressDrawTarget::hidden());
    }
    pb.set_message(msg.to_string());
    pb
}

/// Tabulates the reduced landscape of one run (or loads it from `landscape.json`).
fn landscape(
    run_dir: &Path,
    sum: &RunSummary,
    late: (f64, f64),
    cells: usize,
    data: &Data,
) -> Result<(ReducedLandscape, f64), ReproduceError> {
    let cache = run_dir.join("landscape.json");
    if let Ok(s) = std::fs::read_to_string(&cache)
        && let Ok(v) = serde_json::from_str::<(ReducedLandscape, f64, (f64, f64))>(&s)
        && v.2 == late
    {
        return Ok((v.0, v.1));
    }
    let steps: Vec<u64> = sum
        .checkpoints
        .iter()
        .map(|c| c.step)
        .filter(|&t| t as f64 >= late.0 && t as f64 <= late.1)
        .collect();
    let mut snaps = Vec::with_capacity(steps.len());
    let mut arch = sum.config.arch.clone();
    for &t in &steps {
        let (a, w) = read_flat_params(&checkpoint_path(run_dir, t))?;
        arch = a;
        snaps.push(w.iter().map(|&x| x as f64).collect::<Vec<f64>>());
    }
    let pc = principal_directions(&snaps, 2)
        .map_err(|e| ReproduceError::Analysis(format!("late-window snapshots: {e}")))?;
    let total_var: f64 = {
        let m = snaps.len() as f64;
        snaps
            .iter()
            .map(|s| {
                s.iter()
                    .zip(&pc.mean)
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum::<f64>()
            })
            .sum::<f64>()
            / (m - 1.0)
    };
    let unit = pc.variances[0].sqrt().max(1e-12);
    let ndir = pc.directions.len();
    let coords: Vec<Vec<f64>> = pc
        .projections
        .iter()
        .map(|p| p.iter().map(|x| x / unit).collect())
        .collect();
    let mut lower = Vec::new();
    let mut upper = Vec::new();
    for k in 0..ndir {
        let m = coords
            .iter()
            .map(|c| c[k].abs())
            .fold(0.0, f64::max)
            .max(1.0)
            * 1.5;
        lower.push(-m);
        upper.push(m);
    }
    let cell_counts = vec![cells; ndir];
    let total: usize = cell_counts.iter().product();
    let mut loss = Vec::with_capacity(total);
    let mut w = vec![0f32; pc.mean.len()];
    for idx in 0..total {
        let mut rem = idx;
        let mut x = pc.mean.clone();
        for k in 0..ndir {
            let i = rem % cells;
            rem /= cells;
            let h = (upper[k] - lower[k]) / cells as f64;
            let c = (lower[k] + (i as f64 + 0.5) * h) * unit;
            for (xj, uj) in x.iter_mut().zip(&pc.directions[k]) {
                *xj += c * uj;
            }
        }
        for (wj, xj) in w.iter_mut().zip(&x) {
            *wj = *xj as f32;
        }
        loss.push(crate::train::loss_at(&arch, &w, None, &data.train)?);
    }
    let land = ReducedLandscape {
        lower,
        upper,
        cells: cell_counts,
        loss,
        unit,
        start: coords[0].clone(),
        projections: coords,
        explained: pc.explained.iter().sum(),
    };
    let json = serde_json::to_string(&(&land, total_var, late))
        .map_err(crate::report::ReportError::from)?;
    write_atomic(&cache, json.as_bytes())?;
    Ok((land, total_var))
}

/// Total variance of the late-window weights (for the normal-crossing model), from the
/// checkpoints.
fn late_variance(
    run_dir: &Path,
    sum: &RunSummary,
    late: (f64, f64),
) -> Result<f64, ReproduceError> {
    let mut snaps: Vec<Vec<f32>> = Vec::new();
    for c in &sum.checkpoints {
        let t = c.step as f64;
        if t >= late.0 && t <= late.1 {
            snaps.push(read_flat_params(&checkpoint_path(run_dir, c.step))?.1);
        }
    }
    let m = snaps.len();
    if m < 2 {
        return Ok(f64::NAN);
    }
    let p = snaps[0].len();
    let mut mean = vec![0f64; p];
    for s in &snaps {
        for (a, b) in mean.iter_mut().zip(s) {
            *a += *b as f64 / m as f64;
        }
    }
    Ok(snaps
        .iter()
        .map(|s| {
            s.iter()
                .zip(&mean)
                .map(|(a, b)| (*a as f64 - b).powi(2))
                .sum::<f64>()
        })
        .sum::<f64>()
        / (m - 1) as f64)
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

/// Steps of every run of the medium preset.
const MEDIUM_STEPS: u64 = 40_000;

/// Runs the whole reproduction and writes the report into `opts.out`.
pub fn reproduce(opts: &ReproduceOptions) -> Result<Results, ReproduceError> {
    let start = Instant::now();
    let p = &opts.preset;
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| ReproduceError::Io { path, source }
    };
    std::fs::create_dir_all(&opts.out).map_err(io(&opts.out))?;
    let data = crate::data::load(&DataConfig {
        dir: opts.data.clone(),
        n_train: p.n_train,
        n_test: p.n_test,
        split_seed: 0,
    })?;
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
        architectures: p
            .architectures
            .iter()
            .map(|a| Preset::arch_name(a))
            .collect(),
        optimizers: p.optimizers.clone(),
        seeds: p.seeds,
        steps: p.steps,
        runs_trained: trained,
        runs_reused: reused,
        wall_seconds: start.elapsed().as_secs_f64(),
        bound_threshold_s: 0.5,
        bootstrap_resamples: boot.resamples,
        bootstrap_level: boot.level,
        sgd_lr: p.sgd_lr,
        adam_lr: p.adam_lr,
        batch_size: p.batch_size,
        paper: crate::report::results::PAPER.into(),
        preset_note: crate::report::results::preset_note(&p.name),
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
    res.studies = study_results(opts, specs, summaries, &analyses, data, &boot)?;
    let extra = crate::report::summary::study_claims(&res.studies);
    res.claims.extend(extra);
    write_report(&mut res, &main_data, &opts.out)?;
    Ok(res)
}

/// The studies of the preset from every run's analysis and summary.
fn study_results(
    opts: &ReproduceOptions,
    specs: &[RunSpec],
    summaries: &[(PathBuf, RunSummary)],
    analyses: &[RunAnalysis],
    data: &Data,
    boot: &BootstrapConfig,
) -> Result<StudyResults, ReproduceError> {
    let p = &opts.preset;
    let st = &p.studies;
    let mut out = StudyResults::default();
    let Some(a0) = p.architectures.first().map(|a| Preset::arch_name(a)) else {
        return Ok(out);
    };
    // The studies' runs: the first architecture with SGD.
    let a0_sgd = |s: &RunSpec| Preset::arch_name(&s.arch) == a0 && s.optimizer == "sgd";
    let late_s = |a: &RunAnalysis| {
        a.late_fit
            .as_ref()
            .map_or(f64::NAN, |f| f.displacement_exponent)
    };
    // Figure 4: every seed of the first architecture with SGD at the preset's batch size.
    if st.histogram_seeds > 0 {
        let pick: Vec<&RunAnalysis> = specs
            .iter()
            .zip(analyses)
            .filter(|(s, _)| {
                a0_sgd(s)
                    && s.batch_size == p.batch_size
                    && (s.seed as usize) < st.histogram_seeds.max(p.seeds)
                    && s.role != Role::BatchScan
            })
            .map(|(_, a)| a)
            .filter(|a| a.late_fit.is_some())
            .collect();
        let sv: Vec<f64> = pick.iter().map(|a| late_s(a)).collect();
        let dl: Vec<(f64, f64)> = pick
            .iter()
            .filter_map(|a| {
                a.theory
                    .as_ref()
                    .map(|t| (t.spectral_dimension, a.final_llc))
            })
            .collect();
        out.exponents = Some(studies::exponent_study(&a0, "sgd", &sv, &dl, boot));
    }
    // Figure 5a: the main sweep by architecture and optimizer.
    for o in &p.optimizers {
        let mut groups = Vec::new();
        for a in &p.architectures {
            let name = Preset::arch_name(a);
            let runs: Vec<&RunAnalysis> = specs
                .iter()
                .zip(analyses)
                .filter(|(s, r)| s.role == Role::Main && r.arch == name && &r.optimizer == o)
                .map(|(_, r)| r)
                .collect();
            if runs.is_empty() {
                continue;
            }
            let llc: Vec<f64> = runs.iter().map(|r| r.final_llc).collect();
            let err: Vec<f64> = runs.iter().map(|r| 100.0 - r.test_accuracy).collect();
            let s: Vec<f64> = runs.iter().map(|r| late_s(r)).collect();
            groups.push(
                llc.iter()
                    .copied()
                    .zip(err.iter().copied())
                    .collect::<Vec<_>>(),
            );
            out.architectures.push(studies::ArchitectureRow {
                arch: name,
                optimizer: o.clone(),
                n_params: runs[0].n_params,
                llc: studies::mean_ci(&llc, boot),
                test_error: studies::mean_ci(&err, boot),
                late_s: studies::mean_ci(&s, boot),
            });
        }
        out.architecture_correlation
            .push((o.clone(), studies::grouped_correlation(&groups, boot)));
    }
    // The batch-size scan: SGD on the first architecture, seeds 0..batch_seeds per size.
    for &b in &st.batch_sizes {
        let idx: Vec<usize> = specs
            .iter()
            .enumerate()
            .filter(|(_, s)| a0_sgd(s) && s.batch_size == b && (s.seed as usize) < st.batch_seeds)
            .map(|(i, _)| i)
            .collect();
        if idx.is_empty() {
            continue;
        }
        // With n % b != 0 the last minibatch of every epoch is smaller (PyTorch's
        // drop_last = false) and its jump is larger: at b = 256 and n = 8000 that is every 32nd
        // step, inside the top 5 % the Hill estimator uses. Those steps are not batch-b SGD and
        // are left out.
        let n = data.train.len();
        let per_epoch = n.div_ceil(b.max(1)) as u64;
        let partial = !n.is_multiple_of(b.max(1));
        let mut excluded = 0;
        let hills: Vec<Option<studies::HillEstimate>> = idx
            .iter()
            .map(|&i| {
                let j: Vec<f64> = summaries[i]
                    .1
                    .jumps
                    .iter()
                    .filter(|x| {
                        let last = partial && x.0 % per_epoch == per_epoch - 1;
                        excluded += usize::from(last);
                        !last
                    })
                    .map(|x| x.1)
                    .collect();
                studies::hill(&j)
            })
            .collect();
        let alphas: Vec<f64> = hills.iter().flatten().map(|h| h.alpha).collect();
        let s: Vec<f64> = idx.iter().map(|&i| late_s(&analyses[i])).collect();
        let sf: Vec<f64> = s.iter().copied().filter(|x| x.is_finite()).collect();
        out.batch_scan.push(studies::BatchRow {
            batch_size: b,
            runs: idx.len(),
            partial_batch_jumps_excluded: excluded,
            hill_per_run: hills,
            hill_alpha: studies::mean_ci(&alphas, boot),
            late_s: studies::mean_ci(&s, boot),
            fraction_subdiffusive: (!sf.is_empty())
                .then(|| crate::analysis::across::fraction_below(&sf, 0.5)),
            llc: studies::mean_ci(
                &idx.iter()
                    .map(|&i| analyses[i].final_llc)
                    .collect::<Vec<_>>(),
                boot,
            ),
            test_error: studies::mean_ci(
                &idx.iter()
                    .map(|&i| 100.0 - analyses[i].test_accuracy)
                    .collect::<Vec<_>>(),
                boot,
            ),
        });
    }
    // The LLC scale scan on the final weights of the first main runs of a0 with SGD.
    if st.llc_scale_runs > 0 && !st.llc_scale_factors.is_empty() && p.llc_chains > 0 {
        let idx: Vec<usize> = specs
            .iter()
            .enumerate()
            .filter(|(_, s)| {
                s.role == Role::Main && a0_sgd(s) && (s.seed as usize) < st.llc_scale_runs
            })
            .map(|(i, _)| i)
            .collect();
        let mut points = Vec::new();
        for i in idx {
            points.extend(scale_scan_run(&specs[i], &summaries[i], st, data, opts)?);
        }
        out.scale_scan = Some(studies::scale_scan(points));
    }
    if let Some(mc) = &st.moons {
        out.moons = Some(moons_study(mc, &opts.out)?);
    }
    Ok(out)
}

/// The Moons posterior test of `cfg` (cached in `OUT/moons.json` with its settings).
fn moons_study(
    cfg: &crate::moons::MoonsConfig,
    out: &Path,
) -> Result<crate::moons::MoonsResult, ReproduceError> {
    let cache = out.join("moons.json");
    if let Ok(txt) = std::fs::read_to_string(&cache)
        && let Ok(r) = serde_json::from_str::<crate::moons::MoonsResult>(&txt)
        && &r.config == cfg
    {
        return Ok(r);
    }
    let r = crate::moons::run_study(cfg)?;
    let json = serde_json::to_string_pretty(&r).map_err(crate::report::ReportError::from)?;
    write_atomic(&cache, json.as_bytes())?;
    Ok(r)
}

/// The scale-scan estimates of one run (cached in `scale_scan.json` of its directory).
fn scale_scan_run(
    s: &RunSpec,
    (dir, sum): &(PathBuf, RunSummary),
    st: &Studies,
    data: &Data,
    opts: &ReproduceOptions,
) -> Result<Vec<studies::ScaleScanPoint>, ReproduceError> {
    let base = sum.config.llc.clone();
    let mut combos: Vec<(f64, f64)> = Vec::new();
    for &f in &st.llc_scale_factors {
        combos.push((f, 1.0));
    }
    for &f in &st.llc_scale_factors {
        if (f - 1.0).abs() > 1e-12 {
            combos.push((1.0, f));
        }
    }
    let is_base = |c: &(f64, f64)| (c.0 - 1.0).abs() < 1e-12 && (c.1 - 1.0).abs() < 1e-12;
    if !combos.iter().any(is_base) {
        combos.push((1.0, 1.0));
    }
    let cache = dir.join("scale_scan.json");
    let key = (base.clone(), combos.clone(), sum.steps_done);
    if let Ok(txt) = std::fs::read_to_string(&cache)
        && let Ok(v) = serde_json::from_str::<(
            (LlcConfig, Vec<(f64, f64)>, u64),
            Vec<studies::ScaleScanPoint>,
        )>(&txt)
        && v.0 == key
    {
        return Ok(v.1);
    }
    let net = crate::model::Network::load(
        &checkpoint_path(dir, sum.steps_done),
        &candle_core::Device::Cpu,
    )?;
    let cfgs: Vec<LlcConfig> = combos
        .iter()
        .map(|&(ef, gf)| LlcConfig {
            epsilon: base.epsilon * ef,
            gamma: base.gamma * gf,
            threads: 1,
            ..base.clone()
        })
        .collect();
    let jobs: Vec<(&crate::model::Network, &LlcConfig)> = cfgs.iter().map(|c| (&net, c)).collect();
    let res = crate::llc::estimate_many(&jobs, &data.train, opts.jobs.max(1))?;
    let base_llc = combos
        .iter()
        .zip(&res)
        .find(|(c, _)| is_base(c))
        .map_or(f64::NAN, |(_, r)| r.llc_mean);
    let pts: Vec<studies::ScaleScanPoint> = combos
        .iter()
        .zip(&cfgs)
        .zip(&res)
        .map(|((&(ef, gf), c), r)| studies::ScaleScanPoint {
            run: s.id.clone(),
            epsilon_factor: ef,
            gamma_factor: gf,
            epsilon: c.epsilon,
            gamma: c.gamma,
            llc: r.llc_mean,
            llc_std: r.llc_std,
            ratio_to_base: r.llc_mean / base_llc,
        })
        .collect();
    let json = serde_json::to_string(&(&key, &pts)).map_err(crate::report::ReportError::from)?;
    write_atomic(&cache, json.as_bytes())?;
    Ok(pts)
}
