//! The fractal relations of SPEC section 1.3 applied to a measured exponent and LLC.

use super::stats::ConfidenceInterval;
use serde::{Deserialize, Serialize};

/// The bound `d_s <= lambda_bar` as a bound on the displacement exponent: `s <= 1/2` (also
/// the Brownian exponent; above it a run is super-diffusive).
pub const BOUND_S: f64 = 0.5;

/// The scales `xi` at which `log D_xi` is reported.
pub const XI_VALUES: [f64; 4] = [0.25, 0.5, 1.0, 2.0];

/// `log D_xi` at one scale.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LogDiffusion {
    /// The scale `xi`.
    pub xi: f64,
    /// `ln D_xi = (2 - nu) ln xi` (`None` where `nu` is undefined, i.e. `s <= 0`).
    pub log_d_xi: Option<f64>,
}

/// Quantities implied by a displacement exponent `s` and a window-mean LLC `lambda_bar`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct FractalQuantities {
    /// Mean LLC over the fit window.
    pub lambda_bar: f64,
    /// Displacement exponent `s`.
    pub displacement_exponent: f64,
    /// Spectral dimension `d_s = 2 lambda_bar s`.
    pub spectral_dimension: f64,
    /// Interval of `d_s` from the intervals of `s` and `lambda_bar` (interval arithmetic).
    pub spectral_dimension_ci: Option<ConfidenceInterval>,
    /// Walk dimension `nu = 1/s` (`None` for `s <= 0`: no diffusive growth).
    pub walk_dimension: Option<f64>,
    /// Caputo order implied by `MSD ~ t^(2 s)`: `caputo_alpha = 2 s = d_s / lambda_bar`.
    pub caputo_alpha: f64,
    /// `ln D_xi` for `xi` in [`XI_VALUES`] (log space: `D_xi` overflows f64 for real networks).
    pub log_d_xi: Vec<LogDiffusion>,
    /// Whether `d_s <= lambda_bar` (with `lambda_bar > 0` this is exactly `s <= 1/2`).
    pub bound_holds: bool,
    /// Whether `s <= 1/2`, the equivalent form of the bound.
    pub s_at_most_half: bool,
    /// Whether the whole interval of `s` lies below 1/2 (`Some(false)` if it lies above,
    /// `None` if it straddles 1/2).
    pub bound_decided: Option<bool>,
}

impl FractalQuantities {
    /// Evaluates the relations for `s` (with its interval) and `lambda_bar` (with its interval).
    ///
    /// ```
    /// use ffpe_validation::analysis::theory::FractalQuantities;
    /// let q = FractalQuantities::new(0.25, None, 10.0, None);
    /// assert!((q.spectral_dimension - 5.0).abs() < 1e-12);
    /// assert_eq!(q.walk_dimension, Some(4.0));
    /// assert!(q.bound_holds && q.s_at_most_half);
    /// ```
    pub fn new(
        s: f64,
        s_ci: Option<ConfidenceInterval>,
        lambda_bar: f64,
        lambda_ci: Option<ConfidenceInterval>,
    ) -> Self {
        let d_s = 2.0 * lambda_bar * s;
        let nu = (s > 0.0).then(|| 1.0 / s);
        let log_d_xi = XI_VALUES
            .iter()
            .map(|&xi| LogDiffusion {
                xi,
                log_d_xi: nu.map(|nu| (2.0 - nu) * xi.ln()),
            })
            .collect();
        let spectral_dimension_ci = s_ci.map(|sc| {
            let lc = lambda_ci.unwrap_or(ConfidenceInterval {
                lo: lambda_bar,
                hi: lambda_bar,
                level: sc.level,
            });
            let c = [
                2.0 * sc.lo * lc.lo,
                2.0 * sc.lo * lc.hi,
                2.0 * sc.hi * lc.lo,
                2.0 * sc.hi * lc.hi,
            ];
            ConfidenceInterval {
                lo: c.iter().copied().fold(f64::INFINITY, f64::min),
                hi: c.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                level: sc.level,
            }
        });
        let bound_decided = s_ci.and_then(|c| {
            if c.hi <= BOUND_S {
                Some(true)
            } else if c.lo > BOUND_S {
                Some(false)
            } else {
                None
            }
        });
        Self {
            lambda_bar,
            displacement_exponent: s,
            spectral_dimension: d_s,
            spectral_dimension_ci,
            walk_dimension: nu,
            caputo_alpha: 2.0 * s,
            log_d_xi,
            bound_holds: d_s <= lambda_bar,
            s_at_most_half: s <= BOUND_S,
            bound_decided,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    #[test]
    fn relations_and_bound_equivalence() {
        for &(s, lam) in &[(0.2, 3.0), (0.5, 7.0), (0.7, 0.4), (0.45, 120.0)] {
            let q = FractalQuantities::new(s, None, lam, None);
            assert_relative_eq!(q.spectral_dimension, 2.0 * lam * s, epsilon = 1e-12);
            // Alexander-Orbach: nu = 2 lambda / d_s.
            assert_relative_eq!(
                q.walk_dimension.unwrap(),
                2.0 * lam / q.spectral_dimension,
                epsilon = 1e-12
            );
            assert_relative_eq!(q.caputo_alpha, q.spectral_dimension / lam, epsilon = 1e-12);
            assert_eq!(q.bound_holds, q.s_at_most_half);
            // log D_xi = (2 - nu) ln xi; at xi = 1 it is 0.
            let l1 = q
                .log_d_xi
                .iter()
                .find(|d| (d.xi - 1.0).abs() < 1e-15)
                .unwrap();
            assert!(l1.log_d_xi.unwrap().abs() < 1e-15);
        }
        // Real networks: nu ~ 2000 at xi = 0.25 gives D_xi = e^(2772): stays finite in log space.
        let q = FractalQuantities::new(5e-4, None, 50.0, None);
        let l = q.log_d_xi[0].log_d_xi.unwrap();
        assert!(l.is_finite() && l > 700.0);
        assert_eq!(
            FractalQuantities::new(-0.1, None, 5.0, None).walk_dimension,
            None
        );
    }

    #[test]
    fn interval_of_ds_and_decided_bound() {
        let ci = ConfidenceInterval {
            lo: 0.1,
            hi: 0.3,
            level: 0.95,
        };
        let lc = ConfidenceInterval {
            lo: 4.0,
            hi: 6.0,
            level: 0.95,
        };
        let q = FractalQuantities::new(0.2, Some(ci), 5.0, Some(lc));
        let d = q.spectral_dimension_ci.unwrap();
        assert_relative_eq!(d.lo, 0.8, epsilon = 1e-12);
        assert_relative_eq!(d.hi, 3.6, epsilon = 1e-12);
        assert_eq!(q.bound_decided, Some(true));
    }
}
