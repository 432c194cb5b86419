//! `ffpe-validate ensemble`: shared-initialisation ensembles, drift versus diffusion.

#[allow(unused_imports)]
use crate::*;

#[derive(Args)]
pub(crate) struct EnsembleArgs {
    #[command(flatten)]
    data: crate::DataArgs,
    /// Architecture, e.g. 784-32-10.
    #[arg(long, default_value = "784-32-10")]
    arch: String,
    /// Initialisations K (init seeds --first-init-seed, +1, ...).
    #[arg(long, default_value_t = 2)]
    inits: usize,
    /// Minibatch streams S per initialisation (at least 2).
    #[arg(long, default_value_t = 8)]
    streams: usize,
    /// Updates per member.
    #[arg(long, default_value_t = 20_000)]
    steps: u64,
    /// Optimizer: sgd or adam.
    #[arg(long, default_value = "sgd")]
    optimizer: String,
    /// Learning rate.
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Minibatch size.
    #[arg(long, default_value_t = 256)]
    batch_size: usize,
    /// Weight decay (L2 coefficient).
    #[arg(long, default_value_t = 0.0)]
    weight_decay: f64,
    /// Heavy-ball momentum of SGD, 0 <= m < 1.
    #[arg(long, default_value_t = 0.0)]
    momentum: f64,
    /// Also train a full-batch gradient-descent twin per initialisation.
    #[arg(long)]
    gd_twin: bool,
    /// With --gd-twin: only the first N initialisations get a twin (a full-batch step costs
    /// n/B minibatch steps).
    #[arg(long)]
    gd_twin_inits: Option<usize>,
    /// With --gd-twin: the twins' updates (default: --steps), for a budget.
    #[arg(long)]
    gd_twin_steps: Option<u64>,
    /// Init seed of the first initialisation.
    #[arg(long, default_value_t = 0)]
    first_init_seed: u64,
    /// Geometric checkpoints per decade.
    #[arg(long, default_value_t = 20)]
    checkpoints_per_decade: u32,
    /// Evenly spaced checkpoints over the run (stationarity and aging; 0: none).
    #[arg(long, default_value_t = 100)]
    uniform_checkpoints: u64,
    /// A whole study configuration (JSON, as `config` in ensemble.json); the flags above are
    /// then ignored.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Output directory.
    #[arg(long)]
    out: PathBuf,
    /// Print ensemble.json to stdout.
    #[arg(long)]
    json: bool,
    /// Hide the progress bar.
    #[arg(long)]
    quiet: bool,
    /// Only analyse what OUT holds (the streams must be finished; GD twins may be behind).
    #[arg(long)]
    no_train: bool,
}

pub(crate) fn cmd_ensemble(a: EnsembleArgs, threads: usize) -> Result<()> {
    use ffpe_validation::drift::{self, DriftConfig, GroupConfig, config::OptimizerKind};
    use ffpe_validation::report::format::opt;
    let config: DriftConfig = match &a.config {
        Some(p) => serde_json::from_str(
            &std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?,
        )
        .with_context(|| format!("parsing {}", p.display()))?,
        None => DriftConfig {
            groups: vec![GroupConfig {
                name: format!("{}-{}", a.arch.replace('+', "-"), a.optimizer),
                arch: arch_of(&a.arch, false)?,
                optimizer: match a.optimizer.as_str() {
                    "sgd" => OptimizerKind::Sgd,
                    "adam" => OptimizerKind::Adam,
                    o => bail!("invalid --optimizer {o}: sgd or adam"),
                },
                lr: a.lr,
                batch_size: a.batch_size,
                weight_decay: a.weight_decay,
                steps: a.steps,
                inits: a.inits,
                streams: a.streams,
                gd_twin: a.gd_twin,
                gd_twin_inits: a.gd_twin_inits,
                gd_twin_steps: a.gd_twin_steps,
                momentum: a.momentum,
                first_init_seed: a.first_init_seed,
                checkpoints_per_decade: a.checkpoints_per_decade,
                uniform_checkpoints: a.uniform_checkpoints,
                external: None,
                llc_uncalibrated: None,
            }],
            data: a.data.config(),
            ..DriftConfig::default()
        },
    };
    config.validate()?;
    let d = data::load(&config.data)?;
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let ms = drift::members(&config, d.train.len(), &a.out)?;
    let total: u64 = ms.iter().map(|m| m.config.steps).sum();
    let bar = if a.quiet {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(total)
    };
    let r = if a.no_train {
        drift::analyse(&config, &d, &a.out)
    } else {
        drift::run_study(&config, &d, &a.out, threads, &mut |s, _| {
            bar.set_position(s);
            true
        })
    }
    .with_context(|| format!("ensemble study in {}", a.out.display()))?;
    bar.finish_and_clear();
    let json = serde_json::to_string_pretty(&r)?;
    ffpe_validation::io::write_atomic(&a.out.join("ensemble.json"), json.as_bytes())?;
    if a.json {
        println!("{json}");
        return Ok(());
    }
    for g in &r.groups {
        if let Some(l) = &g.last {
            println!(
                "{}: step {}: drift |m-w0|^2 {:.4e}, diffusion tr Sigma {:.4e}, E|w-w0|^2 {:.4e}, \
                 |m-w_GD|^2 {}, |w_GD-w0|^2 {}",
                g.name,
                l.step,
                l.drift,
                l.diffusion,
                l.msd,
                l.gd_gap.map_or("-".into(), |v| format!("{v:.4e}")),
                l.gd_drift.map_or("-".into(), |v| format!("{v:.4e}")),
            );
        }
        for w in &g.diffusion_exponent {
            match &w.fit {
                Some(f) => println!(
                    "  tr Sigma ~ t^alpha in [{}, {}] of the run (steps {}-{}, {} points): \
                     alpha {:.3}{}",
                    w.window[0],
                    w.window[1],
                    f.from_step,
                    f.to_step,
                    f.points,
                    f.exponent,
                    f.ci.map_or(String::new(), |c| format!(
                        " [{:.3}, {:.3}] over inits",
                        c.lo, c.hi
                    ))
                ),
                None => println!("  window {:?}: too few points", w.window),
            }
        }
        println!("  stationarity: {}", g.stationarity.verdict);
        println!("  aging: {}", g.aging.note);
        let gl = &g.gamma_law;
        println!("  Gamma law of late losses: {}", gl.note);
        if gl.testable {
            println!(
                "    shapes: {}; autocorrelation time {} steps, cross-stream correlation {}, Fisher p {}",
                gl.llc_source,
                opt(gl.autocorrelation_steps),
                opt(gl.cross_stream_correlation),
                opt(gl.fisher_p)
            );
            for u in &gl.per_init {
                println!(
                    "    init {}: LLC {:.3} ({} estimates), n {} (n_eff {:.1}), L* {:.5}, T {:.3e}, KS {:.4}, p {:.4}, free shape {:.3}, ln(k_free / LLC) {:.3}",
                    u.init,
                    u.llc,
                    u.llc_estimates,
                    u.n,
                    u.n_effective,
                    u.location,
                    u.scale,
                    u.ks_statistic,
                    u.p_value,
                    u.free_shape,
                    u.log_shape_ratio
                );
            }
        }
    }
    // the Gamma-law headline claims (their interval rules do not depend on the other claims'
    // evidence: the rivals are not computed here)
    let none = vec![None; r.groups.len()];
    let v = drift::claims::headline_verdicts(&r, &none)?;
    for c in v
        .verdicts
        .iter()
        .filter(|c| c.claim.id.ends_with("/gamma-law"))
    {
        println!(
            "{}: {} (mean ln(k_free / LLC) {}{})",
            c.claim.id,
            c.verdict.words(),
            opt(Some(c.evidence.estimate)),
            c.evidence.interval.map_or(String::new(), |i| format!(
                " [{}, {}] at level {}",
                opt(Some(i.lo)),
                opt(Some(i.hi)),
                opt(Some(i.level))
            ))
        );
    }
    println!(
        "wrote {} (training {:.1} s, {:.1} s in all)",
        a.out.join("ensemble.json").display(),
        r.train_seconds,
        r.wall_seconds
    );
    Ok(())
}
