//! Fallback: inversion of the Laplace transform on a hyperbolic contour.
//!
//! Used only for parameters outside the quadrature route (`b >= 1 + a` other than `b = 2`,
//! `a = 1` with `b` not in `{1, 2}`; until issue 13 also for arguments within `1e-3` of
//! the rays `|arg z| = a pi`, now done by the main route). Its accuracy is about `1e-12` relative (not the `3e-15` of the main
//! route); parameters (193 nodes, `mu = 48`, `h = 1.5/96`, `phi = 1.1721`) chosen by a scan
//! against the main route: max relative deviation 4.3e-13 on the test grid of
//! `mittag_leffler::tests::laplace_fallback_accuracy`.

use num_complex::Complex64;

use super::series::PI;

/// `E_{a,b}(z)` by trapezoidal Laplace inversion on `s(u) = mu (1 + sin(i u - phi))`,
/// adding the residue of the pole `s = z^(1/a)` if the contour passes left of it.
pub(crate) fn laplace(a: f64, b: f64, z: Complex64) -> Complex64 {
    laplace_with(a, b, z, 96, 0.5, 1.5, 1.1721)
}

/// Hyperbola `s = mu (1 + sin(i u - phi))`, `mu = mu_f n`, step `h = h_f / n`, `2n+1` nodes.
pub(crate) fn laplace_with(
    a: f64,
    b: f64,
    z: Complex64,
    n: i64,
    mu_f: f64,
    h_f: f64,
    phi: f64,
) -> Complex64 {
    let h = h_f / n as f64;
    let pole = if z.arg().abs() < a * PI {
        Some(z.powf(1.0 / a))
    } else {
        None
    };
    let mut mu = mu_f * n as f64;
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
