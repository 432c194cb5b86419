//! Mittag-Leffler accuracy against the generated mpmath reference table
//! (`tests/data/ml_reference.json`, written by `scripts/ml_reference.py`: two independent
//! arbitrary-precision routes agreeing to >= 30 digits).

use std::collections::BTreeMap;

use ffpe_solvers::mittag_leffler::MittagLeffler;
use num_complex::Complex64;

struct Row {
    kind: String,
    a: f64,
    b: f64,
    z: Complex64,
    reference: Complex64,
}

fn load() -> Vec<Row> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/ml_reference.json");
    let text = std::fs::read_to_string(path).expect("reference table present");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    assert!(
        doc["generated_by"]
            .as_str()
            .is_some_and(|s| s.contains("GENERATED")),
        "the table must say it is generated"
    );
    assert!(doc["min_agree_digits"].as_f64().unwrap() >= 30.0);
    doc["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let num = |k: &str| r[k].as_f64().unwrap();
            let parse = |k: &str| r[k].as_str().unwrap().parse::<f64>().unwrap();
            Row {
                kind: r["kind"].as_str().unwrap().to_string(),
                a: num("a"),
                b: num("b"),
                // exact decimal strings: serde_json's default float parser may be off by an
                // ulp, which matters where E has condition number |z E'/E| ~ 700
                z: Complex64::new(parse("z_re_s"), parse("z_im_s")),
                reference: Complex64::new(parse("re"), parse("im")),
            }
        })
        .collect()
}

/// Relative errors of all rows with |E| >= 1e-300 (and finite), grouped by (kind, a).
fn errors() -> Vec<(Row, f64)> {
    let mut out = Vec::new();
    let mut cache: Option<MittagLeffler> = None;
    for row in load() {
        let refn = row.reference.norm();
        if !(refn >= 1e-300 && refn.is_finite()) {
            continue;
        }
        let ml = match &cache {
            Some(m) if m.a().to_bits() == row.a.to_bits() && m.b().to_bits() == row.b.to_bits() => {
                m.clone()
            }
            _ => {
                let m = MittagLeffler::new(row.a, row.b).unwrap();
                cache = Some(m.clone());
                m
            }
        };
        let ours = if row.z.im == 0.0 {
            Complex64::new(ml.eval(row.z.re).unwrap(), 0.0)
        } else {
            ml.eval_complex(row.z).unwrap()
        };
        let err = (ours - row.reference).norm() / refn;
        out.push((row, err));
    }
    out
}

#[test]
fn accuracy_against_mpmath_table() {
    let errs = errors();
    assert!(errs.len() > 2000, "table too small: {}", errs.len());
    let mut by: BTreeMap<(String, String), (f64, usize, String)> = BTreeMap::new();
    for (row, e) in &errs {
        let key = (row.kind.clone(), format!("a={}", row.a));
        let entry = by.entry(key).or_insert((0.0, 0, String::new()));
        entry.1 += 1;
        if *e > entry.0 {
            entry.0 = *e;
            entry.2 = format!("b={:.2} z={:.4e}{:+.4e}i", row.b, row.z.re, row.z.im);
        }
    }
    for ((kind, a), (e, n, at)) in &by {
        println!("{kind:9} {a}  n={n:3}  max rel err {e:.2e}  at {at}");
    }
    // near the line |arg z| = a pi (issue 13: the algorithm's regions meet there)
    let near: Vec<_> = errs
        .iter()
        .filter(|(r, _)| {
            r.z.im != 0.0 && (r.z.arg().abs() / (r.a * std::f64::consts::PI) - 1.0).abs() <= 0.021
        })
        .collect();
    if let Some((r, e)) = near.iter().max_by(|x, y| x.1.total_cmp(&y.1)) {
        println!(
            "near |arg z| = a pi: n={}  max rel err {e:.2e}  at a={} b={} z={}{:+}i",
            near.len(),
            r.a,
            r.b,
            r.z.re,
            r.z.im
        );
    }
    // Acceptance: 3e-15 relative wherever |E| >= 1e-300, on every row of the table.
    let worst = errs.iter().map(|(_, e)| *e).fold(0.0, f64::max);
    let bad: Vec<_> = errs.iter().filter(|(_, e)| *e > 3e-15).collect();
    for (row, e) in bad.iter().take(20) {
        println!(
            "over 3e-15: {} a={} b={} z={}{:+}i err={e:.2e}",
            row.kind, row.a, row.b, row.z.re, row.z.im
        );
    }
    println!("worst {worst:.2e}, rows over 3e-15: {}", bad.len());
    assert!(
        bad.is_empty(),
        "{} rows above 3e-15 (worst {worst:.2e})",
        bad.len()
    );
}
