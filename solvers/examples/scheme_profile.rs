//! Where the time of one relaxation solve goes, L1 against L2-1sigma (issue 13, part 2):
//! set-up (mesh, SOE nodes, stepper) against stepping, and within the L2-1sigma stepping
//! the history evaluation (`history_into`) against the update (`push_increment`), driven
//! directly on the scalar relaxation `D^a y = -y` (the solve is one division).
//!
//! ```text
//! cargo run --release -p ffpe-solvers --example scheme_profile -- [--alpha 0.5] [--n 4096] [--r R] [--reps 5] [--max-error]
//! ```
//! One JSON line per scheme; seconds are the best of `reps`. `--r` sets the grading exponent
//! of both schemes (default: [`Scheme::optimal_grading`]); `--max-error` adds the largest
//! error over all mesh points, `max_n |u^n - E_a(-t_n^a)|`, beside the error at `t = 1`.

use std::time::Instant;

use faer::sparse::{SparseColMat, Triplet};
use ffpe_solvers::caputo::{Scheme, TimeMesh};
use ffpe_solvers::fode::LinearL1Stepper;
use ffpe_solvers::history::{HistoryEvaluator, HistoryKind, L21SigmaHistory, Soe};
use ffpe_solvers::mittag_leffler::{MittagLeffler, mittag_leffler};

const TOL: f64 = 1e-13;

fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_string())
}

fn best<F: FnMut() -> f64>(reps: usize, mut f: F) -> (f64, f64) {
    let mut b = f64::INFINITY;
    let mut v = 0.0;
    for _ in 0..reps {
        let t0 = Instant::now();
        v = f();
        b = b.min(t0.elapsed().as_secs_f64());
    }
    (b, v)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let alpha: f64 = arg(&args, "--alpha", "0.5").parse()?;
    let n: usize = arg(&args, "--n", "4096").parse()?;
    let reps: usize = arg(&args, "--reps", "5").parse()?;
    let r_arg: Option<f64> = args
        .iter()
        .position(|a| a == "--r")
        .and_then(|i| args.get(i + 1))
        .map(|s| s.parse())
        .transpose()?;
    let exact = mittag_leffler(alpha, 1.0, -1.0)?;
    let kind = HistoryKind::Soe { tolerance: TOL };
    for scheme in [Scheme::L1, Scheme::L21Sigma] {
        let r = r_arg.unwrap_or_else(|| scheme.optimal_grading(alpha));
        let (t_mesh, _) = best(reps, || TimeMesh::graded(1.0, n, r).expect("mesh").t_end());
        let mesh = TimeMesh::graded(1.0, n, r)?;
        let a =
            || SparseColMat::try_new_from_triplets(1, 1, &[Triplet::new(0, 0, -1.0)]).expect("A");
        let (t_setup, _) = best(reps, || {
            let st =
                LinearL1Stepper::new_with_scheme(a(), scheme, alpha, mesh.clone(), kind, &[1.0])
                    .expect("stepper");
            st.state()[0]
        });
        let mut nexp = 0;
        let (t_full, y) = best(reps, || {
            let mut st =
                LinearL1Stepper::new_with_scheme(a(), scheme, alpha, mesh.clone(), kind, &[1.0])
                    .expect("stepper");
            while !st.is_finished() {
                st.step(None).expect("step");
            }
            nexp = st.stats().exponentials;
            st.state()[0]
        });
        // the history alone, driven by hand: split evaluation / update
        let (mut t_eval, mut t_push) = (f64::INFINITY, f64::INFINITY);
        for _ in 0..reps {
            let (mut te, mut tp) = (0.0, 0.0);
            let mut u = 1.0;
            let mut out = [0.0];
            match scheme {
                Scheme::L1 => {
                    let mut h = Soe::new(&mesh, alpha, 1, TOL)?;
                    // 1 / Gamma(2 - a) = E_{a, 2-a}(0)
                    let g = mittag_leffler(alpha, 2.0 - alpha, 0.0)?;
                    for k in 1..=n {
                        let c = mesh.step_sizes()[k - 1].powf(-alpha) * g;
                        let t0 = Instant::now();
                        h.history_into(k, &mut out);
                        let t1 = Instant::now();
                        let un = (c * u - out[0]) / (c + 1.0);
                        let t2 = Instant::now();
                        h.push_increment(k, &[un - u]);
                        let t3 = Instant::now();
                        te += (t1 - t0).as_secs_f64();
                        tp += (t3 - t2).as_secs_f64();
                        u = un;
                    }
                }
                Scheme::L21Sigma => {
                    let mut h = L21SigmaHistory::new(kind, &mesh, alpha, 1)?;
                    let s = h.sigma();
                    for k in 1..=n {
                        let t0 = Instant::now();
                        let c = h.history_into(k, &mut out) / s;
                        let t1 = Instant::now();
                        let rhs = c * u - (1.0 - s) / s * u - out[0] / s;
                        let un = rhs / (c + 1.0);
                        let t2 = Instant::now();
                        h.push_increment(k, &[un - u]);
                        let t3 = Instant::now();
                        te += (t1 - t0).as_secs_f64();
                        tp += (t3 - t2).as_secs_f64();
                        u = un;
                    }
                }
            }
            t_eval = t_eval.min(te);
            t_push = t_push.min(tp);
        }
        let max_err = if args.iter().any(|a| a == "--max-error") {
            let ml = MittagLeffler::new(alpha, 1.0)?;
            let mut st =
                LinearL1Stepper::new_with_scheme(a(), scheme, alpha, mesh.clone(), kind, &[1.0])?;
            let mut e: f64 = 0.0;
            while !st.is_finished() {
                st.step(None)?;
                e = e.max((st.state()[0] - ml.eval(-st.time().powf(alpha))?).abs());
            }
            format!("{e:.4e}")
        } else {
            "null".to_string()
        };
        println!(
            "{{\"scheme\":\"{}\",\"alpha\":{alpha},\"N\":{n},\"r\":{r},\"exponentials\":{nexp},\"error\":{:.4e},\"max_error\":{max_err},\"y\":{y:.17e},\"mesh_s\":{t_mesh:.6},\"setup_s\":{t_setup:.6},\"full_s\":{t_full:.6},\"step_s\":{:.6},\"per_step_ns\":{:.1},\"history_eval_s\":{t_eval:.6},\"history_push_s\":{t_push:.6}}}",
            scheme.name(),
            (y - exact).abs(),
            t_full - t_setup,
            (t_full - t_setup) / n as f64 * 1e9,
        );
    }
    Ok(())
}
