//! The presets: sweeps (architectures x optimizers x seeds) and the studies beyond them.

#[allow(unused_imports)]
use super::*;

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
    pub optimizers: Vec<OptimizerKind>,
    /// Training steps per run.
    pub steps: u64,
    /// SGD learning rate.
    pub sgd_lr: f64,
    /// Adam learning rate.
    pub adam_lr: f64,
    /// SGD momentum (default 0: the study's plain SGD).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub momentum: f64,
    /// Weight decay of both optimizers (coupled for SGD, decoupled for Adam; default 0).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub weight_decay: f64,
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
            optimizers: OptimizerKind::ALL.to_vec(),
            steps: 10_000,
            sgd_lr: 0.001,
            adam_lr: 0.001,
            momentum: 0.0,
            weight_decay: 0.0,
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
            optimizers: OptimizerKind::ALL.to_vec(),
            steps: MEDIUM_STEPS,
            sgd_lr: 0.001,
            adam_lr: 0.001,
            momentum: 0.0,
            weight_decay: 0.0,
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
            optimizers: OptimizerKind::ALL.to_vec(),
            steps: 100_000,
            sgd_lr: 0.001,
            adam_lr: 0.001,
            momentum: 0.0,
            weight_decay: 0.0,
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
            optimizers: OptimizerKind::ALL.to_vec(),
            steps: 300,
            sgd_lr: 0.05,
            adam_lr: 0.003,
            momentum: 0.0,
            weight_decay: 0.0,
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

    /// The learning rate of optimizer `kind`.
    pub fn lr(&self, kind: OptimizerKind) -> f64 {
        match kind {
            OptimizerKind::Sgd => self.sgd_lr,
            OptimizerKind::Adam => self.adam_lr,
        }
    }

    /// The optimizer `kind` with this preset's learning rate, momentum and weight decay.
    pub fn optimizer(&self, kind: OptimizerKind) -> Optimizer {
        Optimizer::of_kind(kind, self.lr(kind))
            .with_momentum(self.momentum)
            .with_weight_decay(self.weight_decay)
    }

    pub(super) fn arch_name(w: &[usize]) -> String {
        w.iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join("-")
    }
}

pub(super) fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

/// Steps of every run of the medium preset.
pub(super) const MEDIUM_STEPS: u64 = 40_000;
