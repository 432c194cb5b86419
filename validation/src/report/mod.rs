//! The reproduction report: `results.json` first, then CSV tables, plots (SVG and PNG), and
//! `report.md` / `report.html` that present a verdict per claim with numbers and intervals.
//!
//! [`summary::summarize`] turns per-run analyses into [`results::Results`];
//! [`write_report`] writes every artifact into a directory.

pub mod claims;
pub mod document;
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
use crate::io::write_atomic;
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
pub fn write_report(res: &mut Results, data: &[RunData], dir: &Path) -> Result<(), ReportError> {
    std::fs::create_dir_all(dir).map_err(|source| ReportError::Io {
        path: dir.display().to_string(),
        source,
    })?;
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
        doc.to_html("ffpe reproduction report").as_bytes(),
    )?;
    Ok(())
}
