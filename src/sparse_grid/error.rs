//! Errors of the sparse-grid combination technique.

/// Everything that can go wrong when building a combination scheme, solving its
/// component grids or combining their outputs.
///
/// Each variant names the offending field and the allowed range, so that a user
/// who wrote a bad problem file can fix it without reading the source.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SparseGridError {
    /// The dimension is outside `1..=MAX_DIM`.
    #[error("sparse grid: dimension d = {dim} is not supported (allowed: 1..={max})")]
    InvalidDimension {
        /// The dimension asked for.
        dim: usize,
        /// The largest supported dimension.
        max: usize,
    },
    /// `level` / `min_level` are inconsistent or out of range.
    #[error(
        "sparse grid: level = {level}, min_level = {min_level} is invalid \
         (allowed: 1 <= min_level <= level <= {max_level})"
    )]
    InvalidLevel {
        /// The finest level per axis asked for.
        level: u32,
        /// The coarsest level per axis asked for.
        min_level: u32,
        /// The largest supported level (2^level cells per axis).
        max_level: u32,
    },
    /// Richardson extrapolation needs the scheme of level `level - 1` as well.
    #[error(
        "sparse grid: extrapolate = true needs level >= min_level + 1 \
         (it combines levels n and n - 1); got level = {level}, min_level = {min_level}"
    )]
    ExtrapolationLevel {
        /// The finest level per axis asked for.
        level: u32,
        /// The coarsest level per axis asked for.
        min_level: u32,
    },
    /// The box bounds do not describe a non-empty box of the scheme's dimension.
    #[error(
        "sparse grid: box axis {axis} has lower = {lower}, upper = {upper} (need finite lower < upper)"
    )]
    InvalidBox {
        /// Axis index.
        axis: usize,
        /// Lower bound given.
        lower: f64,
        /// Upper bound given.
        upper: f64,
    },
    /// A box, point or request has the wrong number of coordinates.
    #[error("sparse grid: {what} has {got} coordinates, expected d = {expected}")]
    DimensionMismatch {
        /// What was being checked.
        what: &'static str,
        /// Number of coordinates found.
        got: usize,
        /// The scheme's dimension.
        expected: usize,
    },
    /// An evaluation point lies outside the box (or is not finite).
    #[error(
        "sparse grid: evaluation point {index} has coordinate {value} on axis {axis}, \
         outside the box [{lower}, {upper}]"
    )]
    PointOutsideBox {
        /// Index of the point in the request.
        index: usize,
        /// Axis of the offending coordinate.
        axis: usize,
        /// The coordinate.
        value: f64,
        /// Lower bound of the box on that axis.
        lower: f64,
        /// Upper bound of the box on that axis.
        upper: f64,
    },
    /// A marginal was requested on an axis that does not exist (or twice the same axis).
    #[error(
        "sparse grid: marginal over axes {axes:?} is invalid (axes must be distinct and < d = {dim})"
    )]
    InvalidMarginal {
        /// The axes requested.
        axes: Vec<usize>,
        /// The dimension.
        dim: usize,
    },
    /// The scheme would need more unknowns than the configured limit.
    #[error(
        "sparse grid: level {level} in d = {dim} needs {unknowns} unknowns in one component \
         (limit {limit}); lower `level` or raise `min_level` less"
    )]
    TooLarge {
        /// The level.
        level: u32,
        /// The dimension.
        dim: usize,
        /// Unknowns of the largest component.
        unknowns: u128,
        /// The limit.
        limit: u128,
    },
    /// Two components reported different output times: they cannot be combined.
    #[error(
        "sparse grid: component {component:?} reported output time #{index} = {got}, \
         but the scheme expects {expected}"
    )]
    InconsistentTimes {
        /// Levels of the offending component.
        component: Vec<u32>,
        /// Index of the output time.
        index: usize,
        /// Time reported.
        got: f64,
        /// Time expected.
        expected: f64,
    },
    /// The component solver produced a snapshot whose grid is not the one asked for.
    #[error(
        "sparse grid: component {component:?} returned a grid with cells {got:?}, expected {expected:?}"
    )]
    InconsistentGrid {
        /// Levels of the offending component.
        component: Vec<u32>,
        /// Cells returned.
        got: Vec<usize>,
        /// Cells asked for.
        expected: Vec<usize>,
    },
    /// Solving one component grid failed.
    #[error("sparse grid: component {component:?} (cells {cells:?}) failed: {message}")]
    Component {
        /// Levels of the failing component.
        component: Vec<u32>,
        /// Cells per axis of the failing component.
        cells: Vec<usize>,
        /// The underlying error, as text.
        message: String,
    },
    /// The full-grid solver needs at least 3 cells per axis: `min_level` must be >= 2.
    #[error(
        "sparse grid: min_level = {min_level} gives components with 2^{min_level} cells on an axis; \
         the full-grid solver needs min_level >= {required}"
    )]
    MinLevelTooCoarse {
        /// The scheme's coarsest level.
        min_level: u32,
        /// The smallest level the solver accepts.
        required: u32,
    },
    /// An output time is not a node of the time mesh, or output times are not increasing.
    #[error(
        "sparse grid: output time #{index} = {time} is not a node of the time mesh \
         (or the output times are not increasing); build the mesh with solve::build_mesh"
    )]
    OutputTime {
        /// Index in the output-time list.
        index: usize,
        /// The time.
        time: f64,
    },
    /// Another rank of a distributed solve failed or sent a malformed message.
    #[error("sparse grid: rank {rank}: {message}")]
    Rank {
        /// The rank.
        rank: usize,
        /// What went wrong there, as text.
        message: String,
    },
    /// The thread pool could not be built.
    #[error("sparse grid: cannot build a thread pool with {threads} threads: {message}")]
    ThreadPool {
        /// Threads asked for.
        threads: usize,
        /// The underlying error, as text.
        message: String,
    },
}

/// Result type of this module.
pub type Result<T> = std::result::Result<T, SparseGridError>;
