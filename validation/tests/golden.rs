//! `reproduce --preset tiny` gives the `results.json` committed in
//! `validation/tests/golden/tiny-results.json` bit for bit (wall time and run counters
//! aside): the output of the code before the layout move, so that refactors provably
//! change no number.

#[path = "../../tests/support/golden.rs"]
mod golden;

use ffpe_validation::reproduce::{Preset, ReproduceOptions, reproduce};

#[test]
fn tiny_results_json_equals_the_golden_output() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = ReproduceOptions::new(Preset::tiny(), dir.path().to_path_buf());
    opts.progress = false;
    reproduce(&opts).unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("results.json")).unwrap())
            .unwrap();
    let diffs = golden::compare_with_golden(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/tiny-results.json"),
        &v,
    );
    assert!(
        diffs.is_empty(),
        "{} differences from the golden results.json, first: {:#?}",
        diffs.len(),
        &diffs[..diffs.len().min(20)]
    );
}
