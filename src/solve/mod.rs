//! Time stepping: implicit L1 over `ffpe_solvers::fode::LinearL1Stepper`, observers, and
//! a [`Solution`] that says why it stopped.
//!
//! ## Entry points
//!
//! - [`solve`]: a [`Problem`] with [`SolveOptions`] (mesh kind, steps, history, output
//!   times). Output times are inserted into the mesh (see [`build_mesh`]), so observables
//!   are exact mesh values, never interpolated.
//! - [`solve_with_observer`]: the same with a user [`Observer`] called after every step
//!   (it may stop the run: [`StopReason::ObserverStop`]).
//! - [`SolveOptions::extrapolate`]: Richardson extrapolation in space. [`solve`] also
//!   solves on half the cells per axis (same mesh) and returns `(4 u_h - u_2h) / 3`
//!   (observables combined directly, the density on the coarse grid), with a
//!   [`SpaceExtrapolation`] report in [`Solution::extrapolation`]; fourth order in space
//!   for smooth problems (`tests/extrapolation.rs`).
//! - [`solve_on_grid`]: **the API reused by the sparse-grid combination technique**
//!   (`crate::sparse_grid`). Given a problem, cells per axis (an anisotropic grid on the
//!   same box, see [`Problem::with_cells`]), a ready [`TimeMesh`], the history kind and the
//!   output times (which must be mesh nodes, within `1e-9 t_end`), it returns a
//!   [`Solution`] with, per output time, the [`Observables`] (mass, mean, second moments,
//!   covariance, MSD) and, when asked, the density snapshot; `Solution::grid` carries the
//!   geometry (cell centres via [`TensorGrid::centres`], widths via
//!   [`TensorGrid::widths`]). Component solves on different grids that share one mesh
//!   give observables at identical times, ready to be combined.
//!
//! ```
//! use ffpe::problem::Problem;
//! use ffpe::solve::{build_mesh, solve_on_grid, MeshKind};
//! use ffpe::solvers::history::HistoryKind;
//! let p = Problem::builder().alpha(0.6).domain(&[-4.0, -4.0], &[4.0, 4.0], &[16, 16]).build().unwrap();
//! let mesh = build_mesh(0.6, 1.0, 50, MeshKind::Graded { r: None }, &[0.5, 1.0], HistoryKind::Direct).unwrap();
//! let s = solve_on_grid(&p, &[32, 8], &mesh, HistoryKind::Direct, &[0.5, 1.0], true).unwrap();
//! assert_eq!(s.grid.cells(), &[32, 8]);
//! assert_eq!(s.observables.len(), 2);
//! assert_eq!(s.snapshots.len(), 2);
//! assert!((s.observables[1].mass - 1.0).abs() < 1e-12);
//! ```

use crate::error::{FfpeError, Result};
use crate::grid::TensorGrid;
use crate::observables::{ObservableContext, Observables};
use crate::operator::FokkerPlanckOperator;
use crate::problem::Problem;
pub use ffpe_solvers::caputo::Scheme;
use ffpe_solvers::caputo::TimeMesh;
use ffpe_solvers::fode::LinearL1Stepper;
pub use ffpe_solvers::fode::StopReason;
use ffpe_solvers::history::HistoryKind;
use serde::Serialize;
use std::ops::ControlFlow;
use std::time::Instant;

mod extrapolate;
mod symmetric;
pub use extrapolate::{SpaceExtrapolation, extrapolation_cells, restrict_to_coarse};
use symmetric::SymmetricL1Stepper;

/// Linear solver of the implicit steps `(c_n I - A) u^n = rhs`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub enum LinearBackend {
    /// Cholesky when the operator is symmetrisable by the Boltzmann weights (isotropic
    /// `D`, or a separable potential, and `gamma |Delta L| / D < 690` over the box), else LU.
    #[default]
    Auto,
    /// Sparse LU of `c I - A` (`ffpe_solvers::fode::LinearL1Stepper`).
    Lu,
    /// Sparse Cholesky of the symmetrised `c I - Pi^(-1/2) A Pi^(1/2)` (an error when no
    /// Boltzmann weights exist).
    Cholesky,
}

enum Stepper {
    Lu(Box<LinearL1Stepper>),
    Cholesky(Box<SymmetricL1Stepper>),
}

impl Stepper {
    fn step(&mut self) -> Result<usize> {
        match self {
            Self::Lu(s) => Ok(s.step(None)?),
            Self::Cholesky(s) => s.step(),
        }
    }
    fn state(&self) -> &[f64] {
        match self {
            Self::Lu(s) => s.state(),
            Self::Cholesky(s) => s.state(),
        }
    }
    fn time(&self) -> f64 {
        match self {
            Self::Lu(s) => s.time(),
            Self::Cholesky(s) => s.time(),
        }
    }
    fn is_finished(&self) -> bool {
        match self {
            Self::Lu(s) => s.is_finished(),
            Self::Cholesky(s) => s.is_finished(),
        }
    }
    fn stats(&self) -> ffpe_solvers::fode::FodeStats {
        match self {
            Self::Lu(s) => s.stats(),
            Self::Cholesky(s) => s.stats(),
        }
    }
}

/// `sqrt(Pi / max Pi)` when the Boltzmann weights symmetrise the operator and stay in range.
fn symmetriser(problem: &Problem) -> Option<Vec<f64>> {
    let pi = problem.boltzmann_density().ok()?;
    let max = pi.iter().cloned().fold(0.0f64, f64::max);
    let s: Vec<f64> = pi.iter().map(|p| (p / max).sqrt()).collect();
    s.iter().all(|x| *x > 1e-150 && x.is_finite()).then_some(s)
}

/// Kind of time mesh.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub enum MeshKind {
    /// Uniform steps (error O(tau^alpha) for the weakly singular solutions of the FFPE).
    Uniform,
    /// Graded `t_j = T (j / N)^r`; `r = None` uses the scheme's optimal grading
    /// ([`Scheme::optimal_grading`]: `(2 - alpha) / alpha` for L1, which restores
    /// O(N^-(2 - alpha)), Stynes-O'Riordan-Gracia 2017; `2 / alpha` for L2-1sigma, order 2),
    /// capped at 8. Refactorises at every step (use [`MeshKind::GradedBlocks`], the
    /// default, for implicit solves in 2-D and 3-D).
    Graded {
        /// Grading exponent `r >= 1`, or `None` for the optimal value.
        r: Option<f64>,
    },
    /// Piecewise-uniform graded mesh: from `t = 0` it takes steps `tau_1 2^m`
    /// (`tau_1 = T N^-r`), the largest that does not exceed the graded step
    /// `T ((s + 1/N)^r - s^r)`, `s = (t / T)^(1/r)`, at the current time. Every step is at
    /// most the local graded step and neighbouring steps differ by at most a factor 2, the
    /// conditions of the general-mesh L1 analysis (Kopteva 2019), so the order
    /// `2 - alpha` is kept (tested); but there are only about `log2(tau_max / tau_1)`
    /// distinct step sizes, so the implicit solves need that many LU factorisations
    /// instead of one per step: the fast choice in 2-D and 3-D. Takes up to 2x the steps
    /// of the graded mesh (about 1.4x typically).
    GradedBlocks {
        /// Grading exponent `r >= 1`, or `None` for the scheme's optimal grading.
        r: Option<f64>,
    },
}

/// Times of the piecewise-uniform graded mesh of [`MeshKind::GradedBlocks`].
pub fn graded_block_times(t_end: f64, steps: usize, r: f64) -> Vec<f64> {
    let n = steps as f64;
    let tau1 = t_end * n.powf(-r);
    let mut times = vec![0.0];
    let mut t = 0.0f64;
    let mut tau = tau1;
    while t_end - t > 1e-12 * t_end {
        let s = (t / t_end).powf(1.0 / r);
        let g = t_end * ((s + 1.0 / n).powf(r) - s.powf(r));
        while 2.0 * tau <= g * (1.0 + 1e-12) {
            tau *= 2.0;
        }
        // Finish without a sliver: the last step is at most 1.5 tau.
        let step = if t_end - t < 1.5 * tau {
            t_end - t
        } else {
            tau
        };
        t += step;
        if t_end - t <= 1e-12 * t_end {
            t = t_end;
        }
        times.push(t);
    }
    times
}

/// The default is [`MeshKind::GradedBlocks`] with the optimal grading: the same order as
/// the graded mesh with about `log2(tau_max / tau_min)` factorisations instead of one per
/// step (BENCHMARKS.md, "Fast defaults").
impl Default for MeshKind {
    fn default() -> Self {
        Self::GradedBlocks { r: None }
    }
}

/// Options of a time-stepping run (config; see [`SolveStats`] for statistics).
#[derive(Clone, Debug, Serialize)]
pub struct SolveOptions {
    /// Final time `T > 0`.
    pub t_end: f64,
    /// Number of base steps `N >= 1` (output times may add a few nodes).
    pub steps: usize,
    /// Mesh kind (default graded-blocks: graded order, few factorisations).
    pub mesh: MeshKind,
    /// Discretisation of the Caputo derivative (default L1; L2-1sigma is second order on
    /// graded meshes and takes the `Direct` or `Soe` history).
    pub scheme: Scheme,
    /// History evaluator (default SOE with tolerance 1e-12; Direct is the oracle; FFT
    /// needs a uniform mesh).
    pub history: HistoryKind,
    /// Times at which observables are recorded (empty: `t_end` only). `0` gives the start.
    pub output_times: Vec<f64>,
    /// Whether density snapshots are kept at the output times.
    pub snapshots: bool,
    /// Stop after this many steps (`None`: no limit).
    pub max_steps: Option<usize>,
    /// Linear solver of the implicit steps (default: Cholesky where possible, else LU).
    pub backend: LinearBackend,
    /// Richardson extrapolation in space (default false): also solve on half the cells
    /// per axis (same time mesh) and return `(4 u_h - u_2h) / 3`, fourth order in space
    /// for smooth solutions, at the cost of `1 + 2^-d` solves. Needs an even number
    /// `>= 6` of cells per axis; the densities then live on the coarse grid. See
    /// [`SpaceExtrapolation`] and the notes of `src/solve/extrapolate.rs`.
    pub extrapolate: bool,
}

impl Default for SolveOptions {
    fn default() -> Self {
        Self {
            t_end: 1.0,
            steps: 100,
            mesh: MeshKind::default(),
            scheme: Scheme::L1,
            history: HistoryKind::Soe { tolerance: 1e-12 },
            output_times: vec![],
            snapshots: false,
            max_steps: None,
            backend: LinearBackend::Auto,
            extrapolate: false,
        }
    }
}

/// Statistics of a run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SolveStats {
    /// Steps taken.
    pub steps: usize,
    /// History terms evaluated.
    pub history_terms: u64,
    /// SOE exponentials (0 for Direct/FFT).
    pub exponentials: usize,
    /// Numeric LU factorisations.
    pub factorizations: usize,
    /// Wall-clock seconds of the whole solve (assembly, stepping, observables).
    pub seconds: f64,
    /// Seconds inside the stepper.
    pub step_seconds: f64,
    /// Unknowns (cells).
    pub unknowns: usize,
}

/// Result of a run.
#[derive(Clone, Debug, Serialize)]
pub struct Solution {
    /// The output times actually reached.
    pub times: Vec<f64>,
    /// Observables per output time reached.
    pub observables: Vec<Observables>,
    /// Density snapshots per output time (empty unless asked for).
    pub snapshots: Vec<Vec<f64>>,
    /// Final state (density at the last step taken).
    pub final_density: Vec<f64>,
    /// Time of the final state.
    pub final_time: f64,
    /// Why the run stopped.
    pub stop_reason: StopReason,
    /// Statistics.
    pub stats: SolveStats,
    /// The grid of the densities (the coarse grid when extrapolated in space).
    pub grid: TensorGrid,
    /// What the Richardson extrapolation in space did, when
    /// [`SolveOptions::extrapolate`] was set (then the observables are the combined ones
    /// and the densities `(4 R u_h - u_2h) / 3` on the coarse grid).
    pub extrapolation: Option<SpaceExtrapolation>,
}

/// Capability: observe a step. Return `ControlFlow::Break(())` to stop.
pub trait Observer {
    /// Called with the step index `n`, time `t_n` and the density `p^n` (also for n = 0).
    fn observe(&mut self, n: usize, t: f64, density: &[f64]) -> ControlFlow<()>;
}

/// An observer that does nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoObserver;
impl Observer for NoObserver {
    fn observe(&mut self, _: usize, _: f64, _: &[f64]) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }
}

/// Trajectory recording as an observer: keeps every `every`-th state.
#[derive(Clone, Debug, Default)]
pub struct TrajectoryRecorder {
    /// Record every this many steps (>= 1).
    pub every: usize,
    /// Recorded times.
    pub times: Vec<f64>,
    /// Recorded densities.
    pub states: Vec<Vec<f64>>,
}
impl TrajectoryRecorder {
    /// Records every `every`-th step.
    pub fn new(every: usize) -> Self {
        Self {
            every: every.max(1),
            ..Default::default()
        }
    }
}
impl Observer for TrajectoryRecorder {
    fn observe(&mut self, n: usize, t: f64, density: &[f64]) -> ControlFlow<()> {
        if n.is_multiple_of(self.every) {
            self.times.push(t);
            self.states.push(density.to_vec());
        }
        ControlFlow::Continue(())
    }
}

/// Stops when the closure returns true (e.g. a mass threshold with absorbing boundaries).
pub struct StopWhen<F: FnMut(usize, f64, &[f64]) -> bool>(pub F);
impl<F: FnMut(usize, f64, &[f64]) -> bool> Observer for StopWhen<F> {
    fn observe(&mut self, n: usize, t: f64, density: &[f64]) -> ControlFlow<()> {
        if (self.0)(n, t, density) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }
}

/// Grading exponent `r` of a graded mesh: the user's value checked to lie in [1, 8], or the
/// scheme's optimal value clamped to that range.
fn grading(r: Option<f64>, alpha: f64, scheme: Scheme) -> Result<f64> {
    Ok(match r {
        Some(r) => crate::error::check_range(
            "time.grading",
            r,
            Some((1.0, false)),
            Some((8.0, false)),
            "1 <= grading <= 8",
        )?,
        None => scheme.optimal_grading(alpha).clamp(1.0, 8.0),
    })
}
/// Builds the time mesh with the output times as nodes: output times within
/// `1e-9 t_end` of a node use that node, others are inserted (FFT history needs a uniform
/// mesh, so there every output time must already be a node). Default gradings are those
/// of the L1 scheme; [`build_scheme_mesh`] takes the scheme.
pub fn build_mesh(
    alpha: f64,
    t_end: f64,
    steps: usize,
    kind: MeshKind,
    output_times: &[f64],
    history: HistoryKind,
) -> Result<TimeMesh> {
    build_scheme_mesh(Scheme::L1, alpha, t_end, steps, kind, output_times, history)
}

/// Smallest and largest final time: beyond them the first step of a graded mesh
/// underflows (`t_end = 1e-300`) or the step matrix overflows (`t_end = 1e308`).
pub const T_END_RANGE: (f64, f64) = (1e-10, 1e10);

/// The checks of [`build_scheme_mesh`] that allocate nothing: the scheme and history,
/// `t_end`, `steps`, the grading and the range of the output times. A problem file is
/// checked by this, then by its resource budget, before the mesh is built.
pub fn check_mesh_settings(
    scheme: Scheme,
    alpha: f64,
    t_end: f64,
    steps: usize,
    kind: MeshKind,
    output_times: &[f64],
    history: HistoryKind,
) -> Result<()> {
    if scheme == Scheme::L21Sigma && matches!(history, HistoryKind::Fft) {
        return Err(FfpeError::invalid(
            "time.history",
            "the L2-1sigma scheme takes history \"soe\" or \"direct\" (FFT is for L1 on uniform meshes)",
        ));
    }
    crate::error::check_range(
        "time.t_end",
        t_end,
        Some((T_END_RANGE.0, false)),
        Some((T_END_RANGE.1, false)),
        "1e-10 <= t_end <= 1e10",
    )?;
    if steps == 0 || steps > 100_000_000 {
        return Err(FfpeError::out_of_range(
            "time.steps",
            steps,
            "1 <= steps <= 1e8",
        ));
    }
    if let MeshKind::Graded { r } | MeshKind::GradedBlocks { r } = kind {
        let r = grading(r, alpha, scheme)?;
        if matches!(kind, MeshKind::GradedBlocks { .. }) && steps as f64 > 1e308f64.powf(1.0 / r) {
            return Err(FfpeError::out_of_range(
                "time.steps",
                steps,
                "steps^grading < 1e308",
            ));
        }
    }
    for (i, &t) in output_times.iter().enumerate() {
        crate::error::check_range(
            &format!("output.times[{i}]"),
            t,
            Some((0.0, false)),
            Some((t_end * (1.0 + 1e-12), false)),
            &format!("0 <= t <= t_end = {}", crate::error::fmt_num(t_end)),
        )?;
    }
    Ok(())
}

/// [`build_mesh`] with the default grading of `scheme` ([`Scheme::optimal_grading`]).
pub fn build_scheme_mesh(
    scheme: Scheme,
    alpha: f64,
    t_end: f64,
    steps: usize,
    kind: MeshKind,
    output_times: &[f64],
    history: HistoryKind,
) -> Result<TimeMesh> {
    check_mesh_settings(scheme, alpha, t_end, steps, kind, output_times, history)?;
    let base = match kind {
        MeshKind::Uniform => TimeMesh::uniform(t_end, steps)?,
        MeshKind::Graded { r } => {
            let r = grading(r, alpha, scheme)?;
            TimeMesh::graded(t_end, steps, r)?
        }
        MeshKind::GradedBlocks { r } => {
            let r = grading(r, alpha, scheme)?;
            TimeMesh::from_times(graded_block_times(t_end, steps, r))?
        }
    };
    let base_times = base.times();
    let tol = 1e-9 * t_end;
    // Output times not yet nodes (to 1e-9 t_end), sorted; then one merge (inserting them
    // one by one cost O(outputs x nodes): minutes for a million output times).
    let mut added: Vec<f64> = Vec::new();
    for &t in output_times {
        let k = base_times.partition_point(|&x| x < t);
        let near = [k.checked_sub(1), Some(k)]
            .into_iter()
            .flatten()
            .filter(|&j| j < base_times.len())
            .any(|j| (base_times[j] - t).abs() <= tol);
        if !near {
            added.push(t);
        }
    }
    added.sort_by(f64::total_cmp);
    // an output time repeated (or within 1e-9 t_end of another) is one node
    added.dedup_by(|b, a| (*b - *a).abs() <= tol);
    if added.is_empty() {
        return Ok(base);
    }
    if matches!(history, HistoryKind::Fft) {
        return Err(FfpeError::invalid(
            "output.times",
            "FFT history needs a uniform mesh: choose output times on the mesh t_j = j t_end / steps, or use history \"soe\"/\"direct\"",
        ));
    }
    let mut times = Vec::with_capacity(base_times.len() + added.len());
    let mut j = 0;
    for &x in base_times {
        while j < added.len() && added[j] < x {
            times.push(added[j]);
            j += 1;
        }
        times.push(x);
    }
    times.extend_from_slice(&added[j..]);
    Ok(TimeMesh::from_times(times)?)
}

fn output_indices(mesh: &TimeMesh, output_times: &[f64]) -> Result<Vec<usize>> {
    let times = mesh.times();
    let t_end = *times.last().unwrap_or(&1.0);
    let tol = 1e-9 * t_end;
    let mut idx = Vec::with_capacity(output_times.len());
    for (i, &t) in output_times.iter().enumerate() {
        let k = times.partition_point(|&x| x < t - tol);
        if k >= times.len() || (times[k] - t).abs() > tol {
            return Err(FfpeError::invalid(
                &format!("output.times[{i}]"),
                format!(
                    "t = {t} is not a node of the time mesh (use solve::build_mesh to insert it)"
                ),
            ));
        }
        idx.push(k);
    }
    Ok(idx)
}

/// Observables (and snapshot) recorded for one output time.
type Slot = Option<(Observables, Option<Vec<f64>>)>;

/// Solves a problem with the given options.
pub fn solve(problem: &Problem, opts: &SolveOptions) -> Result<Solution> {
    solve_with_observer(problem, opts, &mut NoObserver)
}

/// Solves with an observer called after every step (and at `t = 0`). With
/// [`SolveOptions::extrapolate`] the observer sees the fine-grid solve (the coarse one
/// then takes as many steps).
pub fn solve_with_observer(
    problem: &Problem,
    opts: &SolveOptions,
    observer: &mut dyn Observer,
) -> Result<Solution> {
    if opts.extrapolate {
        extrapolate::solve_extrapolated(problem, opts, observer)
    } else {
        solve_plain(problem, opts, observer)
    }
}

/// [`solve_with_observer`] on the problem's grid alone (`opts.extrapolate` ignored).
fn solve_plain(
    problem: &Problem,
    opts: &SolveOptions,
    observer: &mut dyn Observer,
) -> Result<Solution> {
    let outs = if opts.output_times.is_empty() {
        vec![opts.t_end]
    } else {
        opts.output_times.clone()
    };
    let mesh = build_scheme_mesh(
        opts.scheme,
        problem.alpha(),
        opts.t_end,
        opts.steps,
        opts.mesh,
        &outs,
        opts.history,
    )?;
    let opts = SolveOptions {
        output_times: outs,
        ..opts.clone()
    };
    solve_mesh(problem, &mesh, &opts, observer)
}

/// The sparse-grid entry point: `problem` regridded to `cells` (same box), solved on
/// `mesh` with `history`; observables (and snapshots when `snapshots`) at
/// `output_times`, which must be mesh nodes. See the module docs.
pub fn solve_on_grid(
    problem: &Problem,
    cells: &[usize],
    mesh: &TimeMesh,
    history: HistoryKind,
    output_times: &[f64],
    snapshots: bool,
) -> Result<Solution> {
    let p = if problem.grid().cells() == cells {
        problem.clone()
    } else {
        problem.with_cells(cells)?
    };
    let opts = SolveOptions {
        history,
        output_times: output_times.to_vec(),
        snapshots,
        ..SolveOptions::default()
    };
    solve_mesh(&p, mesh, &opts, &mut NoObserver)
}

/// Solves on a ready `mesh`. Of `opts` it uses the discretisation (`scheme`), `history`,
/// `output_times` (which must be mesh nodes, see [`build_mesh`]; empty: no outputs),
/// `snapshots`, `max_steps` and `backend`; `t_end`, `steps` and `mesh` describe the mesh
/// and are not read, nor is `extrapolate` (see [`solve_with_observer`]).
pub fn solve_mesh(
    problem: &Problem,
    mesh: &TimeMesh,
    opts: &SolveOptions,
    observer: &mut dyn Observer,
) -> Result<Solution> {
    let SolveOptions {
        scheme,
        history,
        ref output_times,
        snapshots,
        max_steps,
        backend,
        ..
    } = *opts;
    let start = Instant::now();
    let out_idx = output_indices(mesh, output_times)?;
    let op = FokkerPlanckOperator::assemble(problem)?;
    let grid = op.grid().clone();
    let u0 = problem.initial_density()?;
    let ctx = ObservableContext::for_problem(problem)?;
    let sqrt_pi = match backend {
        LinearBackend::Lu => None,
        LinearBackend::Auto => symmetriser(problem),
        LinearBackend::Cholesky => Some(symmetriser(problem).ok_or_else(|| {
            FfpeError::invalid(
                "backend",
                "Cholesky needs Boltzmann weights (isotropic D or a separable potential, gamma |Delta L| / D < 690)",
            )
        })?),
    };
    let mut stepper = match sqrt_pi {
        Some(sp) => Stepper::Cholesky(Box::new(SymmetricL1Stepper::new(
            op.matrix(),
            sp,
            scheme,
            problem.alpha(),
            mesh.clone(),
            history,
            &u0,
        )?)),
        None => Stepper::Lu(Box::new(LinearL1Stepper::new_with_scheme(
            op.into_matrix(),
            scheme,
            problem.alpha(),
            mesh.clone(),
            history,
            &u0,
        )?)),
    };
    // Map mesh index -> list of output slots (an index may be requested twice).
    let mut want: Vec<(usize, usize)> = out_idx
        .iter()
        .cloned()
        .enumerate()
        .map(|(s, k)| (k, s))
        .collect();
    want.sort();
    let mut slots: Vec<Slot> = vec![None; output_times.len()];
    let mut w = 0usize;
    let record = |n: usize, t: f64, u: &[f64], w: &mut usize, slots: &mut Vec<Slot>| {
        while *w < want.len() && want[*w].0 == n {
            let s = want[*w].1;
            slots[s] = Some((ctx.observe(t, u), snapshots.then(|| u.to_vec())));
            *w += 1;
        }
    };
    record(0, 0.0, &u0, &mut w, &mut slots);
    let mut stop = StopReason::FinalTime;
    if observer.observe(0, 0.0, &u0).is_break() {
        stop = StopReason::ObserverStop;
    } else {
        let limit = max_steps.unwrap_or(usize::MAX);
        let mut taken = 0usize;
        while !stepper.is_finished() {
            if taken >= limit {
                stop = StopReason::MaxSteps;
                break;
            }
            let n = stepper.step()?;
            taken += 1;
            let t = stepper.time();
            let u = stepper.state();
            record(n, t, u, &mut w, &mut slots);
            if observer.observe(n, t, u).is_break() {
                stop = StopReason::ObserverStop;
                break;
            }
        }
    }
    let fs = stepper.stats();
    let mut times = Vec::new();
    let mut observables = Vec::new();
    let mut snaps = Vec::new();
    for (s, slot) in slots.into_iter().enumerate() {
        if let Some((o, snap)) = slot {
            times.push(output_times[s]);
            observables.push(o);
            if let Some(sn) = snap {
                snaps.push(sn);
            }
        }
    }
    Ok(Solution {
        times,
        observables,
        snapshots: snaps,
        final_density: stepper.state().to_vec(),
        final_time: stepper.time(),
        stop_reason: stop,
        stats: SolveStats {
            steps: fs.steps,
            history_terms: fs.history_terms,
            exponentials: fs.exponentials,
            factorizations: fs.factorizations,
            seconds: start.elapsed().as_secs_f64(),
            step_seconds: fs.seconds,
            unknowns: grid.len(),
        },
        grid,
        extrapolation: None,
    })
}
