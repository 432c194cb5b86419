//! Bad input tried as a hostile user would: problem files inside every documented range
//! that ask for more memory or work than a machine has, an unbounded file, extreme
//! Mittag-Leffler parameters. Each ends quickly with exit code 1 or 2 and a message
//! naming the key (and, for the resource budget, the estimate), or gives a correct value.
//! The time bound is generous (the tests run beside other builds): what is asserted is
//! that nothing runs for minutes or allocates gigabytes.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn example(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name);
    std::fs::read_to_string(p).unwrap()
}

/// `text` with `from` replaced by `to` (once; `from` must occur).
fn edit(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "{from:?} not in the text");
    text.replacen(from, to, 1)
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    took: Duration,
}

/// Runs `ffpe args` with a 1 GiB address-space cap where `prlimit` exists is not
/// portable; the budget is what keeps memory low, and the time bound shows it refused
/// before allocating.
fn ffpe(args: &[&str]) -> Run {
    let t0 = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_ffpe"))
        .args(args)
        .output()
        .unwrap();
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        took: t0.elapsed(),
    }
}

fn write_problem(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Solves `text` (with `extra` arguments) and asserts a quick refusal naming `keys`.
fn refused(text: &str, extra: &[&str], keys: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let p = write_problem(dir.path(), "p.toml", text);
    let mut args = vec!["solve", p.to_str().unwrap()];
    args.extend_from_slice(extra);
    let r = ffpe(&args);
    assert!(
        matches!(r.code, Some(1 | 2)),
        "exit {:?}, stderr {}, stdout {}",
        r.code,
        r.stderr,
        r.stdout
    );
    for k in keys {
        assert!(r.stderr.contains(k), "{k:?} not in: {}", r.stderr);
    }
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    assert!(r.took < Duration::from_secs(10), "took {:?}", r.took);
    r.stderr
}

#[test]
fn huge_grids_are_refused_by_the_memory_or_work_budget() {
    let ou = example("ou_1d.toml");
    for cells in ["2147483647", "1000000000"] {
        let e = refused(
            &edit(&ou, "cells = 192", &format!("cells = {cells}")),
            &[],
            &["domain.cells", "estimated"],
        );
        assert!(e.contains("--max-"), "{e}");
    }
    let three = edit(
        &edit(
            &edit(&ou, "lower = -6.0", "lower = [-6.0, -6.0, -6.0]"),
            "upper = 6.0",
            "upper = [6.0, 6.0, 6.0]",
        ),
        "cells = 192",
        "cells = [1290, 1290, 1290]",
    );
    refused(&three, &[], &["domain.cells", "estimated"]);
}

#[test]
fn the_memory_limit_is_a_flag() {
    let ou = example("ou_1d.toml");
    let e = refused(
        &edit(&ou, "cells = 192", "cells = 2000000"),
        &["--max-memory", "1GiB", "--max-work", "none"],
        &["domain.cells", "estimated", "1.000 GiB"],
    );
    assert!(e.contains("--max-memory"), "{e}");
    refused(&ou, &["--max-memory", "lots"], &["--max-memory", "2GiB"]);
    refused(&ou, &["--max-work=-1"], &["--max-work"]);
}

#[test]
fn the_documented_maximum_of_steps_is_refused_quickly() {
    let ou = example("ou_1d.toml");
    let many = edit(&ou, "steps = 1024", "steps = 100000000");
    refused(&many, &[], &["time.steps", "estimated"]);
    let graded = edit(
        &many,
        "history = \"soe\"",
        "history = \"soe\"\nmesh = \"graded\"\ngrading = 8",
    );
    refused(&graded, &[], &["time.steps", "estimated"]);
}

#[test]
fn a_long_final_time_no_longer_needs_a_huge_history() {
    // t_end = 1e9 made the SOE kernel take hundreds of thousands of exponentials (18 GB)
    let f = edit(&example("fractal_3d.toml"), "t_end = 1.0", "t_end = 1e9");
    let f = edit(&f, "times = [0.25, 1.0]", "times = [1e8, 1e9]");
    let dir = tempfile::tempdir().unwrap();
    let p = write_problem(dir.path(), "p.toml", &f);
    let r = ffpe(&["solve", p.to_str().unwrap(), "--json"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let exps = v["stats"]["exponentials"].as_u64().unwrap();
    assert!(exps < 1000, "{exps} exponentials");
    assert!(r.took < Duration::from_secs(30), "took {:?}", r.took);
}

#[test]
fn final_times_outside_the_range_name_the_key() {
    let ou = example("ou_1d.toml");
    for t in ["1e308", "1e-300"] {
        let e = refused(
            &edit(&ou, "t_end = 1.0", &format!("t_end = {t}")),
            &[],
            &["time.t_end", "1e-10 <= t_end <= 1e10"],
        );
        assert!(
            !e.contains("Cholesky") && !e.contains("output.times"),
            "{e}"
        );
        assert!(e.len() < 400, "long message: {e}");
    }
}

#[test]
fn large_sparse_grids_are_refused() {
    let sparse = example("ou_4d_sparse.toml");
    for level in ["16", "12"] {
        refused(
            &edit(&sparse, "level = 6", &format!("level = {level}")),
            &[],
            &["grid.level", "estimated"],
        );
    }
    let wide = |d: usize, level: &str| {
        let list = |x: &str| format!("[{}]", vec![x; d].join(", "));
        let t = edit(
            &sparse,
            "stiffness = [1.0, 1.25, 1.5, 1.75]",
            "stiffness = 1.0",
        );
        let t = edit(
            &t,
            "lower = [-4.0, -4.0, -4.0, -4.0]",
            &format!("lower = {}", list("-4.0")),
        );
        let t = edit(
            &t,
            "upper = [4.0, 4.0, 4.0, 4.0]",
            &format!("upper = {}", list("4.0")),
        );
        let t = edit(&t, "mean = [1.0, -0.8, 1.0, -0.8]", "mean = 0.5");
        edit(&t, "level = 6", &format!("level = {level}"))
    };
    refused(&wide(8, "8"), &[], &["grid.level", "estimated"]);
    refused(&wide(6, "10"), &[], &["grid.level", "estimated"]);
    // beyond the largest level per axis: the key and its real range
    refused(&wide(4, "25"), &[], &["grid.level", "1 <= level <= 24"]);
    // a stiff 4-D sparse problem: BiCGSTAB would need its 1000 iterations every step
    refused(
        &edit(&sparse, "diffusion = 0.5", "diffusion = 1e9"),
        &[],
        &["equation.diffusion", "estimated"],
    );
}

#[test]
fn an_eight_dimensional_full_grid_is_refused() {
    let list = |x: &str| format!("[{}]", [x; 8].join(", "));
    let text = format!(
        "[equation]\nalpha = 0.5\n[potential]\nkind = \"quadratic\"\nstiffness = 1.0\n\
         [domain]\nlower = {}\nupper = {}\ncells = 3\n[initial]\nkind = \"gaussian\"\n\
         mean = 0.0\nstd = 1.0\n[time]\nt_end = 1.0\nsteps = 100\n",
        list("-3.0"),
        list("3.0")
    );
    refused(&text, &[], &["domain.cells", "estimated"]);
}

#[test]
fn a_million_output_times_are_refused_or_fast() {
    let ou = example("ou_1d.toml");
    // about 10 MB, under the 16 MiB file limit
    let times: Vec<String> = (1..=1_000_000).map(|i| format!("{i}e-6")).collect();
    let text = edit(
        &ou,
        "times = [0.01, 0.1, 0.25, 0.5, 1.0]",
        &format!("times = [{}]", times.join(",")),
    );
    refused(&text, &[], &["estimated"]);
}

#[test]
fn an_unbounded_file_is_read_only_up_to_the_limit() {
    if !Path::new("/dev/zero").exists() {
        return;
    }
    let r = ffpe(&["solve", "/dev/zero"]);
    assert!(matches!(r.code, Some(1 | 2)), "{}", r.stderr);
    assert!(
        r.stderr.contains("/dev/zero") && r.stderr.contains("16.000 MiB"),
        "{}",
        r.stderr
    );
    assert!(r.took < Duration::from_secs(10));
}

#[test]
fn mittag_leffler_terminates_and_refuses_tiny_orders() {
    for (alpha, beta) in [
        ("1e-300", "0.5"),
        ("1e-300", "1e-3"),
        ("1e-300", "1e-300"),
        ("1e-4", "1"),
        ("1e-3", "1"),
    ] {
        let r = ffpe(&["ml", "--alpha", alpha, "--beta", beta, "--", "1"]);
        assert_eq!(r.code, Some(2), "{alpha} {beta}: {}", r.stdout);
        assert!(
            r.stderr.contains("--alpha") && r.stderr.contains("0.05 <= alpha <= 1"),
            "{}",
            r.stderr
        );
        assert!(r.took < Duration::from_secs(10));
    }
    // tiny beta with an accepted order terminates
    for beta in ["1e-3", "1e-300"] {
        let r = ffpe(&[
            "ml", "--alpha", "0.5", "--beta", beta, "--", "1", "-3", "2,1",
        ]);
        assert_eq!(r.code, Some(0), "{}", r.stderr);
        assert!(!r.stdout.contains("NaN"), "{}", r.stdout);
        assert!(r.took < Duration::from_secs(10));
    }
    let r = ffpe(&["ml", "--alpha", "0.5", "--beta", "200", "--", "1"]);
    assert_eq!(r.code, Some(2));
    assert!(r.stderr.contains("--beta"), "{}", r.stderr);
}

#[test]
fn mittag_leffler_overflow_is_infinite_not_nan() {
    let r = ffpe(&["ml", "--alpha", "0.5", "--", "1e154", "1e155", "1e300"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().skip(1).collect();
    assert_eq!(lines.len(), 3);
    for l in lines {
        assert!(l.ends_with("inf"), "{l}");
    }
    // JSON has no infinity: an infinite value is null there, as for 1e154 before
    let json = |z: &str| ffpe(&["ml", "--alpha", "0.5", "--json", "--", z]).stdout;
    assert_eq!(
        json("1e155").replace("1e+155", "Z"),
        json("1e154").replace("1e+154", "Z")
    );
}

#[test]
fn messages_agree_with_the_checks() {
    let ou = example("ou_1d.toml");
    refused(
        &edit(&ou, "history = \"soe\"", "history = \"soe\"\nmax_steps = 0"),
        &[],
        &["time.max_steps", "max_steps >= 1"],
    );
    refused(
        &edit(&ou, "boundary = \"no-flux\"", "boundary = \"wall\""),
        &[],
        &["domain.boundary", "reflecting"],
    );
    let e = refused(
        &edit(
            &ou,
            "t_end = 1.0",
            &format!("t_end = 1{}.0", "0".repeat(300)),
        ),
        &[],
        &["time.t_end"],
    );
    assert!(e.len() < 400, "long message: {e}");
    let help = ffpe(&["solve", "--help"]).stdout;
    assert!(!help.contains("up to 12"), "{help}");
    assert!(help.contains("--max-memory") && help.contains("--max-work"));
}
