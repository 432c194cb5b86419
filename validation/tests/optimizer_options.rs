//! Momentum and weight decay as real options: a run killed and resumed is bit-identical to an
//! uninterrupted one (the momentum buffer travels in the resume file), on the CPU fast path and
//! on the candle path; the options change the run; a misspelt optimizer is refused with the
//! allowed names.

#[path = "support/run_files.rs"]
mod run_files;
use ffpe_validation::data::{self, DataConfig};
use ffpe_validation::llc::LlcConfig;
use ffpe_validation::optim::Optimizer;
use ffpe_validation::train::{self, LlcSchedule, TrainConfig};
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
            chains: 1,
            draws: 5,
            ..LlcConfig::default()
        },
        resume_every: 10,
        ..TrainConfig::default()
    }
}

/// The files a run writes that must be identical between equal runs.
fn outputs(dir: &Path) -> Vec<(String, Vec<u8>)> {
    run_files::run_files(dir, &RECORDS)
}

#[test]
fn momentum_and_weight_decay_resume_bit_identically() {
    let d = data::load(&DataConfig {
        n_train: 2000,
        n_test: 200,
        ..Default::default()
    })
    .unwrap();
    let sgd = Optimizer::sgd(0.01)
        .with_momentum(0.9)
        .with_weight_decay(5e-4);
    for cfg in [
        // CPU fast path: gradient buffers and the slice kernel
        small("784-16-10", sgd.clone(), 60),
        // candle path (BatchNorm): the same kernel on the host values
        small("784-12-10+bn", sgd.clone(), 60),
        // AdamW on the fast path
        small(
            "784-16-10",
            Optimizer::adam(1e-3).with_weight_decay(0.01),
            60,
        ),
    ] {
        let what = format!("{} {:?}", cfg.arch, cfg.optimizer);
        let a = tempfile::tempdir().unwrap();
        let c = tempfile::tempdir().unwrap();
        let sa = train::run(&cfg, &d, a.path(), &mut |_, _| true).unwrap();
        assert!(sa.finished, "{what}");
        // killed without saving at step 37 (last save at 32) and at 55 (last save at 50)
        let s1 = train::run(&cfg, &d, c.path(), &mut |s, _| s < 37).unwrap();
        assert!(!s1.finished);
        let s2 = train::run(&cfg, &d, c.path(), &mut |s, _| s < 55).unwrap();
        assert_eq!(s2.resumed_from, Some(32), "{what}");
        let s3 = train::run(&cfg, &d, c.path(), &mut |_, _| true).unwrap();
        assert_eq!(s3.resumed_from, Some(50), "{what}");
        assert_eq!(outputs(a.path()), outputs(c.path()), "{what}");
        assert_eq!(sa.minibatch_losses, s3.minibatch_losses, "{what}");
        assert_eq!(sa.llc, s3.llc, "{what}");
        // the options are recorded and change the run
        assert_eq!(sa.config.optimizer, cfg.optimizer);
        let plain = TrainConfig {
            optimizer: Optimizer::of_kind(cfg.optimizer.kind(), cfg.optimizer.lr()),
            ..cfg.clone()
        };
        let p = tempfile::tempdir().unwrap();
        let sp = train::run(&plain, &d, p.path(), &mut |_, _| true).unwrap();
        let (ra, rp) = (
            sa.checkpoints.last().unwrap().r,
            sp.checkpoints.last().unwrap().r,
        );
        assert!((ra - rp).abs() > 1e-6 * rp, "{what}: R {ra} vs plain {rp}");
    }
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ffpe-validate"))
}

#[test]
fn cli_refuses_a_misspelt_optimizer_and_trains_with_momentum() {
    let out = tempfile::tempdir().unwrap();
    let o = bin()
        .args([
            "--threads",
            "1",
            "train",
            "--optimizer",
            "sdg",
            "--quiet",
            "--out",
        ])
        .arg(out.path())
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("sdg") && err.contains("sgd, adam"), "{err}");
    let o = bin()
        .args([
            "--threads",
            "1",
            "train",
            "--arch",
            "784-8-10",
            "--n-train",
            "500",
            "--n-test",
            "100",
            "--steps",
            "30",
            "--lr",
            "0.01",
            "--momentum",
            "0.9",
            "--weight-decay",
            "5e-4",
            "--llc-every",
            "0",
            "--quiet",
            "--out",
        ])
        .arg(out.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s = train::load_summary(out.path()).unwrap();
    assert!(s.finished);
    assert_eq!(
        s.config.optimizer,
        Optimizer::sgd(0.01)
            .with_momentum(0.9)
            .with_weight_decay(5e-4)
    );
}
