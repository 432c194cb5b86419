//! The Mittag-Leffler function `E_{a,b}(z) = sum_k z^k / Gamma(a k + b)`.
//!
//! Supported: real `0.05 <= a <= 1` ([`MIN_ORDER`]), real `b` with `|b| <= 100`, real or
//! complex finite `z`. Values beyond `f64` are infinite with the sign of the dominant
//! (pole) term, never NaN.
//!
//! # Algorithm and accuracy
//!
//! | region | method |
//! |---|---|
//! | `a = 1`, `b in {1, 2}` | `exp(z)`, `expm1(z)/z` |
//! | `\|z\| <= 1/2`, or real `0 < z <= 1` with `b > 0` | power series (Horner, cached coefficients `1/Gamma(a k + b)`; positive terms for `z > 0`) |
//! | `a < 1` and `b < 1 + a` or `b = 2` | branch-cut integral by a pole-corrected double-exponential trapezoid rule (see `quad.rs`), plus the pole term `(1/a) z^((1-b)/a) exp(z^(1/a))` for `\|arg z\| < a pi`, whose exponent is formed in double-double (its condition number is `\|z\|^(1/a)`, up to ~700) |
//! | real `z > 0` with `z^(1/a) >= 45` | double-double pole term plus three asymptotic terms (the rest is `< e^-45` relative) |
//! | anything else (`b >= 1 + a` other than `b = 2`; `a = 1` with other `b`) | hyperbolic-contour Laplace inversion (fallback, about `1e-12` relative, checked against the main route in a unit test; not covered by the reference table) |
//!
//! Measured on the generated reference table `solvers/tests/data/ml_reference.json`
//! (`solvers/scripts/ml_reference.py`: mpmath, arbitrary-precision series or asymptotic
//! series and a tanh-sinh branch-cut integral agreeing to >= 33.7 digits; 5219 values:
//! `a` in 0.05..1 (dense near 1: 0.95, 0.96, ..., 0.99, 0.995, 0.999, 1), `b in {1, a, 2}`,
//! `z = -t^a` for 61 `t` in `[1e-3, 1e3]`, positive `z` up to overflow, complex `z` on four
//! rays, and 468 complex `z` at `arg z = +-a pi (1 + d)`, `d` in
//! `{-0.02, -1e-3, 0, 1e-3, 0.02}`, `|z|` in `{0.5, 3, 20, 100}`, `a` in
//! `{0.3, 0.5, 0.7, 0.9, 0.99}`): max relative error `1.9e-15`, `<= 1.1e-15` for
//! `0.95 <= a < 1` on the real axis, `1.9e-15` near the line `|arg z| = a pi` (test
//! `tests/mittag_leffler_reference.rs` asserts `<= 3e-15`). Near `a = 1` the poles of the
//! negative axis approach the branch cut, and near `|arg z| = a pi` a pole crosses it;
//! see `quad.rs` for how the nodes are kept off the resulting narrow peak (issue 13).
//!
//! Bad input (NaN or infinite `a`, `b`, `z`; `a < 0.05`; `a > 1`; `|b| > 100`) is an error.

mod dd;
mod laplace;
mod quad;
mod series;

use std::cell::RefCell;
use std::sync::Arc;

use num_complex::Complex64;

use crate::error::{Result, SolverError};
use quad::{Form, Quad};
use series::{asymptotic_head, rgamma, taylor_coefficients, taylor_complex, taylor_real};

/// Exact parameter identity (closed forms apply only to exactly these values).
#[inline]
fn same(x: f64, v: f64) -> bool {
    x.to_bits() == v.to_bits()
}

/// Power series radius.
const TAYLOR_RADIUS: f64 = 0.5;

/// Smallest supported order `a`: the accuracy above is measured for `a >= 0.05`; below,
/// the series and quadrature lose digits (at `a = 1e-4`, `E_a(1)` came out 2.1e3 against
/// about 2.3e4) or do not terminate (`a = 1e-300`), so smaller orders are an error.
pub const MIN_ORDER: f64 = 0.05;

fn check_params(a: f64, b: f64) -> Result<()> {
    if !(a.is_finite() && (MIN_ORDER..=1.0).contains(&a)) {
        return Err(SolverError::InvalidArgument {
            name: "a",
            value: a,
            reason: "the order must satisfy 0.05 <= a <= 1",
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

/// Setup for evaluating `E_{a,b}` at many arguments: validated parameters, power-series
/// coefficients and the quadrature tables (node values that do not depend on `z`). Building
/// it costs a few thousand exponentials; each evaluation then costs about one exponential
/// per quadrature node (or none in the tabulated range `|z|^(1/a) > e^1.5`).
#[derive(Clone, Debug)]
pub struct MittagLeffler {
    a: f64,
    b: f64,
    taylor: Vec<f64>,
    taylor_pos: std::sync::OnceLock<Vec<f64>>,
    quad: Option<Quad>,
}

impl MittagLeffler {
    /// Validate `0.05 <= a <= 1` and finite `b` (`|b| <= 100`) and precompute.
    ///
    /// ```
    /// use ffpe_solvers::mittag_leffler::MittagLeffler;
    /// let ml = MittagLeffler::new(0.5, 1.0)?;
    /// // E_{1/2}(-1) = e erfc(1)
    /// assert!((ml.eval(-1.0)? - 0.42758357615580700).abs() < 1e-15);
    /// assert!(MittagLeffler::new(0.0, 1.0).is_err());
    /// assert!(MittagLeffler::new(0.5, f64::NAN).is_err());
    /// # Ok::<(), ffpe_solvers::SolverError>(())
    /// ```
    pub fn new(a: f64, b: f64) -> Result<Self> {
        check_params(a, b)?;
        let quad = if a < 1.0 {
            let l_min = TAYLOR_RADIUS.ln() / a - 0.5;
            if b < 1.0 + a {
                Some(Quad::new(a, b, Form::Standard, l_min))
            } else if (b - 2.0).abs() == 0.0 {
                Some(Quad::new(a, b, Form::Integrated, l_min))
            } else {
                None
            }
        } else {
            None
        };
        Ok(Self {
            a,
            b,
            taylor: taylor_coefficients(a, b, TAYLOR_RADIUS),
            taylor_pos: std::sync::OnceLock::new(),
            quad,
        })
    }

    /// The order `a`.
    pub fn a(&self) -> f64 {
        self.a
    }

    /// The second parameter `b`.
    pub fn b(&self) -> f64 {
        self.b
    }

    /// `E_{a,b}(z)` for real `z`; NaN or infinite `z` is an error. Overflow gives `+inf`.
    ///
    /// ```
    /// use ffpe_solvers::mittag_leffler::MittagLeffler;
    /// let ml = MittagLeffler::new(1.0, 2.0)?;
    /// assert!((ml.eval(1e-9)? - 1.0000000005).abs() < 1e-15); // expm1(z)/z
    /// assert!(ml.eval(f64::INFINITY).is_err());
    /// # Ok::<(), ffpe_solvers::SolverError>(())
    /// ```
    pub fn eval(&self, z: f64) -> Result<f64> {
        if !z.is_finite() {
            return Err(SolverError::InvalidArgument {
                name: "z",
                value: z,
                reason: "z must be finite",
            });
        }
        Ok(self.eval_real_guarded(z))
    }

    /// `E_{a,b}(z)` for complex `z` (both parts finite).
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
                value: if z.re.is_finite() { z.im } else { z.re },
                reason: "z must be finite (real and imaginary parts)",
            });
        }
        if z.im == 0.0 {
            return Ok(Complex64::new(self.eval_real_guarded(z.re), 0.0));
        }
        Ok(self.eval_complex_guarded(z))
    }

    /// Evaluate at every `zs[i]` into `out[i]` (same lengths), reusing the setup.
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
        if let Some(bad) = zs.iter().find(|z| !z.is_finite()) {
            return Err(SolverError::InvalidArgument {
                name: "z",
                value: *bad,
                reason: "z must be finite",
            });
        }
        for (o, &z) in out.iter_mut().zip(zs) {
            *o = self.eval_real_guarded(z);
        }
        Ok(())
    }

    /// Complex batch: `out[i] = E_{a,b}(zs[i])`.
    ///
    /// ```
    /// use num_complex::Complex64;
    /// use ffpe_solvers::mittag_leffler::MittagLeffler;
    /// let ml = MittagLeffler::new(0.5, 1.0)?;
    /// let zs = [Complex64::new(-1.0, 0.5), Complex64::new(-1.0, -0.5)];
    /// let mut out = [Complex64::new(0.0, 0.0); 2];
    /// ml.eval_complex_batch_into(&zs, &mut out)?;
    /// assert!((out[0] - out[1].conj()).norm() < 1e-15); // real on the real axis
    /// # Ok::<(), ffpe_solvers::SolverError>(())
    /// ```
    pub fn eval_complex_batch_into(&self, zs: &[Complex64], out: &mut [Complex64]) -> Result<()> {
        if zs.len() != out.len() {
            return Err(SolverError::DimensionMismatch {
                what: "output of eval_complex_batch_into",
                expected: zs.len(),
                got: out.len(),
            });
        }
        for (o, &z) in out.iter_mut().zip(zs) {
            *o = self.eval_complex(z)?;
        }
        Ok(())
    }

    /// Series coefficients for `0 < z <= 1` (computed on first use).
    fn taylor_positive(&self) -> &[f64] {
        self.taylor_pos
            .get_or_init(|| taylor_coefficients(self.a, self.b, 1.0))
    }

    /// [`Self::eval_real_unchecked`] with overflow mapped to `+inf`: for real `z > 0`
    /// every term is positive once the pole term `(1/a) z^((1-b)/a) exp(z^(1/a))`
    /// dominates, and an `inf - inf` or `inf * 0` there must not come out as NaN.
    fn eval_real_guarded(&self, z: f64) -> f64 {
        if z > 0.0 {
            // log of the pole term: -ln a + (1 - b) l + e^l with l = ln(z) / a
            let l = z.ln() / self.a;
            let log_pole = -self.a.ln() + (1.0 - self.b) * l + l.exp();
            if log_pole > f64::MAX.ln() + 1.0 {
                return f64::INFINITY;
            }
        }
        let v = self.eval_real_unchecked(z);
        if v.is_nan() { f64::INFINITY } else { v }
    }

    /// [`Self::eval_complex_unchecked`] with overflow mapped to infinities: a part that
    /// comes out NaN (an `inf * 0` in the pole term) takes the sign of that part of the
    /// pole term `(1/a) z^((1-b)/a) exp(z^(1/a))`, whose phase is `((1-b)/a) arg z +
    /// Im z^(1/a)`.
    fn eval_complex_guarded(&self, z: Complex64) -> Complex64 {
        let v = self.eval_complex_unchecked(z);
        if !(v.re.is_nan() || v.im.is_nan()) {
            return v;
        }
        let (a, b) = (self.a, self.b);
        let w = z.powf(1.0 / a);
        let phase = (1.0 - b) / a * z.arg() + w.im;
        let part = |x: f64, dir: f64| {
            if !x.is_nan() {
                x
            } else if dir.abs() < 1e-300 {
                0.0
            } else {
                f64::INFINITY.copysign(dir)
            }
        };
        Complex64::new(part(v.re, phase.cos()), part(v.im, phase.sin()))
    }

    fn eval_real_unchecked(&self, z: f64) -> f64 {
        let (a, b) = (self.a, self.b);
        if z.abs() <= TAYLOR_RADIUS {
            return taylor_real(&self.taylor, z);
        }
        if same(a, 1.0) {
            if same(b, 1.0) {
                return z.exp();
            }
            if same(b, 2.0) {
                return z.exp_m1() / z;
            }
        }
        if z > 0.0 {
            if z <= 1.0 && b > 0.0 {
                // positive terms: the series has no cancellation up to z = 1 (t = 1),
                // where the quadrature's pole term and integral still cancel by up to 1/a.
                return taylor_real(self.taylor_positive(), z);
            }
            let l = z.ln() / a;
            if l >= 45f64.ln() {
                // pole term dominates: the rest is < e^-45 relative
                let head = asymptotic_head(a, b, Complex64::new(z, 0.0), 3).re;
                return dd::pole_term_real(a, b, z) + head;
            }
        }
        match &self.quad {
            Some(q) => q.eval_real(z),
            None => laplace::laplace(a, b, Complex64::new(z, 0.0)).re,
        }
    }

    fn eval_complex_unchecked(&self, z: Complex64) -> Complex64 {
        let (a, b) = (self.a, self.b);
        if z.norm() <= TAYLOR_RADIUS {
            return taylor_complex(&self.taylor, z);
        }
        if same(a, 1.0) {
            if same(b, 1.0) {
                return z.exp();
            }
            if same(b, 2.0) {
                return (z.exp() - 1.0) / z;
            }
        }
        match &self.quad {
            // also on and near the rays |arg z| = a pi, where a pole meets the real axis
            // (see `quad.rs`; issue 13: <= 3e-15 on the table's rows there)
            Some(q) => q.eval_complex(z),
            None => laplace::laplace(a, b, z),
        }
    }
}

thread_local! {
    static CACHE: RefCell<Option<Arc<MittagLeffler>>> = const { RefCell::new(None) };
}

/// The setup for `(a, b)`, reused from a per-thread cache of the last pair.
fn cached(a: f64, b: f64) -> Result<Arc<MittagLeffler>> {
    check_params(a, b)?;
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if let Some(ml) = c.as_ref()
            && ml.a.to_bits() == a.to_bits()
            && ml.b.to_bits() == b.to_bits()
        {
            return Ok(ml.clone());
        }
        let ml = Arc::new(MittagLeffler::new(a, b)?);
        *c = Some(ml.clone());
        Ok(ml)
    })
}

/// `E_{a,b}(z)` for real `z`, `0 < a <= 1`, `|b| <= 100`. Repeated calls with the same
/// `(a, b)` on one thread reuse the setup of [`MittagLeffler`].
///
/// ```
/// use ffpe_solvers::mittag_leffler::mittag_leffler;
/// assert!((mittag_leffler(1.0, 1.0, -2.0)? - (-2.0f64).exp()).abs() < 1e-16);
/// assert!(mittag_leffler(f64::NAN, 1.0, 1.0).is_err());
/// assert!(mittag_leffler(1.5, 1.0, 1.0).is_err());
/// # Ok::<(), ffpe_solvers::SolverError>(())
/// ```
pub fn mittag_leffler(a: f64, b: f64, z: f64) -> Result<f64> {
    cached(a, b)?.eval(z)
}

/// `E_{a,b}(z)` for complex `z`.
///
/// ```
/// use num_complex::Complex64;
/// use ffpe_solvers::mittag_leffler::mittag_leffler_complex;
/// let e = mittag_leffler_complex(0.5, 1.0, Complex64::new(-1.0, 0.0))?;
/// assert!((e.re - 0.42758357615580700).abs() < 1e-15 && e.im.abs() < 1e-15);
/// # Ok::<(), ffpe_solvers::SolverError>(())
/// ```
pub fn mittag_leffler_complex(a: f64, b: f64, z: Complex64) -> Result<Complex64> {
    cached(a, b)?.eval_complex(z)
}

/// `1/Gamma(x)` for real `x` (zero at the poles of Gamma), as used by the series.
///
/// ```
/// use ffpe_solvers::mittag_leffler::reciprocal_gamma;
/// assert!((reciprocal_gamma(0.5) - 1.0 / std::f64::consts::PI.sqrt()).abs() < 1e-16);
/// assert_eq!(reciprocal_gamma(-2.0), 0.0);
/// ```
pub fn reciprocal_gamma(x: f64) -> f64 {
    rgamma(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Laplace fallback against the main route where both apply.
    #[test]
    fn laplace_fallback_accuracy() {
        let mut worst: f64 = 0.0;
        for &a in &[0.2, 0.5, 0.8] {
            for &b in &[1.0, a, 0.5] {
                let ml = MittagLeffler::new(a, b).unwrap();
                for &(r, th) in &[
                    (0.8, 3.0),
                    (3.0, 3.1),
                    (20.0, 2.5),
                    (2.0, 0.3),
                    (5.0, 1.5),
                    (1.5, -2.0),
                ] {
                    let z = Complex64::from_polar(r, th);
                    let q = ml.eval_complex(z).unwrap();
                    let l = laplace::laplace(a, b, z);
                    worst = worst.max((q - l).norm() / q.norm());
                }
            }
        }
        println!("laplace fallback max rel deviation {worst:.2e}");
        // documented fallback accuracy ~1e-12 (measured 4.3e-13)
        assert!(worst < 1e-12, "{worst}");
    }
}
