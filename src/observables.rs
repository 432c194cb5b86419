//! Observables of a density on a grid: mass, mean, second moments, covariance, MSD,
//! `R(t)`, free energy, KL divergence and L1 distance to a steady state.

use crate::error::Result;
use crate::grid::TensorGrid;
use crate::problem::Problem;
use serde::Serialize;

/// Observables of one density snapshot. Moments are normalised by the mass
/// (conditional moments when mass leaves through absorbing faces).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Observables {
    /// Time of the snapshot.
    pub time: f64,
    /// `int p`.
    pub mass: f64,
    /// `<w_i>` per axis.
    pub mean: Vec<f64>,
    /// `<w_i^2>` per axis.
    pub second_moment: Vec<f64>,
    /// Covariance matrix `<(w_i - m_i)(w_j - m_j)>`, row-major `d x d`.
    pub covariance: Vec<f64>,
    /// Mean squared displacement `<|w - w0|^2>` from the start point `w0`.
    pub msd: f64,
    /// `R(t) = sqrt(msd)`.
    pub r: f64,
    /// Free energy `int p L + (D / gamma) int p ln p` (isotropic `D` only).
    pub free_energy: Option<f64>,
    /// `KL(p || p_s)` to the steady state, when one is known.
    pub kl_to_steady: Option<f64>,
    /// `int |p - p_s|`, when a steady state is known.
    pub l1_to_steady: Option<f64>,
    /// Smallest cell value (non-negativity check).
    pub min_density: f64,
}

/// Precomputed data to evaluate [`Observables`] quickly on one grid.
///
/// ```
/// use ffpe::{grid::TensorGrid, observables::ObservableContext};
/// let g = TensorGrid::new(&[-1.0], &[1.0], &[4]).unwrap();
/// let ctx = ObservableContext::new(&g, &[0.0]);
/// let o = ctx.observe(0.0, &[0.0, 2.0, 0.0, 0.0]); // all mass at x = -0.25
/// assert!((o.mass - 1.0).abs() < 1e-15 && (o.mean[0] + 0.25).abs() < 1e-15);
/// assert!((o.msd - 0.0625).abs() < 1e-15);
/// ```
#[derive(Clone, Debug)]
pub struct ObservableContext {
    coords: Vec<Vec<f64>>,
    volume: f64,
    start: Vec<f64>,
    potential: Option<Vec<f64>>,
    temperature: Option<f64>,
    steady: Option<Vec<f64>>,
}

impl ObservableContext {
    /// Context on `grid` with MSD measured from `start`.
    pub fn new(grid: &TensorGrid, start: &[f64]) -> Self {
        Self {
            coords: grid.coordinates(),
            volume: grid.cell_volume(),
            start: start.to_vec(),
            potential: None,
            temperature: None,
            steady: None,
        }
    }

    /// Context for a problem: start = mean of the initial density; free energy when
    /// `D` is isotropic; steady state = Boltzmann density when one exists.
    pub fn for_problem(problem: &Problem) -> Result<Self> {
        let g = problem.grid();
        let p0 = problem.initial_density()?;
        let mut ctx = Self::new(g, &vec![0.0; g.dim()]);
        let o = ctx.observe(0.0, &p0);
        ctx.start = o.mean;
        ctx.potential = Some(problem.potential_on_grid()?);
        if problem.is_isotropic() {
            ctx.temperature = Some(problem.diffusion_per_axis()[0] / problem.gamma());
        }
        if problem.boundary() != crate::problem::Boundary::Absorbing {
            ctx.steady = problem.boltzmann_density().ok();
        }
        Ok(ctx)
    }

    /// Sets the steady state used for KL and L1 distances.
    pub fn with_steady(mut self, steady: Option<Vec<f64>>) -> Self {
        self.steady = steady;
        self
    }

    /// The start point of the MSD.
    pub fn start(&self) -> &[f64] {
        &self.start
    }

    /// Observables of density `p` at time `t`.
    pub fn observe(&self, t: f64, p: &[f64]) -> Observables {
        let d = self.coords.len();
        let v = self.volume;
        let mass_raw: f64 = p.iter().sum();
        let mass = v * mass_raw;
        let norm = if mass_raw.abs() > 0.0 {
            1.0 / mass_raw
        } else {
            0.0
        };
        let mut mean = vec![0.0; d];
        let mut second = vec![0.0; d];
        for a in 0..d {
            let x = &self.coords[a];
            let (mut s1, mut s2) = (0.0, 0.0);
            for (pi, xi) in p.iter().zip(x) {
                s1 += pi * xi;
                s2 += pi * xi * xi;
            }
            mean[a] = s1 * norm;
            second[a] = s2 * norm;
        }
        let mut cov = vec![0.0; d * d];
        for a in 0..d {
            for b in a..d {
                let (xa, xb) = (&self.coords[a], &self.coords[b]);
                let s: f64 = p
                    .iter()
                    .zip(xa.iter().zip(xb))
                    .map(|(pi, (u, w))| pi * (u - mean[a]) * (w - mean[b]))
                    .sum();
                cov[a * d + b] = s * norm;
                cov[b * d + a] = s * norm;
            }
        }
        // <|w - w0|^2> = sum_a cov_aa + (m_a - w0_a)^2
        let msd: f64 = (0..d)
            .map(|a| cov[a * d + a] + (mean[a] - self.start[a]).powi(2))
            .sum();
        let free_energy = match (&self.potential, self.temperature) {
            (Some(l), Some(temp)) => {
                let mut e = 0.0;
                let mut s = 0.0;
                for (pi, li) in p.iter().zip(l) {
                    e += pi * li;
                    if *pi > 0.0 {
                        s += pi * pi.ln();
                    }
                }
                Some(v * (e + temp * s))
            }
            _ => None,
        };
        let (kl, l1) = match &self.steady {
            Some(ps) => {
                let mut kl = 0.0;
                let mut l1 = 0.0;
                for (pi, qi) in p.iter().zip(ps) {
                    l1 += (pi - qi).abs();
                    if *pi > 0.0 && *qi > 0.0 {
                        kl += pi * (pi / qi).ln();
                    }
                }
                (Some(v * kl), Some(v * l1))
            }
            None => (None, None),
        };
        Observables {
            time: t,
            mass,
            mean,
            second_moment: second,
            covariance: cov,
            msd,
            r: msd.max(0.0).sqrt(),
            free_energy,
            kl_to_steady: kl,
            l1_to_steady: l1,
            min_density: p.iter().cloned().fold(f64::INFINITY, f64::min),
        }
    }
}
