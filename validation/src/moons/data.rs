//! The two-moons data set.

#[allow(unused_imports)]
use super::*;

/// Two interleaving half circles with Gaussian noise, as scikit-learn's `make_moons`.
///
/// `n / 2` points with label 0 on the upper half circle `(cos t, sin t)` and `n - n / 2` with
/// label 1 on the lower half circle `(1 - cos t, 1/2 - sin t)`, `t` equally spaced in
/// `[0, pi]` (endpoints included); the points are shuffled and then each coordinate gets
/// independent `N(0, noise^2)` noise. Deterministic from `seed` (the crate's [`Rng`], so the same bits on
/// every platform); `noise` should be finite and non-negative ([`run_study`] checks it).
///
/// ```
/// let (x, y) = ffpe_validation::moons::make_moons(10, 0.0, 1);
/// assert_eq!(x.len(), 10);
/// assert_eq!(y.iter().filter(|&&l| l == 1).count(), 5);
/// ```
pub fn make_moons(n: usize, noise: f64, seed: u64) -> (Vec<[f64; 2]>, Vec<u8>) {
    let n_out = n / 2;
    let n_in = n - n_out;
    let angle = |i: usize, m: usize| {
        if m > 1 {
            std::f64::consts::PI * i as f64 / (m - 1) as f64
        } else {
            0.0
        }
    };
    let mut pts: Vec<([f64; 2], u8)> = Vec::with_capacity(n);
    for i in 0..n_out {
        let t = angle(i, n_out);
        pts.push(([t.cos(), t.sin()], 0));
    }
    for i in 0..n_in {
        let t = angle(i, n_in);
        pts.push(([1.0 - t.cos(), 0.5 - t.sin()], 1));
    }
    let mut rng = Rng::new(seed, &[STREAM_DATA]);
    rng.shuffle(&mut pts);
    if noise != 0.0 {
        for (p, _) in &mut pts {
            p[0] += noise * rng.normal();
            p[1] += noise * rng.normal();
        }
    }
    pts.into_iter().unzip()
}
