//! The verdict of the Moons test and its Markdown section.

#[allow(unused_imports)]
use super::*;

/// The verdict on Wasserstein-1 of the principal-axis summary (module docs, item 10).
pub(super) fn decide(matched: &Comparison, controls: &[Comparison]) -> (Verdict, String) {
    let m = matched.principal.w1;
    // the permutation null band of this comparison (module docs, item 9); a result without
    // one cannot be within it
    let (band, p_value) = m
        .permutation
        .map_or((f64::NAN, f64::NAN), |t| (t.band, t.p_value));
    if let Some(c) = controls.iter().find(|c| c.principal.w1.ci.hi < m.ci.lo) {
        return (
            Verdict::Contradicted,
            format!(
                "the control '{}' fits the SGD sample better: W1 {:.4} [{:.4}, {:.4}] below the \
                 matched {:.4} [{:.4}, {:.4}]",
                c.label,
                c.principal.w1.value,
                c.principal.w1.ci.lo,
                c.principal.w1.ci.hi,
                m.value,
                m.ci.lo,
                m.ci.hi
            ),
        );
    }
    let in_null = m.value <= band;
    let band_text = format!("the permutation null band (<= {band:.4}, p = {p_value:.3})");
    let separated: Vec<&Comparison> = controls
        .iter()
        .filter(|c| c.principal.w1.ci.lo > m.ci.hi)
        .collect();
    if in_null && separated.len() == controls.len() {
        (
            Verdict::Supported,
            format!(
                "matched W1 {:.4} is within {band_text} and every control's interval lies above \
                 the matched one ({:.4})",
                m.value, m.ci.hi
            ),
        )
    } else {
        let mut why = Vec::new();
        if !in_null {
            why.push(format!("matched W1 {:.4} exceeds {band_text}", m.value));
        }
        for c in controls.iter().filter(|c| c.principal.w1.ci.lo <= m.ci.hi) {
            why.push(format!(
                "the control '{}' (W1 {:.4} [{:.4}, {:.4}]) is not clearly worse",
                c.label, c.principal.w1.value, c.principal.w1.ci.lo, c.principal.w1.ci.hi
            ));
        }
        (Verdict::Inconclusive, why.join("; "))
    }
}

/// "The tempered posterior is closer to SGD than the OU rival" on W1 of the principal-axis
/// summary (module docs, item 11): supported when the matched posterior's interval lies wholly
/// below the OU's, contradicted when wholly above, else inconclusive.
pub(super) fn posterior_vs_ou(matched: &Comparison, ou: &Comparison) -> (Verdict, String) {
    let (m, o) = (matched.principal.w1, ou.principal.w1);
    let text = format!(
        "matched posterior W1 {:.4} [{:.4}, {:.4}], OU W1 {:.4} [{:.4}, {:.4}]",
        m.value, m.ci.lo, m.ci.hi, o.value, o.ci.lo, o.ci.hi
    );
    if m.ci.hi < o.ci.lo {
        (
            Verdict::Supported,
            format!("{text}: the posterior's interval lies below the OU's"),
        )
    } else if m.ci.lo > o.ci.hi {
        (
            Verdict::Contradicted,
            format!("{text}: the posterior's interval lies above the OU's"),
        )
    } else {
        (
            Verdict::Inconclusive,
            format!("{text}: the intervals overlap"),
        )
    }
}

/// The Markdown section of the report: settings, the table of distances and the verdict.
pub fn markdown(r: &MoonsResult) -> String {
    use std::fmt::Write;
    let c = &r.config;
    let mut s = String::new();
    let _ = writeln!(s, "## Moons posterior test\n");
    let _ = writeln!(
        s,
        "MLP 2-{}-1 (tanh, {} parameters) on make_moons(n = {}, noise = {}, seed {}), weight \
         decay {}. {} SGD runs (lr {}, batch {}, {} steps, last {} iterates {} apart) from one \
         pretrained minimum `w*` (data loss {:.4}); the tempered posterior exp(-n beta L) sampled \
         by {} from `w*` ({} chains x {} draws).\n",
        c.hidden
            .iter()
            .map(|h| h.to_string())
            .collect::<Vec<_>>()
            .join("-"),
        r.num_params,
        c.n,
        c.noise,
        c.data_seed,
        c.weight_decay,
        c.runs,
        c.lr,
        c.batch_size,
        c.steps,
        c.late_iterates,
        c.late_spacing,
        r.pretrain_loss,
        if c.metropolis { "MALA" } else { "Langevin" },
        c.chains,
        c.draws_per_chain,
    );
    let _ = writeln!(
        s,
        "Temperature from the SGD settings: noise scale kappa = tr C / tr F = {:.4} (at `w*`: \
         {:.4}; isotropic tr C / d = {:.3e}, not used), gamma = 2 B / (lr kappa) = {:.1}, D_xi = xi^(2 - nu) = {:.4} (xi = {}, nu = {}), matched \
         n beta = {:.1}{} (untempered: n beta = n = {}).\n",
        r.noise_scale,
        r.noise_scale_at_start,
        r.isotropic_noise_scale,
        r.gamma,
        r.d_xi,
        c.xi,
        c.walk_dimension,
        r.nbeta_matched,
        if (c.temperature_factor - 1.0).abs() > 0.0 {
            format!(
                " (deliberately mis-set: x{} the SGD temperature's)",
                c.temperature_factor
            )
        } else {
            String::new()
        },
        c.n,
    );
    let _ = writeln!(
        s,
        "Summary: probe logits at {} fixed points projected on the first principal axis of the \
         SGD sample ({:.0} % of its variance); SGD sample {} draws, posterior samples {} draws. \
         SGD summary mean {:.4}, sd {:.4}; mean data loss {:.4}.\n",
        PROBES.len(),
        100.0 * r.principal_explained,
        r.sgd_sample_size,
        r.posterior_sample_size,
        r.sgd_summary_mean_sd[0],
        r.sgd_summary_mean_sd[1],
        r.sgd_loss_mean,
    );
    let _ = writeln!(
        s,
        "| sample vs SGD | n beta | KL | JS | W1 | W1 null band (p) | W1 (mean prob.) | summary sd | loss | accept |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|---|");
    let est = |e: &Estimate| format!("{:.4} [{:.4}, {:.4}]", e.value, e.ci.lo, e.ci.hi);
    let perm = |e: &Estimate| {
        e.permutation.map_or("n/a".into(), |t| {
            format!("<= {:.4} ({:.3})", t.band, t.p_value)
        })
    };
    let mut row = |label: &str, cmp: &Comparison| {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {:.4} | {:.4} | {:.2} |",
            label,
            if cmp.nbeta > 0.0 {
                format!("{:.1}", cmp.nbeta)
            } else {
                "n/a".into()
            },
            est(&cmp.principal.kl),
            est(&cmp.principal.js),
            est(&cmp.principal.w1),
            perm(&cmp.principal.w1),
            est(&cmp.mean_probability.w1),
            cmp.summary_mean_sd[1],
            cmp.loss_mean,
            cmp.acceptance
        );
    };
    row("matched (tempered)", &r.matched);
    row("null: posterior vs posterior", &r.null);
    for ctl in &r.controls {
        row(&ctl.label, ctl);
    }
    if let Some(c) = r.walk.as_ref().and_then(|w| w.comparison.as_ref()) {
        row(&format!("at the measured walk dimension ({})", c.label), c);
    }
    if let Some(ou) = &r.ou {
        row("rival: OU (linearised SGD at w*)", &ou.comparison);
        if let Some(c) = &ou.stationary_comparison {
            row("rival: OU, stationary law", c);
        }
    }
    let _ = writeln!(
        s,
        "\nPublished (xi = {}): KL {}, W {}, JS {} (their summary and units are not known here: \
         context, not a test). Intervals: 95 % cluster bootstrap over SGD runs and chains, \
         recentred on the estimate (the resampling bias removed); null band: 95 % quantile of {} \
         cluster permutations of the two samples, with the permutation p-value; KL and JS in nats \
         on {} bins + 2 overflow bins, pseudo-count {}.\n",
        r.published.xi,
        r.published.kl,
        r.published.wasserstein,
        r.published.js,
        c.permutations,
        c.bins,
        c.pseudo_count
    );
    if let Some(w) = &r.walk {
        let _ = writeln!(
            s,
            "Walk dimension of the SGD runs: mean |w_t - w*|^2 grows with slope {:.4} in ln t over \
             steps {}..{} ({} points, up to half the plateau {:.4e}), so nu = 2 / slope = {:.3} \
             [{:.3}, {:.3}] (95 % bootstrap over runs); D_xi = {:.4}, n beta = {:.1}. \
             **Verdict at the measured nu: {}** ({}).\n",
            w.slope,
            w.window.0,
            w.window.1,
            w.points,
            w.plateau,
            w.nu,
            w.nu_ci.lo,
            w.nu_ci.hi,
            w.d_xi,
            w.nbeta,
            w.verdict.words(),
            w.verdict_reason
        );
    }
    if let Some(ou) = &r.ou {
        let _ = writeln!(
            s,
            "OU rival (SGD linearised at `w*`, from `w*`, H, C, lr and B only): |grad L(w*)| = \
             {:.3e}; eigenvalues of H in [{:.3e}, {:.3e}] ({} at or below 0; stationary law: \
             {}), slowest relaxation 1 / (lr lambda_min) = {} against {} steps run; \
             tr C = {:.4e}; at the last step the linearised mean has moved {:.3e} from `w*` and \
             the covariance has trace {:.4e}{}. **Tempered posterior closer to SGD than the OU \
             rival: {}** ({}).\n",
            ou.grad_norm,
            ou.hessian_min_eigenvalue,
            ou.hessian_max_eigenvalue,
            ou.nonpositive_eigenvalues,
            if ou.stationary {
                "yes"
            } else {
                "no: some lr lambda is outside (0, 2), so the row is the recursion's \
                 finite-time law from w*, which exists for any H"
            },
            ou.slowest_relaxation_steps
                .map_or("n/a".into(), |t| format!("{t:.0} steps")),
            c.steps,
            ou.trace_c,
            ou.mean_shift_last,
            ou.trace_cov_last,
            match (ou.mean_shift_stationary, ou.trace_cov_stationary) {
                (Some(m), Some(t)) => format!(" (stationary: {m:.3e} and {t:.4e})"),
                _ => String::new(),
            },
            ou.verdict.words(),
            ou.verdict_reason
        );
    }
    let _ = writeln!(
        s,
        "**Verdict: {}** ({}). Wall time {:.1} s.",
        r.verdict.words(),
        r.verdict_reason,
        r.wall_seconds
    );
    s
}
