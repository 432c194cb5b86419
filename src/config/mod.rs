//! TOML problem files: the input of the `ffpe` command.
//!
//! ```toml
//! [equation]
//! alpha = 0.5            # Caputo order, 0 < alpha <= 1
//! gamma = 1.0            # friction > 0
//! diffusion = 1.0        # number or list per axis (or [equation.fractal] below)
//! # [equation.fractal]
//! # lambda = 2.0; spectral_dimension = 3.0; xi = 0.1   -> D = xi^(2 - 2 lambda / d_s)
//!
//! [potential]
//! kind = "quadratic"     # flat | quadratic | double_well | power | normal_crossing | product_square | tabulated
//! stiffness = 1.0        # quadratic: number or list; L = sum k_i (w_i - c_i)^2 / 2
//! center = 0.0           # quadratic, double_well
//! # double_well: height, width, center      L = sum h ((w_i - c_i)^2 / a^2 - 1)^2
//! # power: coefficient, k                   L = c sum |w_i|^(2k)
//! # normal_crossing: k (list)               L = prod |w_i|^(2 k_i)
//! # tabulated: values (flat list, axis 0 fastest)
//!
//! [domain]
//! lower = -6.0           # number or list; the dimension is the longest list
//! upper = 6.0
//! cells = 192            # number or list, >= 3 per axis
//! boundary = "no-flux"   # no-flux | absorbing | periodic
//!
//! [initial]
//! kind = "gaussian"      # gaussian | point | boltzmann | tabulated
//! mean = 2.0
//! std = 0.5
//!
//! [time]
//! t_end = 1.0
//! steps = 1000
//! mesh = "graded-blocks" # graded-blocks (default: graded order, few factorisations) | graded (one factorisation per step) | uniform
//! # grading = 3.0        # optional r of t_j = T (j/N)^r (default (2 - alpha) / alpha for l1, 2 / alpha for l2-1sigma; 1 <= r <= 8)
//! scheme = "l1"          # l1 (order 2 - alpha) | l2-1sigma (Alikhanov, order 2; history soe or direct)
//! history = "soe"        # direct | soe | fft
//! tolerance = 1e-12      # SOE tolerance
//! # linear_solver = "auto" # auto (Cholesky of the symmetrised operator where possible) | lu | cholesky
//!
//! [output]
//! times = [0.25, 0.5, 1.0]
//! snapshots = false
//!
//! [grid]
//! kind = "full"          # full | sparse (sparse: level, min_level = 2, extrapolate, threads, linear_solver; crate::sparse_grid)
//! extrapolate = false    # full: Richardson in space, (4 u_h - u_2h) / 3 with half the cells per axis
//! ```
//!
//! ## Richardson extrapolation in space (`[grid] kind = "full"`, `extrapolate = true`)
//!
//! The problem is also solved with half the cells per axis on the same time mesh, and
//! the observables are combined as `(4 o_h - o_2h) / 3`: the `h^2` term of the
//! finite-volume error cancels, so smooth problems become fourth order in space
//! (`tests/extrapolation.rs`; BENCHMARKS.md, "Accuracy per cell"), at the cost of
//! `1 + 2^-d` solves. Every `domain.cells` entry must be even and `>= 6`, and the
//! potential and initial density must not be tabulated (errors name the key). Density
//! snapshots are the combined cell averages `(4 R u_h - u_2h) / 3` on the coarse grid
//! (`R` averages the `2^d` fine cells of a coarse cell: mass is kept to rounding);
//! negative combined values are counted and reported, never clipped. The time error is
//! not reduced. `ffpe solve` prints a line with the Richardson correction (an estimate
//! of the plain solve's spatial error); `--json` has it under `"extrapolation"`. Rust:
//! [`SolveOptions::extrapolate`](crate::solve::SolveOptions::extrapolate).
//!
//! Every error names the key and the allowed range. Unknown keys are errors (typos do
//! not pass silently).
//!
//! ## Extension hook for sparse grids
//!
//! `[grid] kind = "sparse"` is parsed into [`GridSpec::Sparse`] (`level >= 1`,
//! `1 <= min_level <= level`, extra keys of the section are kept in
//! [`GridSpec::Sparse::extra`] for the sparse-grid module to read). [`run_file`]
//! dispatches on [`ProblemFile::grid`]; the sparse branch calls [`solve_sparse`], the one
//! function the sparse-grid module replaces.

use crate::error::{FfpeError, Result};
use crate::observables::Observables;
use crate::problem::{Boundary, Diffusion, Initial, Potential, Problem};
use crate::solve::{LinearBackend, MeshKind, SolveOptions, SolveStats, StopReason};
use ffpe_solvers::history::HistoryKind;
use serde::Serialize;
use toml::{Table, Value};

/// Grid specification of a problem file.
#[derive(Clone, Debug, PartialEq)]
pub enum GridSpec {
    /// Full tensor grid with the `domain.cells`.
    Full,
    /// Sparse grid (combination technique).
    Sparse {
        /// Level `n` of the combination (`>= 1`).
        level: usize,
        /// Minimal level per axis (`1 <= min_level <= level`).
        min_level: usize,
        /// Other keys of `[grid]`, for the sparse-grid module.
        extra: Table,
    },
}

/// A parsed problem file.
#[derive(Clone, Debug)]
pub struct ProblemFile {
    /// The problem.
    pub problem: Problem,
    /// Time-stepping options (with the output times of `[output]`).
    pub options: SolveOptions,
    /// Full or sparse grid.
    pub grid: GridSpec,
    /// The parsed TOML (for extensions).
    pub raw: Table,
}

/// The result of running a problem file (full or sparse grid).
#[derive(Clone, Debug, Serialize)]
pub struct FileSolution {
    /// Observables per output time.
    pub observables: Vec<Observables>,
    /// Statistics.
    pub stats: SolveStats,
    /// Why the run stopped.
    pub stop_reason: StopReason,
    /// Density snapshots with their grid, per output time (may be empty).
    pub snapshots: Vec<Snapshot>,
    /// Sparse-grid summary (components, unknowns, equivalent full grid), for
    /// `[grid] kind = "sparse"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sparse: Option<crate::sparse_grid::SparseReport>,
    /// Richardson extrapolation in space of a full grid (`[grid] kind = "full"`,
    /// `extrapolate = true`): grids, correction, negativity of the combined density.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extrapolation: Option<crate::solve::SpaceExtrapolation>,
}

/// One density snapshot on a tensor grid.
#[derive(Clone, Debug, Serialize)]
pub struct Snapshot {
    /// Time.
    pub time: f64,
    /// Grid of the values.
    pub grid: crate::grid::TensorGrid,
    /// Cell values (axis 0 fastest).
    pub density: Vec<f64>,
}

/// Runs a parsed problem file on its grid kind.
pub fn run_file(file: &ProblemFile) -> Result<FileSolution> {
    run_file_with_observer(file, &mut crate::solve::NoObserver)
}

/// [`run_file`] with an observer of the full-grid time loop (called after every step, see
/// [`crate::solve::solve_with_observer`]); sparse grids solve many component grids at once
/// and do not call it.
pub fn run_file_with_observer(
    file: &ProblemFile,
    observer: &mut dyn crate::solve::Observer,
) -> Result<FileSolution> {
    match &file.grid {
        GridSpec::Full => {
            let s = crate::solve::solve_with_observer(&file.problem, &file.options, observer)?;
            let snapshots = s
                .snapshots
                .iter()
                .zip(&s.times)
                .map(|(d, &t)| Snapshot {
                    time: t,
                    grid: s.grid.clone(),
                    density: d.clone(),
                })
                .collect();
            Ok(FileSolution {
                observables: s.observables,
                stats: s.stats,
                stop_reason: s.stop_reason,
                snapshots,
                sparse: None,
                extrapolation: s.extrapolation,
            })
        }
        GridSpec::Sparse { .. } => solve_sparse(file),
    }
}

/// Sparse-grid branch of [`run_file`]: [`crate::sparse_grid::run_sparse_file`].
pub fn solve_sparse(file: &ProblemFile) -> Result<FileSolution> {
    match &file.grid {
        GridSpec::Sparse {
            level,
            min_level,
            extra,
        } => crate::sparse_grid::run_sparse_file(file, *level, *min_level, extra),
        GridSpec::Full => Err(FfpeError::invalid("grid.kind", "expected \"sparse\"")),
    }
}

/// Reads and parses a problem file.
pub fn read_file(path: &std::path::Path) -> Result<ProblemFile> {
    let text = std::fs::read_to_string(path).map_err(|e| FfpeError::file(path, e))?;
    parse_str(&text)
}

const SECTIONS: &[&str] = &[
    "equation",
    "potential",
    "domain",
    "initial",
    "time",
    "output",
    "grid",
];

fn section<'a>(root: &'a Table, name: &str) -> Result<Option<&'a Table>> {
    match root.get(name) {
        None => Ok(None),
        Some(Value::Table(t)) => Ok(Some(t)),
        Some(_) => Err(FfpeError::WrongType {
            key: name.into(),
            expected: "a table [section]".into(),
        }),
    }
}

fn check_keys(t: &Table, sec: &str, allowed: &[&str]) -> Result<()> {
    for k in t.keys() {
        if !allowed.contains(&k.as_str()) {
            return Err(FfpeError::UnknownKind {
                key: format!("{sec}.{k}"),
                value: k.clone(),
                allowed: format!("keys of [{sec}]: {}", allowed.join(", ")),
            });
        }
    }
    Ok(())
}

fn as_f64(key: &str, v: &Value) -> Result<f64> {
    match v {
        Value::Float(x) => Ok(*x),
        Value::Integer(i) => Ok(*i as f64),
        _ => Err(FfpeError::WrongType {
            key: key.into(),
            expected: "a number".into(),
        }),
    }
}

fn get_f64(t: &Table, sec: &str, k: &str) -> Result<Option<f64>> {
    t.get(k)
        .map(|v| as_f64(&format!("{sec}.{k}"), v))
        .transpose()
}

fn req_f64(t: &Table, sec: &str, k: &str, hint: &str) -> Result<f64> {
    get_f64(t, sec, k)?.ok_or_else(|| FfpeError::MissingKey {
        key: format!("{sec}.{k}"),
        hint: hint.into(),
    })
}

fn get_list(t: &Table, sec: &str, k: &str) -> Result<Option<Vec<f64>>> {
    let key = format!("{sec}.{k}");
    match t.get(k) {
        None => Ok(None),
        Some(Value::Array(a)) => Ok(Some(
            a.iter()
                .enumerate()
                .map(|(i, v)| as_f64(&format!("{key}[{i}]"), v))
                .collect::<Result<_>>()?,
        )),
        Some(v) => Ok(Some(vec![as_f64(&key, v)?])),
    }
}

fn get_usize_list(t: &Table, sec: &str, k: &str) -> Result<Option<Vec<usize>>> {
    let key = format!("{sec}.{k}");
    let conv = |key: &str, v: &Value| match v {
        Value::Integer(i) if *i >= 0 => Ok(*i as usize),
        Value::Integer(i) => Err(FfpeError::out_of_range(key, i, "a non-negative integer")),
        _ => Err(FfpeError::WrongType {
            key: key.into(),
            expected: "an integer".into(),
        }),
    };
    match t.get(k) {
        None => Ok(None),
        Some(Value::Array(a)) => Ok(Some(
            a.iter()
                .enumerate()
                .map(|(i, v)| conv(&format!("{key}[{i}]"), v))
                .collect::<Result<_>>()?,
        )),
        Some(v) => Ok(Some(vec![conv(&key, v)?])),
    }
}

fn get_usize(t: &Table, sec: &str, k: &str) -> Result<Option<usize>> {
    match get_usize_list(t, sec, k)? {
        None => Ok(None),
        Some(v) if v.len() == 1 => Ok(Some(v[0])),
        Some(_) => Err(FfpeError::WrongType {
            key: format!("{sec}.{k}"),
            expected: "an integer".into(),
        }),
    }
}

fn get_str<'a>(t: &'a Table, sec: &str, k: &str) -> Result<Option<&'a str>> {
    match t.get(k) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(FfpeError::WrongType {
            key: format!("{sec}.{k}"),
            expected: "a string".into(),
        }),
    }
}

fn get_bool(t: &Table, sec: &str, k: &str) -> Result<Option<bool>> {
    match t.get(k) {
        None => Ok(None),
        Some(Value::Boolean(b)) => Ok(Some(*b)),
        Some(_) => Err(FfpeError::WrongType {
            key: format!("{sec}.{k}"),
            expected: "true or false".into(),
        }),
    }
}

fn broadcast<T: Clone>(key: &str, v: Vec<T>, d: usize) -> Result<Vec<T>> {
    if v.len() == d {
        Ok(v)
    } else if v.len() == 1 {
        Ok(vec![v[0].clone(); d])
    } else {
        Err(FfpeError::DimensionMismatch {
            key: key.into(),
            found: v.len(),
            expected: d,
        })
    }
}

/// Parses the text of a problem file.
///
/// ```
/// let f = ffpe::config::parse_str(r#"
/// [equation]
/// alpha = 0.5
/// [potential]
/// kind = "quadratic"
/// stiffness = [1.0, 4.0]
/// [domain]
/// lower = -5.0
/// upper = 5.0
/// cells = [40, 40]
/// [time]
/// t_end = 1.0
/// steps = 50
/// "#).unwrap();
/// assert_eq!(f.problem.dim(), 2);
/// let e = ffpe::config::parse_str("[equation]\nalpha = 2.0\n[domain]\nlower=0\nupper=1\ncells=8").unwrap_err();
/// assert!(e.to_string().contains("equation.alpha"));
/// ```
pub fn parse_str(text: &str) -> Result<ProblemFile> {
    let root: Table = text
        .parse::<Table>()
        .map_err(|e| FfpeError::Toml(e.to_string()))?;
    for k in root.keys() {
        if !SECTIONS.contains(&k.as_str()) {
            return Err(FfpeError::UnknownKind {
                key: k.clone(),
                value: k.clone(),
                allowed: format!("sections {}", SECTIONS.join(", ")),
            });
        }
    }
    let empty = Table::new();
    // ---- domain (fixes the dimension)
    let dom = section(&root, "domain")?.ok_or_else(|| FfpeError::MissingKey {
        key: "domain".into(),
        hint: "a [domain] section with lower, upper, cells".into(),
    })?;
    check_keys(
        dom,
        "domain",
        &["lower", "upper", "cells", "boundary", "dimension"],
    )?;
    let lower = get_list(dom, "domain", "lower")?.ok_or_else(|| FfpeError::MissingKey {
        key: "domain.lower".into(),
        hint: "lower corner, number or list per axis".into(),
    })?;
    let upper = get_list(dom, "domain", "upper")?.ok_or_else(|| FfpeError::MissingKey {
        key: "domain.upper".into(),
        hint: "upper corner, number or list per axis".into(),
    })?;
    let cells = get_usize_list(dom, "domain", "cells")?.ok_or_else(|| FfpeError::MissingKey {
        key: "domain.cells".into(),
        hint: "cells per axis (>= 3), number or list".into(),
    })?;
    let d = match get_usize(dom, "domain", "dimension")? {
        Some(d) if (1..=8).contains(&d) => d,
        Some(d) => {
            return Err(FfpeError::out_of_range(
                "domain.dimension",
                d,
                "1 <= dimension <= 8",
            ));
        }
        None => lower.len().max(upper.len()).max(cells.len()),
    };
    if d == 0 {
        return Err(FfpeError::out_of_range(
            "domain.lower",
            "[]",
            "at least one axis",
        ));
    }
    let lower = broadcast("domain.lower", lower, d)?;
    let upper = broadcast("domain.upper", upper, d)?;
    let cells = broadcast("domain.cells", cells, d)?;
    let boundary = match get_str(dom, "domain", "boundary")? {
        Some(s) => Boundary::parse("domain.boundary", s)?,
        None => Boundary::NoFlux,
    };
    let mut b = Problem::builder()
        .domain(&lower, &upper, &cells)
        .boundary(boundary);

    // ---- equation
    let eq = section(&root, "equation")?.unwrap_or(&empty);
    check_keys(eq, "equation", &["alpha", "gamma", "diffusion", "fractal"])?;
    if let Some(a) = get_f64(eq, "equation", "alpha")? {
        b = b.alpha(a);
    } else {
        return Err(FfpeError::MissingKey {
            key: "equation.alpha".into(),
            hint: "the Caputo order, 0 < alpha <= 1".into(),
        });
    }
    if let Some(g) = get_f64(eq, "equation", "gamma")? {
        b = b.gamma(g);
    }
    let fractal = section(eq, "fractal").map_err(|_| FfpeError::WrongType {
        key: "equation.fractal".into(),
        expected: "a table [equation.fractal]".into(),
    })?;
    match (get_list(eq, "equation", "diffusion")?, fractal) {
        (Some(_), Some(_)) => {
            return Err(FfpeError::invalid(
                "equation.diffusion",
                "give either `diffusion` or [equation.fractal], not both",
            ));
        }
        (Some(v), None) => {
            b = b.diffusion(if v.len() == 1 {
                Diffusion::Scalar(v[0])
            } else {
                Diffusion::PerAxis(v)
            })
        }
        (None, Some(f)) => {
            check_keys(
                f,
                "equation.fractal",
                &["lambda", "spectral_dimension", "xi"],
            )?;
            b = b.diffusion(Diffusion::Fractal {
                lambda: req_f64(f, "equation.fractal", "lambda", "the LLC lambda > 0")?,
                spectral_dimension: req_f64(
                    f,
                    "equation.fractal",
                    "spectral_dimension",
                    "the spectral dimension d_s > 0",
                )?,
                xi: req_f64(f, "equation.fractal", "xi", "the scale xi > 0")?,
            })
        }
        (None, None) => {}
    }

    // ---- potential
    let pot = section(&root, "potential")?.unwrap_or(&empty);
    let kind = get_str(pot, "potential", "kind")?.unwrap_or("flat");
    let potential = match kind {
        "flat" => {
            check_keys(pot, "potential", &["kind"])?;
            Potential::Flat
        }
        "quadratic" => {
            check_keys(pot, "potential", &["kind", "stiffness", "center"])?;
            Potential::Quadratic {
                stiffness: get_list(pot, "potential", "stiffness")?.ok_or_else(|| {
                    FfpeError::MissingKey {
                        key: "potential.stiffness".into(),
                        hint: "stiffness k_i >= 0, number or list".into(),
                    }
                })?,
                center: get_list(pot, "potential", "center")?.unwrap_or_default(),
            }
        }
        "double_well" => {
            check_keys(pot, "potential", &["kind", "height", "width", "center"])?;
            Potential::DoubleWell {
                height: req_f64(pot, "potential", "height", "barrier height h > 0")?,
                width: req_f64(pot, "potential", "width", "half well distance a > 0")?,
                center: get_list(pot, "potential", "center")?.unwrap_or_default(),
            }
        }
        "power" => {
            check_keys(pot, "potential", &["kind", "coefficient", "k"])?;
            Potential::Power {
                coefficient: get_f64(pot, "potential", "coefficient")?.unwrap_or(1.0),
                k: req_f64(
                    pot,
                    "potential",
                    "k",
                    "exponent parameter k > 0 (L = c |w|^(2k))",
                )?,
            }
        }
        "normal_crossing" => {
            check_keys(pot, "potential", &["kind", "k"])?;
            Potential::NormalCrossing {
                k: get_list(pot, "potential", "k")?.ok_or_else(|| FfpeError::MissingKey {
                    key: "potential.k".into(),
                    hint: "exponents k_i >= 0 per axis".into(),
                })?,
            }
        }
        "product_square" => {
            check_keys(pot, "potential", &["kind"])?;
            Potential::product_square()
        }
        "tabulated" => {
            check_keys(pot, "potential", &["kind", "values"])?;
            Potential::Tabulated(get_list(pot, "potential", "values")?.ok_or_else(|| {
                FfpeError::MissingKey {
                    key: "potential.values".into(),
                    hint: "one value per cell, axis 0 fastest".into(),
                }
            })?)
        }
        other => {
            return Err(FfpeError::UnknownKind {
                key: "potential.kind".into(),
                value: other.into(),
                allowed: "\"flat\", \"quadratic\", \"double_well\", \"power\", \"normal_crossing\", \"product_square\", \"tabulated\"".into(),
            });
        }
    };
    b = b.potential(potential);

    // ---- initial
    if let Some(ini) = section(&root, "initial")? {
        let kind = get_str(ini, "initial", "kind")?.unwrap_or("gaussian");
        let initial = match kind {
            "gaussian" => {
                check_keys(ini, "initial", &["kind", "mean", "std"])?;
                Initial::Gaussian {
                    mean: get_list(ini, "initial", "mean")?.ok_or_else(|| {
                        FfpeError::MissingKey {
                            key: "initial.mean".into(),
                            hint: "mean per axis (number or list) inside the domain".into(),
                        }
                    })?,
                    std: get_list(ini, "initial", "std")?.ok_or_else(|| FfpeError::MissingKey {
                        key: "initial.std".into(),
                        hint: "standard deviation per axis > 0".into(),
                    })?,
                }
            }
            "point" => {
                check_keys(ini, "initial", &["kind", "mean"])?;
                Initial::Point {
                    at: get_list(ini, "initial", "mean")?.ok_or_else(|| FfpeError::MissingKey {
                        key: "initial.mean".into(),
                        hint: "the start point inside the domain".into(),
                    })?,
                }
            }
            "boltzmann" => {
                check_keys(ini, "initial", &["kind"])?;
                Initial::Boltzmann
            }
            "tabulated" => {
                check_keys(ini, "initial", &["kind", "values"])?;
                Initial::Tabulated(get_list(ini, "initial", "values")?.ok_or_else(|| {
                    FfpeError::MissingKey {
                        key: "initial.values".into(),
                        hint: "one value >= 0 per cell, axis 0 fastest".into(),
                    }
                })?)
            }
            other => {
                return Err(FfpeError::UnknownKind {
                    key: "initial.kind".into(),
                    value: other.into(),
                    allowed: "\"gaussian\", \"point\", \"boltzmann\", \"tabulated\"".into(),
                });
            }
        };
        b = b.initial(initial);
    }
    let problem = b.build()?;

    // ---- time
    let tm = section(&root, "time")?.ok_or_else(|| FfpeError::MissingKey {
        key: "time".into(),
        hint: "a [time] section with t_end and steps".into(),
    })?;
    check_keys(
        tm,
        "time",
        &[
            "t_end",
            "steps",
            "mesh",
            "scheme",
            "grading",
            "history",
            "tolerance",
            "max_steps",
            "linear_solver",
        ],
    )?;
    let t_end = req_f64(tm, "time", "t_end", "final time > 0")?;
    let steps = get_usize(tm, "time", "steps")?.ok_or_else(|| FfpeError::MissingKey {
        key: "time.steps".into(),
        hint: "number of time steps >= 1".into(),
    })?;
    let grading = get_f64(tm, "time", "grading")?;
    let mesh = match get_str(tm, "time", "mesh")?.unwrap_or("graded-blocks") {
        "graded" => MeshKind::Graded { r: grading },
        "graded-blocks" | "graded_blocks" => MeshKind::GradedBlocks { r: grading },
        "uniform" => {
            if grading.is_some() {
                return Err(FfpeError::invalid(
                    "time.grading",
                    "only with mesh = \"graded\" or \"graded-blocks\"",
                ));
            }
            MeshKind::Uniform
        }
        other => {
            return Err(FfpeError::UnknownKind {
                key: "time.mesh".into(),
                value: other.into(),
                allowed: "\"graded\", \"graded-blocks\", \"uniform\"".into(),
            });
        }
    };
    let scheme = match get_str(tm, "time", "scheme")? {
        None => crate::solve::Scheme::L1,
        Some(name) => {
            crate::solve::Scheme::from_name(name).ok_or_else(|| FfpeError::UnknownKind {
                key: "time.scheme".into(),
                value: name.into(),
                allowed: "\"l1\", \"l2-1sigma\"".into(),
            })?
        }
    };
    let tolerance = get_f64(tm, "time", "tolerance")?;
    let history = match get_str(tm, "time", "history")?.unwrap_or("soe") {
        "direct" => HistoryKind::Direct,
        "soe" => {
            let tol = crate::error::check_range(
                "time.tolerance",
                tolerance.unwrap_or(1e-12),
                Some((1e-15, false)),
                Some((1e-2, false)),
                "1e-15 <= tolerance <= 1e-2",
            )?;
            HistoryKind::Soe { tolerance: tol }
        }
        "fft" => HistoryKind::Fft,
        other => {
            return Err(FfpeError::UnknownKind {
                key: "time.history".into(),
                value: other.into(),
                allowed: "\"direct\", \"soe\", \"fft\"".into(),
            });
        }
    };
    let max_steps = get_usize(tm, "time", "max_steps")?;
    let backend = match get_str(tm, "time", "linear_solver")?.unwrap_or("auto") {
        "auto" => LinearBackend::Auto,
        "lu" => LinearBackend::Lu,
        "cholesky" => LinearBackend::Cholesky,
        other => {
            return Err(FfpeError::UnknownKind {
                key: "time.linear_solver".into(),
                value: other.into(),
                allowed: "\"auto\", \"lu\", \"cholesky\"".into(),
            });
        }
    };

    // ---- output
    let out = section(&root, "output")?.unwrap_or(&empty);
    check_keys(out, "output", &["times", "snapshots"])?;
    let output_times = get_list(out, "output", "times")?.unwrap_or_else(|| vec![t_end]);
    let snapshots = get_bool(out, "output", "snapshots")?.unwrap_or(false);
    let mut options = SolveOptions {
        t_end,
        steps,
        mesh,
        scheme,
        history,
        output_times,
        snapshots,
        max_steps,
        backend,
        extrapolate: false,
    };
    // Validate the mesh now so errors come at parse time.
    crate::solve::build_scheme_mesh(
        scheme,
        problem.alpha(),
        t_end,
        steps,
        mesh,
        &options.output_times,
        history,
    )?;

    // ---- grid (hook for sparse grids)
    let grid = match section(&root, "grid")? {
        None => GridSpec::Full,
        Some(g) => match get_str(g, "grid", "kind")?.unwrap_or("full") {
            "full" => {
                for k in g.keys() {
                    if !["kind", "extrapolate"].contains(&k.as_str()) {
                        let reason = if ["level", "min_level", "threads", "linear_solver"]
                            .contains(&k.as_str())
                        {
                            "a key of [grid] kind = \"sparse\" only; kind = \"full\" takes kind, extrapolate"
                        } else {
                            "unknown key; kind = \"full\" takes kind, extrapolate"
                        };
                        return Err(FfpeError::invalid(&format!("grid.{k}"), reason));
                    }
                }
                if let Some(x) = get_bool(g, "grid", "extrapolate")? {
                    options.extrapolate = x;
                }
                if options.extrapolate {
                    // odd or too few cells, tabulated data: errors at parse time
                    let coarse = crate::solve::extrapolation_cells(&problem)?;
                    problem.with_cells(&coarse)?;
                }
                GridSpec::Full
            }
            "sparse" => {
                let level =
                    get_usize(g, "grid", "level")?.ok_or_else(|| FfpeError::MissingKey {
                        key: "grid.level".into(),
                        hint: "sparse-grid level n >= 1".into(),
                    })?;
                if !(1..=30).contains(&level) {
                    return Err(FfpeError::out_of_range(
                        "grid.level",
                        level,
                        "1 <= level <= 30",
                    ));
                }
                // default 2: the full-grid solver needs at least 3 cells per axis
                let min_level = get_usize(g, "grid", "min_level")?.unwrap_or(2);
                if !(1..=level).contains(&min_level) {
                    return Err(FfpeError::out_of_range(
                        "grid.min_level",
                        min_level,
                        &format!("1 <= min_level <= level = {level}"),
                    ));
                }
                if scheme != crate::solve::Scheme::L1 {
                    return Err(FfpeError::invalid(
                        "time.scheme",
                        "the sparse-grid solver ([grid] kind = \"sparse\") supports scheme = \"l1\" only",
                    ));
                }
                let mut extra = g.clone();
                for k in ["kind", "level", "min_level"] {
                    extra.remove(k);
                }
                GridSpec::Sparse {
                    level,
                    min_level,
                    extra,
                }
            }
            other => {
                return Err(FfpeError::UnknownKind {
                    key: "grid.kind".into(),
                    value: other.into(),
                    allowed: "\"full\", \"sparse\"".into(),
                });
            }
        },
    };
    Ok(ProblemFile {
        problem,
        options,
        grid,
        raw: root,
    })
}
