//! Shared-init ensembles (SPEC 3.1): seeds separated, members exactly their runs alone, the GD
//! twin exactly a full-batch run, and a tiny study end to end.

use ffpe_validation::data::{self, Data, DataConfig};
use ffpe_validation::drift::{self, DriftConfig, GroupConfig, MemberRole};
use ffpe_validation::train::{self, TrainConfig};
use std::path::Path;

fn small_data() -> Data {
    data::load(&DataConfig {
        n_train: 1000,
        n_test: 500,
        ..DataConfig::default()
    })
    .unwrap()
}

fn tiny(steps: u64, inits: usize, streams: usize, gd_twin: bool) -> DriftConfig {
    DriftConfig {
        groups: vec![GroupConfig {
            name: "tiny".into(),
            arch: "784-8-10".parse().unwrap(),
            lr: 0.05,
            batch_size: 32,
            steps,
            inits,
            streams,
            gd_twin,
            uniform_checkpoints: 10,
            ..GroupConfig::default()
        }],
        data: DataConfig {
            n_train: 1000,
            n_test: 500,
            ..DataConfig::default()
        },
        fit_windows: vec![[0.1, 1.0]],
        bootstrap: ffpe_validation::analysis::stats::BootstrapConfig {
            resamples: 50,
            ..Default::default()
        },
        ..DriftConfig::default()
    }
}

fn weights(dir: &Path, step: u64) -> Vec<u8> {
    std::fs::read(train::checkpoint_path(dir, step)).unwrap()
}

#[test]
fn seeds_are_separated_and_the_shorthand_is_unchanged() {
    let base = TrainConfig::default();
    // `--seed` alone: no new keys in the configuration (resume files and summaries written
    // before the split still match), and with_seeds(a, a) is exactly `seed = a`.
    let json = serde_json::to_string(&TrainConfig {
        seed: 7,
        ..base.clone()
    })
    .unwrap();
    assert!(!json.contains("init_seed") && !json.contains("stream_seed"));
    assert_eq!(
        base.clone().with_seeds(7, 7),
        TrainConfig {
            seed: 7,
            ..base.clone()
        }
    );
    let back: TrainConfig = serde_json::from_str(&json).unwrap();
    assert_eq!(back.init_seed, None);
    assert_eq!(back.effective_stream_seed(), 7);
    let split = base.clone().with_seeds(3, 9);
    assert_eq!(
        (split.effective_init_seed(), split.effective_stream_seed()),
        (3, 9)
    );
    assert_ne!(split.sgld_seed(), base.sgld_seed());
    assert_eq!(base.sgld_seed(), base.llc.seed);
}

#[test]
fn members_share_w0_bit_for_bit_and_streams_differ_after_one_step() {
    let d = small_data();
    let cfg = tiny(1, 1, 3, false);
    let root = tempfile::tempdir().unwrap();
    let runs = drift::train(&cfg, &d, root.path(), 2, &mut |_, _| true).unwrap();
    assert_eq!(runs.len(), 3);
    let w0: Vec<Vec<u8>> = runs.iter().map(|(m, _)| weights(&m.dir, 0)).collect();
    assert!(
        w0.iter().all(|w| *w == w0[0]),
        "step 0 must be bit-identical"
    );
    let w1: Vec<Vec<u8>> = runs.iter().map(|(m, _)| weights(&m.dir, 1)).collect();
    for a in 0..3 {
        for b in a + 1..3 {
            assert_ne!(w1[a], w1[b], "streams {a} and {b} after one step");
        }
    }
}

#[test]
fn a_member_is_its_run_alone_and_the_gd_twin_a_full_batch_run() {
    let d = small_data();
    let cfg = tiny(30, 1, 2, true);
    let root = tempfile::tempdir().unwrap();
    let runs = drift::train(&cfg, &d, root.path(), 2, &mut |_, _| true).unwrap();
    let steps: Vec<u64> = runs[0].1.checkpoints.iter().map(|c| c.step).collect();
    // stream 1 alone
    let (m, s) = &runs[1];
    assert_eq!(m.role, MemberRole::Stream(1));
    let alone = tempfile::tempdir().unwrap();
    let one = train::run(&m.config, &d, alone.path(), &mut |_, _| true).unwrap();
    assert_eq!(one.checkpoints, s.checkpoints);
    for &t in &steps {
        assert_eq!(weights(alone.path(), t), weights(&m.dir, t), "step {t}");
    }
    // the GD twin is a run with batch = n (whatever its stream seed) and with batch > n
    let (gd, _) = &runs[2];
    assert_eq!(gd.role, MemberRole::GdTwin);
    assert_eq!(gd.config.batch_size, d.train.len());
    for (k, batch) in [(0u64, d.train.len()), (1, 10 * d.train.len())] {
        let full = TrainConfig {
            batch_size: batch,
            ..runs[0].0.config.clone()
        }
        .with_seeds(cfg.groups[0].first_init_seed, 1234 + k);
        let dir = tempfile::tempdir().unwrap();
        train::run(&full, &d, dir.path(), &mut |_, _| true).unwrap();
        for &t in &steps {
            assert_eq!(
                weights(dir.path(), t),
                weights(&gd.dir, t),
                "batch {batch}, step {t}"
            );
        }
    }
}

#[test]
fn tiny_study_end_to_end() {
    let d = small_data();
    let cfg = tiny(50, 2, 3, true);
    let root = tempfile::tempdir().unwrap();
    let t0 = std::time::Instant::now();
    let r = drift::run_study(&cfg, &d, root.path(), 2, &mut |_, _| true).unwrap();
    assert!(t0.elapsed().as_secs_f64() < 60.0);
    let g = &r.groups[0];
    assert!(g.shared_init_identical);
    assert_eq!(g.per_init.len(), 2);
    let last = g.last.as_ref().unwrap();
    assert_eq!(last.step, 50);
    assert!(last.drift > 0.0 && last.diffusion > 0.0);
    assert!(last.gd_gap.unwrap() > 0.0 && last.gd_drift.unwrap() > 0.0);
    // E|w - w0|^2 = drift + (S-1)/S tr Sigma, per initialisation (relative: f64 sums)
    for p in g.per_init.iter().flatten() {
        let want = p.drift + 2.0 / 3.0 * p.diffusion;
        assert!((p.msd - want).abs() <= 1e-9 * want.max(1e-30), "{p:?}");
        assert!(p.top_eigenvalues.len() <= 2);
    }
    let first = &g.series[0];
    assert_eq!(first.step, 0);
    assert!(first.drift.abs() < 1e-30 && first.diffusion.abs() < 1e-30);
    // a second run reuses every member and gives the same numbers
    let again = drift::run_study(&cfg, &d, root.path(), 1, &mut |_, _| true).unwrap();
    assert_eq!(again.groups[0].series, g.series);
    // every key is there
    let v = serde_json::to_value(&r).unwrap();
    for k in [
        "config",
        "data_source",
        "groups",
        "train_seconds",
        "wall_seconds",
    ] {
        assert!(v.get(k).is_some(), "missing {k}");
    }
    let gv = &v["groups"][0];
    for k in [
        "name",
        "config",
        "n_params",
        "shared_init_identical",
        "gd_steps_done",
        "series",
        "per_init",
        "last",
        "diffusion_exponent",
        "drift_exponent",
        "exponent_vs_window_start",
        "stationarity",
        "aging",
        "gamma_law",
    ] {
        assert!(gv.get(k).is_some(), "missing groups[0].{k}");
    }
    for k in [
        "testable",
        "note",
        "window",
        "spacing",
        "autocorrelation_steps",
        "thinned_spacing",
        "residual_autocorrelation",
        "cross_stream_correlation",
        "llc_source",
        "per_init",
        "fisher_p",
    ] {
        assert!(gv["gamma_law"].get(k).is_some(), "missing gamma_law.{k}");
    }
    for k in ["llc_per_init", "llc", "resamples", "seed"] {
        assert!(
            v["config"]["gamma_law"].get(k).is_some(),
            "missing config.gamma_law.{k}"
        );
    }
    for k in [
        "step",
        "drift",
        "diffusion",
        "msd",
        "gd_gap",
        "gd_drift",
        "top_eigenvalues",
        "train_loss",
    ] {
        assert!(gv["series"][3].get(k).is_some(), "missing series key {k}");
    }
    for k in [
        "test",
        "level",
        "tail",
        "at_end",
        "stationary",
        "reached_at",
        "verdict",
    ] {
        assert!(
            gv["stationarity"].get(k).is_some(),
            "missing stationarity.{k}"
        );
    }
    for k in [
        "testable",
        "note",
        "window",
        "lags",
        "tamsd",
        "eamsd",
        "eb",
        "eb_ergodic",
        "aging_starts",
        "aging_tamsd",
        "aging_slope",
    ] {
        assert!(gv["aging"].get(k).is_some(), "missing aging.{k}");
    }
    assert!(gv["diffusion_exponent"][0].get("fit").is_some());
}
