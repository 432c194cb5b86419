//! From per-run analyses to the across-run summaries and the verdicts.

use super::claims::claims;
use super::results::{Correlations, GroupSummary, Meta, Results};
use crate::analysis::across::{fraction_below, histogram, optimizer_row};
use crate::analysis::results::RunAnalysis;
use crate::analysis::stats::{
    BootstrapConfig, bootstrap_mean, correlation_with_x_errors, mean, normal_quantile,
};
use crate::analysis::theory::BOUND_S;

fn groups(runs: &[RunAnalysis], boot: &BootstrapConfig) -> Vec<GroupSummary> {
    let mut keys: Vec<(String, crate::optim::OptimizerKind)> = Vec::new();
    for r in runs {
        let k = (r.arch.clone(), r.optimizer);
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    keys.into_iter()
        .map(|(arch, opt)| {
            let g: Vec<&RunAnalysis> = runs
                .iter()
                .filter(|r| r.arch == arch && r.optimizer == opt)
                .collect();
            let late: Vec<f64> = g
                .iter()
                .filter_map(|r| r.late_fit.as_ref().map(|f| f.displacement_exponent))
                .collect();
            let early: Vec<f64> = g
                .iter()
                .filter_map(|r| r.early_fit.as_ref().map(|f| f.displacement_exponent))
                .collect();
            let ds: Vec<f64> = g
                .iter()
                .filter_map(|r| r.theory.as_ref().map(|t| t.spectral_dimension))
                .collect();
            let lb: Vec<f64> = g
                .iter()
                .map(|r| r.lambda_bar)
                .filter(|x| x.is_finite())
                .collect();
            let acc: Vec<f64> = g.iter().map(|r| r.test_accuracy).collect();
            GroupSummary {
                arch,
                optimizer: opt,
                runs: late.len(),
                late_s_mean: mean(&late),
                late_s_ci: bootstrap_mean(&late, boot).ok(),
                early_s_mean: mean(&early),
                lambda_bar_mean: mean(&lb),
                d_s_mean: mean(&ds),
                test_accuracy_mean: mean(&acc),
            }
        })
        .collect()
}

/// Builds the across-run sections and the verdicts.
pub fn summarize(runs: Vec<RunAnalysis>, meta: Meta, boot: &BootstrapConfig) -> Results {
    let groups = groups(&runs, boot);
    let late_s: Vec<f64> = runs
        .iter()
        .filter_map(|r| r.late_fit.as_ref().map(|f| f.displacement_exponent))
        .collect();
    let exponent_histogram = (!late_s.is_empty()).then(|| histogram(&late_s, 12, 0.0, 1.0));
    let fraction_below_half = (!late_s.is_empty()).then(|| fraction_below(&late_s, BOUND_S));
    let both: Vec<&RunAnalysis> = runs
        .iter()
        .filter(|r| r.early_fit.is_some() && r.late_fit.is_some())
        .collect();
    // "Early super-diffusive then subdiffusive": early s > 1/2 and late s < 1/2. Encoded as the
    // fraction of runs whose indicator (1 = pattern present) is below 1/2 negated: count directly.
    let pattern: Vec<f64> = both
        .iter()
        .map(|r| {
            let e = r
                .early_fit
                .as_ref()
                .map_or(0.0, |f| f.displacement_exponent);
            let l = r.late_fit.as_ref().map_or(1.0, |f| f.displacement_exponent);
            if e > BOUND_S && l < BOUND_S { 0.0 } else { 1.0 }
        })
        .collect();
    let fraction_early_superdiffusive =
        (!pattern.is_empty()).then(|| fraction_below(&pattern, 0.5));
    let mut aic_winner_counts: Vec<(String, usize)> = ["power", "log", "brownian"]
        .iter()
        .map(|m| (m.to_string(), 0))
        .collect();
    for r in &runs {
        if let Some(g) = &r.growth_models
            && let Some(c) = aic_winner_counts.iter_mut().find(|c| c.0 == g.winner)
        {
            c.1 += 1;
        }
    }
    // Correlations across all runs with a finite lambda_bar.
    let ok: Vec<&RunAnalysis> = runs
        .iter()
        .filter(|r| r.lambda_bar.is_finite() && r.final_displacement.is_finite())
        .collect();
    let lb: Vec<f64> = ok.iter().map(|r| r.lambda_bar).collect();
    // Each lambda_bar is an SGLD estimate: its bootstrap interval, read as a normal standard
    // error, enters the correlation intervals (0 where a run has too few LLC estimates for
    // an interval).
    let lb_se: Vec<f64> = ok
        .iter()
        .map(|r| {
            r.lambda_bar_ci.as_ref().map_or(0.0, |ci| {
                (ci.hi - ci.lo) / (2.0 * normal_quantile(0.5 + ci.level / 2.0))
            })
        })
        .collect();
    let disp: Vec<f64> = ok.iter().map(|r| r.final_displacement).collect();
    let err: Vec<f64> = ok.iter().map(|r| 100.0 - r.test_accuracy).collect();
    let correlations = Correlations {
        llc_vs_displacement: correlation_with_x_errors(&lb, &lb_se, &disp, boot).ok(),
        llc_vs_test_error: correlation_with_x_errors(&lb, &lb_se, &err, boot).ok(),
    };
    let mut optimizer_table = Vec::new();
    for opt in crate::optim::OptimizerKind::ALL {
        let g: Vec<&RunAnalysis> = runs.iter().filter(|r| r.optimizer == opt).collect();
        if g.is_empty() {
            continue;
        }
        let ds: Vec<f64> = g
            .iter()
            .filter_map(|r| r.theory.as_ref().map(|t| t.spectral_dimension))
            .collect();
        let llc: Vec<f64> = g.iter().map(|r| r.final_llc).collect();
        let acc: Vec<f64> = g.iter().map(|r| r.test_accuracy).collect();
        optimizer_table.push(optimizer_row(opt, &ds, &llc, &acc));
    }
    let mut res = Results {
        meta,
        runs,
        groups,
        correlations,
        exponent_histogram,
        fraction_below_half,
        fraction_early_superdiffusive,
        aic_winner_counts,
        optimizer_table,
        claims: Vec::new(),
        studies: Default::default(),
        llc_diagnostics: None,
        files: Vec::new(),
    };
    res.claims = claims(&res, boot);
    res
}
