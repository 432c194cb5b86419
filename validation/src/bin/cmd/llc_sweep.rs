//! `ffpe-validate llc-sweep`: the epsilon x gamma calibration of the LLC estimator.

use anyhow::{Context, Result, bail};
use clap::Args;
use ffpe_validation::data;
use ffpe_validation::llc::sweep::{RULE, Sweep, sweep};
use ffpe_validation::llc::{LlcConfig, NBeta};
use ffpe_validation::model::Network;
use ffpe_validation::report::plots::{Chart, Series, Style, render};
use std::path::PathBuf;

#[derive(Args)]
pub(crate) struct LlcSweepArgs {
    #[command(flatten)]
    data: crate::DataArgs,
    /// Checkpoint (safetensors).
    #[arg(long)]
    weights: PathBuf,
    /// Expected architecture, e.g. 784-128-10 (checked against the checkpoint).
    #[arg(long)]
    arch: Option<String>,
    /// Step sizes, comma-separated (each positive).
    #[arg(long, value_delimiter = ',', required = true)]
    epsilons: Vec<f64>,
    /// Localization strengths, comma-separated (each >= 0).
    #[arg(long, value_delimiter = ',', required = true)]
    gammas: Vec<f64>,
    /// Inverse temperature: batch (B/ln B), dataset (n/ln n) or a number.
    #[arg(long, default_value = "batch")]
    nbeta: String,
    /// Chains per grid point.
    #[arg(long, default_value_t = LlcConfig::default().chains)]
    chains: usize,
    /// Draws per chain.
    #[arg(long, default_value_t = LlcConfig::default().draws)]
    draws: usize,
    /// Burn-in steps.
    #[arg(long, default_value_t = LlcConfig::default().burnin)]
    burnin: usize,
    /// Minibatch size.
    #[arg(long, default_value_t = LlcConfig::default().batch_size)]
    batch_size: usize,
    /// Seed.
    #[arg(long, default_value_t = LlcConfig::default().seed)]
    seed: u64,
    /// Write sweep.json and the plot llc_sweep.png / .svg (estimate against epsilon, one line
    /// per gamma, the chosen point marked) into this directory.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print the sweep as one JSON object (keys: points, chosen, rule, diagnosis).
    #[arg(long)]
    json: bool,
}

pub(crate) fn cmd_llc_sweep(a: LlcSweepArgs, threads: usize) -> Result<()> {
    if let Some(e) = a.epsilons.iter().find(|e| !(e.is_finite() && **e > 0.0)) {
        bail!("invalid --epsilons value {e}: each a positive finite number");
    }
    if let Some(g) = a.gammas.iter().find(|g| !(g.is_finite() && **g >= 0.0)) {
        bail!("invalid --gammas value {g}: each a finite number >= 0");
    }
    let net = Network::load(&a.weights, &candle_core::Device::Cpu)?;
    if let Some(s) = &a.arch {
        let want = crate::arch_of(s, net.arch().batchnorm)?;
        if &want != net.arch() {
            bail!(
                "--arch {want} does not match the checkpoint {} ({})",
                a.weights.display(),
                net.arch()
            );
        }
    }
    let d = data::load(&a.data.config())?;
    let base = LlcConfig {
        nbeta: a.nbeta.parse::<NBeta>()?,
        chains: a.chains,
        draws: a.draws,
        burnin: a.burnin,
        batch_size: a.batch_size,
        seed: a.seed,
        ..LlcConfig::default()
    };
    let s = sweep(&net, &d.train, &base, &a.epsilons, &a.gammas, threads)?;
    let json = serde_json::to_string_pretty(&s)?;
    if let Some(dir) = &a.out {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let p = dir.join("sweep.json");
        ffpe_validation::io::write_atomic(&p, json.as_bytes())?;
        render(dir, "llc_sweep", &chart(&s, &a.gammas))
            .map_err(|e| anyhow::anyhow!("plot in {}: {e}", dir.display()))?;
    }
    if a.json {
        println!("{}", serde_json::to_string(&s)?);
    } else {
        for p in &s.points {
            println!(
                "eps {:.2e} gamma {:<8} LLC {:.4} +- {:.4}  {}{}",
                p.epsilon,
                p.gamma,
                p.llc_mean,
                p.llc_std,
                crate::diagnostics_line(&p.diagnostics),
                if p.usable {
                    String::new()
                } else {
                    format!("  [{}]", p.reasons.join("; "))
                }
            );
        }
        match s.chosen {
            Some(i) => println!(
                "chosen: epsilon {:.2e}, gamma {} (LLC {:.4}); rule: {RULE}",
                s.points[i].epsilon, s.points[i].gamma, s.points[i].llc_mean
            ),
            None => println!("no grid point is usable; rule: {RULE}"),
        }
        if let Some(d) = &s.diagnosis {
            println!("diagnosis: {d}");
        }
    }
    Ok(())
}

/// The estimate against log10 epsilon, one line per gamma, the chosen point as a marker.
fn chart(s: &Sweep, gammas: &[f64]) -> Chart {
    let mut series: Vec<Series> = gammas
        .iter()
        .enumerate()
        .map(|(k, &g)| Series {
            label: format!("gamma {g}"),
            points: s
                .points
                .iter()
                .filter(|p| p.gamma.to_bits() == g.to_bits() && p.llc_mean.is_finite())
                .map(|p| (p.epsilon.log10(), p.llc_mean))
                .collect(),
            style: Style::Line,
            color: k,
        })
        .collect();
    if let Some(i) = s.chosen {
        let p = &s.points[i];
        series.push(Series {
            label: "chosen".into(),
            points: vec![(p.epsilon.log10(), p.llc_mean)],
            style: Style::Points,
            color: 3,
        });
    }
    Chart {
        title: "LLC estimate across the SGLD settings".into(),
        x_label: "log10 epsilon".into(),
        y_label: "LLC estimate".into(),
        series,
        bars: vec![],
    }
}
