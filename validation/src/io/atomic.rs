//! The one atomic write of the crate, and a JSON cache keyed by configuration.
//!
//! Every file the product writes (checkpoints, resume files, run records, reports, caches,
//! shard manifests) goes through [`write_atomic`]: a temporary file in the same directory,
//! written and fsync'd, renamed over the target, then the directory fsync'd so that the rename
//! itself survives a crash. A reader, or a restart after `kill -9` or a power cut, sees the old
//! or the new file, never a partial one.

use crate::error::{Error, Result};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::io::Write;
use std::path::Path;

/// Write `bytes` to `path` atomically and durably (see the module docs). The temporary file is
/// `.NAME.tmp-PID` beside `path`; one left behind by a kill is harmless and is removed by the
/// next training session of the directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let mut f = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    f.write_all(bytes).map_err(|e| Error::io(&tmp, e))?;
    f.sync_all().map_err(|e| Error::io(&tmp, e))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
    sync_dir(dir)
}

/// fsync a directory (its entries: a rename into it). Platforms that cannot open a directory
/// for this (Windows) skip it.
fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        let d = std::fs::File::open(dir).map_err(|e| Error::io(dir, e))?;
        d.sync_all().map_err(|e| Error::io(dir, e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// A value cached in a JSON file together with the key (configuration) it was computed for:
/// the file holds `[key, value]`. [`JsonCache::get`] returns the value only when the file exists,
/// parses and holds the same key; [`JsonCache::put`] writes atomically.
#[derive(Clone, Copy, Debug)]
pub struct JsonCache<'a> {
    path: &'a Path,
}

impl<'a> JsonCache<'a> {
    /// The cache in `path`.
    pub fn new(path: &'a Path) -> Self {
        JsonCache { path }
    }

    /// The cached value of `key`, if any.
    pub fn get<K, V>(&self, key: &K) -> Option<V>
    where
        K: DeserializeOwned + PartialEq,
        V: DeserializeOwned,
    {
        let txt = std::fs::read_to_string(self.path).ok()?;
        let (k, v): (K, V) = serde_json::from_str(&txt).ok()?;
        (k == *key).then_some(v)
    }

    /// Store `value` for `key`.
    pub fn put<K: Serialize, V: Serialize>(&self, key: &K, value: &V) -> Result<()> {
        write_atomic(self.path, serde_json::to_string(&(key, value))?.as_bytes())
    }

    /// The cached value of `key`, or `compute()` stored for it.
    pub fn get_or<K, V, E>(
        &self,
        key: &K,
        compute: impl FnOnce() -> std::result::Result<V, E>,
    ) -> std::result::Result<V, E>
    where
        K: Serialize + DeserializeOwned + PartialEq,
        V: Serialize + DeserializeOwned,
        E: From<Error>,
    {
        if let Some(v) = self.get(key) {
            return Ok(v);
        }
        let v = compute()?;
        self.put(key, &v)?;
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replace_and_leave_no_temporaries() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn cache_is_keyed_by_configuration() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("c.json");
        let c = JsonCache::new(&p);
        assert_eq!(c.get::<u32, f64>(&1), None);
        c.put(&1u32, &2.5f64).unwrap();
        assert_eq!(c.get::<u32, f64>(&1), Some(2.5));
        assert_eq!(c.get::<u32, f64>(&2), None);
        let v: Result<f64> = c.get_or(&2u32, || Ok(4.0));
        assert_eq!(v.unwrap().to_bits(), 4f64.to_bits());
        assert_eq!(c.get::<u32, f64>(&2), Some(4.0));
    }
}
