//! The walk dimension of the SGD runs: recorded steps, mean squared displacement, fit.

#[allow(unused_imports)]
use super::*;

/// The recorded steps of the mean squared displacement: 1 and then 8 per decade up to `steps`.
pub(super) fn walk_steps(steps: usize) -> Vec<usize> {
    let mut out: Vec<usize> = vec![];
    let mut k = 0.0f64;
    loop {
        let t = 10f64.powf(k / WALK_PER_DECADE).round() as usize;
        if t > steps {
            break;
        }
        if out.last() != Some(&t) {
            out.push(t);
        }
        k += 1.0;
    }
    out
}

/// `(window, points, slope)` of the walk-dimension fit of the mean MSD `msd` at `steps`.
pub(super) fn walk_fit(steps: &[usize], msd: &[f64], plateau: f64) -> ((usize, usize), usize, f64) {
    let (mut x, mut y) = (vec![], vec![]);
    let mut window = (WALK_FIRST_STEP, WALK_FIRST_STEP);
    for (&t, &m) in steps.iter().zip(msd) {
        if t < WALK_FIRST_STEP {
            continue;
        }
        if !(m > 0.0 && m <= 0.5 * plateau) {
            break;
        }
        x.push((t as f64).ln());
        y.push(m.ln());
        window.1 = t;
    }
    let slope = if x.len() >= 3 {
        crate::analysis::stats::slope(&x, &y)
    } else {
        f64::NAN
    };
    (window, x.len(), slope)
}

/// The mean over the runs `runs` of the per-run squared displacements `sq[run][k]`.
pub(super) fn mean_msd(sq: &[Vec<f64>], runs: &[usize]) -> Vec<f64> {
    let k = sq.first().map_or(0, |r| r.len());
    let mut m = vec![0.0; k];
    for &r in runs {
        for (a, b) in m.iter_mut().zip(&sq[r]) {
            *a += b;
        }
    }
    m.iter_mut().for_each(|a| *a /= runs.len().max(1) as f64);
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On an exact power law `MSD = t^(2 / nu)` that saturates at a plateau, the fit recovers
    /// `nu` to rounding (a least-squares line through points that lie on a line) and stops at
    /// the last recorded step below half the plateau.
    #[test]
    fn walk_fit_recovers_a_power_law_and_its_window() {
        let steps = walk_steps(10_000);
        assert_eq!(steps[0], 1);
        assert_eq!(*steps.last().unwrap(), 10_000);
        assert!(steps.windows(2).all(|w| w[0] < w[1]));
        for nu in [2.0, 2.5, 4.0] {
            let plateau = 3000f64.powf(2.0 / nu);
            let msd: Vec<f64> = steps
                .iter()
                .map(|&t| (t as f64).powf(2.0 / nu).min(plateau))
                .collect();
            let (window, points, slope) = walk_fit(&steps, &msd, plateau);
            assert!((2.0 / slope - nu).abs() < 1e-12 * nu, "{nu}: {slope}");
            assert_eq!(window.0, WALK_FIRST_STEP);
            // half the plateau is reached at t = 3000 / 2^(nu / 2)
            let t_half = 3000.0 / 2f64.powf(nu / 2.0);
            assert!(window.1 as f64 <= t_half, "{nu}: {window:?}");
            let next = steps.iter().find(|&&t| t > window.1).unwrap();
            assert!(*next as f64 > t_half, "{nu}: {window:?}");
            assert!(points >= 3);
        }
        // a walk that saturates at once cannot be fitted: NaN, not a number made up
        let flat = vec![1.0; steps.len()];
        assert!(walk_fit(&steps, &flat, 1.0).2.is_nan());
    }
}
