//! Mittag-Leffler: ffpe-solvers against the `mittagleffler` crate (Garrappa 2015) on the
//! 61 x 4 grid `E_a(-t^a)`, `a in {0.3, 0.5, 0.7, 0.9}`, `t = 10^(-3 .. 3)` (61 log points),
//! with the max relative errors of both against the mpmath reference table
//! (`solvers/tests/data/ml_reference.json`) printed once before timing.

use std::hint::black_box;
use std::sync::Once;
use std::time::Instant;

use criterion::{Criterion, Throughput};
use ffpe_solvers::mittag_leffler::{MittagLeffler, mittag_leffler};
use mittagleffler::MittagLeffler as _;

const ORDERS: [f64; 4] = [0.3, 0.5, 0.7, 0.9];

/// (a, z values, reference values or NaN when the table is missing)
fn grid() -> Vec<(f64, Vec<f64>, Vec<f64>)> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/solvers/tests/data/ml_reference.json"
    );
    let table: Option<serde_json::Value> = std::fs::read_to_string(path)
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok());
    ORDERS
        .iter()
        .map(|&a| {
            if let Some(doc) = &table {
                let rows: Vec<_> = doc["rows"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|r| {
                        r["kind"] == "negative"
                            && r["a"].as_f64() == Some(a)
                            && r["b"].as_f64() == Some(1.0)
                    })
                    .collect();
                if rows.len() == 61 {
                    let z = rows.iter().map(|r| r["z_re"].as_f64().unwrap()).collect();
                    let e = rows
                        .iter()
                        .map(|r| r["re"].as_str().unwrap().parse::<f64>().unwrap())
                        .collect();
                    return (a, z, e);
                }
            }
            let z = (0..61)
                .map(|i| -(10f64.powf(-3.0 + 6.0 * i as f64 / 60.0)).powf(a))
                .collect();
            (a, z, vec![f64::NAN; 61])
        })
        .collect()
}

fn crate_ml(z: f64, a: f64) -> f64 {
    z.mittag_leffler(a, 1.0).map_or(f64::NAN, |c| c.re)
}

fn summary(grid: &[(f64, Vec<f64>, Vec<f64>)]) {
    let (mut e_ours, mut e_crate) = (0.0_f64, 0.0_f64);
    for (a, zs, refs) in grid {
        for (z, r) in zs.iter().zip(refs) {
            let o = mittag_leffler(*a, 1.0, *z).unwrap();
            let c = crate_ml(*z, *a);
            e_ours = e_ours.max(((o - r) / r).abs());
            e_crate = e_crate.max(((c - r) / r).abs());
        }
    }
    // Same-run timing ratio (best of 20 sweeps over the 244 points each).
    let time = |f: &mut dyn FnMut()| {
        (0..20)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min)
    };
    let t_crate = time(&mut || {
        for (a, zs, _) in grid {
            for z in zs {
                black_box(crate_ml(*z, *a));
            }
        }
    });
    let t_scalar = time(&mut || {
        for (a, zs, _) in grid {
            for z in zs {
                black_box(mittag_leffler(*a, 1.0, *z).unwrap());
            }
        }
    });
    let mut out = vec![0.0; 61];
    let t_batch = time(&mut || {
        for (a, zs, _) in grid {
            let ml = MittagLeffler::new(*a, 1.0).unwrap();
            ml.eval_batch_into(zs, &mut out).unwrap();
            black_box(&out);
        }
    });
    let t_cold = time(&mut || {
        for (a, zs, _) in grid {
            for z in zs {
                black_box(MittagLeffler::new(*a, 1.0).unwrap().eval(*z).unwrap());
            }
        }
    });
    let per = |t: f64| t / 244.0 * 1e9;
    println!(
        "ML 61x4 grid: max rel err ffpe {e_ours:.2e}, mittagleffler crate {e_crate:.2e}; ns/value: crate {:.0}, ffpe scalar {:.0} ({:.1}x), ffpe batch {:.0} ({:.1}x), ffpe cold scalar (setup per call) {:.0} ({:.2}x)",
        per(t_crate),
        per(t_scalar),
        t_crate / t_scalar,
        per(t_batch),
        t_crate / t_batch,
        per(t_cold),
        t_crate / t_cold
    );
}

/// Criterion group `mittag_leffler`.
pub fn ml_benches(c: &mut Criterion) {
    let grid = grid();
    static ONCE: Once = Once::new();
    ONCE.call_once(|| summary(&grid));
    let mut g = c.benchmark_group("mittag_leffler");
    g.throughput(Throughput::Elements(244));
    g.bench_function("crate_scalar_61x4", |b| {
        b.iter(|| {
            for (a, zs, _) in &grid {
                for z in zs {
                    black_box(crate_ml(*z, *a));
                }
            }
        })
    });
    g.bench_function("ffpe_scalar_61x4", |b| {
        b.iter(|| {
            for (a, zs, _) in &grid {
                for z in zs {
                    black_box(mittag_leffler(*a, 1.0, *z).unwrap());
                }
            }
        })
    });
    let mut out = vec![0.0; 61];
    g.bench_function("ffpe_batch_61x4", |b| {
        b.iter(|| {
            for (a, zs, _) in &grid {
                let ml = MittagLeffler::new(*a, 1.0).unwrap();
                ml.eval_batch_into(zs, &mut out).unwrap();
                black_box(&out);
            }
        })
    });
    g.finish();
}
