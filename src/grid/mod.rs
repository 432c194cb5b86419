//! Cell-centred tensor grids on boxes in one to three (or more) dimensions.
//!
//! Cells are uniform per axis; axis 0 varies fastest in the flat index
//! (`idx = i_0 + n_0 (i_1 + n_1 i_2)`). Sparse grids (combination technique) are built
//! from anisotropic [`TensorGrid`]s in `crate::sparse_grid`.

use crate::error::{FfpeError, Result};
use serde::Serialize;

/// A uniform cell-centred tensor grid on the box `[lower, upper]`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TensorGrid {
    lower: Vec<f64>,
    upper: Vec<f64>,
    cells: Vec<usize>,
    widths: Vec<f64>,
    strides: Vec<usize>,
    len: usize,
}

impl TensorGrid {
    /// Builds a grid; each axis needs `lower < upper` (finite) and at least 3 cells.
    ///
    /// ```
    /// let g = ffpe::grid::TensorGrid::new(&[-1.0, 0.0], &[1.0, 2.0], &[4, 8]).unwrap();
    /// assert_eq!(g.len(), 32);
    /// assert!((g.widths()[0] - 0.5).abs() < 1e-15);
    /// ```
    pub fn new(lower: &[f64], upper: &[f64], cells: &[usize]) -> Result<Self> {
        let d = lower.len();
        if d == 0 {
            return Err(FfpeError::out_of_range("domain.lower", "[]", "1 to 8 axes"));
        }
        if upper.len() != d {
            return Err(FfpeError::DimensionMismatch {
                key: "domain.upper".into(),
                found: upper.len(),
                expected: d,
            });
        }
        if cells.len() != d {
            return Err(FfpeError::DimensionMismatch {
                key: "domain.cells".into(),
                found: cells.len(),
                expected: d,
            });
        }
        for a in 0..d {
            if !lower[a].is_finite() {
                return Err(FfpeError::out_of_range(
                    &format!("domain.lower[{a}]"),
                    lower[a],
                    "a finite number",
                ));
            }
            if !upper[a].is_finite() || upper[a] <= lower[a] {
                return Err(FfpeError::out_of_range(
                    &format!("domain.upper[{a}]"),
                    upper[a],
                    &format!("a finite number > lower[{a}] = {}", lower[a]),
                ));
            }
            if cells[a] < 3 {
                return Err(FfpeError::out_of_range(
                    &format!("domain.cells[{a}]"),
                    cells[a],
                    "cells >= 3",
                ));
            }
        }
        let len = cells
            .iter()
            .try_fold(1usize, |acc, &n| acc.checked_mul(n))
            .filter(|&n| n <= 1 << 31)
            .ok_or_else(|| {
                FfpeError::out_of_range("domain.cells", format!("{cells:?}"), "product <= 2^31")
            })?;
        let widths = (0..d)
            .map(|a| (upper[a] - lower[a]) / cells[a] as f64)
            .collect();
        let mut strides = vec![1usize; d];
        for a in 1..d {
            strides[a] = strides[a - 1] * cells[a - 1];
        }
        Ok(Self {
            lower: lower.to_vec(),
            upper: upper.to_vec(),
            cells: cells.to_vec(),
            widths,
            strides,
            len,
        })
    }

    /// Number of axes.
    pub fn dim(&self) -> usize {
        self.cells.len()
    }
    /// Total number of cells.
    pub fn len(&self) -> usize {
        self.len
    }
    /// Always false (a grid has at least 3 cells per axis).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Cells per axis.
    pub fn cells(&self) -> &[usize] {
        &self.cells
    }
    /// Lower corner of the box.
    pub fn lower(&self) -> &[f64] {
        &self.lower
    }
    /// Upper corner of the box.
    pub fn upper(&self) -> &[f64] {
        &self.upper
    }
    /// Cell widths per axis.
    pub fn widths(&self) -> &[f64] {
        &self.widths
    }
    /// Flat-index strides per axis.
    pub fn strides(&self) -> &[usize] {
        &self.strides
    }
    /// Volume of one cell (product of widths).
    pub fn cell_volume(&self) -> f64 {
        self.widths.iter().product()
    }
    /// Cell centres along `axis`.
    pub fn centres(&self, axis: usize) -> Vec<f64> {
        (0..self.cells[axis])
            .map(|i| self.lower[axis] + (i as f64 + 0.5) * self.widths[axis])
            .collect()
    }
    /// Multi-index of flat index `idx` written into `out` (len = dim).
    pub fn unravel_into(&self, mut idx: usize, out: &mut [usize]) {
        for (a, o) in out.iter_mut().enumerate() {
            *o = idx % self.cells[a];
            idx /= self.cells[a];
        }
    }
    /// Centre of flat cell `idx` written into `out` (len = dim).
    pub fn centre_into(&self, mut idx: usize, out: &mut [f64]) {
        for (a, o) in out.iter_mut().enumerate() {
            let i = idx % self.cells[a];
            idx /= self.cells[a];
            *o = self.lower[a] + (i as f64 + 0.5) * self.widths[a];
        }
    }
    /// All cell centres, one `Vec` per axis of length `len()` (coordinates of every cell).
    pub fn coordinates(&self) -> Vec<Vec<f64>> {
        let d = self.dim();
        let mut out = vec![vec![0.0; self.len]; d];
        let mut c = vec![0.0; d];
        for idx in 0..self.len {
            self.centre_into(idx, &mut c);
            for (o, &x) in out.iter_mut().zip(&c) {
                o[idx] = x;
            }
        }
        out
    }
    /// Whether the point lies in the closed box.
    pub fn contains(&self, w: &[f64]) -> bool {
        w.iter()
            .zip(self.lower.iter().zip(&self.upper))
            .all(|(&x, (&l, &u))| x >= l && x <= u)
    }
    /// Integral of a cell-average field (midpoint rule): `h^d * sum(values)`.
    pub fn integrate(&self, values: &[f64]) -> f64 {
        self.cell_volume() * values.iter().sum::<f64>()
    }
}
