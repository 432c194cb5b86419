//! Power series, reciprocal Gamma and small helpers.

use num_complex::Complex64;

use crate::caputo::gamma;

pub(crate) const PI: f64 = std::f64::consts::PI;

/// `sin(pi x)` with exact argument reduction (exactly 0 at integers).
pub(crate) fn sin_pi(x: f64) -> f64 {
    let n = x.round();
    let f = x - n;
    let s = (PI * f).sin();
    if (n as i64) % 2 == 0 { s } else { -s }
}

/// `cos(pi x)` with exact argument reduction.
pub(crate) fn cos_pi(x: f64) -> f64 {
    sin_pi(x + 0.5)
}

/// `1/Gamma(x)` for any real `x` (zero at the non-positive integers).
pub(crate) fn rgamma(x: f64) -> f64 {
    if x > 0.0 {
        if x > 171.0 {
            return (-special::Gamma::ln_gamma(x).0).exp();
        }
        return 1.0 / gamma(x);
    }
    let n = x.round();
    if (x - n).abs() < 1e-300 {
        return 0.0;
    }
    // reflection: 1/Gamma(x) = sin(pi x) Gamma(1 - x) / pi
    let s = sin_pi(x);
    let g = 1.0 - x;
    if g > 171.0 {
        let (lg, _) = special::Gamma::ln_gamma(g);
        return s * (lg - PI.ln()).exp();
    }
    s * gamma(g) / PI
}

/// Taylor coefficients `1/Gamma(a k + b)` for `|z| <= radius` to below `1e-18` relative.
pub(crate) fn taylor_coefficients(a: f64, b: f64, radius: f64) -> Vec<f64> {
    let mut c = Vec::new();
    let mut rk = 1.0_f64;
    for k in 0..2000 {
        let v = rgamma(a * k as f64 + b);
        c.push(v);
        if k > 3 && a * k as f64 + b > 2.0 && (v * rk).abs() < 1e-19 {
            break;
        }
        rk *= radius;
    }
    c
}

/// Horner evaluation of the series with precomputed coefficients.
pub(crate) fn taylor_real(c: &[f64], z: f64) -> f64 {
    c.iter().rev().fold(0.0, |acc, &ck| acc.mul_add(z, ck))
}

/// Horner evaluation, complex argument.
pub(crate) fn taylor_complex(c: &[f64], z: Complex64) -> Complex64 {
    c.iter()
        .rev()
        .fold(Complex64::new(0.0, 0.0), |acc, &ck| acc * z + ck)
}

/// The first terms `-sum_{k=1}^{m} z^-k / Gamma(b - a k)` of the asymptotic series.
pub(crate) fn asymptotic_head(a: f64, b: f64, z: Complex64, m: usize) -> Complex64 {
    let zi = 1.0 / z;
    let mut zk = zi;
    let mut s = Complex64::new(0.0, 0.0);
    for k in 1..=m {
        s -= zk * rgamma(b - a * k as f64);
        zk *= zi;
    }
    s
}
