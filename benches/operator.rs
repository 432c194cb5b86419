//! Core benchmarks (issue 3): operator assembly and apply, the 1-D fractional OU benchmark
//! problem (alpha 0.5, V = x^2/2, [-6, 6], Gaussian start at 2 with std 0.5, t in [0, 1]),
//! and, with `FFPE_CORE_REPORT=1`, a one-shot report (JSON lines on stderr) of:
//! - error of the mean at t = 1 vs wall time (graded mesh, SOE and Direct), with the
//!   time-only error against the semi-discrete exact solution (eigen-decomposition of the
//!   operator with Mittag-Leffler of the eigenvalues);
//! - SOE vs Direct history at N_t = 1e5, N_x = 2048 (Direct extrapolated from shorter
//!   runs by its O(N_t^2) cost; same answer checked at the longest Direct run).
//!
//! Run: `FFPE_CORE_REPORT=1 CARGO_TARGET_DIR=/work/tgt/core cargo bench -p ffpe --bench
//! bench_main -- operator --warm-up-time 1 --measurement-time 3`.

use criterion::Criterion;
use ffpe::operator::{ApplyOperator, FokkerPlanckOperator};
use ffpe::problem::{Initial, Potential, Problem};
use ffpe::reference::{SemiDiscreteExact, ou_mean};
use ffpe::solve::{MeshKind, SolveOptions, solve};
use ffpe::solvers::history::HistoryKind;
use std::hint::black_box;
use std::time::Instant;

/// The benchmark problem with `m` cells.
pub fn fou_problem(m: usize) -> Problem {
    Problem::builder()
        .alpha(0.5)
        .potential(Potential::quadratic(&[1.0]))
        .domain(&[-6.0], &[6.0], &[m])
        .initial(Initial::Gaussian {
            mean: vec![2.0],
            std: vec![0.5],
        })
        .build()
        .expect("benchmark problem")
}

fn opts(n: usize, mesh: MeshKind, history: HistoryKind) -> SolveOptions {
    SolveOptions {
        t_end: 1.0,
        steps: n,
        mesh,
        history,
        ..Default::default()
    }
}

fn mean(p: &Problem, u: &[f64]) -> f64 {
    let c = p.grid().centres(0);
    u.iter().zip(&c).map(|(a, x)| a * x).sum::<f64>() / u.iter().sum::<f64>()
}

fn report() {
    let exact = ou_mean(2.0, 1.0, 1.0, 0.5, 1.0).expect("E_1/2(-1)");
    // 1. error vs time on the benchmark problem
    for &m in &[192usize] {
        let p = fou_problem(m);
        let u0 = p.initial_density().expect("u0");
        let semi = SemiDiscreteExact::new(&p).expect("eig");
        let semi_mean = mean(&p, &semi.solve(&u0, 1.0).expect("semi"));
        for &(mesh, mname) in &[
            (MeshKind::Graded { r: None }, "graded"),
            (MeshKind::GradedBlocks { r: None }, "graded-blocks"),
        ] {
            for &n in &[256usize, 1024, 4096] {
                for &(h, hname) in &[
                    (HistoryKind::Soe { tolerance: 1e-12 }, "soe"),
                    (HistoryKind::Direct, "direct"),
                ] {
                    let mut best = f64::INFINITY;
                    let mut sol = None;
                    for _ in 0..3 {
                        let t0 = Instant::now();
                        let s = solve(&p, &opts(n, mesh, h)).expect("solve");
                        best = best.min(t0.elapsed().as_secs_f64());
                        sol = Some(s);
                    }
                    let s = sol.expect("ran");
                    let mm = mean(&p, &s.final_density);
                    eprintln!(
                        "{{\"case\":\"fou_1d\",\"M\":{m},\"N\":{n},\"steps\":{},\"mesh\":\"{mname}\",\"history\":\"{hname}\",\"seconds\":{best:.5},\"error_mean\":{:.4e},\"time_only_error_mean\":{:.4e},\"factorizations\":{},\"exponentials\":{}}}",
                        s.stats.steps,
                        (mm - exact).abs(),
                        (mm - semi_mean).abs(),
                        s.stats.factorizations,
                        s.stats.exponentials
                    );
                }
            }
        }
        eprintln!(
            "{{\"case\":\"fou_1d_space\",\"M\":{m},\"semi_discrete_error_mean\":{:.4e}}}",
            (semi_mean - exact).abs()
        );
    }
    // 1b. The same error as the anchor (1.9e-4 to 2.0e-4 at M = 192 with its operator):
    //     the SG error constant is larger, so more cells; SOE history, graded mesh.
    for &m in &[256usize, 288] {
        let p = fou_problem(m);
        for &n in &[512usize, 1024] {
            let mut best = f64::INFINITY;
            let mut err = 0.0;
            for _ in 0..3 {
                let t0 = Instant::now();
                let s = solve(
                    &p,
                    &opts(
                        n,
                        MeshKind::Graded { r: None },
                        HistoryKind::Soe { tolerance: 1e-12 },
                    ),
                )
                .expect("solve");
                best = best.min(t0.elapsed().as_secs_f64());
                err = (mean(&p, &s.final_density) - exact).abs();
            }
            eprintln!(
                "{{\"case\":\"fou_1d_equal_error\",\"M\":{m},\"N\":{n},\"mesh\":\"graded\",\"history\":\"soe\",\"seconds\":{best:.5},\"error_mean\":{err:.4e}}}"
            );
        }
    }
    // 2. SOE vs Direct at N_x = 2048, N_t = 1e5 (uniform mesh: one factorisation, so the
    //    history cost is what differs).
    let p = fou_problem(2048);
    let t0 = Instant::now();
    let soe = solve(
        &p,
        &opts(
            100_000,
            MeshKind::Uniform,
            HistoryKind::Soe { tolerance: 1e-12 },
        ),
    )
    .expect("soe");
    let t_soe = t0.elapsed().as_secs_f64();
    eprintln!(
        "{{\"case\":\"soe_1e5\",\"Nx\":2048,\"Nt\":100000,\"seconds\":{t_soe:.3},\"exponentials\":{},\"history_terms\":{}}}",
        soe.stats.exponentials, soe.stats.history_terms
    );
    let mut pts = vec![];
    let mut last = None;
    for &n in &[1000usize, 2000, 4000] {
        let t0 = Instant::now();
        let d = solve(&p, &opts(n, MeshKind::Uniform, HistoryKind::Direct)).expect("direct");
        let t = t0.elapsed().as_secs_f64();
        pts.push((n as f64, t));
        eprintln!("{{\"case\":\"direct\",\"Nx\":2048,\"Nt\":{n},\"seconds\":{t:.3}}}");
        last = Some((n, d));
    }
    // Fit t = a N + b N^2 (least squares through the origin) and extrapolate.
    let (mut s11, mut s12, mut s22, mut y1, mut y2) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for &(n, t) in &pts {
        s11 += n * n;
        s12 += n * n * n;
        s22 += n * n * n * n;
        y1 += n * t;
        y2 += n * n * t;
    }
    let det = s11 * s22 - s12 * s12;
    let a = (y1 * s22 - y2 * s12) / det;
    let b = (s11 * y2 - s12 * y1) / det;
    let t_direct = a * 1e5 + b * 1e10;
    let (n_last, d_last) = last.expect("direct runs");
    let s_same = solve(
        &p,
        &opts(
            n_last,
            MeshKind::Uniform,
            HistoryKind::Soe { tolerance: 1e-12 },
        ),
    )
    .expect("soe same");
    let diff = d_last
        .final_density
        .iter()
        .zip(&s_same.final_density)
        .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()));
    eprintln!(
        "{{\"case\":\"soe_vs_direct\",\"Nx\":2048,\"Nt\":100000,\"soe_seconds\":{t_soe:.3},\"direct_seconds_extrapolated\":{t_direct:.1},\"speedup\":{:.0},\"max_diff_at_Nt_{n_last}\":{diff:.3e}}}",
        t_direct / t_soe
    );
}

/// Criterion group of the core crate.
pub fn operator_benches(c: &mut Criterion) {
    if std::env::var_os("FFPE_CORE_REPORT").is_some() {
        report();
    }
    let p1 = fou_problem(192);
    c.bench_function("operator/assemble_1d_192", |b| {
        b.iter(|| FokkerPlanckOperator::assemble(black_box(&p1)).expect("assemble"))
    });
    let p2 = Problem::builder()
        .potential(Potential::quadratic(&[1.0, 2.0]))
        .domain(&[-5.0, -5.0], &[5.0, 5.0], &[128, 128])
        .build()
        .expect("2-D");
    c.bench_function("operator/assemble_2d_128x128", |b| {
        b.iter(|| FokkerPlanckOperator::assemble(black_box(&p2)).expect("assemble"))
    });
    let op = FokkerPlanckOperator::assemble(&p2).expect("assemble");
    let x = p2.initial_density().expect("u0");
    let mut y = vec![0.0; x.len()];
    c.bench_function("operator/apply_2d_128x128", |b| {
        b.iter(|| op.apply_into(black_box(&x), &mut y))
    });
    let mut g = c.benchmark_group("fou_1d");
    g.sample_size(10);
    for &n in &[1024usize, 4096] {
        g.bench_function(format!("M192_N{n}_graded_soe"), |b| {
            b.iter(|| {
                solve(
                    &p1,
                    &opts(
                        n,
                        MeshKind::Graded { r: None },
                        HistoryKind::Soe { tolerance: 1e-12 },
                    ),
                )
                .expect("solve")
            })
        });
    }
    g.finish();
}
