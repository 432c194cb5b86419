//! `ffpe-validate llc-truth`: the SGLD LLC estimator against a closed-form coefficient.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use ffpe_validation::llc::NBeta;
use ffpe_validation::llc::truth::{KnownModel, estimate_known};
use ffpe_validation::llc::truth_data::export_data;

/// Arguments of `llc-truth` (the command's help is on its `Command` variant).
#[derive(Args)]
pub(crate) struct LlcTruthArgs {
    /// rrr:M,H,N,r (reduced-rank regression; 0 <= r <= min(M, H, N), H (M + N) <= 10000),
    /// power:p1,p2,.. or crossing:p1,p2,.. (even exponents 2 to 64, at most 16).
    #[arg(long)]
    model: String,
    /// Seed of the noise streams.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Inverse temperature n_beta, a positive number (default: per model, 3e3 for rrr, 1e3 for
    /// power, 1e6 for crossing).
    #[arg(long)]
    nbeta: Option<f64>,
    /// SGLD step size (default: per model, 7e-6 for rrr, 2e-5 for power, 1e-5 for crossing).
    #[arg(long)]
    epsilon: Option<f64>,
    /// Localization strength (default 1).
    #[arg(long)]
    gamma: Option<f64>,
    /// Chains (default 4).
    #[arg(long)]
    chains: Option<usize>,
    /// Draws per chain (default: 3600 for rrr, 18000 for power, 10800 for crossing).
    #[arg(long)]
    draws: Option<usize>,
    /// Burn-in steps (default: 60000 for rrr, 20000 otherwise).
    #[arg(long)]
    burnin: Option<usize>,
    /// Steps between draws (default: 150 for rrr, 50 otherwise).
    #[arg(long)]
    steps_between_draws: Option<usize>,
    /// Print one JSON object with exactly the keys estimate, truth and diagnostics.
    #[arg(long)]
    json: bool,
    /// Before estimating, write the model's true parameter, its settings and (rrr) a synthetic
    /// data set whose mean-squared-error loss is the population loss plus a constant exactly,
    /// to this safetensors file (format: `ffpe_validation::llc::truth_data`), so that another
    /// estimator can sample the same model.
    #[arg(long, value_name = "FILE")]
    export_data: Option<PathBuf>,
    /// With --export-data: write the file and exit without estimating.
    #[arg(long, requires = "export_data")]
    export_only: bool,
    /// After estimating, write the whole result but the per-step trace (per-chain LLCs, their
    /// spread, the draws' loss traces, diagnostics, timing) and the settings as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    summary: Option<PathBuf>,
}

pub(crate) fn cmd_llc_truth(a: LlcTruthArgs) -> Result<()> {
    let model: KnownModel = a.model.parse()?;
    let mut cfg = model.default_config();
    cfg.seed = a.seed;
    if let Some(v) = a.nbeta {
        if !(v.is_finite() && v > 0.0) {
            anyhow::bail!("invalid --nbeta {v}: a positive finite number");
        }
        cfg.nbeta = NBeta::Value(v);
    }
    cfg.epsilon = a.epsilon.unwrap_or(cfg.epsilon);
    cfg.gamma = a.gamma.unwrap_or(cfg.gamma);
    cfg.chains = a.chains.unwrap_or(cfg.chains);
    cfg.draws = a.draws.unwrap_or(cfg.draws);
    cfg.burnin = a.burnin.unwrap_or(cfg.burnin);
    cfg.steps_between_draws = a.steps_between_draws.unwrap_or(cfg.steps_between_draws);
    cfg.validate()?;
    if let Some(p) = &a.export_data {
        export_data(&model, &a.model, &cfg, p)
            .with_context(|| format!("--export-data {}", p.display()))?;
        if a.export_only {
            return Ok(());
        }
    }
    let e = estimate_known(&model, &cfg)?;
    if let Some(p) = &a.summary {
        let mut result = serde_json::to_value(&e.result)?;
        if let Some(o) = result.as_object_mut() {
            o.remove("trace");
        }
        let v = serde_json::json!({
            "model": a.model,
            "estimate": e.estimate,
            "truth": e.truth,
            "multiplicity": e.multiplicity,
            "config": cfg,
            "result": result,
        });
        ffpe_validation::io::write_atomic(p, serde_json::to_string(&v)?.as_bytes())
            .with_context(|| format!("--summary {}", p.display()))?;
    }
    if a.json {
        let v = serde_json::json!({
            "estimate": e.estimate,
            "truth": e.truth,
            "diagnostics": e.result.diagnostics,
        });
        println!("{v}");
    } else {
        println!(
            "{}: estimate {:.4} +- {:.4} (chains {:?}), truth {} (multiplicity {}), error {:+.1} %",
            a.model,
            e.estimate,
            e.result.llc_std,
            e.result.llc_per_chain,
            e.truth,
            e.multiplicity,
            100.0 * (e.estimate - e.truth) / e.truth
        );
        println!("  {}", crate::diagnostics_line(&e.result.diagnostics));
    }
    for w in e
        .result
        .warnings
        .iter()
        .chain(&e.result.diagnostics.warnings)
    {
        eprintln!("warning: {w}");
    }
    Ok(())
}
