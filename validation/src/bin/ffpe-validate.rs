//! The `ffpe-validate` command-line tool: train MNIST networks and estimate LLCs.
//!
//! ```text
//! ffpe-validate train --arch 784-128-10 --steps 10000 --out runs/sgd-0
//! ffpe-validate llc --weights runs/sgd-0/checkpoints/step-0000010000.safetensors --json
//! ```

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use ffpe_validation::data::{self, DataConfig};
use ffpe_validation::device::DeviceKind;
use ffpe_validation::llc::{self, InitLoss, LlcConfig, NBeta};
use ffpe_validation::model::{Arch, Network};
use ffpe_validation::optim::{Optimizer, OptimizerKind};
use ffpe_validation::train::{self, LlcSchedule, TrainConfig};
use std::path::PathBuf;

#[path = "cmd/ensemble.rs"]
mod ensemble;
#[path = "cmd/hessian.rs"]
mod hessian;

#[derive(Parser)]
#[command(
    name = "ffpe-validate",
    version,
    about = "MNIST networks, trajectories and LLC estimates"
)]
struct Cli {
    /// Worker threads (SGLD chain groups; default 1). candle's own matrix-product threads stay
    /// at 1 unless RAYON_NUM_THREADS is set.
    #[arg(long, global = true)]
    threads: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a network; resumable (rerun the same command to continue).
    Train(TrainArgs),
    /// Estimate the local learning coefficient of a checkpoint by SGLD.
    Llc(LlcArgs),
    /// Reproduce the MNIST study: train the sweep, analyse, compare with FFPE predictions, and
    /// write results.json, CSV tables, plots and report.md/report.html (resumable).
    Reproduce(ReproduceArgs),
    /// Build one report from the run directories of `reproduce --shard` invocations (same
    /// results as one process); fails if a run of the sweep is finished in none of them.
    Merge(MergeArgs),
    /// Drift and diffusion (SPEC 3.1): K initialisations x S minibatch streams trained as one
    /// ensemble (plus a full-batch gradient-descent twin per initialisation), then the mean
    /// path, tr Sigma(t), the GD gap, exponents, stationarity and aging; writes
    /// OUT/ensemble.json (resumable: rerun the same command to continue).
    Ensemble(ensemble::EnsembleArgs),
    /// The Moons posterior test: many SGD runs of a small MLP on two-moons data against
    /// Langevin samples of the tempered posterior (and untempered / mis-tempered controls);
    /// writes moons.json and moons.md.
    Moons(MoonsArgs),
    /// Curvature of the training loss at a checkpoint: the top Hessian eigenvalues (exact
    /// Hessian-vector products, Lanczos), optionally the spectral density (stochastic Lanczos
    /// quadrature), and the per-sample gradient-noise covariance on the top eigenvectors. The
    /// loss is the mean cross-entropy over the training images that `llc --data DIR` uses.
    Hessian(hessian::HessianArgs),
}

#[derive(Args)]
struct MoonsArgs {
    /// Output directory (created if missing).
    #[arg(long, default_value = "ffpe-moons")]
    out: PathBuf,
    /// The tiny study (seconds) instead of the medium one (minutes).
    #[arg(long)]
    quick: bool,
}

#[derive(Args)]
struct MergeArgs {
    /// Output directories of the shards (may include --out itself).
    #[arg(required = true)]
    dirs: Vec<PathBuf>,
    /// The sweep the shards ran (quick, medium, paper, tiny).
    #[arg(long, default_value = "quick")]
    preset: String,
    /// Where the merged runs and the report go.
    #[arg(long, default_value = "ffpe-report")]
    out: PathBuf,
    /// Device recorded in the report (the shards' device: cpu or cuda).
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Directory with IDX files, as given to the shards; default: the bundled MNIST subset.
    #[arg(long)]
    data: Option<PathBuf>,
    /// No progress bars.
    #[arg(long)]
    quiet: bool,
    /// Runs analysed at once (default: number of cores).
    #[arg(long)]
    jobs: Option<usize>,
}

#[derive(Args)]
struct ReproduceArgs {
    /// Sweep: quick (a smoke run: 2 architectures x 3 seeds x SGD/Adam, 10,000 steps; about
    /// 2-4 min on 2 CPU cores; its runs are still ballistic, so its verdicts are not the
    /// study's result), medium (3 architectures x 10 seeds x SGD/Adam plus the studies:
    /// Figure 4 seeds, batch-size scan, LLC scale scan, Moons; about 45 min wall on 2 CPU
    /// cores), paper (5 architectures x 20 seeds x SGD/Adam plus the studies, sized for one
    /// GPU) or tiny (seconds, for tests).
    #[arg(long, default_value = "quick")]
    preset: String,
    /// Device: cpu or cuda (cuda needs a build with `--features cuda`).
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Output directory (rerunning with the same directory reuses finished runs).
    #[arg(long, default_value = "ffpe-report")]
    out: PathBuf,
    /// Directory with IDX files; default: the bundled MNIST subset.
    #[arg(long)]
    data: Option<PathBuf>,
    /// No progress bars.
    #[arg(long)]
    quiet: bool,
    /// Runs trained at once (default: number of cores; under MPI, cores / ranks per node).
    #[arg(long)]
    jobs: Option<usize>,
    /// Train only shard I of N of the sweep (e.g. 0/4; a Slurm job array passes
    /// $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT) into --out, and write no report; then
    /// `ffpe-validate merge` the shards' directories. The split is deterministic
    /// (cost-balanced by parameters x steps).
    #[arg(long, value_name = "I/N")]
    shard: Option<ffpe::distributed::Shard>,
}

#[derive(Args, Clone)]
struct DataArgs {
    /// Directory with IDX files (train-images-idx3-ubyte[.gz], ...); default: bundled MNIST subset.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Training images of the seeded split (ignored when DIR has t10k files).
    #[arg(long, default_value_t = DataConfig::default().n_train)]
    n_train: usize,
    /// Test images of the seeded split (ignored when DIR has t10k files).
    #[arg(long, default_value_t = DataConfig::default().n_test)]
    n_test: usize,
    /// Seed of the train/test split.
    #[arg(long, default_value_t = DataConfig::default().split_seed)]
    split_seed: u64,
}

impl DataArgs {
    fn config(&self) -> DataConfig {
        DataConfig {
            dir: self.data.clone(),
            n_train: self.n_train,
            n_test: self.n_test,
            split_seed: self.split_seed,
        }
    }
}

#[derive(Args)]
struct TrainArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Layer widths, input to output.
    #[arg(long, default_value = "784-128-10")]
    arch: String,
    /// BatchNorm after each hidden linear layer.
    #[arg(long)]
    batchnorm: bool,
    /// Optimizer: sgd (plain unless --momentum / --weight-decay) or adam (AdamW with
    /// --weight-decay).
    #[arg(long, default_value = OptimizerKind::Sgd.name())]
    optimizer: String,
    /// Learning rate.
    #[arg(long, default_value_t = TrainConfig::default().optimizer.lr())]
    lr: f64,
    /// SGD momentum, as torch.optim.SGD (0: none, the study's SGD).
    #[arg(long, default_value_t = 0.0)]
    momentum: f64,
    /// Weight decay: added to the gradient for SGD (torch.optim.SGD), decoupled for Adam
    /// (torch.optim.AdamW); 0: none.
    #[arg(long, default_value_t = 0.0)]
    weight_decay: f64,
    /// Minibatch size.
    #[arg(long, default_value_t = TrainConfig::default().batch_size)]
    batch_size: usize,
    /// Number of updates.
    #[arg(long, default_value_t = TrainConfig::default().steps)]
    steps: u64,
    /// Seed of initialisation and noise (minibatch order, in-training SGLD): the shorthand
    /// for `--init-seed N --stream-seed N`.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Seed of the initial weights only (default: `--seed`).
    #[arg(long)]
    init_seed: Option<u64>,
    /// Seed of the noise only: minibatch order and the SGLD seeds of in-training LLC estimates
    /// (default: `--seed`).
    #[arg(long)]
    stream_seed: Option<u64>,
    /// Train this many seeds (`--seed`, `--seed` + 1, ...; with `--init-seed`/`--stream-seed`
    /// both advance) as one ensemble, spread over the `--threads` threads, into OUT/seed-N;
    /// each run directory is exactly what `train --seed N --threads 1 --out OUT/seed-N` writes.
    #[arg(long, default_value_t = 1)]
    seeds: u64,
    /// Also checkpoint every N steps (besides the geometric schedule).
    #[arg(long)]
    checkpoint_every: Option<u64>,
    /// Checkpoints per decade of steps.
    #[arg(long, default_value_t = TrainConfig::default().checkpoints_per_decade)]
    checkpoints_per_decade: u32,
    /// Record every minibatch loss in the last N steps (default: last 10 %).
    #[arg(long)]
    late_window: Option<u64>,
    /// Estimate the LLC every K steps in the late window (0: never); with
    /// `--llc-per-decade 0`, every K steps from the start.
    #[arg(long, default_value_t = TrainConfig::default().llc_every)]
    llc_every: u64,
    /// LLC estimates per decade of steps on the geometric schedule (0: none; then every
    /// `--llc-every` steps from the start instead).
    #[arg(long, default_value_t = 10)]
    llc_per_decade: u32,
    /// SGLD chains per LLC estimate during training.
    #[arg(long, default_value_t = TrainConfig::default().llc.chains)]
    llc_chains: usize,
    /// SGLD draws per chain during training.
    #[arg(long, default_value_t = TrainConfig::default().llc.draws)]
    llc_draws: usize,
    /// SGLD step size during training.
    #[arg(long, default_value_t = LlcConfig::default().epsilon)]
    llc_epsilon: f64,
    /// SGLD localization during training.
    #[arg(long, default_value_t = LlcConfig::default().gamma)]
    llc_gamma: f64,
    /// SGLD minibatch size during training (the same for every training batch size, as in
    /// `reproduce`).
    #[arg(long, default_value_t = LlcConfig::default().batch_size)]
    llc_batch_size: usize,
    /// n_beta during training: batch, dataset or a number.
    #[arg(long, default_value = "batch")]
    llc_nbeta: String,
    /// Save the resume state every N steps (it is also saved at every checkpoint).
    #[arg(long, default_value_t = TrainConfig::default().resume_every)]
    resume_every: u64,
    /// Run directory.
    #[arg(long)]
    out: PathBuf,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// First layer of SGD on the CPU: auto (sparse when at most 30 % of the inputs are
    /// nonzero), dense or sparse.
    #[arg(long, default_value = "auto")]
    input_layer: String,
    /// Print the run summary as JSON.
    #[arg(long)]
    json: bool,
    /// Hide the progress bar.
    #[arg(long)]
    quiet: bool,
}

#[derive(Args)]
struct LlcArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Checkpoint (safetensors with fc1.weight, fc1.bias, [bn1.*], ...). Several (`--weights a
    /// b c` or the flag repeated): one batched SGLD run, every chain of every checkpoint spread
    /// over `--threads`, each result equal to that checkpoint's run alone; `--json` then prints
    /// one object per line, with its `weights`.
    #[arg(long, num_args = 1.., required = true)]
    weights: Vec<PathBuf>,
    /// Expected architecture (checked against the checkpoint; default: inferred).
    #[arg(long)]
    arch: Option<String>,
    /// The checkpoint must have BatchNorm.
    #[arg(long)]
    batchnorm: bool,
    /// SGLD step size.
    #[arg(long, default_value_t = LlcConfig::default().epsilon)]
    epsilon: f64,
    /// Localization strength.
    #[arg(long, default_value_t = LlcConfig::default().gamma)]
    gamma: f64,
    /// Inverse temperature: batch (B/ln B), dataset (n/ln n) or a number.
    #[arg(long, default_value = "batch")]
    nbeta: String,
    /// Chains.
    #[arg(long, default_value_t = LlcConfig::default().chains)]
    chains: usize,
    /// Draws per chain.
    #[arg(long, default_value_t = LlcConfig::default().draws)]
    draws: usize,
    /// Burn-in steps.
    #[arg(long, default_value_t = LlcConfig::default().burnin)]
    burnin: usize,
    /// Steps between draws.
    #[arg(long, default_value_t = LlcConfig::default().steps_between_draws)]
    steps_between_draws: usize,
    /// Minibatch size.
    #[arg(long, default_value_t = LlcConfig::default().batch_size)]
    batch_size: usize,
    /// Seed.
    #[arg(long, default_value_t = LlcConfig::default().seed)]
    seed: u64,
    /// Noise multiplier (0: deterministic).
    #[arg(long, default_value_t = LlcConfig::default().noise_level)]
    noise_level: f64,
    /// Minibatches in dataset order.
    #[arg(long)]
    no_shuffle: bool,
    /// full, batches:K (mean over the first K minibatches, devinterp-compatible), or a
    /// number (a given L(w*) >= 0, as devinterp's init_loss=).
    #[arg(long, default_value = "full")]
    init_loss: String,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    /// No progress bar (for scripts and logs).
    #[arg(long)]
    quiet: bool,
}

/// User errors are printed as one message (the causes joined by ": "), never with a
/// backtrace, whatever `RUST_BACKTRACE` says; the exit code is 1.
fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    let threads = cli.threads.unwrap_or(1);
    if threads == 0 {
        bail!("invalid --threads 0: at least 1");
    }
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        // candle's matrix products are fastest single-threaded for these small networks;
        // parallelism comes from running SGLD chain groups on `--threads` threads.
        set_candle_threads(1);
    }
    match cli.command {
        Command::Train(a) => cmd_train(a, threads),
        Command::Llc(a) => cmd_llc(a, threads),
        Command::Reproduce(a) => cmd_reproduce(a),
        Command::Merge(a) => cmd_merge(a),
        Command::Moons(a) => cmd_moons(a),
        Command::Ensemble(a) => ensemble::cmd_ensemble(a, threads),
        Command::Hessian(a) => hessian::cmd_hessian(a),
    }
}

fn reproduce_options(
    preset: &str,
    out: &std::path::Path,
    device: &str,
    data: Option<PathBuf>,
    quiet: bool,
    jobs: Option<usize>,
) -> Result<ffpe_validation::reproduce::ReproduceOptions> {
    use ffpe_validation::reproduce::{Preset, ReproduceOptions};
    let mut opts = ReproduceOptions::new(Preset::by_name(preset)?, out.to_path_buf());
    opts.device = device.parse::<DeviceKind>()?;
    opts.data = data;
    opts.progress = !quiet;
    if let Some(j) = jobs {
        if j == 0 {
            bail!("invalid --jobs 0: at least 1");
        }
        opts.jobs = j;
    }
    Ok(opts)
}

fn cmd_reproduce(a: ReproduceArgs) -> Result<()> {
    use ffpe_validation::reproduce::reproduce;
    let opts = reproduce_options(&a.preset, &a.out, &a.device, a.data, a.quiet, a.jobs)?;
    #[cfg(feature = "mpi")]
    if ffpe::distributed::mpi::MpiRanks::launched() {
        if a.shard.is_some() {
            bail!("--shard is for runs without MPI: under mpirun every rank is a shard");
        }
        let mut opts = opts;
        if a.jobs.is_none() {
            let per_node = ffpe::distributed::mpi::MpiRanks::local_size().unwrap_or(1);
            opts.jobs = (opts.jobs / per_node.max(1)).max(1);
        }
        return reproduce_mpi(&opts, &a.out);
    }
    if let Some(shard) = a.shard {
        let m = ffpe_validation::shard::run_shard(&opts, shard)
            .with_context(|| format!("reproduce --preset {} --shard {shard}", a.preset))?;
        println!(
            "shard {shard}: {} runs trained, {} reused in {} ({:.1} s); merge with \
             `ffpe-validate merge --preset {} DIRS... --out DIR`",
            m.trained.len(),
            m.reused.len(),
            a.out.display(),
            m.wall_seconds,
            a.preset
        );
        return Ok(());
    }
    let res = reproduce(&opts).with_context(|| format!("reproduce --preset {}", a.preset))?;
    print_results(&res, &a.out);
    Ok(())
}

/// `mpirun -np N ffpe-validate reproduce`: rank r trains shard r/N into the shared
/// output directory; after a gather (every rank done), rank 0 merges and reports.
#[cfg(feature = "mpi")]
fn reproduce_mpi(
    opts: &ffpe_validation::reproduce::ReproduceOptions,
    out: &std::path::Path,
) -> Result<()> {
    use ffpe::distributed::{Ranks, Shard};
    let Some(ranks) = ffpe::distributed::mpi::MpiRanks::init() else {
        bail!("MPI could not be initialised");
    };
    let shard = Shard {
        index: ranks.rank(),
        count: ranks.size(),
    };
    let mut opts = opts.clone();
    // one progress display: rank 0's
    opts.progress &= ranks.is_root();
    let status = match ffpe_validation::shard::run_shard(&opts, shard) {
        Ok(_) => Vec::new(),
        Err(e) => format!("{e:#}").into_bytes(),
    };
    let all = ranks.gather(&status);
    if !ranks.is_root() {
        // rank 0 reports this rank's error; MPI is finalised (drop) before the exit
        let code = if status.is_empty() { 0 } else { 2 };
        drop(ranks);
        std::process::exit(code);
    }
    for (rank, s) in all.iter().enumerate() {
        if !s.is_empty() {
            bail!(
                "rank {rank} (shard {rank}/{}): {}",
                ranks.size(),
                String::from_utf8_lossy(s)
            );
        }
    }
    let res = ffpe_validation::shard::merge(&[out.to_path_buf()], &opts)
        .with_context(|| format!("reproduce --preset {} (rank 0: report)", opts.preset.name))?;
    print_results(&res, out);
    Ok(())
}

fn cmd_moons(a: MoonsArgs) -> Result<()> {
    use ffpe_validation::io::write_atomic;
    use ffpe_validation::moons::{self, MoonsConfig};
    let cfg = if a.quick {
        MoonsConfig::tiny()
    } else {
        MoonsConfig::default()
    };
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let r = moons::run_study(&cfg).context("moons")?;
    write_atomic(&a.out.join("moons.json"), &serde_json::to_vec_pretty(&r)?)?;
    write_atomic(&a.out.join("moons.md"), moons::markdown(&r).as_bytes())?;
    println!(
        "wrote {} ({:.1} s): {} ({})",
        a.out.join("moons.md").display(),
        r.wall_seconds,
        r.verdict.words(),
        r.verdict_reason
    );
    Ok(())
}

fn cmd_merge(a: MergeArgs) -> Result<()> {
    let opts = reproduce_options(&a.preset, &a.out, &a.device, a.data, a.quiet, a.jobs)?;
    let res = ffpe_validation::shard::merge(&a.dirs, &opts)
        .with_context(|| format!("merge --preset {}", a.preset))?;
    print_results(&res, &a.out);
    Ok(())
}

fn print_results(res: &ffpe_validation::report::results::Results, out: &std::path::Path) {
    println!(
        "wrote the report to {} ({} runs, {} trained, {} reused, {:.1} s)",
        out.display(),
        res.runs.len(),
        res.meta.runs_trained,
        res.meta.runs_reused,
        res.meta.wall_seconds
    );
    for c in &res.claims {
        println!("{:>13}  {}", c.verdict.words(), c.statement);
    }
    if !res.meta.preset_note.is_empty() {
        println!("note: {}", res.meta.preset_note);
    }
    println!(
        "report: {} (also {}; every number in {})",
        out.join("report.md").display(),
        out.join("report.html").display(),
        out.join("results.json").display()
    );
}

/// Candle reads RAYON_NUM_THREADS when it sizes its matrix-product parallelism.
#[allow(unsafe_code)]
fn set_candle_threads(n: usize) {
    // SAFETY: called at the start of main, before any other thread exists.
    unsafe { std::env::set_var("RAYON_NUM_THREADS", n.to_string()) };
}

fn arch_of(s: &str, bn: bool) -> Result<Arch> {
    let mut a: Arch = s.parse()?;
    a.batchnorm |= bn;
    Ok(a)
}

fn cmd_train(a: TrainArgs, threads: usize) -> Result<()> {
    let kind: OptimizerKind = a.optimizer.parse()?;
    if kind == OptimizerKind::Adam && a.momentum != 0.0 {
        bail!("--momentum is for sgd; adam has its own first-moment decay");
    }
    let optimizer = Optimizer::of_kind(kind, a.lr)
        .with_momentum(a.momentum)
        .with_weight_decay(a.weight_decay);
    let config = TrainConfig {
        arch: arch_of(&a.arch, a.batchnorm)?,
        optimizer,
        batch_size: a.batch_size,
        steps: a.steps,
        seed: a.seed,
        init_seed: None,
        stream_seed: None,
        checkpoint_every: a.checkpoint_every,
        checkpoints_per_decade: a.checkpoints_per_decade,
        late_window: a.late_window,
        llc_every: a.llc_every,
        llc_schedule: match a.llc_per_decade {
            0 => LlcSchedule::Uniform,
            per_decade => LlcSchedule::Geometric { per_decade },
        },
        llc: LlcConfig {
            chains: a.llc_chains,
            draws: a.llc_draws,
            epsilon: a.llc_epsilon,
            gamma: a.llc_gamma,
            nbeta: a.llc_nbeta.parse()?,
            batch_size: a.llc_batch_size,
            // the run's (noise) seed, as `reproduce` (each estimate's seed is mixed with its
            // step); `--seed N` and `--init-seed N --stream-seed N` give the same configuration
            seed: a.stream_seed.unwrap_or(a.seed),
            threads,
            ..LlcConfig::default()
        },
        resume_every: a.resume_every,
        device: a.device.parse::<DeviceKind>()?,
        threads,
        input_layer: a.input_layer.parse()?,
    }
    .with_seeds(
        a.init_seed.unwrap_or(a.seed),
        a.stream_seed.unwrap_or(a.seed),
    );
    let d = data::load(&a.data.config())?;
    if a.seeds == 0 {
        bail!("invalid --seeds 0: at least 1");
    }
    if a.seeds > 1 {
        return train_ensemble(&a, config, &d, threads);
    }
    let bar = if a.quiet {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(config.steps)
    };
    let summary = train::run(&config, &d, &a.out, &mut |s, _| {
        bar.set_position(s);
        true
    })
    .with_context(|| format!("training into {}", a.out.display()))?;
    bar.finish_and_clear();
    if a.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        let last = summary.checkpoints.last();
        println!(
            "{}: {} steps ({:.0} steps/s{}), train loss {:.4}, test accuracy {:.4}, R {:.4}, final LLC {}",
            a.out.display(),
            summary.steps_done,
            summary.steps_per_second,
            summary
                .resumed_from
                .map_or(String::new(), |s| format!(", resumed from {s}")),
            last.map_or(f64::NAN, |c| c.train_loss),
            last.map_or(f64::NAN, |c| c.test_accuracy),
            last.map_or(f64::NAN, |c| c.r),
            summary
                .final_llc
                .map_or("-".to_string(), |v| format!("{v:.3}")),
        );
    }
    Ok(())
}

/// `train --seeds K`: K seeds as one ensemble, each member on one thread.
fn train_ensemble(
    a: &TrainArgs,
    config: TrainConfig,
    d: &data::Data,
    threads: usize,
) -> Result<()> {
    let (init, stream) = (config.effective_init_seed(), config.effective_stream_seed());
    let cfgs: Vec<TrainConfig> = (0..a.seeds)
        .map(|k| {
            TrainConfig {
                threads: 1,
                llc: LlcConfig {
                    threads: 1,
                    ..config.llc.clone()
                },
                ..config.clone()
            }
            .with_seeds(init + k, stream + k)
        })
        .collect();
    let dirs: Vec<PathBuf> = cfgs
        .iter()
        .map(|c| a.out.join(format!("seed-{}", c.seed)))
        .collect();
    let total: u64 = cfgs.iter().map(|c| c.steps).sum();
    let bar = if a.quiet {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(total)
    };
    let t0 = std::time::Instant::now();
    let runs = ffpe_validation::ensemble::run_ensemble(&cfgs, d, &dirs, threads, &mut |s, _| {
        bar.set_position(s);
        true
    })
    .with_context(|| format!("training the ensemble into {}", a.out.display()))?;
    bar.finish_and_clear();
    let wall = t0.elapsed().as_secs_f64();
    if a.json {
        println!("{}", serde_json::to_string(&runs)?);
        return Ok(());
    }
    for (r, dir) in runs.iter().zip(&dirs) {
        let last = r.checkpoints.last();
        println!(
            "{}: {} steps ({:.0} steps/s{}), train loss {:.4}, test accuracy {:.4}, R {:.4}, final LLC {}",
            dir.display(),
            r.steps_done,
            r.steps_per_second,
            r.resumed_from
                .map_or(String::new(), |s| format!(", resumed from {s}")),
            last.map_or(f64::NAN, |c| c.train_loss),
            last.map_or(f64::NAN, |c| c.test_accuracy),
            last.map_or(f64::NAN, |c| c.r),
            r.final_llc.map_or("-".to_string(), |v| format!("{v:.3}")),
        );
    }
    println!(
        "ensemble: {} seeds on {threads} threads in {wall:.2} s wall",
        runs.len()
    );
    Ok(())
}

fn cmd_llc(a: LlcArgs, threads: usize) -> Result<()> {
    let dev = a.device.parse::<DeviceKind>()?.device()?;
    let mut nets = Vec::with_capacity(a.weights.len());
    for path in &a.weights {
        let net = Network::load(path, &dev)?;
        if let Some(s) = &a.arch {
            let want = arch_of(s, a.batchnorm)?;
            if &want != net.arch() {
                bail!(
                    "--arch {want} does not match the checkpoint {} ({})",
                    path.display(),
                    net.arch()
                );
            }
        } else if a.batchnorm && !net.arch().batchnorm {
            bail!(
                "--batchnorm given, but {} has no BatchNorm layers",
                path.display()
            );
        }
        nets.push(net);
    }
    let d = data::load(&a.data.config())?;
    let cfg = LlcConfig {
        epsilon: a.epsilon,
        gamma: a.gamma,
        nbeta: a.nbeta.parse::<NBeta>()?,
        chains: a.chains,
        draws: a.draws,
        burnin: a.burnin,
        steps_between_draws: a.steps_between_draws,
        batch_size: a.batch_size,
        seed: a.seed,
        noise_level: a.noise_level,
        shuffle: !a.no_shuffle,
        init_loss: a.init_loss.parse::<InitLoss>()?,
        threads,
    };
    let results = if nets.len() == 1 {
        vec![llc::estimate(&nets[0], &d.train, &cfg)?]
    } else {
        // In groups of 2 x threads checkpoints, with a progress bar between groups: every
        // result equals `llc::estimate` of its checkpoint alone, so grouping changes nothing.
        let jobs: Vec<(&Network, &LlcConfig)> = nets.iter().map(|n| (n, &cfg)).collect();
        let pb = if a.quiet {
            indicatif::ProgressBar::hidden()
        } else {
            indicatif::ProgressBar::new(jobs.len() as u64)
        };
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "LLC of checkpoints [{elapsed_precise}] {bar:40} {pos}/{len} (eta {eta})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        let mut results = Vec::with_capacity(jobs.len());
        for group in jobs.chunks(2 * threads) {
            results.extend(llc::estimate_many(group, &d.train, threads)?);
            pb.inc(group.len() as u64);
        }
        pb.finish_and_clear();
        results
    };
    for (path, r) in a.weights.iter().zip(&results) {
        print_llc(path, r, a.json, nets.len() > 1);
    }
    // Each distinct warning once, with the checkpoints it concerns.
    let mut warned: Vec<(&str, Vec<&std::path::Path>)> = Vec::new();
    for (path, r) in a.weights.iter().zip(&results) {
        for w in &r.warnings {
            match warned.iter_mut().find(|(text, _)| *text == w.as_str()) {
                Some((_, paths)) => paths.push(path),
                None => warned.push((w, vec![path])),
            }
        }
    }
    for (text, paths) in warned {
        if paths.len() == 1 {
            eprintln!("warning: {}: {text}", paths[0].display());
        } else {
            eprintln!(
                "warning ({} of {} checkpoints, first {}): {text}",
                paths.len(),
                results.len(),
                paths[0].display()
            );
        }
    }
    Ok(())
}

/// One LLC result on stdout: a JSON object (with the checkpoint's path when `named`) or a line.
fn print_llc(path: &std::path::Path, r: &llc::LlcResult, json: bool, named: bool) {
    if json {
        let mut v = serde_json::json!({
            "llc_mean": r.llc_mean,
            "llc_std": r.llc_std,
            "llc_per_chain": r.llc_per_chain,
            "init_loss": r.init_loss,
            "nbeta": r.nbeta,
            "trace": r.trace,
            "llc_running": r.llc_running,
            "warnings": r.warnings,
            "draws_per_second": r.draws_per_second,
        });
        if named {
            v["weights"] = serde_json::json!(path.display().to_string());
        }
        println!("{v}");
    } else {
        if named {
            print!("{}: ", path.display());
        }
        println!(
            "LLC {:.4} +- {:.4} (chains {:?}), init loss {:.5}, n_beta {:.3}, {:.0} SGLD steps/s",
            r.llc_mean, r.llc_std, r.llc_per_chain, r.init_loss, r.nbeta, r.draws_per_second
        );
    }
}
