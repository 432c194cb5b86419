//! Predictions: steady states, displacement exponents, theory relations, and the LLC
//! of a potential by volume scaling.

pub mod exponent;
pub mod llc;
pub mod steady;
pub mod theory;

pub use exponent::{PowerLawFit, displacement_exponent, exponent_of_file, fit_power_law};
pub use llc::{EpsRange, LlcFit, LlcMethod, llc_volume_scaling};
pub use steady::{SteadyState, steady_state};
