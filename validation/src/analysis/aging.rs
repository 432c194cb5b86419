//! Aging and ergodicity breaking of trajectories (SPEC 3.1): the signatures that separate a
//! continuous-time random walk (the microscopic model of the Caputo FFPE) from ergodic
//! subdiffusion and from an Ornstein-Uhlenbeck basin.
//!
//! A trajectory is a row-major slice of `n` samples of `dim` coordinates on a uniform grid
//! (sample `i` at time `i`, in units of the recording interval).
//!
//! # Estimators
//!
//! - time-averaged MSD over the window of `len` samples starting at `t_a`
//!   ([`tamsd`]): `delta2(lag) = 1/(len - lag) sum_{t = t_a}^{t_a + len - lag - 1}
//!   |x_{t+lag} - x_t|^2` (sum over coordinates);
//! - its ensemble mean versus lag ([`mean_tamsd`]);
//! - the ergodicity-breaking parameter ([`ergodicity_breaking`])
//!   `EB = Var(delta2) / E[delta2]^2` across the trajectories (unbiased `1/(N-1)` variance);
//!   ergodic processes give `EB -> 0` as the window grows: Brownian motion has
//!   `EB ~ 4 lag / (3 T)` for `lag << T` (Deng and Barkai 2009, Phys. Rev. E 79, 011112,
//!   `H = 1/2`), divided by `dim` for `dim` independent coordinates
//!   ([`eb_brownian_reference`], with `T = len - 1`); [`eb_brownian_simulated`] gives the
//!   same reference by seeded Brownian paths of the same length and dimension, finite-size
//!   effects included. A CTRW with waiting-time exponent `a` keeps `EB -> 2 Gamma(1+a)^2 /
//!   Gamma(1+2a) - 1` ([`eb_ctrw_long_time`]; `pi/2 - 1 ~ 0.571` at `a = 1/2`);
//! - aging ([`aging_slope`]): the ensemble-mean TAMSD at a fixed lag and window length `T`
//!   versus the window start `t_a`, fitted as `ln delta2 = c + b ln t_a` by OLS. Processes with
//!   stationary increments (Brownian motion, a relaxed OU process) give `b ~ 0`; an aging CTRW
//!   gives `delta2 ~ Lambda_a(t_a / T)` with `Lambda_a(z) = (1+z)^a - z^a ~ a z^(a-1)`, so
//!   `b -> a - 1 < 0` for `t_a >> T`.

use super::stats::{Ols, SplitMix64, ols};
use super::{AnalysisError, Result};
use serde::{Deserialize, Serialize};

fn check_layout(x: &[f64], dim: usize, lag: usize, start: usize, len: usize) -> Result<()> {
    if dim == 0 {
        return Err(AnalysisError::OutOfRange {
            what: "trajectory dimension",
            value: 0.0,
            allowed: "at least 1 coordinate",
        });
    }
    if !x.len().is_multiple_of(dim) {
        return Err(AnalysisError::LengthMismatch {
            what: "trajectory length / dimension (must divide)",
            left: x.len(),
            right: dim,
        });
    }
    if lag == 0 || lag >= len {
        return Err(AnalysisError::OutOfRange {
            what: "TAMSD lag",
            value: lag as f64,
            allowed: "1 <= lag < window length",
        });
    }
    let n = x.len() / dim;
    if start + len > n {
        return Err(AnalysisError::TooFewPoints {
            what: "trajectory samples for the TAMSD window",
            needed: start + len,
            got: n,
        });
    }
    Ok(())
}

fn tamsd_unchecked(x: &[f64], dim: usize, lag: usize, start: usize, len: usize) -> f64 {
    let a = &x[start * dim..(start + len - lag) * dim];
    let b = &x[(start + lag) * dim..(start + len) * dim];
    let sum: f64 = a.iter().zip(b).map(|(u, v)| (v - u) * (v - u)).sum();
    sum / (len - lag) as f64
}

/// Time-averaged MSD of one trajectory (row-major, `dim` coordinates per sample) at `lag`
/// over the `len` samples starting at `start`: `1/(len-lag) sum |x_{t+lag} - x_t|^2`.
///
/// ```
/// use ffpe_validation::analysis::aging::tamsd;
/// let x: Vec<f64> = (0..20).map(f64::from).collect(); // x_t = t
/// assert!((tamsd(&x, 1, 3, 0, 20).unwrap() - 9.0).abs() < 1e-12);
/// ```
pub fn tamsd(x: &[f64], dim: usize, lag: usize, start: usize, len: usize) -> Result<f64> {
    check_layout(x, dim, lag, start, len)?;
    let v = tamsd_unchecked(x, dim, lag, start, len);
    if v.is_finite() {
        Ok(v)
    } else {
        Err(AnalysisError::OutOfRange {
            what: "trajectory values",
            value: v,
            allowed: "finite numbers",
        })
    }
}

fn tamsd_all<X: AsRef<[f64]>>(
    trajs: &[X],
    dim: usize,
    lag: usize,
    start: usize,
    len: usize,
    out: &mut Vec<f64>,
) -> Result<()> {
    if trajs.len() < 2 {
        return Err(AnalysisError::TooFewPoints {
            what: "trajectories",
            needed: 2,
            got: trajs.len(),
        });
    }
    out.clear();
    for x in trajs {
        out.push(tamsd(x.as_ref(), dim, lag, start, len)?);
    }
    Ok(())
}

/// Ensemble mean of [`tamsd`] over `trajs` (at least 2) for each lag in `lags`, on the
/// window of `len` samples starting at `start`.
pub fn mean_tamsd<X: AsRef<[f64]>>(
    trajs: &[X],
    dim: usize,
    lags: &[usize],
    start: usize,
    len: usize,
) -> Result<Vec<f64>> {
    let mut buf = Vec::with_capacity(trajs.len());
    lags.iter()
        .map(|&lag| {
            tamsd_all(trajs, dim, lag, start, len, &mut buf)?;
            Ok(buf.iter().sum::<f64>() / buf.len() as f64)
        })
        .collect()
}

/// Ergodicity-breaking parameter of an ensemble at one lag.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ErgodicityBreaking {
    /// `EB = Var(delta2) / E[delta2]^2` (NaN when every TAMSD is 0).
    pub eb: f64,
    /// Ensemble mean of the TAMSD.
    pub mean_tamsd: f64,
    /// Unbiased (`1/(N-1)`) variance of the TAMSD across trajectories.
    pub var_tamsd: f64,
    /// Number of trajectories `N`.
    pub trajectories: usize,
    /// The lag.
    pub lag: usize,
    /// The window length in samples.
    pub len: usize,
    /// Brownian reference [`eb_brownian_reference`] for the same lag, length and dimension.
    pub reference_brownian: f64,
}

/// `EB = Var(delta2) / E[delta2]^2` across `trajs` (at least 2) at `lag`, on the window of
/// `len` samples starting at `start`.
pub fn ergodicity_breaking<X: AsRef<[f64]>>(
    trajs: &[X],
    dim: usize,
    lag: usize,
    start: usize,
    len: usize,
) -> Result<ErgodicityBreaking> {
    let mut d = Vec::with_capacity(trajs.len());
    tamsd_all(trajs, dim, lag, start, len, &mut d)?;
    let nf = d.len() as f64;
    let mean = d.iter().sum::<f64>() / nf;
    let var = d.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (nf - 1.0);
    Ok(ErgodicityBreaking {
        eb: if mean > 0.0 {
            var / (mean * mean)
        } else {
            f64::NAN
        },
        mean_tamsd: mean,
        var_tamsd: var,
        trajectories: d.len(),
        lag,
        len,
        reference_brownian: eb_brownian_reference(lag, len, dim),
    })
}

/// Deng-Barkai (2009) leading-order EB of Brownian motion, `4 lag / (3 T dim)` with
/// `T = len - 1` sampling intervals (valid for `lag << T`; `dim` independent coordinates
/// divide the relative variance by `dim`). Returns NaN for `len < 2` or `dim = 0`.
pub fn eb_brownian_reference(lag: usize, len: usize, dim: usize) -> f64 {
    if len < 2 || dim == 0 {
        return f64::NAN;
    }
    4.0 * lag as f64 / (3.0 * (len - 1) as f64 * dim as f64)
}

/// EB of `trajectories` seeded Brownian paths of `len` samples and `dim` coordinates at `lag`
/// (the ergodic reference with the finite-size effects of the actual lag and length; its
/// own sampling error is about `EB sqrt(2 / trajectories)`).
pub fn eb_brownian_simulated(
    lag: usize,
    len: usize,
    dim: usize,
    trajectories: usize,
    seed: u64,
) -> Result<f64> {
    let mut rng = SplitMix64::new(seed);
    let times: Vec<f64> = (0..len).map(|i| i as f64).collect();
    let x0 = vec![0.0; dim];
    let paths = (0..trajectories)
        .map(|_| super::ensemble::synthetic::brownian(&times, &x0, 0.5, &mut rng))
        .collect::<Result<Vec<_>>>()?;
    Ok(ergodicity_breaking(&paths, dim, lag, 0, len)?.eb)
}

/// Long-time EB of a CTRW with waiting-time exponent `0 < alpha < 1`:
/// `2 Gamma(1 + alpha)^2 / Gamma(1 + 2 alpha) - 1` (He, Burov, Metzler and Barkai 2008).
pub fn eb_ctrw_long_time(alpha: f64) -> f64 {
    use statrs::function::gamma::gamma;
    2.0 * gamma(1.0 + alpha).powi(2) / gamma(1.0 + 2.0 * alpha) - 1.0
}

/// Ensemble-mean TAMSD at one lag versus the window start, with its log-log slope.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct AgingFit {
    /// Window starts `t_a` (samples).
    pub starts: Vec<usize>,
    /// Ensemble-mean TAMSD at each start.
    pub mean_tamsd: Vec<f64>,
    /// OLS of `ln mean_tamsd` on `ln t_a`: the slope is ~0 without aging, `alpha - 1` for an
    /// aging CTRW with `t_a >> len`.
    pub fit: Ols,
}

/// Aging slope: the ensemble-mean TAMSD at `lag` on windows of `len` samples starting at each
/// `t_a` in `starts` (at least 3, all `> 0`), regressed in log-log.
pub fn aging_slope<X: AsRef<[f64]>>(
    trajs: &[X],
    dim: usize,
    lag: usize,
    starts: &[usize],
    len: usize,
) -> Result<AgingFit> {
    if starts.contains(&0) {
        return Err(AnalysisError::OutOfRange {
            what: "aging window start",
            value: 0.0,
            allowed: "t_a > 0 (it enters as ln t_a)",
        });
    }
    let mut buf = Vec::with_capacity(trajs.len());
    let mut mean = Vec::with_capacity(starts.len());
    for &s in starts {
        tamsd_all(trajs, dim, lag, s, len, &mut buf)?;
        mean.push(buf.iter().sum::<f64>() / buf.len() as f64);
    }
    if let Some(&v) = mean.iter().find(|v| **v <= 0.0) {
        return Err(AnalysisError::OutOfRange {
            what: "ensemble-mean TAMSD",
            value: v,
            allowed: "> 0 (no motion in a window)",
        });
    }
    let lx: Vec<f64> = starts.iter().map(|&s| (s as f64).ln()).collect();
    let ly: Vec<f64> = mean.iter().map(|v| v.ln()).collect();
    let fit = ols(&lx, &ly)?;
    Ok(AgingFit {
        starts: starts.to_vec(),
        mean_tamsd: mean,
        fit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::ensemble::synthetic::{brownian, ctrw_pareto, ornstein_uhlenbeck};

    fn grid(n: usize) -> Vec<f64> {
        (0..n).map(|i| i as f64).collect()
    }

    fn ensemble(
        n_traj: usize,
        n: usize,
        seed: u64,
        generate: &dyn Fn(&[f64], &mut SplitMix64) -> Vec<f64>,
    ) -> Vec<Vec<f64>> {
        let t = grid(n);
        let mut rng = SplitMix64::new(seed);
        (0..n_traj).map(|_| generate(&t, &mut rng)).collect()
    }

    #[test]
    fn tamsd_of_a_ramp_and_bad_input() {
        // x_t = (t, 2 t): |x_{t+lag} - x_t|^2 = 5 lag^2 exactly
        let x: Vec<f64> = (0..30).flat_map(|t| [t as f64, 2.0 * t as f64]).collect();
        for lag in [1, 4, 9] {
            let v = tamsd(&x, 2, lag, 5, 20).unwrap();
            assert!((v - 5.0 * (lag * lag) as f64).abs() < 1e-9);
        }
        assert!(tamsd(&x, 2, 0, 0, 10).is_err());
        assert!(tamsd(&x, 2, 10, 0, 10).is_err());
        assert!(tamsd(&x, 2, 1, 25, 10).is_err());
        assert!(tamsd(&x, 7, 1, 0, 3).is_err());
        assert!(ergodicity_breaking(std::slice::from_ref(&x), 2, 1, 0, 10).is_err());
        assert!(aging_slope(&[x.clone(), x.clone()], 2, 1, &[0, 1, 2], 10).is_err());
        // the CTRW constant at alpha = 1/2 is pi/2 - 1 (Gamma(3/2)^2 = pi/4, Gamma(2) = 1)
        assert!((eb_ctrw_long_time(0.5) - (std::f64::consts::FRAC_PI_2 - 1.0)).abs() < 1e-12);
        assert!(eb_ctrw_long_time(0.999).abs() < 1e-2); // alpha -> 1: Brownian, EB -> 0
    }

    #[test]
    fn brownian_mean_tamsd_is_linear_in_lag() {
        let e = ensemble(100, 1001, 1, &|t, rng| {
            brownian(t, &[0.0, 0.0], 0.5, rng).unwrap()
        });
        let m = mean_tamsd(&e, 2, &[1, 10, 100], 0, 1001).unwrap();
        for (lag, v) in [1.0, 10.0, 100.0].iter().zip(&m) {
            // E delta2 = 2 D lag dim = 2 lag; 100 paths: relative sd <= sqrt(4 lag / 3000 / 2) / 10
            assert!((v / (2.0 * lag) - 1.0).abs() < 0.06, "lag {lag}: {v}");
        }
    }

    #[test]
    fn ergodic_processes_have_eb_near_the_brownian_reference() {
        let (lag, len, n) = (10, 1001, 300);
        let reference = eb_brownian_reference(lag, len, 1);
        let simulated = eb_brownian_simulated(lag, len, 1, n, 99).unwrap();
        // the two references agree within the simulated one's sampling error (~8 % at
        // N = 300) plus the O(lag/T) finite-size correction
        assert!(
            (simulated / reference - 1.0).abs() < 0.3,
            "{simulated} vs {reference}"
        );
        let bm = ensemble(n, len, 2, &|t, rng| brownian(t, &[0.0], 1.0, rng).unwrap());
        let eb = ergodicity_breaking(&bm, 1, lag, 0, len).unwrap();
        assert!(eb.eb < 2.0 * reference, "{eb:?}"); // sampling error ~8 %: factor 2 is ample
        // OU with relaxation time 20 samples, started away from equilibrium: ergodic;
        // EB of the same order as Brownian motion's at lag 10
        let ou = ensemble(n, len, 3, &|t, rng| {
            ornstein_uhlenbeck(t, &[3.0], 0.05, 1.0, rng).unwrap()
        });
        let eo = ergodicity_breaking(&ou, 1, lag, 0, len).unwrap();
        assert!(eo.eb < 3.0 * reference.max(simulated), "{eo:?}");
    }

    #[test]
    fn ctrw_breaks_ergodicity() {
        let (lag, len) = (10, 10_001);
        let e = ensemble(300, len, 4, &|t, rng| {
            ctrw_pareto(t, &[0.0], 0.5, 1.0, 1.0, rng).unwrap()
        });
        let eb = ergodicity_breaking(&e, 1, lag, 0, len).unwrap();
        // theory pi/2 - 1 = 0.571 at lag/T -> 0; 300 paths give a sampling sd ~0.07
        assert!(eb.eb > 0.3, "{eb:?}");
        assert!((eb.eb - eb_ctrw_long_time(0.5)).abs() < 0.25, "{eb:?}");
        assert!(eb.eb > 50.0 * eb.reference_brownian);
    }

    #[test]
    fn aging_slope_zero_for_brownian_negative_for_ctrw() {
        let (lag, len) = (10, 1000);
        let starts = [1000, 2000, 4000, 8000, 16000, 30000];
        let n = starts[5] + len;
        let bm = ensemble(200, n, 5, &|t, rng| brownian(t, &[0.0], 1.0, rng).unwrap());
        let a = aging_slope(&bm, 1, lag, &starts, len).unwrap();
        // stationary increments: each mean has relative sd ~0.115/sqrt(200) = 0.8 %, so the
        // slope over a ln range of 3.4 is ~0 to within ~0.01
        assert!(a.fit.slope.abs() < 0.05, "{a:?}");
        let ct = ensemble(200, n, 6, &|t, rng| {
            ctrw_pareto(t, &[0.0], 0.5, 1.0, 1.0, rng).unwrap()
        });
        let c = aging_slope(&ct, 1, lag, &starts, len).unwrap();
        // Lambda_{1/2}(z) = sqrt(1+z) - sqrt(z) for z = t_a/T in [1, 30]: local slope -0.45
        assert!(c.fit.slope < -0.25 && c.fit.slope > -0.75, "{c:?}");
    }
}
