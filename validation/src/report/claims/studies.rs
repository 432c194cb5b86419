//! The verdicts of the studies beyond the main sweep.

#[allow(unused_imports)]
use super::*;

/// The verdicts of the studies beyond the main sweep; none when the preset has no
/// studies.
pub fn study_claims(st: &crate::report::results::StudyResults) -> Vec<Claim> {
    use crate::analysis::studies::HIGH;
    let mut out = Vec::new();
    let mci = |m: &crate::analysis::studies::MeanCi| match &m.ci {
        Some(c) => format!("{} (95 % CI {})", num(m.mean), ci_text(c)),
        None => format!("{} (no CI: {} value(s))", num(m.mean), m.n),
    };
    if let Some(e) = &st.exponents {
        let p = &e.fraction_high;
        let verdict = if p.n == 0 {
            Verdict::NotTested
        } else if p.ci.lo > 0.5 {
            Verdict::Supported
        } else if p.ci.hi < 0.5 {
            Verdict::Contradicted
        } else {
            Verdict::Inconclusive
        };
        out.push(Claim {
            id: "exponent_histogram".into(),
            statement: format!(
                "Figure 4: over many seeds the late exponents concentrate at high values just below the bound (most runs have {HIGH} <= s < 0.5)."
            ),
            verdict,
            evidence: format!(
                "{} {} over {} seeds: {} of {} runs have {} <= s < 0.5 (fraction {}, Wilson 95 % CI {}); {} have s >= 0.5. Mean s {}, median {}. nu = d_s / (2 lambda_final) has mean {}.",
                e.arch,
                e.optimizer,
                e.runs,
                p.k,
                p.n,
                HIGH,
                num(p.fraction),
                ci_text(&p.ci),
                e.fraction_above_half.k,
                mci(&e.s_mean),
                num(e.s_median),
                num(if e.nu.is_empty() { f64::NAN } else { mean(&e.nu) }),
            ),
        });
    }
    for (opt, c) in &st.architecture_correlation {
        let rows: Vec<String> = st
            .architectures
            .iter()
            .filter(|r| &r.optimizer == opt)
            .map(|r| {
                format!(
                    "{}: LLC {}, test error {} %",
                    r.arch,
                    mci(&r.llc),
                    mci(&r.test_error)
                )
            })
            .collect();
        // With a handful of architectures the Spearman coefficient takes a few values only
        // (with 3: +-1 and +-0.5) and its interval can collapse to a point, so a verdict needs
        // the Pearson and the Spearman intervals both to exclude 0, on the same side.
        let excludes = |c: &crate::analysis::stats::Correlation| {
            (c.spearman_ci.lo > 0.0 && c.pearson_ci.lo > 0.0)
                || (c.spearman_ci.hi < 0.0 && c.pearson_ci.hi < 0.0)
        };
        let (verdict, tail) = match c {
            Some(c) if excludes(c) => (
                Verdict::Supported,
                format!(
                    "Spearman over the {} architecture means {} (95 % CI {}, seeds resampled within each architecture), Pearson {} (CI {}).",
                    c.n,
                    num(c.spearman),
                    ci_text(&c.spearman_ci),
                    num(c.pearson),
                    ci_text(&c.pearson_ci)
                ),
            ),
            Some(c) => (
                Verdict::Inconclusive,
                format!(
                    "Spearman over the {} architecture means {} (95 % CI {}, seeds resampled within each architecture), Pearson {} (CI {}): the two intervals do not both exclude 0 on the same side.",
                    c.n,
                    num(c.spearman),
                    ci_text(&c.spearman_ci),
                    num(c.pearson),
                    ci_text(&c.pearson_ci)
                ),
            ),
            None => (Verdict::NotTested, "Needs at least 3 architectures.".into()),
        };
        out.push(Claim {
            id: format!("architectures_llc_vs_test_error_{opt}"),
            statement: format!(
                "Figure 5a ({opt}): across widths and depths the LLC is correlated with the test error."
            ),
            verdict,
            evidence: format!("{}. {}", rows.join("; "), tail),
        });
    }
    if !st.batch_scan.is_empty() {
        let rows: Vec<String> = st
            .batch_scan
            .iter()
            .map(|b| {
                format!(
                    "batch {}: Hill tail index of the noise part {}, of the whole step {}, late s {}, {} of {} runs subdiffusive",
                    b.batch_size,
                    b.hill_noise_alpha.as_ref().map_or("n/a".into(), mci),
                    mci(&b.hill_alpha),
                    mci(&b.late_s),
                    b.fraction_subdiffusive.as_ref().map_or(0, |p| p.k),
                    b.fraction_subdiffusive.as_ref().map_or(0, |p| p.n),
                )
            })
            .collect();
        let small = &st.batch_scan[0];
        // The claim is about the gradient noise (Simsekli et al. 2019), so it is tested on the
        // noise part of the step; the whole step's index (drift included) is evidence only.
        let heavy = match small.hill_noise_alpha.as_ref().and_then(|h| h.ci.as_ref()) {
            Some(c) if c.hi < 2.0 => Verdict::Supported,
            Some(c) if c.lo > 2.0 => Verdict::Contradicted,
            Some(_) => Verdict::Inconclusive,
            None => Verdict::NotTested,
        };
        out.push(Claim {
            id: "heavy_tailed_jumps".into(),
            statement: format!(
                "At small batch (here {}) the gradient noise of SGD, the step minus the full-batch gradient step, is heavy-tailed: Hill tail index of norm(g_B(w) - g(w)) below 2 (infinite variance).",
                small.batch_size
            ),
            verdict: heavy,
            evidence: format!(
                "{}. The noise part: norm(g_B(w) - g(w)) over 1,000 minibatches at each run's final weights; the whole step: the late-window jumps on full minibatches ({} jumps on the smaller last minibatch of an epoch left out); Hill estimates use the largest 5 % (at least 10, at most 1000); the interval is over runs.",
                rows.join("; "),
                st.batch_scan
                    .iter()
                    .map(|b| b.partial_batch_jumps_excluded)
                    .sum::<usize>()
            ),
        });
        let breaks = match &small.late_s.ci {
            Some(c) if c.lo > 0.5 => Verdict::Supported,
            Some(c) if c.hi < 0.5 => Verdict::Contradicted,
            Some(_) => Verdict::Inconclusive,
            None => Verdict::NotTested,
        };
        out.push(Claim {
            id: "small_batch_breaks_subdiffusion".into(),
            statement: format!(
                "Subdiffusion breaks at small batch: at batch {} the late exponent exceeds 0.5.",
                small.batch_size
            ),
            verdict: breaks,
            evidence: format!(
                "Late s at batch {}: {}; at the largest batch {}: {}.",
                small.batch_size,
                mci(&small.late_s),
                st.batch_scan.last().map_or(0, |b| b.batch_size),
                st.batch_scan
                    .last()
                    .map_or("n/a".into(), |b| mci(&b.late_s)),
            ),
        });
    }
    if let Some(m) = &st.moons {
        let w = |c: &crate::moons::Comparison| {
            format!(
                "{} (n beta {}): W1 {} (95 % CI {}{}), KL {}, JS {}",
                c.label,
                if c.nbeta > 0.0 {
                    num(c.nbeta)
                } else {
                    "n/a".into()
                },
                num(c.principal.w1.value),
                ci_text(&c.principal.w1.ci),
                c.principal
                    .w1
                    .permutation
                    .map_or(String::new(), |t| format!(
                        "; permutation null band <= {}, p = {}",
                        num(t.band),
                        num(t.p_value)
                    )),
                num(c.principal.kl.value),
                num(c.principal.js.value)
            )
        };
        out.push(Claim {
            id: "moons_posterior".into(),
            statement: "Moons: the SGD solutions are distributed as the tempered posterior exp(-n beta L) at the temperature SGD implies, and not as the untempered or mis-tempered ones.".into(),
            verdict: m.verdict,
            evidence: format!(
                "{} SGD runs against MALA samples, distances in the first principal axis of the network outputs on fixed probe points: {}; null (two posterior samples) {}; controls: {}. Published at xi = {}: KL {}, W {}, JS {} (their summary and units are not stated: context only). {}",
                m.config.runs,
                w(&m.matched),
                w(&m.null),
                m.controls.iter().map(w).collect::<Vec<_>>().join("; "),
                num(m.published.xi),
                num(m.published.kl),
                num(m.published.wasserstein),
                num(m.published.js),
                m.verdict_reason
            ),
        });
        if let Some(wd) = &m.walk {
            out.push(Claim {
                id: "moons_posterior_measured_walk".into(),
                statement: "Moons, with the walk dimension measured from the same SGD runs: the SGD solutions are distributed as the tempered posterior at n beta = gamma / xi^(2 - nu).".into(),
                verdict: wd.verdict,
                evidence: format!(
                    "nu = 2 / slope of ln MSD on ln t = {} (95 % CI {}), fitted over steps {} to {}; D_xi = {} at xi = {}; {}. {}",
                    num(wd.nu),
                    ci_text(&wd.nu_ci),
                    wd.window.0,
                    wd.window.1,
                    num(wd.d_xi),
                    num(m.config.xi),
                    wd.comparison.as_ref().map_or("no posterior sample".into(), w),
                    wd.verdict_reason
                ),
            });
        }
        // The rival's rule (crate::moons module docs, item 11): supported when the matched
        // posterior's W1 interval lies wholly below the OU rival's, contradicted when wholly
        // above, else inconclusive.
        if let Some(ou) = &m.ou {
            out.push(Claim {
                id: "moons_posterior_vs_ou".into(),
                statement: "Moons: the tempered posterior at the temperature SGD implies is closer to the SGD solutions than the rival prediction, SGD linearised at the minimum (an Ornstein-Uhlenbeck process from the Hessian and the gradient-noise covariance there).".into(),
                verdict: ou.verdict,
                evidence: format!(
                    "{}; {}{}. |grad L(w*)| = {}, eigenvalues of H from {} to {} ({} at or below 0). {}",
                    w(&m.matched),
                    w(&ou.comparison),
                    ou.stationary_comparison
                        .as_ref()
                        .map_or(String::new(), |c| format!("; {}", w(c))),
                    num(ou.grad_norm),
                    num(ou.hessian_min_eigenvalue),
                    num(ou.hessian_max_eigenvalue),
                    ou.nonpositive_eigenvalues,
                    ou.verdict_reason
                ),
            });
        }
    }
    if let Some(sc) = &st.scale_scan {
        let (hi, lo) = sc.ratio_range;
        // Within a factor 1.25 either way over the whole scan (epsilon and gamma each varied by
        // the preset's factors) is called insensitive; beyond a factor 2 sensitive.
        let verdict = if sc.points.is_empty() || !hi.is_finite() {
            Verdict::NotTested
        } else if hi <= 1.25 && lo >= 0.8 {
            Verdict::Supported
        } else if hi >= 2.0 || lo <= 0.5 {
            Verdict::Contradicted
        } else {
            Verdict::Inconclusive
        };
        out.push(Claim {
            id: "llc_scale_insensitive".into(),
            statement: "The LLC estimate (and so lambda_bar, d_s = 2 lambda_bar s and the Gamma-law shape) does not depend on the SGLD scale: epsilon and gamma varied by the preset's factors move it by less than 25 %.".into(),
            verdict,
            evidence: format!(
                "{} estimates on the final weights of {} run(s): ratio to the preset's setting from {} to {}; d ln LLC / d ln epsilon = {}, d ln LLC / d ln gamma = {}. The bound d_s <= lambda_bar is s <= 0.5 whatever lambda_bar is, so it does not move; d_s and the Gamma-law shape scale with lambda_bar.",
                sc.points.len(),
                {
                    let mut r: Vec<&str> = sc.points.iter().map(|p| p.run.as_str()).collect();
                    r.dedup();
                    r.len()
                },
                num(lo),
                num(hi),
                num(sc.d_ln_llc_d_ln_epsilon),
                num(sc.d_ln_llc_d_ln_gamma)
            ),
        });
    }
    out
}
