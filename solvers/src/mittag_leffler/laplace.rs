//! Fallback: inversion of the Laplace transform on a hyperbolic contour.
//!
//! Used only for parameters outside the quadrature route (`b >= 1 + a` other than `b = 2`,
//! `a = 1` with `b` not in `{1, 2}`) and arguments within `1e-3` of the rays
//! `|arg z| = a pi`. Its accuracy is about `1e-13` relative (not the `3e-15` of the main
//! route); see the module documentation.

use num_complex::Complex64;

use super::series::PI;

/// `E_{a,b}(z)` by trapezoidal Laplace inversion on `s(u) = mu (1 + sin(i u - phi))`,
/// adding the residue of the pole `s = z^(1/a)` if the contour passes left of it.
pub(crate) fn laplace(a: f64, b: f64, z: Complex64) -> Complex64 {
    let n: i64 = 64;
    let phi: f64 = 1.1721;
    let h = 1.0818 / n as f64 * 2.0;
    let pole = if z.arg().abs() < a * PI {
        Some(z.powf(1.0 / a))
    } else {
        None
    };
    let mut mu = 4.4921 * n as f64 / 2.0;
    let right_of = |mu: f64, p: Complex64| -> f64 {
        let th = (p.im / (mu * phi.cos())).asinh();
        p.re - mu * (1.0 - phi.sin() * th.cosh())
    };
    if let Some(p) = pole {
        let mut tries = 0;
        while right_of(mu, p).abs() < 1.0 + 0.1 * p.norm() && tries < 20 {
            mu *= 1.25;
            tries += 1;
        }
    }
    let f = |s: Complex64| -> Complex64 { s.powf(a - b) / (s.powf(a) - z) };
    let mut sum = Complex64::new(0.0, 0.0);
    for k in -n..=n {
        let u = k as f64 * h;
        let w = Complex64::new(-phi, u);
        let s = mu * (1.0 + w.sin());
        let ds = Complex64::new(0.0, mu) * w.cos();
        sum += s.exp() * f(s) * ds;
    }
    let mut val = sum * h / Complex64::new(0.0, 2.0 * PI);
    if let Some(p) = pole
        && right_of(mu, p) > 0.0
    {
        val += p.powf(1.0 - b) * p.exp() / a;
    }
    val
}
