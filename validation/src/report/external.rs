//! The report of runs analysed from their checkpoints (`ffpe-validate analyze --out`): the same
//! `results.json`, tables, figures and `report.md` / `report.html` that `reproduce` writes for
//! its own runs ([`write_report`]), from [`ExternalStudy`]:
//!
//! - every run gets the single-run analysis of `reproduce` ([`analyse_run`]: windows,
//!   exponents, growth laws; with an LLC the time average `lambda_bar` and the fractal
//!   quantities; with a loss and an LLC the Gamma law), summarised and judged by the same
//!   claims ([`summarize`]);
//! - an ensemble gets the ensemble sections (headline verdicts, drift versus diffusion, aging
//!   and ergodicity, rival predictions: [`crate::drift::EnsembleStudy`]) first, as in
//!   `reproduce`.
//!
//! A claim whose inputs `analyze` does not have is "not tested" and its evidence says which
//! input is missing (no LLC estimates, no losses, a single optimizer, no reduced landscape).

use super::results::{Meta, PAPER, Results};
use super::summary::summarize;
use super::{ReportError, write_report};
use crate::analysis::results::RunAnalysis;
use crate::analysis::run::{RunAnalysisConfig, analyse_run};
use crate::analysis::stats::BootstrapConfig;
use crate::drift::external::ExternalStudy;
use crate::verdict::Verdict;
use std::path::Path;

/// The preset name `analyze` writes into `results.json` (`meta.preset`).
pub const ANALYZE_PRESET: &str = "analyze";

/// The bootstrap of the single-run analysis (that of `reproduce` at 1,000 resamples).
pub const BOOTSTRAP: BootstrapConfig = BootstrapConfig {
    resamples: 1000,
    level: 0.95,
    seed: 2025,
};

/// The `results.json` of the study (files not yet written: [`write_external_report`] does).
/// `runs` names the analysed runs as given on the command line; `wall_seconds` the time spent.
pub fn external_results(study: &ExternalStudy, runs: &[String], wall_seconds: f64) -> Results {
    let acfg = RunAnalysisConfig {
        bootstrap: BOOTSTRAP,
        ..Default::default()
    };
    let analyses: Vec<RunAnalysis> = study.runs.iter().map(|d| analyse_run(d, &acfg)).collect();
    let mut archs: Vec<String> = vec![];
    let mut opts = vec![];
    for d in &study.runs {
        if !archs.contains(&d.arch) {
            archs.push(d.arch.clone());
        }
        if !opts.contains(&d.optimizer) {
            opts.push(d.optimizer);
        }
    }
    let a = &study.analysis;
    let meta = Meta {
        version: env!("CARGO_PKG_VERSION").into(),
        preset: ANALYZE_PRESET.into(),
        device: "cpu".into(),
        data: format!(
            "checkpoints of {} (losses and LLC estimates from: {})",
            runs.join(", "),
            a.metrics.join(", ")
        ),
        architectures: archs,
        optimizers: opts,
        seeds: study.runs.len(),
        steps: a.steps.last().copied().unwrap_or(0),
        runs_trained: 0,
        runs_reused: study.runs.len(),
        wall_seconds,
        bound_threshold_s: crate::analysis::theory::BOUND_S,
        bootstrap_resamples: BOOTSTRAP.resamples,
        bootstrap_level: BOOTSTRAP.level,
        sgd_lr: 0.0,
        adam_lr: 0.0,
        momentum: 0.0,
        weight_decay: 0.0,
        batch_size: 0,
        paper: PAPER.into(),
        preset_note: String::new(),
        llc_setting: String::new(),
    };
    let mut res = summarize(analyses, meta, &BOOTSTRAP);
    res.studies.ensembles = study.ensemble.clone();
    let extra = super::claims::study_claims(&res.studies);
    res.claims.extend(extra);
    explain_missing(&mut res, study);
    res
}

/// Says, in the evidence of every claim that could not be tested, which input `analyze` lacked.
fn explain_missing(res: &mut Results, study: &ExternalStudy) {
    let has_llc = study.runs.iter().any(|r| !r.llc.is_empty());
    let has_loss = study
        .runs
        .iter()
        .any(|r| r.train_loss.iter().any(|l| l.is_finite()));
    let no_llc = "Not testable: no LLC estimates (give them per step with --metrics, column llc).";
    let no_loss =
        "Not testable: no training losses (give them per step with --metrics, column loss).";
    for c in &mut res.claims {
        if c.verdict != Verdict::NotTested {
            continue;
        }
        let why = match c.id.as_str() {
            "bound" | "llc_vs_displacement" | "llc_vs_test_error" if !has_llc => no_llc,
            "gamma_steady_state" if !has_llc => no_llc,
            "gamma_steady_state" if !has_loss => no_loss,
            "sgd_vs_adam" => {
                "Not testable here: needs at least two runs of each optimizer, with LLC estimates."
            }
            "ffpe_prediction_reduced_landscape"
            | "ffpe_prediction_normal_crossing"
            | "projected_steady_state" => {
                "Not testable by analyze: the FFPE of the reduced landscape needs the network's loss on its data, which analyze (checkpoints only) does not have."
            }
            _ => continue,
        };
        c.evidence = format!("{why} {}", c.evidence);
    }
}

/// Writes the report of `study` into `dir` ([`write_report`]: `results.json`, the CSV tables,
/// the figures, `report.md`, `report.html`) and returns its `results.json`.
pub fn write_external_report(
    study: &ExternalStudy,
    runs: &[String],
    wall_seconds: f64,
    dir: &Path,
) -> Result<Results, ReportError> {
    let mut res = external_results(study, runs, wall_seconds);
    write_report(&mut res, &study.runs, dir)?;
    Ok(res)
}
