//! `ffpe-validate` given bad input as a hostile user would give it: a checkpoint holding a NaN
//! or an infinity, IDX files whose header lies, out-of-range flags. Each is refused quickly
//! with a non-zero exit code and a message naming the file and tensor, or the flag and its
//! allowed range; none computes a normal-looking result.

use ffpe_validation::io::checkpoint;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn run(args: &[&str]) -> (Output, Duration) {
    let t0 = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_ffpe-validate"))
        .args(args)
        .output()
        .unwrap();
    (out, t0.elapsed())
}

fn weights() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/mlp-784-128-10.safetensors")
}

/// The test checkpoint with `tensor` poisoned: every value (`all`) or the one at index 7.
fn poisoned(dir: &Path, name: &str, tensor: &str, value: f32, all: bool) -> PathBuf {
    let (mut ts, meta) = checkpoint::load(&weights()).unwrap();
    let t = ts.iter_mut().find(|t| t.name == tensor).unwrap();
    if all {
        t.data.iter_mut().for_each(|v| *v = value);
    } else {
        t.data[7] = value;
    }
    let p = dir.join(name);
    checkpoint::save(&p, &ts, meta).unwrap();
    p
}

#[test]
fn non_finite_checkpoints_are_refused_by_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let clean = weights();
    let clean = clean.to_str().unwrap();
    let cases = [
        ("all-nan.safetensors", "fc1.weight", f32::NAN, true),
        ("one-nan.safetensors", "fc1.weight", f32::NAN, false),
        ("pos-inf.safetensors", "fc2.bias", f32::INFINITY, false),
        ("neg-inf.safetensors", "fc1.bias", f32::NEG_INFINITY, false),
    ];
    for (name, tensor, value, all) in cases {
        let p = poisoned(dir.path(), name, tensor, value, all);
        let w = p.to_str().unwrap();
        let run_dir = dir.path().join(format!("run-{name}"));
        std::fs::create_dir_all(&run_dir).unwrap();
        let stem = name.trim_end_matches(".safetensors");
        std::fs::copy(&p, run_dir.join(format!("{stem}-step-10.safetensors"))).unwrap();
        std::fs::copy(weights(), run_dir.join("step-1.safetensors")).unwrap();
        let commands: [Vec<&str>; 5] = [
            vec![
                "llc",
                "--weights",
                w,
                "--quiet",
                "--chains",
                "1",
                "--draws",
                "4",
            ],
            vec!["llc", "--weights", clean, w, "--quiet", "--json"],
            vec![
                "hessian",
                "--weights",
                w,
                "--top",
                "1",
                "--max-samples",
                "16",
            ],
            vec![
                "llc-sweep",
                "--weights",
                w,
                "--epsilons",
                "1e-4",
                "--gammas",
                "100",
            ],
            vec!["analyze", run_dir.to_str().unwrap()],
        ];
        for args in commands {
            let (out, took) = run(&args);
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{args:?} succeeded:\n{err}");
            assert!(
                err.contains(stem) && err.contains(tensor) && err.contains("non-finite"),
                "{args:?}: the message names neither the file nor the tensor:\n{err}"
            );
            assert!(took < Duration::from_secs(30), "{args:?} took {took:?}");
        }
    }
}

fn idx_dir(images: &[u8], labels: &[u8], t10k_labels: Option<&[u8]>) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("train-images-idx3-ubyte"), images).unwrap();
    std::fs::write(d.path().join("train-labels-idx1-ubyte"), labels).unwrap();
    if let Some(l) = t10k_labels {
        std::fs::write(d.path().join("t10k-images-idx3-ubyte"), images).unwrap();
        std::fs::write(d.path().join("t10k-labels-idx1-ubyte"), l).unwrap();
    }
    d
}

fn idx3(n: u32, px: usize) -> Vec<u8> {
    let mut v = vec![];
    for x in [0x803, n, 28, 28] {
        v.extend_from_slice(&u32::to_be_bytes(x));
    }
    v.resize(16 + px, 7);
    v
}

fn idx1(labels: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, 8, 1];
    v.extend_from_slice(&(labels.len() as u32).to_be_bytes());
    v.extend_from_slice(labels);
    v
}

#[test]
fn lying_idx_files_are_refused_quickly() {
    let w = weights();
    let w = w.to_str().unwrap();
    // a header claiming a billion images on a file of two
    let huge = idx_dir(&idx3(1_000_000_000, 2 * 784), &idx1(&[1, 2]), None);
    // a test-label file holding 255
    let bad_label = idx_dir(&idx3(2, 2 * 784), &idx1(&[1, 2]), Some(&idx1(&[3, 255])));
    for (d, want) in [
        (&huge, ["train-images-idx3-ubyte", "16 GiB"]),
        (
            &bad_label,
            ["t10k-labels-idx1-ubyte", "label 255 at index 1"],
        ),
    ] {
        let data = d.path().to_str().unwrap();
        let (out, took) = run(&["llc", "--weights", w, "--data", data, "--quiet"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{err}");
        assert!(err.contains(want[0]) && err.contains(want[1]), "{err}");
        assert!(took < Duration::from_secs(10), "{took:?}");
    }
}

#[test]
fn out_of_range_flags_name_the_flag_and_the_allowed_range() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let out = out.to_str().unwrap();
    let w = weights();
    let w = w.to_str().unwrap();
    let train = ["train", "--out", out, "--steps", "5", "--quiet"];
    let train_steps = ["train", "--out", out, "--quiet"];
    let ens = [
        "ensemble",
        "--out",
        out,
        "--inits",
        "1",
        "--streams",
        "2",
        "--steps",
        "5",
        "--quiet",
    ];
    let llc = ["llc", "--weights", w, "--quiet"];
    let hessian = ["hessian", "--weights", w];
    // (command, extra flags, words the message must hold)
    let table: Vec<(&[&str], Vec<&str>, Vec<&str>)> = vec![
        (&train, vec!["--lr", "0"], vec!["lr", "positive"]),
        (&train, vec!["--lr", "-1"], vec!["lr = -1", "positive"]),
        (&train, vec!["--lr", "NaN"], vec!["lr = NaN", "positive"]),
        (
            &train,
            vec!["--batch-size", "0"],
            vec!["batch-size", "at least 1"],
        ),
        (
            &train,
            vec!["--batch-size", "-2"],
            vec!["--batch-size", "-2"],
        ),
        (
            &train_steps,
            vec!["--steps", "0"],
            vec!["steps", "at least 1"],
        ),
        (&train, vec!["--momentum", "1"], vec!["momentum", "[0, 1)"]),
        (
            &train,
            vec!["--momentum", "-0.5"],
            vec!["momentum", "[0, 1)"],
        ),
        (
            &train,
            vec!["--weight-decay", "-0.1"],
            vec!["weight-decay", ">= 0"],
        ),
        (&train, vec!["--n-train", "20000"], vec!["n-train", "10000"]),
        (
            &train,
            vec!["--n-train", "0"],
            vec!["n-train", "at least 1"],
        ),
        (&train, vec!["--n-test", "0"], vec!["n-test", "at least 1"]),
        (
            &train,
            vec!["--late-window", "0"],
            vec!["late-window", "at least 1"],
        ),
        (
            &train,
            vec!["--llc-epsilon", "-1"],
            vec!["epsilon", "positive"],
        ),
        (&train, vec!["--seeds", "0"], vec!["seeds", "at least 1"]),
        (&ens, vec!["--lr", "-1"], vec!["lr = -1", "positive"]),
        (
            &ens,
            vec!["--batch-size", "0"],
            vec!["batch-size", "at least 1"],
        ),
        (&ens, vec!["--momentum", "1"], vec!["momentum", "< 1"]),
        (
            &ens,
            vec!["--weight-decay", "-1"],
            vec!["weight-decay", ">= 0"],
        ),
        (&ens, vec!["--n-train", "20000"], vec!["n-train", "10000"]),
        (&llc, vec!["--epsilon", "0"], vec!["epsilon", "positive"]),
        (
            &llc,
            vec!["--epsilon", "NaN"],
            vec!["epsilon = NaN", "positive"],
        ),
        (&llc, vec!["--gamma", "-1"], vec!["gamma", ">= 0"]),
        (&llc, vec!["--nbeta", "-3"], vec!["nbeta", "positive"]),
        (&llc, vec!["--chains", "0"], vec!["chains", "at least 1"]),
        (
            &llc,
            vec!["--batch-size", "0"],
            vec!["batch-size", "at least 1"],
        ),
        (&llc, vec!["--n-train", "20000"], vec!["n-train", "10000"]),
        (
            &hessian,
            vec!["--max-samples", "0"],
            vec!["max-samples", "at least 1"],
        ),
        (&hessian, vec!["--top", "0"], vec!["top", "at least 1"]),
    ];
    let mut cases: Vec<Vec<&str>> = table
        .iter()
        .map(|(cmd, extra, _)| cmd.iter().chain(extra).copied().collect())
        .collect();
    let mut wants: Vec<Vec<&str>> = table.iter().map(|t| t.2.clone()).collect();
    // --threads is global
    for cmd in [&train[..], &ens, &llc, &hessian] {
        cases.push(["--threads", "0"].iter().chain(cmd).copied().collect());
        wants.push(vec!["--threads 0", "at least 1"]);
    }
    for (args, want) in cases.iter().zip(&wants) {
        let (o, took) = run(args);
        let err = String::from_utf8_lossy(&o.stderr);
        let code = o.status.code();
        assert!(
            matches!(code, Some(1 | 2)),
            "{args:?}: exit code {code:?}\n{err}"
        );
        assert!(
            want.iter().all(|w| err.contains(w)),
            "{args:?}: the message lacks {want:?}:\n{err}"
        );
        assert!(
            !err.contains("unexpected argument"),
            "{args:?}: a negative value was not taken as the flag's value:\n{err}"
        );
        assert!(took < Duration::from_secs(10), "{args:?} took {took:?}");
    }
}

#[test]
fn a_device_is_not_read_as_a_checkpoint() {
    // `llc --weights /dev/zero` read 4.1 GB before failing: a non-regular file is refused
    // before any read
    if !Path::new("/dev/zero").exists() {
        return;
    }
    let (out, took) = run(&["llc", "--weights", "/dev/zero", "--arch", "784-128-10"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("/dev/zero") && err.contains("not a regular file"),
        "{err}"
    );
    assert!(took < Duration::from_secs(10), "{took:?}");
}
