//! Times numra-fde's L1 solver on fractional relaxation D^a y = -y, y(0) = 1, t in [0, 1]
//! (uniform steps, the only mesh it offers). Prints one JSON line per N with y(1);
//! the error is computed by run_anchors.sh against ffpe-solvers' Mittag-Leffler value.
//! Usage: numra-anchor <alpha> <N,N,...>

use std::time::Instant;

use numra_fde::{FdeOptions, FdeSolver, FdeSystem, L1Solver};

struct Relax {
    alpha: f64,
}

impl FdeSystem<f64> for Relax {
    fn dim(&self) -> usize {
        1
    }
    fn alpha(&self) -> f64 {
        self.alpha
    }
    fn rhs(&self, _t: f64, y: &[f64], f: &mut [f64]) {
        f[0] = -y[0];
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let alpha: f64 = args.get(1).map_or(0.5, |s| s.parse().unwrap());
    let ns: Vec<usize> = args
        .get(2)
        .map_or("1024,4096,16384".into(), |s| s.clone())
        .split(',')
        .map(|s| s.parse().unwrap())
        .collect();
    for n in ns {
        let sys = Relax { alpha };
        let opts = FdeOptions::default().dt(1.0 / n as f64).max_steps(n + 10);
        let t0 = Instant::now();
        let res = L1Solver::solve(&sys, 0.0, 1.0, &[1.0], &opts).expect("numra solve");
        let secs = t0.elapsed().as_secs_f64();
        let y1 = res.y_final().expect("final state")[0];
        let tf = res.t_final().unwrap();
        println!(
            "{{\"code\":\"numra-fde 0.1.5\",\"alpha\":{alpha},\"mesh\":\"uniform\",\"N\":{n},\"seconds\":{secs:.6e},\"y1\":{y1:.17e},\"t_final\":{tf}}}"
        );
    }
}
