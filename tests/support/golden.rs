//! Bit-for-bit comparison of a JSON output with a committed golden file, for refactors
//! that must not change any number. Shared by `tests/golden.rs` (the `ffpe` examples) and
//! `validation/tests/golden.rs` (`reproduce --preset tiny`).
//!
//! Every number of the golden file must be present at the same place in the new output
//! with the same bits; keys that measure the machine (wall time, memory, run counters) are
//! skipped; keys the new output adds are allowed. `FFPE_GOLDEN_UPDATE=1` rewrites the
//! golden files instead (only when an intended change is documented in the commit).

use serde_json::Value;
use std::path::Path;

/// Keys that measure the machine or the invocation, not the computation.
fn skipped(key: &str) -> bool {
    const PARTS: [&str; 8] = [
        "seconds",
        "wall",
        "rss",
        "peak",
        "elapsed",
        "runs_trained",
        "runs_reused",
        "rank_stats",
    ];
    PARTS.iter().any(|p| key.contains(p))
}

fn walk(path: &str, golden: &Value, new: &Value, diffs: &mut Vec<String>) {
    match (golden, new) {
        (Value::Object(g), Value::Object(n)) => {
            for (k, gv) in g {
                if skipped(k) {
                    continue;
                }
                match n.get(k) {
                    Some(nv) => walk(&format!("{path}.{k}"), gv, nv, diffs),
                    None => diffs.push(format!("{path}.{k}: missing")),
                }
            }
        }
        (Value::Array(g), Value::Array(n)) => {
            if g.len() != n.len() {
                diffs.push(format!("{path}: length {} vs {}", g.len(), n.len()));
                return;
            }
            for (i, (gv, nv)) in g.iter().zip(n).enumerate() {
                walk(&format!("{path}[{i}]"), gv, nv, diffs);
            }
        }
        (Value::Number(g), Value::Number(n)) => {
            let (a, b) = (
                g.as_f64().unwrap_or(f64::NAN),
                n.as_f64().unwrap_or(f64::NAN),
            );
            if a.to_bits() != b.to_bits() {
                diffs.push(format!("{path}: {g} vs {n}"));
            }
        }
        (g, n) => {
            if g != n {
                diffs.push(format!("{path}: {g} vs {n}"));
            }
        }
    }
}

/// Compares `new` with the golden file `golden` (or rewrites it under
/// `FFPE_GOLDEN_UPDATE=1`); returns the differences, empty when equal.
pub fn compare_with_golden(golden: &Path, new: &Value) -> Vec<String> {
    if std::env::var_os("FFPE_GOLDEN_UPDATE").is_some() {
        std::fs::create_dir_all(golden.parent().expect("golden file has a parent")).unwrap();
        std::fs::write(golden, serde_json::to_string_pretty(new).unwrap() + "\n").unwrap();
        return Vec::new();
    }
    let text = std::fs::read_to_string(golden)
        .unwrap_or_else(|e| panic!("{}: {e} (FFPE_GOLDEN_UPDATE=1 writes it)", golden.display()));
    let g: Value = serde_json::from_str(&text).unwrap();
    let mut diffs = Vec::new();
    walk("$", &g, new, &mut diffs);
    diffs
}
