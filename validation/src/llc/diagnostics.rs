//! Convergence diagnostics of every estimate ([`LlcDiagnostics`]): split rank-normalised R-hat
//! and bulk / tail ESS of the per-draw loss over the chains ([`crate::analysis::mcmc`]), the mean
//! Metropolis-adjusted acceptance probability of the SGLD proposals
//! ([`crate::analysis::mala`]), and the burn-in detected from the loss traces
//! ([`crate::analysis::burn_in`]).
//!
//! The acceptance is measured on a declared subsample of the steps, not on every step: on
//! every `LlcConfig::acceptance_every`-th draw step (default 50; the first draw step is
//! measured) the potential `U = n_beta L_B + (gamma / 2) |w - w*|^2` and its gradient are
//! evaluated at `w` and at the proposal `w'` on that step's minibatch `B`, and the MALA
//! acceptance probability of `w -> w'` for the target `exp(-U / s^2)` (`s` the noise level;
//! with step `eps s^2` the SGLD step is the Langevin step of that target) is recorded. Two
//! extra loss-and-gradient evaluations every 50 steps cost about 4 % of a chain; measuring
//! every step would triple the cost. With noise level 0 nothing is measured.

use crate::analysis::{burn_in, mcmc};

/// Diagnostics of one LLC estimate. `None` (JSON `null`) where a value could not be computed
/// (too few draws, a diverged chain, one chain for R-hat, acceptance not measured); the
/// reason is then among the warnings, except for the last two.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LlcDiagnostics {
    /// Split rank-normalised R-hat of the per-draw minibatch loss over the chains (`NaN` with
    /// one chain).
    pub rhat: Option<f64>,
    /// Bulk effective sample size of the per-draw loss, all chains together.
    pub ess_bulk: Option<f64>,
    /// Tail effective sample size (the smaller of the 5 % and 95 % quantile ESS).
    pub ess_tail: Option<f64>,
    /// Mean Metropolis-adjusted acceptance probability of the measured SGLD proposals (`None`
    /// when none was measured).
    pub acceptance: Option<f64>,
    /// Number of proposals the acceptance was measured on (all chains).
    pub acceptance_steps: usize,
    /// Burn-in detected from the draws' loss traces by MSER ([`burn_in::mser`]): the largest
    /// over the chains, in draws (after the configured burn-in).
    pub burn_in: usize,
    /// Plain sentences, empty when every check passes: R-hat above
    /// [`mcmc::RHAT_MAX`], bulk or tail ESS below [`mcmc::ESS_PER_CHAIN_MIN`] per chain,
    /// acceptance outside [`mcmc::ACCEPTANCE_RANGE`], a burn-in longer than half the draws.
    pub warnings: Vec<String>,
}

impl LlcDiagnostics {
    /// Diagnose the per-chain draws of the loss (`draws[chain][draw]`) and the measured
    /// acceptance probabilities (`accept[chain][k]`). Never fails: what cannot be computed is
    /// `NaN` with a warning saying why.
    pub fn new(draws: &[Vec<f64>], accept: &[Vec<f64>]) -> LlcDiagnostics {
        let acc: Vec<f64> = accept.iter().flatten().copied().collect();
        let acceptance = (!acc.is_empty()).then(|| acc.iter().sum::<f64>() / acc.len() as f64);
        let mut d = LlcDiagnostics {
            rhat: None,
            ess_bulk: None,
            ess_tail: None,
            acceptance,
            acceptance_steps: acc.len(),
            burn_in: 0,
            warnings: vec![],
        };
        let n = draws.iter().map(Vec::len).min().unwrap_or(0);
        let same = draws.iter().all(|c| c.len() == n);
        let finite = draws.iter().flatten().all(|v| v.is_finite());
        if !(same && finite) || n < 4 || draws.is_empty() {
            d.warnings.push(format!(
                "no R-hat or ESS: need at least 4 finite draws in every chain, all chains of one \
                 length (shortest chain {n} draws{})",
                if finite { "" } else { ", a non-finite loss" }
            ));
        } else {
            match mcmc::Diagnostics::from_chains(draws, acceptance) {
                Ok(m) => {
                    d.rhat = m.r_hat;
                    d.ess_bulk = Some(m.ess_bulk);
                    d.ess_tail = Some(m.ess_tail);
                    d.warnings.extend(m.warnings());
                }
                Err(e) => d.warnings.push(format!("no R-hat or ESS: {e}")),
            }
            let mut unconverged = 0;
            for c in draws {
                if let Ok(b) = burn_in::mser(c) {
                    d.burn_in = d.burn_in.max(b.draws);
                    unconverged += usize::from(!b.converged);
                }
            }
            if unconverged > 0 {
                d.warnings.push(format!(
                    "the loss of {unconverged} of {} chains still drifts after half the draws \
                     (MSER burn-in reaches its limit {}): run longer chains or add burn-in",
                    draws.len(),
                    n / 2
                ));
            }
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn diagnostics_of_iid_and_stuck_chains() {
        // 4 chains of 1000 iid normal draws: R-hat within 1.01 and ESS near 4000 (the
        // ArviZ-matched estimators are tested in analysis::mcmc; here only the wiring)
        let mut rng = Rng::new(1, &[7]);
        let iid: Vec<Vec<f64>> = (0..4)
            .map(|_| (0..1000).map(|_| rng.normal()).collect())
            .collect();
        let acc = vec![vec![0.9; 20]; 4];
        let d = LlcDiagnostics::new(&iid, &acc);
        assert!(d.rhat.unwrap() < 1.01, "{d:?}");
        assert!(
            d.ess_bulk.unwrap() > 3000.0 && d.ess_tail.unwrap() > 2000.0,
            "{d:?}"
        );
        assert!((d.acceptance.unwrap() - 0.9).abs() < 1e-12 && d.acceptance_steps == 80);
        assert!(d.warnings.is_empty(), "{:?}", d.warnings);
        // chains at different levels: R-hat far above 1.01, and a sentence says so
        let shifted: Vec<Vec<f64>> = iid
            .iter()
            .enumerate()
            .map(|(k, c)| c.iter().map(|v| v + k as f64).collect())
            .collect();
        let d = LlcDiagnostics::new(&shifted, &[vec![0.3]]);
        assert!(d.rhat.unwrap() > 1.5, "{d:?}");
        assert!(d.warnings.iter().any(|w| w.contains("R-hat")), "{d:?}");
        assert!(d.warnings.iter().any(|w| w.contains("acceptance")), "{d:?}");
        // a linear drift: MSER cannot find the end of the transient
        let drift: Vec<Vec<f64>> = (0..2).map(|_| (0..200).map(f64::from).collect()).collect();
        let d = LlcDiagnostics::new(&drift, &[]);
        assert_eq!(d.burn_in, 100);
        assert!(d.acceptance.is_none() && d.acceptance_steps == 0);
        assert!(d.warnings.iter().any(|w| w.contains("drifts")), "{d:?}");
        // too short, or diverged: NaN with a reason, no panic
        let d = LlcDiagnostics::new(&[vec![1.0, 2.0], vec![1.0, f64::NAN, 3.0]], &[]);
        assert!(d.rhat.is_none() && d.ess_bulk.is_none());
        assert!(d.warnings[0].contains("no R-hat"), "{d:?}");
    }
}
