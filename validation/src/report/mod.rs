//! The reproduction report: `results.json` first, then CSV tables, plots (SVG and PNG), and
//! `report.md` / `report.html` that present a verdict per claim with numbers and intervals.
//!
//! [`summary::summarize`] turns per-run analyses into [`results::Results`];
//! [`write_report`] writes every artifact into a directory.

pub mod document;
pub mod format;
pub mod plots;
pub mod results;
pub mod summary;

use crate::analysis::run::RunData;
use document::Document;
use format::{num, opt};
use plots::{Chart, Series, Style, render};
use results::Results;
use std::fmt::Write as _;
use std::path::Path;

/// Errors of report writing.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A plot could not be drawn.
    #[error("plot {name}: {why}")]
    Plot {
        /// The plot.
        name: String,
        /// The cause.
        why: String,
    },
    /// JSON serialisation failed.
    #[error("results.json: {0}")]
    Json(#[from] serde_json::Error),
}

/// Writes `path` atomically (temporary file in the same directory, then rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    let io = |source| ReportError::Io {
        path: path.display().to_string(),
        source,
    };
    let tmp = path.with_extension(format!(
        "{}.tmp",
        path.extension().and_then(|e| e.to_str()).unwrap_or("")
    ));
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

fn ci(c: &Option<crate::analysis::stats::ConfidenceInterval>) -> String {
    c.as_ref().map_or_else(
        || "n/a".into(),
        |c| format!("[{}, {}]", num(c.lo), num(c.hi)),
    )
}

fn csv_tables(res: &Results, data: &[RunData]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut s = String::from(
        "id,arch,optimizer,seed,n_params,steps,test_accuracy,test_loss,final_llc,lambda_bar,lambda_bar_lo,lambda_bar_hi,final_displacement,change_point,early_s,late_s,late_s_lo,late_s_hi,late_r2,aic_winner,d_s,d_s_lo,d_s_hi,nu,caputo_alpha,bound_holds\n",
    );
    for r in &res.runs {
        let lf = r.late_fit.as_ref();
        let th = r.theory.as_ref();
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            r.id,
            r.arch,
            r.optimizer,
            r.seed,
            r.n_params,
            r.steps,
            r.test_accuracy,
            r.test_loss,
            r.final_llc,
            r.lambda_bar,
            r.lambda_bar_ci.map_or(f64::NAN, |c| c.lo),
            r.lambda_bar_ci.map_or(f64::NAN, |c| c.hi),
            r.final_displacement,
            r.windows.as_ref().map_or(f64::NAN, |w| w.change_point),
            r.early_fit
                .as_ref()
                .map_or(f64::NAN, |f| f.displacement_exponent),
            lf.map_or(f64::NAN, |f| f.displacement_exponent),
            lf.map_or(f64::NAN, |f| f.ci.lo),
            lf.map_or(f64::NAN, |f| f.ci.hi),
            lf.map_or(f64::NAN, |f| f.r2),
            r.growth_models.as_ref().map_or("", |g| g.winner.as_str()),
            th.map_or(f64::NAN, |t| t.spectral_dimension),
            th.and_then(|t| t.spectral_dimension_ci)
                .map_or(f64::NAN, |c| c.lo),
            th.and_then(|t| t.spectral_dimension_ci)
                .map_or(f64::NAN, |c| c.hi),
            th.and_then(|t| t.walk_dimension).unwrap_or(f64::NAN),
            th.map_or(f64::NAN, |t| t.caputo_alpha),
            th.is_some_and(|t| t.bound_holds),
        );
    }
    out.push(("runs.csv".into(), s));
    let mut s = String::from(
        "id,n,n_effective,shape_llc,location,scale,ks_statistic,ks_p_value,ks_p_value_effective,free_shape,free_shape_lo,free_shape_hi,trend_spearman\n",
    );
    for r in &res.runs {
        if let Some(g) = &r.gamma_law {
            let _ = writeln!(
                s,
                "{},{},{},{},{},{},{},{},{},{},{},{},{}",
                r.id,
                g.n,
                g.n_effective,
                g.shape_llc,
                g.location,
                g.scale,
                g.ks_statistic,
                g.ks_p_value,
                g.ks_p_value_effective,
                g.free_shape,
                g.free_shape_ci.lo,
                g.free_shape_ci.hi,
                g.trend_spearman
            );
        }
    }
    out.push(("gamma_law.csv".into(), s));
    let mut s = String::from(
        "id,model,caputo_alpha,diffusion,gamma,temperature,fit_rmse_log,test_rmse_log,naive_test_rmse_log,beats_naive\n",
    );
    for r in &res.runs {
        for p in &r.ffpe.predictions {
            let _ = writeln!(
                s,
                "{},{},{},{},{},{},{},{},{},{}",
                r.id,
                p.model,
                p.caputo_alpha,
                p.diffusion,
                p.gamma,
                p.temperature,
                p.fit_rmse_log,
                p.test_rmse_log,
                p.naive_test_rmse_log,
                p.beats_naive
            );
        }
    }
    out.push(("ffpe_predictions.csv".into(), s));
    let mut s = String::from(
        "optimizer,runs,d_s_mean,d_s_std,llc_mean,llc_std,test_accuracy_mean,published_d_s_mean,published_d_s_std,published_llc_mean,published_llc_std,published_test_accuracy\n",
    );
    for o in &res.optimizer_table {
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{},{},{},{},{},{}",
            o.optimizer,
            o.runs,
            o.d_s_mean,
            o.d_s_std,
            o.llc_mean,
            o.llc_std,
            o.test_accuracy_mean,
            o.published_d_s.0,
            o.published_d_s.1,
            o.published_llc.0,
            o.published_llc.1,
            o.published_test_accuracy
        );
    }
    out.push(("optimizer_table.csv".into(), s));
    let mut s = String::from("id,verdict\n");
    for c in &res.claims {
        let _ = writeln!(s, "{},{}", c.id, c.verdict.words());
    }
    out.push(("claims.csv".into(), s));
    let mut s = String::from("id,step,displacement,train_loss\n");
    for d in data {
        for i in 0..d.t.len() {
            let _ = writeln!(
                s,
                "{},{},{},{}",
                d.id,
                d.t[i],
                d.r[i],
                d.train_loss.get(i).copied().unwrap_or(f64::NAN)
            );
        }
    }
    out.push(("series.csv".into(), s));
    let mut s = String::from("id,step,llc\n");
    for d in data {
        for (t, l) in d.llc_t.iter().zip(&d.llc) {
            let _ = writeln!(s, "{},{},{}", d.id, t, l);
        }
    }
    out.push(("llc.csv".into(), s));
    out
}

/// The fitted line `ln R = intercept + s ln t` of a window as a log10-log10 series (labelled on
/// the first run only), and its starting point `(t_start, log10 R)`.
fn fit_series(
    f: &crate::analysis::exponent::DisplacementFit,
    labelled: bool,
    label: &str,
    color: usize,
) -> (Series, (f64, f64)) {
    let l = |t: f64| (f.intercept + f.displacement_exponent * t.ln()) / 10f64.ln();
    let series = Series {
        label: if labelled {
            label.into()
        } else {
            String::new()
        },
        points: vec![
            (f.t_start.log10(), l(f.t_start)),
            (f.t_end.log10(), l(f.t_end)),
        ],
        style: Style::Line,
        color,
    };
    (series, (f.t_start, l(f.t_start)))
}

fn figures(res: &Results, data: &[RunData]) -> Vec<(String, Chart, String)> {
    let mut figs = Vec::new();
    // R(t) per group, log-log, with the late fit and a Brownian reference.
    for (gi, g) in res.groups.iter().enumerate() {
        let mut series = Vec::new();
        let mut anchor = None;
        for (k, r) in res
            .runs
            .iter()
            .filter(|r| r.arch == g.arch && r.optimizer == g.optimizer)
            .enumerate()
        {
            let Some(d) = data.iter().find(|d| d.id == r.id) else {
                continue;
            };
            let pts: Vec<(f64, f64)> =
                d.t.iter()
                    .zip(&d.r)
                    .filter(|(t, r)| **t > 0.0 && **r > 0.0)
                    .map(|(t, r)| (t.log10(), r.log10()))
                    .collect();
            series.push(Series {
                label: if k == 0 {
                    "measured R(t)".into()
                } else {
                    String::new()
                },
                points: pts,
                style: Style::Line,
                color: 0,
            });
            if let Some(f) = &r.late_fit {
                let (line, start) = fit_series(f, k == 0, "late power-law fit", 3);
                series.push(line);
                anchor.get_or_insert(start);
            }
            if let Some(f) = &r.early_fit {
                series.push(fit_series(f, k == 0, "early fit", 2).0);
            }
        }
        if let Some((t0, y0)) = anchor {
            let t1 = data
                .iter()
                .filter_map(|d| d.t.last().copied())
                .fold(t0, f64::max);
            let pts: Vec<(f64, f64)> = (0..=20)
                .map(|i| {
                    let lt = t0.log10() + (t1.log10() - t0.log10()) * i as f64 / 20.0;
                    (lt, y0 + 0.5 * (lt - t0.log10()))
                })
                .collect();
            series.push(Series {
                label: "Brownian t^0.5".into(),
                points: pts,
                style: Style::Dashed,
                color: 7,
            });
        }
        figs.push((
            format!("displacement_{gi}"),
            Chart {
                title: format!("R(t), {} {}", g.arch, g.optimizer),
                x_label: "log10 step".into(),
                y_label: "log10 R".into(),
                series,
                bars: vec![],
            },
            format!("log-log R(t) of every {} {} run with early and late fits and the Brownian reference", g.arch, g.optimizer),
        ));
    }
    // LLC traces.
    let series = data
        .iter()
        .map(|d| Series {
            label: String::new(),
            points: d.llc_t.iter().copied().zip(d.llc.iter().copied()).collect(),
            style: Style::Line,
            color: if d.optimizer == "sgd" { 0 } else { 1 },
        })
        .collect();
    figs.push((
        "llc_traces".into(),
        Chart {
            title: "LLC during training (blue SGD, orange Adam)".into(),
            x_label: "step".into(),
            y_label: "LLC estimate".into(),
            series,
            bars: vec![],
        },
        "LLC traces of every run".into(),
    ));
    // d_s against lambda_bar.
    let mut series = Vec::new();
    let mut maxl: f64 = 0.0;
    for (ci, opt) in ["sgd", "adam"].iter().enumerate() {
        let pts: Vec<(f64, f64)> = res
            .runs
            .iter()
            .filter(|r| r.optimizer == *opt)
            .filter_map(|r| {
                r.theory
                    .as_ref()
                    .map(|t| (t.lambda_bar, t.spectral_dimension))
            })
            .collect();
        maxl = pts.iter().map(|p| p.0.max(p.1)).fold(maxl, f64::max);
        series.push(Series {
            label: opt.to_string(),
            points: pts,
            style: Style::Points,
            color: ci,
        });
    }
    series.push(Series {
        label: "d_s = lambda_bar".into(),
        points: vec![(0.0, 0.0), (maxl.max(1e-9), maxl.max(1e-9))],
        style: Style::Dashed,
        color: 7,
    });
    figs.push((
        "ds_vs_lambda".into(),
        Chart {
            title: "spectral dimension against lambda_bar".into(),
            x_label: "lambda_bar".into(),
            y_label: "d_s = 2 lambda_bar s".into(),
            series,
            bars: vec![],
        },
        "d_s against lambda_bar with the bound line d_s = lambda_bar".into(),
    ));
    // lambda_bar against displacement.
    let series = ["sgd", "adam"]
        .iter()
        .enumerate()
        .map(|(ci, opt)| Series {
            label: opt.to_string(),
            points: res
                .runs
                .iter()
                .filter(|r| r.optimizer == *opt)
                .map(|r| (r.lambda_bar, r.final_displacement))
                .collect(),
            style: Style::Points,
            color: ci,
        })
        .collect();
    figs.push((
        "lambda_vs_displacement".into(),
        Chart {
            title: "final displacement against lambda_bar".into(),
            x_label: "lambda_bar".into(),
            y_label: "final R".into(),
            series,
            bars: vec![],
        },
        "lambda_bar against the final displacement R".into(),
    ));
    // Exponent histogram.
    if let Some(h) = &res.exponent_histogram {
        let top = h.counts.iter().copied().max().unwrap_or(1) as f64;
        figs.push((
            "exponent_histogram".into(),
            Chart {
                title: "late displacement exponents".into(),
                x_label: "s".into(),
                y_label: "runs".into(),
                series: vec![Series {
                    label: "s = 0.5".into(),
                    points: vec![(0.5, 0.0), (0.5, top)],
                    style: Style::Line,
                    color: 3,
                }],
                bars: h
                    .counts
                    .iter()
                    .enumerate()
                    .map(|(i, &c)| (h.edges[i], h.edges[i + 1], c as f64))
                    .collect(),
            },
            "histogram of per-run late exponents with the threshold 0.5".into(),
        ));
    }
    study_figures(res, &mut figs);
    // Gamma QQ (in units of the fitted scale, so every run shares the diagonal).
    let mut first_of_optimizer = std::collections::HashSet::new();
    let mut series: Vec<Series> = res
        .runs
        .iter()
        .filter_map(|r| r.gamma_law.as_ref().map(|g| (r, g)))
        .map(|(r, g)| Series {
            // one legend entry per optimizer (the first run of each)
            label: if first_of_optimizer.insert(r.optimizer.clone()) {
                format!("{} runs", r.optimizer.to_uppercase())
            } else {
                String::new()
            },
            points: g
                .qq
                .iter()
                .map(|&(a, b)| (a / g.scale, b / g.scale))
                .collect(),
            style: Style::Points,
            color: if r.optimizer == "sgd" { 0 } else { 1 },
        })
        .collect();
    let m = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0.max(p.1)))
        .fold(0.0f64, f64::max);
    series.push(Series {
        label: "y = x".into(),
        points: vec![(0.0, 0.0), (m.max(1e-9), m.max(1e-9))],
        style: Style::Dashed,
        color: 7,
    });
    figs.push((
        "gamma_qq".into(),
        Chart {
            title: "excess loss / T against Gamma(lambda_bar, 1) quantiles".into(),
            x_label: "Gamma quantile".into(),
            y_label: "excess loss / T".into(),
            series,
            bars: vec![],
        },
        "QQ plot of late-window excess losses against the Gamma law with shape lambda_bar (blue SGD, orange Adam)".into(),
    ));
    // FFPE predictions and steady states.
    for r in &res.runs {
        for (pi, p) in r.ffpe.predictions.iter().enumerate() {
            let mk = |t: &[f64], v: &[f64]| -> Vec<(f64, f64)> {
                t.iter()
                    .zip(v)
                    .map(|(a, b)| (a.log10(), b.log10()))
                    .collect()
            };
            let mut meas = mk(&p.fit_times, &p.measured_fit);
            meas.extend(mk(&p.test_times, &p.measured_test));
            let mut pred = mk(&p.fit_times, &p.predicted_fit);
            pred.extend(mk(&p.test_times, &p.predicted_test));
            figs.push((
                format!("ffpe_prediction_{}_{}", r.id, pi),
                Chart {
                    title: format!("{} ({})", r.id, p.model),
                    x_label: "log10 step".into(),
                    y_label: "log10 R".into(),
                    series: vec![
                        Series {
                            label: "measured".into(),
                            points: meas,
                            style: Style::Points,
                            color: 0,
                        },
                        Series {
                            label: "FFPE (fit on first half)".into(),
                            points: pred,
                            style: Style::Line,
                            color: 3,
                        },
                        Series {
                            label: "naive power-law extrapolation".into(),
                            points: mk(&p.test_times, &p.naive_test),
                            style: Style::Dashed,
                            color: 2,
                        },
                    ],
                    bars: vec![],
                },
                format!(
                    "FFPE-predicted against measured R(t), {} ({} model)",
                    r.id, p.model
                ),
            ));
        }
        if let Some(s) = &r.ffpe.steady_state {
            let w = if s.centres.len() > 1 {
                s.centres[1] - s.centres[0]
            } else {
                1.0
            };
            figs.push((
                format!("projected_weights_{}", r.id),
                Chart {
                    title: format!("{}: weights along principal direction 1", r.id),
                    x_label: "coordinate".into(),
                    y_label: "density".into(),
                    series: vec![Series {
                        label: "FFPE steady state".into(),
                        points: s
                            .centres
                            .iter()
                            .copied()
                            .zip(s.ffpe_density.iter().copied())
                            .collect(),
                        style: Style::Line,
                        color: 3,
                    }],
                    bars: s
                        .centres
                        .iter()
                        .zip(&s.measured_density)
                        .map(|(c, h)| (c - w / 2.0, c + w / 2.0, *h))
                        .collect(),
                },
                format!(
                    "projected late-window weights of {} against the FFPE steady state",
                    r.id
                ),
            ));
        }
    }
    figs
}

fn document(res: &Results, figure_files: &[(String, String)]) -> Document {
    let mut d = Document::default();
    let m = &res.meta;
    d.h(
        1,
        "ffpe reproduction report: does SGD subdiffuse on a fractal?",
    );
    d.p(format!(
        "Preset {}, device {}, data {}. Architectures: {}; optimizers: {}; {} seeds each; {} training steps per run, batch {}, SGD lr {}, Adam lr {}. {} runs trained in this invocation, {} reused. Wall time {} s. Bootstrap: {} resamples, level {}.",
        m.preset,
        m.device,
        m.data,
        m.architectures.join(", "),
        m.optimizers.join(", "),
        m.seeds,
        m.steps,
        m.batch_size,
        num(m.sgd_lr),
        num(m.adam_lr),
        m.runs_trained,
        m.runs_reused,
        num(m.wall_seconds),
        m.bootstrap_resamples,
        num(m.bootstrap_level)
    ));
    d.p(format!("The claims tested are those of {}.", m.paper));
    if !m.preset_note.is_empty() {
        d.p(format!("**{}**", m.preset_note));
    }
    d.h(2, "Verdicts");
    d.table(
        &["claim", "verdict", "evidence"],
        res.claims
            .iter()
            .map(|c| {
                vec![
                    c.statement.clone(),
                    c.verdict.words().to_string(),
                    c.evidence.clone(),
                ]
            })
            .collect(),
    );
    d.h(2, "Displacement exponents");
    d.p("s is the OLS slope of ln R on ln t; intervals are moving-block bootstrap percentile intervals over time points. The early and late windows are split at the change point of the local slope (two-segment fit); the late window is used for every theory check.");
    d.table(
        &[
            "run",
            "test acc %",
            "final LLC",
            "lambda_bar [CI]",
            "change point",
            "early s",
            "late s",
            "late s CI",
            "late r2",
            "AIC winner",
        ],
        res.runs
            .iter()
            .map(|r| {
                vec![
                    r.id.clone(),
                    num(r.test_accuracy),
                    num(r.final_llc),
                    format!("{} {}", num(r.lambda_bar), ci(&r.lambda_bar_ci)),
                    opt(r.windows.as_ref().map(|w| w.change_point)),
                    opt(r.early_fit.as_ref().map(|f| f.displacement_exponent)),
                    opt(r.late_fit.as_ref().map(|f| f.displacement_exponent)),
                    ci(&r.late_fit.as_ref().map(|f| f.ci)),
                    opt(r.late_fit.as_ref().map(|f| f.r2)),
                    r.growth_models
                        .as_ref()
                        .map_or("n/a".into(), |g| g.winner.clone()),
                ]
            })
            .collect(),
    );
    d.table(
        &[
            "arch",
            "optimizer",
            "runs",
            "mean late s",
            "CI across seeds",
            "mean early s",
            "mean lambda_bar",
            "mean d_s",
            "mean test acc %",
        ],
        res.groups
            .iter()
            .map(|g| {
                vec![
                    g.arch.clone(),
                    g.optimizer.clone(),
                    g.runs.to_string(),
                    num(g.late_s_mean),
                    ci(&g.late_s_ci),
                    num(g.early_s_mean),
                    num(g.lambda_bar_mean),
                    num(g.d_s_mean),
                    num(g.test_accuracy_mean),
                ]
            })
            .collect(),
    );
    if let Some(p) = &res.fraction_below_half {
        d.p(format!(
            "Fraction of runs with late s below 0.5: {} of {} = {} (Wilson 95 % CI [{}, {}]).",
            p.k,
            p.n,
            num(p.fraction),
            num(p.ci.lo),
            num(p.ci.hi)
        ));
    }
    d.h(2, "Growth-law comparison (late window, AIC)");
    d.table(
        &["run", "dAIC power", "dAIC log", "dAIC brownian", "winner"],
        res.runs
            .iter()
            .filter_map(|r| r.growth_models.as_ref().map(|g| (r, g)))
            .map(|(r, g)| {
                let mut row = vec![r.id.clone()];
                row.extend(g.fits.iter().map(|f| num(f.delta_aic)));
                row.push(g.winner.clone());
                row
            })
            .collect(),
    );
    d.h(2, "Fractal quantities");
    d.p("d_s = 2 lambda_bar s, nu = 1/s, caputo_alpha = 2 s = d_s / lambda_bar, ln D_xi = (2 - nu) ln xi (log space: D_xi itself overflows for real networks). The bound d_s <= lambda_bar is the same statement as s <= 0.5.");
    d.table(
        &[
            "run",
            "d_s",
            "d_s CI",
            "nu",
            "caputo_alpha",
            "ln D_0.25",
            "ln D_0.5",
            "ln D_1",
            "ln D_2",
            "bound",
        ],
        res.runs
            .iter()
            .filter_map(|r| r.theory.as_ref().map(|t| (r, t)))
            .map(|(r, t)| {
                let mut row = vec![
                    r.id.clone(),
                    num(t.spectral_dimension),
                    ci(&t.spectral_dimension_ci),
                    opt(t.walk_dimension),
                    num(t.caputo_alpha),
                ];
                row.extend(t.log_d_xi.iter().map(|l| opt(l.log_d_xi)));
                row.push(if t.bound_holds { "holds" } else { "violated" }.into());
                row
            })
            .collect(),
    );
    d.h(2, "Correlations across runs");
    let corr_row = |name: &str, c: &Option<crate::analysis::stats::Correlation>| match c {
        Some(c) => vec![
            name.to_string(),
            c.n.to_string(),
            num(c.pearson),
            format!("[{}, {}]", num(c.pearson_ci.lo), num(c.pearson_ci.hi)),
            num(c.spearman),
            format!("[{}, {}]", num(c.spearman_ci.lo), num(c.spearman_ci.hi)),
        ],
        None => vec![
            name.to_string(),
            "n/a".into(),
            "n/a".into(),
            "n/a".into(),
            "n/a".into(),
            "n/a".into(),
        ],
    };
    d.table(
        &["pair", "runs", "Pearson", "CI", "Spearman", "CI"],
        vec![
            corr_row(
                "lambda_bar vs final R",
                &res.correlations.llc_vs_displacement,
            ),
            corr_row(
                "lambda_bar vs test error",
                &res.correlations.llc_vs_test_error,
            ),
        ],
    );
    d.h(2, "SGD versus Adam (published format)");
    d.table(
        &[
            "optimizer",
            "runs",
            "d_s",
            "final LLC",
            "test acc %",
            "published d_s",
            "published LLC",
            "published acc %",
        ],
        res.optimizer_table
            .iter()
            .map(|o| {
                vec![
                    o.optimizer.clone(),
                    o.runs.to_string(),
                    format!("{} +- {}", num(o.d_s_mean), num(o.d_s_std)),
                    format!("{} +- {}", num(o.llc_mean), num(o.llc_std)),
                    num(o.test_accuracy_mean),
                    format!("{} +- {}", num(o.published_d_s.0), num(o.published_d_s.1)),
                    format!("{} +- {}", num(o.published_llc.0), num(o.published_llc.1)),
                    num(o.published_test_accuracy),
                ]
            })
            .collect(),
    );
    d.p("The published values come from a configuration the authors did not fully specify; compare orders of magnitude and the direction of the contrast, not decimals.");
    studies_sections(&mut d, &res.studies);
    d.h(2, "Steady state: loss levels against the Gamma law");
    d.p("Excess losses of the late-window iterates (full training-set loss at the checkpoints) against Gamma(shape = lambda_bar from the LLC, scale T fitted); L* fitted with the shape held fixed. Estimating T and L* makes the KS p-value conservative; serial correlation makes the nominal-n p-value anti-conservative, so the effective-n p-value is the one used in the verdict. A steady state has no trend: runs whose late-window losses still trend with time (|Spearman| at least 0.5) or have fewer than 10 effective points cannot test the claim.");
    d.table(
        &[
            "run",
            "n",
            "n eff",
            "lambda_bar",
            "T",
            "KS D",
            "p",
            "p (eff n)",
            "free shape",
            "free shape CI",
            "trend (Spearman)",
        ],
        res.runs
            .iter()
            .filter_map(|r| r.gamma_law.as_ref().map(|g| (r, g)))
            .map(|(r, g)| {
                vec![
                    r.id.clone(),
                    g.n.to_string(),
                    num(g.n_effective),
                    num(g.shape_llc),
                    num(g.scale),
                    num(g.ks_statistic),
                    num(g.ks_p_value),
                    num(g.ks_p_value_effective),
                    num(g.free_shape),
                    format!("[{}, {}]", num(g.free_shape_ci.lo), num(g.free_shape_ci.hi)),
                    num(g.trend_spearman),
                ]
            })
            .collect(),
    );
    d.h(2, "FFPE predictions against the measurements");
    d.p("Out of sample: the FFPE's Caputo order and diffusion are fitted on the first half (in ln t) of the late window, the core solver predicts R(t) on the second half, and the error (RMSE of ln R) is compared with the naive power-law extrapolation of the first half. Models: reduced_landscape (the loss tabulated along the top principal directions of the trajectory) and normal_crossing (a separable power potential whose LLC equals lambda_bar).");
    d.table(
        &[
            "run",
            "model",
            "caputo_alpha",
            "D",
            "T",
            "fit RMSE",
            "test RMSE FFPE",
            "test RMSE naive",
            "FFPE better",
        ],
        res.runs
            .iter()
            .flat_map(|r| r.ffpe.predictions.iter().map(move |p| (r, p)))
            .map(|(r, p)| {
                vec![
                    r.id.clone(),
                    p.model.clone(),
                    num(p.caputo_alpha),
                    num(p.diffusion),
                    num(p.temperature),
                    num(p.fit_rmse_log),
                    num(p.test_rmse_log),
                    num(p.naive_test_rmse_log),
                    if p.beats_naive { "yes" } else { "no" }.into(),
                ]
            })
            .collect(),
    );
    d.table(
        &[
            "run",
            "explained variance PC1",
            "T",
            "L1 distance histogram vs steady state",
        ],
        res.runs
            .iter()
            .filter_map(|r| r.ffpe.steady_state.as_ref().map(|s| (r, s)))
            .map(|(r, s)| {
                vec![
                    r.id.clone(),
                    num(s.explained_variance),
                    num(s.temperature),
                    num(s.l1_distance),
                ]
            })
            .collect(),
    );
    d.h(2, "Figures");
    for (file, caption) in figure_files {
        d.image(file.clone(), caption.clone());
    }
    let notes: Vec<String> = res
        .runs
        .iter()
        .flat_map(|r| r.notes.iter().map(move |n| format!("{}: {}", r.id, n)))
        .collect();
    d.h(2, "Notes");
    if notes.is_empty() {
        d.p("Every analysis step ran for every run.");
    } else {
        d.list(notes);
    }
    d.h(2, "Files");
    d.list(res.files.clone());
    d
}

/// Writes every artifact of the report into `dir` (created if needed) and records the file
/// names in `res.files`.
pub fn write_report(res: &mut Results, data: &[RunData], dir: &Path) -> Result<(), ReportError> {
    std::fs::create_dir_all(dir).map_err(|source| ReportError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    let mut files = Vec::new();
    for (name, content) in csv_tables(res, data) {
        write_atomic(&dir.join(&name), content.as_bytes())?;
        files.push(name);
    }
    let plot_dir = dir.join("plots");
    std::fs::create_dir_all(&plot_dir).map_err(|source| ReportError::Io {
        path: plot_dir.display().to_string(),
        source,
    })?;
    let mut figure_files = Vec::new();
    for (name, chart, caption) in figures(res, data) {
        let written = render(&plot_dir, &name, &chart).map_err(|why| ReportError::Plot {
            name: name.clone(),
            why,
        })?;
        for w in &written {
            files.push(format!("plots/{w}"));
        }
        figure_files.push((format!("plots/{name}.svg"), caption));
    }
    files.push("results.json".into());
    files.push("report.md".into());
    files.push("report.html".into());
    res.files = files;
    write_atomic(
        &dir.join("results.json"),
        serde_json::to_string_pretty(res)?.as_bytes(),
    )?;
    let doc = document(res, &figure_files);
    write_atomic(&dir.join("report.md"), doc.to_markdown().as_bytes())?;
    write_atomic(
        &dir.join("report.html"),
        doc.to_html("ffpe reproduction report").as_bytes(),
    )?;
    Ok(())
}

fn mean_ci_text(m: &crate::analysis::studies::MeanCi) -> String {
    match &m.ci {
        Some(c) => format!("{} [{}, {}]", num(m.mean), num(c.lo), num(c.hi)),
        None => format!("{} (n = {})", num(m.mean), m.n),
    }
}

/// The report sections of the studies beyond the main sweep (nothing when there are none).
fn studies_sections(d: &mut Document, st: &crate::analysis::studies::StudyResults) {
    if let Some(e) = &st.exponents {
        d.h(
            2,
            format!("Figure 4: the exponent histogram over {} seeds", e.runs),
        );
        d.p(format!(
            "{} with {}: the late displacement exponent s of every seed, and nu = d_s / (2 lambda_final) (the final LLC, the mean of the last estimates, in place of the window mean lambda_bar that defines d_s; so nu differs from s only by lambda_bar / lambda_final). Mean s {}; median {}; {} of {} runs in [{}, 0.5) (fraction {}, Wilson 95 % CI [{}, {}]); {} runs with s >= 0.5.",
            e.arch,
            e.optimizer,
            mean_ci_text(&e.s_mean),
            num(e.s_median),
            e.fraction_high.k,
            e.fraction_high.n,
            num(crate::analysis::studies::HIGH),
            num(e.fraction_high.fraction),
            num(e.fraction_high.ci.lo),
            num(e.fraction_high.ci.hi),
            e.fraction_above_half.k,
        ));
        d.table(
            &["bin", "runs (s)", "runs (nu)"],
            e.s_histogram
                .counts
                .iter()
                .enumerate()
                .filter(|(i, c)| **c > 0 || e.nu_histogram.counts.get(*i).is_some_and(|x| *x > 0))
                .map(|(i, c)| {
                    vec![
                        format!(
                            "[{}, {})",
                            num(e.s_histogram.edges[i]),
                            num(e.s_histogram.edges[i + 1])
                        ),
                        c.to_string(),
                        e.nu_histogram
                            .counts
                            .get(i)
                            .map_or("n/a".into(), |x| x.to_string()),
                    ]
                })
                .collect(),
        );
        if e.nu_histogram.edges != e.s_histogram.edges {
            d.p("The nu histogram spans a different range than the s histogram (its bins are in results.json); the nu column above counts nu's own bin i.");
        }
    }
    if !st.architectures.is_empty() {
        d.h(2, "Figure 5a: LLC and test error by architecture");
        d.p("Main sweep, means over the seeds with bootstrap 95 % intervals (seeds resampled).");
        d.table(
            &[
                "arch",
                "optimizer",
                "parameters",
                "final LLC",
                "test error %",
                "late s",
            ],
            st.architectures
                .iter()
                .map(|r| {
                    vec![
                        r.arch.clone(),
                        r.optimizer.clone(),
                        r.n_params.to_string(),
                        mean_ci_text(&r.llc),
                        mean_ci_text(&r.test_error),
                        mean_ci_text(&r.late_s),
                    ]
                })
                .collect(),
        );
    }
    if !st.batch_scan.is_empty() {
        d.h(2, "Batch-size scan: heavy-tailed jumps and subdiffusion");
        d.p("SGD at the preset's learning rate and number of steps, the first architecture, the same seeds at every batch size. Hill tail index of the late-window jumps norm(w_(t+1) - w_t) on full minibatches (largest 5 % of the jumps, at least 10 and at most 1000; below 2 means infinite variance; the jumps on the smaller last minibatch of an epoch, when the batch size does not divide the training set, are left out and counted); means over runs with bootstrap intervals.");
        d.table(
            &[
                "batch",
                "runs",
                "Hill tail index",
                "late s",
                "subdiffusive runs",
                "partial-batch jumps left out",
                "final LLC",
                "test error %",
            ],
            st.batch_scan
                .iter()
                .map(|b| {
                    vec![
                        b.batch_size.to_string(),
                        b.runs.to_string(),
                        mean_ci_text(&b.hill_alpha),
                        mean_ci_text(&b.late_s),
                        b.fraction_subdiffusive
                            .as_ref()
                            .map_or("n/a".into(), |p| format!("{} of {}", p.k, p.n)),
                        b.partial_batch_jumps_excluded.to_string(),
                        mean_ci_text(&b.llc),
                        mean_ci_text(&b.test_error),
                    ]
                })
                .collect(),
        );
    }
    if let Some(m) = &st.moons {
        let c = &m.config;
        d.h(2, "Moons posterior test");
        d.p(format!(
            "MLP 2-{}-1 (tanh, {} parameters) on two moons (n = {}, noise {}, data seed {}), weight decay {} (the posterior's Gaussian prior). {} SGD runs (lr {}, batch {}, {} steps; the last {} iterates, {} steps apart) from one pretrained minimum; the tempered posterior exp(-n beta L) sampled by Langevin{} from the same minimum. Matched n beta = {} from the SGD temperature eta kappa / (2 B) with the measured noise scale kappa = tr C / tr F = {} and D_xi = {} at xi = {}. Summary: the network's outputs on fixed probe points projected on the first principal axis of the SGD sample (explained {}). Verdict: {}. {}",
            c.hidden.iter().map(|h| h.to_string()).collect::<Vec<_>>().join("-"),
            m.num_params,
            c.n,
            num(c.noise),
            c.data_seed,
            num(c.weight_decay),
            c.runs,
            num(c.lr),
            c.batch_size,
            c.steps,
            c.late_iterates,
            c.late_spacing,
            if c.metropolis { " with a Metropolis correction (MALA)" } else { "" },
            num(m.nbeta_matched),
            num(m.noise_scale),
            num(m.d_xi),
            num(c.xi),
            num(m.principal_explained),
            m.verdict.words(),
            m.verdict_reason,
        ));
        let row = |c: &crate::moons::Comparison| {
            vec![
                c.label.clone(),
                num(c.nbeta),
                num(c.principal.kl.value),
                num(c.principal.js.value),
                format!(
                    "{} [{}, {}]",
                    num(c.principal.w1.value),
                    num(c.principal.w1.ci.lo),
                    num(c.principal.w1.ci.hi)
                ),
                num(c.summary_mean_sd[1]),
            ]
        };
        let mut rows = vec![row(&m.matched), row(&m.null)];
        rows.extend(m.controls.iter().map(row));
        if let Some(c) = m.walk.as_ref().and_then(|w| w.comparison.as_ref()) {
            rows.push(row(c));
        }
        rows.push(vec![
            format!("published (xi = {})", num(m.published.xi)),
            "n/a".into(),
            num(m.published.kl),
            num(m.published.js),
            num(m.published.wasserstein),
            "n/a".into(),
        ]);
        d.table(
            &[
                "sample vs SGD",
                "n beta",
                "KL",
                "JS",
                "W1 [95 % CI]",
                "summary sd",
            ],
            rows,
        );
        if let Some(w) = &m.walk {
            d.p(format!(
                "Walk dimension measured from the SGD runs (SPEC: R(t) ~ t^(1/nu)): the mean squared distance from the minimum grows with slope {} in ln t over steps {} to {} ({} recorded steps, up to half its plateau {}), so nu = 2 / slope = {} (95 % bootstrap over runs [{}, {}]); at that nu, D_xi = {} and n beta = {}. Verdict with the measured nu: {}. {}",
                num(w.slope),
                w.window.0,
                w.window.1,
                w.points,
                num(w.plateau),
                num(w.nu),
                num(w.nu_ci.lo),
                num(w.nu_ci.hi),
                num(w.d_xi),
                num(w.nbeta),
                w.verdict.words(),
                w.verdict_reason,
            ));
        }
    }
    if let Some(sc) = &st.scale_scan {
        d.h(2, "LLC scale scan");
        d.p(format!(
            "The LLC of final weights re-estimated with the SGLD step size epsilon and the localisation gamma scaled by the preset's factors (one varied at a time). d ln LLC / d ln epsilon = {}, d ln LLC / d ln gamma = {}; ratios to the preset's setting from {} to {}.",
            num(sc.d_ln_llc_d_ln_epsilon),
            num(sc.d_ln_llc_d_ln_gamma),
            num(sc.ratio_range.1),
            num(sc.ratio_range.0),
        ));
        d.table(
            &[
                "run",
                "epsilon",
                "gamma",
                "LLC",
                "chain std",
                "ratio to base",
            ],
            sc.points
                .iter()
                .map(|p| {
                    vec![
                        p.run.clone(),
                        num(p.epsilon),
                        num(p.gamma),
                        num(p.llc),
                        num(p.llc_std),
                        num(p.ratio_to_base),
                    ]
                })
                .collect(),
        );
    }
}

/// The figures of the studies (Figure 4 and Figure 5a).
fn study_figures(res: &Results, figs: &mut Vec<(String, Chart, String)>) {
    let st = &res.studies;
    if let Some(e) = &st.exponents {
        let top = e.s_histogram.counts.iter().copied().max().unwrap_or(1) as f64;
        figs.push((
            "figure4_exponents".into(),
            Chart {
                title: format!(
                    "late exponents, {} seeds of {} {}",
                    e.runs, e.arch, e.optimizer
                ),
                x_label: "s".into(),
                y_label: "runs".into(),
                series: vec![Series {
                    label: "s = 0.5".into(),
                    points: vec![(0.5, 0.0), (0.5, top)],
                    style: Style::Line,
                    color: 3,
                }],
                bars: e
                    .s_histogram
                    .counts
                    .iter()
                    .enumerate()
                    .map(|(i, &c)| (e.s_histogram.edges[i], e.s_histogram.edges[i + 1], c as f64))
                    .collect(),
            },
            "Figure 4: histogram of the late exponent over the seeds of one architecture".into(),
        ));
    }
    if !st.architectures.is_empty() {
        let mut series = Vec::new();
        for (k, opt) in res.meta.optimizers.iter().enumerate() {
            let rows: Vec<_> = st
                .architectures
                .iter()
                .filter(|r| &r.optimizer == opt)
                .collect();
            series.push(Series {
                label: opt.clone(),
                points: rows
                    .iter()
                    .map(|r| (r.llc.mean, r.test_error.mean))
                    .collect(),
                style: Style::Points,
                color: k,
            });
            for r in &rows {
                series.push(Series {
                    label: r.arch.clone(),
                    points: vec![(r.llc.mean, r.test_error.mean)],
                    style: Style::Annotation,
                    color: k,
                });
            }
            for r in rows {
                if let Some(c) = &r.llc.ci {
                    series.push(Series {
                        label: String::new(),
                        points: vec![(c.lo, r.test_error.mean), (c.hi, r.test_error.mean)],
                        style: Style::Line,
                        color: k,
                    });
                }
                if let Some(c) = &r.test_error.ci {
                    series.push(Series {
                        label: String::new(),
                        points: vec![(r.llc.mean, c.lo), (r.llc.mean, c.hi)],
                        style: Style::Line,
                        color: k,
                    });
                }
            }
        }
        figs.push((
            "figure5a_llc_test_error".into(),
            Chart {
                title: "final LLC and test error by architecture".into(),
                x_label: "final LLC".into(),
                y_label: "test error %".into(),
                series,
                bars: vec![],
            },
            "Figure 5a: mean final LLC against mean test error per architecture, with 95 % intervals over seeds".into(),
        ));
    }
}
