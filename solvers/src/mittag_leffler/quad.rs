//! The main route: the Bromwich integral collapsed onto the branch cut, evaluated by a
//! pole-corrected trapezoidal rule in a double-exponential variable.
//!
//! For `0 < a < 1`, `b < 1 + a` (Gorenflo, Loutchko and Luchko 2002; the same identity the
//! reference script integrates in arbitrary precision):
//!
//! ```text
//! E_{a,b}(z) = R(z) + (1/pi) int_0^inf e^-r r^(a-b) [r^a sin(pi b) + z sin(pi (a-b))] / D(r) dr,
//! D(r) = (r^a - z e^(i pi a)) (r^a - z e^(-i pi a)),
//! R(z) = (1/a) z^((1-b)/a) exp(z^(1/a))   if |arg z| < a pi, else 0,
//! ```
//!
//! and for `b = 2` the once-integrated form with `(1 - e^-r)/r` in place of `e^-r r^-1`
//! (`R = expm1(z^(1/a)) / (a z^(1/a))`). With `r = e^u` the integrand is smooth on the real
//! line; its only singularities near the line are the simple poles where
//! `r^a = z e^(+-i pi a)`, at `u = ln t + i (arg z +- a pi + 2 pi k)/a`, `t = |z|^(1/a)`.
//!
//! * `u = ln t + phi(w)`, `phi(w) = w - expm1(-w)` ("centred map", used for `ln t <= 1.5`):
//!   the lower tail decays double-exponentially, and `u - ln t` is computed without
//!   absolute rounding error, so the narrow peak that appears as `a -> 1` is sampled at
//!   exactly known positions.
//! * `u = -1 + w - e^-w` ("fixed map", `ln t > 1.5`), where `e^-r` has made the peak
//!   irrelevant; all node values are then independent of `z` and tabulated once.
//! * Trapezoid with step `h = 0.18` in `w`; the exact trapezoid error of each pole inside
//!   `|Im w| < 1.3` is subtracted (`T - I = sum 2 pi i Res / (e^(-+2 pi i w_p/h) - 1)`),
//!   the remaining error is `O(e^(-2 pi d/h))` with `d ~ 1.15`, below `1e-17`.
//!
//! Sum of positive terms for real negative `z` and `b in {1, a, 2}`: the rounding error
//! is a few ulps. Measured against the mpmath table: see the tests.

use num_complex::Complex64;

use super::series::{PI, cos_pi, sin_pi};

/// Trapezoid step in `w`.
pub(crate) const H: f64 = 0.18;
/// Centred map for `ln t <= L_CENTRED`.
pub(crate) const L_CENTRED: f64 = 1.5;
/// Shift of the fixed map.
const C_FIXED: f64 = -1.0;
/// Largest `ln t` tabulated for the fixed map (beyond it, nodes are computed on the fly).
const L_TABLE_MAX: f64 = 9.3;

/// Integrand family.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Form {
    /// `b < 1 + a`.
    Standard,
    /// `b = 2`: once-integrated form.
    Integrated,
}

#[derive(Clone, Debug, Default)]
struct Centred {
    /// first node index (w = k h)
    k0: i64,
    du: Vec<f64>,
    /// `rho = e^v`, `v = u - ln t`
    rho: Vec<f64>,
    /// `q = e^(a v)`
    q: Vec<f64>,
    /// `expm1(a v)`
    em1: Vec<f64>,
    /// `rho^(1+a-b)`
    pw: Vec<f64>,
}

#[derive(Clone, Debug, Default)]
struct Fixed {
    k0: i64,
    du: Vec<f64>,
    /// `e^-r` (standard) or `-expm1(-r)/r` (integrated)
    er: Vec<f64>,
    /// `r^a`
    ra: Vec<f64>,
    /// `r^(1+a-b)`
    pw: Vec<f64>,
}

/// Precomputed quadrature data for one `(a, b)`.
#[derive(Clone, Debug)]
pub(crate) struct Quad {
    a: f64,
    b: f64,
    form: Form,
    sa: f64,
    ca: f64,
    sb: f64,
    sab: f64,
    /// `1 + cos(pi a)` and `1 - cos(pi a)` without cancellation.
    one_p_ca: f64,
    one_m_ca: f64,
    rate: f64,
    centred_l_min: f64,
    /// `(Im v_p, w_p)` of the centred map for real `z` (arg 0 and pi).
    centred_poles: Vec<(f64, Complex64)>,
    centred: Centred,
    fixed: Fixed,
}

#[inline]
fn phi(w: f64) -> f64 {
    w - (-w).exp_m1()
}

#[inline]
fn q1(r: f64) -> f64 {
    if r < 1e-300 { 1.0 } else { -(-r).exp_m1() / r }
}

impl Quad {
    pub(crate) fn new(a: f64, b: f64, form: Form, l_min: f64) -> Self {
        let sa = sin_pi(a);
        let ca = cos_pi(a);
        let half = cos_pi(0.5 * a);
        let shalf = sin_pi(0.5 * a);
        let rate = match form {
            Form::Standard => 1.0 + a - b,
            Form::Integrated => a,
        };
        let mut q = Self {
            a,
            b,
            form,
            sa,
            ca,
            sb: sin_pi(b),
            sab: sin_pi(a - b),
            one_p_ca: 2.0 * half * half,
            one_m_ca: 2.0 * shalf * shalf,
            rate,
            centred_l_min: l_min.min(L_CENTRED),
            centred_poles: [PI, 0.0]
                .iter()
                .flat_map(|&th| Self::pole_ims(a, th))
                .filter_map(|(_, im)| {
                    solve_map(true, Complex64::new(0.0, im), 0.0).map(|w| (im, w))
                })
                .collect(),
            centred: Centred::default(),
            fixed: Fixed::default(),
        };
        // Centred table over the w range needed for l_min <= ln t <= L_CENTRED.
        let (klo, khi) = q.centred_range(l_min.min(L_CENTRED));
        let mut c = Centred {
            k0: klo,
            ..Default::default()
        };
        for k in klo..=khi {
            let w = k as f64 * H;
            let v = phi(w);
            c.du.push(1.0 + (-w).exp());
            c.rho.push(v.exp());
            c.q.push((a * v).exp());
            c.em1.push((a * v).exp_m1());
            c.pw.push(((1.0 + a - b) * v).exp());
        }
        q.centred = c;
        let (klo, khi) = q.fixed_range(L_TABLE_MAX);
        let mut f = Fixed {
            k0: klo,
            ..Default::default()
        };
        for k in klo..=khi {
            let w = k as f64 * H;
            let e = (-w).exp();
            let u = C_FIXED + w - e;
            let r = u.exp();
            f.du.push(1.0 + e);
            f.er.push(match form {
                Form::Standard => (-r).exp(),
                Form::Integrated => q1(r),
            });
            f.ra.push((a * u).exp());
            f.pw.push(((1.0 + a - b) * u).exp());
        }
        q.fixed = f;
        q
    }

    /// Upper limit of `u` needed for the integrand to fall below `1e-17` relative.
    fn u_high(&self, l: f64) -> f64 {
        match self.form {
            Form::Standard => 40f64.ln(),
            Form::Integrated => l.max(0.0) + 40.0 / (1.0 + self.a),
        }
    }

    fn centred_range(&self, l: f64) -> (i64, i64) {
        let wlo = -(40.0 / self.rate).ln() - 0.5;
        let whi = self.u_high(l) - l + 1.0;
        ((wlo / H).floor() as i64, (whi / H).ceil() as i64)
    }

    fn fixed_range(&self, l: f64) -> (i64, i64) {
        let wlo = -(40.0 / self.rate).ln();
        let whi = self.u_high(l) - C_FIXED + 1.0;
        ((wlo / H).floor() as i64, (whi / H).ceil() as i64)
    }

    /// `E_{a,b}(z)` for real `z != 0` (`sigma = sign z`, `x = |z|`).
    pub(crate) fn eval_real(&self, z: f64) -> f64 {
        let x = z.abs();
        let sigma = z.signum();
        let lnx = x.ln();
        let l = lnx / self.a;
        let t = l.exp();
        let (a, b) = (self.a, self.b);
        let mut sum = 0.0;
        if l <= L_CENTRED && l >= self.centred_l_min {
            let c = &self.centred;
            let k1 = if sigma < 0.0 {
                self.one_p_ca
            } else {
                self.one_m_ca
            };
            let (_, khi) = self.centred_range(l);
            let n = ((khi - c.k0 + 1) as usize).min(c.du.len());
            let s2 = self.sa * self.sa;
            match self.form {
                Form::Standard => {
                    let num0 = sigma * self.sab;
                    for i in 0..n {
                        let r = t * c.rho[i];
                        if r > 60.0 {
                            break;
                        }
                        let m = c.em1[i] + k1;
                        let dn = m * m + s2;
                        sum += (-r).exp() * c.pw[i] * (c.q[i] * self.sb + num0) / dn * c.du[i];
                    }
                    sum *= ((1.0 - b) * l).exp() / PI;
                }
                Form::Integrated => {
                    for i in 0..n {
                        let r = t * c.rho[i];
                        let m = c.em1[i] + k1;
                        let dn = m * m + s2;
                        sum += q1(r) * c.q[i] / dn * c.du[i];
                    }
                    sum *= -sigma * self.sa / PI;
                }
            }
        } else if l > L_CENTRED && l <= L_TABLE_MAX {
            let f = &self.fixed;
            let (_, khi) = self.fixed_range(l);
            let n = ((khi - f.k0 + 1) as usize).min(f.du.len());
            let s2 = self.sa * self.sa;
            let sca = sigma * self.ca;
            let inv_x = 1.0 / x;
            match self.form {
                Form::Standard => {
                    let num0 = sigma * self.sab;
                    for i in 0..n {
                        let er = f.er[i];
                        if er == 0.0 {
                            break;
                        }
                        let q = f.ra[i] * inv_x;
                        let m = q - sca;
                        let dn = m * m + s2;
                        sum += er * f.pw[i] * (q * self.sb + num0) / dn * f.du[i];
                    }
                    sum *= inv_x / PI;
                }
                Form::Integrated => {
                    for i in 0..n {
                        let q = f.ra[i] * inv_x;
                        let m = q - sca;
                        let dn = m * m + s2;
                        sum += f.er[i] * q / dn * f.du[i];
                    }
                    sum *= -sigma * self.sa / PI;
                }
            }
        } else {
            return self.eval_complex(Complex64::new(z, 0.0)).re;
        }
        let mut val = H * sum;
        let theta = if sigma < 0.0 { PI } else { 0.0 };
        val -= self.pole_corrections(x, theta, l, t, true, val.abs()).re;
        if sigma > 0.0 {
            val += match self.form {
                Form::Standard => super::dd::pole_term_real(a, b, x),
                // expm1(t)/(a t) = pole term - 1/(a t)
                Form::Integrated => super::dd::pole_term_real(a, 2.0, x) - 1.0 / (a * t),
            };
        }
        val
    }

    /// General complex `z != 0`; node values computed on the fly where not tabulated.
    pub(crate) fn eval_complex(&self, z: Complex64) -> Complex64 {
        let (a, b) = (self.a, self.b);
        let x = z.norm();
        let zh = z / x;
        let theta = z.arg();
        let l = x.ln() / a;
        let t = l.exp();
        let ep = Complex64::from_polar(1.0, PI * a);
        let em = ep.conj();
        let zp = zh * ep;
        let zm = zh * em;
        let mut sum = Complex64::new(0.0, 0.0);
        if l <= L_CENTRED {
            // u = l + phi(w)
            let (klo, khi) = self.centred_range(l);
            let one_m_zp = 1.0 - zp;
            let one_m_zm = 1.0 - zm;
            for k in klo..=khi {
                let w = k as f64 * H;
                let v = phi(w);
                let du = 1.0 + (-w).exp();
                let rho = v.exp();
                let r = t * rho;
                let em1 = (a * v).exp_m1();
                let q = em1 + 1.0;
                let dn = (em1 + one_m_zp) * (em1 + one_m_zm);
                let j = match self.form {
                    Form::Standard => {
                        if r > 745.0 {
                            break;
                        }
                        (-r).exp() * ((1.0 + a - b) * v).exp() * (q * self.sb + zh * self.sab) / dn
                    }
                    Form::Integrated => q1(r) * q * (-zh * self.sa) / dn,
                };
                sum += j * du;
            }
            if self.form == Form::Standard {
                sum *= ((1.0 - b) * l).exp() / PI;
            } else {
                sum /= PI;
            }
        } else {
            let (klo, khi) = self.fixed_range(l);
            let inv_x = 1.0 / x;
            for k in klo..=khi {
                let w = k as f64 * H;
                let e = (-w).exp();
                let u = C_FIXED + w - e;
                let r = u.exp();
                let q = (a * u).exp() * inv_x;
                let dn = (q - zp) * (q - zm);
                let j = match self.form {
                    Form::Standard => {
                        let er = (-r).exp();
                        if er == 0.0 {
                            break;
                        }
                        er * ((1.0 + a - b) * u).exp() * inv_x * (q * self.sb + zh * self.sab) / dn
                    }
                    Form::Integrated => q1(r) * q * (-zh * self.sa) / dn,
                };
                sum += j * (1.0 + e);
            }
            sum /= PI;
        }
        let t_sum = H * sum;
        let mut val = t_sum - self.pole_corrections(x, theta, l, t, false, t_sum.norm());
        if theta.abs() < PI * a {
            let (re, im) = super::dd::pole_term_complex(a, b, z.re, z.im);
            let pole_b = Complex64::new(re, im);
            val += match self.form {
                Form::Standard => pole_b,
                Form::Integrated => {
                    // expm1(s)/(a s) = e^s/(a s) - 1/(a s); for tiny |s| use the series
                    let s = Complex64::from_polar(t, theta / a);
                    if s.norm() < 2.0 {
                        // expm1(x + iy) = expm1(x) cos y - 2 sin^2(y/2) + i e^x sin y
                        let (sy, cy) = s.im.sin_cos();
                        let sh = (0.5 * s.im).sin();
                        let em1 =
                            Complex64::new(s.re.exp_m1() * cy - 2.0 * sh * sh, s.re.exp() * sy);
                        em1 / (a * s)
                    } else {
                        let (re2, im2) = super::dd::pole_term_complex(a, 2.0, z.re, z.im);
                        Complex64::new(re2, im2) - 1.0 / (a * s)
                    }
                }
            };
        }
        val
    }

    /// Sum of the trapezoid errors of the poles near the real `w` axis.
    /// `Im v_p` of the poles within reach of the real `w` axis.
    fn pole_ims(a: f64, theta: f64) -> impl Iterator<Item = (f64, f64)> {
        [1.0_f64, -1.0].into_iter().flat_map(move |s| {
            (-3i32..=3).filter_map(move |k| {
                let im = (theta + s * PI * a + 2.0 * PI * k as f64) / a;
                (im.abs() <= 2.6).then_some((s, im))
            })
        })
    }

    /// Sum of the trapezoid errors of the poles near the real `w` axis. For real `z`
    /// (`real = true`) the poles come in conjugate pairs: only the upper ones are
    /// evaluated and the real part doubled. Poles whose correction is below
    /// `1e-18 scale` are skipped.
    fn pole_corrections(
        &self,
        x: f64,
        theta: f64,
        l: f64,
        t: f64,
        real: bool,
        scale: f64,
    ) -> Complex64 {
        let (a, b) = (self.a, self.b);
        let centred = l <= L_CENTRED;
        let z = Complex64::from_polar(x, theta);
        let mut corr = Complex64::new(0.0, 0.0);
        let two_pi_i = Complex64::new(0.0, 2.0 * PI);
        for (s, im) in Self::pole_ims(a, theta) {
            if real && im < 0.0 {
                continue;
            }
            let vp = Complex64::new(0.0, im);
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
            let wp = if centred {
                self.centred_poles
                    .iter()
                    .find(|(i, _)| i.to_bits() == im.to_bits())
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
            let c = if wp.im > 0.0 {
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

/// Solve `map(w) = v_p` (centred: `phi(w) = v_p`; fixed: `c + w - e^-w = l + v_p`).
fn solve_map(centred: bool, vp: Complex64, l: f64) -> Option<Complex64> {
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
