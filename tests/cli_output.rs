//! The `ffpe` command's text outputs are machine-readable: table numbers parse as floats
//! (`1.234567e+00`, as C's `%e` and Python's `float()` write and read them), CSV files are
//! plain CSV (one header line, then rows of numbers of the same width), `ml` labels its
//! columns, `--out` says what it wrote, errors name the file, and no `--help` text refers
//! to the project's history ("issue N").

use std::path::{Path, PathBuf};
use std::process::Command;

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name)
}

fn ffpe(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ffpe"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A float as `float()` reads it, and in the `d.dddddde+XX` form where it is scientific.
fn check_number(tok: &str) {
    assert!(tok.parse::<f64>().is_ok(), "not a number: {tok:?}");
    if let Some((_, exp)) = tok.split_once('e') {
        assert!(
            (exp.starts_with('+') || exp.starts_with('-')) && exp.len() >= 3,
            "exponent without sign or two digits: {tok:?}"
        );
    }
}

#[test]
fn solve_table_numbers_parse_and_stop_reason_is_in_words() {
    let (ok, out, err) = ffpe(&["solve", example("ou_1d.toml").to_str().unwrap()]);
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].split_whitespace().next() == Some("t"), "{out}");
    let rows: Vec<&&str> = lines[1..]
        .iter()
        .take_while(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
        .collect();
    assert_eq!(rows.len(), 5, "{out}");
    for row in rows {
        for tok in row
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|t| !t.is_empty())
        {
            check_number(tok);
        }
    }
    assert!(out.contains("reached the final time"), "{out}");
    assert!(!out.contains("FinalTime"), "{out}");
}

#[test]
fn solve_out_writes_plain_csv_and_says_what_it_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("free_2d");
    let (ok, _, err) = ffpe(&[
        "solve",
        example("free_2d.toml").to_str().unwrap(),
        "--out",
        dest.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert!(
        err.contains("observables.csv") && err.contains("density_K.csv") && err.contains("free_2d"),
        "{err}"
    );
    let mut csvs: Vec<PathBuf> = std::fs::read_dir(&dest)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("csv"))
        .collect();
    csvs.sort();
    assert!(csvs.len() >= 2, "{csvs:?}");
    for path in csvs {
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        assert!(
            header
                .iter()
                .all(|h| h.chars().next().is_some_and(|c| c.is_ascii_alphabetic())),
            "{}: header {header:?}",
            path.display()
        );
        if path
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("density_")
        {
            assert_eq!(header, ["t", "x_0", "x_1", "p"], "{}", path.display());
        }
        let mut n = 0;
        for line in lines {
            let fields: Vec<&str> = line.split(',').collect();
            assert_eq!(fields.len(), header.len(), "{}: {line}", path.display());
            for f in fields.iter().filter(|f| !f.is_empty()) {
                assert!(f.parse::<f64>().is_ok(), "{}: {f:?}", path.display());
            }
            n += 1;
        }
        assert!(n > 0, "{}: no rows", path.display());
    }
}

#[test]
fn exact_option_shows_the_closed_form_and_a_small_error() {
    let (ok, out, err) = ffpe(&[
        "solve",
        example("ou_1d.toml").to_str().unwrap(),
        "--json",
        "--exact",
    ]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let e = &v["exact"];
    assert_eq!(e["times"].as_array().unwrap().len(), 5);
    // The fractional OU mean E_a(-t^a) from the Gaussian start at 2: the solve's error is
    // O(h^2) in space (h = 12/192 = 0.0625, h^2 = 3.9e-3, times the second derivative of the
    // density, below 1 here) plus O(N^-(2-a)) = 1024^-1.5 = 3e-5 in time; the box (+-6)
    // truncates nothing visible. So both errors lie well below h^2.
    let em = e["max_error_mean"].as_f64().unwrap();
    let es = e["max_error_second_moment"].as_f64().unwrap();
    assert!(
        em < 3.9e-3 && es < 3.9e-3,
        "mean error {em}, second-moment error {es}"
    );
    // and the table form prints the same comparison
    let (ok, out, err) = ffpe(&["solve", example("ou_1d.toml").to_str().unwrap(), "--exact"]);
    assert!(ok && out.contains("exact continuum moments"), "{err}{out}");
    // no closed form: a clear error naming the option
    let (ok, _, err) = ffpe(&[
        "solve",
        example("double_well_1d.toml").to_str().unwrap(),
        "--exact",
    ]);
    assert!(!ok && err.contains("--exact"), "{err}");
}

#[test]
fn ml_labels_its_columns() {
    let (ok, out, err) = ffpe(&["ml", "--alpha", "0.5", "--", "-1", "0.5,1"]);
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "z E_{0.5,1}(z)");
    assert_eq!(lines.len(), 3);
    for line in &lines[1..] {
        for tok in line.split(|c: char| c.is_whitespace() || c == ',') {
            check_number(tok);
        }
    }
}

#[test]
fn a_missing_problem_file_is_named_in_the_error() {
    let (ok, _, err) = ffpe(&["solve", "/nonexistent/problem.toml"]);
    assert!(!ok);
    assert!(err.contains("/nonexistent/problem.toml"), "{err}");
}

#[test]
fn help_texts_speak_of_the_product_not_its_history() {
    for args in [
        vec!["--help"],
        vec!["solve", "--help"],
        vec!["steady", "--help"],
        vec!["exponent", "--help"],
        vec!["ml", "--help"],
    ] {
        let (ok, out, err) = ffpe(&args);
        assert!(ok, "{args:?}: {err}");
        let lower = out.to_lowercase();
        assert!(
            !lower
                .split("issue")
                .skip(1)
                .any(|rest| rest.trim_start().starts_with(|c: char| c.is_ascii_digit())),
            "{args:?} mentions an issue number: {out}"
        );
    }
}
