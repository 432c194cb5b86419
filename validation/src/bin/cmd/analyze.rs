//! `ffpe-validate analyze`: any training run from its safetensors checkpoints.

use anyhow::{Context, Result};
use clap::Args;
use ffpe_validation::drift::external::{ExternalConfig, analyse_runs};
use std::path::PathBuf;

#[derive(Args)]
pub(crate) struct AnalyzeArgs {
    /// Run directories (each a directory of .safetensors checkpoints, or holding one named
    /// `checkpoints/`); several runs from bit-identical initial weights are analysed as one
    /// ensemble (drift and diffusion).
    #[arg(required = true)]
    runs: Vec<PathBuf>,
    /// Keep only tensors whose name contains this (repeatable; default: every tensor).
    #[arg(long)]
    include: Vec<String>,
    /// Keep BatchNorm buffers (running_mean, running_var, num_batches_tracked).
    #[arg(long)]
    keep_buffers: bool,
    /// Write analysis.json into this directory (atomically).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print analysis.json to stdout.
    #[arg(long)]
    json: bool,
}

pub(crate) fn cmd_analyze(a: AnalyzeArgs) -> Result<()> {
    let cfg = ExternalConfig {
        include: a.include.clone(),
        keep_buffers: a.keep_buffers,
    };
    let r = analyse_runs(&a.runs, &cfg).context("analyze")?;
    let json = serde_json::to_string_pretty(&r)?;
    if let Some(out) = &a.out {
        std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
        ffpe_validation::io::write_atomic(&out.join("analysis.json"), json.as_bytes())?;
    }
    if a.json {
        println!("{json}");
        return Ok(());
    }
    println!(
        "{} runs, {} parameters ({} tensors), {} common steps ({} to {})",
        r.runs.len(),
        r.n_params,
        r.tensors.len(),
        r.steps.len(),
        r.steps.first().unwrap_or(&0),
        r.steps.last().unwrap_or(&0)
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
            "ensemble from one initialisation: drift |m - w0|^2 {:.4e}, diffusion tr Sigma {:.4e} at the last step; exponent of tr Sigma {}",
            d.last().copied().unwrap_or(f64::NAN),
            s.last().copied().unwrap_or(f64::NAN),
            r.diffusion_exponent
                .map_or("n/a".into(), |x| format!("{x:.4}"))
        );
    }
    for n in &r.notes {
        println!("note: {n}");
    }
    Ok(())
}
