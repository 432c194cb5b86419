//! `ffpe solve --json` on every file in `examples/` gives the numbers committed in
//! `tests/golden/solve/` bit for bit (wall time and memory aside): the outputs of the code
//! before the layout move, so that refactors provably change no number.

#[path = "support/golden.rs"]
mod golden;

#[test]
fn solve_json_of_every_example_equals_the_golden_output() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<_> = std::fs::read_dir(root.join("examples"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("toml"))
        .collect();
    names.sort();
    assert!(
        names.len() >= 8,
        "expected the example files, found {}",
        names.len()
    );
    let mut failures = Vec::new();
    for path in &names {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_ffpe"))
            .args(["solve", path.to_str().unwrap(), "--json"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let stem = path.file_stem().unwrap().to_str().unwrap();
        let diffs = golden::compare_with_golden(
            &root.join("tests/golden/solve").join(format!("{stem}.json")),
            &v,
        );
        if !diffs.is_empty() {
            failures.push(format!("{stem}: {:?}", &diffs[..diffs.len().min(10)]));
        }
    }
    assert!(
        failures.is_empty(),
        "differences from the golden outputs: {failures:#?}"
    );
}
