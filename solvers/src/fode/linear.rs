//! Implicit L1 stepping of sparse linear fractional systems.

use std::ops::ControlFlow;
use std::time::Instant;

use faer::linalg::solvers::Solve;
use faer::sparse::linalg::solvers::{Lu, SymbolicLu};
use faer::sparse::{SparseColMat, SymbolicSparseColMat};

use crate::caputo::{Scheme, TimeMesh};
use crate::error::{Result, SolverError, check_order};
use crate::history::{HistoryEvaluator, HistoryKind, L21SigmaHistory, build_history};

/// Statistics of a fractional ODE solve.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct FodeStats {
    /// Steps taken.
    pub steps: usize,
    /// Numeric LU factorizations performed.
    pub factorizations: usize,
    /// History terms evaluated (see [`HistoryStats`](crate::history::HistoryStats)).
    pub history_terms: u64,
    /// Exponentials of the SOE history (0 for Direct and FFT).
    pub exponentials: usize,
    /// Wall-clock seconds spent in `step`.
    pub seconds: f64,
}

/// Why a driver stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum StopReason {
    /// The final time of the mesh was reached.
    FinalTime,
    /// The observer asked to stop.
    ObserverStop,
    /// The step budget given to the driver was used up.
    MaxSteps,
}

/// How many numeric factorizations (distinct step sizes) are kept.
const FACTOR_CACHE: usize = 4;

/// The linear solve of one implicit L1 step: `(c I - A) x = b` for the step's leading
/// coefficient `c`. [`L1Stepper`] owns the scheme (history, right-hand side, increments,
/// sources, checks); a `ShiftedSolve` owns only `A` and how to solve with it, so one
/// stepper serves the sparse LU here ([`SparseLu`]), and other backends (a Cholesky
/// factorisation of a symmetrised operator, a Krylov solver) elsewhere.
pub trait ShiftedSolve {
    /// Overwrites `b` with the solution `x` of `(c I - A) x = b`. `step` is the index
    /// `n >= 1` of the step being taken (for error messages and solvers that keep state
    /// between steps).
    fn solve_shifted(&mut self, c: f64, step: usize, b: &mut [f64]) -> Result<()>;
    /// Writes `A x` into `out` (used by schemes that evaluate `A u` at an off-step point,
    /// such as L2-1sigma).
    fn apply(&self, x: &[f64], out: &mut [f64]);
    /// Number of unknowns (the size of `A`).
    fn dim(&self) -> usize;
    /// Numeric factorizations performed so far (0 for solvers that do not factor).
    fn factorizations(&self) -> usize;
}

/// `c I - M` on a fixed sparse pattern (that of `M` plus its diagonal) with the
/// factorizations of the last four distinct `c`: the part every direct [`ShiftedSolve`]
/// backend shares. A backend supplies the factorization routine ([`SparseLu`]: LU; the core
/// crate: Cholesky of a symmetrised operator).
pub struct ShiftedFactors<F> {
    pattern: SymbolicSparseColMat<usize>,
    /// Values of `-M` on `pattern`.
    neg_m: Vec<f64>,
    /// Position of each diagonal entry in the value array.
    diag: Vec<usize>,
    /// Scratch: values of `c I - M`.
    values: Vec<f64>,
    cache: Vec<(u64, F)>,
    built: usize,
}

impl<F> ShiftedFactors<F> {
    /// `neg_m`: values of `-M` on `pattern`; `diag[j]`: position of the entry `(j, j)`.
    pub fn new(pattern: SymbolicSparseColMat<usize>, neg_m: Vec<f64>, diag: Vec<usize>) -> Self {
        Self {
            pattern,
            values: neg_m.clone(),
            neg_m,
            diag,
            cache: Vec::new(),
            built: 0,
        }
    }

    /// The pattern of `c I - M` (for the symbolic factorization).
    pub fn pattern(&self) -> faer::sparse::SymbolicSparseColMatRef<'_, usize> {
        self.pattern.as_ref()
    }

    /// The factorization of `c I - M`: from the cache, or computed by `factor` (and cached,
    /// dropping the oldest of four).
    pub fn get<E>(
        &mut self,
        c: f64,
        factor: impl FnOnce(faer::sparse::SparseColMatRef<'_, usize, f64>) -> std::result::Result<F, E>,
    ) -> std::result::Result<&F, E> {
        let key = c.to_bits();
        let k = match self.cache.iter().position(|(k, _)| *k == key) {
            Some(k) => k,
            None => {
                self.values.copy_from_slice(&self.neg_m);
                for &p in &self.diag {
                    self.values[p] += c;
                }
                let f = factor(faer::sparse::SparseColMatRef::new(
                    self.pattern.as_ref(),
                    &self.values,
                ))?;
                self.built += 1;
                if self.cache.len() >= FACTOR_CACHE {
                    self.cache.remove(0);
                }
                self.cache.push((key, f));
                self.cache.len() - 1
            }
        };
        Ok(&self.cache[k].1)
    }

    /// Factorizations computed so far.
    pub fn factorizations(&self) -> usize {
        self.built
    }

    /// `out = M x` from the stored values of `-M` (full pattern).
    pub fn apply_m(&self, x: &[f64], out: &mut [f64]) {
        out.fill(0.0);
        let rows = self.pattern.row_idx();
        for (j, xj) in x.iter().enumerate() {
            for p in self.pattern.col_range(j) {
                out[rows[p]] -= self.neg_m[p] * xj;
            }
        }
    }

    /// `out = M x` for a symmetric `M` of which the pattern holds the lower triangle.
    pub fn apply_m_symmetric_lower(&self, x: &[f64], out: &mut [f64]) {
        out.fill(0.0);
        let rows = self.pattern.row_idx();
        for (j, xj) in x.iter().enumerate() {
            for p in self.pattern.col_range(j) {
                let i = rows[p];
                let m = -self.neg_m[p];
                out[i] += m * xj;
                if i != j {
                    out[j] += m * x[i];
                }
            }
        }
    }
}

/// Sparse LU backend of [`L1Stepper`]: the symbolic LU of the pattern of `c I - A` is
/// computed once, a numeric LU per distinct `c` (the last four are cached), so a uniform
/// mesh factors once; a diagonal `A` is solved directly without LU.
pub struct SparseLu {
    dim: usize,
    shifted: ShiftedFactors<Lu<usize, f64>>,
    symbolic: SymbolicLu<usize>,
    /// `Some(a_ii)` when `A` is diagonal (solved without LU).
    diagonal: Option<Vec<f64>>,
    last_c: f64,
    /// Distinct `c` met by the diagonal path (counted as factorizations).
    diagonal_setups: usize,
}

impl SparseLu {
    /// Checks `A` (square, non-empty, finite) and computes the symbolic LU of `c I - A`.
    pub fn new(a: &SparseColMat<usize, f64>) -> Result<Self> {
        let dim = a.nrows();
        if a.ncols() != dim {
            return Err(SolverError::DimensionMismatch {
                what: "columns of A (A must be square)",
                expected: dim,
                got: a.ncols(),
            });
        }
        if dim == 0 {
            return Err(SolverError::DimensionMismatch {
                what: "rows of A",
                expected: 1,
                got: 0,
            });
        }
        // Union pattern of A and the diagonal, values of -A.
        let sym = a.symbolic();
        let row_idx = sym.row_idx();
        let val = a.val();
        let mut col_ptr = Vec::with_capacity(dim + 1);
        let mut rows = Vec::with_capacity(val.len() + dim);
        let mut neg_a = Vec::with_capacity(val.len() + dim);
        let mut diag = Vec::with_capacity(dim);
        col_ptr.push(0usize);
        let mut col: Vec<(usize, f64)> = Vec::new();
        for j in 0..dim {
            col.clear();
            for p in sym.col_range(j) {
                let v = val[p];
                if !v.is_finite() {
                    return Err(SolverError::NonFinite {
                        what: "matrix A",
                        step: 0,
                    });
                }
                col.push((row_idx[p], -v));
            }
            col.push((j, 0.0));
            col.sort_by_key(|e| e.0);
            let mut last: Option<usize> = None;
            for &(r, v) in col.iter() {
                if last == Some(r) {
                    *neg_a.last_mut().expect("entry exists") += v;
                } else {
                    if r == j {
                        diag.push(rows.len());
                    }
                    rows.push(r);
                    neg_a.push(v);
                    last = Some(r);
                }
            }
            col_ptr.push(rows.len());
        }
        let symbolic_pattern = SymbolicSparseColMat::new_checked(dim, dim, col_ptr, None, rows);
        let symbolic =
            SymbolicLu::try_new(symbolic_pattern.as_ref()).map_err(|e| SolverError::Singular {
                step: 0,
                reason: format!("symbolic LU failed: {e:?}"),
            })?;
        let is_diag = (0..dim).all(|j| sym.col_range(j).all(|p| row_idx[p] == j));
        let diagonal = is_diag.then(|| diag.iter().map(|&p| -neg_a[p]).collect::<Vec<f64>>());
        Ok(Self {
            dim,
            shifted: ShiftedFactors::new(symbolic_pattern, neg_a, diag),
            symbolic,
            diagonal,
            last_c: f64::NAN,
            diagonal_setups: 0,
        })
    }
}

impl ShiftedSolve for SparseLu {
    fn solve_shifted(&mut self, c: f64, step: usize, b: &mut [f64]) -> Result<()> {
        if let Some(d) = &self.diagonal {
            // Diagonal A: (c - a_ii) x_i = b_i, no factorization needed.
            if self.last_c.to_bits() != c.to_bits() {
                self.last_c = c;
                self.diagonal_setups += 1;
                if d.iter().any(|&a| (c - a).abs() == 0.0) {
                    return Err(SolverError::Singular {
                        step,
                        reason: "c_n I - A has a zero diagonal entry".into(),
                    });
                }
            }
            for (r, a) in b.iter_mut().zip(d) {
                *r /= c - a;
            }
        } else {
            let symbolic = &self.symbolic;
            let lu = self.shifted.get(c, |m| {
                Lu::try_new_with_symbolic(symbolic.clone(), m).map_err(|e| SolverError::Singular {
                    step,
                    reason: format!("numeric LU of (c I - A) failed: {e:?}"),
                })
            })?;
            lu.solve_in_place(faer::MatMut::from_column_major_slice_mut(b, self.dim, 1));
        }
        Ok(())
    }

    fn apply(&self, x: &[f64], out: &mut [f64]) {
        match &self.diagonal {
            Some(d) => {
                for ((o, a), xi) in out.iter_mut().zip(d).zip(x) {
                    *o = a * xi;
                }
            }
            None => self.shifted.apply_m(x, out),
        }
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn factorizations(&self) -> usize {
        self.shifted.factorizations() + self.diagonal_setups
    }
}

/// Implicit stepper for `D^a u = A u + f(t)`, generic over the linear solve, with the L1
/// (default) or the L2-1sigma discretisation of the Caputo derivative ([`Scheme`]).
///
/// * L1: step `n` solves `(c_n I - A) u^n = c_n u^{n-1} - h_n + f(t_n)` with
///   `c_n = tau_n^(-a)/Gamma(2-a)` and the history `h_n` from the chosen evaluator.
/// * L2-1sigma: the equation is taken at `t_* = t_{n-1} + sigma tau_n`, `sigma = 1 - a/2`,
///   with `u(t_*) ~= sigma u^n + (1 - sigma) u^{n-1}`; with `D^a u(t_*) ~= c_n (u^n - u^{n-1})
///   + h_n` ([`L21SigmaHistory`]) step `n` solves
///   `(c I - A) u^n = c u^{n-1} + (1 - sigma)/sigma A u^{n-1} + (f(t_*) - h_n)/sigma`,
///   `c = c_n / sigma`.
///
/// The backend `S` ([`ShiftedSolve`]) does the solve. [`LinearL1Stepper`] is this stepper
/// with the sparse LU backend.
pub struct L1Stepper<S> {
    alpha: f64,
    mesh: TimeMesh,
    dim: usize,
    solver: S,
    kernel: Kernel,
    u: Vec<f64>,
    rhs: Vec<f64>,
    hist: Vec<f64>,
    n: usize,
    stats: FodeStats,
}

/// The Caputo discretisation of a stepper and its history.
enum Kernel {
    L1 {
        history: Box<dyn HistoryEvaluator>,
        inv_gamma: f64,
    },
    L21Sigma {
        history: Box<L21SigmaHistory>,
        /// Scratch: `A u^{n-1}`.
        au: Vec<f64>,
    },
}

/// Implicit L1 stepper with a sparse matrix `A` and sparse LU solves ([`SparseLu`]).
pub type LinearL1Stepper = L1Stepper<SparseLu>;

impl<S> std::fmt::Debug for L1Stepper<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("L1Stepper")
            .field("alpha", &self.alpha)
            .field("dim", &self.dim)
            .field("n", &self.n)
            .field("stats", &self.stats)
            .finish()
    }
}

impl L1Stepper<SparseLu> {
    /// Set up the stepper with sparse LU solves: validates the input and computes the
    /// symbolic LU of `c I - A`.
    ///
    /// ```
    /// use faer::sparse::{SparseColMat, Triplet};
    /// use ffpe_solvers::caputo::TimeMesh;
    /// use ffpe_solvers::fode::LinearL1Stepper;
    /// use ffpe_solvers::history::HistoryKind;
    /// // D^a u = -u, u(0) = 1: u(t) = E_a(-t^a)
    /// let a = SparseColMat::<usize, f64>::try_new_from_triplets(1, 1, &[Triplet::new(0, 0, -1.0)]).unwrap();
    /// let mesh = TimeMesh::graded_for_order(1.0, 256, 0.5)?;
    /// let mut st = LinearL1Stepper::new(a, 0.5, mesh, HistoryKind::Direct, &[1.0])?;
    /// while !st.is_finished() {
    ///     st.step(None)?;
    /// }
    /// let exact = ffpe_solvers::mittag_leffler::mittag_leffler(0.5, 1.0, -1.0)?;
    /// assert!((st.state()[0] - exact).abs() < 1e-4);
    /// # Ok::<(), ffpe_solvers::SolverError>(())
    /// ```
    pub fn new(
        a: SparseColMat<usize, f64>,
        alpha: f64,
        mesh: TimeMesh,
        history: HistoryKind,
        u0: &[f64],
    ) -> Result<Self> {
        check_order(alpha)?;
        let solver = SparseLu::new(&a)?;
        Self::with_solver(solver, alpha, mesh, history, u0)
    }

    /// [`LinearL1Stepper::new`] with a chosen [`Scheme`].
    ///
    /// ```
    /// use faer::sparse::{SparseColMat, Triplet};
    /// use ffpe_solvers::caputo::{Scheme, TimeMesh};
    /// use ffpe_solvers::fode::LinearL1Stepper;
    /// use ffpe_solvers::history::HistoryKind;
    /// // D^a u = -u, u(0) = 1 on the graded mesh r = 2/a: order 2
    /// let a = SparseColMat::<usize, f64>::try_new_from_triplets(1, 1, &[Triplet::new(0, 0, -1.0)]).unwrap();
    /// let mesh = TimeMesh::graded(1.0, 256, 4.0)?;
    /// let mut st = LinearL1Stepper::new_with_scheme(a, Scheme::L21Sigma, 0.5, mesh, HistoryKind::Direct, &[1.0])?;
    /// while !st.is_finished() {
    ///     st.step(None)?;
    /// }
    /// let exact = ffpe_solvers::mittag_leffler::mittag_leffler(0.5, 1.0, -1.0)?;
    /// assert!((st.state()[0] - exact).abs() < 1e-5);
    /// # Ok::<(), ffpe_solvers::SolverError>(())
    /// ```
    pub fn new_with_scheme(
        a: SparseColMat<usize, f64>,
        scheme: Scheme,
        alpha: f64,
        mesh: TimeMesh,
        history: HistoryKind,
        u0: &[f64],
    ) -> Result<Self> {
        check_order(alpha)?;
        let solver = SparseLu::new(&a)?;
        Self::with_solver_and_scheme(solver, scheme, alpha, mesh, history, u0)
    }
}

impl<S: ShiftedSolve> L1Stepper<S> {
    /// Set up the L1 stepper with any [`ShiftedSolve`] backend; `u0` must have its
    /// dimension.
    pub fn with_solver(
        solver: S,
        alpha: f64,
        mesh: TimeMesh,
        history: HistoryKind,
        u0: &[f64],
    ) -> Result<Self> {
        Self::with_solver_and_scheme(solver, Scheme::L1, alpha, mesh, history, u0)
    }

    /// Set up the stepper with any [`ShiftedSolve`] backend and a [`Scheme`]. L2-1sigma
    /// takes the `Direct` or `Soe` history (`Fft` is an error).
    pub fn with_solver_and_scheme(
        solver: S,
        scheme: Scheme,
        alpha: f64,
        mesh: TimeMesh,
        history: HistoryKind,
        u0: &[f64],
    ) -> Result<Self> {
        check_order(alpha)?;
        let dim = solver.dim();
        if u0.len() != dim || dim == 0 {
            return Err(SolverError::DimensionMismatch {
                what: "initial state u0",
                expected: dim.max(1),
                got: u0.len(),
            });
        }
        if u0.iter().any(|x| !x.is_finite()) {
            return Err(SolverError::NonFinite {
                what: "initial state u0",
                step: 0,
            });
        }
        let kernel = match scheme {
            Scheme::L1 => Kernel::L1 {
                history: build_history(history, &mesh, alpha, dim)?,
                inv_gamma: 1.0 / crate::caputo::gamma(2.0 - alpha),
            },
            Scheme::L21Sigma => Kernel::L21Sigma {
                history: Box::new(L21SigmaHistory::new(history, &mesh, alpha, dim)?),
                au: vec![0.0; dim],
            },
        };
        Ok(Self {
            alpha,
            dim,
            solver,
            kernel,
            u: u0.to_vec(),
            rhs: vec![0.0; dim],
            hist: vec![0.0; dim],
            n: 0,
            stats: FodeStats::default(),
            mesh,
        })
    }

    /// Advance one step; `source` is `f` at [`L1Stepper::source_time`]`(n)` (`t_n` for L1,
    /// `t_{n-1} + sigma tau_n` for L2-1sigma; None = zero). Returns the new index `n`.
    pub fn step(&mut self, source: Option<&[f64]>) -> Result<usize> {
        let start = Instant::now();
        if self.is_finished() {
            return Err(SolverError::Finished {
                steps: self.mesh.steps(),
            });
        }
        if let Some(f) = source
            && f.len() != self.dim
        {
            return Err(SolverError::DimensionMismatch {
                what: "source f(t_n)",
                expected: self.dim,
                got: f.len(),
            });
        }
        let n = self.n + 1;
        let c = match &mut self.kernel {
            Kernel::L1 { history, inv_gamma } => {
                let c = self.mesh.step_sizes()[n - 1].powf(-self.alpha) * *inv_gamma;
                history.history_into(n, &mut self.hist);
                for i in 0..self.dim {
                    self.rhs[i] = c * self.u[i] - self.hist[i];
                }
                if let Some(f) = source {
                    for (r, fi) in self.rhs.iter_mut().zip(f) {
                        *r += fi;
                    }
                }
                c
            }
            Kernel::L21Sigma { history, au } => {
                let sigma = history.sigma();
                let c = history.history_into(n, &mut self.hist) / sigma;
                self.solver.apply(&self.u, au);
                let (wa, ws) = ((1.0 - sigma) / sigma, 1.0 / sigma);
                let rows = self
                    .rhs
                    .iter_mut()
                    .zip(&self.u)
                    .zip(au.iter())
                    .zip(&self.hist);
                for (((r, &u), &a), &h) in rows.take(self.dim) {
                    *r = c * u + wa * a - ws * h;
                }
                if let Some(f) = source {
                    for (r, fi) in self.rhs.iter_mut().zip(f) {
                        *r += ws * fi;
                    }
                }
                c
            }
        };
        self.solver.solve_shifted(c, n, &mut self.rhs)?;
        if self.rhs.iter().any(|x| !x.is_finite()) {
            return Err(SolverError::NonFinite {
                what: "state u^n",
                step: n,
            });
        }
        // rhs now holds u^n; turn u into the increment, push it, then store u^n.
        for (u, r) in self.u.iter_mut().zip(&self.rhs) {
            *u = r - *u;
        }
        match &mut self.kernel {
            Kernel::L1 { history, .. } => history.push_increment(n, &self.u),
            Kernel::L21Sigma { history, .. } => history.push_increment(n, &self.u),
        }
        self.u.copy_from_slice(&self.rhs);
        self.n = n;
        self.stats.steps += 1;
        self.stats.seconds += start.elapsed().as_secs_f64();
        Ok(n)
    }

    /// The time at which step `n` takes the source: `t_n` (L1) or `t_{n-1} + sigma tau_n`
    /// (L2-1sigma).
    pub fn source_time(&self, n: usize) -> f64 {
        match &self.kernel {
            Kernel::L1 { .. } => self.mesh.times()[n],
            Kernel::L21Sigma { history, .. } => {
                self.mesh.times()[n - 1] + history.sigma() * self.mesh.step_sizes()[n - 1]
            }
        }
    }

    /// The discretisation of the Caputo derivative.
    pub fn scheme(&self) -> Scheme {
        match &self.kernel {
            Kernel::L1 { .. } => Scheme::L1,
            Kernel::L21Sigma { .. } => Scheme::L21Sigma,
        }
    }

    /// Drive the stepper to the end of the mesh (or `max_steps` more steps). `source(t, f)`
    /// writes `f(t)` into `f` (zeroed before each call; `t` is [`L1Stepper::source_time`]); `observer(n, t_n, u^n)` is called
    /// after every step (and once for the initial state) and may stop the run.
    ///
    /// ```
    /// use std::ops::ControlFlow;
    /// use faer::sparse::{SparseColMat, Triplet};
    /// use ffpe_solvers::caputo::TimeMesh;
    /// use ffpe_solvers::fode::{LinearL1Stepper, StopReason};
    /// use ffpe_solvers::history::HistoryKind;
    /// let a = SparseColMat::<usize, f64>::try_new_from_triplets(1, 1, &[Triplet::new(0, 0, -1.0)]).unwrap();
    /// let mesh = TimeMesh::uniform(1.0, 100)?;
    /// let mut st = LinearL1Stepper::new(a, 0.7, mesh, HistoryKind::Fft, &[1.0])?;
    /// let mut last = 0.0;
    /// let why = st.run(|_t, _f| {}, |_n, _t, u| { last = u[0]; ControlFlow::Continue(()) }, usize::MAX)?;
    /// assert_eq!(why, StopReason::FinalTime);
    /// assert!(last > 0.0 && last < 1.0);
    /// # Ok::<(), ffpe_solvers::SolverError>(())
    /// ```
    pub fn run<F, O>(
        &mut self,
        mut source: F,
        mut observer: O,
        max_steps: usize,
    ) -> Result<StopReason>
    where
        F: FnMut(f64, &mut [f64]),
        O: FnMut(usize, f64, &[f64]) -> ControlFlow<()>,
    {
        if self.n == 0 && observer(0, 0.0, &self.u).is_break() {
            return Ok(StopReason::ObserverStop);
        }
        let mut f = vec![0.0; self.dim];
        let mut taken = 0;
        while !self.is_finished() {
            if taken >= max_steps {
                return Ok(StopReason::MaxSteps);
            }
            f.fill(0.0);
            source(self.source_time(self.n + 1), &mut f);
            let n = self.step(Some(&f))?;
            taken += 1;
            if observer(n, self.mesh.times()[n], &self.u).is_break() {
                return Ok(StopReason::ObserverStop);
            }
        }
        Ok(StopReason::FinalTime)
    }

    /// Current state `u^n`.
    pub fn state(&self) -> &[f64] {
        &self.u
    }

    /// Current time index `n`.
    pub fn step_index(&self) -> usize {
        self.n
    }

    /// Current time `t_n`.
    pub fn time(&self) -> f64 {
        self.mesh.times()[self.n]
    }

    /// The time mesh.
    pub fn mesh(&self) -> &TimeMesh {
        &self.mesh
    }

    /// Statistics so far.
    pub fn stats(&self) -> FodeStats {
        let h = self.history_stats();
        FodeStats {
            factorizations: self.solver.factorizations(),
            history_terms: h.terms,
            exponentials: h.exponentials,
            ..self.stats.clone()
        }
    }

    /// Bytes held by the history evaluator.
    pub fn history_bytes(&self) -> usize {
        self.history_stats().bytes
    }

    fn history_stats(&self) -> crate::history::HistoryStats {
        match &self.kernel {
            Kernel::L1 { history, .. } => history.stats(),
            Kernel::L21Sigma { history, .. } => history.stats(),
        }
    }

    /// The linear-solve backend.
    pub fn solver(&self) -> &S {
        &self.solver
    }

    /// Whether the final time has been reached.
    pub fn is_finished(&self) -> bool {
        self.n >= self.mesh.steps()
    }
}
