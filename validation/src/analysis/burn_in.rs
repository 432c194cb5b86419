//! Burn-in detection from a trace (for example the SGLD loss trace of an LLC chain): the
//! marginal standard error rule, [`mser`].

use serde::Serialize;

use super::{AnalysisError, Result};

fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

/// The end of the initial transient of a trace by the marginal standard error rule (MSER;
/// White 1997, "An effective truncation heuristic for bias reduction in simulation output",
/// Simulation 69(6)).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct BurnIn {
    /// Number of leading draws to discard: the `b` in `0..=n/2` minimising
    /// `MSER(b) = sum_{i >= b} (y_i - mean_b)^2 / (n - b)^2`, `mean_b` the mean of `y[b..]`.
    pub draws: usize,
    /// Mean of the kept draws `y[draws..]`.
    pub mean_after: f64,
    /// `sqrt(MSER(draws))`: the naive (independent-draw) standard error of `mean_after`.
    pub std_error_after: f64,
    /// `false` when the minimum lies at `b = n/2`, the end of the search: the transient may
    /// outlast half the trace, so the trace is too short to judge.
    pub converged: bool,
}

/// Burn-in of `trace` by MSER ([`BurnIn`]): discard the first `b` draws where `b` minimises the
/// squared marginal standard error of the remaining mean, `b <= n/2`. A leading transient
/// inflates the variance of the kept draws faster than dropping draws shrinks the count, so the
/// minimum sits where the remaining trace looks stationary.
///
/// Needs at least 4 finite values. `O(n)`.
pub fn mser(trace: &[f64]) -> Result<BurnIn> {
    let n = trace.len();
    if n < 4 {
        return Err(AnalysisError::TooFewPoints {
            what: "burn-in trace",
            needed: 4,
            got: n,
        });
    }
    if let Some(&v) = trace.iter().find(|v| !v.is_finite()) {
        return Err(AnalysisError::OutOfRange {
            what: "burn-in trace value",
            value: v,
            allowed: "finite",
        });
    }
    // shift by the overall mean so that the suffix sums of squares do not cancel badly
    let shift = mean(trace);
    let (mut s1, mut s2) = (0.0, 0.0);
    let mut best = (f64::INFINITY, 0usize, 0.0);
    let half = n / 2;
    for b in (0..n).rev() {
        let y = trace[b] - shift;
        s1 += y;
        s2 += y * y;
        if b <= half {
            let m = (n - b) as f64;
            let mean_b = s1 / m;
            let ss = (s2 - s1 * mean_b).max(0.0);
            let mser = ss / (m * m);
            // `<=` so that ties go to the smaller b (the loop runs backwards)
            if mser <= best.0 {
                best = (mser, b, mean_b + shift);
            }
        }
    }
    Ok(BurnIn {
        draws: best.1,
        mean_after: best.2,
        std_error_after: best.0.sqrt(),
        converged: best.1 < half,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng, rngs::StdRng};

    /// Standard normal by Box-Muller (tests only).
    fn gauss(rng: &mut StdRng) -> f64 {
        let u1: f64 = 1.0 - rng.random::<f64>();
        let u2: f64 = rng.random::<f64>();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    #[test]
    fn mser_finds_exponential_relaxation() {
        // y_t = 1 + 5 exp(-t / tau) + 0.1 xi: the bias 5 exp(-t/tau) falls below the noise-level
        // standard error ~ 0.1 / sqrt(n) = 2e-3 after tau ln(2500) ~ 7.8 tau, and below the
        // per-draw noise 0.1 after tau ln 50 ~ 3.9 tau
        let tau = 50.0;
        let n = 4000;
        let mut rng = StdRng::seed_from_u64(5);
        let trace: Vec<f64> = (0..n)
            .map(|t| 1.0 + 5.0 * (-f64::from(t) / tau).exp() + 0.1 * gauss(&mut rng))
            .collect();
        let b = mser(&trace).unwrap();
        assert!(b.converged);
        // band [3 tau, 10 tau]: MSER truncates where the remaining bias is of the order of the
        // standard error, i.e. between the two scales above with margin
        assert!(
            (3.0 * tau..=10.0 * tau).contains(&(b.draws as f64)),
            "burn-in {} for tau {tau}",
            b.draws
        );
        // the kept mean is within 4 standard errors of the true level 1
        assert!(
            (b.mean_after - 1.0).abs() < 4.0 * b.std_error_after,
            "{b:?}"
        );
        // and the relaxation scales: tau = 100 gives a burn-in about twice as long
        let trace2: Vec<f64> = (0..n)
            .map(|t| 1.0 + 5.0 * (-f64::from(t) / (2.0 * tau)).exp() + 0.1 * gauss(&mut rng))
            .collect();
        let b2 = mser(&trace2).unwrap();
        let ratio = b2.draws as f64 / b.draws as f64;
        // 1.4..2.8: doubling tau doubles the crossing time, up to the noise in the argmin
        assert!((1.4..=2.8).contains(&ratio), "{} vs {}", b2.draws, b.draws);
    }

    #[test]
    fn mser_stationary_and_short() {
        let mut rng = StdRng::seed_from_u64(9);
        let trace: Vec<f64> = (0..2000).map(|_| gauss(&mut rng)).collect();
        let b = mser(&trace).unwrap();
        // white noise has no transient: MSER cuts at most a few per cent by chance
        assert!(b.converged && b.draws < 200, "{b:?}");
        // a trace still relaxing at its end: the minimum runs to the end of the search
        let drift: Vec<f64> = (0..200).map(|t| (-f64::from(t) / 1000.0).exp()).collect();
        let d = mser(&drift).unwrap();
        assert!(!d.converged && d.draws == 100, "{d:?}");
        assert!(mser(&[1.0, 2.0, 3.0]).is_err());
        assert!(mser(&[1.0, 2.0, f64::INFINITY, 3.0]).is_err());
    }
}
