//! End-to-end test of `reproduce` on the tiny preset (real training on the bundled digits):
//! every section and file of the report exists, every number in report.md is a number of
//! results.json (formatted the same way), and a rerun reuses the finished runs.

use ffpe_validation::report::format::num;
use ffpe_validation::reproduce::{Preset, ReproduceOptions, reproduce};
use serde_json::Value;
use std::collections::HashSet;
use std::path::Path;

/// Number tokens of a text: digits with an optional fraction and exponent; a leading '-' is a
/// sign only when not preceded by a letter or digit (so "784-8-10" gives 784, 8, 10).
fn number_tokens(s: &str) -> Vec<String> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let prev_alnum = i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
        let starts_neg =
            b[i] == b'-' && i + 1 < b.len() && b[i + 1].is_ascii_digit() && !prev_alnum;
        if b[i].is_ascii_digit() || starts_neg {
            // Digits glued to a word (e.g. "log10", "PC1", "s0") belong to that word.
            let glued = prev_alnum && b[i].is_ascii_digit();
            let start = i;
            i += 1;
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
                i += 1;
            }
            if i + 1 < b.len() && b[i] == b'e' && (b[i + 1].is_ascii_digit() || b[i + 1] == b'-') {
                i += 1;
                if b[i] == b'-' {
                    i += 1;
                }
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
            }
            let tok = s[start..i].trim_end_matches('.').to_string();
            if !glued {
                out.push(tok);
            }
        } else {
            i += 1;
        }
    }
    out
}

/// The number tokens of `md` and those of them that are not a number of `dir/results.json`.
fn report_numbers(md: &str, dir: &Path) -> (Vec<String>, Vec<String>) {
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap();
    let mut pool = HashSet::new();
    collect(&json, &mut pool);
    let tokens = number_tokens(md);
    let missing = tokens
        .iter()
        .filter(|t| !pool.contains(*t))
        .cloned()
        .collect();
    (tokens, missing)
}

fn collect(v: &Value, pool: &mut HashSet<String>) {
    match v {
        Value::Number(n) => {
            if let Some(x) = n.as_f64() {
                pool.insert(num(x));
            }
            if let Some(i) = n.as_i64() {
                pool.insert(i.to_string());
            }
            if let Some(u) = n.as_u64() {
                pool.insert(u.to_string());
            }
        }
        Value::String(s) => {
            pool.extend(number_tokens(s));
            pool.insert(s.clone());
        }
        Value::Array(a) => a.iter().for_each(|x| collect(x, pool)),
        Value::Object(o) => o.values().for_each(|x| collect(x, pool)),
        _ => {}
    }
}

#[test]
fn tiny_preset_end_to_end_and_resume() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = ReproduceOptions::new(Preset::tiny(), dir.path().to_path_buf());
    opts.progress = false;
    let res = reproduce(&opts).unwrap();
    let out = dir.path();

    // Every listed file exists, and the expected ones are listed.
    for f in &res.files {
        assert!(out.join(f).is_file(), "missing {f}");
    }
    for f in [
        "results.json",
        "report.md",
        "report.html",
        "runs.csv",
        "gamma_law.csv",
        "ffpe_predictions.csv",
        "optimizer_table.csv",
        "claims.csv",
        "series.csv",
        "llc.csv",
    ] {
        assert!(res.files.iter().any(|x| x == f), "{f} not written");
    }
    for plot in [
        "displacement_0",
        "llc_traces",
        "ds_vs_lambda",
        "lambda_vs_displacement",
        "exponent_histogram",
        "gamma_qq",
        "ffpe_prediction_",
        "projected_weights_",
        "figure4_exponents",
        "figure5a_llc_test_error",
    ] {
        for ext in ["svg", "png"] {
            assert!(
                res.files
                    .iter()
                    .any(|f| f.starts_with(&format!("plots/{plot}")) && f.ends_with(ext)),
                "plot {plot}.{ext} missing"
            );
        }
    }

    // Every section of the report.
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    for section in [
        "## Verdicts",
        "## Displacement exponents",
        "## Growth-law comparison",
        "## Fractal quantities",
        "## Correlations across runs",
        "## SGD versus Adam",
        "## Steady state",
        "## FFPE predictions against the measurements",
        "## Figure 4: the exponent histogram",
        "## Figure 5a: LLC and test error by architecture",
        "## Batch-size scan",
        "## LLC scale scan",
        "## Figures",
        "## Files",
    ] {
        assert!(md.contains(section), "section {section} missing");
        assert!(
            html.contains(&format!("<h2>{}", &section[3..])),
            "html {section}"
        );
    }
    assert_eq!(res.runs.len(), 4);
    assert!(res.claims.len() >= 10);
    for id in [
        "exponent_histogram",
        "architectures_llc_vs_test_error_sgd",
        "heavy_tailed_jumps",
        "small_batch_breaks_subdiffusion",
        "llc_scale_insensitive",
    ] {
        assert!(res.claims.iter().any(|c| c.id == id), "claim {id} missing");
    }
    let st = &res.studies;
    assert_eq!(st.exponents.as_ref().map(|e| e.runs), Some(3));
    assert_eq!(st.batch_scan.len(), 2);
    assert_eq!(st.scale_scan.as_ref().map(|s| s.points.len()), Some(3));
    for c in &res.claims {
        assert!(
            md.contains(&format!("| {} | {} |", c.statement, c.verdict.words())),
            "claim {} not in the verdict table",
            c.id
        );
    }
    // Every run has both FFPE models or says why not.
    for r in &res.runs {
        assert!(
            r.ffpe.predictions.len() == 2 || !r.notes.is_empty() || r.ffpe.predictions.len() == 1,
            "{}: {:?}",
            r.id,
            r.notes
        );
    }
    assert!(
        res.runs.iter().any(|r| r.ffpe.steady_state.is_some()),
        "no steady-state comparison"
    );

    // Numbers in report.md equal numbers in results.json.
    let (tokens, missing) = report_numbers(&md, out);
    assert!(
        tokens.len() > 100,
        "only {} numbers in report.md",
        tokens.len()
    );
    assert!(
        missing.is_empty(),
        "numbers in report.md not in results.json: {missing:?}"
    );

    // A rerun reuses every finished run and reproduces the analysis exactly.
    let res2 = reproduce(&opts).unwrap();
    // The 4 main runs and the 2 study runs (a histogram seed, a batch-16 run).
    assert_eq!(res2.meta.runs_reused, 6);
    assert_eq!(res2.meta.runs_trained, 0);
    // Compared as JSON values (NaN is written as null) with a relative tolerance of 1e-9:
    // the reused runs' series come back from summary.json, whose float parsing is not
    // always correctly rounded (1 ulp), and the analysis amplifies that by a few ulps at most.
    let a = serde_json::to_value(&res.runs).unwrap();
    let b = serde_json::to_value(&res2.runs).unwrap();
    assert_close(&a, &b, "runs");
}

fn assert_close(a: &Value, b: &Value, path: &str) {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            assert!(
                (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1e-300),
                "{path}: {x} vs {y}"
            );
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{path}: lengths");
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                assert_close(p, q, &format!("{path}[{i}]"));
            }
        }
        (Value::Object(x), Value::Object(y)) => {
            assert_eq!(x.len(), y.len(), "{path}: keys");
            for (k, p) in x {
                assert_close(p, &y[k], &format!("{path}.{k}"));
            }
        }
        _ => assert_eq!(a, b, "{path}"),
    }
}

#[test]
fn unknown_preset_is_a_clear_error() {
    let e = Preset::by_name("huge").unwrap_err().to_string();
    assert!(e.contains("huge") && e.contains("quick"), "{e}");
}

/// The tiny preset with the shared-initialisation ensembles (and no other study): the headline
/// verdicts, the drift/diffusion and rival tables and the three first-screen figures are in
/// the report, every number of report.md is a number of results.json, and every headline
/// interval contains its estimate.
#[test]
fn tiny_preset_with_ensembles() {
    use ffpe_validation::analysis::verdict_rules::{RuleVerdict, interval_contains_estimate};
    use ffpe_validation::reproduce::{Studies, tiny_ensembles};
    let dir = tempfile::tempdir().unwrap();
    let mut p = Preset::tiny();
    p.studies = Studies {
        ensembles: Some(tiny_ensembles()),
        ..Studies::default()
    };
    let mut opts = ReproduceOptions::new(p, dir.path().to_path_buf());
    opts.progress = false;
    let res = reproduce(&opts).unwrap();
    let out = dir.path();
    let e = res
        .studies
        .ensembles
        .as_ref()
        .expect("ensembles in results");
    assert_eq!(e.results.groups.len(), 1);
    assert!(e.results.groups[0].shared_init_identical);
    assert_eq!(e.verdicts.verdicts.len(), 6);
    let r = e.rivals[0].as_ref().expect("rivals computed");
    let names: Vec<&str> = r.models.iter().map(|m| m.model.as_str()).collect();
    assert_eq!(
        names,
        [
            "ffpe_free",
            "log_law",
            "offset_power",
            "ffpe_basin",
            "ou_kunin"
        ]
    );
    assert!(r.models.iter().all(|m| m.per_init.len() == 3));
    assert_eq!(r.curvature.len(), 3, "{:?}", r.models[4].note);
    // the basin model's order comes from the fit segment, within the accepted range
    assert_eq!(r.caputo_orders.len(), 3);
    assert!(
        r.caputo_orders.iter().all(|a| (0.05..=1.0).contains(a)),
        "{:?}",
        r.caputo_orders
    );
    for v in &e.verdicts.verdicts {
        if let Some(ci) = &v.evidence.interval {
            assert!(
                interval_contains_estimate(v.evidence.estimate, ci),
                "{}: {} not in {ci:?}",
                v.claim.id,
                v.evidence.estimate
            );
        }
        // 200 steps of a tiny net: no stationary loss, so the aging claims are not testable
        if v.claim.premise.stationary && !e.results.groups[0].stationarity.stationary {
            assert!(matches!(v.verdict, RuleVerdict::NotTestable { .. }));
        }
    }
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    for section in [
        "## Headline verdicts (shared-initialisation ensembles)",
        "## Drift versus diffusion",
        "### Aging and ergodicity",
        "### Rival predictions of tr Sigma(t) on held-out steps",
        "## Appendix: single-run analyses",
        "## Single-run statements of the earlier design (described, not tested)",
    ] {
        assert!(md.contains(section), "section {section} missing");
    }
    // the earlier design's statements carry no verdicts: the headline's are the only ones
    assert!(!md.contains("## Verdicts"));
    let claims_csv = std::fs::read_to_string(out.join("claims.csv")).unwrap();
    assert!(claims_csv.contains("sgd/ffpe-beats-ou,"));
    assert!(claims_csv.contains(",not a test (earlier design)"));
    for plot in ["ensemble_msd", "ensemble_aging", "ensemble_window_start"] {
        assert!(
            res.files.iter().any(|f| f == &format!("plots/{plot}.png")),
            "{plot}.png missing"
        );
        // on the first screen: before the appendix
        let at = md
            .find(&format!("plots/{plot}.svg"))
            .expect("figure linked");
        assert!(at < md.find("## Appendix").unwrap());
    }
    let (_, missing) = report_numbers(&md, out);
    assert!(
        missing.is_empty(),
        "numbers in report.md not in results.json: {missing:?}"
    );
}

/// The convolutional preset in miniature: the LeNet main sweep (with its LLC estimates) and
/// its ensembles go through the whole pipeline, the OU rival is reported as not computed (and
/// why), and every number of report.md is a number of results.json.
#[test]
fn conv_tiny_preset_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = ReproduceOptions::new(Preset::conv_tiny(), dir.path().to_path_buf());
    opts.progress = false;
    let res = reproduce(&opts).unwrap();
    assert_eq!(res.meta.architectures, ["lenet"]);
    assert_eq!(res.runs.len(), 2);
    assert!(
        res.runs
            .iter()
            .all(|r| r.arch == "lenet" && r.n_params == 44_426)
    );
    let e = res.studies.ensembles.as_ref().expect("ensembles");
    assert!(e.results.groups[0].shared_init_identical);
    let r = e.rivals[0].as_ref().expect("rivals");
    let ou = r.models.iter().find(|m| m.model == "ou_kunin").unwrap();
    assert!(
        ou.note.as_deref().unwrap_or("").contains("convolutional"),
        "{:?}",
        ou.note
    );
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(md.contains("lenet"));
    let (_, missing) = report_numbers(&md, dir.path());
    assert!(
        missing.is_empty(),
        "numbers in report.md not in results.json: {missing:?}"
    );
}

/// The LLC at the paper's n_beta = n / ln n on every main run's final checkpoint: one estimate
/// per main run at that n_beta, a row per optimizer whose counts add up, in results.json and
/// in the report (every number of report.md is one of results.json), and cached: a rerun gives
/// the same estimates.
#[test]
fn tiny_preset_estimates_the_llc_at_the_papers_nbeta() {
    use ffpe_validation::llc::{LlcConfig, NBeta};
    use ffpe_validation::reproduce::Studies;
    let dir = tempfile::tempdir().unwrap();
    let mut p = Preset::tiny();
    p.studies = Studies {
        paper_nbeta_llc: Some(LlcConfig {
            nbeta: NBeta::Dataset,
            epsilon: 3e-4,
            gamma: 300.0,
            draws: 60,
            burnin: 20,
            ..LlcConfig::default()
        }),
        ..Studies::default()
    };
    let n = p.n_train as f64;
    let mut opts = ReproduceOptions::new(p, dir.path().to_path_buf());
    opts.progress = false;
    let res = reproduce(&opts).unwrap();
    let pn = res
        .studies
        .paper_nbeta
        .as_ref()
        .expect("paper n_beta study");
    assert_eq!(pn.estimates.len(), res.runs.len());
    for e in &pn.estimates {
        // n / ln n, to rounding
        assert!(
            (e.n_beta - n / n.ln()).abs() < 1e-9 * e.n_beta,
            "{}",
            e.n_beta
        );
        assert_eq!(e.step, 300);
        assert!(e.llc_mean.is_finite(), "{}", e.id);
        if e.usable {
            assert!(e.llc_mean > 0.0);
        }
    }
    assert_eq!(pn.rows.len(), 2);
    for r in &pn.rows {
        assert_eq!(r.runs, 2, "{}", r.optimizer);
        assert!(r.usable + r.negative <= r.runs);
        assert_eq!(r.mean.is_some(), r.usable > 0);
        assert!(r.published.is_some());
    }
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(md.contains("n_beta = n / ln n"), "section missing");
    let (_, missing) = report_numbers(&md, dir.path());
    assert!(
        missing.is_empty(),
        "numbers not in results.json: {missing:?}"
    );
    // a rerun reads the cached estimates
    let again = reproduce(&opts).unwrap();
    assert_eq!(again.studies.paper_nbeta, res.studies.paper_nbeta);
    // any other n_beta is refused, naming the field
    if let Some(c) = opts.preset.studies.paper_nbeta_llc.as_mut() {
        c.nbeta = NBeta::Batch;
    }
    let e = reproduce(&opts).unwrap_err().to_string();
    assert!(e.contains("studies.paper_nbeta_llc.nbeta"), "{e}");
}
