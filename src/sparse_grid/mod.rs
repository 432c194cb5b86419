//! # Sparse grids by the combination technique
//!
//! Full tensor grids cost `O(h^-d)` unknowns and stop at three dimensions. The
//! combination technique solves the same problem on many *anisotropic* full grids
//! with few cells each and adds their outputs with coefficients `(-1)^q binom(d-1, q)`:
//!
//! ```text
//! u_n = sum_{q=0}^{d-1} (-1)^q binom(d-1, q) sum_{|l|_1 = n + (d-1) - q} u_l
//! ```
//!
//! at a cost of `O(h^-1 |log h|^(d-1))` unknowns for the accuracy of a full grid with
//! mesh width `h = 2^-n` (up to log factors, for solutions with bounded mixed
//! derivatives). See SPEC section 2.3.
//!
//! Workflow:
//! 1. [`CombinationScheme`]: which component grids (levels per axis; `2^l` cells)
//!    and which coefficients; classic or truncated with a minimum level per axis.
//! 2. A [`ComponentSolver`] solves one component ([`FokkerPlanckComponents`]: the
//!    full-grid solver of this crate; or [`AnalyticComponents`] for tests), reporting
//!    its density at each output time. [`solve_sparse`] does steps 2-3 for a problem.
//! 3. [`solve_combination`] runs the components in parallel (rayon), reduces each
//!    density at once to moments, point values and marginals (multilinear
//!    interpolation on each component), and combines them: [`CombinedSolution`].
//!
//! Beyond one machine: [`solve_combination_on`] spreads the components over MPI ranks
//! (static assignment balanced by unknowns x steps, [`crate::distributed`]) and
//! combines on rank 0 in scheme order, bit for bit the single-process result;
//! `mpirun -np N ffpe solve problem.toml` (cargo feature `mpi`) runs it.
//!
//! Combined moments (mass, mean, covariance, MSD) are linear in the density and
//! combine exactly like it. Combined densities and marginals may dip below zero where
//! the density is small: [`NegativityReport`] counts them; nothing is clipped.

mod combine;
mod distributed;
mod error;
mod fokker_planck;
mod geometry;
mod krylov;
mod report;
mod scheme;

pub use combine::{
    AnalyticComponents, CombineRequest, CombinedSnapshot, CombinedSolution, ComponentError,
    ComponentSolver, ComponentStats, ComponentWork, NegativityReport, RankStats, Snapshot,
    SparseGridConfig, SparseGridStats, component_costs, peak_rss_bytes, solve_combination,
};
pub use distributed::{RANK_MESSAGE_HEADER_BYTES, component_message_bytes, solve_combination_on};
pub use error::{Result, SparseGridError};
pub use fokker_planck::{
    ComponentLinearSolver, FokkerPlanckComponents, MIN_SOLVER_LEVEL, SparseSolveOptions,
    solve_sparse, solve_sparse_on, solve_sparse_with,
};
pub use geometry::{BoxGrid, Extrapolation, Layout, RawMoments};
pub use krylov::{KrylovSettings, KrylovStats};
pub use report::SparseReport;
pub use scheme::{CombinationScheme, Component, MAX_DIM, MAX_LEVEL};
