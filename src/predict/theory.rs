//! Relations between the fractal quantities (SPEC section 1.3).
//!
//! Names keep the two "alpha"s apart: `caputo_alpha` (order of the time derivative)
//! versus `displacement_exponent` `s` (slope of `log R` on `log t`).

use crate::error::{FfpeError, Result};
use serde::Serialize;

fn pos(key: &str, v: f64) -> Result<f64> {
    crate::error::check_range(key, v, Some((0.0, true)), None, "a finite number > 0")
}

/// Walk dimension (Alexander-Orbach) `nu = d_walk = 2 lambda / d_s`.
///
/// ```
/// assert!((ffpe::predict::theory::walk_dimension(2.0, 1.0).unwrap() - 4.0).abs() < 1e-15);
/// ```
pub fn walk_dimension(lambda: f64, spectral_dimension: f64) -> Result<f64> {
    Ok(2.0 * pos("lambda", lambda)? / pos("spectral_dimension", spectral_dimension)?)
}

/// Spectral dimension from the mean LLC and the displacement exponent: `d_s = 2 lambda_bar s`.
pub fn spectral_dimension(lambda_bar: f64, displacement_exponent: f64) -> Result<f64> {
    Ok(2.0 * pos("lambda_bar", lambda_bar)? * pos("displacement_exponent", displacement_exponent)?)
}

/// Caputo order implied by the fractal: `caputo_alpha = d_s / lambda` (`= 2 s`).
pub fn caputo_alpha(spectral_dimension: f64, lambda: f64) -> Result<f64> {
    Ok(pos("spectral_dimension", spectral_dimension)? / pos("lambda", lambda)?)
}

/// `ln D_xi = (2 - 2 lambda / d_s) ln xi`, finite where `D_xi` itself overflows.
///
/// ```
/// let l = ffpe::predict::theory::log_d_xi(100.0, 1.0, 1e6).unwrap();
/// assert!(l.is_finite() && l < -2000.0); // D_xi = 1e6^-198 underflows f64; its log does not
/// ```
pub fn log_d_xi(lambda: f64, spectral_dimension: f64, xi: f64) -> Result<f64> {
    crate::problem::Diffusion::fractal_log(lambda, spectral_dimension, xi)
}

/// `D_xi` itself; an error (not inf or 0) when it leaves the normal f64 range.
pub fn d_xi(lambda: f64, spectral_dimension: f64, xi: f64) -> Result<f64> {
    let l = log_d_xi(lambda, spectral_dimension, xi)?;
    if l.is_nan() || l.abs() >= 708.0 {
        return Err(FfpeError::Overflow {
            key: "D_xi".into(),
            log_value: l,
        });
    }
    Ok(l.exp())
}

/// The bound `d_s <= lambda_bar` (equivalently `s <= 1/2`), with its margin.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BoundCheck {
    /// `d_s`.
    pub spectral_dimension: f64,
    /// `lambda_bar`.
    pub lambda_bar: f64,
    /// `lambda_bar - d_s` (non-negative when the bound holds).
    pub margin: f64,
    /// Whether `d_s <= lambda_bar`.
    pub holds: bool,
}

/// Checks `d_s <= lambda_bar`. Note: with `d_s = 2 lambda_bar s` this is only `s <= 1/2`.
pub fn bound_check(spectral_dimension: f64, lambda_bar: f64) -> Result<BoundCheck> {
    let ds = pos("spectral_dimension", spectral_dimension)?;
    let lb = pos("lambda_bar", lambda_bar)?;
    Ok(BoundCheck {
        spectral_dimension: ds,
        lambda_bar: lb,
        margin: lb - ds,
        holds: ds <= lb,
    })
}
