//! The reproduction report: `results.json` first, then CSV tables, plots (SVG and PNG), and
//! `report.md` / `report.html` that present a verdict per claim with numbers and intervals.
//!
//! [`summary::summarize`] turns per-run analyses into [`results::Results`];
//! [`write_report`] writes every artifact into a directory.

pub mod claims;
pub mod document;
pub mod external;
pub mod format;
pub mod plots;
pub mod results;
pub mod summary;

mod ensembles;
mod figures;
mod markdown;
mod tables;

use figures::*;
use markdown::*;
use tables::*;

use crate::analysis::run::RunData;
use crate::io::{remove_stale_temporaries, write_atomic};
use document::Document;
use format::{num, opt};
use plots::{Chart, Series, Style, render};
use results::Results;
use std::fmt::Write as _;
use std::path::Path;

/// Errors of report writing.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A plot could not be drawn.
    #[error("plot {name}: {why}")]
    Plot {
        /// The plot.
        name: String,
        /// The cause.
        why: String,
    },
    /// JSON serialisation failed.
    #[error("results.json: {0}")]
    Json(#[from] serde_json::Error),
    /// Writing a file failed ([`crate::io::write_atomic`]).
    #[error(transparent)]
    Write(#[from] crate::error::Error),
}

fn ci(c: &Option<crate::analysis::stats::ConfidenceInterval>) -> String {
    c.as_ref().map_or_else(
        || "n/a".into(),
        |c| format!("[{}, {}]", num(c.lo), num(c.hi)),
    )
}

/// Writes every artifact of the report into `dir` (created if needed) and records the file
/// names in `res.files`.
///
/// Every file is written with [`write_atomic`]: after a failure (a full disk, say) each file
/// is the previous complete version or the new one, or absent when there was none, and no
/// temporary file remains. Temporaries that an interrupted earlier run left in `dir` and
/// `dir/plots` are removed first.
pub fn write_report(res: &mut Results, data: &[RunData], dir: &Path) -> Result<(), ReportError> {
    std::fs::create_dir_all(dir).map_err(|source| ReportError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    remove_stale_temporaries(dir);
    remove_stale_temporaries(&dir.join("plots"));
    let mut files = Vec::new();
    for (name, content) in csv_tables(res, data) {
        write_atomic(&dir.join(&name), content.as_bytes())?;
        files.push(name);
    }
    let plot_dir = dir.join("plots");
    std::fs::create_dir_all(&plot_dir).map_err(|source| ReportError::Io {
        path: plot_dir.display().to_string(),
        source,
    })?;
    let mut figure_files = Vec::new();
    for (name, chart, caption) in figures(res, data) {
        let written = render(&plot_dir, &name, &chart).map_err(|why| ReportError::Plot {
            name: name.clone(),
            why,
        })?;
        for w in &written {
            files.push(format!("plots/{w}"));
        }
        figure_files.push((format!("plots/{name}.svg"), caption));
    }
    files.push("results.json".into());
    files.push("report.md".into());
    files.push("report.html".into());
    res.files = files;
    write_atomic(
        &dir.join("results.json"),
        serde_json::to_string_pretty(res)?.as_bytes(),
    )?;
    let doc = document(res, &figure_files);
    write_atomic(&dir.join("report.md"), doc.to_markdown().as_bytes())?;
    write_atomic(
        &dir.join("report.html"),
        doc.to_html(if res.meta.preset == external::ANALYZE_PRESET {
            "ffpe analysis of training runs"
        } else {
            "ffpe reproduction report"
        })
        .as_bytes(),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::atomic::disk;
    use std::collections::BTreeMap;

    /// One run whose numbers depend on `k`.
    fn run(k: f64) -> RunData {
        let t: Vec<f64> = (0..12).map(|i| 2f64.powi(i)).collect();
        RunData {
            id: "784-8-10-sgd-0".into(),
            arch: "784-8-10".into(),
            seed: 0,
            n_params: 6370,
            steps: 2048,
            r: t.iter().map(|x| k * x.powf(0.3)).collect(),
            train_loss: t.iter().map(|x| k / (1.0 + x)).collect(),
            llc_t: t.clone(),
            llc: t.iter().map(|x| k * (10.0 + x.ln())).collect(),
            t,
            test_accuracy: 90.0 + k,
            test_loss: 0.3 * k,
            ..Default::default()
        }
    }

    /// Every file under `dir` (relative name -> bytes).
    fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
        let mut out = BTreeMap::new();
        for sub in ["", "plots"] {
            // `plots/` is created after the tables: absent when the disk was full before
            let Ok(entries) = std::fs::read_dir(dir.join(sub)) else {
                continue;
            };
            for e in entries {
                let e = e.unwrap();
                if e.file_type().unwrap().is_file() {
                    let name = Path::new(sub).join(e.file_name());
                    out.insert(
                        name.to_string_lossy().into_owned(),
                        std::fs::read(e.path()).unwrap(),
                    );
                }
            }
        }
        out
    }

    fn write(k: f64, dir: &Path) -> Result<(), ReportError> {
        write_report(&mut Results::default(), &[run(k)], dir)
    }

    #[test]
    fn a_full_disk_leaves_complete_files_and_no_temporary() {
        let (old_dir, new_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        write(1.0, old_dir.path()).unwrap();
        write(2.0, new_dir.path()).unwrap();
        let (old, new) = (files(old_dir.path()), files(new_dir.path()));
        assert!(new.keys().any(|n| n.ends_with(".png")), "{:?}", new.keys());
        assert!(new.keys().any(|n| n.ends_with(".csv")), "{:?}", new.keys());
        assert_eq!(
            old.keys().collect::<Vec<_>>(),
            new.keys().collect::<Vec<_>>()
        );
        let total: usize = new.values().map(Vec::len).sum();
        for free in [0, 100, total / 3, 2 * total / 3, total - 1] {
            // over an earlier report: each file the old one or the new one, whole
            let d = tempfile::tempdir().unwrap();
            write(1.0, d.path()).unwrap();
            disk::set_free(Some(free));
            let e = write(2.0, d.path());
            disk::set_free(None);
            let e = e.unwrap_err().to_string();
            assert!(e.contains("No space left on device"), "{e}");
            let got = files(d.path());
            assert_eq!(
                got.keys().collect::<Vec<_>>(),
                old.keys().collect::<Vec<_>>()
            );
            for (name, bytes) in &got {
                assert!(
                    *bytes == old[name] || *bytes == new[name],
                    "{name} is neither the old nor the new file after a full disk at {free} bytes"
                );
            }
            // into an empty directory: the new files, whole, or none
            let d = tempfile::tempdir().unwrap();
            disk::set_free(Some(free));
            assert!(write(2.0, d.path()).is_err());
            disk::set_free(None);
            for (name, bytes) in files(d.path()) {
                assert!(bytes == new[&name], "{name} is partial");
            }
        }
    }

    #[test]
    fn stale_temporaries_are_removed_before_writing() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("plots")).unwrap();
        std::fs::write(d.path().join(".report.md.tmp-4242"), b"partial").unwrap();
        std::fs::write(d.path().join("plots/.r.png.tmp-4242"), b"partial").unwrap();
        write(1.0, d.path()).unwrap();
        assert!(files(d.path()).keys().all(|n| !n.contains(".tmp-")));
    }
}
