//! The oracle component solver: a known function sampled at the cell centres.

use super::super::error::{Result, SparseGridError};
use super::super::geometry::{BoxGrid, Layout, check_box};
use super::{ComponentError, ComponentSolver, ComponentWork, Snapshot};

/// A [`ComponentSolver`] that samples a known function `f(t, x)` at the cell centres
/// of each component: the oracle for tests (a function representable on every
/// component must be reproduced exactly) and for interpolation benchmarks.
pub struct AnalyticComponents<F> {
    lower: Vec<f64>,
    upper: Vec<f64>,
    times: Vec<f64>,
    f: F,
}

impl<F: Fn(f64, &[f64]) -> f64 + Sync> AnalyticComponents<F> {
    /// Samples `f` on the box `[lower, upper]` at the given output times.
    pub fn new(lower: Vec<f64>, upper: Vec<f64>, times: Vec<f64>, f: F) -> Result<Self> {
        if lower.len() != upper.len() {
            return Err(SparseGridError::DimensionMismatch {
                what: "box upper bounds",
                got: upper.len(),
                expected: lower.len(),
            });
        }
        check_box(&lower, &upper)?;
        Ok(Self {
            lower,
            upper,
            times,
            f,
        })
    }
}

impl<F: Fn(f64, &[f64]) -> f64 + Sync> ComponentSolver for AnalyticComponents<F> {
    fn lower(&self) -> &[f64] {
        &self.lower
    }
    fn upper(&self) -> &[f64] {
        &self.upper
    }
    fn output_times(&self) -> &[f64] {
        &self.times
    }
    fn solve_component(
        &self,
        cells: &[usize],
        observe: &mut dyn FnMut(usize, f64, Snapshot<'_>),
    ) -> std::result::Result<ComponentWork, ComponentError> {
        let grid = BoxGrid::new(&self.lower, &self.upper, cells, Layout::FirstAxisFastest)?;
        for (i, &t) in self.times.iter().enumerate() {
            let values = grid.sample(|x| (self.f)(t, x));
            observe(
                i,
                t,
                Snapshot {
                    grid: &grid,
                    density: &values,
                },
            );
        }
        Ok(ComponentWork {
            steps: self.times.len(),
            bytes: grid.len() * 8,
            linear_iterations: 0,
        })
    }
}
