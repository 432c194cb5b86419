//! Tests of the LLC estimator.

use super::*;
use crate::data::{self, DataConfig};
use crate::model::Arch;

#[test]
fn chains_do_not_depend_on_grouping_or_count() {
    let d = data::load(&DataConfig {
        n_train: 600,
        n_test: 10,
        ..Default::default()
    })
    .unwrap();
    let arch: Arch = "784-8-10+bn".parse().unwrap();
    let net = Network::init(&arch, 1, &candle_core::Device::Cpu).unwrap();
    let cfg = LlcConfig {
        chains: 3,
        draws: 6,
        batch_size: 64,
        ..LlcConfig::default()
    };
    let a = estimate(&net, &d.train, &cfg).unwrap();
    let b = estimate(
        &net,
        &d.train,
        &LlcConfig {
            threads: 2,
            ..cfg.clone()
        },
    )
    .unwrap();
    let one = estimate(
        &net,
        &d.train,
        &LlcConfig {
            chains: 1,
            ..cfg.clone()
        },
    )
    .unwrap();
    assert_eq!(a.trace, b.trace);
    assert_eq!(a.trace[0], one.trace[0]);
    assert_eq!(a.trace.len(), 3);
    assert!(a.trace[1] != a.trace[2]);
    // running estimate ends at the mean
    assert!((a.llc_running.last().unwrap() - a.llc_mean).abs() < 1e-9);
    let e = estimate(
        &net,
        &d.train,
        &LlcConfig {
            chains: 0,
            ..cfg.clone()
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("chains"), "{e}");
    let small = Network::init(&"784-8-5".parse().unwrap(), 1, &candle_core::Device::Cpu).unwrap();
    let e = estimate(&small, &d.train, &cfg).unwrap_err();
    assert!(e.to_string().contains("output width"), "{e}");
}

/// Batched SGLD: every job of `estimate_many` (two checkpoints of one architecture, another
/// architecture, other settings, a BatchNorm network on the candle path) gives exactly what
/// `estimate` gives for it alone, with 1 and 3 threads.
#[test]
fn estimate_many_equals_estimate_per_job() {
    let d = data::load(&DataConfig {
        n_train: 600,
        n_test: 10,
        ..Default::default()
    })
    .unwrap();
    let dev = candle_core::Device::Cpu;
    let a: Arch = "784-16-10".parse().unwrap();
    let nets = [
        Network::init(&a, 1, &dev).unwrap(),
        Network::init(&a, 2, &dev).unwrap(),
        Network::init(&"784-12-8-10".parse().unwrap(), 3, &dev).unwrap(),
        Network::init(&"784-8-10+bn".parse().unwrap(), 4, &dev).unwrap(),
    ];
    let base = LlcConfig {
        chains: 3,
        draws: 8,
        batch_size: 64,
        ..LlcConfig::default()
    };
    let cfgs = [
        base.clone(),
        LlcConfig {
            seed: 7,
            ..base.clone()
        },
        LlcConfig {
            epsilon: 3e-4,
            gamma: 30.0,
            chains: 2,
            burnin: 2,
            ..base.clone()
        },
        base.clone(),
    ];
    let mut jobs: Vec<(&Network, &LlcConfig)> = nets.iter().zip(&cfgs).collect();
    // one checkpoint under a second setting too (a scale scan)
    jobs.push((&nets[0], &cfgs[2]));
    let want: Vec<LlcResult> = jobs
        .iter()
        .map(|(n, c)| estimate(n, &d.train, c).unwrap())
        .collect();
    for threads in [1, 3] {
        let got = estimate_many(&jobs, &d.train, threads).unwrap();
        assert_eq!(got.len(), want.len());
        for (k, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(g.trace, w.trace, "job {k}");
            assert_eq!(g.llc_per_chain, w.llc_per_chain, "job {k}");
            assert_eq!(g.llc_mean.to_bits(), w.llc_mean.to_bits(), "job {k}");
            assert_eq!(g.llc_std.to_bits(), w.llc_std.to_bits(), "job {k}");
            assert_eq!(g.init_loss.to_bits(), w.init_loss.to_bits(), "job {k}");
            assert_eq!(g.llc_running, w.llc_running, "job {k}");
            assert_eq!(g.warnings, w.warnings, "job {k}");
        }
    }
    assert!(estimate_many(&jobs, &d.train, 0).is_err());
    let bad = LlcConfig {
        draws: 0,
        ..base.clone()
    };
    let e = estimate_many(&[(&nets[0], &bad)], &d.train, 2).unwrap_err();
    assert!(e.to_string().contains("draws"), "{e}");
}

/// The CPU kernels against the chain-batched candle path on a network without BatchNorm:
/// same minibatches and noise, traces equal up to f32 summation order.
#[test]
fn cpu_chains_match_batched_chains() {
    let d = data::load(&DataConfig {
        n_train: 600,
        n_test: 10,
        ..Default::default()
    })
    .unwrap();
    for arch in ["784-70-10", "784-10"] {
        let net = Network::init(&arch.parse().unwrap(), 2, &candle_core::Device::Cpu).unwrap();
        for noise_level in [0.0, 1.0] {
            let cfg = LlcConfig {
                chains: 2,
                draws: 8,
                batch_size: 64,
                noise_level,
                epsilon: 1e-3,
                acceptance_every: 2,
                ..LlcConfig::default()
            };
            let nbeta = cfg.nbeta_value(d.train.len());
            let m = Monitor::silent();
            let oa = run_chains_cpu(&net, &d.train, &cfg, nbeta, 0..2, &m).unwrap();
            let ob = run_chains_batched(&net, &d.train, &cfg, nbeta, 0..2, &m).unwrap();
            // the acceptance of the same proposals (draws 0, 2, 4, 6) on both paths: the f32
            // weights differ by summation order (~1e-7 relative), which moves |r_f|^2 - |r_b|^2
            // by ~1e-5 over ~5e4 weights, i.e. the log ratio by ~1e-2 at eps = 1e-3: 0.05
            let want = if noise_level > 0.0 { 4 } else { 0 };
            for (pa, pb) in oa.accept.iter().zip(&ob.accept) {
                assert_eq!((pa.len(), pb.len()), (want, want));
                for (x, y) in pa.iter().zip(pb) {
                    assert!((0.0..=1.0).contains(x), "{x}");
                    assert!((x - y).abs() < 0.05, "{arch}: acceptance {x} vs {y}");
                }
            }
            let (a, b) = (oa.traces, ob.traces);
            for (ta, tb) in a.iter().zip(&b) {
                assert_eq!(ta.len(), tb.len());
                for (x, y) in ta.iter().zip(tb) {
                    assert!(
                        (x - y).abs() < 1e-5,
                        "{arch} noise {noise_level}: {x} vs {y}"
                    );
                }
            }
        }
    }
}

#[test]
fn parse_options() {
    assert_eq!("batch".parse::<NBeta>().unwrap(), NBeta::Batch);
    assert_eq!("12.5".parse::<NBeta>().unwrap(), NBeta::Value(12.5));
    assert!("-1".parse::<NBeta>().is_err());
    assert_eq!(
        "batches:3".parse::<InitLoss>().unwrap(),
        InitLoss::Batches(3)
    );
    assert!("batches:0".parse::<InitLoss>().is_err());
    assert_eq!("2.25".parse::<InitLoss>().unwrap(), InitLoss::Value(2.25));
    assert_eq!("0".parse::<InitLoss>().unwrap(), InitLoss::Value(0.0));
    for bad in ["-0.5", "nan", "inf", "fast"] {
        let e = bad.parse::<InitLoss>().unwrap_err().to_string();
        assert!(e.contains("init-loss"), "{bad}: {e}");
    }
    let e = LlcConfig {
        init_loss: InitLoss::Value(f64::NAN),
        ..LlcConfig::default()
    }
    .validate()
    .unwrap_err();
    assert!(e.to_string().contains("init-loss"), "{e}");
    let c = LlcConfig::default();
    assert!((c.nbeta_value(8000) - 256.0 / 256f64.ln()).abs() < 1e-12);
}

/// A given `init_loss` is used as `L(w*)`: with the full-data loss of a `Full` run given as
/// a number, the result is bit-identical; with another number `c`, every per-chain LLC is
/// `n_beta (mean draw loss - c)` on the same traces (the traces do not depend on `L(w*)`).
#[test]
fn given_init_loss() {
    let d = data::load(&DataConfig {
        n_train: 600,
        n_test: 10,
        ..Default::default()
    })
    .unwrap();
    let net = Network::init(&"784-16-10".parse().unwrap(), 1, &candle_core::Device::Cpu).unwrap();
    let cfg = LlcConfig {
        chains: 2,
        draws: 7,
        batch_size: 64,
        ..LlcConfig::default()
    };
    let full = estimate(&net, &d.train, &cfg).unwrap();
    let same = estimate(
        &net,
        &d.train,
        &LlcConfig {
            init_loss: InitLoss::Value(full.init_loss),
            ..cfg.clone()
        },
    )
    .unwrap();
    assert_eq!(same.llc_mean.to_bits(), full.llc_mean.to_bits());
    assert_eq!(same.llc_per_chain, full.llc_per_chain);
    let c = 1.5;
    let other = estimate(
        &net,
        &d.train,
        &LlcConfig {
            init_loss: InitLoss::Value(c),
            ..cfg.clone()
        },
    )
    .unwrap();
    assert_eq!(other.trace, full.trace);
    assert_eq!(other.init_loss.to_bits(), c.to_bits()); // passed through as given
    for (k, tr) in other.trace.iter().enumerate() {
        let want = other.nbeta * (tr.iter().sum::<f64>() / tr.len() as f64 - c);
        // the same sum in the same order as `finish`: equal up to rounding of the mean
        assert!((other.llc_per_chain[k] - want).abs() < 1e-12 * want.abs().max(1.0));
    }
}

/// `estimate_with_progress`: the same result as `estimate` (CPU kernels, threads 1 and 2,
/// and the chain-batched BatchNorm path), `done` strictly increasing and ending at
/// `chains * total_steps`; a callback returning false stops the run with `Error::Stopped`.
#[test]
fn progress_reports_and_stops() {
    let d = data::load(&DataConfig {
        n_train: 600,
        n_test: 10,
        ..Default::default()
    })
    .unwrap();
    let dev = candle_core::Device::Cpu;
    for (arch, threads) in [("784-16-10", 1), ("784-16-10", 2), ("784-8-10+bn", 1)] {
        let net = Network::init(&arch.parse().unwrap(), 1, &dev).unwrap();
        let cfg = LlcConfig {
            chains: 3,
            draws: 5,
            burnin: 2,
            batch_size: 64,
            threads,
            ..LlcConfig::default()
        };
        let want = estimate(&net, &d.train, &cfg).unwrap();
        let mut seen = vec![];
        let got = estimate_with_progress(&net, &d.train, &cfg, &mut |done, total| {
            seen.push((done, total));
            true
        })
        .unwrap();
        assert_eq!(got.trace, want.trace, "{arch} threads {threads}");
        assert_eq!(got.llc_mean.to_bits(), want.llc_mean.to_bits());
        assert_eq!(got.llc_running, want.llc_running);
        let total = 3 * 7;
        assert!(seen.iter().all(|&(_, t)| t == total));
        assert!(seen.windows(2).all(|w| w[0].0 < w[1].0), "{seen:?}");
        assert_eq!(seen.last().unwrap().0, total);
        // chain-batched path: one report per step for all chains together
        let per_step = if arch.ends_with("+bn") { 3 } else { 1 };
        assert_eq!(seen[0].0, per_step, "{seen:?}");

        let mut calls = 0;
        let e = estimate_with_progress(&net, &d.train, &cfg, &mut |done, _| {
            calls += 1;
            done < 4
        })
        .unwrap_err();
        assert!(matches!(e, Error::Stopped), "{e}");
        assert!(e.to_string().contains("stopped"), "{e}");
        // stopping is prompt: no report after the one that returned false (one thread), at
        // most one more per other thread
        assert!(calls <= 4 / per_step + threads, "{calls}");
    }
}
