//! Seeded synthetic processes with known diffusion laws, for tests and self-checks.
//!
//! Each generator samples one trajectory at the given times (non-decreasing, `>= 0`; the
//! process starts at `x0` at time 0) and returns the positions row by row: `times.len()`
//! rows of `x0.len()` coordinates.

use crate::analysis::stats::SplitMix64;
use crate::analysis::{AnalysisError, Result};

fn check(times: &[f64], x0: &[f64]) -> Result<()> {
    if x0.is_empty() {
        return Err(AnalysisError::TooFewPoints {
            what: "synthetic process dimension",
            needed: 1,
            got: 0,
        });
    }
    let mut prev = 0.0;
    for &t in times {
        if !(t.is_finite() && t >= prev) {
            return Err(AnalysisError::OutOfRange {
                what: "synthetic process times",
                value: t,
                allowed: "finite, >= 0, non-decreasing",
            });
        }
        prev = t;
    }
    Ok(())
}

fn positive(what: &'static str, v: f64) -> Result<()> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(AnalysisError::OutOfRange {
            what,
            value: v,
            allowed: "finite and > 0",
        })
    }
}

/// Brownian motion with diffusivity `diffusivity` per coordinate:
/// `E (x(t) - x0)^2 = 2 D t` per coordinate; increments `sqrt(2 D dt) N(0, 1)`.
pub fn brownian(
    times: &[f64],
    x0: &[f64],
    diffusivity: f64,
    rng: &mut SplitMix64,
) -> Result<Vec<f64>> {
    check(times, x0)?;
    positive("Brownian diffusivity", diffusivity)?;
    let mut x = x0.to_vec();
    let mut out = Vec::with_capacity(times.len() * x0.len());
    let mut prev = 0.0;
    for &t in times {
        let sd = (2.0 * diffusivity * (t - prev)).sqrt();
        x.iter_mut().for_each(|v| *v += sd * rng.normal());
        out.extend_from_slice(&x);
        prev = t;
    }
    Ok(out)
}

/// Ornstein-Uhlenbeck process `dx = -theta x dt + sigma dW` per coordinate, by its exact
/// discretisation `x(t + h) = x(t) e^(-theta h) + sigma sqrt((1 - e^(-2 theta h)) / (2 theta)) N(0, 1)`;
/// the stationary variance is `sigma^2 / (2 theta)`.
pub fn ornstein_uhlenbeck(
    times: &[f64],
    x0: &[f64],
    theta: f64,
    sigma: f64,
    rng: &mut SplitMix64,
) -> Result<Vec<f64>> {
    check(times, x0)?;
    positive("OU relaxation rate theta", theta)?;
    positive("OU noise amplitude sigma", sigma)?;
    let mut x = x0.to_vec();
    let mut out = Vec::with_capacity(times.len() * x0.len());
    let mut prev = 0.0;
    for &t in times {
        let h = t - prev;
        let decay = (-theta * h).exp();
        let sd = sigma * (-(-2.0 * theta * h).exp_m1() / (2.0 * theta)).sqrt();
        x.iter_mut()
            .for_each(|v| *v = *v * decay + sd * rng.normal());
        out.extend_from_slice(&x);
        prev = t;
    }
    Ok(out)
}

/// Continuous-time random walk: waiting times are Pareto, `P(tau > s) = (s / tau0)^(-alpha)`
/// for `s >= tau0` (infinite mean for `alpha <= 1`), each jump adds `jump_sd N(0, I)`;
/// the renewal process starts at time 0 (not aged). For `0 < alpha < 1` the mean square
/// displacement grows as `t^alpha` at long times (`d jump_sd^2 t^alpha /
/// (tau0^alpha Gamma(1 - alpha) Gamma(1 + alpha))` in `d` dimensions).
pub fn ctrw_pareto(
    times: &[f64],
    x0: &[f64],
    alpha: f64,
    tau0: f64,
    jump_sd: f64,
    rng: &mut SplitMix64,
) -> Result<Vec<f64>> {
    check(times, x0)?;
    positive("CTRW waiting-time exponent alpha", alpha)?;
    positive("CTRW waiting-time scale tau0", tau0)?;
    positive("CTRW jump standard deviation", jump_sd)?;
    // jumps from their own stream, seeded from `rng`, so waits and jumps are independent
    let mut jumps = SplitMix64::new(rng.next_u64());
    let mut wait = || tau0 * (1.0 - rng.uniform()).powf(-1.0 / alpha);
    let mut next = wait();
    let mut x = x0.to_vec();
    let mut out = Vec::with_capacity(times.len() * x0.len());
    for &t in times {
        while next <= t {
            x.iter_mut().for_each(|v| *v += jump_sd * jumps.normal());
            next += wait();
        }
        out.extend_from_slice(&x);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Mean and variance of the first coordinate at the last time over `n` paths.
    fn moments<G: FnMut(&mut SplitMix64) -> Vec<f64>>(n: usize, seed: u64, mut g: G) -> (f64, f64) {
        let mut rng = SplitMix64::new(seed);
        let last: Vec<f64> = (0..n).map(|_| *g(&mut rng).last().unwrap()).collect();
        let m = last.iter().sum::<f64>() / n as f64;
        let v = last.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1) as f64;
        (m, v)
    }

    #[test]
    fn laws_of_the_generators() {
        let n = 4000;
        // sampling error of a variance from 4000 Gaussian draws: sqrt(2/4000) = 2.2 %;
        // tolerances are ~4 standard errors
        let (m, v) = moments(n, 1, |r| {
            brownian(&[1.0, 4.0, 10.0], &[0.0], 0.5, r).unwrap()
        });
        assert!(m.abs() < 4.0 * (10.0f64 / n as f64).sqrt() && (v / 10.0 - 1.0).abs() < 0.09);
        // OU on a coarse grid: the exact discretisation has no step-size error
        let (theta, sigma, x0, t) = (0.7, 1.2, 2.0, 3.0);
        let (m, v) = moments(n, 2, |r| {
            ornstein_uhlenbeck(&[0.5, t], &[x0], theta, sigma, r).unwrap()
        });
        let var = sigma * sigma / (2.0 * theta) * (1.0 - (-2.0 * theta * t).exp());
        assert!((m - x0 * (-theta * t).exp()).abs() < 4.0 * (var / n as f64).sqrt());
        assert!((v / var - 1.0).abs() < 0.09, "{v} vs {var}");
        // CTRW, alpha = 1/2: E x^2(t) -> t^(1/2) / (Gamma(1/2) Gamma(3/2)) = 2 sqrt(t) / pi;
        // heavy-tailed jump counts: relative sampling sd ~3 % at 4000 paths, plus an
        // O(t^(-1/2)) renewal correction; allow 12 %
        let t = 1e4;
        let (_, v) = moments(n, 3, |r| {
            ctrw_pareto(&[t], &[0.0], 0.5, 1.0, 1.0, r).unwrap()
        });
        let theory = 2.0 * t.sqrt() / std::f64::consts::PI;
        assert!((v / theory - 1.0).abs() < 0.12, "{v} vs {theory}");
        assert!(ctrw_pareto(&[2.0, 1.0], &[0.0], 0.5, 1.0, 1.0, &mut SplitMix64::new(0)).is_err());
        assert!(brownian(&[1.0], &[], 1.0, &mut SplitMix64::new(0)).is_err());
    }
}
