//! The figures of the report, as charts drawn from `results.json` and the run data.

#[allow(unused_imports)]
use super::*;

/// The fitted line `ln R = intercept + s ln t` of a window as a log10-log10 series (labelled on
/// the first run only), and its starting point `(t_start, log10 R)`.
pub(super) fn fit_series(
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

pub(super) fn figures(res: &Results, data: &[RunData]) -> Vec<(String, Chart, String)> {
    let mut figs = Vec::new();
    if let Some(e) = &res.studies.ensembles {
        figs.extend(super::ensembles::figures(e));
    }
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
            color: usize::from(d.optimizer != crate::optim::OptimizerKind::Sgd),
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
    for (ci, opt) in crate::optim::OptimizerKind::ALL.iter().enumerate() {
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
    let series = crate::optim::OptimizerKind::ALL
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
            label: if first_of_optimizer.insert(r.optimizer) {
                format!("{} runs", r.optimizer.name().to_uppercase())
            } else {
                String::new()
            },
            points: g
                .qq
                .iter()
                .map(|&(a, b)| (a / g.scale, b / g.scale))
                .collect(),
            style: Style::Points,
            color: usize::from(r.optimizer != crate::optim::OptimizerKind::Sgd),
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

/// The figures of the studies (Figure 4 and Figure 5a).
pub(super) fn study_figures(res: &Results, figs: &mut Vec<(String, Chart, String)>) {
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
                label: opt.to_string(),
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
