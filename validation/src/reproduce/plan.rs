//! The plan of an invocation: its options, every run of the preset, and each run's training
//! configuration.

#[allow(unused_imports)]
use super::*;

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
    pub(crate) arch: Arch,
    pub(crate) optimizer: OptimizerKind,
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
                    optimizer: *o,
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
    let sgd_main = p.optimizers.contains(&OptimizerKind::Sgd);
    for s in 0..st.histogram_seeds as u64 {
        if sgd_main && (s as usize) < p.seeds {
            continue;
        }
        v.push(RunSpec {
            id: format!("{}_sgd_s{}", Preset::arch_name(a0), s),
            arch: a0.clone(),
            optimizer: OptimizerKind::Sgd,
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
                optimizer: OptimizerKind::Sgd,
                seed: s,
                batch_size: b,
                role: Role::BatchScan,
            });
        }
    }
    v
}

pub(super) fn train_config(p: &Preset, s: &RunSpec, device: DeviceKind) -> TrainConfig {
    let optimizer = p.optimizer(s.optimizer);
    TrainConfig {
        arch: s.arch.clone(),
        optimizer,
        batch_size: s.batch_size,
        steps: p.steps,
        seed: s.seed,
        init_seed: None,
        stream_seed: None,
        checkpoint_every: None,
        checkpoints_per_decade: p.checkpoints_per_decade,
        late_window: None,
        llc_every: p.llc_every,
        llc_schedule: if p.llc_uniform {
            crate::train::LlcSchedule::Uniform
        } else {
            Default::default()
        },
        llc: LlcConfig {
            seed: s.seed,
            ..p.llc_config()
        },
        resume_every: (p.steps / 10).max(1),
        device,
        threads: 1,
        input_layer: Default::default(),
    }
}

pub(super) fn run_data(s: &RunSpec, sum: &RunSummary) -> RunData {
    let ck: Vec<_> = sum.checkpoints.iter().filter(|c| c.step > 0).collect();
    let last = sum.checkpoints.last();
    RunData {
        id: s.id.clone(),
        arch: Preset::arch_name(&s.arch),
        optimizer: s.optimizer,
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
