//! `ffpe.relax`: fractional relaxation `D^alpha y = -c y`, `y(0) = y0`, by the implicit L1
//! scheme of [`LinearL1Stepper`] (exact solution `y0 E_alpha(-c t^alpha)`).

use crate::convert::{Progress, to_py, value_error};
use faer::sparse::{SparseColMat, Triplet};
use ffpe_solvers::caputo::TimeMesh;
use ffpe_solvers::fode::LinearL1Stepper;
use ffpe_solvers::history::HistoryKind;
use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::PyDict;

fn finite(name: &str, v: f64, allowed: &str) -> PyResult<f64> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(value_error(format!(
            "`{name}` = {v} is out of range: allowed {allowed}"
        )))
    }
}

/// Relaxation on a mesh: `mesh` is "graded" (`t_j = t (j/N)^r`, default `r = (2-a)/a`) or
/// "uniform" with `steps = N`, or `times` gives the mesh nodes (`0 = t_0 < ... < t_N`).
#[pyfunction]
#[pyo3(signature = (alpha, c, t, steps, mesh, grading=None, times=None, history="soe", tolerance=1e-12, y0=1.0, progress=None))]
#[allow(clippy::too_many_arguments)]
pub fn relax<'py>(
    py: Python<'py>,
    alpha: f64,
    c: f64,
    t: f64,
    steps: usize,
    mesh: &str,
    grading: Option<f64>,
    times: Option<PyReadonlyArray1<'py, f64>>,
    history: &str,
    tolerance: f64,
    y0: f64,
    progress: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let c = finite("c", c, "a finite number (the rate of D^a y = -c y)")?;
    let y0 = finite("y0", y0, "a finite number")?;
    let mesh = match (times, mesh) {
        (Some(ts), _) => {
            let ts = ts.as_slice().map_err(value_error)?.to_vec();
            if let Some(&last) = ts.last()
                && (last - t).abs() > 1e-12 * t.abs().max(1.0)
            {
                return Err(value_error(format!(
                    "`t` = {t} does not match the last mesh time {last}: allowed t = mesh[-1]"
                )));
            }
            TimeMesh::from_times(ts)
        }
        (None, "graded") => match grading {
            None => TimeMesh::graded_for_order(t, steps, alpha),
            Some(r) => TimeMesh::graded(t, steps, r),
        },
        (None, "uniform") => {
            if grading.is_some() {
                return Err(value_error(
                    "`grading` is only allowed with mesh = \"graded\"",
                ));
            }
            TimeMesh::uniform(t, steps)
        }
        (None, other) => {
            return Err(value_error(format!(
                "`mesh` = \"{other}\" is not recognised: allowed \"graded\", \"uniform\" or an array of times"
            )));
        }
    }
    .map_err(value_error)?;
    let history = match history {
        "direct" => HistoryKind::Direct,
        "soe" => HistoryKind::Soe { tolerance },
        "fft" => HistoryKind::Fft,
        other => {
            return Err(value_error(format!(
                "`history` = \"{other}\" is not recognised: allowed \"direct\", \"soe\", \"fft\""
            )));
        }
    };
    let a = SparseColMat::<usize, f64>::try_new_from_triplets(1, 1, &[Triplet::new(0, 0, -c)])
        .map_err(|e| value_error(format!("{e:?}")))?;
    let n = mesh.steps();
    let mesh_times = mesh.times().to_vec();
    let mut prog = Progress::new(progress, n as f64);
    let r = py.detach(|| {
        let mut st = LinearL1Stepper::new(a, alpha, mesh, history, &[y0])?;
        let mut y = Vec::with_capacity(n + 1);
        y.push(y0);
        while !st.is_finished() {
            let k = st.step(None)?;
            y.push(st.state()[0]);
            if !prog.tick(k as f64) {
                break;
            }
        }
        Ok::<_, ffpe_solvers::SolverError>((y, st.stats()))
    });
    if let Some(e) = prog.error {
        return Err(e);
    }
    let (y, stats) = r.map_err(value_error)?;
    let d = PyDict::new(py);
    d.set_item("t", PyArray1::from_vec(py, mesh_times))?;
    d.set_item("y", PyArray1::from_vec(py, y))?;
    d.set_item("stats", to_py(py, &stats)?)?;
    Ok(d)
}
