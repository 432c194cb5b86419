//! `analyze` of runs from their checkpoints: it agrees with the ensemble study on runs that
//! `train` wrote, recovers the exponents of synthetic ensembles (Brownian: 1; Ornstein-Uhlenbeck
//! at stationarity: 0), and names the file of a malformed checkpoint.

use ffpe_validation::data::{self, DataConfig};
use ffpe_validation::drift::external::{
    ExternalConfig, MemoryRun, RunInput, analyse, analyse_runs,
};
use ffpe_validation::drift::{self, DriftConfig, GroupConfig};
use ffpe_validation::io::checkpoint::{NamedTensor, save};
use std::path::{Path, PathBuf};

fn write(dir: &Path, step: u64, w: &[f32]) {
    std::fs::create_dir_all(dir).unwrap();
    let t = vec![NamedTensor {
        name: "layer.weight".into(),
        shape: vec![w.len()],
        data: w.to_vec(),
    }];
    let meta = [("step".to_string(), step.to_string())]
        .into_iter()
        .collect();
    save(&dir.join(format!("ckpt_{step}.safetensors")), &t, meta).unwrap();
}

/// Gaussian draws (Box-Muller on a 64-bit LCG): enough for the synthetic walks.
struct Gauss(u64);
impl Gauss {
    fn uniform(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// `s` walkers in `d` dimensions from one start; `x <- a x + noise`, kept at geometric steps:
/// the steps and, per walker, one row of `d` weights per step.
fn walks(s: usize, d: usize, a: f64, steps: u64, seed: u64) -> (Vec<u64>, Vec<Vec<f32>>) {
    let save_at: std::collections::BTreeSet<u64> = (0..=40)
        .map(|k| (10f64.powf(k as f64 * (steps as f64).log10() / 40.0)) as u64)
        .chain([0])
        .collect();
    let mut g = Gauss(seed);
    let start: Vec<f32> = (0..d).map(|_| g.normal() as f32).collect();
    let mut runs = vec![];
    for _ in 0..s {
        let mut x: Vec<f64> = start.iter().map(|v| *v as f64).collect();
        let mut rows = vec![];
        for t in 0..=steps {
            if save_at.contains(&t) {
                rows.extend(x.iter().map(|v| *v as f32));
            }
            for v in &mut x {
                *v = a * *v + 0.01 * g.normal();
            }
        }
        runs.push(rows);
    }
    (save_at.into_iter().collect(), runs)
}

/// [`walks`] written as one directory of checkpoints per walker.
fn synthetic(root: &Path, s: usize, d: usize, a: f64, steps: u64, seed: u64) -> Vec<PathBuf> {
    let (at, runs) = walks(s, d, a, steps, seed);
    let mut dirs = vec![];
    for (k, rows) in runs.iter().enumerate() {
        let dir = root.join(format!("run{k}"));
        for (t, w) in at.iter().zip(rows.chunks(d)) {
            write(&dir, *t, w);
        }
        dirs.push(dir);
    }
    dirs
}

#[test]
fn synthetic_ensembles_give_their_exponents() {
    let tmp = tempfile::tempdir().unwrap();
    // Brownian: tr Sigma = S-unbiased d sigma^2 t, exponent 1; 40 walkers x 100 dimensions give
    // a relative error of tr Sigma ~ sqrt(2 / (39 x 100)) ~ 2 % per point, and the late window
    // spans a decade: the slope is within 0.05 of 1 (about five standard errors)
    let dirs = synthetic(&tmp.path().join("bm"), 40, 100, 1.0, 3000, 1);
    let r = analyse_runs(&dirs, &ExternalConfig::default()).unwrap();
    assert!(r.shared_init);
    let e = r.diffusion_exponent.unwrap();
    assert!((e - 1.0).abs() < 0.05, "Brownian exponent {e}");
    // Ornstein-Uhlenbeck with a = 0.9 (relaxation ~ 5 steps): stationary from step ~50 on, so
    // over [300, 3000] tr Sigma is flat: exponent within 0.05 of 0
    let dirs = synthetic(&tmp.path().join("ou"), 40, 100, 0.9, 3000, 2);
    let r = analyse_runs(&dirs, &ExternalConfig::default()).unwrap();
    let e = r.diffusion_exponent.unwrap();
    assert!(e.abs() < 0.05, "OU exponent {e}");
}

#[test]
fn agrees_with_the_ensemble_study_on_train_runs() {
    let data = data::load(&DataConfig {
        n_train: 1000,
        n_test: 200,
        ..DataConfig::default()
    })
    .unwrap();
    let cfg = DriftConfig {
        groups: vec![GroupConfig {
            name: "g".into(),
            arch: "784-8-10".parse().unwrap(),
            lr: 0.05,
            batch_size: 32,
            steps: 200,
            inits: 1,
            streams: 3,
            gd_twin: false,
            uniform_checkpoints: 10,
            ..GroupConfig::default()
        }],
        ..DriftConfig::default()
    };
    let tmp = tempfile::tempdir().unwrap();
    let study = drift::run_study(&cfg, &data, tmp.path(), 2, &mut |_, _| true).unwrap();
    let g = &study.groups[0];
    let dirs: Vec<PathBuf> = (0..3)
        .map(|j| {
            tmp.path()
                .join("g")
                .join("init-0")
                .join(format!("stream-{j}"))
        })
        .collect();
    let r = analyse_runs(&dirs, &ExternalConfig::default()).unwrap();
    assert!(r.shared_init);
    let steps: Vec<u64> = g.series.iter().map(|p| p.step).collect();
    assert_eq!(r.steps, steps);
    let (d, s) = (r.drift.unwrap(), r.diffusion.unwrap());
    for (k, p) in g.series.iter().enumerate() {
        // the same f64 sums over the same f32 weights in the same order
        assert_eq!(
            d[k].to_bits(),
            p.drift.to_bits(),
            "drift at step {}",
            p.step
        );
        assert_eq!(
            s[k].to_bits(),
            p.diffusion.to_bits(),
            "diffusion at step {}",
            p.step
        );
    }
}

#[test]
fn malformed_checkpoints_name_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let ok = tmp.path().join("ok");
    for s in [0, 10, 100] {
        write(&ok, s, &[1.0, 2.0, 3.0]);
    }
    // a file with no step in its metadata or name
    let nostep = tmp.path().join("nostep");
    for s in [0, 10] {
        write(&nostep, s, &[1.0, 2.0, 3.0]);
    }
    let t = vec![NamedTensor {
        name: "layer.weight".into(),
        shape: vec![3],
        data: vec![1.0, 2.0, 3.0],
    }];
    save(&nostep.join("final.safetensors"), &t, Default::default()).unwrap();
    let e = analyse_runs(&[nostep], &ExternalConfig::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("final.safetensors") && e.contains("no step"),
        "{e}"
    );
    // mismatched shapes between steps
    let shape = tmp.path().join("shape");
    write(&shape, 0, &[1.0, 2.0, 3.0]);
    write(&shape, 10, &[1.0, 2.0]);
    let e = analyse_runs(&[shape], &ExternalConfig::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("ckpt_10.safetensors") && e.contains("mismatched"),
        "{e}"
    );
    // a NaN weight
    let nan = tmp.path().join("nan");
    write(&nan, 0, &[1.0, 2.0, 3.0]);
    write(&nan, 10, &[1.0, f32::NAN, 3.0]);
    let e = analyse_runs(&[nan], &ExternalConfig::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("ckpt_10.safetensors") && e.contains("layer.weight"),
        "{e}"
    );
    // and the well-formed run works
    let r = analyse_runs(&[ok], &ExternalConfig::default()).unwrap();
    assert_eq!(r.steps, vec![0, 10, 100]);
    assert!(r.drift.is_none(), "one run: no ensemble");
}

#[test]
fn in_memory_runs_equal_their_checkpoints() {
    let tmp = tempfile::tempdir().unwrap();
    let (d, s) = (20, 4);
    let dirs = synthetic(tmp.path(), s, d, 1.0, 500, 3);
    let (steps, runs) = walks(s, d, 1.0, 500, 3);
    let from_files = analyse_runs(&dirs, &ExternalConfig::default()).unwrap();
    let memory: Vec<RunInput<'_>> = runs
        .iter()
        .map(|w| {
            RunInput::Memory(MemoryRun {
                steps: &steps,
                weights: w,
                n_params: d,
            })
        })
        .collect();
    let in_memory = analyse(&memory, &ExternalConfig::default()).unwrap();
    // the same f32 weights through the same code: equal numbers; only the labels differ
    let mut expected = from_files.clone();
    expected.tensors.clear();
    for (k, run) in expected.runs.iter_mut().enumerate() {
        run.dir = format!("<in-memory run {k}>");
    }
    assert_eq!(in_memory, expected);
    assert!(in_memory.shared_init && in_memory.drift.is_some());
    // rows in another order: the same analysis
    let (mut rev_steps, mut rev) = (steps.clone(), vec![]);
    rev_steps.reverse();
    for row in runs[0].chunks(d).rev() {
        rev.extend_from_slice(row);
    }
    let mut mixed = memory.clone();
    mixed[0] = RunInput::Memory(MemoryRun {
        steps: &rev_steps,
        weights: &rev,
        n_params: d,
    });
    assert_eq!(
        analyse(&mixed, &ExternalConfig::default()).unwrap(),
        in_memory
    );
    // directories and in-memory runs together
    let both = [RunInput::Dir(&dirs[0]), memory[1]];
    let r = analyse(&both, &ExternalConfig::default()).unwrap();
    assert_eq!(r.drift.unwrap().len(), steps.len());
}

#[test]
fn malformed_in_memory_runs_name_the_run() {
    let steps = [0u64, 10, 100];
    let good = vec![0.5f32; 3 * 4];
    let run = |weights: &'static [f32], n_params| MemoryRun {
        steps: &[0, 10, 100],
        weights,
        n_params,
    };
    let ok = MemoryRun {
        steps: &steps,
        weights: &good,
        n_params: 4,
    };
    let err = |second: MemoryRun<'_>| {
        analyse(
            &[RunInput::Memory(ok), RunInput::Memory(second)],
            &ExternalConfig::default(),
        )
        .unwrap_err()
        .to_string()
    };
    // rows of another length than run 0's
    let e = err(run(&[0.5; 9], 3));
    assert!(e.starts_with("run 1:") && e.contains("3 parameters"), "{e}");
    // a weight count that is not one row per step
    let e = err(run(&[0.5; 10], 4));
    assert!(e.starts_with("run 1:") && e.contains("10 weights"), "{e}");
    // a NaN
    let mut nan = good.clone();
    nan[6] = f32::NAN;
    let e = err(MemoryRun {
        weights: &nan,
        ..ok
    });
    assert!(
        e.starts_with("run 1:") && e.contains("step 10") && e.contains("NaN"),
        "{e}"
    );
    // a step given twice
    let e = err(MemoryRun {
        steps: &[0, 10, 10],
        ..ok
    });
    assert!(
        e.starts_with("run 1:") && e.contains("step 10 given twice"),
        "{e}"
    );
}
