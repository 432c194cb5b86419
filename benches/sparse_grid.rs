//! Sparse-grid benchmarks (issue 4): scheme enumeration, the combination of a Gaussian
//! (interpolation at points on every component, then combination), and a small
//! combination-technique solve of the separable fractional OU problem in d = 3 and 4,
//! serial versus two threads.
//!
//! The heavy measurements of BENCHMARKS.md (error versus unknowns and wall time in
//! d = 2..6, the d = 6 run, the SG++ comparison) are ignored tests in
//! `tests/sparse_grid_report.rs`; see that file for the commands.
//!
//! Run: `CARGO_TARGET_DIR=/work/tgt/core cargo bench -p ffpe --bench bench_main --
//! sparse_grid --warm-up-time 1 --measurement-time 3`.

use criterion::Criterion;
use ffpe::problem::{Initial, Potential, Problem};
use ffpe::solve::{MeshKind, build_mesh};
use ffpe::solvers::history::HistoryKind;
use ffpe::sparse_grid::{
    AnalyticComponents, CombinationScheme, CombineRequest, SparseGridConfig, solve_combination,
    solve_sparse,
};
use std::hint::black_box;

/// The separable fractional OU problem of the sparse-grid tests (stiffness 1, 1.25, ...).
pub fn ou_problem(d: usize) -> Problem {
    Problem::builder()
        .alpha(0.6)
        .diffusion_scalar(0.5)
        .potential(Potential::quadratic(
            &(0..d).map(|i| 1.0 + 0.25 * i as f64).collect::<Vec<_>>(),
        ))
        .domain(&vec![-4.0; d], &vec![4.0; d], &vec![4; d])
        .initial(Initial::Gaussian {
            mean: (0..d)
                .map(|i| if i % 2 == 0 { 1.0 } else { -0.8 })
                .collect(),
            std: vec![0.5],
        })
        .build()
        .expect("benchmark problem")
}

/// Registered in `bench_main.rs`.
pub fn sparse_grid_benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("sparse_grid");
    g.sample_size(10);
    g.bench_function("scheme_d6_level10", |b| {
        b.iter(|| CombinationScheme::truncated(black_box(6), 10, 2).unwrap())
    });

    let d = 4;
    let f = |_: f64, x: &[f64]| (-4.0 * x.iter().map(|v| (v - 0.5) * (v - 0.5)).sum::<f64>()).exp();
    let solver = AnalyticComponents::new(vec![0.0; d], vec![1.0; d], vec![0.0], f).unwrap();
    let points: Vec<Vec<f64>> = (0..1000)
        .map(|k| {
            (0..d)
                .map(|a| ((k as f64 + 0.5) * (2.0 + a as f64).sqrt()).fract())
                .collect()
        })
        .collect();
    let request = CombineRequest {
        points,
        marginals: vec![vec![0], vec![0, 1]],
        ..Default::default()
    };
    let scheme = CombinationScheme::classic(d, 6).unwrap();
    g.bench_function("combine_gaussian_d4_level6_1000_points", |b| {
        b.iter(|| {
            solve_combination(&scheme, &solver, &request, &SparseGridConfig::default()).unwrap()
        })
    });

    let times = [0.0, 0.5, 1.0];
    let history = HistoryKind::Soe { tolerance: 1e-12 };
    for (d, level) in [(3usize, 5u32), (4, 5)] {
        let p = ou_problem(d);
        let scheme = CombinationScheme::truncated(d, level, 2).unwrap();
        let mesh = build_mesh(0.6, 1.0, 16, MeshKind::default(), &times, history).unwrap();
        for threads in [1usize, 2] {
            let config = SparseGridConfig {
                threads: Some(threads),
                ..Default::default()
            };
            g.bench_function(
                format!("ou_d{d}_level{level}_16steps_threads{threads}"),
                |b| {
                    b.iter(|| {
                        solve_sparse(
                            &p,
                            &scheme,
                            mesh.clone(),
                            history,
                            &times,
                            &CombineRequest::default(),
                            &config,
                        )
                        .unwrap()
                    })
                },
            );
        }
    }
    g.finish();
}
