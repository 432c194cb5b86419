//! The example problem files of the repository (`examples/*.toml`), compiled into the
//! module so that `ffpe.examples` works from any directory and from an installed wheel.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// `(name, TOML text)` of every shipped example, in the repository's `examples/` order.
const EXAMPLES: &[(&str, &str)] = &[
    (
        "absorbing_1d",
        include_str!("../../examples/absorbing_1d.toml"),
    ),
    (
        "double_well_1d",
        include_str!("../../examples/double_well_1d.toml"),
    ),
    ("fractal_3d", include_str!("../../examples/fractal_3d.toml")),
    ("free_2d", include_str!("../../examples/free_2d.toml")),
    ("ou_1d", include_str!("../../examples/ou_1d.toml")),
    (
        "ou_2d_anisotropic",
        include_str!("../../examples/ou_2d_anisotropic.toml"),
    ),
    (
        "ou_2d_extrapolated",
        include_str!("../../examples/ou_2d_extrapolated.toml"),
    ),
    (
        "ou_4d_sparse",
        include_str!("../../examples/ou_4d_sparse.toml"),
    ),
];

/// Names of the shipped examples.
#[pyfunction]
pub fn example_names() -> Vec<&'static str> {
    EXAMPLES.iter().map(|(n, _)| *n).collect()
}

/// The TOML text of the example `name`; a `ValueError` lists the names otherwise.
#[pyfunction]
pub fn example_text(name: &str) -> PyResult<&'static str> {
    let name = name.strip_suffix(".toml").unwrap_or(name);
    EXAMPLES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
        .ok_or_else(|| {
            PyValueError::new_err(format!(
                "`name`: unknown example {name:?}; allowed: {}",
                example_names().join(", ")
            ))
        })
}
