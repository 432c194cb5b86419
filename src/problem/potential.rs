//! The potential (loss) `L(w)`: a catalogue of closed forms, a Rust closure, or a table.

use crate::error::{FfpeError, Result};
use crate::grid::TensorGrid;
use std::fmt;
use std::sync::Arc;

/// A user potential `L(w)` as a Rust closure.
pub type PotentialFn = Arc<dyn Fn(&[f64]) -> f64 + Send + Sync>;

/// The potential `L(w)` in `D^a p = div(D grad p + gamma p grad L)`.
#[derive(Clone)]
#[non_exhaustive]
pub enum Potential {
    /// `L = 0` (free subdiffusion).
    Flat,
    /// `L = sum_i k_i (w_i - c_i)^2 / 2`.
    Quadratic {
        /// Stiffness `k_i >= 0` per axis (a single value is broadcast).
        stiffness: Vec<f64>,
        /// Centre `c_i` per axis (a single value is broadcast; empty means 0).
        center: Vec<f64>,
    },
    /// `L = sum_i h ((w_i - c_i)^2 / a^2 - 1)^2`: wells at `c_i +- a`.
    DoubleWell {
        /// Barrier height `h > 0`.
        height: f64,
        /// Half distance between the wells `a > 0`.
        width: f64,
        /// Centre per axis (empty means 0).
        center: Vec<f64>,
    },
    /// `L = c sum_i |w_i|^(2k)`; LLC `1/(2k)` per axis.
    Power {
        /// Coefficient `c > 0`.
        coefficient: f64,
        /// Exponent parameter `k > 0`.
        k: f64,
    },
    /// `L = prod_i |w_i|^(2 k_i)` (normal crossing); `(w1 w2)^2` is `k = [1, 1]`.
    NormalCrossing {
        /// Exponents `k_i >= 0` per axis.
        k: Vec<f64>,
    },
    /// A Rust closure `L(w)`.
    Closure(PotentialFn),
    /// Values at the cell centres of the problem grid (flat index, axis 0 fastest).
    Tabulated(Vec<f64>),
}

impl fmt::Debug for Potential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Flat => write!(f, "Flat"),
            Self::Quadratic { stiffness, center } => {
                write!(
                    f,
                    "Quadratic {{ stiffness: {stiffness:?}, center: {center:?} }}"
                )
            }
            Self::DoubleWell {
                height,
                width,
                center,
            } => write!(
                f,
                "DoubleWell {{ height: {height}, width: {width}, center: {center:?} }}"
            ),
            Self::Power { coefficient, k } => {
                write!(f, "Power {{ coefficient: {coefficient}, k: {k} }}")
            }
            Self::NormalCrossing { k } => write!(f, "NormalCrossing {{ k: {k:?} }}"),
            Self::Closure(_) => write!(f, "Closure(..)"),
            Self::Tabulated(v) => write!(f, "Tabulated({} values)", v.len()),
        }
    }
}

fn broadcast(key: &str, v: &[f64], d: usize, default: f64) -> Result<Vec<f64>> {
    match v.len() {
        0 => Ok(vec![default; d]),
        1 => Ok(vec![v[0]; d]),
        n if n == d => Ok(v.to_vec()),
        n => Err(FfpeError::DimensionMismatch {
            key: key.into(),
            found: n,
            expected: d,
        }),
    }
}

impl Potential {
    /// `L = (w1 w2)^2` (LLC 1/2 at the origin).
    pub fn product_square() -> Self {
        Self::NormalCrossing { k: vec![1.0, 1.0] }
    }

    /// Quadratic potential with per-axis stiffness centred at the origin.
    ///
    /// ```
    /// let p = ffpe::problem::Potential::quadratic(&[1.0, 4.0]);
    /// assert!((p.value(&[1.0, 1.0]).unwrap() - 2.5).abs() < 1e-15);
    /// ```
    pub fn quadratic(stiffness: &[f64]) -> Self {
        Self::Quadratic {
            stiffness: stiffness.to_vec(),
            center: vec![],
        }
    }

    /// Checks parameters against the dimension `d`; returns the potential with per-axis
    /// lists broadcast to length `d`.
    pub fn validated(&self, d: usize, n_cells: usize) -> Result<Self> {
        Ok(match self {
            Self::Flat => Self::Flat,
            Self::Quadratic { stiffness, center } => {
                let stiffness = broadcast("potential.stiffness", stiffness, d, 1.0)?;
                for (i, &k) in stiffness.iter().enumerate() {
                    crate::error::check_range(
                        &format!("potential.stiffness[{i}]"),
                        k,
                        Some((0.0, false)),
                        None,
                        "a finite number >= 0",
                    )?;
                }
                let center = broadcast("potential.center", center, d, 0.0)?;
                check_finite("potential.center", &center)?;
                Self::Quadratic { stiffness, center }
            }
            Self::DoubleWell {
                height,
                width,
                center,
            } => {
                crate::error::check_range(
                    "potential.height",
                    *height,
                    Some((0.0, true)),
                    None,
                    "a finite number > 0",
                )?;
                crate::error::check_range(
                    "potential.width",
                    *width,
                    Some((0.0, true)),
                    None,
                    "a finite number > 0",
                )?;
                let center = broadcast("potential.center", center, d, 0.0)?;
                check_finite("potential.center", &center)?;
                Self::DoubleWell {
                    height: *height,
                    width: *width,
                    center,
                }
            }
            Self::Power { coefficient, k } => {
                crate::error::check_range(
                    "potential.coefficient",
                    *coefficient,
                    Some((0.0, true)),
                    None,
                    "a finite number > 0",
                )?;
                crate::error::check_range(
                    "potential.k",
                    *k,
                    Some((0.0, true)),
                    Some((64.0, false)),
                    "0 < k <= 64",
                )?;
                Self::Power {
                    coefficient: *coefficient,
                    k: *k,
                }
            }
            Self::NormalCrossing { k } => {
                let k = broadcast("potential.k", k, d, 1.0)?;
                for (i, &ki) in k.iter().enumerate() {
                    crate::error::check_range(
                        &format!("potential.k[{i}]"),
                        ki,
                        Some((0.0, false)),
                        Some((64.0, false)),
                        "0 <= k_i <= 64",
                    )?;
                }
                Self::NormalCrossing { k }
            }
            Self::Closure(f) => Self::Closure(f.clone()),
            Self::Tabulated(v) => {
                if v.len() != n_cells {
                    return Err(FfpeError::DimensionMismatch {
                        key: "potential.values".into(),
                        found: v.len(),
                        expected: n_cells,
                    });
                }
                check_finite("potential.values", v)?;
                Self::Tabulated(v.clone())
            }
        })
    }

    /// Value at a point (not available for tabulated potentials: use [`Potential::on_grid`]).
    pub fn value(&self, w: &[f64]) -> Result<f64> {
        let at = |v: &[f64], i: usize, def: f64| match v.len() {
            0 => def,
            1 => v[0],
            _ => v[i],
        };
        Ok(match self {
            Self::Flat => 0.0,
            Self::Quadratic { stiffness, center } => w
                .iter()
                .enumerate()
                .map(|(i, &x)| {
                    let y = x - at(center, i, 0.0);
                    0.5 * at(stiffness, i, 1.0) * y * y
                })
                .sum(),
            Self::DoubleWell {
                height,
                width,
                center,
            } => w
                .iter()
                .enumerate()
                .map(|(i, &x)| {
                    let y = x - at(center, i, 0.0);
                    let q = y * y / (width * width) - 1.0;
                    height * q * q
                })
                .sum(),
            Self::Power { coefficient, k } => {
                coefficient * w.iter().map(|x| x.abs().powf(2.0 * k)).sum::<f64>()
            }
            Self::NormalCrossing { k } => w
                .iter()
                .enumerate()
                .map(|(i, x)| x.abs().powf(2.0 * at(k, i, 1.0)))
                .product(),
            Self::Closure(f) => f(w),
            Self::Tabulated(_) => {
                return Err(FfpeError::invalid(
                    "potential.kind",
                    "a tabulated potential has no values off the grid",
                ));
            }
        })
    }

    /// Per-axis terms `L_i(w_i)` when the potential is a sum of one-axis terms
    /// (flat, quadratic, double well, power); `None` otherwise.
    pub fn separable_terms(&self, w: &[f64]) -> Option<Vec<f64>> {
        match self {
            Self::Flat | Self::Quadratic { .. } | Self::DoubleWell { .. } | Self::Power { .. } => {
                Some((0..w.len()).map(|i| self.axis_term(i, w[i])).collect())
            }
            _ => None,
        }
    }

    fn axis_term(&self, i: usize, x: f64) -> f64 {
        let at = |v: &[f64], def: f64| match v.len() {
            0 => def,
            1 => v[0],
            _ => v[i],
        };
        match self {
            Self::Quadratic { stiffness, center } => {
                let y = x - at(center, 0.0);
                0.5 * at(stiffness, 1.0) * y * y
            }
            Self::DoubleWell {
                height,
                width,
                center,
            } => {
                let y = x - at(center, 0.0);
                let q = y * y / (width * width) - 1.0;
                height * q * q
            }
            Self::Power { coefficient, k } => coefficient * x.abs().powf(2.0 * k),
            _ => 0.0,
        }
    }

    /// Values at the cell centres of `grid`.
    pub fn on_grid(&self, grid: &TensorGrid) -> Result<Vec<f64>> {
        if let Self::Tabulated(v) = self {
            if v.len() != grid.len() {
                return Err(FfpeError::DimensionMismatch {
                    key: "potential.values".into(),
                    found: v.len(),
                    expected: grid.len(),
                });
            }
            return Ok(v.clone());
        }
        let mut c = vec![0.0; grid.dim()];
        let mut out = Vec::with_capacity(grid.len());
        for idx in 0..grid.len() {
            grid.centre_into(idx, &mut c);
            let v = self.value(&c)?;
            if !v.is_finite() {
                return Err(FfpeError::out_of_range(
                    "potential",
                    format!("L({c:?}) = {v}"),
                    "finite values on the grid",
                ));
            }
            out.push(v);
        }
        Ok(out)
    }

    /// Whether the potential is tabulated (tied to one grid).
    pub fn is_tabulated(&self) -> bool {
        matches!(self, Self::Tabulated(_))
    }
}

pub(crate) fn check_finite(key: &str, v: &[f64]) -> Result<()> {
    for (i, x) in v.iter().enumerate() {
        if !x.is_finite() {
            return Err(FfpeError::out_of_range(
                &format!("{key}[{i}]"),
                x,
                "a finite number",
            ));
        }
    }
    Ok(())
}
