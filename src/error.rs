//! The error type of the `ffpe` crate.
//!
//! Every variant names the offending key (TOML key or builder setter) and, where it
//! applies, the allowed range, so that a message can be shown to a user as is.

/// Errors of the `ffpe` crate. User data never causes a panic; it gives one of these.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum FfpeError {
    /// A numeric value outside its allowed range (including NaN and infinities).
    #[error("`{key}` = {value} is out of range: allowed {allowed}")]
    OutOfRange {
        /// The key or setter, e.g. `equation.alpha`.
        key: String,
        /// The offending value, formatted.
        value: String,
        /// The allowed range, in words, e.g. `0 < alpha <= 1`.
        allowed: String,
    },
    /// A required key is missing.
    #[error("missing key `{key}`: {hint}")]
    MissingKey {
        /// The key, e.g. `domain.cells`.
        key: String,
        /// What it should hold.
        hint: String,
    },
    /// An unknown kind or enumerated value.
    #[error("`{key}` = \"{value}\" is not recognised: allowed {allowed}")]
    UnknownKind {
        /// The key, e.g. `potential.kind`.
        key: String,
        /// The value found.
        value: String,
        /// The allowed values.
        allowed: String,
    },
    /// A key holds a value of the wrong type.
    #[error("`{key}` has the wrong type: expected {expected}")]
    WrongType {
        /// The key.
        key: String,
        /// The expected type, in words.
        expected: String,
    },
    /// A per-axis list has the wrong length.
    #[error("`{key}` has {found} entries, expected {expected} (one per axis, or a single number)")]
    DimensionMismatch {
        /// The key.
        key: String,
        /// Entries found.
        found: usize,
        /// Entries expected.
        expected: usize,
    },
    /// An inconsistent combination of settings.
    #[error("invalid setting `{key}`: {reason}")]
    Invalid {
        /// The key (or keys) concerned.
        key: String,
        /// Why the combination is invalid.
        reason: String,
    },
    /// A derived quantity leaves the range of `f64`.
    #[error("`{key}` overflows f64: log value {log_value} (allowed |log| < 709)")]
    Overflow {
        /// The derived quantity, e.g. `equation.fractal -> D_xi`.
        key: String,
        /// Its natural logarithm.
        log_value: f64,
    },
    /// The TOML text could not be parsed.
    #[error("cannot parse problem file: {0}")]
    Toml(String),
    /// A linear-algebra failure (singular matrix, failed factorisation).
    #[error("linear algebra failed in {context}: {reason}")]
    Linalg {
        /// Where it happened.
        context: String,
        /// Why.
        reason: String,
    },
    /// An error of the fractional kernels.
    #[error("solver kernel: {0}")]
    Solver(#[from] ffpe_solvers::error::SolverError),
    /// An I/O error (reading a problem file, writing output).
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// An I/O error on a named file (reading a problem file, writing output).
    #[error("{path}: {source}")]
    File {
        /// The file or directory.
        path: String,
        /// What went wrong.
        source: std::io::Error,
    },
}

/// Result alias of the crate.
pub type Result<T> = std::result::Result<T, FfpeError>;

impl FfpeError {
    /// An I/O error on `path`, naming the file in the message.
    pub fn file(path: &std::path::Path, source: std::io::Error) -> Self {
        Self::File {
            path: path.display().to_string(),
            source,
        }
    }
    /// Out-of-range helper.
    /// A long decimal (`1e300` displayed by `{}` has 301 digits) is shown as [`fmt_num`].
    pub fn out_of_range(key: &str, value: impl std::fmt::Display, allowed: &str) -> Self {
        let mut value = value.to_string();
        if value.len() > 24
            && let Ok(x) = value.parse::<f64>()
        {
            value = fmt_num(x);
        }
        Self::OutOfRange {
            key: key.to_string(),
            value,
            allowed: allowed.to_string(),
        }
    }
    /// Invalid-combination helper.
    pub fn invalid(key: &str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            key: key.to_string(),
            reason: reason.into(),
        }
    }
}

/// Checks that `value` is finite and lies in the interval described by `lo`/`hi`
/// (`lo_open`/`hi_open` say whether the end is excluded).
pub(crate) fn check_range(
    key: &str,
    value: f64,
    lo: Option<(f64, bool)>,
    hi: Option<(f64, bool)>,
    allowed: &str,
) -> Result<f64> {
    let ok = value.is_finite()
        && lo.is_none_or(|(l, open)| if open { value > l } else { value >= l })
        && hi.is_none_or(|(h, open)| if open { value < h } else { value <= h });
    if ok {
        Ok(value)
    } else {
        Err(FfpeError::out_of_range(key, fmt_num(value), allowed))
    }
}

/// A number for a message: as written (`0.25`, `192`) where that is short, otherwise in
/// scientific notation (`1e300`, `1.5e-300`), never hundreds of digits.
pub fn fmt_num(x: f64) -> String {
    let a = x.abs();
    if !x.is_finite() || x == 0.0 || (1e-4..1e15).contains(&a) {
        let s = format!("{x}");
        if s.len() <= 24 {
            return s;
        }
    }
    format!("{x:e}")
}
