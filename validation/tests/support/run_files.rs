//! The files of a run directory that two equal runs must write bit for bit (summary.json
//! holds timings and is left out). Shared by the integration tests that compare runs.

#![allow(dead_code)] // each test crate uses part of it

use std::path::Path;

/// The records of a run trained with the minibatch-loss window (`train`'s default).
pub const RECORDS: [&str; 3] = ["metrics.csv", "minibatch_losses.csv", "llc.csv"];

/// `(file name, bytes)` of `records` in `dir`, then of every checkpoint in name order.
pub fn run_files(dir: &Path, records: &[&str]) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = records
        .iter()
        .map(|name| (name.to_string(), std::fs::read(dir.join(name)).unwrap()))
        .collect();
    let mut cks: Vec<_> = std::fs::read_dir(dir.join("checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cks.sort();
    for p in cks {
        v.push((
            p.file_name().unwrap().to_string_lossy().into_owned(),
            std::fs::read(&p).unwrap(),
        ));
    }
    v
}
