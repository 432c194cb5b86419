//! `ffpe-validate hessian`: the curvature of the training loss at a checkpoint.

use anyhow::{Context, Result, bail};
use clap::Args;
use ffpe_validation::curvature::{HessianConfig, measure};
use ffpe_validation::data;
use ffpe_validation::model::Network;
use std::path::PathBuf;

#[derive(Args)]
pub(crate) struct HessianArgs {
    #[command(flatten)]
    data: crate::DataArgs,
    /// Checkpoint (safetensors with fc1.weight, fc1.bias, ...; no BatchNorm).
    #[arg(long)]
    weights: PathBuf,
    /// Expected architecture, e.g. 784-128-10 (checked against the checkpoint; default: inferred).
    #[arg(long)]
    arch: Option<String>,
    /// Top eigenpairs (largest first).
    #[arg(long, default_value_t = HessianConfig::default().top)]
    top: usize,
    /// Also the spectral density (stochastic Lanczos quadrature).
    #[arg(long)]
    density: bool,
    /// Use only the first N training images (default: all of the split).
    #[arg(long, value_name = "N")]
    max_samples: Option<usize>,
    /// Seed of the Lanczos start vector and the SLQ probes.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print one JSON object (keys: eigenvalues, largest first; residuals; density; noise_trace; noise_projected; ...).
    #[arg(long)]
    json: bool,
}

pub(crate) fn cmd_hessian(a: HessianArgs) -> Result<()> {
    let net = Network::load(&a.weights, &candle_core::Device::Cpu)?;
    if !net.arch().is_plain_mlp() {
        bail!(
            "{}: is {}; hessian supports fully connected ReLU networks without BatchNorm only \
             (no convolutional or BatchNorm layers)",
            a.weights.display(),
            net.arch()
        );
    }
    if let Some(s) = &a.arch {
        let want = crate::arch_of(s, false)?;
        if &want != net.arch() {
            bail!(
                "--arch {want} does not match the checkpoint {} ({})",
                a.weights.display(),
                net.arch()
            );
        }
    }
    let d = data::load(&a.data.config())?;
    let params: Vec<f64> = net.flat_params()?.into_iter().map(f64::from).collect();
    let cfg = HessianConfig {
        top: a.top,
        density: a.density,
        max_samples: a.max_samples,
        seed: a.seed,
        ..HessianConfig::default()
    };
    let r = measure(
        &net.arch().widths,
        &params,
        &d.train.images,
        &d.train.labels,
        &cfg,
    )
    .with_context(|| format!("hessian of {}", a.weights.display()))?;
    if a.json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        println!(
            "{} ({} parameters, {} images): loss {:.6}, |grad| {:.3e}, {} Lanczos steps, {:.1} s",
            a.weights.display(),
            r.n_params,
            r.n_samples,
            r.loss,
            r.grad_norm,
            r.lanczos_steps,
            r.seconds
        );
        for (i, (h, res)) in r.eigenvalues.iter().zip(&r.residuals).enumerate() {
            let c = r
                .noise_projected
                .as_ref()
                .map(|c| format!("  noise c_i {:.6e}", c[i]))
                .unwrap_or_default();
            println!("  h_{} = {h:.6e}  (residual {res:.1e}){c}", i + 1);
        }
        if let Some(t) = r.noise_trace {
            println!("  tr C (per-sample gradient covariance) = {t:.6e}");
        }
        if let Some(dn) = &r.density {
            println!(
                "  SLQ: tr H = {:.6e}, tr H^2 = {:.6e} (density on {} points in --json)",
                dn.trace,
                dn.trace_sq,
                dn.grid.len()
            );
        }
    }
    Ok(())
}
