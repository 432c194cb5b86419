//! TOML problem files: the input of the `ffpe` command.
//!
//! Every key, by section (a `kind` picks the keys of a section; the first kind listed
//! is the default):
//!
//! ```toml
//! [equation]
//! alpha = 0.5            # Caputo order, 0 < alpha <= 1 (required)
//! gamma = 1.0            # friction > 0
//! diffusion = 1.0        # number or list per axis (or [equation.fractal] below)
//! # [equation.fractal]   # D = xi^(2 - 2 lambda / d_s)
//! # lambda = 2.0         # the LLC lambda > 0
//! # spectral_dimension = 3.0
//! # xi = 0.1
//!
//! [potential]
//! kind = "quadratic"     # flat | quadratic | double_well | power | normal_crossing | product_square | tabulated
//! stiffness = 1.0        # quadratic: number or list; L = sum k_i (w_i - c_i)^2 / 2
//! center = 0.0           # quadratic, double_well
//! # double_well: height, width, center      L = sum h ((w_i - c_i)^2 / a^2 - 1)^2
//! # power: coefficient, k                   L = c sum |w_i|^(2k)
//! # normal_crossing: k (list)               L = prod |w_i|^(2 k_i)
//! # product_square: no other key           L = (w_1 w_2)^2
//! # tabulated: values (flat list, axis 0 fastest)
//!
//! [domain]
//! lower = -6.0           # number or list; the dimension is the longest list
//! upper = 6.0
//! cells = 192            # number or list, >= 3 per axis
//! boundary = "no-flux"   # no-flux (or reflecting) | absorbing (or dirichlet) | periodic
//! # dimension = 1        # 1 <= dimension <= 8 (default: the longest list)
//!
//! [initial]
//! kind = "gaussian"      # gaussian | point | boltzmann | tabulated
//! mean = 2.0             # gaussian; point: the start point
//! std = 0.5              # gaussian, > 0
//! # boltzmann: no other key; tabulated: values (one >= 0 per cell, axis 0 fastest)
//!
//! [time]
//! t_end = 1.0            # 1e-10 <= t_end <= 1e10
//! steps = 1000           # 1 <= steps <= 1e8 (and within the resource budget, below)
//! mesh = "graded-blocks" # graded-blocks (default: graded order, few factorisations) | graded (one factorisation per step) | uniform
//! # grading = 3.0        # optional r of t_j = T (j/N)^r (default (2 - alpha) / alpha for l1, 2 / alpha for l2-1sigma; 1 <= r <= 8)
//! scheme = "l1"          # l1 (order 2 - alpha) | l2-1sigma (Alikhanov, order 2; history soe or direct)
//! history = "soe"        # direct | soe | fft
//! tolerance = 1e-12      # SOE tolerance, 1e-15 <= tolerance <= 1e-2
//! # max_steps = 100      # stop after this many steps, >= 1 (default: no limit)
//! # linear_solver = "auto" # auto (Cholesky of the symmetrised operator where possible) | lu | cholesky
//!
//! [output]
//! times = [0.25, 0.5, 1.0]
//! snapshots = false
//!
//! [grid]
//! kind = "full"          # full | sparse
//! extrapolate = false    # full: Richardson in space, (4 u_h - u_2h) / 3 with half the cells per axis
//! # sparse: level (1..=24), min_level (default 2), extrapolate, threads (1..=1024),
//! #         linear_solver (auto | direct | iterative); see `src/config/sparse.rs`
//! ```
//!
//! ## How a file is read
//!
//! The TOML text is parsed into a table; each section is deserialized by serde into its
//! own struct (`spec.rs`: `deny_unknown_fields`, one struct per section and per
//! `kind`, whose fields are the one list of keys); a validation pass (`validate.rs`)
//! turns them into a [`Problem`], [`SolveOptions`] and a [`GridSpec`]. Every error names
//! the key and the allowed range. Unknown keys are errors (typos do not pass silently);
//! a key of another `kind` says which kind takes it. A unit test checks that this
//! listing names every key of every section.
//!
//! ## Resource budget
//!
//! A file is read only up to [`MAX_FILE_BYTES`] (16 MiB). Before the time mesh or any
//! grid is allocated, the peak memory and the work of the solve are estimated from the
//! keys ([`budget::estimate`]: cells, steps and mesh, SOE exponentials, sparse
//! components, output times) and a problem above the [`Limits`] is an error naming the
//! keys and the estimate: by default half the available memory (4 GiB where
//! `/proc/meminfo` is missing) and 1e11 operations (a minute or two); `ffpe solve
//! --max-memory 8GiB --max-work 1e13` (or `--max-work none`) raises them.
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
//! ## Sparse grids
//!
//! `[grid] kind = "sparse"` is read into [`GridSpec::Sparse`] (`level >= 1`,
//! `1 <= min_level <= level`, and the [`SparseFileOptions`]). [`run_file`] dispatches on
//! [`ProblemFile::grid`]; the sparse branch is [`run_sparse_file`]. Data flows one way:
//! this module calls [`crate::sparse_grid`], never the reverse.

use crate::error::{FfpeError, Result};
use crate::observables::Observables;
use crate::problem::Problem;
use crate::solve::{SolveOptions, SolveStats, StopReason};
use crate::sparse_grid::ComponentLinearSolver;
use serde::Serialize;
use toml::Table;

pub mod budget;
mod sparse;
pub mod spec;
#[cfg(test)]
mod tests;
mod validate;

pub use budget::Limits;
pub use sparse::{run_sparse_file, run_sparse_file_on};

/// Options of `[grid] kind = "sparse"` besides `level` and `min_level`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SparseFileOptions {
    /// Richardson-extrapolated combination of levels `level` and `level - 1`.
    pub extrapolate: bool,
    /// Worker threads for the components (`None`: all cores).
    pub threads: Option<usize>,
    /// How each component solves its linear systems.
    pub linear_solver: ComponentLinearSolver,
}

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
        /// Extrapolation, threads and the components' linear solver.
        options: SparseFileOptions,
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

impl ProblemFile {
    /// The file with `[time] scheme` replaced by the scheme called `name` (`l1`,
    /// `l2-1sigma`), validated as the file's key would be; `key` names the setting in
    /// errors (`--scheme` on the command line).
    pub fn with_scheme(mut self, name: &str, key: &str) -> Result<Self> {
        let scheme =
            crate::solve::Scheme::from_name(name).ok_or_else(|| FfpeError::UnknownKind {
                key: key.into(),
                value: name.into(),
                allowed: "\"l1\", \"l2-1sigma\"".into(),
            })?;
        if scheme != crate::solve::Scheme::L1 && !matches!(self.grid, GridSpec::Full) {
            return Err(FfpeError::invalid(
                key,
                "the sparse-grid solver ([grid] kind = \"sparse\") supports l1 only",
            ));
        }
        self.options.scheme = scheme;
        // the mesh is rebuilt for the scheme (its default grading and history check)
        crate::solve::build_scheme_mesh(
            scheme,
            self.problem.alpha(),
            self.options.t_end,
            self.options.steps,
            self.options.mesh,
            &self.options.output_times,
            self.options.history,
        )?;
        Ok(self)
    }
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
        GridSpec::Sparse { .. } => run_sparse_file(file),
    }
}

/// Largest problem file read, bytes (16 MiB): a longer file (or `/dev/zero`) is refused
/// after reading one byte more than this.
pub const MAX_FILE_BYTES: u64 = 16 << 20;

/// Reads and parses a problem file with the default [`Limits`] (half the available
/// memory, [`budget::DEFAULT_MAX_WORK`] operations).
pub fn read_file(path: &std::path::Path) -> Result<ProblemFile> {
    read_file_with_limits(path, &Limits::default())
}

/// Reads a problem file (at most [`MAX_FILE_BYTES`]) and parses it; a problem whose
/// estimated memory or work exceeds `limits` is an error naming the keys.
pub fn read_file_with_limits(path: &std::path::Path, limits: &Limits) -> Result<ProblemFile> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| FfpeError::file(path, e))?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| FfpeError::file(path, e))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(FfpeError::file(
            path,
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "problem file larger than the limit of {} ({MAX_FILE_BYTES} bytes)",
                    budget::format_bytes(MAX_FILE_BYTES as f64)
                ),
            ),
        ));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        FfpeError::file(
            path,
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()),
            ),
        )
    })?;
    parse_str_with_limits(&text, limits)
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
    parse_str_with_limits(text, &Limits::default())
}

/// [`parse_str`] with the resource [`Limits`] of the solve (see [`budget`]).
pub fn parse_str_with_limits(text: &str, limits: &Limits) -> Result<ProblemFile> {
    let root: Table = text
        .parse::<Table>()
        .map_err(|e| FfpeError::Toml(e.to_string()))?;
    let spec = spec::FileSpec::from_table(&root)?;
    let (problem, options, grid) = validate::validate(spec, limits)?;
    Ok(ProblemFile {
        problem,
        options,
        grid,
        raw: root,
    })
}
