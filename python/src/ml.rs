//! `ffpe.mittag_leffler`: [`MittagLeffler`] batch evaluation over numpy arrays.

use crate::convert::value_error;
use ffpe_solvers::mittag_leffler::MittagLeffler;
use num_complex::Complex64;
use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;

/// `E_{alpha,beta}(z)` at every real `z` (1-D, contiguous); the GIL is released.
#[pyfunction]
pub fn mittag_leffler_real<'py>(
    py: Python<'py>,
    alpha: f64,
    beta: f64,
    z: PyReadonlyArray1<'py, f64>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let zs = z.as_slice().map_err(value_error)?;
    let out = py
        .detach(|| {
            let ml = MittagLeffler::new(alpha, beta)?;
            let mut out = vec![0.0; zs.len()];
            ml.eval_batch_into(zs, &mut out)?;
            Ok::<_, ffpe_solvers::SolverError>(out)
        })
        .map_err(value_error)?;
    Ok(PyArray1::from_vec(py, out))
}

/// `E_{alpha,beta}(z)` at every complex `z` (1-D, contiguous); the GIL is released.
#[pyfunction]
pub fn mittag_leffler_complex<'py>(
    py: Python<'py>,
    alpha: f64,
    beta: f64,
    z: PyReadonlyArray1<'py, Complex64>,
) -> PyResult<Bound<'py, PyArray1<Complex64>>> {
    let zs = z.as_slice().map_err(value_error)?;
    let out = py
        .detach(|| {
            let ml = MittagLeffler::new(alpha, beta)?;
            let mut out = vec![Complex64::new(0.0, 0.0); zs.len()];
            ml.eval_complex_batch_into(zs, &mut out)?;
            Ok::<_, ffpe_solvers::SolverError>(out)
        })
        .map_err(value_error)?;
    Ok(PyArray1::from_vec(py, out))
}
