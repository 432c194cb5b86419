//! Metropolis-adjusted acceptance of one SGLD / MALA step.
//!
//! SGLD for the LLC (SPEC section 3) samples the localised tempered posterior
//! `pi(w) ∝ exp(-U(w))`, `U(w) = n_beta L(w) + (gamma / 2) |w - w*|^2`, with the Langevin step
//! `w' = w - (eps/2) grad U(w) + sqrt(eps) xi`, `xi ~ N(0, I)`, and accepts every step. The
//! Metropolis-adjusted Langevin algorithm (MALA; Roberts and Tweedie 1996) would accept it with
//! probability [`acceptance`]; its mean over a chain measures how far the step size `eps` is from
//! sampling `pi` exactly (1 as `eps -> 0`), and is judged by
//! [`super::mcmc::Diagnostics::warnings`].

use super::{AnalysisError, Result};

/// One point of a Langevin chain: the weights `w`, the potential `U(w)` and its gradient.
///
/// For the localised SGLD posterior `pi(w) ∝ exp(-U(w))`,
/// `U(w) = n_beta L(w) + (gamma / 2) |w - w*|^2` and `grad U = n_beta grad L + gamma (w - w*)`.
#[derive(Debug, Clone, Copy)]
pub struct LangevinState<'a> {
    /// The weights.
    pub w: &'a [f64],
    /// `U(w)`.
    pub u: f64,
    /// `grad U(w)`, the same length as `w`.
    pub grad: &'a [f64],
}

/// Log of the Metropolis-Hastings acceptance probability of the Langevin (MALA / SGLD) proposal
/// `w' = w - (eps/2) grad U(w) + sqrt(eps) xi`, `xi ~ N(0, I)`, from `from = w` to `to = w'`:
///
/// `log alpha = min(0, -U(w') + U(w) - log q(w | w') + log q(w' | w))`,
/// `q(y | x) = N(y; x - (eps/2) grad U(x), eps I)`, so that
/// `log q(w'|w) - log q(w|w') = (|w - w' + (eps/2) grad U(w')|^2 - |w' - w + (eps/2) grad U(w)|^2) / (2 eps)`.
///
/// Everything stays in log space; `U(w') = +inf` gives `-inf` (probability 0). Errors: lengths
/// differ, `eps <= 0` or not finite, a NaN anywhere, or `U(w)` not finite.
pub fn log_acceptance(from: &LangevinState<'_>, to: &LangevinState<'_>, eps: f64) -> Result<f64> {
    if !(eps > 0.0 && eps.is_finite()) {
        return Err(AnalysisError::OutOfRange {
            what: "Langevin step eps",
            value: eps,
            allowed: "finite and > 0",
        });
    }
    let d = from.w.len();
    for (what, len) in [
        ("Langevin grad U(w)", from.grad.len()),
        ("Langevin w'", to.w.len()),
        ("Langevin grad U(w')", to.grad.len()),
    ] {
        if len != d {
            return Err(AnalysisError::LengthMismatch {
                what,
                left: d,
                right: len,
            });
        }
    }
    if !from.u.is_finite() {
        return Err(AnalysisError::OutOfRange {
            what: "Langevin U(w)",
            value: from.u,
            allowed: "finite",
        });
    }
    if to.u.is_nan() || (to.u.is_infinite() && to.u < 0.0) {
        return Err(AnalysisError::OutOfRange {
            what: "Langevin U(w')",
            value: to.u,
            allowed: "finite or +inf",
        });
    }
    if to.u.is_infinite() {
        // +inf: w' has zero target density
        return Ok(f64::NEG_INFINITY);
    }
    let half = 0.5 * eps;
    // forward residual r_f = w' - w + (eps/2) g(w); backward r_b = w - w' + (eps/2) g(w')
    let (mut fwd, mut bwd) = (0.0, 0.0);
    for i in 0..d {
        let dw = to.w[i] - from.w[i];
        let rf = dw + half * from.grad[i];
        let rb = -dw + half * to.grad[i];
        fwd += rf * rf;
        bwd += rb * rb;
    }
    let log_ratio = -to.u + from.u + (fwd - bwd) / (2.0 * eps);
    if log_ratio.is_nan() {
        return Err(AnalysisError::OutOfRange {
            what: "Langevin log acceptance ratio",
            value: log_ratio,
            allowed: "not NaN (check w, w' and the gradients for NaN or infinity)",
        });
    }
    Ok(log_ratio.min(0.0))
}

/// The Metropolis-Hastings acceptance probability `exp(`[`log_acceptance`]`)`, in `[0, 1]`.
pub fn acceptance(from: &LangevinState<'_>, to: &LangevinState<'_>, eps: f64) -> Result<f64> {
    Ok(log_acceptance(from, to, eps)?.exp())
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

    /// `U(w) = (1/2) sum a_i w_i^2`: the Gaussian target `N(0, diag(1/a))`.
    fn gaussian_state(a: &[f64], w: &[f64]) -> (f64, Vec<f64>) {
        let u = 0.5 * a.iter().zip(w).map(|(ai, wi)| ai * wi * wi).sum::<f64>();
        (u, a.iter().zip(w).map(|(ai, wi)| ai * wi).collect())
    }

    /// Closed form for the Gaussian target, derived independently of `log_acceptance`:
    /// with `c_i = 1 - eps a_i / 2`, `(w'-c w)^2 - (w - c w')^2 = (1 - c^2)(w'^2 - w^2)`, so
    /// `log ratio = -(eps / 8) sum a_i^2 (w'_i^2 - w_i^2)`.
    fn gaussian_log_ratio(a: &[f64], w: &[f64], wp: &[f64], eps: f64) -> f64 {
        -(eps / 8.0)
            * a.iter()
                .zip(w.iter().zip(wp))
                .map(|(ai, (x, y))| ai * ai * (y * y - x * x))
                .sum::<f64>()
    }

    #[test]
    fn mala_matches_gaussian_closed_form() {
        let a: [f64; 4] = [1.0, 4.0, 0.25, 9.0];
        let mut rng = StdRng::seed_from_u64(11);
        let mut both_signs = (false, false);
        for &eps in &[0.5, 0.1, 0.01] {
            for _ in 0..200 {
                let w: Vec<f64> = a.iter().map(|ai| gauss(&mut rng) / ai.sqrt()).collect();
                let (u, g) = gaussian_state(&a, &w);
                let wp: Vec<f64> = (0..a.len())
                    .map(|i| w[i] - 0.5 * eps * g[i] + eps.sqrt() * gauss(&mut rng))
                    .collect();
                let (up, gp) = gaussian_state(&a, &wp);
                let from = LangevinState { w: &w, u, grad: &g };
                let to = LangevinState {
                    w: &wp,
                    u: up,
                    grad: &gp,
                };
                let got = log_acceptance(&from, &to, eps).unwrap();
                let ratio = gaussian_log_ratio(&a, &w, &wp, eps);
                let want = ratio.min(0.0);
                // the two forms differ by cancellation in |r_f|^2 - |r_b|^2 / (2 eps):
                // terms of size |w|^2 / eps ~ 1e3 at eps = 0.01 lose ~1e-13 absolute
                assert!((got - want).abs() < 1e-10, "eps {eps}: {got} vs {want}");
                if ratio > 0.0 {
                    both_signs.0 = true;
                } else {
                    both_signs.1 = true;
                }
                let p = acceptance(&from, &to, eps).unwrap();
                assert!((0.0..=1.0).contains(&p));
            }
        }
        assert!(
            both_signs.0 && both_signs.1,
            "both branches of min(0, .) exercised"
        );
    }

    #[test]
    fn mala_acceptance_tends_to_one() {
        let a: [f64; 5] = [1.0, 4.0, 0.25, 9.0, 2.0];
        let mut prev_gap = f64::INFINITY;
        for &eps in &[0.2, 0.05, 0.01, 0.001] {
            // common random numbers across eps: the same start points and noise
            let mut rng = StdRng::seed_from_u64(3);
            let m = 4000;
            let mut total = 0.0;
            for _ in 0..m {
                let w: Vec<f64> = a.iter().map(|ai| gauss(&mut rng) / ai.sqrt()).collect();
                let (u, g) = gaussian_state(&a, &w);
                let wp: Vec<f64> = (0..a.len())
                    .map(|i| w[i] - 0.5 * eps * g[i] + eps.sqrt() * gauss(&mut rng))
                    .collect();
                let (up, gp) = gaussian_state(&a, &wp);
                total += acceptance(
                    &LangevinState { w: &w, u, grad: &g },
                    &LangevinState {
                        w: &wp,
                        u: up,
                        grad: &gp,
                    },
                    eps,
                )
                .unwrap();
            }
            let gap = 1.0 - total / f64::from(m);
            assert!(
                gap < prev_gap,
                "eps {eps}: 1 - mean acceptance {gap} !< {prev_gap}"
            );
            prev_gap = gap;
        }
        // at eps = 1e-3 the rejection rate scales as eps^(3/2) sum a_i^3 ~ 1e-2; bound 0.02
        assert!(prev_gap < 0.02, "{prev_gap}");
    }

    #[test]
    fn mala_edge_cases() {
        let w = [0.0, 1.0];
        let g = [0.0, 1.0];
        let s = LangevinState {
            w: &w,
            u: 0.5,
            grad: &g,
        };
        // identical points and gradients: ratio 0, accept with probability 1
        assert!(log_acceptance(&s, &s, 0.1).unwrap().abs() < 1e-15);
        let inf = LangevinState {
            u: f64::INFINITY,
            ..s
        };
        assert!(log_acceptance(&s, &inf, 0.1).unwrap().is_infinite());
        assert!(acceptance(&s, &inf, 0.1).unwrap().abs() < 1e-300);
        assert!(log_acceptance(&s, &s, 0.0).is_err());
        let short = LangevinState { w: &w[..1], ..s };
        assert!(matches!(
            log_acceptance(&s, &short, 0.1),
            Err(AnalysisError::LengthMismatch { .. })
        ));
        let nan = [f64::NAN, 0.0];
        let bad = LangevinState { grad: &nan, ..s };
        assert!(log_acceptance(&s, &bad, 0.1).is_err());
    }
}
