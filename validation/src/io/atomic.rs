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
/// `.NAME.tmp-PID` beside `path`; it is removed when the write fails (a full disk, a lost
/// permission), and one left behind by a kill is harmless and is removed by
/// [`remove_stale_temporaries`] at the start of the next training session or reproduction.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{name}{TMP_TAG}{}", std::process::id()));
    let written = write_synced(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e)));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(dir)
}

/// What follows the target's name in the name of a temporary file, before the process id.
const TMP_TAG: &str = ".tmp-";

/// Write and fsync a new file.
fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    #[cfg(test)]
    let bytes = {
        let fit = disk::take(bytes.len());
        if fit < bytes.len() {
            f.write_all(&bytes[..fit]).map_err(|e| Error::io(path, e))?;
            return Err(Error::io(path, disk::full()));
        }
        bytes
    };
    f.write_all(bytes).map_err(|e| Error::io(path, e))?;
    f.sync_all().map_err(|e| Error::io(path, e))
}

/// Remove the temporary files of [`write_atomic`] (`.NAME.tmp-PID`) that an interrupted
/// write left in `dir` (not recursive). Meant for the start of a session that owns `dir`:
/// a write in progress in another process would lose its temporary. Errors are ignored (a
/// temporary that cannot be removed is only clutter).
pub fn remove_stale_temporaries(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            let ours = n.starts_with('.')
                && n.rsplit_once(TMP_TAG).is_some_and(|(_, pid)| {
                    !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit())
                });
            if ours && e.file_type().is_ok_and(|t| t.is_file()) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

/// A simulated full disk for the tests of this thread: [`write_atomic`] fails, as with
/// `ENOSPC`, once the bytes it wrote reach the free space set by [`disk::set_free`].
#[cfg(test)]
pub(crate) mod disk {
    use std::cell::Cell;

    thread_local! {
        static FREE: Cell<Option<usize>> = const { Cell::new(None) };
    }

    /// `Some(n)`: `n` bytes are left for the writes of this thread; `None`: unlimited.
    pub(crate) fn set_free(bytes: Option<usize>) {
        FREE.with(|f| f.set(bytes));
    }

    /// How many of `n` bytes still fit (and use them up).
    pub(super) fn take(n: usize) -> usize {
        FREE.with(|f| match f.get() {
            None => n,
            Some(left) => {
                f.set(Some(left.saturating_sub(n)));
                n.min(left)
            }
        })
    }

    /// The error of a write to a full disk.
    pub(super) fn full() -> std::io::Error {
        std::io::Error::new(
            std::io::ErrorKind::StorageFull,
            "No space left on device (simulated)",
        )
    }
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
    fn a_full_disk_keeps_the_old_file_and_leaves_no_temporary() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.csv");
        write_atomic(&p, b"old complete").unwrap();
        disk::set_free(Some(3));
        let e = write_atomic(&p, b"new and longer").unwrap_err().to_string();
        disk::set_free(None);
        assert!(
            e.contains("No space left") && e.contains(".a.csv.tmp-"),
            "{e}"
        );
        assert_eq!(std::fs::read(&p).unwrap(), b"old complete");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
        // a new file: none at all
        disk::set_free(Some(0));
        assert!(write_atomic(&d.path().join("b.csv"), b"x").is_err());
        disk::set_free(None);
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn stale_temporaries_are_removed_and_nothing_else() {
        let d = tempfile::tempdir().unwrap();
        let keep = [".hidden", "a.tmp-1", ".b.tmp-", ".c.tmp-12x", "report.md"];
        let stale = [".report.md.tmp-123", ".plot.png.tmp-9"];
        for n in keep.iter().chain(&stale) {
            std::fs::write(d.path().join(n), b"x").unwrap();
        }
        remove_stale_temporaries(d.path());
        let mut left: Vec<String> = std::fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        let mut want: Vec<String> = keep.iter().map(|s| s.to_string()).collect();
        want.sort();
        assert_eq!(left, want);
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
