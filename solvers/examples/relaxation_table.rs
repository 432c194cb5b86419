//! Error-versus-time table for fractional relaxation `D^a y = -y`, `y(0) = 1`, `t in [0, 1]`,
//! against `E_a(-t^a)`: one JSON line per (mesh, history, N).
//!
//! ```text
//! cargo run --release -p ffpe-solvers --example relaxation_table -- \
//!     [--alpha 0.5] [--mesh uniform|graded] [--history direct,soe,fft] [--n 64,256,...] [--tol 1e-12]
//! ```

use std::time::Instant;

use faer::sparse::{SparseColMat, Triplet};
use ffpe_solvers::caputo::TimeMesh;
use ffpe_solvers::fode::LinearL1Stepper;
use ffpe_solvers::history::HistoryKind;
use ffpe_solvers::mittag_leffler::MittagLeffler;

fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_string())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let alpha: f64 = arg(&args, "--alpha", "0.5").parse()?;
    let mesh_kind = arg(&args, "--mesh", "uniform");
    let tol: f64 = arg(&args, "--tol", "1e-12").parse()?;
    let reps: usize = arg(&args, "--reps", "1").parse()?;
    let ns: Vec<usize> = arg(&args, "--n", "64,256,1024,4096,16384")
        .split(',')
        .map(|s| s.parse())
        .collect::<Result<_, _>>()?;
    let kinds: Vec<String> = arg(&args, "--history", "direct,soe,fft")
        .split(',')
        .map(String::from)
        .collect();
    let ml = MittagLeffler::new(alpha, 1.0)?;
    let exact1 = ml.eval(-1.0)?;
    for &n in &ns {
        for k in &kinds {
            let kind = match k.as_str() {
                "direct" => HistoryKind::Direct,
                "soe" => HistoryKind::Soe { tolerance: tol },
                "fft" => HistoryKind::Fft,
                other => return Err(format!("unknown history {other}").into()),
            };
            let mut best = f64::INFINITY;
            let mut last = (0.0, 0.0, Default::default());
            for _ in 0..reps {
                let mesh = match mesh_kind.as_str() {
                    "uniform" => TimeMesh::uniform(1.0, n)?,
                    "graded" => TimeMesh::graded_for_order(1.0, n, alpha)?,
                    other => return Err(format!("unknown mesh {other}").into()),
                };
                let a = SparseColMat::try_new_from_triplets(1, 1, &[Triplet::new(0, 0, -1.0)])
                    .map_err(|e| format!("{e:?}"))?;
                let start = Instant::now();
                let mut st = match LinearL1Stepper::new(a, alpha, mesh, kind, &[1.0]) {
                    Ok(s) => s,
                    Err(e) => {
                        eprintln!("skip {k} N={n}: {e}");
                        break;
                    }
                };
                while !st.is_finished() {
                    st.step(None)?;
                }
                let secs = start.elapsed().as_secs_f64();
                best = best.min(secs);
                last = (st.state()[0], secs, st.stats());
            }
            if best.is_finite() {
                println!(
                    "{{\"alpha\":{alpha},\"mesh\":\"{mesh_kind}\",\"history\":\"{k}\",\"N\":{n},\"seconds\":{best:.6e},\"y1\":{:.17e},\"error_t1\":{:.6e},\"exponentials\":{},\"history_terms\":{}}}",
                    last.0,
                    (last.0 - exact1).abs(),
                    last.2.exponentials,
                    last.2.history_terms
                );
            }
        }
    }
    Ok(())
}
