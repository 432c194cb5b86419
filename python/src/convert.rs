//! Conversions between Python objects and the Rust crates' types: errors, JSON-like
//! values (statistics, reports), TOML tables (problem dicts), and the progress hook.

use pyo3::IntoPyObjectExt;
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

/// `ValueError` with the error's message (the crates' messages name the field and range).
pub fn value_error(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// An `ffpe` error: I/O becomes `OSError`, everything else `ValueError`.
pub fn ffpe_error(e: ffpe::error::FfpeError) -> PyErr {
    match e {
        ffpe::error::FfpeError::Io(io) => PyOSError::new_err(io.to_string()),
        e @ ffpe::error::FfpeError::File { .. } => PyOSError::new_err(e.to_string()),
        other => value_error(other),
    }
}

/// An `ffpe-validation` error: I/O becomes `OSError`, everything else `ValueError`.
pub fn validation_error(e: ffpe_validation::Error) -> PyErr {
    match e {
        e @ ffpe_validation::Error::Io { .. } => PyOSError::new_err(e.to_string()),
        other => value_error(other),
    }
}

/// A JSON value (from `serde_json::to_value` of a statistics struct) as Python objects.
pub fn json_to_py<'py>(py: Python<'py>, v: &serde_json::Value) -> PyResult<Bound<'py, PyAny>> {
    use serde_json::Value;
    Ok(match v {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => b.into_bound_py_any(py)?,
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_bound_py_any(py)?
            } else if let Some(u) = n.as_u64() {
                u.into_bound_py_any(py)?
            } else {
                n.as_f64().unwrap_or(f64::NAN).into_bound_py_any(py)?
            }
        }
        Value::String(s) => s.into_bound_py_any(py)?,
        Value::Array(a) => {
            let items = a
                .iter()
                .map(|x| json_to_py(py, x))
                .collect::<PyResult<Vec<_>>>()?;
            PyList::new(py, items)?.into_any()
        }
        Value::Object(o) => {
            let d = PyDict::new(py);
            for (k, x) in o {
                d.set_item(k, json_to_py(py, x)?)?;
            }
            d.into_any()
        }
    })
}

/// Any `Serialize` value as Python objects (via JSON).
pub fn to_py<'py>(py: Python<'py>, v: &impl serde::Serialize) -> PyResult<Bound<'py, PyAny>> {
    let j = serde_json::to_value(v).map_err(value_error)?;
    json_to_py(py, &j)
}

/// A Python value of a problem dict as a TOML value. `key` is the dotted path, for errors.
fn py_to_toml(key: &str, obj: &Bound<'_, PyAny>) -> PyResult<toml::Value> {
    let wrong = |what: &str| {
        PyValueError::new_err(format!(
            "`{key}` has the wrong type: expected {what}, got {}",
            obj.get_type()
                .name()
                .map_or_else(|_| "?".to_string(), |n| n.to_string())
        ))
    };
    if obj.is_instance_of::<PyBool>() {
        return Ok(toml::Value::Boolean(obj.extract::<bool>()?));
    }
    if obj.is_instance_of::<PyInt>() {
        return obj
            .extract::<i64>()
            .map(toml::Value::Integer)
            .map_err(|_| wrong("an integer that fits in 64 bits"));
    }
    if obj.is_instance_of::<PyFloat>() {
        return Ok(toml::Value::Float(obj.extract::<f64>()?));
    }
    if obj.is_instance_of::<PyString>() {
        return Ok(toml::Value::String(obj.extract::<String>()?));
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        return Ok(toml::Value::Table(dict_to_table(key, d)?));
    }
    if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        let mut out = Vec::new();
        for (i, x) in obj.try_iter()?.enumerate() {
            out.push(py_to_toml(&format!("{key}[{i}]"), &x?)?);
        }
        return Ok(toml::Value::Array(out));
    }
    // numpy arrays and scalars (np.int64 is not an int subclass): their Python value.
    if obj.hasattr("tolist")? {
        let v = obj.call_method0("tolist")?;
        if !v.hasattr("tolist")? {
            return py_to_toml(key, &v);
        }
    }
    Err(wrong("a bool, int, float, str, list, dict or numpy array"))
}

/// A problem dict (`{"equation": {...}, "domain": {...}, ...}`, the keys of a problem file)
/// as a TOML table.
pub fn dict_to_table(prefix: &str, d: &Bound<'_, PyDict>) -> PyResult<toml::Table> {
    let mut t = toml::Table::new();
    for (k, v) in d.iter() {
        let k: String = k
            .extract()
            .map_err(|_| PyValueError::new_err(format!("`{prefix}`: keys must be strings")))?;
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        if v.is_none() {
            continue; // None: the key's default
        }
        t.insert(k, py_to_toml(&key, &v)?);
    }
    Ok(t)
}

/// Progress reports and Ctrl-C checks from inside a GIL-free computation: [`Progress::tick`]
/// with the work done so far re-acquires the GIL only about 100 times per run. Ticks may
/// come from several threads (one at a time, e.g. under a lock); the callback is called at
/// the 1 % marks from whichever thread reaches them, and Ctrl-C (which Python only sees on
/// its main thread) is checked about every 1 % of the ticks made on the creating thread, and
/// with [`Progress::signals_every`] also whenever that interval has passed there.
pub struct Progress {
    callback: Option<Py<PyAny>>,
    total: f64,
    next: f64,
    /// The creating thread, and the next `done` at which it checks for Ctrl-C.
    owner: std::thread::ThreadId,
    next_signals: f64,
    /// Optional wall-clock interval of Ctrl-C checks, and when the next one is due.
    signal_interval: Option<(std::time::Duration, std::time::Instant)>,
    /// The first error raised by the callback or a signal handler (the run stops).
    pub error: Option<PyErr>,
}

impl Progress {
    /// `callback(done, total)` (optional) for work measured from 0 to `total`.
    pub fn new(callback: Option<Py<PyAny>>, total: f64) -> Self {
        Self {
            callback,
            total,
            next: 0.0,
            owner: std::thread::current().id(),
            next_signals: 0.0,
            signal_interval: None,
            error: None,
        }
    }

    /// Also check for Ctrl-C whenever `interval` has passed since the last check (for work
    /// whose ticks are slow enough, ~1 ms, that reading the clock at each costs nothing), so
    /// that Ctrl-C stops a long run within about `interval` plus one tick.
    pub fn signals_every(mut self, interval: std::time::Duration) -> Self {
        self.signal_interval = Some((interval, std::time::Instant::now() + interval));
        self
    }

    /// Reports `done` when it passed the next 1 % mark (or reached `total`); returns
    /// false when the run must stop (the callback raised, or Ctrl-C).
    pub fn tick(&mut self, done: f64) -> bool {
        if self.error.is_some() {
            return false;
        }
        let report = done >= self.next || done >= self.total;
        // the cheap tests first: no clock or thread lookup between the marks without an interval
        let signals = (done >= self.next_signals
            || self
                .signal_interval
                .is_some_and(|(_, at)| std::time::Instant::now() >= at))
            && std::thread::current().id() == self.owner;
        if !report && !signals {
            return true;
        }
        if report {
            self.next = done + self.total / 100.0;
        }
        if signals {
            self.next_signals = done + self.total / 100.0;
            if let Some((every, at)) = self.signal_interval.as_mut() {
                *at = std::time::Instant::now() + *every;
            }
        }
        let (total, cb) = (self.total, self.callback.as_ref().filter(|_| report));
        let r = Python::attach(|py| -> PyResult<()> {
            py.check_signals()?;
            if let Some(cb) = cb {
                cb.call1(py, (done, total))?;
            }
            Ok(())
        });
        match r {
            Ok(()) => true,
            Err(e) => {
                self.error = Some(e);
                false
            }
        }
    }
}
