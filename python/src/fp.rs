//! `ffpe.solve`, `ffpe.steady`, `ffpe.exponent`: problem files (a TOML path or a dict with
//! the same keys) run through the `ffpe` crate, as the `ffpe` command does.

use crate::convert::{Progress, dict_to_table, ffpe_error, to_py, value_error};
use ffpe::config::{FileSolution, GridSpec, ProblemFile};
use ffpe::grid::TensorGrid;
use ffpe::solve::Observer;
use numpy::PyArray1;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use std::ops::ControlFlow;
use std::path::PathBuf;

/// The TOML text of a problem dict (sections as keys, `None` values dropped).
fn dict_to_toml(d: &Bound<'_, PyDict>) -> PyResult<String> {
    let t = dict_to_table("", d)?;
    toml::to_string(&t).map_err(value_error)
}

/// A problem given as a dict (the keys of a problem file) or a path to a TOML file.
fn problem_file(problem: &Bound<'_, PyAny>) -> PyResult<ProblemFile> {
    if let Ok(d) = problem.cast::<PyDict>() {
        let text = dict_to_toml(d)?;
        return ffpe::config::parse_str(&text).map_err(ffpe_error);
    }
    let path: PathBuf = problem.extract().map_err(|_| {
        value_error(
            "`problem`: expected a dict with the keys of a problem file, or a path to a TOML file",
        )
    })?;
    // read_file names the file in its error (FfpeError::File), which ffpe_error makes an OSError
    ffpe::config::read_file(&path).map_err(ffpe_error)
}

/// The TOML text that `ffpe.solve(problem_dict)` parses (for inspection or for the CLI).
#[pyfunction]
pub fn parse_problem(problem: &Bound<'_, PyDict>) -> PyResult<String> {
    let text = dict_to_toml(problem)?;
    ffpe::config::parse_str(&text).map_err(ffpe_error)?;
    Ok(text)
}

/// Calls the progress hook with `(t, t_end)` from the time loop.
struct ProgressObserver<'a>(&'a mut Progress);

impl Observer for ProgressObserver<'_> {
    fn observe(&mut self, _n: usize, t: f64, _density: &[f64]) -> ControlFlow<()> {
        if self.0.tick(t) {
            ControlFlow::Continue(())
        } else {
            ControlFlow::Break(())
        }
    }
}

/// The result of [`ffpe::config::run_file`], with a progress hook on full grids (sparse
/// grids report once, at the end).
fn run(file: &ProblemFile, progress: &mut Progress) -> ffpe::error::Result<FileSolution> {
    let r = ffpe::config::run_file_with_observer(file, &mut ProgressObserver(progress));
    if matches!(file.grid, GridSpec::Sparse { .. }) {
        progress.tick(file.options.t_end);
    }
    r
}

fn grid_dict<'py>(py: Python<'py>, g: &TensorGrid) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("lower", g.lower().to_vec())?;
    d.set_item("upper", g.upper().to_vec())?;
    d.set_item("cells", g.cells().to_vec())?;
    let centres = (0..g.dim())
        .map(|a| PyArray1::from_vec(py, g.centres(a)))
        .collect::<Vec<_>>();
    d.set_item("centres", PyList::new(py, centres)?)?;
    Ok(d)
}

fn flat<'py>(py: Python<'py>, v: Vec<f64>) -> Bound<'py, PyArray1<f64>> {
    PyArray1::from_vec(py, v)
}

/// Solves a problem; returns flat arrays (the Python wrapper reshapes them).
#[pyfunction]
#[pyo3(signature = (problem, snapshots=None, progress=None))]
pub fn solve<'py>(
    py: Python<'py>,
    problem: &Bound<'py, PyAny>,
    snapshots: Option<bool>,
    progress: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let mut file = problem_file(problem)?;
    if let Some(s) = snapshots {
        file.options.snapshots = s;
    }
    let mut prog = Progress::new(progress, file.options.t_end);
    let r = py.detach(|| run(&file, &mut prog));
    if let Some(e) = prog.error {
        return Err(e);
    }
    let sol = r.map_err(ffpe_error)?;
    let o = &sol.observables;
    let d = PyDict::new(py);
    let dim = file.problem.dim();
    let opt = |f: fn(&ffpe::observables::Observables) -> Option<f64>| {
        o.iter()
            .map(|x| f(x).unwrap_or(f64::NAN))
            .collect::<Vec<_>>()
    };
    d.set_item("dim", dim)?;
    d.set_item("times", flat(py, o.iter().map(|x| x.time).collect()))?;
    d.set_item("mass", flat(py, o.iter().map(|x| x.mass).collect()))?;
    d.set_item(
        "mean",
        flat(py, o.iter().flat_map(|x| x.mean.clone()).collect()),
    )?;
    d.set_item(
        "second_moment",
        flat(py, o.iter().flat_map(|x| x.second_moment.clone()).collect()),
    )?;
    d.set_item(
        "covariance",
        flat(py, o.iter().flat_map(|x| x.covariance.clone()).collect()),
    )?;
    d.set_item("msd", flat(py, o.iter().map(|x| x.msd).collect()))?;
    d.set_item("r", flat(py, o.iter().map(|x| x.r).collect()))?;
    d.set_item(
        "min_density",
        flat(py, o.iter().map(|x| x.min_density).collect()),
    )?;
    d.set_item("free_energy", flat(py, opt(|x| x.free_energy)))?;
    d.set_item("kl_to_steady", flat(py, opt(|x| x.kl_to_steady)))?;
    d.set_item("l1_to_steady", flat(py, opt(|x| x.l1_to_steady)))?;
    d.set_item(
        "snapshot_times",
        flat(py, sol.snapshots.iter().map(|s| s.time).collect()),
    )?;
    d.set_item(
        "densities",
        flat(
            py,
            sol.snapshots
                .iter()
                .flat_map(|s| s.density.iter().copied())
                .collect(),
        ),
    )?;
    let grid = sol
        .snapshots
        .first()
        .map_or_else(|| file.problem.grid().clone(), |s| s.grid.clone());
    d.set_item("grid", grid_dict(py, &grid)?)?;
    d.set_item("stats", to_py(py, &sol.stats)?)?;
    d.set_item("stop_reason", format!("{:?}", sol.stop_reason))?;
    match &sol.sparse {
        Some(s) => d.set_item("sparse", to_py(py, s)?)?,
        None => d.set_item("sparse", py.None())?,
    }
    Ok(d)
}

/// The steady state (null-space solve) and its distance to the Boltzmann closed form.
#[pyfunction]
pub fn steady<'py>(py: Python<'py>, problem: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyDict>> {
    let file = problem_file(problem)?;
    let s = py
        .detach(|| ffpe::predict::steady_state(&file.problem))
        .map_err(ffpe_error)?;
    let d = PyDict::new(py);
    d.set_item("dim", file.problem.dim())?;
    d.set_item("density", flat(py, s.density))?;
    match s.boltzmann {
        Some(b) => d.set_item("boltzmann", flat(py, b))?,
        None => d.set_item("boltzmann", py.None())?,
    }
    d.set_item("l1_vs_boltzmann", s.l1_vs_boltzmann)?;
    d.set_item("residual", s.residual)?;
    d.set_item("mean", s.observables.mean.clone())?;
    d.set_item("second_moment", s.observables.second_moment.clone())?;
    d.set_item("free_energy", s.observables.free_energy)?;
    d.set_item("grid", grid_dict(py, file.problem.grid())?)?;
    Ok(d)
}

/// The displacement exponent `s` of `R(t) ~ t^s` over `window = (t0, t1)` (as `ffpe exponent`).
#[pyfunction]
pub fn exponent<'py>(
    py: Python<'py>,
    problem: &Bound<'py, PyAny>,
    window: (f64, f64),
) -> PyResult<Bound<'py, PyDict>> {
    let file = problem_file(problem)?;
    let alpha = file.problem.alpha();
    let fit = py
        .detach(|| ffpe::predict::exponent_of_file(file, window, "window"))
        .map_err(ffpe_error)?;
    let d = PyDict::new(py);
    d.set_item("displacement_exponent", fit.slope)?;
    d.set_item("intercept", fit.intercept)?;
    d.set_item("r2", fit.r2)?;
    d.set_item("stderr", fit.stderr)?;
    d.set_item("ci95", fit.ci95)?;
    d.set_item("points", fit.n)?;
    d.set_item("caputo_alpha", alpha)?;
    Ok(d)
}
