//! Per-step metrics of runs analysed from their checkpoints (`ffpe-validate analyze --metrics`):
//! training losses, test losses and LLC estimates from a CSV file, joined to the checkpoints by
//! step.
//!
//! - **Columns**: a header row, then one row per logged step. `step` (also `global_step`) is
//!   required; any of `loss` (also `train_loss`), `test_loss` (also `val_loss`) and `llc` (also
//!   `llc/mean` and `llc_mean`: devinterp's `LLCEstimator` reports its estimate under the key
//!   `llc/mean`, so a table of its results per checkpoint has that column) may follow, and a
//!   `run` column names the run of each row when one file holds several runs. Other columns are
//!   ignored. [`MetricColumns`] maps other names (`--metrics-column llc=my_llc`).
//! - **Cells**: the step a non-negative integer (`300` or `300.0`); a value a finite number; an
//!   empty cell is a missing value (pandas writes a missing value so). A malformed cell, a
//!   non-finite value (`nan`, `inf`), a step given twice for the same run and quantity, or a
//!   row of the wrong length is an error naming the file, the line and the column.
//! - **Join**: a loss is used at the checkpoints whose step it was logged at (exactly; no
//!   interpolation); the LLC estimates are used at their own steps (the time average
//!   `lambda_bar` over the late window weights them by time).

use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Names accepted for each quantity when [`MetricColumns`] does not map it.
const STEP: &[&str] = &["step", "global_step"];
const LOSS: &[&str] = &["loss", "train_loss"];
const TEST_LOSS: &[&str] = &["test_loss", "val_loss"];
const LLC: &[&str] = &["llc", "llc/mean", "llc_mean"];
const RUN: &[&str] = &["run"];

/// Which column holds each quantity (`None`: the accepted names of the module docs).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetricColumns {
    /// The step column.
    pub step: Option<String>,
    /// The training loss column.
    pub loss: Option<String>,
    /// The test loss column.
    pub test_loss: Option<String>,
    /// The LLC column.
    pub llc: Option<String>,
    /// The run column.
    pub run: Option<String>,
}

impl MetricColumns {
    /// Sets one mapping from `QUANTITY=COLUMN` (`step`, `loss`, `test_loss`, `llc`, `run`).
    pub fn set(&mut self, mapping: &str) -> Result<()> {
        let bad = || {
            Error::config(
                "metrics column",
                mapping,
                "QUANTITY=COLUMN with QUANTITY one of step, loss, test_loss, llc, run",
            )
        };
        let (q, c) = mapping.split_once('=').ok_or_else(bad)?;
        let c = Some(c.trim().to_string()).filter(|c| !c.is_empty());
        let slot = match q.trim() {
            "step" => &mut self.step,
            "loss" => &mut self.loss,
            "test_loss" => &mut self.test_loss,
            "llc" => &mut self.llc,
            "run" => &mut self.run,
            _ => return Err(bad()),
        };
        *slot = Some(c.ok_or_else(bad)?);
        Ok(())
    }
}

/// One run's metrics by step.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunMetrics {
    /// Training loss by step.
    pub loss: BTreeMap<u64, f64>,
    /// Test loss by step.
    pub test_loss: BTreeMap<u64, f64>,
    /// LLC estimate by step.
    pub llc: BTreeMap<u64, f64>,
}

impl RunMetrics {
    /// No value at all.
    pub fn is_empty(&self) -> bool {
        self.loss.is_empty() && self.test_loss.is_empty() && self.llc.is_empty()
    }
}

/// The metrics of one file: per run name (`None` when the file has no run column), in the
/// order the runs first appear.
pub type MetricsFile = Vec<(Option<String>, RunMetrics)>;

fn err(path: &Path, line: u64, column: Option<&str>, what: impl Into<String>) -> Error {
    Error::Metrics {
        path: path.to_path_buf(),
        line,
        column: column.map(str::to_string),
        what: what.into(),
    }
}

/// Reads a metrics file (see the module docs).
pub fn read_metrics(path: &Path, cols: &MetricColumns) -> Result<MetricsFile> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut rd = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(file);
    let header = rd
        .headers()
        .map_err(|e| err(path, 1, None, format!("unreadable header: {e}")))?
        .clone();
    let names: Vec<&str> = header.iter().collect();
    // the column of a quantity: the mapped name (which must exist) or the first accepted one
    let find = |mapped: &Option<String>, accepted: &[&str]| -> Result<Option<usize>> {
        match mapped {
            Some(m) => names.iter().position(|n| n == m).map(Some).ok_or_else(|| {
                err(
                    path,
                    1,
                    Some(m),
                    format!("no such column (the header has: {})", names.join(", ")),
                )
            }),
            None => Ok(accepted
                .iter()
                .find_map(|a| names.iter().position(|n| n == a))),
        }
    };
    let step = find(&cols.step, STEP)?.ok_or_else(|| {
        err(
            path,
            1,
            None,
            format!(
                "no step column: expected one named {} (or --metrics-column step=NAME); the header has: {}",
                STEP.join(" or "),
                names.join(", ")
            ),
        )
    })?;
    let value_cols: Vec<(usize, usize)> = [
        find(&cols.loss, LOSS)?,
        find(&cols.test_loss, TEST_LOSS)?,
        find(&cols.llc, LLC)?,
    ]
    .into_iter()
    .enumerate()
    .filter_map(|(q, c)| c.map(|c| (q, c)))
    .collect();
    if value_cols.is_empty() {
        return Err(err(
            path,
            1,
            None,
            format!(
                "no metric column: expected at least one of {}, {} or {} (or --metrics-column); the header has: {}",
                LOSS.join("/"),
                TEST_LOSS.join("/"),
                LLC.join("/"),
                names.join(", ")
            ),
        ));
    }
    let run = find(&cols.run, RUN)?;
    let mut out: MetricsFile = vec![];
    // (run, quantity, step) -> the line that gave it, to name both lines of a duplicate
    let mut seen: BTreeMap<(usize, usize, u64), u64> = BTreeMap::new();
    for rec in rd.records() {
        let rec = rec.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            let what = match e.kind() {
                csv::ErrorKind::UnequalLengths {
                    expected_len, len, ..
                } => format!("{len} fields where the header has {expected_len}"),
                _ => e.to_string(),
            };
            err(path, line, None, what)
        })?;
        let line = rec.position().map_or(0, |p| p.line());
        let name = |c: usize| names[c];
        let s = rec.get(step).unwrap_or("");
        let st = parse_step(s).ok_or_else(|| {
            err(
                path,
                line,
                Some(name(step)),
                format!("step {s:?}: expected a non-negative integer"),
            )
        })?;
        let who = run.map(|c| rec.get(c).unwrap_or("").to_string());
        if let (Some(c), Some("")) = (run, who.as_deref()) {
            return Err(err(path, line, Some(name(c)), "empty run name"));
        }
        let k = match out.iter().position(|(r, _)| *r == who) {
            Some(k) => k,
            None => {
                out.push((who, RunMetrics::default()));
                out.len() - 1
            }
        };
        for &(q, c) in &value_cols {
            let cell = rec.get(c).unwrap_or("");
            if cell.is_empty() {
                continue;
            }
            let v: f64 = cell.parse().map_err(|_| {
                err(
                    path,
                    line,
                    Some(name(c)),
                    format!("{cell:?} is not a number"),
                )
            })?;
            if !v.is_finite() {
                return Err(err(
                    path,
                    line,
                    Some(name(c)),
                    format!("{cell:?} is not finite (leave the cell empty for a missing value)"),
                ));
            }
            if let Some(first) = seen.insert((k, q, st), line) {
                return Err(err(
                    path,
                    line,
                    Some(name(c)),
                    format!("step {st} given twice (also on line {first})"),
                ));
            }
            let m = &mut out[k].1;
            let map = match q {
                0 => &mut m.loss,
                1 => &mut m.test_loss,
                _ => &mut m.llc,
            };
            map.insert(st, v);
        }
    }
    if out.iter().all(|(_, m)| m.is_empty()) {
        return Err(err(path, 0, None, "no value in any row"));
    }
    Ok(out)
}

/// A step cell: a non-negative integer, also written as a float with no fraction (`300.0`).
fn parse_step(s: &str) -> Option<u64> {
    if let Ok(v) = s.parse::<u64>() {
        return Some(v);
    }
    let f: f64 = s.parse().ok()?;
    // integers up to 2^53 are exact in f64
    (f.is_finite() && f >= 0.0 && f.fract() == 0.0 && f < 9.0e15).then_some(f as u64)
}

/// The metrics of each run of `runs` from the files `files`: one file per run, in order, when
/// no file has a run column; otherwise every file's rows go to the run its run column names
/// (the directory as given, or its last component). Runs without metrics get `None`.
pub fn assign(
    files: &[PathBuf],
    runs: &[PathBuf],
    cols: &MetricColumns,
) -> Result<Vec<Option<RunMetrics>>> {
    let mut out: Vec<Option<RunMetrics>> = vec![None; runs.len()];
    if files.is_empty() {
        return Ok(out);
    }
    let read: Vec<(PathBuf, MetricsFile)> = files
        .iter()
        .map(|f| Ok((f.clone(), read_metrics(f, cols)?)))
        .collect::<Result<_>>()?;
    let named = read.iter().any(|(_, m)| m.iter().any(|(r, _)| r.is_some()));
    if !named {
        if files.len() != runs.len() {
            return Err(Error::config(
                "--metrics",
                format!("{} files for {} runs", files.len(), runs.len()),
                "one file per run, in the order of the runs, or files with a run column",
            ));
        }
        for (slot, (_, mut m)) in out.iter_mut().zip(read) {
            *slot = m.pop().map(|x| x.1);
        }
        return Ok(out);
    }
    let label = |p: &Path| {
        p.file_name()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default()
    };
    for (path, m) in read {
        for (who, metrics) in m {
            let Some(who) = who else {
                return Err(err(
                    &path,
                    1,
                    None,
                    "no run column, where another metrics file has one: give every file a run column, or one file per run",
                ));
            };
            let matches: Vec<usize> = (0..runs.len())
                .filter(|&k| {
                    runs[k].to_string_lossy() == who.as_str() || label(&runs[k]) == who.as_str()
                })
                .collect();
            let k = match matches.as_slice() {
                [k] => *k,
                [] => {
                    return Err(err(
                        &path,
                        0,
                        Some("run"),
                        format!(
                            "run {who:?} is none of the runs analysed ({})",
                            runs.iter()
                                .map(|r| r.display().to_string())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ));
                }
                _ => {
                    return Err(err(
                        &path,
                        0,
                        Some("run"),
                        format!("run {who:?} names several runs: use the directories as given"),
                    ));
                }
            };
            let slot = out[k].get_or_insert_with(RunMetrics::default);
            for (dst, src) in [
                (&mut slot.loss, metrics.loss),
                (&mut slot.test_loss, metrics.test_loss),
                (&mut slot.llc, metrics.llc),
            ] {
                for (s, v) in src {
                    if dst.insert(s, v).is_some() {
                        return Err(err(
                            &path,
                            0,
                            Some("run"),
                            format!("run {who:?}: step {s} given in two files"),
                        ));
                    }
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn reads_columns_aliases_and_missing_cells() {
        let d = tempfile::tempdir().unwrap();
        let p = file(
            d.path(),
            "m.csv",
            "step,loss,llc/mean,other\n0,2.5,,x\n10.0,1.25,3.5,y\n20,,4.0,z\n",
        );
        let m = read_metrics(&p, &MetricColumns::default()).unwrap();
        assert_eq!(m.len(), 1);
        let (run, m) = &m[0];
        assert!(run.is_none());
        assert_eq!(m.loss.keys().copied().collect::<Vec<_>>(), vec![0, 10]);
        assert_eq!(m.loss[&10].to_bits(), 1.25f64.to_bits());
        assert_eq!(m.llc.keys().copied().collect::<Vec<_>>(), vec![10, 20]);
        assert!(m.test_loss.is_empty());
        // a mapping
        let p = file(d.path(), "n.csv", "iteration,my_llc\n5,1.0\n");
        let mut c = MetricColumns::default();
        c.set("step=iteration").unwrap();
        c.set("llc=my_llc").unwrap();
        let m = read_metrics(&p, &c).unwrap();
        assert_eq!(m[0].1.llc[&5].to_bits(), 1.0f64.to_bits());
        assert!(c.set("lr=x").is_err() && c.set("llc").is_err() && c.set("llc=").is_err());
    }

    #[test]
    fn malformed_files_name_file_line_and_column() {
        let d = tempfile::tempdir().unwrap();
        let e = |text: &str| {
            let p = file(d.path(), "bad.csv", text);
            read_metrics(&p, &MetricColumns::default())
                .unwrap_err()
                .to_string()
        };
        let m = e("step,loss\n0,1.0\n10,abc\n");
        assert!(
            m.contains("bad.csv") && m.contains("line 3") && m.contains("column loss"),
            "{m}"
        );
        let m = e("step,loss\n0,1.0\n-5,2.0\n");
        assert!(m.contains("line 3") && m.contains("column step"), "{m}");
        let m = e("step,loss\n0,1.0\n1.5,2.0\n");
        assert!(
            m.contains("line 3") && m.contains("non-negative integer"),
            "{m}"
        );
        let m = e("step,loss\n0,1.0\n10,inf\n");
        assert!(m.contains("line 3") && m.contains("not finite"), "{m}");
        let m = e("step,loss\n0,1.0\n0,2.0\n");
        assert!(
            m.contains("line 3") && m.contains("given twice") && m.contains("line 2"),
            "{m}"
        );
        let m = e("step,loss\n0,1.0\n10,2.0,3.0\n");
        assert!(m.contains("line 3") && m.contains("3 fields"), "{m}");
        let m = e("iteration,loss\n0,1.0\n");
        assert!(m.contains("line 1") && m.contains("no step column"), "{m}");
        let m = e("step,accuracy\n0,1.0\n");
        assert!(m.contains("no metric column"), "{m}");
        let m = e("step,loss\n0,\n");
        assert!(m.contains("no value"), "{m}");
        let mut c = MetricColumns::default();
        c.set("llc=lambda").unwrap();
        let p = file(d.path(), "c.csv", "step,llc\n0,1\n");
        let m = read_metrics(&p, &c).unwrap_err().to_string();
        assert!(
            m.contains("column lambda") && m.contains("no such column"),
            "{m}"
        );
    }

    #[test]
    fn assigns_files_to_runs() {
        let d = tempfile::tempdir().unwrap();
        let runs = vec![d.path().join("a"), d.path().join("b"), d.path().join("c")];
        let one = file(
            d.path(),
            "all.csv",
            "run,step,loss\na,0,1.0\nb,0,2.0\na,10,0.5\n",
        );
        let m = assign(&[one], &runs, &MetricColumns::default()).unwrap();
        assert_eq!(m[0].as_ref().unwrap().loss.len(), 2);
        assert_eq!(m[1].as_ref().unwrap().loss[&0].to_bits(), 2.0f64.to_bits());
        assert!(m[2].is_none());
        let bad = file(d.path(), "x.csv", "run,step,loss\nz,0,1.0\n");
        let e = assign(&[bad], &runs, &MetricColumns::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("x.csv") && e.contains("\"z\""), "{e}");
        // one file per run, in order
        let f: Vec<PathBuf> = (0..3)
            .map(|k| file(d.path(), &format!("{k}.csv"), &format!("step,llc\n0,{k}\n")))
            .collect();
        let m = assign(&f, &runs, &MetricColumns::default()).unwrap();
        assert_eq!(m[2].as_ref().unwrap().llc[&0].to_bits(), 2.0f64.to_bits());
        let e = assign(&f[..2], &runs, &MetricColumns::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("2 files for 3 runs"), "{e}");
    }
}
