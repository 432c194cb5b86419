//! Accuracy per cell (issue 13, part 4): error of the stiff-axis mean and second moment
//! against cells and wall time, plain full grid versus Richardson extrapolation in space
//! (`SolveOptions::extrapolate`), in one run.
//!
//! ```sh
//! cargo run --release --example accuracy_per_cell -- [--steps N] [--scheme l1|l2-1sigma] [CELLS...]
//! ```
//!
//! Problem: the issue's 2-D fractional OU, `alpha = 0.5`, `D = gamma = 1`, stiffness 1 and
//! 3, `[-6, 6]^2`, Gaussian start at `(1.5, -1)` with std 0.5, `t = 1`; exact moments
//! `<w_i>(t) = <w_i>(0) E_a(-k_i t^a)` and
//! `<w_i^2>(t) = 1/k_i + (<w_i^2>(0) - 1/k_i) E_a(-2 k_i t^a)` (`ffpe::reference`). Every
//! solve uses the same time mesh (default: L2-1sigma, 2048 base steps on its graded-blocks
//! mesh, SOE 1e-13). The time error alone is estimated on the smallest grid of the table as
//! the change from `N` to `4N` steps (same grid, so no spatial error in the difference) and
//! printed first: it passes unchanged through the combination and floors both columns.
//!
//! Prints one JSON line per solve and a Markdown table at the end (default cells
//! 40, 80, 160, 320; plain solves also at half the smallest).

use ffpe::problem::{Initial, Potential, Problem};
use ffpe::reference::{ou_mean, ou_second_moment};
use ffpe::solve::{MeshKind, Scheme, SolveOptions, solve};
use ffpe::solvers::history::HistoryKind;
use std::collections::BTreeMap;

const ALPHA: f64 = 0.5;
const STIFF: [f64; 2] = [1.0, 3.0];
const MEAN0: [f64; 2] = [1.5, -1.0];
const STD0: f64 = 0.5;

fn problem(cells: usize) -> Problem {
    Problem::builder()
        .alpha(ALPHA)
        .potential(Potential::quadratic(&STIFF))
        .domain(&[-6.0, -6.0], &[6.0, 6.0], &[cells, cells])
        .initial(Initial::Gaussian {
            mean: MEAN0.to_vec(),
            std: vec![STD0; 2],
        })
        .build()
        .expect("problem")
}

/// Signed errors of the stiff axis (1): mean, second moment; wall seconds; steps.
fn run(cells: usize, opts: &SolveOptions) -> (f64, f64, f64, usize) {
    let s = solve(&problem(cells), opts).expect("solve");
    let o = s.observables.last().expect("t = 1");
    let k = STIFF[1];
    let m = ou_mean(MEAN0[1], 1.0, k, ALPHA, 1.0).expect("ML");
    let m2 = ou_second_moment(MEAN0[1].powi(2) + STD0 * STD0, 1.0, 1.0, k, ALPHA, 1.0).expect("ML");
    (
        o.mean[1] - m,
        o.second_moment[1] - m2,
        s.stats.seconds,
        s.stats.steps,
    )
}

fn main() {
    let mut steps = 2048usize;
    let mut scheme = Scheme::L21Sigma;
    let mut cells: Vec<usize> = vec![];
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--steps" => steps = args.next().and_then(|s| s.parse().ok()).expect("--steps N"),
            "--scheme" => {
                scheme = args
                    .next()
                    .and_then(|s| Scheme::from_name(&s))
                    .expect("--scheme l1|l2-1sigma")
            }
            other => cells.push(other.parse().expect("cells per axis (even)")),
        }
    }
    if cells.is_empty() {
        cells = vec![40, 80, 160, 320];
    }
    let opts = |steps: usize, extrapolate: bool| SolveOptions {
        t_end: 1.0,
        steps,
        mesh: MeshKind::GradedBlocks { r: None },
        scheme,
        history: HistoryKind::Soe { tolerance: 1e-13 },
        output_times: vec![1.0],
        extrapolate,
        ..Default::default()
    };
    let load = || std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("{{\"loadavg_start\":\"{}\"}}", load().trim());
    // time error alone, on the smallest grid of the table: N against 4N steps
    let (a, b, _, n) = run(cells[0], &opts(steps, false));
    let (a4, b4, _, n4) = run(cells[0], &opts(4 * steps, false));
    let c0 = cells[0] / 2;
    println!(
        "{{\"time_error\":{{\"cells\":{},\"steps\":{n},\"steps_4x\":{n4},\"mean\":{:.3e},\"second_moment\":{:.3e}}}}}",
        cells[0],
        (a - a4).abs(),
        (b - b4).abs()
    );
    let mut plain = BTreeMap::new();
    let mut all: Vec<usize> = vec![c0];
    all.extend(&cells);
    for &c in &all {
        let r = run(c, &opts(steps, false));
        println!(
            "{{\"cells\":{c},\"extrapolate\":false,\"steps\":{},\"err_mean\":{:.3e},\"err_m2\":{:.3e},\"seconds\":{:.3}}}",
            r.3,
            r.0.abs(),
            r.1.abs(),
            r.2
        );
        plain.insert(c, r);
    }
    let mut rich = BTreeMap::new();
    for &c in &cells {
        let r = run(c, &opts(steps, true));
        println!(
            "{{\"cells\":{c},\"extrapolate\":true,\"steps\":{},\"err_mean\":{:.3e},\"err_m2\":{:.3e},\"seconds\":{:.3}}}",
            r.3,
            r.0.abs(),
            r.1.abs(),
            r.2
        );
        rich.insert(c, r);
    }
    println!("{{\"loadavg_end\":\"{}\"}}", load().trim());
    println!();
    println!(
        "| cells | plain: error of mean | plain: error of <w^2> | plain s | extrapolated (with cells/2): error of mean | extrapolated: error of <w^2> | extrapolated s |"
    );
    println!("|---|---|---|---|---|---|---|");
    for &c in &all {
        let p = plain[&c];
        match rich.get(&c) {
            Some(r) => println!(
                "| {c}^2 | {:.2e} | {:.2e} | {:.2} | {:.2e} | {:.2e} | {:.2} |",
                p.0.abs(),
                p.1.abs(),
                p.2,
                r.0.abs(),
                r.1.abs(),
                r.2
            ),
            None => println!(
                "| {c}^2 | {:.2e} | {:.2e} | {:.2} | - | - | - |",
                p.0.abs(),
                p.1.abs(),
                p.2
            ),
        }
    }
}
