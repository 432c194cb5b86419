//! The report's first screen: the headline verdicts of the shared-initialisation ensembles,
//! drift versus diffusion per group, the rival predictions on held-out steps, and the three
//! figures (ensemble MSD with every model's prediction; aging; exponent against window start).

#[allow(unused_imports)]
use super::*;
use crate::analysis::verdict_rules::{Rule, RuleVerdict};
use crate::drift::EnsembleStudy;

/// File-name prefix of the ensemble figures (placed on the first screen, not in "Figures").
pub(super) const PREFIX: &str = "ensemble_";

fn rule_text(r: &Rule) -> String {
    match r {
        Rule::UpperBound { threshold } => {
            format!("supported if the interval lies below {}", num(*threshold))
        }
        Rule::LowerBound { threshold } => {
            format!("supported if the interval lies above {}", num(*threshold))
        }
        Rule::Within { lo, hi } => format!(
            "supported if the interval lies in [{}, {}]",
            num(*lo),
            num(*hi)
        ),
        Rule::SignedCorrelation { expected_sign } => {
            format!("correlation of sign {expected_sign:?}")
        }
    }
}

/// The sections of the ensemble study, figures `figs` (file, caption) of [`figures`].
pub(super) fn sections(d: &mut Document, e: &EnsembleStudy, figs: &[(String, String)]) {
    let v = &e.verdicts;
    d.h(2, "Headline verdicts (shared-initialisation ensembles)");
    d.p(format!(
        "Each claim below is a signed statement with its rule, fixed in code before the data \
         (`validation/src/drift/claims.rs`). The unit of replication is the initialisation: every \
         interval is a percentile bootstrap over initialisations at level {} (Bonferroni level \
         for {} headline claims at family-wise rate {}), and the one-sided p-value bounds of both \
         directions are Holm-adjusted over the {} claims tested. A claim whose premise fails (no \
         stationary loss, no scaling regime, fewer than 3 initialisations) is not testable, \
         never supported. Headline: {} supported, {} contradicted, {} inconclusive, {} not testable.",
        num(v.required_interval_level),
        v.headline_declared,
        num(v.alpha),
        v.headline_tested,
        v.headline.supported,
        v.headline.contradicted,
        v.headline.inconclusive,
        v.headline.not_testable
    ));
    d.table(
        &[
            "claim",
            "rule",
            "estimate [interval]",
            "inits",
            "Holm p (support / contradict)",
            "verdict",
        ],
        v.verdicts
            .iter()
            .map(|c| {
                let verdict = match &c.verdict {
                    RuleVerdict::NotTestable { reason } => {
                        format!("not testable: {}", reason.words())
                    }
                    other => other.words().to_string(),
                };
                vec![
                    c.claim.statement.clone(),
                    rule_text(&c.claim.rule),
                    format!(
                        "{} {}",
                        num(c.evidence.estimate),
                        c.evidence
                            .interval
                            .as_ref()
                            .map_or("n/a".into(), format::ci_text)
                    ),
                    c.evidence.n_units.to_string(),
                    format!(
                        "{} / {}",
                        opt(c.p_support_adjusted),
                        opt(c.p_contradict_adjusted)
                    ),
                    verdict,
                ]
            })
            .collect(),
    );
    for (file, caption) in figs {
        d.image(file.clone(), caption.clone());
    }
    d.h(2, "Drift versus diffusion");
    d.p("Per group, K initialisations x S minibatch streams trained from each initialisation. At the last step: the drift ||m(T) - w_0||^2 of the ensemble mean, the diffusion tr Sigma(T) (unbiased over the streams, averaged over initialisations), the diffusion share tr Sigma / (drift + tr Sigma), and the distance of the ensemble mean from the full-batch gradient-descent twin ||m - w_GD||^2 (first initialisation, at the twin's last checkpoint). The exponent alpha of tr Sigma(t) ~ t^alpha is fitted in the declared late window [split T, T]; its interval resamples the initialisations.");
    d.table(
        &[
            "group",
            "setup",
            "K x S",
            "drift",
            "diffusion",
            "share",
            "|m - w_GD|^2 (step)",
            "alpha late [CI]",
            "loss stationary?",
        ],
        e.results
            .groups
            .iter()
            .map(|g| {
                let c = &g.config;
                let l = g.last.as_ref();
                // the twins belong to the first initialisations: their own series
                let gd = g
                    .per_init
                    .first()
                    .into_iter()
                    .flatten()
                    .rev()
                    .find(|p| p.gd_gap.is_some())
                    .map_or("no twin".into(), |p| {
                        format!("{} ({})", num(p.gd_gap.unwrap_or(f64::NAN)), p.step)
                    });
                let late = g.diffusion_exponent.last().and_then(|w| w.fit.as_ref());
                let setup = match &c.external {
                    Some(what) => what.clone(),
                    None => format!(
                        "{} {} lr {} B {} wd {} mom {} {}{} steps",
                        c.arch,
                        match c.optimizer {
                            crate::drift::config::OptimizerKind::Sgd => "sgd",
                            crate::drift::config::OptimizerKind::Adam => "adam",
                        },
                        num(c.lr),
                        c.batch_size,
                        num(c.weight_decay),
                        num(c.momentum),
                        "",
                        c.steps
                    ),
                };
                vec![
                    g.name.clone(),
                    setup,
                    format!("{} x {}", c.inits, c.streams),
                    l.map_or("n/a".into(), |l| num(l.drift)),
                    l.map_or("n/a".into(), |l| num(l.diffusion)),
                    opt(l.and_then(|l| l.diffusion_share)),
                    gd,
                    late.map_or("n/a".into(), |f| {
                        format!(
                            "{} {}",
                            num(f.exponent),
                            f.ci.as_ref().map_or("n/a".into(), format::ci_text)
                        )
                    }),
                    g.stationarity.verdict.clone(),
                ]
            })
            .collect(),
    );
    d.h(3, "Aging and ergodicity (stationary groups only)");
    d.p("EB is Var(delta^2) / E[delta^2]^2 of the time-averaged MSD across the streams of one initialisation (mean over initialisations). Its ergodic reference is Brownian motion's 4 lag / (3 T) divided by the effective number of independent coordinates of the increments, their participation ratio (tr C)^2 / tr(C^2), measured on the same stretch: a process whose increments live in a few stiff directions has a far larger ergodic EB than its parameter count suggests. A CTRW keeps EB of order 1 (pi/2 - 1 at waiting-time exponent 1/2); the claim needs EB at least ten times the ergodic reference. Aging slope: the slope of ln delta^2 (smallest lag) on ln t_a; 0 for stationary increments, below 0 for an aging CTRW.");
    d.table(
        &[
            "group",
            "stretch",
            "EB (smallest lag)",
            "EB ergodic",
            "aging slope",
            "note",
        ],
        e.results
            .groups
            .iter()
            .map(|g| {
                let a = &g.aging;
                vec![
                    g.name.clone(),
                    a.window
                        .map_or("n/a".into(), |w| format!("[{}, {}]", w[0], w[1])),
                    a.eb.first().map_or("n/a".into(), |x| num(*x)),
                    a.eb_ergodic.first().map_or("n/a".into(), |x| num(*x)),
                    opt(a.aging_slope),
                    a.note.clone(),
                ]
            })
            .collect(),
    );
    gamma_law_section(d, e);
    d.h(3, "Rival predictions of tr Sigma(t) on held-out steps");
    d.p("Every model takes its inputs from the fit segment and predicts the held-out steps without refitting (`validation/src/drift/rivals.rs`). ffpe_free is the time-fractional FFPE in free space, tr Sigma = c t^alpha_C with the order and amplitude from the fit segment: the theory gives no order that does not go through a measured exponent, so this is also the naive power-law extrapolation. ou_kunin is the discrete Ornstein-Uhlenbeck model with the Hessian's top eigenvalues and the gradient-noise variances on their eigenvectors measured at the end of the fit segment, plus a lumped residual mode, no parameter fitted. ffpe_basin is the Caputo FFPE in that same measured basin: each mode's variance relaxes as s_i (1 - E_alpha(-kappa_i t^alpha)) instead of s_i (1 - q_i^t), with the Caputo order alpha the MSD exponent of the fit segment (clamped to [0.05, 1]; at order 1 it is ou_kunin), its only parameter; the headline claim ffpe-beats-ou compares these two, so that it asks whether the theory's memory predicts the held-out steps better than none. Score: root-mean-square error of ln tr Sigma over the held-out steps, mean over initialisations [bootstrap interval over initialisations]; lower is better.");
    let mut rows = vec![];
    for (g, r) in e.results.groups.iter().zip(&e.rivals) {
        let Some(r) = r else {
            rows.push(vec![
                g.name.clone(),
                "n/a".into(),
                String::new(),
                String::new(),
                String::new(),
                "rivals not computed".into(),
            ]);
            continue;
        };
        for m in &r.models {
            let rank = r
                .ranking
                .iter()
                .position(|x| *x == m.model)
                .map_or(0, |k| k + 1);
            rows.push(vec![
                g.name.clone(),
                m.model.clone(),
                m.parameters.to_string(),
                format!(
                    "{} {}",
                    num(m.mean),
                    m.ci.as_ref().map_or("n/a".into(), format::ci_text)
                ),
                if m.mean.is_finite() {
                    rank.to_string()
                } else {
                    "-".into()
                },
                format!(
                    "fit {}-{}, held out {}-{} ({} points){}{}",
                    r.fit_steps[0],
                    r.fit_steps[1],
                    r.heldout_steps[0],
                    r.heldout_steps[1],
                    r.heldout_points,
                    m.note.as_ref().map_or(String::new(), |n| format!("; {n}")),
                    if m.model == "ffpe_basin" {
                        let o: Vec<String> = r.caputo_orders.iter().map(|v| num(*v)).collect();
                        format!("; Caputo order per initialisation {}", o.join(", "))
                    } else {
                        String::new()
                    }
                ),
            ]);
        }
    }
    d.table(
        &[
            "group",
            "model",
            "parameters",
            "held-out RMS log error [CI]",
            "rank",
            "segments",
        ],
        rows,
    );
    if !e.rival_notes.is_empty() {
        d.list(e.rival_notes.clone());
    }
    d.h(3, "Glossary");
    d.list(vec![
        "drift: ||m(t) - w_0||^2, the squared distance of the ensemble mean m(t) from the shared start w_0.".into(),
        "diffusion, tr Sigma(t): the trace of the ensemble covariance over the minibatch streams of one initialisation, the mean squared distance about the mean.".into(),
        "diffusion share: tr Sigma / (drift + tr Sigma), the part of E||w_t - w_0||^2 that is diffusion.".into(),
        "alpha: the exponent of tr Sigma(t) ~ t^alpha (alpha < 1: subdiffusion).".into(),
        "displacement_exponent s: the exponent of a single run's R(t) ~ t^s (the earlier design, appendix); walk_dimension nu = 1/s; caputo_order alpha_C = 2 s, the order of the Caputo derivative whose free MSD grows as t^alpha_C.".into(),
        "TAMSD: the time-averaged squared increment of one run at a fixed lag over a stretch; EB = Var(TAMSD) / E[TAMSD]^2 over the streams (ergodicity breaking, near 0 for an ergodic process); aging slope: the slope of log TAMSD on log t_a over stretches [t_a, T].".into(),
        "held-out RMS log error: sqrt(mean (ln predicted - ln measured)^2) over the held-out steps.".into(),
    ]);
}

/// The Gamma law of late losses on the stationary stretches ([`crate::drift::steady`]).
fn gamma_law_section(d: &mut Document, e: &EnsembleStudy) {
    d.h(3, "The Gamma law of late losses (stationary groups only)");
    d.p("The steady state p_s(w) ~ exp(-(L - L*)/T) near a minimum with LLC lambda makes the excess loss L - L* Gamma distributed with shape lambda (SPEC, the loss-level distribution); the premise is a steady state, so the test runs only on the stationary stretch of a group (the aging stretch), and a group whose loss is not stationary is not testable. The sample: the training losses of every stream at the evenly spaced checkpoints of the stretch, thinned to one loss per stream every ceil(tau) checkpoints, tau the loss autocorrelation time measured on these series; per initialisation (the unit of replication) the thinned losses of its streams, with the effective size n_eff = n / (tau' (1 + (S - 1) rho_c)) from the autocorrelation time tau' left after thinning and the correlation rho_c of two streams of one initialisation at equal times. The shape is fixed before the test from the LLC estimates of the stretch (recorded during training, or estimated after training from the stretch's checkpoints with the single runs' SGLD estimator); the scale T and the minimum L* are fitted with the shape held fixed. p: Kolmogorov-Smirnov distance against a parametric bootstrap that refits T and L* and simulates samples of the effective size; Fisher: the initialisations' p-values combined. The headline claim gamma-law reads the shape fitted freely (location and scale free) against the LLC, ln(k_free / lambda), one value per initialisation. With weight decay a Gibbs steady state would be in the regularised objective L + wd |w|^2 / 2, while the recorded loss and the LLC are those of L: the test is of the statement as the SPEC makes it.");
    let mut rows = vec![];
    for g in &e.results.groups {
        let gl = &g.gamma_law;
        // a group whose test was computed but whose premise failed (an untrustworthy shape)
        // shows its numbers as description; the note says why there is no verdict
        if !gl.testable && gl.per_init.is_empty() {
            rows.push(vec![
                g.name.clone(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                gl.note.clone(),
            ]);
            continue;
        }
        for u in &gl.per_init {
            rows.push(vec![
                g.name.clone(),
                u.init.to_string(),
                format!("{} ({})", num(u.llc), u.llc_estimates),
                format!("{} / {}", u.n, num(u.n_effective)),
                num(u.free_shape),
                num(u.ks_statistic),
                num(u.p_value),
                String::new(),
            ]);
        }
        rows.push(vec![
            g.name.clone(),
            "all".into(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            format!("Fisher {}", opt(gl.fisher_p)),
            format!(
                "{}; autocorrelation time {} steps, kept losses {} steps apart, residual autocorrelation time {} (thinned spacings), cross-stream correlation {}; shapes: {}{}",
                gl.note,
                opt(gl.autocorrelation_steps),
                gl.thinned_spacing.map_or("n/a".into(), |x| x.to_string()),
                opt(gl.residual_autocorrelation),
                opt(gl.cross_stream_correlation),
                gl.llc_source,
                gl.llc_diagnostics.as_ref().map_or(String::new(), |d| format!(
                    "; their checks: {} of {} fail (R-hat median {:.4}, largest {:.4}; acceptance {} to {})",
                    d.any_fail,
                    d.estimates,
                    d.rhat_median,
                    d.rhat_max,
                    num(d.acceptance_min),
                    num(d.acceptance_max)
                ))
            ),
        ]);
    }
    d.table(
        &[
            "group",
            "init",
            "LLC shape (estimates)",
            "n / n_eff",
            "free shape",
            "KS",
            "p",
            "sample",
        ],
        rows,
    );
    d.p("The projected steady-state comparison of the single-run appendix (the stationary density on the reduced two-dimensional landscape against the iterates' histogram) is not computed on the ensemble stretches: it needs the reduced landscape of one trajectory (its principal plane, the loss evaluated on a grid there), which the ensembles do not build; it stays in the appendix, where its premise (a stationary loss) fails in the single runs whose loss still falls.");
}

/// Log10-log10 points of positive `(t, y)` pairs.
fn loglog(t: &[u64], y: &[f64]) -> Vec<(f64, f64)> {
    t.iter()
        .zip(y)
        .filter(|(t, y)| **t > 0 && **y > 0.0 && y.is_finite())
        .map(|(t, y)| ((*t as f64).log10(), y.log10()))
        .collect()
}

/// The three figures of the first screen.
pub(super) fn figures(e: &EnsembleStudy) -> Vec<(String, Chart, String)> {
    let mut figs = vec![];
    let mut msd = vec![];
    for (k, (g, r)) in e.results.groups.iter().zip(&e.rivals).enumerate() {
        let t: Vec<u64> = g.series.iter().map(|p| p.step).collect();
        let tr: Vec<f64> = g.series.iter().map(|p| p.diffusion).collect();
        let dr: Vec<f64> = g.series.iter().map(|p| p.drift).collect();
        msd.push(Series {
            label: format!("{}: tr Sigma (measured)", g.name),
            points: loglog(&t, &tr),
            style: Style::Line,
            color: k,
        });
        msd.push(Series {
            label: format!("{}: drift |m - w0|^2", g.name),
            points: loglog(&t, &dr),
            style: Style::Points,
            color: k,
        });
        if let Some(r) = r {
            for m in &r.models {
                msd.push(Series {
                    label: format!("{}: {} prediction", g.name, m.model),
                    points: loglog(&r.steps, &m.prediction),
                    style: Style::Dashed,
                    color: k,
                });
            }
        }
    }
    figs.push((
        format!("{PREFIX}msd"),
        Chart {
            title: "Ensemble drift and diffusion with the models' predictions".into(),
            x_label: "log10 step".into(),
            y_label: "log10 squared distance".into(),
            series: msd,
            bars: vec![],
        },
        "Figure 1. Per group: the diffusion tr Sigma(t) (line), the drift ||m(t) - w0||^2 (points) and every model's prediction of tr Sigma (dashed; inputs from the fit segment only; the scores are in the rivals table).".into(),
    ));
    let mut aging = vec![];
    for (k, g) in e.results.groups.iter().enumerate() {
        let a = &g.aging;
        if !a.testable {
            continue;
        }
        aging.push(Series {
            label: format!("{}: TAMSD at the smallest lag against t_a", g.name),
            points: a
                .aging_starts
                .iter()
                .zip(&a.aging_tamsd)
                .filter(|(t, y)| **t > 0 && **y > 0.0)
                .map(|(t, y)| ((*t as f64).log10(), y.log10()))
                .collect(),
            style: Style::Points,
            color: k,
        });
    }
    figs.push((
        format!("{PREFIX}aging"),
        Chart {
            title: "Aging: time-averaged MSD against the window start".into(),
            x_label: "log10 t_a".into(),
            y_label: "log10 TAMSD".into(),
            series: aging,
            bars: vec![],
        },
        "Figure 2. Aging test on the stationary groups: the time-averaged MSD at the smallest lag over [t_a, T] against t_a. A continuous-time random walk ages (falls with t_a); an Ornstein-Uhlenbeck process does not. Groups whose loss is not stationary are not drawn.".into(),
    ));
    let mut sweep = vec![];
    for (k, g) in e.results.groups.iter().enumerate() {
        sweep.push(Series {
            label: g.name.clone(),
            points: g
                .exponent_vs_window_start
                .iter()
                .map(|f| ((f.from_step.max(1) as f64).log10(), f.exponent))
                .collect(),
            style: Style::Line,
            color: k,
        });
    }
    figs.push((
        format!("{PREFIX}window_start"),
        Chart {
            title: "Exponent of tr Sigma(t) against the window start".into(),
            x_label: "log10 window start t_a (window [t_a, 10 t_a])".into(),
            y_label: "alpha".into(),
            series: sweep,
            bars: vec![],
        },
        "Figure 3. The fitted exponent of tr Sigma(t) in one-decade windows against the window start, per group: how much the choice of window matters.".into(),
    ));
    figs
}
