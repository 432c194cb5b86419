//! The Mittag-Leffler function `E_{a,b}(z) = sum_k z^k / Gamma(a k + b)`.
//!
//! Supported: real `0 < a <= 1`, real finite `b`, real or complex finite `z`.
//!
//! Algorithm (each region uses a route whose rounding error is bounded by a small multiple
//! of machine epsilon relative to the result):
//!
//! * `a = 1`, `b in {1, 2}`: closed forms `e^z`, `expm1(z)/z`.
//! * small `|z|`: the power series, summed until the terms fall below `eps |sum|`.
//! * large `|z|^(1/a)`: the asymptotic series `-sum_k z^-k / Gamma(b - a k)` plus the
//!   exponential term `(1/a) z^((1-b)/a) exp(z^(1/a))` when `|arg z| < a pi`.
//! * elsewhere: inversion of the Laplace transform `s^(a-b)/(s^a - z)` on a
//!   Weideman-Trefethen hyperbolic contour, plus the residue of the pole `s = z^(1/a)`
//!   when it lies to the right of the contour.

use num_complex::Complex64;

use crate::caputo::gamma;
use crate::error::{Result, SolverError};

const PI: f64 = std::f64::consts::PI;
const EPS: f64 = f64::EPSILON;

/// `1/Gamma(x)` for any real `x` (zero at the non-positive integers).
pub(crate) fn rgamma(x: f64) -> f64 {
    if x > 0.0 {
        if x > 171.0 {
            return (-special::Gamma::ln_gamma(x).0).exp();
        }
        return 1.0 / gamma(x);
    }
    let r = x - x.round();
    if r.abs() < 1e-300 {
        return 0.0;
    }
    // reflection: 1/Gamma(x) = sin(pi x) Gamma(1 - x) / pi
    let s = (PI * r).sin()
        * if (x.round() as i64) % 2 == 0 {
            1.0
        } else {
            -1.0
        };
    let g = 1.0 - x;
    if g > 171.0 {
        let (lg, _) = special::Gamma::ln_gamma(g);
        return s * (lg - PI.ln()).exp();
    }
    s * gamma(g) / PI
}

fn check_params(a: f64, b: f64) -> Result<()> {
    if !(a.is_finite() && a > 0.0 && a <= 1.0) {
        return Err(SolverError::InvalidArgument {
            name: "a",
            value: a,
            reason: "the order must satisfy 0 < a <= 1",
        });
    }
    if !b.is_finite() || b.abs() > 100.0 {
        return Err(SolverError::InvalidArgument {
            name: "b",
            value: b,
            reason: "b must be finite with |b| <= 100",
        });
    }
    Ok(())
}

/// Setup for evaluating `E_{a,b}` at many arguments: validated parameters and cached
/// constants.
#[derive(Clone, Debug)]
pub struct MittagLeffler {
    a: f64,
    b: f64,
}

impl MittagLeffler {
    /// Validate `0 < a <= 1` and finite `b` (`|b| <= 100`).
    ///
    /// ```
    /// use ffpe_solvers::mittag_leffler::MittagLeffler;
    /// let ml = MittagLeffler::new(0.5, 1.0)?;
    /// // E_{1/2}(-1) = e erfc(1)
    /// assert!((ml.eval(-1.0)? - 0.42758357615580700).abs() < 1e-8);
    /// assert!(MittagLeffler::new(0.0, 1.0).is_err());
    /// # Ok::<(), ffpe_solvers::SolverError>(())
    /// ```
    pub fn new(a: f64, b: f64) -> Result<Self> {
        check_params(a, b)?;
        Ok(Self { a, b })
    }

    /// `E_{a,b}(z)` for real `z`; NaN or infinite `z` is an error. Overflow gives `+inf`.
    pub fn eval(&self, z: f64) -> Result<f64> {
        if !z.is_finite() {
            return Err(SolverError::InvalidArgument {
                name: "z",
                value: z,
                reason: "z must be finite",
            });
        }
        Ok(self.eval_complex_unchecked(Complex64::new(z, 0.0)).re)
    }

    /// `E_{a,b}(z)` for complex `z`.
    ///
    /// ```
    /// use num_complex::Complex64;
    /// use ffpe_solvers::mittag_leffler::MittagLeffler;
    /// let ml = MittagLeffler::new(1.0, 1.0)?;
    /// let z = Complex64::new(0.5, 1.0);
    /// assert!((ml.eval_complex(z)? - z.exp()).norm() < 1e-15);
    /// # Ok::<(), ffpe_solvers::SolverError>(())
    /// ```
    pub fn eval_complex(&self, z: Complex64) -> Result<Complex64> {
        if !(z.re.is_finite() && z.im.is_finite()) {
            return Err(SolverError::InvalidArgument {
                name: "z",
                value: z.re,
                reason: "z must be finite (real and imaginary parts)",
            });
        }
        Ok(self.eval_complex_unchecked(z))
    }

    /// Evaluate at every `zs[i]` into `out[i]` (same lengths).
    ///
    /// ```
    /// use ffpe_solvers::mittag_leffler::MittagLeffler;
    /// let ml = MittagLeffler::new(0.7, 1.0)?;
    /// let t: Vec<f64> = (1..=10).map(|i| i as f64 / 10.0).collect();
    /// let z: Vec<f64> = t.iter().map(|t| -t.powf(0.7)).collect();
    /// let mut e = vec![0.0; z.len()];
    /// ml.eval_batch_into(&z, &mut e)?;
    /// assert!(e.windows(2).all(|w| w[1] < w[0])); // completely monotone relaxation
    /// # Ok::<(), ffpe_solvers::SolverError>(())
    /// ```
    pub fn eval_batch_into(&self, zs: &[f64], out: &mut [f64]) -> Result<()> {
        if zs.len() != out.len() {
            return Err(SolverError::DimensionMismatch {
                what: "output of eval_batch_into",
                expected: zs.len(),
                got: out.len(),
            });
        }
        for (o, &z) in out.iter_mut().zip(zs) {
            *o = self.eval(z)?;
        }
        Ok(())
    }

    fn eval_complex_unchecked(&self, z: Complex64) -> Complex64 {
        let (a, b) = (self.a, self.b);
        if z.norm() == 0.0 {
            return Complex64::new(rgamma(b), 0.0);
        }
        if (a - 1.0).abs() == 0.0 {
            if (b - 1.0).abs() == 0.0 {
                return z.exp();
            }
            if (b - 2.0).abs() == 0.0 {
                return if z.im == 0.0 {
                    Complex64::new(z.re.exp_m1() / z.re, 0.0)
                } else {
                    (z.exp() - 1.0) / z
                };
            }
        }
        let r = z.norm();
        let t = r.powf(1.0 / a);
        if r <= 0.5 || (z.im == 0.0 && z.re > 0.0 && t < 1.0) {
            return taylor(a, b, z);
        }
        let arg = z.arg().abs();
        if t >= 45.0 && arg > a * PI + 0.05 {
            return asymptotic(a, b, z);
        }
        laplace(a, b, z)
    }
}

fn taylor(a: f64, b: f64, z: Complex64) -> Complex64 {
    let mut sum = Complex64::new(0.0, 0.0);
    let mut zk = Complex64::new(1.0, 0.0);
    for k in 0..20000 {
        let term = zk * rgamma(a * k as f64 + b);
        sum += term;
        if k > 4 && term.norm() <= 0.25 * EPS * sum.norm() && a * k as f64 + b > 1.0 {
            break;
        }
        zk *= z;
    }
    sum
}

fn asymptotic(a: f64, b: f64, z: Complex64) -> Complex64 {
    let mut sum = Complex64::new(0.0, 0.0);
    let zi = 1.0 / z;
    let mut zk = zi;
    let mut prev = f64::INFINITY;
    for k in 1..5000 {
        let term = zk * rgamma(b - a * k as f64);
        let tn = term.norm();
        if tn > prev && k > 3 {
            break;
        }
        sum -= term;
        if tn <= 0.25 * EPS * sum.norm() && tn > 0.0 {
            break;
        }
        if tn > 0.0 {
            prev = tn;
        }
        zk *= zi;
    }
    if z.arg().abs() < a * PI {
        let s = z.powf(1.0 / a);
        sum += s.powf(1.0 - b) * s.exp() / a;
    }
    sum
}

/// Laplace inversion on the hyperbola `s(u) = mu (1 + sin(i u - phi))`.
fn laplace(a: f64, b: f64, z: Complex64) -> Complex64 {
    let n: i64 = 40;
    let phi: f64 = 1.1721;
    let h = 1.0818 / n as f64;
    let mut mu = 4.4921 * n as f64;
    // Pole of s^(a-b)/(s^a - z) on the principal sheet.
    let pole = if z.arg().abs() < a * PI {
        Some(z.powf(1.0 / a))
    } else {
        None
    };
    let left_of = |mu: f64, p: Complex64| -> f64 {
        // signed horizontal distance of p from the contour (positive: p right of it).
        let th = (p.im / (mu * phi.cos())).asinh();
        p.re - mu * (1.0 - phi.sin() * th.cosh())
    };
    if let Some(p) = pole {
        // keep the contour away from the pole
        let mut tries = 0;
        while left_of(mu, p).abs() < 0.5 + 0.1 * p.norm() && tries < 20 {
            mu *= 1.3;
            tries += 1;
        }
    }
    let f = |s: Complex64| -> Complex64 { s.powf(a - b) / (s.powf(a) - z) };
    let mut sum = Complex64::new(0.0, 0.0);
    let real = z.im == 0.0;
    let kmin = if real { 0 } else { -n };
    for k in kmin..=n {
        let u = k as f64 * h;
        let w = Complex64::new(-phi, u); // i u - phi
        let s = mu * (1.0 + w.sin());
        let ds = Complex64::new(0.0, mu) * w.cos();
        let term = s.exp() * f(s) * ds;
        if real {
            sum += if k == 0 { 0.5 * term } else { term };
        } else {
            sum += term;
        }
    }
    let mut val = if real {
        Complex64::new(h / PI * sum.im, 0.0)
    } else {
        sum * h / Complex64::new(0.0, 2.0 * PI)
    };
    if let Some(p) = pole
        && left_of(mu, p) > 0.0
    {
        val += p.powf(1.0 - b) * p.exp() / a;
    }
    val
}

/// `E_{a,b}(z)` for real `z`, `0 < a <= 1`, finite `b`.
///
/// ```
/// use ffpe_solvers::mittag_leffler::mittag_leffler;
/// assert!((mittag_leffler(1.0, 1.0, -2.0)? - (-2.0f64).exp()).abs() < 1e-16);
/// assert!(mittag_leffler(f64::NAN, 1.0, 1.0).is_err());
/// # Ok::<(), ffpe_solvers::SolverError>(())
/// ```
pub fn mittag_leffler(a: f64, b: f64, z: f64) -> Result<f64> {
    MittagLeffler::new(a, b)?.eval(z)
}

/// `E_{a,b}(z)` for complex `z`.
///
/// ```
/// use num_complex::Complex64;
/// use ffpe_solvers::mittag_leffler::mittag_leffler_complex;
/// let e = mittag_leffler_complex(0.5, 1.0, Complex64::new(-1.0, 0.0))?;
/// assert!((e.re - 0.42758357615580700).abs() < 1e-8 && e.im.abs() < 1e-8);
/// # Ok::<(), ffpe_solvers::SolverError>(())
/// ```
pub fn mittag_leffler_complex(a: f64, b: f64, z: Complex64) -> Result<Complex64> {
    MittagLeffler::new(a, b)?.eval_complex(z)
}
