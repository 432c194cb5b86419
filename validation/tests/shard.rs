//! `reproduce --shard i/n` + `merge` on the tiny preset (real training): two shards
//! trained into separate directories and merged give the results.json of one process,
//! number for number (only the wall time differs); a merge that lacks a shard names the
//! missing runs.

use ffpe::distributed::Shard;
use ffpe_validation::reproduce::{Preset, ReproduceError, ReproduceOptions, reproduce};
use ffpe_validation::shard::{manifest_path, merge, run_shard, shard_runs};
use serde_json::Value;
use std::path::Path;

fn options(dir: &Path) -> ReproduceOptions {
    let mut opts = ReproduceOptions::new(Preset::tiny(), dir.to_path_buf());
    opts.progress = false;
    opts
}

fn results_without_wall_time(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("results.json")).unwrap();
    let mut v: Value = serde_json::from_str(&text).unwrap();
    let meta = v["meta"].as_object_mut().unwrap();
    assert!(meta.remove("wall_seconds").is_some());
    v
}

#[test]
fn two_shards_merged_equal_one_process() {
    let root = tempfile::tempdir().unwrap();
    let (one, s0, s1, merged) = (
        root.path().join("one"),
        root.path().join("shard0"),
        root.path().join("shard1"),
        root.path().join("merged"),
    );
    reproduce(&options(&one)).unwrap();

    let mut shard_ids = Vec::new();
    for (index, dir) in [(0, &s0), (1, &s1)] {
        let shard = Shard { index, count: 2 };
        let m = run_shard(&options(dir), shard).unwrap();
        assert_eq!(m.trained, shard_runs(&Preset::tiny(), shard));
        assert!(m.reused.is_empty());
        assert!(manifest_path(dir, "tiny", shard).is_file());
        // a shard writes no report and trains only its own runs
        assert!(!dir.join("results.json").exists());
        let runs: Vec<String> = std::fs::read_dir(dir.join("runs"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(runs.len(), m.trained.len());
        shard_ids.push(m.trained);
    }
    // tiny: 4 main-sweep runs and 2 study runs (a histogram seed, a batch-16 run)
    assert_eq!(shard_ids[0].len() + shard_ids[1].len(), 6);
    assert!(shard_ids.iter().all(|s| !s.is_empty()));

    // a merge without shard 1 names shard 1's runs
    let e = merge(std::slice::from_ref(&s0), &options(&merged)).unwrap_err();
    match &e {
        ReproduceError::MissingRuns(ids) => assert_eq!(ids, &shard_ids[1]),
        other => panic!("{other}"),
    }
    assert!(e.to_string().contains(&shard_ids[1][0]));

    let res = merge(&[s0.clone(), s1.clone()], &options(&merged)).unwrap();
    assert_eq!(res.meta.runs_trained, 6);
    assert_eq!(res.meta.runs_reused, 0);
    // every number of the report equals the single-process one, bit for bit (serde_json
    // writes shortest round-trip floats and reads them back exactly)
    assert_eq!(
        results_without_wall_time(&one),
        results_without_wall_time(&merged)
    );
    let md = |d: &Path| std::fs::read_to_string(d.join("report.md")).unwrap();
    // the report differs only in the line with the wall time
    let (a, b) = (md(&one), md(&merged));
    let differing: Vec<(&str, &str)> = a.lines().zip(b.lines()).filter(|(x, y)| x != y).collect();
    assert_eq!(a.lines().count(), b.lines().count());
    assert!(
        differing.len() <= 1 && differing.iter().all(|(x, _)| x.contains("Wall time")),
        "{differing:?}"
    );

    // rerunning a finished shard reuses its runs
    let again = run_shard(&options(&s0), Shard { index: 0, count: 2 }).unwrap();
    assert!(again.trained.is_empty());
    assert_eq!(again.reused, shard_ids[0]);
}
