//! L1 history evaluators and fractional relaxation stepping (`D^a y = -y`, `a = 0.5`).
//! The full error-versus-time table (N = 2^6 .. 2^20) comes from
//! `cargo run --release -p ffpe-solvers --example relaxation_table` (see BENCHMARKS.md);
//! these benches time the representative sizes.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion};
use faer::sparse::{SparseColMat, Triplet};
use ffpe_solvers::caputo::TimeMesh;
use ffpe_solvers::fode::LinearL1Stepper;
use ffpe_solvers::history::HistoryKind;

fn relax(alpha: f64, mesh: TimeMesh, kind: HistoryKind) -> f64 {
    let a = SparseColMat::try_new_from_triplets(1, 1, &[Triplet::new(0, 0, -1.0)]).unwrap();
    let mut st = LinearL1Stepper::new(a, alpha, mesh, kind, &[1.0]).unwrap();
    while !st.is_finished() {
        st.step(None).unwrap();
    }
    st.state()[0]
}

/// Criterion group `history`.
pub fn history_benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("history");
    g.sample_size(10);
    let n = 16384;
    for (name, kind) in [
        ("direct", HistoryKind::Direct),
        ("soe", HistoryKind::Soe { tolerance: 1e-12 }),
        ("fft", HistoryKind::Fft),
    ] {
        g.bench_with_input(
            BenchmarkId::new("relax_uniform_16384", name),
            &kind,
            |b, k| b.iter(|| black_box(relax(0.5, TimeMesh::uniform(1.0, n).unwrap(), *k))),
        );
    }
    g.bench_function("relax_graded_16384/soe", |b| {
        b.iter(|| {
            black_box(relax(
                0.5,
                TimeMesh::graded_for_order(1.0, n, 0.5).unwrap(),
                HistoryKind::Soe { tolerance: 1e-12 },
            ))
        })
    });
    g.bench_function("relax_graded_1e6/soe", |b| {
        b.iter(|| {
            black_box(relax(
                0.5,
                TimeMesh::graded_for_order(1.0, 1_000_000, 0.5).unwrap(),
                HistoryKind::Soe { tolerance: 1e-12 },
            ))
        })
    });
    g.finish();
}
