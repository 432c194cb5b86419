//! Initial densities: Gaussian, narrow point-like, Boltzmann, tabulated.

use crate::error::{FfpeError, Result};
use crate::grid::TensorGrid;
use serde::{Deserialize, Serialize};

/// The initial density `p(w, 0)`; every kind is normalised to unit mass on the grid.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Initial {
    /// Gaussian with per-axis mean and standard deviation, sampled at cell centres.
    Gaussian {
        /// Mean per axis (a single value is broadcast).
        mean: Vec<f64>,
        /// Standard deviation per axis, `> 0` (a single value is broadcast).
        std: Vec<f64>,
    },
    /// A narrow point-like start at `at`: per axis the mass is split linearly between the
    /// two nearest cell centres, so that the discrete mean is exactly `at`.
    Point {
        /// The start point.
        at: Vec<f64>,
    },
    /// The Boltzmann density `exp(-gamma L / D) / Z` of the problem.
    Boltzmann,
    /// Values at the cell centres (flat index, axis 0 fastest), normalised to unit mass.
    Tabulated(Vec<f64>),
}

fn bc(key: &str, v: &[f64], d: usize) -> Result<Vec<f64>> {
    match v.len() {
        1 => Ok(vec![v[0]; d]),
        n if n == d => Ok(v.to_vec()),
        n => Err(FfpeError::DimensionMismatch {
            key: key.into(),
            found: n,
            expected: d,
        }),
    }
}

/// Per-axis 1-D weights of a point start (linear split between neighbouring centres).
fn point_weights(x: f64, lo: f64, h: f64, n: usize) -> Vec<f64> {
    let mut w = vec![0.0; n];
    let s = (x - lo) / h - 0.5; // fractional cell-centre index
    if s <= 0.0 {
        w[0] = 1.0;
    } else if s >= (n - 1) as f64 {
        w[n - 1] = 1.0;
    } else {
        let i = s.floor() as usize;
        let f = s - i as f64;
        w[i] = 1.0 - f;
        w[i + 1] = f;
    }
    w
}

impl Initial {
    /// Checks the parameters for a `d`-dimensional problem on `grid`.
    pub fn validate(&self, grid: &TensorGrid) -> Result<()> {
        let d = grid.dim();
        match self {
            Self::Gaussian { mean, std } => {
                let mean = bc("initial.mean", mean, d)?;
                let std = bc("initial.std", std, d)?;
                crate::problem::potential::check_finite("initial.mean", &mean)?;
                for (i, &s) in std.iter().enumerate() {
                    crate::error::check_range(
                        &format!("initial.std[{i}]"),
                        s,
                        Some((0.0, true)),
                        None,
                        "a finite number > 0",
                    )?;
                }
                // Fraction of the Gaussian mass inside the box, per axis (erf).
                for a in 0..d {
                    let z = |x: f64| (x - mean[a]) / (std[a] * std::f64::consts::SQRT_2);
                    let frac = 0.5
                        * (special::Error::error(z(grid.upper()[a]))
                            - special::Error::error(z(grid.lower()[a])));
                    if frac.is_nan() || frac <= 1e-6 {
                        return Err(FfpeError::out_of_range(
                            &format!("initial.mean[{a}]"),
                            mean[a],
                            &format!(
                                "a Gaussian with mass inside the domain [{}, {}] (fraction inside {frac:.1e} < 1e-6)",
                                grid.lower()[a],
                                grid.upper()[a]
                            ),
                        ));
                    }
                }
            }
            Self::Point { at } => {
                let at = bc("initial.mean", at, d)?;
                crate::problem::potential::check_finite("initial.mean", &at)?;
                if !grid.contains(&at) {
                    return Err(FfpeError::out_of_range(
                        "initial.mean",
                        format!("{at:?}"),
                        &format!(
                            "a point inside the domain {:?} .. {:?}",
                            grid.lower(),
                            grid.upper()
                        ),
                    ));
                }
            }
            Self::Boltzmann => {}
            Self::Tabulated(v) => {
                if v.len() != grid.len() {
                    return Err(FfpeError::DimensionMismatch {
                        key: "initial.values".into(),
                        found: v.len(),
                        expected: grid.len(),
                    });
                }
                for (i, &x) in v.iter().enumerate() {
                    crate::error::check_range(
                        &format!("initial.values[{i}]"),
                        x,
                        Some((0.0, false)),
                        None,
                        "finite and >= 0",
                    )?;
                }
                let total: f64 = v.iter().sum();
                if total.is_nan() || total <= 0.0 {
                    return Err(FfpeError::out_of_range(
                        "initial.values",
                        "all zero",
                        "a positive total mass",
                    ));
                }
            }
        }
        Ok(())
    }

    /// The density at the cell centres of `grid`, normalised to unit mass.
    /// `boltzmann` supplies the Boltzmann density when needed.
    pub fn on_grid(
        &self,
        grid: &TensorGrid,
        boltzmann: impl FnOnce() -> Result<Vec<f64>>,
    ) -> Result<Vec<f64>> {
        self.validate(grid)?;
        let d = grid.dim();
        let mut p = match self {
            Self::Gaussian { mean, std } => {
                let mean = bc("initial.mean", mean, d)?;
                let std = bc("initial.std", std, d)?;
                let axes: Vec<Vec<f64>> = (0..d)
                    .map(|a| {
                        grid.centres(a)
                            .iter()
                            .map(|x| {
                                let z = (x - mean[a]) / std[a];
                                (-0.5 * z * z).exp()
                            })
                            .collect()
                    })
                    .collect();
                tensor(grid, &axes)
            }
            Self::Point { at } => {
                let at = bc("initial.mean", at, d)?;
                let axes: Vec<Vec<f64>> = (0..d)
                    .map(|a| {
                        point_weights(at[a], grid.lower()[a], grid.widths()[a], grid.cells()[a])
                    })
                    .collect();
                tensor(grid, &axes)
            }
            Self::Boltzmann => boltzmann()?,
            Self::Tabulated(v) => v.clone(),
        };
        let m = grid.integrate(&p);
        if !(m > 0.0 && m.is_finite()) {
            return Err(FfpeError::out_of_range(
                "initial",
                format!("mass {m}"),
                "a positive, finite mass inside the domain",
            ));
        }
        p.iter_mut().for_each(|x| *x /= m);
        Ok(p)
    }
}

/// Tensor product of per-axis vectors on the grid (axis 0 fastest).
pub(crate) fn tensor(grid: &TensorGrid, axes: &[Vec<f64>]) -> Vec<f64> {
    let mut out = vec![1.0; grid.len()];
    let mut mi = vec![0usize; grid.dim()];
    for (idx, o) in out.iter_mut().enumerate() {
        grid.unravel_into(idx, &mut mi);
        for (a, &i) in mi.iter().enumerate() {
            *o *= axes[a][i];
        }
    }
    out
}
