//! `ffpe.analyze`: the drift/diffusion analysis of training runs
//! ([`ffpe_validation::drift::external::analyse`], what `ffpe-validate analyze` runs), from
//! checkpoint directories or from weights in numpy arrays.

use crate::convert::{to_py, validation_error, value_error};
use ffpe_validation::drift::external::{ExternalConfig, MemoryRun, RunInput, analyse};
use numpy::{PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyAny;
use std::path::PathBuf;

/// One item of `runs`, as the Python wrapper passes it.
enum Item<'py> {
    Dir(PathBuf),
    Memory(PyReadonlyArray1<'py, u64>, PyReadonlyArray2<'py, f32>),
}

/// `runs`: a list of directories (str) and `(steps uint64 [n], weights float32 [n, p])` pairs
/// (C-contiguous; the wrapper converts). Returns the keys of `ffpe-validate analyze --json`.
#[pyfunction]
#[pyo3(signature = (runs, include=Vec::new(), keep_buffers=false))]
pub fn analyze<'py>(
    py: Python<'py>,
    runs: Vec<Bound<'py, PyAny>>,
    include: Vec<String>,
    keep_buffers: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let mut items = Vec::with_capacity(runs.len());
    for (i, run) in runs.iter().enumerate() {
        if let Ok(dir) = run.extract::<PathBuf>() {
            items.push(Item::Dir(dir));
            continue;
        }
        let (steps, weights) = run.extract().map_err(|_| {
            value_error(format!(
                "run {i}: expected a directory or (steps uint64 [n], weights float32 [n, p])"
            ))
        })?;
        items.push(Item::Memory(steps, weights));
    }
    let mut inputs = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        inputs.push(match item {
            Item::Dir(d) => RunInput::Dir(d),
            Item::Memory(s, w) => {
                let contiguous = |_| value_error(format!("run {i}: arrays must be C-contiguous"));
                RunInput::Memory(MemoryRun {
                    steps: s.as_slice().map_err(contiguous)?,
                    weights: w.as_slice().map_err(contiguous)?,
                    n_params: w.shape()[1],
                })
            }
        });
    }
    let cfg = ExternalConfig {
        include,
        keep_buffers,
        ..ExternalConfig::default()
    };
    let r = py
        .detach(|| analyse(&inputs, &cfg))
        .map_err(validation_error)?;
    to_py(py, &r)
}
