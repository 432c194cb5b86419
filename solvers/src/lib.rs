//! # ffpe-solvers: fractional-calculus kernels
//!
//! The numerical kernels under the `ffpe` time-fractional Fokker-Planck solver:
//!
//! - Mittag-Leffler function `E_{a,b}(z)` (scalar and batch),
//! - Caputo L1 weights on uniform, graded and user meshes,
//! - history evaluators for the L1 sum: direct (the oracle), sum-of-exponentials, FFT,
//! - fractional ODE stepping: linear sparse systems `D^a u = A u + f(t)` and small
//!   nonlinear systems with Newton.

pub mod caputo;
pub mod error;
pub mod fode;
pub mod history;
pub mod mittag_leffler;

pub use error::{Result, SolverError};
