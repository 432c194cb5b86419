//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong in `ffpe-validation`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// An IDX file is malformed, truncated or does not match its partner.
    #[error("{path}: {what}")]
    Idx {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// A data file's SHA-256 does not match `SHA256SUMS`.
    #[error("{path}: SHA-256 {found} does not match {expected} in SHA256SUMS")]
    Checksum {
        /// The file.
        path: PathBuf,
        /// Expected digest (hex).
        expected: String,
        /// Found digest (hex).
        found: String,
    },
    /// A configuration value is out of range.
    #[error("invalid {field} = {value}: {allowed}")]
    InvalidConfig {
        /// The field name (as on the command line).
        field: &'static str,
        /// The offending value.
        value: String,
        /// The allowed range or form.
        allowed: String,
    },
    /// An optimizer name is not one of the known ones.
    #[error("unknown optimizer {name:?}: allowed are {allowed}")]
    UnknownOptimizer {
        /// The name given.
        name: String,
        /// The allowed names.
        allowed: String,
    },
    /// A checkpoint file does not fit the network or is malformed.
    #[error("checkpoint {path}: {what}")]
    Checkpoint {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// A run directory holds state from a different configuration.
    #[error("run directory {path}: {what}")]
    Resume {
        /// The directory.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// The requested device is not available.
    #[error("device {device}: {what}")]
    Device {
        /// The requested device.
        device: String,
        /// Why it is unavailable.
        what: String,
    },
    /// Training diverged: the training loss became NaN or infinite.
    #[error(
        "run {path}: training diverged at step {step} (training loss {loss}: not finite, or more \
         than 1000 times its value at step 0); lower the learning rate"
    )]
    Diverged {
        /// The run directory.
        path: PathBuf,
        /// The checkpoint step at which the loss was found non-finite.
        step: u64,
        /// The loss.
        loss: f64,
    },
    /// An error in one member of an ensemble ([`crate::ensemble::run_ensemble`]).
    #[error("ensemble member {member}: {source}")]
    Member {
        /// Index of the member.
        member: usize,
        /// What went wrong in it.
        source: Box<Error>,
    },
    /// An in-memory run given to [`crate::drift::external::analyse`] is malformed.
    #[error("run {index}: {what}")]
    Run {
        /// Position of the run in the list given.
        index: usize,
        /// What is wrong.
        what: String,
    },
    /// A per-step metrics file (`analyze --metrics`) is malformed.
    #[error("metrics file {path}, line {line}{}: {what}", column.as_ref().map_or(String::new(), |c| format!(", column {c}")))]
    Metrics {
        /// The file.
        path: PathBuf,
        /// Line in the file, from 1 (0: the file as a whole).
        line: u64,
        /// The column's name, where one is at fault.
        column: Option<String>,
        /// What is wrong.
        what: String,
    },
    /// An error raised by candle.
    #[error("candle: {0}")]
    Candle(#[from] candle_core::Error),
    /// A safetensors error.
    #[error("safetensors: {0}")]
    Safetensors(#[from] safetensors::SafeTensorError),
    /// The run was stopped by its progress callback
    /// ([`crate::llc::estimate_with_progress`]).
    #[error("stopped by the progress callback")]
    Stopped,
    /// A JSON error.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    /// An estimator of [`crate::analysis`] refused its input.
    #[error("analysis: {0}")]
    Analysis(#[from] crate::analysis::AnalysisError),
}

/// Result with the crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
    pub(crate) fn config(
        field: &'static str,
        value: impl std::fmt::Display,
        allowed: impl Into<String>,
    ) -> Self {
        Error::InvalidConfig {
            field,
            value: value.to_string(),
            allowed: allowed.into(),
        }
    }
}
