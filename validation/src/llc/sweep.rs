//! The `epsilon x gamma` calibration of the SGLD settings (devinterp's recipe): estimate the
//! LLC at every grid point, then pick a setting by a declared rule ([`choose`]).
//!
//! The rule. A grid point is *usable* when
//!
//! 1. no chain diverged and the estimate is positive and finite;
//! 2. its mean Metropolis-adjusted acceptance, when measured, lies in
//!    [`crate::analysis::mcmc::ACCEPTANCE_RANGE`] (below it the step is too coarse for the
//!    target, above it the chains barely move);
//! 3. its R-hat, when there is one, is at most [`crate::analysis::mcmc::RHAT_MAX`];
//! 4. the estimate is flat in epsilon: at the same gamma, a neighbouring epsilon of the grid
//!    that also passes 1-3 gives an estimate within [`FLAT_REL`] (relative) of it. A point
//!    with no such neighbour is not known to be flat and is not usable.
//!
//! Among usable points the largest epsilon is chosen (fastest mixing for the budget), ties
//! broken by the smallest gamma (the least localization that still samples well). No usable
//! point: no choice, and the reason per point is in the output.

#[allow(unused_imports)]
use super::*;
use crate::analysis::mcmc::{ACCEPTANCE_RANGE, RHAT_MAX};

/// Largest relative change of the estimate between neighbouring epsilons that counts as flat.
pub const FLAT_REL: f64 = 0.10;

/// One grid point of a sweep.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SweepPoint {
    /// Step size.
    pub epsilon: f64,
    /// Localization strength.
    pub gamma: f64,
    /// The LLC estimate (mean over chains).
    pub llc_mean: f64,
    /// Chain-to-chain standard deviation.
    pub llc_std: f64,
    /// The estimate's diagnostics.
    pub diagnostics: LlcDiagnostics,
    /// The estimate's warnings (divergence, loss below the init loss).
    pub warnings: Vec<String>,
    /// Passes checks 1-3 of the rule (module docs).
    pub stable: bool,
    /// Passes check 4 as well.
    pub usable: bool,
    /// Why not usable (empty when usable).
    pub reasons: Vec<String>,
}

impl SweepPoint {
    /// A point from its settings and estimate; `stable`, `usable` and `reasons` are set by
    /// [`choose`].
    pub fn new(epsilon: f64, gamma: f64, r: &LlcResult) -> SweepPoint {
        SweepPoint {
            epsilon,
            gamma,
            llc_mean: r.llc_mean,
            llc_std: r.llc_std,
            diagnostics: r.diagnostics.clone(),
            warnings: r.warnings.clone(),
            stable: false,
            usable: false,
            reasons: vec![],
        }
    }
}

/// Apply the rule of the module docs to `points` (any order): sets `stable`, `usable` and
/// `reasons` of every point and returns the index of the chosen one.
pub fn choose(points: &mut [SweepPoint]) -> Option<usize> {
    for p in points.iter_mut() {
        p.reasons.clear();
        if p.warnings.iter().any(|w| w.starts_with("diverg")) {
            p.reasons.push("a chain diverged".into());
        }
        if !(p.llc_mean.is_finite() && p.llc_mean > 0.0) {
            p.reasons
                .push(format!("estimate {} is not positive", p.llc_mean));
        }
        let (lo, hi) = ACCEPTANCE_RANGE;
        if let Some(a) = p.diagnostics.acceptance
            && !(lo..=hi).contains(&a)
        {
            p.reasons
                .push(format!("acceptance {a:.3} outside [{lo}, {hi}]"));
        }
        if let Some(r) = p.diagnostics.rhat
            && (r.is_nan() || r > RHAT_MAX)
        {
            p.reasons.push(format!("R-hat {r:.4} > {RHAT_MAX}"));
        }
        p.stable = p.reasons.is_empty();
    }
    for i in 0..points.len() {
        if !points[i].stable {
            continue;
        }
        let (e, g, v) = (points[i].epsilon, points[i].gamma, points[i].llc_mean);
        // the nearest stable epsilons below and above at the same gamma
        let mut below: Option<&SweepPoint> = None;
        let mut above: Option<&SweepPoint> = None;
        for q in points
            .iter()
            .filter(|q| q.stable && q.gamma.to_bits() == g.to_bits())
        {
            if q.epsilon < e && below.is_none_or(|b| q.epsilon > b.epsilon) {
                below = Some(q);
            }
            if q.epsilon > e && above.is_none_or(|b| q.epsilon < b.epsilon) {
                above = Some(q);
            }
        }
        let flat = [below, above]
            .iter()
            .flatten()
            .any(|q| (q.llc_mean - v).abs() <= FLAT_REL * v.abs());
        if flat {
            points[i].usable = true;
        } else {
            points[i].reasons.push(format!(
                "not flat in epsilon: no neighbouring stable epsilon at gamma {g} within {:.0} %",
                100.0 * FLAT_REL
            ));
        }
    }
    points
        .iter()
        .enumerate()
        .filter(|(_, p)| p.usable)
        .max_by(|(_, a), (_, b)| {
            a.epsilon
                .total_cmp(&b.epsilon)
                .then(b.gamma.total_cmp(&a.gamma))
        })
        .map(|(i, _)| i)
}

/// A sweep: every grid point and the chosen one.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Sweep {
    /// Grid points, epsilon-major (`epsilons[i], gammas[j]` at `i * gammas.len() + j`).
    pub points: Vec<SweepPoint>,
    /// Index of the chosen point, if any is usable.
    pub chosen: Option<usize>,
    /// The rule, in words.
    pub rule: &'static str,
    /// What the grid as a whole says when no point is usable and the cause is common to all
    /// of them ([`diagnose`]); `None` otherwise.
    pub diagnosis: Option<String>,
}

/// A diagnosis of a grid with no usable point whose failures share one cause: every estimate
/// negative (the chains reach lower loss than the checkpoint's, which is then not at a local
/// minimum, so its LLC is not defined), or every point diverged. `None` when a point is usable
/// or the causes differ (each point's `reasons` say why).
pub fn diagnose(points: &[SweepPoint]) -> Option<String> {
    if points.is_empty() || points.iter().any(|p| p.usable) {
        return None;
    }
    let finite: Vec<&SweepPoint> = points.iter().filter(|p| p.llc_mean.is_finite()).collect();
    if finite.is_empty() {
        return Some("every grid point diverged: lower epsilon or raise gamma".to_string());
    }
    if finite.iter().all(|p| p.llc_mean < 0.0) {
        let diverged = points.len() - finite.len();
        return Some(format!(
            "every estimate is negative ({} of {} grid points{}): the chains find lower loss \
             than the checkpoint's, so the checkpoint is not at a local minimum and its LLC is \
             not defined at this n_beta; train further, or use a warmer n_beta",
            finite.len(),
            points.len(),
            if diverged > 0 {
                format!("; {diverged} diverged")
            } else {
                String::new()
            }
        ));
    }
    None
}

/// The rule of the module docs in one sentence.
pub const RULE: &str = "usable: no divergence, positive estimate, acceptance in [0.5, 0.99] (when \
     measured), R-hat <= 1.01 (when defined), and a neighbouring stable epsilon at the same gamma \
     within 10 % of the estimate; chosen: the largest usable epsilon, then the smallest gamma";

/// Estimate the LLC of `net` at every `(epsilon, gamma)` of the grid with the other settings
/// of `base` (all estimates in one batch over `threads` threads, each equal to its estimate
/// alone), and choose a setting ([`choose`]).
pub fn sweep(
    net: &Network,
    data: &Dataset,
    base: &LlcConfig,
    epsilons: &[f64],
    gammas: &[f64],
    threads: usize,
) -> Result<Sweep> {
    if epsilons.is_empty() {
        return Err(Error::config(
            "epsilons",
            "none",
            "at least one positive step size",
        ));
    }
    if gammas.is_empty() {
        return Err(Error::config("gammas", "none", "at least one gamma >= 0"));
    }
    let cfgs: Vec<LlcConfig> = epsilons
        .iter()
        .flat_map(|&epsilon| {
            gammas.iter().map(move |&gamma| LlcConfig {
                epsilon,
                gamma,
                ..base.clone()
            })
        })
        .collect();
    for c in &cfgs {
        c.validate()?;
    }
    let jobs: Vec<(&Network, &LlcConfig)> = cfgs.iter().map(|c| (net, c)).collect();
    let results = estimate_many(&jobs, data, threads)?;
    let mut points: Vec<SweepPoint> = cfgs
        .iter()
        .zip(&results)
        .map(|(c, r)| SweepPoint::new(c.epsilon, c.gamma, r))
        .collect();
    let chosen = choose(&mut points);
    let diagnosis = diagnose(&points);
    Ok(Sweep {
        points,
        chosen,
        rule: RULE,
        diagnosis,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pt(epsilon: f64, gamma: f64, llc: f64, acc: f64, rhat: f64) -> SweepPoint {
        SweepPoint {
            epsilon,
            gamma,
            llc_mean: llc,
            llc_std: 0.0,
            diagnostics: LlcDiagnostics {
                rhat: Some(rhat),
                acceptance: Some(acc),
                ..LlcDiagnostics::default()
            },
            warnings: vec![],
            stable: false,
            usable: false,
            reasons: vec![],
        }
    }

    #[test]
    fn the_rule_picks_the_largest_flat_stable_epsilon() {
        let mut p = vec![
            // gamma 100: flat from 1e-5 to 1e-4, then the step is too coarse at 1e-3
            pt(1e-5, 100.0, 10.0, 0.98, 1.001),
            pt(1e-4, 100.0, 10.5, 0.9, 1.002),
            pt(1e-3, 100.0, 20.0, 0.3, 1.002),
            // gamma 1000: flat at 1e-4 too, but the larger gamma loses the tie
            pt(1e-5, 1000.0, 9.0, 0.98, 1.001),
            pt(1e-4, 1000.0, 9.2, 0.95, 1.001),
            // gamma 10: not mixed (R-hat) at 1e-4, so 1e-5 has no stable neighbour
            pt(1e-5, 10.0, 12.0, 0.98, 1.001),
            pt(1e-4, 10.0, 30.0, 0.9, 1.2),
        ];
        let c = choose(&mut p).unwrap();
        assert_eq!(c, 1, "{:?}", p[c]);
        assert!(p[2].reasons[0].contains("acceptance"), "{:?}", p[2].reasons);
        assert!(p[6].reasons[0].contains("R-hat"));
        assert!(!p[5].usable && p[5].reasons[0].contains("not flat"));
        // a jump of 20 % between neighbours: neither is flat, nothing is chosen
        let mut q = vec![pt(1e-5, 1.0, 10.0, 0.9, 1.0), pt(1e-4, 1.0, 12.0, 0.9, 1.0)];
        assert!(choose(&mut q).is_none());
        assert!(q.iter().all(|p| !p.usable));
        // mixed causes: no common diagnosis
        assert_eq!(diagnose(&q), None);
    }

    #[test]
    fn a_grid_of_negative_estimates_says_the_checkpoint_is_not_at_a_minimum() {
        let mut p = vec![
            pt(1e-4, 100.0, -20.0, 0.9, 1.001),
            pt(3e-4, 100.0, -18.0, 0.9, 1.001),
            pt(1e-3, 100.0, f64::NAN, 0.9, 1.001),
        ];
        assert!(choose(&mut p).is_none());
        let d = diagnose(&p).expect("a diagnosis");
        assert!(
            d.contains("not at a local minimum") && d.contains("2 of 3 grid points; 1 diverged"),
            "{d}"
        );
        // one positive estimate: the causes differ
        p[0].llc_mean = 5.0;
        assert_eq!(diagnose(&p), None);
        // all diverged
        for q in &mut p {
            q.llc_mean = f64::NAN;
        }
        assert!(diagnose(&p).unwrap().contains("diverged"));
        // a usable point: nothing to diagnose
        let mut ok = vec![pt(1e-5, 1.0, 10.0, 0.9, 1.0), pt(1e-4, 1.0, 10.2, 0.9, 1.0)];
        assert!(choose(&mut ok).is_some());
        assert_eq!(diagnose(&ok), None);
    }
}
