//! `analyze` of runs from their checkpoints: it agrees with the ensemble study on runs that
//! `train` wrote, recovers the exponents of synthetic ensembles (Brownian: 1; Ornstein-Uhlenbeck
//! at stationarity: 0), and names the file of a malformed checkpoint.

use ffpe_validation::data::{self, DataConfig};
use ffpe_validation::drift::external::{
    ExternalConfig, MemoryRun, RunInput, analyse, analyse_runs, analyse_study, checkpoint_step,
};
use ffpe_validation::drift::metrics::{MetricColumns, assign};
use ffpe_validation::drift::{self, DriftConfig, GroupConfig};
use ffpe_validation::io::checkpoint::{NamedTensor, save, to_bytes};
use ffpe_validation::report::external::write_external_report;
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
    // a plain write (no fsync of the atomic writer): the tests write thousands of these
    let bytes = to_bytes(&t, meta).unwrap();
    std::fs::write(dir.join(format!("ckpt_{step}.safetensors")), bytes).unwrap();
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

/// The tiny ensemble both sides analyse: 784-8-10, `inits` x `streams`, 200 steps, evenly
/// spaced checkpoints every 20 steps.
fn tiny_study(inits: usize, streams: usize) -> DriftConfig {
    DriftConfig {
        groups: vec![GroupConfig {
            name: "g".into(),
            arch: "784-8-10".parse().unwrap(),
            lr: 0.05,
            batch_size: 32,
            steps: 200,
            inits,
            streams,
            gd_twin: false,
            uniform_checkpoints: 10,
            ..GroupConfig::default()
        }],
        bootstrap: ffpe_validation::analysis::stats::BootstrapConfig {
            resamples: 200,
            ..Default::default()
        },
        ..DriftConfig::default()
    }
}

/// Every local file a Markdown report links (`](file)`), relative to its directory.
fn linked_files(md: &str) -> Vec<String> {
    md.split("](")
        .skip(1)
        .filter_map(|s| s.split(')').next())
        .filter(|l| !l.starts_with("http"))
        .map(str::to_string)
        .collect()
}

#[test]
fn agrees_with_the_ensemble_study_on_train_runs() {
    let data = data::load(&DataConfig {
        n_train: 1000,
        n_test: 200,
        ..DataConfig::default()
    })
    .unwrap();
    // 3 initialisations x 2 streams: enough initialisations for every headline claim to have
    // its units (the premise of 3), so the verdicts are computed on both sides
    let cfg = tiny_study(3, 2);
    let tmp = tempfile::tempdir().unwrap();
    drift::train(&cfg, &data, tmp.path(), 2, &mut |_, _| true).unwrap();
    let study = drift::analyse_study(&cfg, &data, tmp.path()).unwrap();
    let g = &study.results.groups[0];
    let dirs: Vec<PathBuf> = (0..3)
        .flat_map(|i| (0..2).map(move |j| (i, j)))
        .map(|(i, j)| {
            tmp.path()
                .join("g")
                .join(format!("init-{i}"))
                .join(format!("stream-{j}"))
        })
        .collect();
    let xcfg = ExternalConfig {
        drift: cfg.clone(),
        ..ExternalConfig::default()
    };
    let inputs: Vec<RunInput<'_>> = dirs.iter().map(|d| RunInput::Dir(d)).collect();
    let x = analyse_study(&inputs, &[], &xcfg).unwrap();
    let a = &x.analysis;
    assert!(!a.shared_init && a.initialisations == 3, "{:?}", a.notes);
    assert!(a.metrics.iter().all(|m| m == "summary.json (train)"));
    let steps: Vec<u64> = g.series.iter().map(|p| p.step).collect();
    assert_eq!(a.steps, steps);
    // the ensemble analysis: the same code on the same f32 weights, losses and evenly spaced
    // steps, so every number is bit-identical
    let e = x.ensemble.as_ref().expect("an ensemble");
    let xg = &e.results.groups[0];
    assert_eq!(xg.series, g.series);
    assert_eq!(xg.per_init, g.per_init);
    assert_eq!(xg.diffusion_exponent, g.diffusion_exponent);
    assert_eq!(xg.drift_exponent, g.drift_exponent);
    assert_eq!(xg.exponent_vs_window_start, g.exponent_vs_window_start);
    assert_eq!(xg.stationarity, g.stationarity);
    assert_eq!(xg.aging, g.aging);
    assert_eq!(xg.n_params, g.n_params);
    let (d, s) = (a.drift.as_ref().unwrap(), a.diffusion.as_ref().unwrap());
    for (k, p) in g.series.iter().enumerate() {
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
    // the rivals that need only the series: the same scores; the basin models need the data
    let (xr, r) = (
        e.rivals[0].as_ref().unwrap(),
        study.rivals[0].as_ref().unwrap(),
    );
    for name in ["ffpe_free", "log_law", "offset_power"] {
        let m = |g: &ffpe_validation::drift::rivals::GroupRivals| {
            g.models.iter().find(|m| m.model == name).unwrap().clone()
        };
        assert_eq!(m(xr), m(r), "{name}");
    }
    let basin = xr.models.iter().find(|m| m.model == "ffpe_basin").unwrap();
    assert!(basin.note.as_ref().unwrap().contains("analyze"));
    // the claims: the same evidence wherever it does not come from the basin models
    for (xv, v) in e.verdicts.verdicts.iter().zip(&study.verdicts.verdicts) {
        assert_eq!(xv.claim.id.replace("runs/", "g/"), v.claim.id);
        // the Gamma law needs the run directories and the data (analyze does not run it)
        if !v.claim.id.ends_with("ffpe-beats-ou") && !v.claim.id.ends_with("gamma-law") {
            // Debug text: equal bits, NaN (no estimate) included
            assert_eq!(
                format!("{:?}", xv.evidence),
                format!("{:?}", v.evidence),
                "{}",
                v.claim.id
            );
        }
    }
    // R(t) of every run against the trainer's own record (summary.json): the same f32 weights,
    // summed in f64 in another order, so equal to a few roundings (1e-12 relative)
    for (run, dir) in a.runs.iter().zip(&dirs) {
        let sum = ffpe_validation::train::load_summary(dir).unwrap();
        for (step, r) in a.steps.iter().zip(&run.r) {
            let want = sum.checkpoints.iter().find(|c| c.step == *step).unwrap().r;
            assert!(
                (r - want).abs() <= 1e-12 * want.max(1e-300),
                "R at {step}: {r} vs {want}"
            );
        }
    }
    // the report: the sections of reproduce, and every file it links exists
    let out = tmp.path().join("report");
    let names: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    let res = write_external_report(&x, &names, 1.0, &out).unwrap();
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    for section in [
        "Headline verdicts (shared-initialisation ensembles)",
        "Drift versus diffusion",
        "Aging and ergodicity",
        "Rival predictions of tr Sigma(t) on held-out steps",
        "Displacement exponents",
        "Growth-law comparison",
    ] {
        assert!(md.contains(section), "no section {section}");
    }
    let links = linked_files(&md);
    assert!(
        links.iter().any(|l| l.starts_with("plots/ensemble_")),
        "{links:?}"
    );
    for l in &links {
        assert!(
            out.join(l).is_file(),
            "report.md links {l}, which does not exist"
        );
    }
    for f in &res.files {
        assert!(
            out.join(f).is_file(),
            "results.json lists {f}, which does not exist"
        );
    }
    // results.json is the Results written (NaN, a number not known, is written as null)
    let back: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    assert_eq!(back, serde_json::to_value(&res).unwrap());
    assert_eq!(back["meta"]["preset"], "analyze");
    assert_eq!(back["runs"].as_array().unwrap().len(), 6);
    assert_eq!(
        back["studies"]["ensembles"]["results"]["groups"][0]["series"],
        serde_json::to_value(&g.series).unwrap()
    );
    // the single-run analysis of reproduce on the same series: the trainer's R(t) and losses
    // (as reproduce takes them from summary.json) give the same exponents to rounding
    let sum = ffpe_validation::train::load_summary(&dirs[0]).unwrap();
    let ck: Vec<_> = sum.checkpoints.iter().filter(|c| c.step > 0).collect();
    let mine = &x.runs[0];
    assert_eq!(mine.t, ck.iter().map(|c| c.step as f64).collect::<Vec<_>>());
    assert_eq!(
        mine.train_loss,
        ck.iter().map(|c| c.train_loss).collect::<Vec<_>>()
    );
    assert_eq!(mine.arch, "784-8-10");
    let theirs = ffpe_validation::analysis::run::RunData {
        r: ck.iter().map(|c| c.r).collect(),
        ..mine.clone()
    };
    let acfg = ffpe_validation::analysis::run::RunAnalysisConfig {
        bootstrap: ffpe_validation::report::external::BOOTSTRAP,
        ..Default::default()
    };
    let (ra, rb) = (
        ffpe_validation::analysis::run::analyse_run(mine, &acfg),
        ffpe_validation::analysis::run::analyse_run(&theirs, &acfg),
    );
    let s = |r: &ffpe_validation::analysis::results::RunAnalysis| {
        r.late_fit.as_ref().map(|f| f.displacement_exponent)
    };
    // R agrees to 1e-12 relative; the exponent is a least-squares slope of ln R, so it moves
    // by at most about that much
    match (s(&ra), s(&rb)) {
        (Some(p), Some(q)) => assert!((p - q).abs() < 1e-9, "{p} vs {q}"),
        (p, q) => assert_eq!(p.is_some(), q.is_some()),
    }
    assert_eq!(ra.windows.is_some(), rb.windows.is_some());
    assert_eq!(back["runs"][0]["id"], "init-0-stream-0");
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

#[test]
fn the_step_comes_from_the_header_alone() {
    let tmp = tempfile::tempdir().unwrap();
    // a header that declares 4 MB of tensor data, and no data at all: the step is found, the
    // weights are not readable
    let header = br#"{"w":{"dtype":"F32","shape":[1000000],"data_offsets":[0,4000000]},"__metadata__":{"step":"7"}}"#;
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header);
    let p = tmp.path().join("truncated.safetensors");
    std::fs::write(&p, &bytes).unwrap();
    assert_eq!(checkpoint_step(&p).unwrap(), 7);
    assert!(ffpe_validation::io::checkpoint::load(&p).is_err());
    // ours (metadata under the `ffpe` key) and a name without metadata
    write(tmp.path(), 300, &[1.0, 2.0]);
    assert_eq!(
        checkpoint_step(&tmp.path().join("ckpt_300.safetensors")).unwrap(),
        300
    );
    let t = vec![NamedTensor {
        name: "w".into(),
        shape: vec![1],
        data: vec![0.5],
    }];
    let q = tmp.path().join("model_step42.safetensors");
    save(&q, &t, Default::default()).unwrap();
    assert_eq!(checkpoint_step(&q).unwrap(), 42);
    // a header length past the end of the file names the file
    let bad = tmp.path().join("bad.safetensors");
    std::fs::write(&bad, 1_000_000u64.to_le_bytes()).unwrap();
    let e = checkpoint_step(&bad).unwrap_err().to_string();
    assert!(
        e.contains("bad.safetensors") && e.contains("header length"),
        "{e}"
    );
}

/// Writes `text` to `dir/name`.
fn csv(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn metrics_join_the_checkpoints_by_step() {
    let tmp = tempfile::tempdir().unwrap();
    // an Ornstein-Uhlenbeck ensemble (a = 0.9) with checkpoints every 50 steps besides the
    // geometric ones (16 in the last quarter, the stationarity test needs 10): the spacing is
    // found, and the analysis uses the losses and LLCs given
    let (d, s, end) = (50, 4, 3000u64);
    let (at, runs) = walks(s, d, 0.9, end, 5);
    let mut dirs = vec![];
    let mut noise = Gauss(11);
    let (every, mut table) = (50u64, String::from("run,step,loss,llc/mean\n"));
    for (k, rows) in runs.iter().enumerate() {
        let dir = tmp.path().join(format!("r{k}"));
        for (t, w) in at.iter().zip(rows.chunks(d)) {
            write(&dir, *t, w);
        }
        // the evenly spaced checkpoints: the walk's state at the nearest geometric step before
        // (any weights do; the spacing is what is tested)
        for m in 1..=end / every {
            let t = m * every;
            let i = at.iter().rposition(|x| *x <= t).unwrap();
            write(&dir, t, &rows[i * d..(i + 1) * d]);
        }
        dirs.push(dir);
        // a flat loss with independent uniform noise (no trend: stationary) and an LLC rising
        // linearly in the step, logged every 10 steps and at every checkpoint
        let mut logged: std::collections::BTreeSet<u64> = (0..=end).step_by(10).collect();
        logged.extend(at.iter().copied());
        for t in logged {
            let loss = 1.0 + 0.01 * noise.uniform();
            table.push_str(&format!("r{k},{t},{loss},{}\n", t as f64));
        }
    }
    let file = csv(tmp.path(), "metrics.csv", &table);
    let metrics = assign(&[file], &dirs, &MetricColumns::default()).unwrap();
    let inputs: Vec<RunInput<'_>> = dirs.iter().map(|d| RunInput::Dir(d)).collect();
    let cfg = ExternalConfig::default();
    let x = analyse_study(&inputs, &metrics, &cfg).unwrap();
    assert!(x.analysis.metrics.iter().all(|m| m == "metrics file"));
    assert!(
        x.analysis
            .notes
            .iter()
            .any(|n| n.contains("every 50 steps")),
        "{:?}",
        x.analysis.notes
    );
    // the losses reach the stationarity test (a flat loss: stationary) ...
    let g = &x.ensemble.as_ref().unwrap().results.groups[0];
    assert!(
        g.stationarity.at_end.is_some(),
        "{}",
        g.stationarity.verdict
    );
    assert!(g.stationarity.stationary, "{}", g.stationarity.verdict);
    assert!(g.aging.testable, "{}", g.aging.note);
    // ... and the single-run analysis: the training loss at every checkpoint after the first,
    // and lambda_bar, the trapezoid time average of the LLC over the late window: for an LLC
    // linear in the step the trapezoid rule is exact, (first + last) / 2 of the estimates
    // inside the window (to rounding: 1e-9 relative)
    let res = ffpe_validation::report::external::external_results(&x, &[], 0.0);
    for (run, data) in res.runs.iter().zip(&x.runs) {
        assert!(data.train_loss.iter().all(|l| l.is_finite()));
        let (t0, t1) = run.windows.as_ref().unwrap().late;
        let inside: Vec<f64> = data
            .llc_t
            .iter()
            .copied()
            .filter(|t| *t >= t0 && *t <= t1)
            .collect();
        let want = (inside[0] + inside[inside.len() - 1]) / 2.0;
        assert!(
            (run.lambda_bar - want).abs() < 1e-9 * want,
            "{} vs {want}",
            run.lambda_bar
        );
        assert!(run.gamma_law.is_some() || run.notes.iter().any(|n| n.contains("Gamma")));
    }
    // without metrics: no loss, so the stationarity test and the LLC claims are not testable
    let bare = analyse_study(&inputs, &[], &cfg).unwrap();
    let g = &bare.ensemble.as_ref().unwrap().results.groups[0];
    assert!(!g.stationarity.stationary);
    assert!(
        g.stationarity.verdict.contains("too few"),
        "{}",
        g.stationarity.verdict
    );
    let res = ffpe_validation::report::external::external_results(&bare, &[], 0.0);
    let c = res
        .claims
        .iter()
        .find(|c| c.id == "llc_vs_test_error")
        .unwrap();
    assert!(c.evidence.contains("no LLC estimates"), "{}", c.evidence);
    // a malformed metrics file names its file, line and column
    let bad = csv(
        tmp.path(),
        "bad.csv",
        "run,step,loss\nr0,0,1.0\nr0,ten,2.0\n",
    );
    let e = assign(&[bad], &dirs, &MetricColumns::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("bad.csv") && e.contains("line 3") && e.contains("column step"),
        "{e}"
    );
}

#[test]
fn one_run_gets_the_single_run_report_and_no_ensemble_claims() {
    let tmp = tempfile::tempdir().unwrap();
    let dirs = synthetic(tmp.path(), 1, 30, 1.0, 2000, 9);
    let inputs = [RunInput::Dir(&dirs[0])];
    let x = analyse_study(&inputs, &[], &ExternalConfig::default()).unwrap();
    assert!(x.ensemble.is_none());
    assert!(x.analysis.notes.iter().any(|n| n.contains("one run")));
    let out = tmp.path().join("out");
    let res = write_external_report(&x, &["run0".into()], 0.0, &out).unwrap();
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(!md.contains("Headline verdicts"));
    assert!(md.contains("Displacement exponents") && md.contains("## Verdicts"));
    for l in linked_files(&md) {
        assert!(
            out.join(&l).is_file(),
            "report.md links {l}, which does not exist"
        );
    }
    // a Brownian walk: R ~ t^(1/2); its late exponent within 0.1 of 1/2 (one walker in 30
    // dimensions: R^2 is a chi-square of 30 degrees of freedom, ~26 % relative spread per
    // point, over a decade of points)
    let s = res.runs[0].late_fit.as_ref().unwrap().displacement_exponent;
    assert!((s - 0.5).abs() < 0.1, "{s}");
    let c = res
        .claims
        .iter()
        .find(|c| c.id == "gamma_steady_state")
        .unwrap();
    assert!(c.evidence.starts_with("Not testable"), "{}", c.evidence);
}
