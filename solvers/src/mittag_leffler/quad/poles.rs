//! The pole corrections of the trapezoidal rule: the poles of the integrand near the
//! real `w` axis, where they sit in the map's variable, and what each adds to the sum.

use num_complex::Complex64;

use super::{C_FIXED, Form, H, Lattice, NARROW_IM, Quad, W0};
use crate::mittag_leffler::series::PI;

impl Quad {
    /// `Im v_p` of the poles within reach of the real `w` axis.
    /// For the real axis (`theta` in `{0, pi}`) `Im v_p = pi (n + s a) / a` with `n` an
    /// integer, formed as `n + s a` first: near `a = 1` that is `1 - a`, exact, where
    /// `pi - pi a` would carry the rounding of `pi a` (`1.4e-14` relative at `a = 0.99`,
    /// and the correction's sensitivity to the pole is `2 pi / h ~ 35`).
    pub(super) fn pole_ims(a: f64, theta: f64) -> impl Iterator<Item = (f64, f64)> {
        let on_axis = theta == 0.0 || theta.abs() == PI;
        let n0 = if theta == 0.0 { 0.0 } else { theta.signum() };
        [1.0_f64, -1.0].into_iter().flat_map(move |s| {
            (-3i32..=3).filter_map(move |k| {
                let im = if on_axis {
                    PI * ((n0 + 2.0 * k as f64) + s * a) / a
                } else {
                    (theta + s * PI * a + 2.0 * PI * k as f64) / a
                };
                (im.abs() <= 2.6).then_some((s, im))
            })
        })
    }

    /// Sum of the trapezoid errors of the poles near the real `w` axis. For real `z`
    /// (`zpm = None`) the poles come in conjugate pairs: only the upper ones are
    /// evaluated and the real part doubled. For complex `z`, `zpm = (zp, zm)` are the
    /// `z e^(+-i pi a) / |z|` the node values were computed with: the pole nearest the
    /// axis (`|Im v_p| < NARROW_IM`) is placed where those node values have it,
    /// `v_p = ln(zp or zm) / a`, not at the exact `i (theta +- pi a) / a`, whose
    /// difference (the rounding of `zp`, `zm`, ~1e-16) the correction amplifies by
    /// `2 pi / h ~ 35` (issue 13: 3.5e-15 at a = 0.99, b = 2, near `arg z = a pi`).
    /// Poles whose correction is below `1e-18 scale` are skipped.
    pub(super) fn pole_corrections(
        &self,
        x: f64,
        theta: f64,
        (l, t): (f64, f64),
        lattice: Lattice,
        zpm: Option<(Complex64, Complex64)>,
        scale: f64,
    ) -> Complex64 {
        let real = zpm.is_none();
        let (a, b) = (self.a, self.b);
        let centred = matches!(lattice, Lattice::Centred);
        let peak_g = match lattice {
            Lattice::Peak(g) => Some(g),
            _ => None,
        };
        let z = Complex64::from_polar(x, theta);
        let mut corr = Complex64::new(0.0, 0.0);
        let two_pi_i = Complex64::new(0.0, 2.0 * PI);
        for (s, im) in Self::pole_ims(a, theta) {
            if real && im < 0.0 {
                continue;
            }
            let mut vp = Complex64::new(0.0, im);
            let mut exact = true;
            if let Some((zp, zm)) = zpm
                && im.abs() < NARROW_IM
            {
                let v = (if s > 0.0 { zp } else { zm }).ln() / a;
                if (v.im - im).abs() < 1e-9 {
                    vp = v;
                    exact = false;
                }
            }
            let p = z * Complex64::from_polar(1.0, s * PI * a);
            let pq = Complex64::new(0.0, 2.0 * s * self.sa) * z;
            let rp = t * vp.exp();
            let num = match self.form {
                Form::Standard => {
                    (-rp).exp()
                        * (((1.0 + a - b) * l) + (1.0 + a - b) * vp).exp()
                        * (p * self.sb + z * self.sab)
                }
                Form::Integrated => {
                    (1.0 - (-rp).exp()) * ((a - 1.0) * (vp + l)).exp() * (-z * self.sa)
                }
            } / PI;
            let res = num / (a * p * pq);
            if 2.0 * PI * res.norm() < 1e-18 * scale {
                continue;
            }
            let wp = if let Some(g) = peak_g {
                solve_peak_map(g, vp)
            } else if centred {
                self.centred_poles
                    .iter()
                    .find(|(i, _)| exact && i.to_bits() == im.to_bits())
                    .map(|(_, w)| *w)
                    .or_else(|| solve_map(true, vp, l))
            } else {
                solve_map(false, vp, l)
            };
            let Some(wp) = wp else {
                continue;
            };
            if wp.im.abs() > 1.3 {
                continue;
            }
            // position relative to the node lattice k h + W0
            let wp = match lattice {
                Lattice::Centred | Lattice::Peak(_) => wp - W0,
                Lattice::Fixed(w0) => wp - w0,
            };
            // Which side of the real axis the pole is on must agree with the pole-term test
            // `|theta| < pi a` (issue 13): near the line `|arg z| = a pi` decide by `im`,
            // the exact `(theta + s pi a) / a` (Sterbenz: the same sign as
            // `pi a - |theta|` for s = -sign(theta)), not by the Newton `wp.im`, whose
            // rounding can flip its sign; exactly on the line (`im = 0`, no pole term)
            // the pole counts as outside the sector, i.e. above for `s < 0`, below for
            // `s > 0`.
            let above = if im.abs() < 1e-3 {
                if im != 0.0 { im > 0.0 } else { s < 0.0 }
            } else {
                wp.im > 0.0
            };
            let c = if above {
                two_pi_i * res / ((-two_pi_i * wp / H).exp() - 1.0)
            } else {
                -(two_pi_i * res / ((two_pi_i * wp / H).exp() - 1.0))
            };
            corr += if real {
                Complex64::new(2.0 * c.re, 0.0)
            } else {
                c
            };
        }
        corr
    }
}

/// Solve `s - g expm1(-s) = v_p` (the re-centred fixed map).
fn solve_peak_map(g: f64, vp: Complex64) -> Option<Complex64> {
    let mut s = vp / (1.0 + g);
    for _ in 0..100 {
        let e = (-s).exp();
        let ds = (s - g * (e - 1.0) - vp) / (1.0 + g * e);
        s -= ds;
        if ds.norm() <= 1e-15 * (1.0 + s.norm()) {
            return Some(s);
        }
    }
    None
}

/// Solve `map(w) = v_p` (centred: `phi(w) = v_p`; fixed: `c + w - e^-w = l + v_p`).
pub(super) fn solve_map(centred: bool, vp: Complex64, l: f64) -> Option<Complex64> {
    let target = if centred { vp } else { vp + l - C_FIXED };
    let mut w = if centred { vp * 0.5 } else { target };
    for _ in 0..100 {
        let e = (-w).exp();
        let g = if centred { w - (e - 1.0) } else { w - e } - target;
        let dw = g / (1.0 + e);
        w -= dw;
        if dw.norm() <= 1e-15 * (1.0 + w.norm()) {
            return Some(w);
        }
    }
    None
}
