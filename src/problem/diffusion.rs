//! Diffusion coefficients: scalar, per axis, or the fractal effective diffusion
//! `D_xi = xi^(2 - 2 lambda / d_s)` computed in log space.

use crate::error::{FfpeError, Result, check_range};
use serde::{Deserialize, Serialize};

/// The diffusion coefficient `D` of the equation (diagonal tensor).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Diffusion {
    /// The same `D > 0` on every axis.
    Scalar(f64),
    /// One `D_i > 0` per axis.
    PerAxis(Vec<f64>),
    /// `D = xi^(2 - 2 lambda / d_s)` (isotropic), from the fractal quantities.
    Fractal {
        /// Local learning coefficient (mass fractal dimension) `lambda > 0`.
        lambda: f64,
        /// Spectral dimension `d_s > 0`.
        spectral_dimension: f64,
        /// Scale `xi > 0`.
        xi: f64,
    },
}

impl Default for Diffusion {
    fn default() -> Self {
        Self::Scalar(1.0)
    }
}

impl Diffusion {
    /// Natural log of `D_xi = xi^(2 - 2 lambda / d_s)`; see [`crate::predict::theory::log_d_xi`].
    pub fn fractal_log(lambda: f64, spectral_dimension: f64, xi: f64) -> Result<f64> {
        check_range(
            "equation.fractal.lambda",
            lambda,
            Some((0.0, true)),
            None,
            "a finite number > 0",
        )?;
        check_range(
            "equation.fractal.spectral_dimension",
            spectral_dimension,
            Some((0.0, true)),
            None,
            "a finite number > 0",
        )?;
        check_range(
            "equation.fractal.xi",
            xi,
            Some((0.0, true)),
            None,
            "a finite number > 0",
        )?;
        Ok((2.0 - 2.0 * lambda / spectral_dimension) * xi.ln())
    }

    /// Per-axis coefficients for a `d`-dimensional problem; errors name the key and range.
    ///
    /// ```
    /// use ffpe::problem::Diffusion;
    /// let d = Diffusion::Fractal { lambda: 1.0, spectral_dimension: 1.0, xi: 2.0 };
    /// // 2 - 2 lambda / d_s = 0  ->  D = 1
    /// assert!((d.per_axis(2).unwrap()[1] - 1.0).abs() < 1e-15);
    /// let huge = Diffusion::Fractal { lambda: 1.0, spectral_dimension: 1e-3, xi: 1e6 };
    /// assert!(huge.per_axis(1).is_err()); // exp(-1998 ln 1e6) underflows: an error, not 0
    /// ```
    pub fn per_axis(&self, d: usize) -> Result<Vec<f64>> {
        let v = match self {
            Self::Scalar(x) => vec![*x; d],
            Self::PerAxis(v) => {
                if v.len() == 1 {
                    vec![v[0]; d]
                } else if v.len() != d {
                    return Err(FfpeError::DimensionMismatch {
                        key: "equation.diffusion".into(),
                        found: v.len(),
                        expected: d,
                    });
                } else {
                    v.clone()
                }
            }
            Self::Fractal {
                lambda,
                spectral_dimension,
                xi,
            } => {
                let l = Self::fractal_log(*lambda, *spectral_dimension, *xi)?;
                // exp is finite and normal for |l| < ~708.
                if l.is_nan() || l.abs() >= 708.0 {
                    return Err(FfpeError::Overflow {
                        key: "equation.fractal -> D_xi".into(),
                        log_value: l,
                    });
                }
                vec![l.exp(); d]
            }
        };
        for (i, &x) in v.iter().enumerate() {
            check_range(
                &format!("equation.diffusion[{i}]"),
                x,
                Some((0.0, true)),
                None,
                "a finite number > 0",
            )?;
        }
        Ok(v)
    }
}
