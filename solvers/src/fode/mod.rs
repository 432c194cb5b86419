//! Fractional ODE stepping with the L1 scheme.
//!
//! * [`LinearL1Stepper`]: implicit L1 for sparse linear systems `D^a u = A u + f(t)`, one
//!   sparse LU solve per step (symbolic factorization once, numeric once per distinct step
//!   size), any [`HistoryKind`](crate::history::HistoryKind); [`LinearL1Stepper::run`] drives
//!   it over the whole mesh with an observer and reports a [`StopReason`]. It is the
//!   generic [`L1Stepper`] with the [`SparseLu`] backend; other linear solves plug in
//!   through [`ShiftedSolve`].
//! * [`solve_nonlinear`]: small nonlinear systems `D^a y = f(t, y)` with Newton's method.

mod linear;
mod nonlinear;

pub use linear::{
    FodeStats, L1Stepper, LinearL1Stepper, ShiftedFactors, ShiftedSolve, SparseLu, StopReason,
};
pub use nonlinear::{FodeSolution, NewtonOptions, solve_nonlinear};
