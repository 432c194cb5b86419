//! Problems: the equation's parameters, potential, box, boundary and initial density.
//!
//! Build with [`ProblemBuilder`]; `build()` validates every field and returns an error
//! that names the key and the allowed range.
//!
//! ```
//! use ffpe::problem::{Potential, Problem};
//! let p = Problem::builder()
//!     .alpha(0.5)
//!     .potential(Potential::quadratic(&[1.0]))
//!     .domain(&[-6.0], &[6.0], &[96])
//!     .build()
//!     .unwrap();
//! assert_eq!(p.grid().len(), 96);
//! assert!(Problem::builder().alpha(1.5).domain(&[0.0], &[1.0], &[8]).build().is_err());
//! ```

pub mod diffusion;
pub mod initial;
pub mod potential;

pub use diffusion::Diffusion;
pub use initial::Initial;
pub use potential::{Potential, PotentialFn};

use crate::error::{FfpeError, Result, check_range};
use crate::grid::TensorGrid;
use serde::{Deserialize, Serialize};

/// Boundary condition on every face of the box.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Boundary {
    /// Zero flux: mass is conserved (default).
    #[default]
    NoFlux,
    /// `p = 0` on the boundary: mass leaves the box.
    Absorbing,
    /// Periodic box (the potential should be periodic too).
    Periodic,
}

impl Boundary {
    /// Parses `"no-flux" | "absorbing" | "periodic"`, with the spellings `"reflecting"`,
    /// `"noflux"`, `"no_flux"` of no-flux and `"dirichlet"` of absorbing.
    pub fn parse(key: &str, s: &str) -> Result<Self> {
        match s {
            "no-flux" | "noflux" | "no_flux" | "reflecting" => Ok(Self::NoFlux),
            "absorbing" | "dirichlet" => Ok(Self::Absorbing),
            "periodic" => Ok(Self::Periodic),
            _ => Err(FfpeError::UnknownKind {
                key: key.into(),
                value: s.into(),
                allowed: "\"no-flux\" (also \"reflecting\", \"noflux\", \"no_flux\"), \"absorbing\" (also \"dirichlet\"), \"periodic\"".into(),
            }),
        }
    }
}

/// A validated problem. Immutable; derive variants with [`Problem::with_cells`] or
/// [`Problem::to_builder`].
#[derive(Clone, Debug)]
pub struct Problem {
    alpha: f64,
    gamma: f64,
    diffusion: Diffusion,
    diffusion_axes: Vec<f64>,
    potential: Potential,
    grid: TensorGrid,
    boundary: Boundary,
    initial: Initial,
}

/// Builder of [`Problem`]. Defaults: `alpha = 1`, `gamma = 1`, `D = 1`, flat potential,
/// no-flux boundary, Gaussian start at the box centre with `std` = width / 20.
/// The domain (box and cells) has no default.
#[derive(Clone, Debug, Default)]
pub struct ProblemBuilder {
    alpha: Option<f64>,
    gamma: Option<f64>,
    diffusion: Option<Diffusion>,
    potential: Option<Potential>,
    lower: Option<Vec<f64>>,
    upper: Option<Vec<f64>>,
    cells: Option<Vec<usize>>,
    boundary: Boundary,
    initial: Option<Initial>,
}

impl ProblemBuilder {
    /// Caputo order `alpha` in (0, 1].
    pub fn alpha(mut self, alpha: f64) -> Self {
        self.alpha = Some(alpha);
        self
    }
    /// Friction `gamma > 0`.
    pub fn gamma(mut self, gamma: f64) -> Self {
        self.gamma = Some(gamma);
        self
    }
    /// Diffusion coefficient (scalar, per axis or fractal).
    pub fn diffusion(mut self, d: Diffusion) -> Self {
        self.diffusion = Some(d);
        self
    }
    /// Scalar diffusion coefficient shortcut.
    pub fn diffusion_scalar(self, d: f64) -> Self {
        self.diffusion(Diffusion::Scalar(d))
    }
    /// The potential `L(w)`.
    pub fn potential(mut self, p: Potential) -> Self {
        self.potential = Some(p);
        self
    }
    /// The box `[lower, upper]` and the cells per axis (all of equal length `d`).
    pub fn domain(mut self, lower: &[f64], upper: &[f64], cells: &[usize]) -> Self {
        self.lower = Some(lower.to_vec());
        self.upper = Some(upper.to_vec());
        self.cells = Some(cells.to_vec());
        self
    }
    /// Replaces only the cells per axis.
    pub fn cells(mut self, cells: &[usize]) -> Self {
        self.cells = Some(cells.to_vec());
        self
    }
    /// Boundary condition.
    pub fn boundary(mut self, b: Boundary) -> Self {
        self.boundary = b;
        self
    }
    /// Initial density.
    pub fn initial(mut self, i: Initial) -> Self {
        self.initial = Some(i);
        self
    }

    /// Validates and builds.
    pub fn build(self) -> Result<Problem> {
        let alpha = check_range(
            "equation.alpha",
            self.alpha.unwrap_or(1.0),
            Some((0.0, true)),
            Some((1.0, false)),
            "0 < alpha <= 1",
        )?;
        let gamma = check_range(
            "equation.gamma",
            self.gamma.unwrap_or(1.0),
            Some((0.0, true)),
            None,
            "a finite number > 0",
        )?;
        let lower = self.lower.ok_or_else(|| FfpeError::MissingKey {
            key: "domain.lower".into(),
            hint: "the lower corner of the box, one number per axis".into(),
        })?;
        let upper = self.upper.ok_or_else(|| FfpeError::MissingKey {
            key: "domain.upper".into(),
            hint: "the upper corner of the box".into(),
        })?;
        let cells = self.cells.ok_or_else(|| FfpeError::MissingKey {
            key: "domain.cells".into(),
            hint: "cells per axis (>= 3)".into(),
        })?;
        if lower.len() > 8 {
            return Err(FfpeError::out_of_range(
                "domain.lower",
                format!("{} axes", lower.len()),
                "1 to 8 axes (full grids are practical up to 3)",
            ));
        }
        let grid = TensorGrid::new(&lower, &upper, &cells)?;
        let d = grid.dim();
        let diffusion = self.diffusion.unwrap_or_default();
        let diffusion_axes = diffusion.per_axis(d)?;
        let potential = self
            .potential
            .unwrap_or(Potential::Flat)
            .validated(d, grid.len())?;
        if self.boundary == Boundary::Periodic && cells.iter().any(|&n| n < 3) {
            return Err(FfpeError::out_of_range(
                "domain.cells",
                format!("{cells:?}"),
                "cells >= 3 per axis",
            ));
        }
        let initial = self.initial.unwrap_or_else(|| Initial::Gaussian {
            mean: (0..d).map(|a| 0.5 * (lower[a] + upper[a])).collect(),
            std: (0..d).map(|a| (upper[a] - lower[a]) / 20.0).collect(),
        });
        initial.validate(&grid)?;
        let p = Problem {
            alpha,
            gamma,
            diffusion,
            diffusion_axes,
            potential,
            grid,
            boundary: self.boundary,
            initial,
        };
        // Potential must be finite on the grid.
        p.potential.on_grid(&p.grid)?;
        Ok(p)
    }
}

impl Problem {
    /// A builder with the documented defaults.
    pub fn builder() -> ProblemBuilder {
        ProblemBuilder::default()
    }
    /// A builder pre-filled with this problem's settings.
    pub fn to_builder(&self) -> ProblemBuilder {
        ProblemBuilder {
            alpha: Some(self.alpha),
            gamma: Some(self.gamma),
            diffusion: Some(self.diffusion.clone()),
            potential: Some(self.potential.clone()),
            lower: Some(self.grid.lower().to_vec()),
            upper: Some(self.grid.upper().to_vec()),
            cells: Some(self.grid.cells().to_vec()),
            boundary: self.boundary,
            initial: Some(self.initial.clone()),
        }
    }
    /// The same problem on the same box with other cells per axis (anisotropic grids
    /// for the sparse-grid combination technique). Tabulated potentials or initial
    /// densities cannot be regridded and give an error.
    ///
    /// ```
    /// # use ffpe::problem::Problem;
    /// let p = Problem::builder().domain(&[0.0, 0.0], &[1.0, 1.0], &[8, 8]).build().unwrap();
    /// let q = p.with_cells(&[16, 4]).unwrap();
    /// assert_eq!(q.grid().cells(), &[16, 4]);
    /// ```
    pub fn with_cells(&self, cells: &[usize]) -> Result<Problem> {
        if self.potential.is_tabulated() {
            return Err(FfpeError::invalid(
                "potential.kind",
                "a tabulated potential is tied to its grid and cannot be regridded",
            ));
        }
        if matches!(self.initial, Initial::Tabulated(_)) {
            return Err(FfpeError::invalid(
                "initial.kind",
                "a tabulated initial density is tied to its grid and cannot be regridded",
            ));
        }
        self.to_builder().cells(cells).build()
    }
    /// Caputo order.
    pub fn alpha(&self) -> f64 {
        self.alpha
    }
    /// Friction.
    pub fn gamma(&self) -> f64 {
        self.gamma
    }
    /// Diffusion as given.
    pub fn diffusion(&self) -> &Diffusion {
        &self.diffusion
    }
    /// Diffusion per axis (resolved).
    pub fn diffusion_per_axis(&self) -> &[f64] {
        &self.diffusion_axes
    }
    /// Whether `D` is the same on every axis.
    pub fn is_isotropic(&self) -> bool {
        let d0 = self.diffusion_axes[0];
        self.diffusion_axes
            .iter()
            .all(|&d| (d - d0).abs() <= 1e-14 * d0)
    }
    /// The potential.
    pub fn potential(&self) -> &Potential {
        &self.potential
    }
    /// The grid.
    pub fn grid(&self) -> &TensorGrid {
        &self.grid
    }
    /// Number of axes.
    pub fn dim(&self) -> usize {
        self.grid.dim()
    }
    /// Boundary condition.
    pub fn boundary(&self) -> Boundary {
        self.boundary
    }
    /// Initial density spec.
    pub fn initial(&self) -> &Initial {
        &self.initial
    }
    /// Potential at the cell centres.
    pub fn potential_on_grid(&self) -> Result<Vec<f64>> {
        self.potential.on_grid(&self.grid)
    }
    /// The initial density on the grid (unit mass).
    pub fn initial_density(&self) -> Result<Vec<f64>> {
        self.initial
            .on_grid(&self.grid, || self.boltzmann_density())
    }
    /// The discrete Boltzmann density `exp(-gamma L / D) / Z` at the cell centres
    /// (unit mass). For per-axis `D` it needs a separable potential
    /// (`exp(-gamma sum_i L_i(w_i) / D_i)`), otherwise it is an error: no Boltzmann
    /// steady state exists then.
    pub fn boltzmann_density(&self) -> Result<Vec<f64>> {
        let g = &self.grid;
        let mut e = vec![0.0; g.len()];
        if self.is_isotropic() {
            let l = self.potential_on_grid()?;
            let s = self.gamma / self.diffusion_axes[0];
            for (o, li) in e.iter_mut().zip(&l) {
                *o = -s * li;
            }
        } else {
            let mut c = vec![0.0; g.dim()];
            for (idx, o) in e.iter_mut().enumerate() {
                g.centre_into(idx, &mut c);
                let terms = self.potential.separable_terms(&c).ok_or_else(|| {
                    FfpeError::invalid(
                        "equation.diffusion",
                        "per-axis diffusion with a non-separable potential has no Boltzmann density",
                    )
                })?;
                *o = -terms
                    .iter()
                    .zip(&self.diffusion_axes)
                    .map(|(t, d)| self.gamma * t / d)
                    .sum::<f64>();
            }
        }
        let m = e.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let mut p: Vec<f64> = e.iter().map(|x| (x - m).exp()).collect();
        let z = g.integrate(&p);
        p.iter_mut().for_each(|x| *x /= z);
        Ok(p)
    }
}
