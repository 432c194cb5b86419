//! # ffpe: time-fractional Fokker-Planck equations
//!
//! Solves the Caputo-form time-fractional Fokker-Planck equation
//!
//! ```text
//! D_t^alpha p(w,t) = div( D grad p + gamma p grad L(w) ),   0 < alpha <= 1
//! ```
//!
//! on boxes in one to three dimensions (full tensor grids) and higher dimensions
//! (sparse grids by the combination technique), with no-flux boundaries by default.
//!
//! ## Workflow: problem -> operator -> stepper -> solution
//!
//! 1. [`problem::Problem`] (built and validated by [`problem::ProblemBuilder`]): order
//!    `alpha`, friction `gamma`, [`problem::Diffusion`] (scalar, per axis, fractal
//!    `D_xi` in log space), [`problem::Potential`] (catalogue, closure, table), the box
//!    and its cells ([`grid::TensorGrid`]), [`problem::Boundary`], [`problem::Initial`].
//! 2. [`operator::FokkerPlanckOperator`]: cell-centred finite volumes with
//!    Scharfetter-Gummel fluxes, assembled as a faer `SparseColMat` (columns sum to zero,
//!    the discrete Boltzmann density is its null vector).
//! 3. [`solve`]: implicit L1 time stepping over `ffpe_solvers::fode::LinearL1Stepper`
//!    (graded mesh by default; Direct / SOE / FFT history), observers, and a
//!    [`solve::Solution`] that says why it stopped. One [`solve::SolveOptions`] travels
//!    through the layer ([`solve::solve_mesh`] takes it with a ready mesh);
//!    [`solve::solve_on_grid`] is the entry point reused by the sparse-grid combination
//!    technique.
//!    [`solve::SolveOptions::extrapolate`] adds Richardson extrapolation in space
//!    (`(4 u_h - u_2h) / 3` with half the cells per axis: fourth order for smooth
//!    problems, [`solve::SpaceExtrapolation`]).
//! 4. [`observables`]: mass, mean, covariance, MSD, `R(t)`, free energy, KL and L1
//!    distance to the steady state.
//! 5. [`predict`]: steady states (null-space solve vs Boltzmann), displacement exponents
//!    (OLS with `r^2` and CI; [`predict::exponent_of_file`] for a problem file), theory
//!    relations, the LLC by volume scaling.
//! 6. [`config`]: TOML problem files (the `ffpe` command's input): serde structs, one per
//!    section and kind (`config/spec.rs`), a validation pass whose errors name the key
//!    and the range (`config/validate.rs`), and the sparse-grid branch
//!    (`config/sparse.rs`, which calls [`sparse_grid`]; nothing calls back).
//! 7. [`sparse_grid`]: the combination technique for 4 to 12 dimensions (scheme,
//!    components solved by [`solve`], reductions, combination, [`sparse_grid::SparseReport`]);
//!    [`sparse_grid::SparseSolveOptions`] carries a sparse solve's options.
//! 8. [`distributed`]: spreading independent work over MPI ranks or shards (a
//!    deterministic cost-balanced assignment, a gather to rank 0; feature `mpi`).
//! 9. [`reference`](mod@reference): exact solutions (free subdiffusion, fractional OU, semi-discrete
//!    eigen-solution) used by tests and benchmarks.
//!
//! ```
//! use ffpe::problem::{Initial, Potential, Problem};
//! use ffpe::solve::{SolveOptions, solve};
//! let problem = Problem::builder()
//!     .alpha(0.5)
//!     .potential(Potential::quadratic(&[1.0]))
//!     .domain(&[-6.0], &[6.0], &[96])
//!     .initial(Initial::Gaussian { mean: vec![2.0], std: vec![0.5] })
//!     .build()
//!     .unwrap();
//! let opts = SolveOptions { t_end: 1.0, steps: 200, output_times: vec![0.5, 1.0], ..Default::default() };
//! let sol = solve(&problem, &opts).unwrap();
//! assert_eq!(sol.observables.len(), 2);
//! assert!((sol.observables[1].mass - 1.0).abs() < 1e-12);
//! ```

pub mod cli;
pub mod config;
pub mod distributed;
pub mod error;
pub mod grid;
pub mod observables;
pub mod operator;
pub mod predict;
pub mod problem;
pub mod reference;
pub mod solve;
pub mod sparse_grid;

pub use error::{FfpeError, Result};
pub use ffpe_solvers as solvers;
