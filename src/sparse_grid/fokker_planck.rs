//! The full-grid Fokker-Planck solver of this crate as a [`ComponentSolver`].
//!
//! Every component is the same [`Problem`] on the same box with other cells per axis
//! ([`Problem::with_cells`]), stepped with the same [`TimeMesh`] and history kind, so
//! that all components report their densities at identical output times. Each density
//! is handed to the combination observer as soon as the step that produces it is done
//! and is never stored: a component's memory is released when its solve returns.

use std::ops::ControlFlow;

use ffpe_solvers::caputo::TimeMesh;
use ffpe_solvers::history::HistoryKind;

use super::combine::{
    CombineRequest, CombinedSolution, ComponentError, ComponentSolver, ComponentWork, Snapshot,
    SparseGridConfig, solve_combination,
};
use super::error::{Result, SparseGridError};
use super::geometry::{BoxGrid, Layout};
use super::krylov::{KrylovSettings, iterative_l1};
use super::scheme::CombinationScheme;
use crate::operator::FokkerPlanckOperator;
use crate::problem::Problem;
use crate::solve::{Observer, SolveOptions, solve_mesh};

/// How each component solves its implicit linear systems.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub enum ComponentLinearSolver {
    /// Sparse LU (the full-grid solver, `crate::solve::solve_mesh`) for `d <= 3`,
    /// BiCGSTAB with default settings for `d >= 4`, where LU fill-in explodes.
    #[default]
    Auto,
    /// Always the full-grid solver with its sparse LU.
    Direct,
    /// Always the same L1 step with Jacobi-preconditioned BiCGSTAB solves.
    Iterative(KrylovSettings),
}

/// Smallest level the full-grid solver accepts (it needs at least 3 cells per axis,
/// and level `l` has `2^l` cells).
pub const MIN_SOLVER_LEVEL: u32 = 2;

/// The time-fractional Fokker-Planck problem solved on component grids by the
/// full-grid solver ([`crate::solve::solve_mesh`]).
#[derive(Clone, Debug)]
pub struct FokkerPlanckComponents {
    problem: Problem,
    mesh: TimeMesh,
    history: HistoryKind,
    output_times: Vec<f64>,
    nodes: Vec<usize>,
    linear_solver: ComponentLinearSolver,
}

impl FokkerPlanckComponents {
    /// Components of `problem` (its own cells are ignored) on `mesh`, with outputs at
    /// `output_times`, which must be increasing nodes of the mesh (within
    /// `1e-9 t_end`; [`crate::solve::build_mesh`] inserts them).
    pub fn new(
        problem: &Problem,
        mesh: TimeMesh,
        history: HistoryKind,
        output_times: &[f64],
    ) -> Result<Self> {
        let times = mesh.times();
        let t_end = times.last().copied().unwrap_or(1.0);
        let tol = 1e-9 * t_end;
        let mut nodes = Vec::with_capacity(output_times.len());
        for (index, &time) in output_times.iter().enumerate() {
            let k = times.partition_point(|&x| x < time - tol);
            let ok = k < times.len()
                && (times[k] - time).abs() <= tol
                && nodes.last().is_none_or(|&last| k >= last);
            if !ok {
                return Err(SparseGridError::OutputTime { index, time });
            }
            nodes.push(k);
        }
        Ok(Self {
            problem: problem.clone(),
            mesh,
            history,
            output_times: output_times.to_vec(),
            nodes,
            linear_solver: ComponentLinearSolver::Auto,
        })
    }

    /// [`FokkerPlanckComponents::new`] after checking that the coarsest level of
    /// `scheme` is solvable ([`MIN_SOLVER_LEVEL`]) and that its dimension is the
    /// problem's.
    pub fn for_scheme(
        problem: &Problem,
        scheme: &CombinationScheme,
        mesh: TimeMesh,
        history: HistoryKind,
        output_times: &[f64],
    ) -> Result<Self> {
        if scheme.min_level() < MIN_SOLVER_LEVEL {
            return Err(SparseGridError::MinLevelTooCoarse {
                min_level: scheme.min_level(),
                required: MIN_SOLVER_LEVEL,
            });
        }
        if problem.dim() != scheme.dim() {
            return Err(SparseGridError::DimensionMismatch {
                what: "problem domain",
                got: problem.dim(),
                expected: scheme.dim(),
            });
        }
        Self::new(problem, mesh, history, output_times)
    }

    /// Chooses how components solve their linear systems (default
    /// [`ComponentLinearSolver::Auto`]).
    pub fn with_linear_solver(mut self, linear_solver: ComponentLinearSolver) -> Self {
        self.linear_solver = linear_solver;
        self
    }

    /// The linear solver used for a problem of this dimension.
    fn resolved_linear_solver(&self) -> ComponentLinearSolver {
        match self.linear_solver {
            ComponentLinearSolver::Auto if self.problem.dim() >= 4 => {
                ComponentLinearSolver::Iterative(KrylovSettings::default())
            }
            ComponentLinearSolver::Auto => ComponentLinearSolver::Direct,
            other => other,
        }
    }

    fn solve_iterative(
        &self,
        problem: &Problem,
        grid: &BoxGrid,
        settings: KrylovSettings,
        observe: &mut dyn FnMut(usize, f64, Snapshot<'_>),
    ) -> std::result::Result<ComponentWork, ComponentError> {
        let op = FokkerPlanckOperator::assemble(problem)?;
        let u0 = problem.initial_density()?;
        let mut stepper = iterative_l1(
            op.matrix(),
            problem.alpha(),
            self.mesh.clone(),
            self.history,
            &u0,
            settings,
        )?;
        drop(op);
        let mut at = AtOutputs {
            nodes: &self.nodes,
            times: &self.output_times,
            next: 0,
            grid,
            observe,
        };
        let _ = at.observe(0, 0.0, &u0);
        drop(u0);
        while !stepper.is_finished() {
            let n = stepper.step(None)?;
            let _ = at.observe(n, self.mesh.times()[n], stepper.state());
        }
        let stats = stepper.solver().stats();
        // the solver's matrix and vectors, the stepper's state, right-hand side and
        // history output (3 vectors), and the history storage reported by the evaluator
        let bytes = stepper.solver().working_bytes() + 24 * grid.len() + stepper.history_bytes();
        Ok(ComponentWork {
            steps: stats.steps,
            bytes,
            linear_iterations: stats.iterations,
        })
    }

    /// The problem.
    pub fn problem(&self) -> &Problem {
        &self.problem
    }

    /// The time mesh shared by all components.
    pub fn mesh(&self) -> &TimeMesh {
        &self.mesh
    }
}

/// Calls the combination observer at the output nodes of the mesh.
struct AtOutputs<'a, 'b> {
    nodes: &'a [usize],
    times: &'a [f64],
    next: usize,
    grid: &'a BoxGrid,
    observe: &'a mut (dyn FnMut(usize, f64, Snapshot<'_>) + 'b),
}

impl Observer for AtOutputs<'_, '_> {
    fn observe(&mut self, n: usize, _t: f64, density: &[f64]) -> ControlFlow<()> {
        while self.next < self.nodes.len() && self.nodes[self.next] == n {
            (self.observe)(
                self.next,
                self.times[self.next],
                Snapshot {
                    grid: self.grid,
                    density,
                },
            );
            self.next += 1;
        }
        ControlFlow::Continue(())
    }
}

impl ComponentSolver for FokkerPlanckComponents {
    fn lower(&self) -> &[f64] {
        self.problem.grid().lower()
    }

    fn upper(&self) -> &[f64] {
        self.problem.grid().upper()
    }

    fn output_times(&self) -> &[f64] {
        &self.output_times
    }

    fn steps(&self) -> usize {
        self.mesh.steps()
    }

    fn solve_component(
        &self,
        cells: &[usize],
        observe: &mut dyn FnMut(usize, f64, Snapshot<'_>),
    ) -> std::result::Result<ComponentWork, ComponentError> {
        let problem = self.problem.with_cells(cells)?;
        let g = problem.grid();
        // the full-grid solver stores axis 0 fastest
        let grid = BoxGrid::new(g.lower(), g.upper(), g.cells(), Layout::FirstAxisFastest)?;
        if let ComponentLinearSolver::Iterative(settings) = self.resolved_linear_solver() {
            return self.solve_iterative(&problem, &grid, settings, observe);
        }
        let mut at = AtOutputs {
            nodes: &self.nodes,
            times: &self.output_times,
            next: 0,
            grid: &grid,
            observe,
        };
        let opts = SolveOptions {
            history: self.history,
            ..SolveOptions::default()
        };
        let solution = solve_mesh(&problem, &self.mesh, &opts, &mut at)?;
        let n = grid.len();
        let d = grid.dim();
        let s = &solution.stats;
        // Estimated working set, in f64 values: the CSC matrix (2d+1 entries per column,
        // value + row index), about ten state-sized vectors (initial, state, right-hand
        // side, history output and workspaces), and the stored history (all increments
        // for Direct/FFT, a few vectors per exponential for SOE). The LU fill-in is not
        // known here and is not counted: measure peak RSS for real numbers.
        let history_vectors = match self.history {
            HistoryKind::Soe { .. } => 2 * s.exponentials,
            _ => s.steps,
        };
        let words = n * (2 * (2 * d + 1) + 10 + history_vectors);
        Ok(ComponentWork {
            steps: s.steps,
            bytes: words * 8,
            linear_iterations: 0,
        })
    }

    fn steady_state(
        &self,
        cells: &[usize],
    ) -> Option<std::result::Result<(BoxGrid, Vec<f64>), ComponentError>> {
        let problem = match self.problem.with_cells(cells) {
            Ok(p) => p,
            Err(e) => return Some(Err(e.into())),
        };
        // no Boltzmann density (per-axis D with a non-separable potential): not available
        let density = problem.boltzmann_density().ok()?;
        let g = problem.grid();
        Some(
            BoxGrid::new(g.lower(), g.upper(), g.cells(), Layout::FirstAxisFastest)
                .map(|grid| (grid, density))
                .map_err(Into::into),
        )
    }
}

/// Solves `problem` by the combination technique: every component of `scheme` with the
/// full-grid solver on `mesh` (outputs at `output_times`, mesh nodes), in parallel, and
/// combines what `request` asks for.
///
/// ```
/// use ffpe::problem::{Initial, Potential, Problem};
/// use ffpe::solve::{MeshKind, build_mesh};
/// use ffpe::solvers::history::HistoryKind;
/// use ffpe::sparse_grid::{CombinationScheme, CombineRequest, SparseGridConfig, solve_sparse};
/// let problem = Problem::builder()
///     .alpha(0.8)
///     .potential(Potential::quadratic(&[1.0, 2.0, 3.0]))
///     .domain(&[-4.0; 3], &[4.0; 3], &[4; 3])
///     .initial(Initial::Gaussian { mean: vec![1.0, 0.5, -0.5], std: vec![0.5] })
///     .build()?;
/// let times = [0.0, 0.5];
/// let mesh = build_mesh(0.8, 0.5, 10, MeshKind::default(), &times, HistoryKind::Direct)?;
/// let scheme = CombinationScheme::truncated(3, 4, 2)?;
/// let out = solve_sparse(&problem, &scheme, mesh, HistoryKind::Direct, &times,
///                        &CombineRequest::default(), &SparseGridConfig::default())?;
/// assert_eq!(out.stats.components.len(), scheme.components().len());
/// assert!((out.mass(1) - 1.0).abs() < 1e-12); // every component conserves mass
/// assert!(out.mean(1)[0] < 1.0);               // relaxes towards 0
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn solve_sparse(
    problem: &Problem,
    scheme: &CombinationScheme,
    mesh: TimeMesh,
    history: HistoryKind,
    output_times: &[f64],
    request: &CombineRequest,
    config: &SparseGridConfig,
) -> Result<CombinedSolution> {
    let solver = FokkerPlanckComponents::for_scheme(problem, scheme, mesh, history, output_times)?;
    solve_combination(scheme, &solver, request, config)
}

/// Options of a sparse-grid solve of a [`Problem`] ([`solve_sparse_with`],
/// [`solve_sparse_on`]): the history, the output times, the components' linear solver,
/// what to combine and how to run the combination.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SparseSolveOptions {
    /// History evaluator of every component (default SOE with tolerance 1e-12).
    pub history: HistoryKind,
    /// Output times, increasing nodes of the mesh (default none).
    pub output_times: Vec<f64>,
    /// How each component solves its linear systems (default [`ComponentLinearSolver::Auto`]).
    pub linear_solver: ComponentLinearSolver,
    /// What to extract and combine besides the raw moments.
    pub request: CombineRequest,
    /// Threads and component size limit.
    pub config: SparseGridConfig,
}

impl Default for SparseSolveOptions {
    fn default() -> Self {
        Self {
            history: HistoryKind::Soe { tolerance: 1e-12 },
            output_times: Vec::new(),
            linear_solver: ComponentLinearSolver::Auto,
            request: CombineRequest::default(),
            config: SparseGridConfig::default(),
        }
    }
}

/// [`solve_sparse`] with every option in one [`SparseSolveOptions`] (the components'
/// linear solver included).
pub fn solve_sparse_with(
    problem: &Problem,
    scheme: &CombinationScheme,
    mesh: TimeMesh,
    opts: &SparseSolveOptions,
) -> Result<CombinedSolution> {
    let solver = components(problem, scheme, mesh, opts)?;
    solve_combination(scheme, &solver, &opts.request, &opts.config)
}

/// [`solve_sparse_with`] with the components spread over `ranks`
/// ([`super::solve_combination_on`]): collective; `Some` on rank 0 (bit for bit the
/// single-process solution), `None` on the others.
pub fn solve_sparse_on(
    problem: &Problem,
    scheme: &CombinationScheme,
    mesh: TimeMesh,
    opts: &SparseSolveOptions,
    ranks: &dyn crate::distributed::Ranks,
) -> Result<Option<CombinedSolution>> {
    if ranks.size() <= 1 {
        return solve_sparse_with(problem, scheme, mesh, opts).map(Some);
    }
    let solver = components(problem, scheme, mesh, opts)?;
    super::solve_combination_on(scheme, &solver, &opts.request, &opts.config, ranks)
}

/// The component solver of `problem` for `scheme` with the options' history, output
/// times and linear solver.
fn components(
    problem: &Problem,
    scheme: &CombinationScheme,
    mesh: TimeMesh,
    opts: &SparseSolveOptions,
) -> Result<FokkerPlanckComponents> {
    Ok(
        FokkerPlanckComponents::for_scheme(
            problem,
            scheme,
            mesh,
            opts.history,
            &opts.output_times,
        )?
        .with_linear_solver(opts.linear_solver),
    )
}
