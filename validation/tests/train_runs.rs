//! Training runs: bit-for-bit determinism, resumption (in-process and after `kill -9`),
//! the CSV and checkpoint outputs, and the `llc` command's JSON.

#[path = "support/run_files.rs"]
mod run_files;
use ffpe_validation::data::{self, DataConfig};
use ffpe_validation::llc::LlcConfig;
use ffpe_validation::model::Network;
use ffpe_validation::train::{self, LlcSchedule, Optimizer, TrainConfig};
use run_files::RECORDS;
use std::path::Path;
use std::process::Command;

fn small(arch: &str, optimizer: Optimizer, steps: u64) -> TrainConfig {
    TrainConfig {
        arch: arch.parse().unwrap(),
        optimizer,
        steps,
        checkpoints_per_decade: 10,
        late_window: Some(15),
        llc_every: 20,
        llc_schedule: LlcSchedule::Uniform,
        llc: LlcConfig {
            chains: 2,
            draws: 5,
            ..LlcConfig::default()
        },
        resume_every: 10,
        ..TrainConfig::default()
    }
}

fn assert_same(a: &Path, b: &Path, what: &str) {
    for ((na, ba), (nb, bb)) in outputs(a).iter().zip(outputs(b).iter()) {
        assert_eq!(na, nb, "{what}");
        if ba != bb {
            panic!(
                "{what}: {na} differs\n{}\n---\n{}",
                String::from_utf8_lossy(&ba[..ba.len().min(3000)]),
                String::from_utf8_lossy(&bb[..bb.len().min(3000)])
            );
        }
    }
    assert_eq!(outputs(a).len(), outputs(b).len(), "{what}");
}

/// The files a run writes that must be identical between equal runs.
fn outputs(dir: &Path) -> Vec<(String, Vec<u8>)> {
    run_files::run_files(dir, &RECORDS)
}

#[test]
fn same_seed_same_bits_and_resume_is_exact() {
    let d = data::load(&DataConfig::default()).unwrap();
    for cfg in [
        small("784-16-10", Optimizer::sgd(0.01), 60),
        small("784-12-10+bn", Optimizer::adam(1e-3), 60),
    ] {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let c = tempfile::tempdir().unwrap();
        let sa = train::run(&cfg, &d, a.path(), &mut |_, _| true).unwrap();
        // The second run uses two threads for the minibatch halves: the bits must not change.
        let two = TrainConfig {
            threads: 2,
            ..cfg.clone()
        };
        let sb = train::run(&two, &d, b.path(), &mut |_, _| true).unwrap();
        assert_same(a.path(), b.path(), &cfg.arch.to_string());
        assert_eq!(sa.checkpoints, sb.checkpoints);
        // Interrupted twice without saving (like kill -9): at step 37 (last save at 32, a
        // checkpoint) and at step 55 (last save at 50, a resume_every point).
        let s1 = train::run(&cfg, &d, c.path(), &mut |s, _| s < 37).unwrap();
        assert!(!s1.finished);
        let s2 = train::run(&cfg, &d, c.path(), &mut |s, _| s < 55).unwrap();
        assert_eq!(s2.resumed_from, Some(32));
        let s3 = train::run(&cfg, &d, c.path(), &mut |_, _| true).unwrap();
        assert_eq!(s3.resumed_from, Some(50));
        assert!(s3.finished);
        assert_same(a.path(), c.path(), &format!("resumed {}", cfg.arch));
        assert_eq!(sa.minibatch_losses, s3.minibatch_losses);
        assert_eq!(sa.llc, s3.llc);
        // contents: schedule, late window, LLC every 20, R(0) = 0
        assert_eq!(sa.checkpoints.first().unwrap().step, 0);
        assert!(sa.checkpoints[0].r.abs() < 1e-12);
        assert!(sa.checkpoints.last().unwrap().r > 0.0);
        assert_eq!(sa.minibatch_losses.first().unwrap().0, 45);
        assert_eq!(
            sa.llc.iter().map(|l| l.step).collect::<Vec<_>>(),
            [20, 40, 60]
        );
        assert!(sa.final_llc.is_some());
        // a finished run returns at once; a different configuration is refused
        let again = train::run(&cfg, &d, a.path(), &mut |_, _| true).unwrap();
        assert_eq!(again.checkpoints, sa.checkpoints);
        let other = TrainConfig {
            seed: 1,
            ..cfg.clone()
        };
        let e = train::run(&other, &d, a.path(), &mut |_, _| true).unwrap_err();
        assert!(e.to_string().contains("different configuration"), "{e}");
        // checkpoints load back with the recorded weights: R from the file equals the record
        let last = sa.checkpoints.last().unwrap();
        let net = Network::load(&a.path().join(&last.file), &candle_core::Device::Cpu).unwrap();
        let w0 = Network::load(
            &a.path().join(&sa.checkpoints[0].file),
            &candle_core::Device::Cpu,
        )
        .unwrap();
        let r: f64 = net
            .flat_params()
            .unwrap()
            .iter()
            .zip(w0.flat_params().unwrap())
            .map(|(x, y)| (*x as f64 - y as f64).powi(2))
            .sum::<f64>()
            .sqrt();
        assert!((r - last.r).abs() < 1e-12);
        let eval = net.evaluate(&d.test).unwrap();
        assert!((eval.loss - last.test_loss).abs() < 1e-12);
    }
}

/// The default LLC schedule (geometric, plus every `llc_every` steps in the late window) with
/// its late flags and late-window mean, and the jump norms `||w_{s+1} - w_s||` against the
/// checkpoints' weights, on the CPU kernels (SGD, Adam) and on candle (BatchNorm).
#[test]
fn llc_schedule_late_mean_and_jumps() {
    let d = data::load(&DataConfig::default()).unwrap();
    for cfg in [
        small("784-16-10", Optimizer::sgd(0.01), 80),
        small("784-16-10", Optimizer::adam(1e-3), 80),
        small("784-12-10+bn", Optimizer::sgd(0.01), 80),
    ] {
        let cfg = TrainConfig {
            llc_schedule: LlcSchedule::Geometric { per_decade: 5 },
            llc_every: 10,
            late_window: Some(80),
            ..cfg
        };
        let dir = tempfile::tempdir().unwrap();
        let s = train::run(&cfg, &d, dir.path(), &mut |_, _| true).unwrap();
        // round(10^(k/5)) = 1, 2, 3, 4, 6, 10, 16, 25, 40, 63 and the end 80, with every 10th
        // step (the whole run is the late window here)
        let steps: Vec<u64> = s.llc.iter().map(|l| l.step).collect();
        assert_eq!(
            steps,
            [1, 2, 3, 4, 6, 10, 16, 20, 25, 30, 40, 50, 60, 63, 70, 80]
        );
        assert_eq!(steps, cfg.llc_steps());
        assert!(s.llc.iter().all(|l| l.late));
        assert_eq!(s.late_llc_count, steps.len());
        let mean = s.llc.iter().map(|l| l.llc_mean).sum::<f64>() / steps.len() as f64;
        assert!((s.late_llc_mean.unwrap() - mean).abs() < 1e-12);
        // every step's jump; where steps s and s + 1 are both checkpoints, it is the distance
        // of their weights (f64 sums of the same squared f32 differences in another order:
        // 1e-12 relative)
        assert_eq!(s.jumps.len(), 80);
        let w = |step: u64| {
            let c = s.checkpoints.iter().find(|c| c.step == step).unwrap();
            Network::load(&dir.path().join(&c.file), &candle_core::Device::Cpu)
                .unwrap()
                .flat_params()
                .unwrap()
        };
        let mut compared = 0;
        for (step, jump) in &s.jumps {
            let has = |t: u64| s.checkpoints.iter().any(|c| c.step == t);
            if has(*step) && has(step + 1) {
                let want = w(*step)
                    .iter()
                    .zip(w(step + 1))
                    .map(|(a, b)| (b as f64 - *a as f64).powi(2))
                    .sum::<f64>()
                    .sqrt();
                assert!(
                    (jump - want).abs() <= 1e-12 * want,
                    "{} step {step}: {jump} vs {want}",
                    cfg.arch
                );
                compared += 1;
            }
        }
        assert!(compared >= 5, "{compared}");
        let csv = std::fs::read_to_string(dir.path().join("minibatch_losses.csv")).unwrap();
        assert!(csv.starts_with("step,loss,jump\n"));
        let llc_csv = std::fs::read_to_string(dir.path().join("llc.csv")).unwrap();
        // the original five columns first, the diagnostics appended after them
        assert!(llc_csv.starts_with(
            "step,llc_mean,llc_std,init_loss,late,rhat,ess_bulk,ess_tail,acceptance,burn_in\n"
        ));
        let row: Vec<&str> = llc_csv.lines().nth(1).unwrap().split(',').collect();
        assert_eq!(row.len(), 10, "{row:?}");
        assert_eq!(row[4], "1");
        for v in &row[5..] {
            // a number, or NaN where a diagnostic could not be computed (few draws)
            assert!(v.parse::<f64>().is_ok(), "{row:?}");
        }
    }
    // late flags split the run: a 40-step late window of 100 steps
    let cfg = TrainConfig {
        llc_schedule: LlcSchedule::Geometric { per_decade: 2 },
        llc_every: 10,
        late_window: Some(40),
        checkpoints_per_decade: 2,
        ..small("784-16-10", Optimizer::sgd(0.01), 100)
    };
    assert_eq!(cfg.llc_steps(), [1, 3, 10, 32, 60, 70, 80, 90, 100]);
    let dir = tempfile::tempdir().unwrap();
    let s = train::run(&cfg, &d, dir.path(), &mut |_, _| true).unwrap();
    let late: Vec<u64> = s.llc.iter().filter(|l| l.late).map(|l| l.step).collect();
    assert_eq!(late, [60, 70, 80, 90, 100]);
    assert_eq!(s.late_llc_count, 5);
    assert_eq!(s.jumps.first().unwrap().0, 60);
    assert_eq!(s.jumps.len(), s.minibatch_losses.len());
    let bad = TrainConfig {
        llc_schedule: LlcSchedule::Geometric { per_decade: 0 },
        ..cfg
    };
    let e = train::run(&bad, &d, dir.path(), &mut |_, _| true).unwrap_err();
    assert!(e.to_string().contains("llc-per-decade"), "{e}");
}

#[test]
fn sgd_learns() {
    // 300 SGD steps at lr 0.1 take the bundled digits well above chance (10 %).
    let d = data::load(&DataConfig::default()).unwrap();
    let cfg = TrainConfig {
        llc_every: 0,
        ..small("784-32-10", Optimizer::sgd(0.1), 300)
    };
    let dir = tempfile::tempdir().unwrap();
    let s = train::run(&cfg, &d, dir.path(), &mut |_, _| true).unwrap();
    let last = s.checkpoints.last().unwrap();
    assert!(last.test_accuracy > 0.8, "{last:?}");
    assert!(last.train_loss < s.checkpoints[0].train_loss);
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ffpe-validate"))
}

#[test]
fn kill_dash_nine_then_resume_matches_uninterrupted() {
    let args = |out: &Path| {
        let mut c = bin();
        c.args([
            "--threads",
            "1",
            "train",
            "--arch",
            "784-24-10",
            "--steps",
            "2500",
            "--lr",
            "0.05",
            "--llc-every",
            "0",
            "--resume-every",
            "7",
            "--late-window",
            "100",
            "--quiet",
            "--out",
        ])
        .arg(out);
        c
    };
    let full = tempfile::tempdir().unwrap();
    assert!(args(full.path()).status().unwrap().success());
    let cut = tempfile::tempdir().unwrap();
    let mut killed_at = None;
    for attempt in 0..3u64 {
        let mut child = args(cut.path()).spawn().unwrap();
        // wait for the run to be well under way (and at a different place each attempt)
        let target = 300 + 500 * attempt;
        let t0 = std::time::Instant::now();
        loop {
            std::thread::sleep(std::time::Duration::from_millis(5));
            let done = std::fs::read_to_string(cut.path().join("summary.json"))
                .ok()
                .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
                .and_then(|v| v["steps_done"].as_u64())
                .unwrap_or(0);
            if done >= target || t0.elapsed().as_secs() > 120 {
                break;
            }
            if child.try_wait().unwrap().is_some() {
                break;
            }
        }
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            killed_at.get_or_insert(attempt);
        }
    }
    assert!(
        killed_at.is_some(),
        "the run finished before it could be killed"
    );
    let out = args(cut.path()).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("resumed from"));
    assert_same(full.path(), cut.path(), "killed");
    // no temporary files are left behind
    for e in std::fs::read_dir(cut.path()).unwrap() {
        let n = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!n.contains(".tmp-"), "{n}");
    }
}

#[test]
fn llc_command_prints_json_and_checks_arch() {
    let ck = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/mlp-784-128-10.safetensors");
    let out = bin()
        .args([
            "--threads",
            "1",
            "llc",
            "--arch",
            "784-128-10",
            "--chains",
            "2",
            "--draws",
            "20",
        ])
        .args([
            "--json",
            "--init-loss",
            "batches:2",
            "--nbeta",
            "dataset",
            "--weights",
        ])
        .arg(&ck)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for k in ["llc_mean", "llc_std", "llc_per_chain", "init_loss", "trace"] {
        assert!(!v[k].is_null(), "missing {k}");
    }
    assert_eq!(v["trace"].as_array().unwrap().len(), 2);
    assert!((v["nbeta"].as_f64().unwrap() - 8000.0 / 8000f64.ln()).abs() < 1e-9);
    // the n_beta record (both conventions), the diagnostics and the per-draw loss traces
    assert_eq!(v["n_beta"]["convention"], "dataset");
    assert!((v["n_beta"]["batch"].as_f64().unwrap() - 256.0 / 256f64.ln()).abs() < 1e-9);
    assert!((v["n_beta"]["dataset"].as_f64().unwrap() - 8000.0 / 8000f64.ln()).abs() < 1e-9);
    let d = &v["diagnostics"];
    for k in [
        "rhat",
        "ess_bulk",
        "ess_tail",
        "acceptance",
        "burn_in",
        "warnings",
    ] {
        assert!(d.get(k).is_some(), "diagnostics lacks {k}: {d}");
    }
    // draw 0 of each chain is measured (every 50th draw): 2 proposals
    assert_eq!(d["acceptance_steps"], 2);
    let lt = v["loss_traces"].as_array().unwrap();
    assert_eq!((lt.len(), lt[0].as_array().unwrap().len()), (2, 20));
    // several checkpoints: one batched run (chains over 2 threads), one JSON line each with
    // its path, every value equal to the single run's (same chains, noise and minibatches)
    let many = bin()
        .args([
            "--threads",
            "2",
            "llc",
            "--chains",
            "2",
            "--draws",
            "20",
            "--json",
        ])
        .args([
            "--init-loss",
            "batches:2",
            "--nbeta",
            "dataset",
            "--weights",
        ])
        .arg(&ck)
        .arg(&ck)
        .output()
        .unwrap();
    assert!(
        many.status.success(),
        "{}",
        String::from_utf8_lossy(&many.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&many.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    for w in &lines {
        assert!(
            w["weights"]
                .as_str()
                .unwrap()
                .ends_with("mlp-784-128-10.safetensors")
        );
        for k in ["llc_mean", "llc_per_chain", "init_loss", "trace"] {
            assert_eq!(w[k], v[k], "{k}");
        }
    }
    let bad = bin()
        .args(["llc", "--arch", "784-64-10", "--draws", "2", "--weights"])
        .arg(&ck)
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("does not match"));
    let cuda = bin()
        .args(["llc", "--device", "cuda", "--weights"])
        .arg(&ck)
        .output()
        .unwrap();
    if !cfg!(feature = "cuda") {
        assert!(String::from_utf8_lossy(&cuda.stderr).contains("--features cuda"));
    }
}

#[test]
fn llc_truth_and_llc_sweep_commands() {
    // llc-truth --json: exactly the keys estimate, truth, diagnostics
    let out = bin()
        .args([
            "llc-truth",
            "--model",
            "power:2",
            "--draws",
            "2000",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["diagnostics", "estimate", "truth"]);
    assert!((v["truth"].as_f64().unwrap() - 0.5).abs() < 1e-12);
    // --export-data with --export-only writes the file and estimates nothing; --summary
    // writes the per-chain result without the per-step trace (the file's contents are tested
    // in llc::truth_data)
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("case.safetensors");
    let out = bin()
        .args([
            "llc-truth",
            "--model",
            "rrr:2,2,3,1",
            "--export-only",
            "--export-data",
        ])
        .arg(&f)
        .output()
        .unwrap();
    assert!(out.status.success() && out.stdout.is_empty() && f.exists());
    let s = dir.path().join("summary.json");
    let out = bin()
        .args([
            "llc-truth",
            "--model",
            "power:2",
            "--draws",
            "100",
            "--summary",
        ])
        .arg(&s)
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&s).unwrap()).unwrap();
    assert_eq!(v["result"]["llc_per_chain"].as_array().unwrap().len(), 4);
    assert!(v["result"].get("trace").is_none() && v["config"]["draws"] == 100);
    let out = bin()
        .args(["llc-truth", "--model", "power:2", "--export-only"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "--export-only needs --export-data");
    // bad input names the flag and the allowed forms, without a panic
    let out = bin()
        .args(["llc-truth", "--model", "power:3"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("model") && err.contains("rrr:M,H,N,r"),
        "{err}"
    );
    // llc-sweep: a 2 x 1 grid, JSON with every point and the rule, the plot written
    let ck = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/mlp-784-128-10.safetensors");
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .args(["llc-sweep", "--epsilons", "1e-5,1e-4", "--gammas", "100"])
        .args(["--chains", "2", "--draws", "10", "--json", "--weights"])
        .arg(&ck)
        .arg("--out")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["points"].as_array().unwrap().len(), 2);
    assert!(
        v["rule"]
            .as_str()
            .unwrap()
            .contains("largest usable epsilon")
    );
    assert!(v["points"][0]["diagnostics"].get("rhat").is_some());
    // the grid-wide diagnosis: a string or null, always present
    assert!(v["diagnosis"].is_null() || v["diagnosis"].is_string());
    for f in ["sweep.json", "llc_sweep.png", "llc_sweep.svg"] {
        assert!(dir.path().join(f).exists(), "{f}");
    }
    let out = bin()
        .args(["llc-sweep", "--epsilons", "0", "--gammas", "1", "--weights"])
        .arg(&ck)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("--epsilons"), "{err}");
}

/// A training run that diverges (learning rate 1e6) stops with an error naming the step, its
/// summary says where, and it is not recorded as finished.
#[test]
fn a_diverging_run_stops_with_an_error() {
    use ffpe_validation::data::{self, DataConfig};
    use ffpe_validation::optim::Optimizer;
    use ffpe_validation::train::{self, TrainConfig};
    let d = data::load(&DataConfig {
        n_train: 500,
        n_test: 100,
        ..DataConfig::default()
    })
    .unwrap();
    let cfg = TrainConfig {
        arch: "784-8-10".parse().unwrap(),
        optimizer: Optimizer::sgd(1e6),
        steps: 50,
        llc_every: 0,
        ..TrainConfig::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let e = train::run(&cfg, &d, dir.path(), &mut |_, _| true).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("diverged at step"), "{msg}");
    let s = train::load_summary(dir.path()).unwrap();
    assert!(!s.finished);
    assert!(s.diverged_at.is_some());
}
