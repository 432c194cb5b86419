//! Ensembles: every member's run directory is byte for byte what `train::run` writes for that
//! member alone (1 and 2 threads, SGD and Adam, members differing in seed, learning rate and
//! batch size), and an interrupted ensemble resumes to the same bits.

#[path = "support/run_files.rs"]
mod run_files;
use ffpe_validation::data::{self, Data, DataConfig};
use ffpe_validation::ensemble::{self, WINDOW};
use ffpe_validation::llc::LlcConfig;
use ffpe_validation::train::{self, Optimizer, TrainConfig};
use run_files::RECORDS;
use std::path::{Path, PathBuf};

fn member(seed: u64, optimizer: Optimizer, batch_size: usize) -> TrainConfig {
    TrainConfig {
        arch: "784-16-10".parse().unwrap(),
        optimizer,
        batch_size,
        steps: 60,
        seed,
        // 7 per decade: steps 25 and 50 (where the interrupted runs below stop) are not
        // checkpoints, and the resume file is written every 15 steps
        checkpoints_per_decade: 7,
        late_window: Some(20),
        llc_every: 10,
        llc: LlcConfig {
            chains: 2,
            draws: 5,
            seed,
            ..LlcConfig::default()
        },
        resume_every: 15,
        ..TrainConfig::default()
    }
}

/// The files a run writes that must be identical between equal runs.
fn outputs(dir: &Path) -> Vec<(String, Vec<u8>)> {
    run_files::run_files(dir, &RECORDS)
}

fn assert_same(a: &Path, b: &Path, what: &str) {
    let (oa, ob) = (outputs(a), outputs(b));
    assert_eq!(oa.len(), ob.len(), "{what}: number of files");
    for ((na, ba), (nb, bb)) in oa.iter().zip(&ob) {
        assert_eq!(na, nb, "{what}");
        assert!(
            ba == bb,
            "{what}: {na} differs\n{}\n---\n{}",
            String::from_utf8_lossy(&ba[..ba.len().min(2000)]),
            String::from_utf8_lossy(&bb[..bb.len().min(2000)])
        );
    }
}

fn dirs(root: &Path, n: usize) -> Vec<PathBuf> {
    (0..n).map(|k| root.join(format!("m{k}"))).collect()
}

/// Each member alone with `train::run`, in `root/alone-k`.
fn alone(cfgs: &[TrainConfig], d: &Data, root: &Path) -> Vec<PathBuf> {
    cfgs.iter()
        .enumerate()
        .map(|(k, c)| {
            let dir = root.join(format!("alone-{k}"));
            let s = train::run(c, d, &dir, &mut |_, _| true).unwrap();
            assert!(s.finished);
            dir
        })
        .collect()
}

#[test]
fn members_equal_runs_alone_and_resume_exactly() {
    let d = data::load(&DataConfig::default()).unwrap();
    let sgd = vec![
        member(0, Optimizer::sgd(0.01), 256),
        member(1, Optimizer::sgd(0.02), 64),
        member(2, Optimizer::sgd(0.01), 128),
    ];
    let adam = vec![
        member(3, Optimizer::adam(1e-3), 256),
        member(4, Optimizer::adam(2e-3), 100),
    ];
    let root = tempfile::tempdir().unwrap();
    for (name, cfgs) in [("sgd", &sgd), ("adam", &adam)] {
        let base = root.path().join(name);
        let want = alone(cfgs, &d, &base);
        for threads in [1, 2] {
            let ds = dirs(&base.join(format!("t{threads}")), cfgs.len());
            let mut calls = 0;
            let runs = ensemble::run_ensemble(cfgs, &d, &ds, threads, &mut |done, total| {
                calls += 1;
                assert!(done <= total);
                true
            })
            .unwrap();
            assert_eq!(calls, 60u64.div_ceil(WINDOW));
            for (k, (r, dir)) in runs.iter().zip(&ds).enumerate() {
                assert!(r.finished && r.steps_done == 60);
                assert_eq!(&r.config, &cfgs[k]);
                assert_same(
                    &want[k],
                    dir,
                    &format!("{name} member {k}, {threads} threads"),
                );
                let one = train::load_summary(&want[k]).unwrap();
                assert_eq!(one.minibatch_losses, r.minibatch_losses);
                assert_eq!(one.jumps, r.jumps);
                assert_eq!(one.llc, r.llc);
            }
        }
        // Interrupted without saving (like kill -9) after the first window (step 25; last save
        // at 19, a checkpoint), then after the second (step 50; last save at 45), then finished.
        let ds = dirs(&base.join("cut"), cfgs.len());
        for stop in [1, 2] {
            let mut windows = 0;
            let runs = ensemble::run_ensemble(cfgs, &d, &ds, 2, &mut |_, _| {
                windows += 1;
                windows < stop
            })
            .unwrap();
            assert!(runs.iter().all(|r| !r.finished));
            assert!(runs.iter().all(|r| r.steps_done == WINDOW * stop));
        }
        let runs = ensemble::run_ensemble(cfgs, &d, &ds, 2, &mut |_, _| true).unwrap();
        for (k, (r, dir)) in runs.iter().zip(&ds).enumerate() {
            assert_eq!(r.resumed_from, Some(45), "{name} member {k}");
            assert!(r.finished);
            assert_same(&want[k], dir, &format!("{name} member {k}, resumed"));
        }
        // A finished ensemble returns at once with the same records.
        let again = ensemble::run_ensemble(cfgs, &d, &ds, 1, &mut |_, _| true).unwrap();
        assert_eq!(again[0].checkpoints, runs[0].checkpoints);
    }
    // One member alone also resumes what an ensemble started.
    let ds = dirs(&root.path().join("mixed"), 2);
    ensemble::run_ensemble(&sgd[..2], &d, &ds, 2, &mut |_, _| false).unwrap();
    let s = train::run(&sgd[1], &d, &ds[1], &mut |_, _| true).unwrap();
    assert_eq!(s.resumed_from, Some(19));
    assert_same(
        &root.path().join("sgd/alone-1"),
        &ds[1],
        "ensemble then alone",
    );
}

#[test]
fn bad_ensembles_are_refused_with_the_field_named() {
    let d = data::load(&DataConfig {
        n_train: 200,
        n_test: 50,
        ..DataConfig::default()
    })
    .unwrap();
    let c = member(0, Optimizer::sgd(0.01), 32);
    let root = tempfile::tempdir().unwrap();
    let e = ensemble::run_ensemble(&[], &d, &[], 1, &mut |_, _| true).unwrap_err();
    assert!(e.to_string().contains("configs"), "{e}");
    let two = dirs(root.path(), 2);
    let e = ensemble::run_ensemble(std::slice::from_ref(&c), &d, &two, 1, &mut |_, _| true)
        .unwrap_err();
    assert!(e.to_string().contains("dirs"), "{e}");
    let same = vec![two[0].clone(), two[0].join("..").join("m0")];
    let e = ensemble::run_ensemble(&[c.clone(), c.clone()], &d, &same, 2, &mut |_, _| true)
        .unwrap_err();
    assert!(e.to_string().contains("share"), "{e}");
    let bad = TrainConfig {
        batch_size: 0,
        ..c.clone()
    };
    let e = ensemble::run_ensemble(&[c.clone(), bad], &d, &two, 2, &mut |_, _| true).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("member 1") && msg.contains("batch-size"),
        "{msg}"
    );
    let e = ensemble::run_ensemble(&[c.clone(), c], &d, &two, 0, &mut |_, _| true).unwrap_err();
    assert!(e.to_string().contains("threads"), "{e}");
}
