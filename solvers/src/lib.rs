//! # ffpe-solvers: fractional-calculus kernels
//!
//! The numerical kernels under the `ffpe` time-fractional Fokker-Planck solver. The model
//! problem is the Caputo fractional ODE system
//!
//! ```text
//! D^a u(t) = A u(t) + f(t),   u(0) = u0,   0 < a <= 1,
//! ```
//!
//! whose scalar relaxation case `D^a y = -lambda y` has the exact solution
//! `y(t) = E_a(-lambda t^a)` (the Mittag-Leffler function).
//!
//! ## Workflow
//!
//! 1. Build a time mesh: [`caputo::TimeMesh::uniform`], [`caputo::TimeMesh::graded_for_order`]
//!    (`t_j = T (j/N)^r`, `r = (2-a)/a`, which restores order `2 - a` for solutions behaving
//!    like `t^a`), or [`caputo::TimeMesh::from_times`].
//! 2. Pick a history evaluator ([`history::HistoryKind`]): `Direct` (the `O(n)` oracle),
//!    `Soe { tolerance }` (fast L1, any mesh, `O(N_exp)` per step) or `Fft` (uniform meshes,
//!    `O(log^2 n)` amortised per step).
//! 3. Step: [`fode::LinearL1Stepper`] (sparse `A`, faer sparse LU: symbolic once, numeric
//!    once per distinct step size) with [`fode::LinearL1Stepper::step`] or the driver
//!    [`fode::LinearL1Stepper::run`] (observer, [`fode::StopReason`]); small nonlinear systems
//!    with [`fode::solve_nonlinear`] (Newton).
//! 4. Check against exact solutions with [`mittag_leffler::MittagLeffler`].
//!
//! ```
//! use faer::sparse::{SparseColMat, Triplet};
//! use ffpe_solvers::caputo::TimeMesh;
//! use ffpe_solvers::fode::LinearL1Stepper;
//! use ffpe_solvers::history::HistoryKind;
//! use ffpe_solvers::mittag_leffler::MittagLeffler;
//!
//! let alpha = 0.5;
//! let a = SparseColMat::<usize, f64>::try_new_from_triplets(1, 1, &[Triplet::new(0, 0, -1.0)]).unwrap();
//! let mesh = TimeMesh::graded_for_order(1.0, 1024, alpha)?;
//! let mut st = LinearL1Stepper::new(a, alpha, mesh, HistoryKind::Soe { tolerance: 1e-12 }, &[1.0])?;
//! while !st.is_finished() {
//!     st.step(None)?;
//! }
//! let exact = MittagLeffler::new(alpha, 1.0)?.eval(-1.0)?;
//! assert!((st.state()[0] - exact).abs() < 6e-6); // 5.05e-6 at N = 1024 (order 2 - a)
//! # Ok::<(), ffpe_solvers::SolverError>(())
//! ```
//!
//! ## Module map
//!
//! - [`mittag_leffler`]: `E_{a,b}(z)` for real and complex `z` (scalar, batch); `<= 1.7e-15`
//!   relative error on a generated 2924-value mpmath table.
//! - [`caputo`]: meshes (step sizes stored directly) and cancellation-free L1 weights.
//! - [`history`]: the [`history::HistoryEvaluator`] trait, `Direct`, `Soe`, `Fft`, and
//!   [`history::build_history`].
//! - [`fode`]: linear and nonlinear fractional ODE stepping, statistics, stop reasons.
//! - [`linalg`]: [`linalg::DenseLu`], faer's dense LU in a reusable workspace (Newton
//!   steps of [`fode::solve_nonlinear`], small least-squares fits of `ffpe`).
//! - [`error`]: [`SolverError`], one enum for the crate; bad input is an error, never a panic.
//!
//! `alpha = 1` is supported everywhere (classical limit: `c_n = 1/tau_n`, no history).

pub mod caputo;
pub mod error;
pub mod fode;
pub mod history;
pub mod linalg;
pub mod mittag_leffler;

pub use error::{Result, SolverError};
