//! # ffpe: time-fractional Fokker-Planck equations
//!
//! Solves the Caputo-form time-fractional Fokker-Planck equation
//!
//! ```text
//! D_t^alpha p(w,t) = div( D grad p + gamma p grad L(w) ),   0 < alpha <= 1
//! ```
//!
//! on boxes in one to three dimensions (full tensor grids) and higher dimensions
//! (sparse grids by the combination technique), with no-flux boundaries by default.
//!
//! Workflow: problem -> operator -> stepper -> solution.

pub use ffpe_solvers as solvers;

pub mod sparse_grid;
