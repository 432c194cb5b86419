//! L1 against L2-1sigma (issue 13): error versus wall time, same run.
//!
//! - Fractional relaxation `D^a y = -y`, `y(0) = 1`, error at `t = 1` against
//!   `E_a(-1)`, for `a = 0.3, 0.5, 0.8`, each scheme on its optimally graded mesh
//!   (`r = (2 - a)/a` for L1, `2/a` for L2-1sigma), SOE history (tolerance 1e-13).
//! - The 1-D fractional OU benchmark problem (`a = 0.5`, 192 cells), time-only error of
//!   the mean at `t = 1` against the semi-discrete exact solution, each scheme on its
//!   optimally graded mesh (`MeshKind::Graded { r: None }`) and on the default
//!   graded-blocks mesh, SOE history.
//!
//! With `FFPE_SCHEME_REPORT=1` the table is printed on stderr (JSON lines, then the time
//! to reach error 1e-8, log-log interpolated); the criterion benches time one relaxation
//! solve per scheme at comparable error. Run:
//! `FFPE_SCHEME_REPORT=1 cargo bench --bench bench_main -- schemes --warm-up-time 1 --measurement-time 3`.

use criterion::Criterion;
use faer::sparse::{SparseColMat, Triplet};
use ffpe::reference::SemiDiscreteExact;
use ffpe::solve::{MeshKind, Scheme, SolveOptions, solve};
use ffpe::solvers::caputo::TimeMesh;
use ffpe::solvers::fode::LinearL1Stepper;
use ffpe::solvers::history::HistoryKind;
use ffpe::solvers::mittag_leffler::mittag_leffler;
use std::hint::black_box;
use std::time::Instant;

const TOL: f64 = 1e-13;

/// One relaxation solve on the scheme's graded mesh; returns `y(1)`.
fn relax(scheme: Scheme, alpha: f64, n: usize) -> f64 {
    let a = SparseColMat::try_new_from_triplets(1, 1, &[Triplet::new(0, 0, -1.0)]).expect("A");
    let mesh = TimeMesh::graded(1.0, n, scheme.optimal_grading(alpha)).expect("mesh");
    let mut st = LinearL1Stepper::new_with_scheme(
        a,
        scheme,
        alpha,
        mesh,
        HistoryKind::Soe { tolerance: TOL },
        &[1.0],
    )
    .expect("stepper");
    while !st.is_finished() {
        st.step(None).expect("step");
    }
    st.state()[0]
}

/// Best of `reps` wall times and the value.
fn timed<F: FnMut() -> f64>(reps: usize, mut f: F) -> (f64, f64) {
    let mut best = f64::INFINITY;
    let mut v = 0.0;
    for _ in 0..reps {
        let t0 = Instant::now();
        v = f();
        best = best.min(t0.elapsed().as_secs_f64());
    }
    (best, v)
}

/// Time at which the error curve (seconds, error), errors decreasing, crosses `target`,
/// interpolated linearly in log-log; None if never reached.
fn time_at(points: &[(f64, f64)], target: f64) -> Option<f64> {
    for w in points.windows(2) {
        let ((t0, e0), (t1, e1)) = (w[0], w[1]);
        if e0 >= target && e1 <= target {
            let s = (target.ln() - e0.ln()) / (e1.ln() - e0.ln());
            return Some((t0.ln() + s * (t1.ln() - t0.ln())).exp());
        }
    }
    None
}

fn report() {
    for &alpha in &[0.3, 0.5, 0.8] {
        let exact = mittag_leffler(alpha, 1.0, -1.0).expect("E_a(-1)");
        let mut curves = vec![];
        for (scheme, ns) in [
            (Scheme::L1, &[1024usize, 4096, 16384, 65536, 262144][..]),
            (Scheme::L21Sigma, &[64usize, 256, 1024, 4096, 16384][..]),
        ] {
            let mut pts = vec![];
            for &n in ns {
                let reps = if n <= 16384 { 3 } else { 1 };
                let (secs, y) = timed(reps, || relax(scheme, alpha, n));
                let err = (y - exact).abs();
                eprintln!(
                    "{{\"case\":\"relaxation\",\"alpha\":{alpha},\"scheme\":\"{}\",\"N\":{n},\"seconds\":{secs:.6},\"error\":{err:.4e}}}",
                    scheme.name()
                );
                pts.push((secs, err));
            }
            curves.push((scheme, pts));
        }
        let t = |k: usize| time_at(&curves[k].1, 1e-8);
        match (t(0), t(1)) {
            (Some(a), Some(b)) => eprintln!(
                "{{\"case\":\"relaxation_time_to_1e-8\",\"alpha\":{alpha},\"l1_seconds\":{a:.5},\"l21sigma_seconds\":{b:.5},\"speedup\":{:.1}}}",
                a / b
            ),
            (a, b) => {
                // JSON null for a target not reached
                let js = |v: Option<f64>| v.map_or("null".to_string(), |x| format!("{x:.5}"));
                eprintln!(
                    "{{\"case\":\"relaxation_time_to_1e-8\",\"alpha\":{alpha},\"l1_seconds\":{},\"l21sigma_seconds\":{}}}",
                    js(a),
                    js(b)
                )
            }
        }
    }
    // 1-D fractional OU, time-only error of the mean
    let p = crate::operator::fou_problem(192);
    let u0 = p.initial_density().expect("u0");
    let mean = |u: &[f64]| {
        let c = p.grid().centres(0);
        u.iter().zip(&c).map(|(a, x)| a * x).sum::<f64>() / u.iter().sum::<f64>()
    };
    let semi = mean(
        &SemiDiscreteExact::new(&p)
            .expect("eig")
            .solve(&u0, 1.0)
            .expect("semi"),
    );
    for (mesh, mesh_name) in [
        (MeshKind::Graded { r: None }, "graded"),
        (MeshKind::GradedBlocks { r: None }, "graded-blocks"),
    ] {
        for (scheme, ns) in [
            (Scheme::L1, &[256usize, 1024, 4096, 16384][..]),
            (Scheme::L21Sigma, &[64usize, 256, 1024, 4096][..]),
        ] {
            for &n in ns {
                let mut steps = 0;
                let (secs, m) = timed(3, || {
                    let s = solve(
                        &p,
                        &SolveOptions {
                            t_end: 1.0,
                            steps: n,
                            mesh,
                            scheme,
                            history: HistoryKind::Soe { tolerance: TOL },
                            ..Default::default()
                        },
                    )
                    .expect("solve");
                    steps = s.stats.steps;
                    mean(&s.final_density)
                });
                eprintln!(
                    "{{\"case\":\"fou_1d\",\"M\":192,\"mesh\":\"{mesh_name}\",\"scheme\":\"{}\",\"N\":{n},\"steps\":{steps},\"seconds\":{secs:.5},\"time_only_error_mean\":{:.4e}}}",
                    scheme.name(),
                    (m - semi).abs()
                );
            }
        }
    }
}

/// Criterion: one relaxation solve per scheme at error ~1e-8 (alpha = 0.5).
pub fn scheme_benches(c: &mut Criterion) {
    if std::env::var("FFPE_SCHEME_REPORT").is_ok_and(|v| v == "1") {
        report();
    }
    let mut g = c.benchmark_group("schemes");
    g.sample_size(10);
    g.bench_function("relax_a0.5/l21sigma_N4096", |b| {
        b.iter(|| black_box(relax(Scheme::L21Sigma, 0.5, 4096)))
    });
    g.bench_function("relax_a0.5/l1_N65536", |b| {
        b.iter(|| black_box(relax(Scheme::L1, 0.5, 65536)))
    });
    g.finish();
}
