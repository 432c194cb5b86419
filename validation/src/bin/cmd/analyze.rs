//! `ffpe-validate analyze`: any training run from its safetensors checkpoints.

use anyhow::{Context, Result};
use clap::Args;
use ffpe_validation::drift::external::{ExternalConfig, RunInput, analyse_study_with_progress};
use ffpe_validation::drift::metrics::{MetricColumns, assign};
use ffpe_validation::optim::OptimizerKind;
use std::path::PathBuf;

#[derive(Args)]
pub(crate) struct AnalyzeArgs {
    /// Run directories (each a directory of .safetensors checkpoints, or holding one named
    /// `checkpoints/`). Each checkpoint's step is its metadata key `step`, else the last digits
    /// of its file name (read from the header only). Runs whose first checkpoints are
    /// bit-identical share an initialisation; when every initialisation has at least two runs
    /// they are analysed as an ensemble (drift and diffusion, exponents, stationarity, aging,
    /// the headline verdicts of `reproduce`).
    #[arg(required = true)]
    runs: Vec<PathBuf>,
    /// Keep only tensors whose name contains this (repeatable; default: every tensor).
    #[arg(long)]
    include: Vec<String>,
    /// Keep BatchNorm buffers (running_mean, running_var, num_batches_tracked).
    #[arg(long)]
    keep_buffers: bool,
    /// Per-step metrics, CSV with a header: a `step` column and any of `loss` (training loss;
    /// also `train_loss`), `test_loss` (also `val_loss`), `llc` (also `llc/mean`, devinterp's
    /// name, and `llc_mean`); joined to the checkpoints by exact step. Either one file per run,
    /// in the order of the runs, or files with a `run` column naming each row's run (its
    /// directory as given, or the directory's last component). Without it, a run directory
    /// written by `train` uses its own summary.json.
    #[arg(long, value_name = "FILE.csv")]
    metrics: Vec<PathBuf>,
    /// Read a quantity from another column: QUANTITY=COLUMN with QUANTITY one of step, loss,
    /// test_loss, llc, run (repeatable), e.g. `--metrics-column llc=lambda_hat`.
    #[arg(long, value_name = "QUANTITY=COLUMN")]
    metrics_column: Vec<String>,
    /// Steps between the evenly spaced checkpoints of the stationarity test and the aging
    /// analysis (every multiple up to the last step must be a checkpoint of every run; default:
    /// what a `train` summary declares, else the smallest such spacing found, else none).
    #[arg(long, value_name = "K")]
    every: Option<u64>,
    /// The optimizer the runs were trained with: sgd or adam (a label of the single-run tables;
    /// a run directory written by `train` says its own).
    #[arg(long, default_value = "sgd")]
    optimizer: String,
    /// Write into this directory (atomically): analysis.json, and the report of `reproduce`
    /// for these runs: results.json, report.md, report.html, CSV tables and plots/.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print analysis.json to stdout.
    #[arg(long)]
    json: bool,
}

pub(crate) fn cmd_analyze(a: AnalyzeArgs) -> Result<()> {
    let t0 = std::time::Instant::now();
    let optimizer = match a.optimizer.as_str() {
        "sgd" => OptimizerKind::Sgd,
        "adam" => OptimizerKind::Adam,
        o => anyhow::bail!("invalid --optimizer {o}: sgd or adam"),
    };
    let cfg = ExternalConfig {
        include: a.include.clone(),
        keep_buffers: a.keep_buffers,
        every: a.every,
        optimizer,
        ..ExternalConfig::default()
    };
    let mut cols = MetricColumns::default();
    for m in &a.metrics_column {
        cols.set(m)?;
    }
    let metrics = assign(&a.metrics, &a.runs, &cols).context("analyze --metrics")?;
    let inputs: Vec<RunInput<'_>> = a.runs.iter().map(|d| RunInput::Dir(d)).collect();
    let pb = indicatif::ProgressBar::new(0).with_style(
        indicatif::ProgressStyle::with_template(
            "{msg} [{bar:30}] {pos}/{len} checkpoints ({elapsed}, eta {eta})",
        )?
        .progress_chars("=> "),
    );
    pb.set_message("analyze");
    let study = analyse_study_with_progress(&inputs, &metrics, &cfg, &mut |done, total| {
        pb.set_length(total);
        pb.set_position(done);
    })
    .context("analyze")?;
    pb.finish_and_clear();
    let r = &study.analysis;
    let json = serde_json::to_string_pretty(r)?;
    if let Some(out) = &a.out {
        std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
        ffpe_validation::io::write_atomic(&out.join("analysis.json"), json.as_bytes())?;
        let names: Vec<String> = a.runs.iter().map(|p| p.display().to_string()).collect();
        ffpe_validation::report::external::write_external_report(
            &study,
            &names,
            t0.elapsed().as_secs_f64(),
            out,
        )
        .context("writing the report")?;
    }
    if a.json {
        println!("{json}");
        return Ok(());
    }
    println!(
        "{} runs, {} parameters ({} tensors), {} common steps ({} to {}), {} initialisation(s)",
        r.runs.len(),
        r.n_params,
        r.tensors.len(),
        r.steps.len(),
        r.steps.first().unwrap_or(&0),
        r.steps.last().unwrap_or(&0),
        r.initialisations
    );
    for run in &r.runs {
        println!(
            "  {}: R(T) = {:.4e}, late exponent of R(t) {}",
            run.dir,
            run.r.last().copied().unwrap_or(f64::NAN),
            run.late_exponent
                .map_or("n/a".into(), |s| format!("{s:.4}"))
        );
    }
    if let (Some(d), Some(s)) = (&r.drift, &r.diffusion) {
        println!(
            "ensemble: drift |m - w0|^2 {:.4e}, diffusion tr Sigma {:.4e} at the last step; exponent of tr Sigma {}",
            d.last().copied().unwrap_or(f64::NAN),
            s.last().copied().unwrap_or(f64::NAN),
            r.diffusion_exponent
                .map_or("n/a".into(), |x| format!("{x:.4}"))
        );
    }
    if let Some(e) = &study.ensemble {
        let h = &e.verdicts.headline;
        println!(
            "headline claims: {} supported, {} contradicted, {} inconclusive, {} not testable",
            h.supported, h.contradicted, h.inconclusive, h.not_testable
        );
    }
    for n in &r.notes {
        println!("note: {n}");
    }
    if let Some(out) = &a.out {
        println!(
            "wrote {}/analysis.json, results.json, report.md, report.html",
            out.display()
        );
    }
    Ok(())
}
