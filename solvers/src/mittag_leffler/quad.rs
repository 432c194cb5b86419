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
//! * Near `a = 1` the poles of the negative axis come within `Im v_p = pi (1 - a) / a` of
//!   the contour and the integrand is a narrow peak at `r = t`. A node on the peak makes
//!   the trapezoid sum about `h / (pi Im w_p)` times the integral, cancelled by the pole
//!   correction, and that factor is lost to rounding (issue 13: `6.8e-14` relative at
//!   `a = 0.99`). So the nodes are placed away from the peak: the centred map's nodes are
//!   `w = (k + 1/2) h` (the peak is at `w = 0`), and for the fixed map one of two tabulated
//!   lattices (offsets `0`, `h/2`) keeps every node at least `h/4` from the peak (the
//!   exact midpoint where nodes are computed on the fly). Then the sum misses the peak and
//!   the correction adds it, without cancellation.
//! * Trapezoid with step `h = 0.18` in `w`; the exact trapezoid error of each pole inside
//!   `|Im w| < 1.3` is subtracted (`T - I = sum 2 pi i Res / (e^(-+2 pi i w_p/h) - 1)`),
//!   the remaining error is `O(e^(-2 pi d/h))` with `d ~ 1.15`, below `1e-17`.
//!
//! Sum of positive terms for real negative `z` and `b in {1, a, 2}`: the rounding error
//! is a few ulps. Measured against the mpmath table: see the tests.

use num_complex::Complex64;

use super::series::{PI, cos_pi, sin_pi};

mod poles;
use poles::solve_map;

/// Trapezoid step in `w`.
pub(crate) const H: f64 = 0.18;
/// Centred map for `ln t <= L_CENTRED`.
pub(crate) const L_CENTRED: f64 = 1.5;
/// Shift of the fixed map.
const C_FIXED: f64 = -1.0;
/// Largest `ln t` tabulated for the fixed map (beyond it, nodes are computed on the fly).
const L_TABLE_MAX: f64 = 9.3;
/// Offset of the centred map's nodes, `w_k = k h + W0`. The centred map puts the peak of
/// the integrand (`r = t`) at `w = 0`; with `W0 = h/2` the peak lies midway between two
/// nodes. On a node (`W0 = 0`) the trapezoid sum near `a = 1` is about
/// `h / (pi Im w_p)` times the integral (the pole `w_p` of the negative axis is at
/// `Im w_p ~ pi (1 - a) / 2`) and the pole correction cancels it, losing that factor
/// in rounding (issue 13: up to `6.8e-14` relative at `a = 0.99`); midway, the sum misses
/// the peak and the correction adds it, with no cancellation.
const W0: f64 = 0.5 * H;
/// A pole is "near" (narrow peak of width `~ Im v_p` at `u = ln t`) when
/// `|Im v_p| = ||arg z| - a pi| / a` is below this (on the negative axis: `a > 0.94`). The
/// fixed map's nodes do not follow the peak; for a near pole the lattice is then chosen so
/// that no node lies within `h/4` of the peak (two tabulated lattices, offsets `0` and
/// `h/2`, for real `z`; the exact midpoint for nodes computed on the fly), for the same
/// reason as `W0`.
const NARROW_IM: f64 = 0.2;
/// Largest `t` at which the peak (weight `e^-t`) of the standard form can matter.
const T_PEAK_STANDARD: f64 = 60.0;
/// Largest `ln t` of the re-centred lattice (`Lattice::Peak`); beyond it the fixed map.
const L_PEAK_MAX: f64 = 60.0;

/// Which node lattice a trapezoid sum used (for the pole corrections).
#[derive(Clone, Copy, Debug)]
enum Lattice {
    /// centred map, nodes `k h + W0`
    Centred,
    /// fixed map, nodes `k h + w0`
    Fixed(f64),
    /// the fixed map re-centred on the peak: `u = ln t + s - g expm1(-s)`,
    /// nodes `s = k h + W0` (see `Quad::peak_sum`)
    Peak(f64),
}

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
    /// node offset: `w = k h + w0`
    w0: f64,
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
    /// negative-axis poles near the contour (`a` near 1): see `NARROW_IM`
    narrow: bool,
    centred_l_min: f64,
    /// `(Im v_p, w_p)` of the centred map for real `z` (arg 0 and pi).
    centred_poles: Vec<(f64, Complex64)>,
    centred: Centred,
    fixed: Fixed,
    /// `(s, e^-s, expm1(-s))` at `s = k h + W0`, `k = peak_k0..` (only for `narrow`)
    peak_k0: i64,
    peak_nodes: Vec<(f64, f64, f64)>,
}

#[inline]
fn phi(w: f64) -> f64 {
    w - (-w).exp_m1()
}

/// `(e^y, expm1(y))`, each to full relative precision (`1 + expm1(y)` would lose `e^y`
/// in the lower tail, `e^y - 1` would lose `expm1(y)` near the peak).
#[inline]
fn exp_and_expm1(y: f64) -> (f64, f64) {
    if y.abs() < 0.5 {
        let em1 = y.exp_m1();
        (1.0 + em1, em1)
    } else {
        let e = y.exp();
        (e, e - 1.0)
    }
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
            narrow: PI * (1.0 - a) / a < NARROW_IM,
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
            peak_k0: 0,
            peak_nodes: Vec::new(),
        };
        // Centred table over the w range needed for l_min <= ln t <= L_CENTRED.
        let (klo, khi) = q.centred_range(l_min.min(L_CENTRED));
        let mut c = Centred {
            k0: klo,
            ..Default::default()
        };
        for k in klo..=khi {
            let w = k as f64 * H + W0;
            let v = phi(w);
            c.du.push(1.0 + (-w).exp());
            c.rho.push(v.exp());
            c.q.push((a * v).exp());
            c.em1.push((a * v).exp_m1());
            c.pw.push(((1.0 + a - b) * v).exp());
        }
        q.centred = c;
        q.fixed = q.fixed_table(0.0);
        if q.narrow {
            // s from the fixed map's lower limit at the largest w* to its upper limit
            // at ln t = L_PEAK_MAX (w* > l - C_FIXED > 2.5 for l > L_CENTRED)
            let (wlo, _) = q.fixed_range(L_CENTRED, 0.0);
            let (_, whi) = q.fixed_range(L_PEAK_MAX, 0.0);
            let slo = wlo as f64 * H - (L_PEAK_MAX - C_FIXED + 1.0);
            let shi = whi as f64 * H - (L_CENTRED - C_FIXED);
            q.peak_k0 = ((slo - W0) / H).floor() as i64;
            let k1 = ((shi - W0) / H).ceil() as i64;
            q.peak_nodes = (q.peak_k0..=k1)
                .map(|k| {
                    let s = k as f64 * H + W0;
                    (s, (-s).exp(), (-s).exp_m1())
                })
                .collect();
        }
        q
    }

    /// Fixed-map node values on the lattice `k h + w0` up to `ln t = L_TABLE_MAX`.
    fn fixed_table(&self, w0: f64) -> Fixed {
        let (a, b, form) = (self.a, self.b, self.form);
        let (klo, khi) = self.fixed_range(L_TABLE_MAX, w0);
        let mut f = Fixed {
            w0,
            k0: klo,
            ..Default::default()
        };
        for k in klo..=khi {
            let w = k as f64 * H + w0;
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
        f
    }

    /// Upper limit of `u` needed for the integrand to fall below `1e-17` relative.
    fn u_high(&self, l: f64) -> f64 {
        match self.form {
            Form::Standard => 40f64.ln(),
            Form::Integrated => l.max(0.0) + 40.0 / (1.0 + self.a),
        }
    }

    /// Node indices `k` (`w = k h + W0`) of the centred map for `ln t = l`.
    fn centred_range(&self, l: f64) -> (i64, i64) {
        let wlo = -(40.0 / self.rate).ln() - 0.5;
        let whi = self.u_high(l) - l + 1.0;
        (
            ((wlo - W0) / H).floor() as i64,
            ((whi - W0) / H).ceil() as i64,
        )
    }

    /// Node indices `k` (`w = k h + w0`) of the fixed map for `ln t = l`.
    fn fixed_range(&self, l: f64, w0: f64) -> (i64, i64) {
        let wlo = -(40.0 / self.rate).ln();
        let whi = self.u_high(l) - C_FIXED + 1.0;
        (
            ((wlo - w0) / H).floor() as i64,
            ((whi - w0) / H).ceil() as i64,
        )
    }

    /// Whether a pole of `arg z = theta` is near the contour (see `NARROW_IM`).
    fn near_pole(&self, theta: f64) -> bool {
        if theta.abs() == PI {
            return self.narrow;
        }
        (theta.abs() - PI * self.a).abs() / self.a < NARROW_IM
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
        let lattice;
        if l <= L_CENTRED && l >= self.centred_l_min {
            lattice = Lattice::Centred;
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
                        // (1 - e^-r)/r = 1/r to e^-40 relative beyond r = 40
                        let qr = if r > 40.0 { 1.0 / r } else { q1(r) };
                        sum += qr * c.q[i] / dn * c.du[i];
                    }
                    sum *= -sigma * self.sa / PI;
                }
            }
        } else if sigma < 0.0
            && self.narrow
            && l > L_CENTRED
            && l <= L_PEAK_MAX
            && (self.form == Form::Integrated || t <= T_PEAK_STANDARD)
        {
            // narrow peak not damped by e^-t: nodes placed relative to it
            let (s, g, l, t) = self.peak_sum(x);
            let mut val = H * s;
            val -= self
                .pole_corrections(x, PI, (l, t), Lattice::Peak(g), None, val.abs())
                .re;
            return val;
        } else if l > L_CENTRED && l <= L_TABLE_MAX {
            let f = &self.fixed;
            lattice = Lattice::Fixed(f.w0);
            let (_, khi) = self.fixed_range(l, f.w0);
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
        val -= self
            .pole_corrections(x, theta, (l, t), lattice, None, val.abs())
            .re;
        if sigma > 0.0 {
            val += match self.form {
                Form::Standard => super::dd::pole_term_real(a, b, x),
                // expm1(t)/(a t) = pole term - 1/(a t)
                Form::Integrated => super::dd::pole_term_real(a, 2.0, x) - 1.0 / (a * t),
            };
        }
        val
    }

    /// Trapezoid sum (without `h`) for `z = -x` with a narrow peak, on the fixed map
    /// shifted to the peak: `u = ln t + v`, `v = s - g expm1(-s)`, `g = e^-w*` where
    /// `c + w* - e^-w* = ln t` (so `w = w* + s` is exactly the fixed map), nodes
    /// `s = (k + 1/2) h`. The node values depend on `v` only (`r^a / x = e^(a v)`, the
    /// denominator `(expm1(a v) + 1 + cos(pi a))^2 + sin^2(pi a)` as in the centred map),
    /// so the pole positions `s_p` do not carry the rounding of `ln t` (absolute
    /// `ulp(ln t)`, to which the correction is `2 pi / h ~ 35` times as sensitive);
    /// `t = x^(1/a)` and `ln t` are formed in double-double and `e^-r` as
    /// `e^-t e^(-t expm1(v))` where that exponent is the smaller. Returns
    /// `(sum, g, ln t, t)`.
    fn peak_sum(&self, x: f64) -> (f64, f64, f64, f64) {
        let (a, b) = (self.a, self.b);
        let l_dd = super::dd::ln_dd(x).div_f(a);
        let t_dd = super::dd::exp_dd(l_dd);
        let (l, t) = (l_dd.hi, t_dd.hi);
        let ws = peak_w(l);
        let g = (-ws).exp();
        let e_t = (-t).exp() * (1.0 - t_dd.lo);
        let (klo, khi) = self.fixed_range(l, 0.0);
        let slo = klo as f64 * H - ws;
        let shi = khi as f64 * H - ws;
        let i0 = (((slo - W0) / H).floor() as i64 - self.peak_k0).max(0) as usize;
        let i1 = ((((shi - W0) / H).ceil() as i64 - self.peak_k0).max(0) as usize)
            .min(self.peak_nodes.len().saturating_sub(1));
        let k1 = self.one_p_ca;
        let s2 = self.sa * self.sa;
        let mut sum = 0.0;
        match self.form {
            Form::Standard => {
                let num0 = -self.sab;
                for &(s, es, em1s) in &self.peak_nodes[i0..=i1] {
                    let v = s - g * em1s;
                    let em1v = v.exp_m1();
                    let r = t * (1.0 + em1v);
                    if r > 745.0 {
                        break;
                    }
                    // the form with the smaller exponent (its rounding is relative to it)
                    let er = if r < -t * em1v {
                        (-r).exp()
                    } else {
                        e_t * (-t * em1v).exp()
                    };
                    let (q, em1) = exp_and_expm1(a * v);
                    let m = em1 + k1;
                    let dn = m * m + s2;
                    let pw = ((1.0 + a - b) * v).exp();
                    sum += er * pw * (q * self.sb + num0) / dn * (1.0 + g * es);
                }
                sum *= ((1.0 - b) * l).exp() / PI;
            }
            Form::Integrated => {
                for &(s, es, em1s) in &self.peak_nodes[i0..=i1] {
                    let v = s - g * em1s;
                    let r = t * v.exp();
                    let qr = if r > 40.0 { 1.0 / r } else { q1(r) };
                    let (q, em1) = exp_and_expm1(a * v);
                    let m = em1 + k1;
                    let dn = m * m + s2;
                    sum += qr * q / dn * (1.0 + g * es);
                }
                sum *= self.sa / PI;
            }
        }
        (sum, g, l, t)
    }

    /// Complex `z` near the line `|arg z| = a pi` (`ln t > L_CENTRED`): the trapezoid sum
    /// (already divided by `pi`, without `h`) on the fixed map re-centred on the peak, as
    /// in [`Self::peak_sum`], with the nodes computed on the fly: `u = ln t + v`,
    /// `v = s - g expm1(-s)`, `s = (k + 1/2) h`, so that `r^a / x = e^(a v)` and the
    /// denominator `(expm1(a v) + 1 - z e^(i pi a)/|z|) (expm1(a v) + 1 - z e^(-i pi a)/|z|)`
    /// carry no cancellation. Returns `(sum, g)`.
    fn peak_sum_complex(
        &self,
        l: f64,
        t: f64,
        zh: Complex64,
        zp: Complex64,
        zm: Complex64,
    ) -> (Complex64, f64) {
        let (a, b) = (self.a, self.b);
        let ws = peak_w(l);
        let g = (-ws).exp();
        let (klo, khi) = self.fixed_range(l, 0.0);
        let k0 = ((klo as f64 * H - ws - W0) / H).floor() as i64;
        let k1 = ((khi as f64 * H - ws - W0) / H).ceil() as i64;
        let one_m_zp = 1.0 - zp;
        let one_m_zm = 1.0 - zm;
        let mut sum = Complex64::new(0.0, 0.0);
        for k in k0..=k1 {
            let s = k as f64 * H + W0;
            let es = (-s).exp();
            let v = s - g * (-s).exp_m1();
            let r = t * v.exp();
            let (q, em1) = exp_and_expm1(a * v);
            let dn = (em1 + one_m_zp) * (em1 + one_m_zm);
            let Some(j) = self.complex_term(r, v, q, zh, dn) else {
                break;
            };
            sum += j * (1.0 + g * es);
        }
        if self.form == Form::Standard {
            sum *= ((1.0 - b) * l).exp();
        }
        (sum / PI, g)
    }

    /// The integrand of complex `z` at a node with `u = ln t + v`, `r = e^u`, `q = e^(a v)`
    /// and the denominator `dn` (without the map's derivative): `None` past the last node
    /// that contributes (standard form, `e^-r` underflows). Shared by the centred lattice and
    /// [`Self::peak_sum_complex`]. (`q1(r)` is exactly `1/r` once `e^-r` is below half an ulp
    /// of 1, so no large-`r` branch is needed.)
    #[inline(always)]
    fn complex_term(
        &self,
        r: f64,
        v: f64,
        q: f64,
        zh: Complex64,
        dn: Complex64,
    ) -> Option<Complex64> {
        match self.form {
            Form::Standard => (r <= 745.0).then(|| {
                (-r).exp() * ((1.0 + self.a - self.b) * v).exp() * (q * self.sb + zh * self.sab)
                    / dn
            }),
            Form::Integrated => Some(q1(r) * q * (-zh * self.sa) / dn),
        }
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
        let lattice;
        if l <= L_CENTRED {
            lattice = Lattice::Centred;
            // u = l + phi(w)
            let (klo, khi) = self.centred_range(l);
            let one_m_zp = 1.0 - zp;
            let one_m_zm = 1.0 - zm;
            for k in klo..=khi {
                let w = k as f64 * H + W0;
                let v = phi(w);
                let du = 1.0 + (-w).exp();
                let rho = v.exp();
                let r = t * rho;
                let em1 = (a * v).exp_m1();
                let q = em1 + 1.0;
                let dn = (em1 + one_m_zp) * (em1 + one_m_zm);
                let Some(j) = self.complex_term(r, v, q, zh, dn) else {
                    break;
                };
                sum += j * du;
            }
            if self.form == Form::Standard {
                sum *= ((1.0 - b) * l).exp() / PI;
            } else {
                sum /= PI;
            }
        } else if self.near_pole(theta)
            && l <= L_PEAK_MAX
            && (self.form == Form::Integrated || t <= T_PEAK_STANDARD)
        {
            // near the line |arg z| = a pi, peak not damped by e^-t (issue 13): on the fixed
            // map `q - z e^(-+i pi a)` cancels to ~ a h / 2 at the nodes next to the peak,
            // so the rounding of `q = r^a / x` is amplified (up to 8e-15 relative for
            // b = 2, a = 0.9, |z| = 20); re-centred on the peak as in `peak_sum`
            let g;
            (sum, g) = self.peak_sum_complex(l, t, zh, zp, zm);
            lattice = Lattice::Peak(g);
        } else {
            // near pole: the peak at w* midway between two nodes
            let w0 = if self.near_pole(theta) {
                let ws = peak_w(l);
                ws - H * (ws / H).floor() - 0.5 * H
            } else {
                0.0
            };
            lattice = Lattice::Fixed(w0);
            let (klo, khi) = self.fixed_range(l, w0);
            let inv_x = 1.0 / x;
            for k in klo..=khi {
                let w = k as f64 * H + w0;
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
        let mut val =
            t_sum - self.pole_corrections(x, theta, (l, t), lattice, Some((zp, zm)), t_sum.norm());
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
}

/// The real `w` of the fixed map's peak, `c + w - e^-w = l` (Newton; `l > 1.5`, so
/// `w > 2` and the map is nearly the identity).
fn peak_w(l: f64) -> f64 {
    let target = l - C_FIXED;
    let mut w = target;
    for _ in 0..8 {
        let e = (-w).exp();
        w -= (w - e - target) / (1.0 + e);
    }
    w
}
