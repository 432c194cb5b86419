//! # ffpe-python: the `ffpe` Python package (PyO3)
//!
//! Thin bindings over the workspace crates; every number comes from them:
//!
//! | Python (`ffpe.`) | Rust |
//! |---|---|
//! | `mittag_leffler` | [`ffpe_solvers::mittag_leffler::MittagLeffler`] (batch evaluation) |
//! | `relax` | [`ffpe_solvers::fode::LinearL1Stepper`] on the 1x1 system `D^a y = -c y` |
//! | `solve` | [`ffpe::config::parse_str`] / [`ffpe::config::read_file`], then [`ffpe::solve::solve_with_observer`] (full grids) or [`ffpe::config::run_file`] (sparse grids) |
//! | `steady` | [`ffpe::predict::steady_state`] |
//! | `exponent` | [`ffpe::predict::exponent_of_file`] (what `ffpe exponent` runs) |
//! | `llc` | [`ffpe_validation::llc::estimate`] (what `ffpe-validate llc` runs) |
//! | `llc_truth` | [`ffpe_validation::llc::truth::estimate_known`] (what `ffpe-validate llc-truth` runs) |
//! | `analyze` | [`ffpe_validation::drift::external::analyse`] (what `ffpe-validate analyze` runs) |
//! | `examples.names`, `examples.text`, `examples.path` | the repository's `examples/*.toml`, compiled in |
//!
//! This crate is the extension module `ffpe._native`; the Python package around it
//! (`python/python/ffpe/__init__.py`) only converts arguments (numpy arrays, dicts,
//! devinterp's option names) and reshapes results. Errors become `ValueError` (bad input,
//! naming the field and its allowed range) or `OSError` (files); long computations release
//! the GIL and check for Ctrl-C and the optional progress callback about 100 times per run.
//!
//! Build with `maturin build --release` (see `pyproject.toml`); maturin sets
//! `PYO3_BUILD_EXTENSION_MODULE`, so no `extension-module` feature is needed and
//! `cargo test --workspace` / `cargo clippy --workspace` build this crate like any other.

mod analyze;
mod convert;
mod examples;
mod fp;
mod llc;
mod ml;
mod relax;

use pyo3::prelude::*;

/// The extension module `ffpe._native`.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(ml::mittag_leffler_real, m)?)?;
    m.add_function(wrap_pyfunction!(ml::mittag_leffler_complex, m)?)?;
    m.add_function(wrap_pyfunction!(relax::relax, m)?)?;
    m.add_function(wrap_pyfunction!(fp::solve, m)?)?;
    m.add_function(wrap_pyfunction!(fp::steady, m)?)?;
    m.add_function(wrap_pyfunction!(fp::exponent, m)?)?;
    m.add_function(wrap_pyfunction!(fp::parse_problem, m)?)?;
    m.add_function(wrap_pyfunction!(llc::llc, m)?)?;
    m.add_function(wrap_pyfunction!(llc::llc_truth, m)?)?;
    m.add_function(wrap_pyfunction!(analyze::analyze, m)?)?;
    m.add_function(wrap_pyfunction!(examples::example_names, m)?)?;
    m.add_function(wrap_pyfunction!(examples::example_text, m)?)?;
    Ok(())
}
