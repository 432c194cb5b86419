//! Cell-centred tensor grids on a box, and what the combination technique needs from
//! a density stored on one: midpoint moments, multilinear interpolation, marginals.

use serde::Serialize;

use super::error::{Result, SparseGridError};

/// Order in which the cells of a tensor grid are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize)]
pub enum Layout {
    /// Axis 0 varies fastest (Fortran / column-major order).
    #[default]
    FirstAxisFastest,
    /// The last axis varies fastest (C / row-major order).
    LastAxisFastest,
}

/// How [`BoxGrid::interpolate`] treats points between the outermost cell centres and
/// the boundary of the box (half a cell wide on each side).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize)]
pub enum Extrapolation {
    /// Constant: the outermost cell value. Interpolants of non-negative values stay
    /// non-negative (the default for densities).
    #[default]
    Constant,
    /// Linear from the two outermost cells: reproduces functions that are affine in
    /// each coordinate exactly, everywhere in the box, but can undershoot zero.
    Linear,
}

/// A cell-centred tensor grid on the box `[lower, upper]`: `cells[i]` equal cells
/// along axis `i`, cell centres `lower[i] + (k + 1/2) h_i`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BoxGrid {
    lower: Vec<f64>,
    upper: Vec<f64>,
    cells: Vec<usize>,
    layout: Layout,
    strides: Vec<usize>,
}

impl BoxGrid {
    /// A grid on `[lower, upper]` with `cells` cells per axis, stored in `layout` order.
    ///
    /// Errors when the lengths differ, a bound is not finite, `lower >= upper` on some
    /// axis, or an axis has no cell.
    pub fn new(lower: &[f64], upper: &[f64], cells: &[usize], layout: Layout) -> Result<Self> {
        let dim = lower.len();
        if upper.len() != dim {
            return Err(SparseGridError::DimensionMismatch {
                what: "box upper bounds",
                got: upper.len(),
                expected: dim,
            });
        }
        if cells.len() != dim {
            return Err(SparseGridError::DimensionMismatch {
                what: "cells per axis",
                got: cells.len(),
                expected: dim,
            });
        }
        check_box(lower, upper)?;
        if let Some(axis) = cells.iter().position(|&c| c == 0) {
            return Err(SparseGridError::InvalidBox {
                axis,
                lower: lower[axis],
                upper: upper[axis],
            });
        }
        let mut strides = vec![0usize; dim];
        let mut s = 1usize;
        match layout {
            Layout::FirstAxisFastest => {
                for i in 0..dim {
                    strides[i] = s;
                    s *= cells[i];
                }
            }
            Layout::LastAxisFastest => {
                for i in (0..dim).rev() {
                    strides[i] = s;
                    s *= cells[i];
                }
            }
        }
        Ok(Self {
            lower: lower.to_vec(),
            upper: upper.to_vec(),
            cells: cells.to_vec(),
            layout,
            strides,
        })
    }

    /// Dimension.
    pub fn dim(&self) -> usize {
        self.cells.len()
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

    /// Storage order.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Total number of cells.
    pub fn len(&self) -> usize {
        self.cells.iter().product()
    }

    /// True when the grid has no cell (never, for a grid built by [`BoxGrid::new`]).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Cell width along `axis`.
    pub fn width(&self, axis: usize) -> f64 {
        (self.upper[axis] - self.lower[axis]) / self.cells[axis] as f64
    }

    /// Volume of one cell.
    pub fn cell_volume(&self) -> f64 {
        (0..self.dim()).map(|i| self.width(i)).product()
    }

    /// Centre of cell `k` along `axis`.
    pub fn centre(&self, axis: usize, k: usize) -> f64 {
        self.lower[axis] + (k as f64 + 0.5) * self.width(axis)
    }

    /// Flat storage index of the multi-index `idx`.
    pub fn flat_index(&self, idx: &[usize]) -> usize {
        idx.iter().zip(&self.strides).map(|(i, s)| i * s).sum()
    }

    /// Values of `f` at every cell centre, in storage order.
    pub fn sample(&self, mut f: impl FnMut(&[f64]) -> f64) -> Vec<f64> {
        let mut out = vec![0.0; self.len()];
        let mut x = vec![0.0; self.dim()];
        self.for_each_cell(|idx, flat| {
            for (axis, &k) in idx.iter().enumerate() {
                x[axis] = self.centre(axis, k);
            }
            out[flat] = f(&x);
        });
        out
    }

    /// Calls `f(multi_index, flat_index)` for every cell.
    pub fn for_each_cell(&self, mut f: impl FnMut(&[usize], usize)) {
        let mut idx = vec![0usize; self.dim()];
        let n = self.len();
        for _ in 0..n {
            let flat = self.flat_index(&idx);
            f(&idx, flat);
            // odometer, axis 0 fastest (independent of the storage layout)
            for (i, &n_axis) in idx.iter_mut().zip(&self.cells) {
                *i += 1;
                if *i < n_axis {
                    break;
                }
                *i = 0;
            }
        }
    }

    /// Raw midpoint moments of a density stored on this grid: mass `int p`,
    /// first moments `int x_i p` and second moments `int x_i x_j p`, each integral
    /// approximated by the midpoint rule (exact for the piecewise-constant reading of
    /// `p` in the first moments, second order in the second moments).
    pub fn moments(&self, density: &[f64]) -> RawMoments {
        let dim = self.dim();
        let mut m = RawMoments::zeros(dim);
        let vol = self.cell_volume();
        let centres: Vec<Vec<f64>> = (0..dim)
            .map(|a| (0..self.cells[a]).map(|k| self.centre(a, k)).collect())
            .collect();
        let mut x = vec![0.0; dim];
        self.for_each_cell(|idx, flat| {
            let w = density[flat] * vol;
            for a in 0..dim {
                x[a] = centres[a][idx[a]];
            }
            m.mass += w;
            for a in 0..dim {
                m.first[a] += w * x[a];
                for b in a..dim {
                    m.second[a * dim + b] += w * x[a] * x[b];
                }
            }
        });
        for a in 0..dim {
            for b in 0..a {
                m.second[a * dim + b] = m.second[b * dim + a];
            }
        }
        m
    }

    /// Multilinear interpolation of cell-centre values at the point `x` (inside the
    /// box), with constant extrapolation between the outermost cell centres and the
    /// boundary ([`Extrapolation::Constant`]).
    pub fn interpolate(&self, values: &[f64], x: &[f64]) -> f64 {
        self.interpolate_with(values, x, Extrapolation::Constant)
    }

    /// Multilinear interpolation of cell-centre values at `x`; inside the hull of the
    /// cell centres any function affine in each coordinate is reproduced exactly, and
    /// `extrapolation` says what happens in the half cells next to the boundary. An
    /// axis with a single cell is constant.
    pub fn interpolate_with(&self, values: &[f64], x: &[f64], extrapolation: Extrapolation) -> f64 {
        let dim = self.dim();
        // per axis: base index and weight of the upper neighbour
        let mut base = [0usize; super::scheme::MAX_DIM];
        let mut t = [0.0f64; super::scheme::MAX_DIM];
        let mut two = [false; super::scheme::MAX_DIM];
        for a in 0..dim {
            let n = self.cells[a];
            if n == 1 {
                base[a] = 0;
                t[a] = 0.0;
                two[a] = false;
                continue;
            }
            let s = (x[a] - self.lower[a]) / self.width(a) - 0.5;
            let k0 = (s.floor().max(0.0) as usize).min(n - 2);
            base[a] = k0;
            t[a] = match extrapolation {
                Extrapolation::Linear => s - k0 as f64,
                Extrapolation::Constant => (s - k0 as f64).clamp(0.0, 1.0),
            };
            two[a] = true;
        }
        let mut sum = 0.0;
        for corner in 0..(1usize << dim) {
            let mut w = 1.0;
            let mut flat = 0usize;
            let mut skip = false;
            for a in 0..dim {
                let up = (corner >> a) & 1 == 1;
                if up && !two[a] {
                    skip = true;
                    break;
                }
                let k = base[a] + usize::from(up);
                w *= if !two[a] {
                    1.0
                } else if up {
                    t[a]
                } else {
                    1.0 - t[a]
                };
                flat += k * self.strides[a];
            }
            if !skip {
                sum += w * values[flat];
            }
        }
        sum
    }

    /// Marginal density over the axes `axes` (1 or 2 distinct axes): the integral of
    /// `p` over all other axes, as cell values on the sub-grid spanned by `axes`
    /// (stored with the first listed axis fastest).
    pub fn marginal(&self, density: &[f64], axes: &[usize]) -> (BoxGrid, Vec<f64>) {
        let sub_cells: Vec<usize> = axes.iter().map(|&a| self.cells[a]).collect();
        let sub_lower: Vec<f64> = axes.iter().map(|&a| self.lower[a]).collect();
        let sub_upper: Vec<f64> = axes.iter().map(|&a| self.upper[a]).collect();
        let sub = BoxGrid::new(&sub_lower, &sub_upper, &sub_cells, Layout::FirstAxisFastest)
            .expect("sub-grid of a valid grid is valid");
        let other_volume: f64 = (0..self.dim())
            .filter(|a| !axes.contains(a))
            .map(|a| self.width(a))
            .product();
        let mut out = vec![0.0; sub.len()];
        let mut sub_idx = vec![0usize; axes.len()];
        self.for_each_cell(|idx, flat| {
            for (j, &a) in axes.iter().enumerate() {
                sub_idx[j] = idx[a];
            }
            out[sub.flat_index(&sub_idx)] += density[flat] * other_volume;
        });
        (sub, out)
    }
}

/// Validates a box: finite bounds with `lower < upper` on every axis.
pub(crate) fn check_box(lower: &[f64], upper: &[f64]) -> Result<()> {
    for (axis, (&lo, &hi)) in lower.iter().zip(upper).enumerate() {
        if !(lo.is_finite() && hi.is_finite() && lo < hi) {
            return Err(SparseGridError::InvalidBox {
                axis,
                lower: lo,
                upper: hi,
            });
        }
    }
    Ok(())
}

/// Raw (unnormalised) moments of a density: they combine linearly across components.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RawMoments {
    /// `int p`.
    pub mass: f64,
    /// `int x_i p`, per axis.
    pub first: Vec<f64>,
    /// `int x_i x_j p`, row-major `d x d`.
    pub second: Vec<f64>,
}

impl RawMoments {
    /// All-zero moments in `dim` dimensions.
    pub fn zeros(dim: usize) -> Self {
        Self {
            mass: 0.0,
            first: vec![0.0; dim],
            second: vec![0.0; dim * dim],
        }
    }

    /// Dimension.
    pub fn dim(&self) -> usize {
        self.first.len()
    }

    /// `self += c * other`.
    pub fn add_scaled(&mut self, c: f64, other: &RawMoments) {
        self.mass += c * other.mass;
        for (a, b) in self.first.iter_mut().zip(&other.first) {
            *a += c * b;
        }
        for (a, b) in self.second.iter_mut().zip(&other.second) {
            *a += c * b;
        }
    }

    /// Mean `E[x_i] = int x_i p / int p`.
    pub fn mean(&self) -> Vec<f64> {
        self.first.iter().map(|f| f / self.mass).collect()
    }

    /// Second moment `E[x_i^2]` per axis.
    pub fn second_moment(&self, axis: usize) -> f64 {
        let d = self.dim();
        self.second[axis * d + axis] / self.mass
    }

    /// Covariance matrix `E[x_i x_j] - E[x_i] E[x_j]`, row-major `d x d`.
    pub fn covariance(&self) -> Vec<f64> {
        let d = self.dim();
        let mean = self.mean();
        let mut c = vec![0.0; d * d];
        for a in 0..d {
            for b in 0..d {
                c[a * d + b] = self.second[a * d + b] / self.mass - mean[a] * mean[b];
            }
        }
        c
    }

    /// Mean squared distance from `centre`: `E|x - centre|^2`.
    pub fn msd_about(&self, centre: &[f64]) -> f64 {
        let d = self.dim();
        (0..d)
            .map(|a| {
                (self.second[a * d + a] - 2.0 * centre[a] * self.first[a]
                    + centre[a] * centre[a] * self.mass)
                    / self.mass
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn affine_product(x: &[f64]) -> f64 {
        x.iter()
            .enumerate()
            .map(|(i, v)| 1.0 + 0.3 * (i as f64 + 1.0) * v)
            .product()
    }

    #[test]
    fn interpolation_reproduces_multilinear_functions_in_both_layouts() {
        for layout in [Layout::FirstAxisFastest, Layout::LastAxisFastest] {
            let g = BoxGrid::new(&[-1.0, 0.0, 2.0], &[1.0, 3.0, 2.5], &[4, 2, 8], layout).unwrap();
            let v = g.sample(affine_product);
            for &x in &[
                [-1.0, 0.0, 2.0],
                [1.0, 3.0, 2.5],
                [0.123, 1.7, 2.31],
                [-0.99, 2.99, 2.01],
            ] {
                let got = g.interpolate_with(&v, &x, Extrapolation::Linear);
                // exact up to rounding: multilinear interpolation reproduces multilinear f
                assert!((got - affine_product(&x)).abs() < 1e-13, "{layout:?} {x:?}");
            }
        }
    }

    #[test]
    fn constant_extrapolation_keeps_positive_values_positive() {
        let g = BoxGrid::new(&[0.0], &[1.0], &[4], Layout::default()).unwrap();
        let v = [1e-12, 1.0, 2.0, 2.5];
        // linear extrapolation to x = 0 undershoots: 1e-12 - (1 - 1e-12) / 2 < 0
        assert!(g.interpolate_with(&v, &[0.0], Extrapolation::Linear) < 0.0);
        assert!((g.interpolate(&v, &[0.0]) - 1e-12).abs() < 1e-20);
        assert!((g.interpolate(&v, &[1.0]) - 2.5).abs() < 1e-15);
        // inside the hull of the centres both modes agree
        let x = [0.3];
        let a = g.interpolate(&v, &x);
        let b = g.interpolate_with(&v, &x, Extrapolation::Linear);
        assert!((a - b).abs() < 1e-15);
    }

    #[test]
    fn single_cell_axis_is_constant() {
        let g = BoxGrid::new(&[0.0, 0.0], &[1.0, 1.0], &[1, 3], Layout::default()).unwrap();
        let v = g.sample(|x| 2.0 + x[1]);
        assert!((g.interpolate(&v, &[0.9, 0.5]) - 2.5).abs() < 1e-14);
    }

    #[test]
    fn moments_and_marginals_of_a_uniform_density() {
        let g = BoxGrid::new(&[0.0, -1.0], &[2.0, 1.0], &[4, 8], Layout::LastAxisFastest).unwrap();
        let p = vec![0.25; g.len()];
        let m = g.moments(&p);
        assert!((m.mass - 1.0).abs() < 1e-14);
        assert!((m.mean()[0] - 1.0).abs() < 1e-14);
        assert!(m.mean()[1].abs() < 1e-14);
        // midpoint variance of the uniform law on [0,2] with h = 1/2: 1/3 - h^2/12
        let cov = m.covariance();
        assert!((cov[0] - (1.0 / 3.0 - 0.25 / 12.0)).abs() < 1e-14);
        assert!(cov[1].abs() < 1e-14);
        let (sub, marg) = g.marginal(&p, &[0]);
        assert_eq!(sub.cells(), &[4]);
        for v in marg {
            assert!((v - 0.5).abs() < 1e-14);
        }
        let (sub2, marg2) = g.marginal(&p, &[1, 0]);
        assert_eq!(sub2.cells(), &[8, 4]);
        assert!((marg2.iter().sum::<f64>() * sub2.cell_volume() - 1.0).abs() < 1e-14);
    }

    #[test]
    fn bad_boxes_are_errors() {
        assert!(BoxGrid::new(&[0.0], &[0.0], &[2], Layout::default()).is_err());
        assert!(BoxGrid::new(&[0.0], &[f64::NAN], &[2], Layout::default()).is_err());
        assert!(BoxGrid::new(&[0.0], &[1.0], &[0], Layout::default()).is_err());
        assert!(BoxGrid::new(&[0.0], &[1.0, 2.0], &[2], Layout::default()).is_err());
    }
}
