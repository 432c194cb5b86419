//! The claims of the theory and their verdicts: the main sweep here, the studies in
//! [`study_claims`].

mod studies;

pub use studies::study_claims;

#[allow(unused_imports)]
use super::format::ci_text;
#[allow(unused_imports)]
use super::format::num;
#[allow(unused_imports)]
use super::results::{Correlations, GroupSummary, Meta, Results};
#[allow(unused_imports)]
use crate::analysis::across::{fraction_below, histogram, optimizer_row};
#[allow(unused_imports)]
use crate::analysis::results::RunAnalysis;
#[allow(unused_imports)]
use crate::analysis::stats::{
    BootstrapConfig, ConfidenceInterval, SplitMix64, bootstrap_mean, correlation_with_x_errors,
    mean, percentile_interval,
};
#[allow(unused_imports)]
use crate::analysis::stats::{bootstrap_mean_difference, normal_quantile};
use crate::analysis::theory::BOUND_S;
#[allow(unused_imports)]
use crate::verdict::{Claim, Verdict};

pub(super) fn majority_verdict(k: usize, n: usize) -> Verdict {
    if n == 0 {
        return Verdict::NotTested;
    }
    let p = crate::analysis::across::proportion(k, n);
    if p.ci.lo > 0.5 {
        Verdict::Supported
    } else if p.ci.hi < 0.5 {
        Verdict::Contradicted
    } else {
        Verdict::Inconclusive
    }
}

pub(super) fn claims(res: &Results, boot: &BootstrapConfig) -> Vec<Claim> {
    let mut out = Vec::new();
    let runs = &res.runs;

    // 1. Late subdiffusion.
    {
        let mut ev = String::new();
        let mut verdict = Verdict::NotTested;
        if let Some(p) = &res.fraction_below_half {
            ev.push_str(&format!(
                "{} of {} runs have a late exponent below 0.5 (fraction {}, 95 % CI {}). ",
                p.k,
                p.n,
                num(p.fraction),
                ci_text(&p.ci)
            ));
            let mut any_above = false;
            let mut all_below = true;
            for g in &res.groups {
                match &g.late_s_ci {
                    Some(ci) => {
                        ev.push_str(&format!(
                            "{} {}: mean s = {} (CI {}). ",
                            g.arch,
                            g.optimizer,
                            num(g.late_s_mean),
                            ci_text(ci)
                        ));
                        any_above |= ci.lo > BOUND_S;
                        all_below &= ci.hi < BOUND_S;
                    }
                    None => all_below = false,
                }
            }
            let above: Vec<String> = res
                .groups
                .iter()
                .filter(|g| g.late_s_ci.is_some_and(|c| c.lo > BOUND_S))
                .map(|g| format!("{} {}", g.arch, g.optimizer))
                .collect();
            if !above.is_empty() {
                ev.push_str(&format!(
                    "The whole CI lies above 0.5 for: {} (these runs are not subdiffusive in the late window).",
                    above.join(", ")
                ));
            }
            verdict = if any_above {
                Verdict::Contradicted
            } else if all_below {
                Verdict::Supported
            } else {
                majority_verdict(p.k, p.n)
            };
        } else {
            ev.push_str("No run had a late window to fit.");
        }
        out.push(Claim {
            id: "late_subdiffusion".into(),
            statement: "Late in training the weights subdiffuse: R(t) ~ t^s with s < 0.5.".into(),
            verdict,
            evidence: ev,
        });
    }

    // 2. Early super-diffusion followed by subdiffusion.
    {
        let (verdict, ev) = match &res.fraction_early_superdiffusive {
            Some(p) => (
                majority_verdict(p.k, p.n),
                format!(
                    "{} of {} runs show early s > 0.5 followed by late s < 0.5 (fraction {}, 95 % CI {}).",
                    p.k,
                    p.n,
                    num(p.fraction),
                    ci_text(&p.ci)
                ),
            ),
            None => (Verdict::NotTested, "No run had both windows.".into()),
        };
        out.push(Claim {
            id: "early_superdiffusion".into(),
            statement: "An early super-diffusive phase (s > 0.5) is followed by subdiffusion."
                .into(),
            verdict,
            evidence: ev,
        });
    }

    // 3. Power law versus log versus Brownian.
    {
        let n: usize = res.aic_winner_counts.iter().map(|c| c.1).sum();
        let k = res
            .aic_winner_counts
            .iter()
            .find(|c| c.0 == "power")
            .map_or(0, |c| c.1);
        let ev = format!(
            "Late-window AIC winners over {} runs: {}.",
            n,
            res.aic_winner_counts
                .iter()
                .map(|(m, c)| format!("{m} {c}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        out.push(Claim {
            id: "power_law".into(),
            statement: "Late growth of R(t) is a power law (rather than logarithmic or Brownian)."
                .into(),
            verdict: majority_verdict(k, n),
            evidence: ev,
        });
    }

    // 4. The bound.
    {
        let th: Vec<_> = runs.iter().filter_map(|r| r.theory.as_ref()).collect();
        let holds = th.iter().filter(|t| t.bound_holds).count();
        let below = th.iter().filter(|t| t.bound_decided == Some(true)).count();
        let above = th.iter().filter(|t| t.bound_decided == Some(false)).count();
        let verdict = if th.is_empty() {
            Verdict::NotTested
        } else if above * 2 > th.len() {
            Verdict::Contradicted
        } else if above == 0 && below * 2 >= th.len() {
            Verdict::Supported
        } else {
            Verdict::Inconclusive
        };
        out.push(Claim {
            id: "bound".into(),
            statement: "d_s <= lambda_bar, which with d_s = 2 lambda_bar s is the same statement as s <= 0.5 (circular: it tests only the exponent).".into(),
            verdict,
            evidence: format!(
                "The bound holds at the point estimate in {} of {} runs; the whole CI of s lies below 0.5 in {} runs and above 0.5 in {} runs.",
                holds,
                th.len(),
                below,
                above
            ),
        });
    }

    // 5-6. Correlations.
    for (id, stmt, c) in [
        (
            "llc_vs_displacement",
            "lambda_bar is correlated with the distance travelled (final R).",
            &res.correlations.llc_vs_displacement,
        ),
        (
            "llc_vs_test_error",
            "lambda_bar is correlated with the test error.",
            &res.correlations.llc_vs_test_error,
        ),
    ] {
        let (verdict, ev) = match c {
            Some(c) => {
                let excl = c.spearman_ci.lo > 0.0 || c.spearman_ci.hi < 0.0;
                (
                    if excl {
                        Verdict::Supported
                    } else {
                        Verdict::Inconclusive
                    },
                    format!(
                        "Over {} runs: Pearson {} (95 % CI {}), Spearman {} (95 % CI {}){}. The intervals resample the runs and include each run's LLC estimation error (its lambda_bar interval).",
                        c.n,
                        num(c.pearson),
                        ci_text(&c.pearson_ci),
                        num(c.spearman),
                        ci_text(&c.spearman_ci),
                        if excl {
                            ""
                        } else {
                            "; the Spearman CI includes 0, so no correlation is established"
                        }
                    ),
                )
            }
            None => (Verdict::NotTested, "Too few runs with an LLC.".into()),
        };
        out.push(Claim {
            id: id.into(),
            statement: stmt.into(),
            verdict,
            evidence: ev,
        });
    }

    // 7. SGD versus Adam.
    {
        let get = |opt: crate::optim::OptimizerKind,
                   f: &dyn Fn(&RunAnalysis) -> Option<f64>|
         -> Vec<f64> {
            runs.iter()
                .filter(|r| r.optimizer == opt)
                .filter_map(f)
                .filter(|x| x.is_finite())
                .collect()
        };
        use crate::optim::OptimizerKind::{Adam, Sgd};
        let ds = |r: &RunAnalysis| r.theory.as_ref().map(|t| t.spectral_dimension);
        let llc = |r: &RunAnalysis| Some(r.final_llc);
        let dd = bootstrap_mean_difference(&get(Sgd, &ds), &get(Adam, &ds), boot);
        let dl = bootstrap_mean_difference(&get(Sgd, &llc), &get(Adam, &llc), boot);
        let (verdict, ev) = match (dd, dl) {
            (Some(a), Some(b)) => {
                let v = if a.lo > 0.0 && b.lo > 0.0 {
                    Verdict::Supported
                } else if a.hi < 0.0 || b.hi < 0.0 {
                    Verdict::Contradicted
                } else {
                    Verdict::Inconclusive
                };
                let mut s = String::new();
                for row in &res.optimizer_table {
                    s.push_str(&format!(
                        "{}: d_s {} +- {}, final LLC {} +- {}, accuracy {} % (published d_s {} +- {}, LLC {} +- {}, accuracy {} %). ",
                        row.optimizer,
                        num(row.d_s_mean),
                        num(row.d_s_std),
                        num(row.llc_mean),
                        num(row.llc_std),
                        num(row.test_accuracy_mean),
                        num(row.published_d_s.0),
                        num(row.published_d_s.1),
                        num(row.published_llc.0),
                        num(row.published_llc.1),
                        num(row.published_test_accuracy),
                    ));
                }
                s.push_str(&format!(
                    "SGD minus Adam: d_s 95 % CI {}, final LLC 95 % CI {}.",
                    ci_text(&a),
                    ci_text(&b)
                ));
                (v, s)
            }
            _ => (
                Verdict::NotTested,
                "Needs at least two runs of each optimizer.".into(),
            ),
        };
        out.push(Claim {
            id: "sgd_vs_adam".into(),
            statement: "SGD reaches a larger spectral dimension and LLC than Adam.".into(),
            verdict,
            evidence: ev,
        });
    }

    // 8. Gamma law of the excess losses.
    {
        let g: Vec<_> = runs.iter().filter_map(|r| r.gamma_law.as_ref()).collect();
        let info: Vec<_> = g.iter().filter(|t| t.informative()).collect();
        let both = info
            .iter()
            .filter(|t| t.ks_p_value_effective >= 0.05 && t.llc_inside_free_ci)
            .count();
        let trending = g.iter().filter(|t| t.trend_spearman.abs() >= 0.5).count();
        let pass_ks = g.iter().filter(|t| t.ks_p_value_effective >= 0.05).count();
        let inside = g.iter().filter(|t| t.llc_inside_free_ci).count();
        let verdict = if g.is_empty() {
            Verdict::NotTested
        } else if info.len() * 2 < g.len() {
            Verdict::Inconclusive
        } else {
            majority_verdict(both, info.len())
        };
        let ratio: Vec<f64> = g.iter().map(|t| t.free_shape / t.shape_llc).collect();
        let med = {
            let mut r = ratio.clone();
            r.sort_by(f64::total_cmp);
            crate::analysis::stats::quantile_sorted(&r, 0.5)
        };
        out.push(Claim {
            id: "gamma_steady_state".into(),
            statement: "Late-window excess losses follow a Gamma law whose shape is the LLC (the non-circular test of the steady state).".into(),
            verdict,
            evidence: if g.is_empty() {
                "No run had enough late-window losses.".into()
            } else {
                format!(
                    "{} of {} runs are informative (at least 10 effective points and no strong trend); in {} runs the loss still trends in the late window (|Spearman| at least 0.5: not yet stationary, so the steady-state premise fails there). KS test with shape fixed to lambda_bar not rejected at 0.05 (effective n) in {} of {} runs; lambda_bar inside the CI of the freely fitted shape in {} of {} runs; both, among informative runs, in {} of {}. Median ratio free shape / lambda_bar {}.",
                    info.len(),
                    g.len(),
                    trending,
                    pass_ks,
                    g.len(),
                    inside,
                    g.len(),
                    both,
                    info.len(),
                    num(med)
                )
            },
        });
    }

    // 9. FFPE out-of-sample displacement.
    for model in ["reduced_landscape", "normal_crossing"] {
        let p: Vec<_> = runs
            .iter()
            .flat_map(|r| r.ffpe.predictions.iter())
            .filter(|p| p.model == model)
            .collect();
        let k = p.iter().filter(|p| p.beats_naive).count();
        let ffpe_err: Vec<f64> = p.iter().map(|p| p.test_rmse_log).collect();
        let naive_err: Vec<f64> = p.iter().map(|p| p.naive_test_rmse_log).collect();
        out.push(Claim {
            id: format!("ffpe_prediction_{model}"),
            statement: format!(
                "The FFPE on the {} model, fitted on the first half of the late window, predicts R(t) on the second half better than a naive power-law extrapolation.",
                model.replace('_', " ")
            ),
            verdict: majority_verdict(k, p.len()),
            evidence: if p.is_empty() {
                "No FFPE prediction was made (see the per-run notes).".into()
            } else {
                format!(
                    "FFPE better in {} of {} runs; mean RMSE of ln R on the second half: FFPE {}, naive {}.",
                    k,
                    p.len(),
                    num(mean(&ffpe_err)),
                    num(mean(&naive_err))
                )
            },
        });
    }

    // 10. Projected weights against the FFPE steady state.
    {
        let s: Vec<_> = runs
            .iter()
            .filter_map(|r| r.ffpe.steady_state.as_ref())
            .collect();
        let l1: Vec<f64> = s.iter().map(|s| s.l1_distance).collect();
        let m = mean(&l1);
        let verdict = if s.is_empty() {
            Verdict::NotTested
        } else if m <= 0.25 {
            Verdict::Supported
        } else if m >= 0.5 {
            Verdict::Contradicted
        } else {
            Verdict::Inconclusive
        };
        out.push(Claim {
            id: "projected_steady_state".into(),
            statement: "The late-window weights projected on the first principal direction follow the FFPE steady state of the reduced landscape.".into(),
            verdict,
            evidence: if s.is_empty() {
                "No reduced landscape was tabulated.".into()
            } else {
                format!(
                    "Mean L1 distance between the histogram and the steady-state marginal over {} runs: {} (thresholds: at most 0.25 supported, at least 0.5 contradicted; 2 means disjoint).",
                    s.len(),
                    num(m)
                )
            },
        });
    }
    out
}
