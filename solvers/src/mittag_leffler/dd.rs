//! Minimal double-double arithmetic for the pole term `(1/a) z^((1-b)/a) exp(z^(1/a))` at
//! real `z > 0`: its relative condition number with respect to the exponent is
//! `t = z^(1/a)` (up to ~700 before overflow), so the exponent is formed in double-double
//! and only the final `exp` is rounded.

/// `hi + lo` with `|lo| <= ulp(hi)/2`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Dd {
    pub hi: f64,
    pub lo: f64,
}

#[inline]
fn two_sum(a: f64, b: f64) -> Dd {
    let s = a + b;
    let bb = s - a;
    let e = (a - (s - bb)) + (b - bb);
    Dd { hi: s, lo: e }
}

#[inline]
fn quick_two_sum(a: f64, b: f64) -> Dd {
    let s = a + b;
    Dd {
        hi: s,
        lo: b - (s - a),
    }
}

#[inline]
fn two_prod(a: f64, b: f64) -> Dd {
    let p = a * b;
    Dd {
        hi: p,
        lo: a.mul_add(b, -p),
    }
}

impl Dd {
    pub(crate) fn from(x: f64) -> Self {
        Dd { hi: x, lo: 0.0 }
    }
    pub(crate) fn add(self, o: Dd) -> Dd {
        let s = two_sum(self.hi, o.hi);
        let t = two_sum(self.lo, o.lo);
        let s = quick_two_sum(s.hi, s.lo + t.hi);
        quick_two_sum(s.hi, s.lo + t.lo)
    }
    pub(crate) fn neg(self) -> Dd {
        Dd {
            hi: -self.hi,
            lo: -self.lo,
        }
    }
    pub(crate) fn mul(self, o: Dd) -> Dd {
        let p = two_prod(self.hi, o.hi);
        quick_two_sum(p.hi, p.lo + (self.hi * o.lo + self.lo * o.hi))
    }
    pub(crate) fn mul_f(self, b: f64) -> Dd {
        let p = two_prod(self.hi, b);
        quick_two_sum(p.hi, p.lo + self.lo * b)
    }
    pub(crate) fn div_f(self, b: f64) -> Dd {
        let q1 = self.hi / b;
        let r = self.add(two_prod(q1, b).neg());
        let q2 = r.hi / b;
        let r = r.add(two_prod(q2, b).neg());
        let q3 = r.hi / b;
        quick_two_sum(q1, q2).add(Dd::from(q3))
    }
}

const LN2: Dd = Dd {
    hi: std::f64::consts::LN_2,
    lo: 2.319_046_813_846_299_6e-17,
};

/// `exp(x)` in double-double for `|x| < 700` (range reduction by `ln 2` and `2^-10`,
/// Taylor series, ten squarings).
pub(crate) fn exp_dd(x: Dd) -> Dd {
    let k = (x.hi / LN2.hi).round();
    let r = x.add(LN2.mul_f(k).neg());
    let r = Dd {
        hi: r.hi / 1024.0,
        lo: r.lo / 1024.0,
    };
    // Taylor: |r| < 3.4e-4, 9 terms reach 1e-35
    let mut sum = Dd::from(1.0);
    let mut term = Dd::from(1.0);
    for i in 1..=9 {
        term = term.mul(r).div_f(i as f64);
        sum = sum.add(term);
    }
    for _ in 0..10 {
        sum = sum.mul(sum);
    }
    let scale = 2f64.powi(k as i32);
    Dd {
        hi: sum.hi * scale,
        lo: sum.lo * scale,
    }
}

/// `ln(x)` in double-double for finite `x > 0` (one Newton step on `exp_dd`).
pub(crate) fn ln_dd(x: f64) -> Dd {
    let y0 = Dd::from(x.ln());
    // y1 = y0 + x e^-y0 - 1
    let e = exp_dd(y0.neg());
    let corr = e.mul_f(x).add(Dd::from(-1.0));
    y0.add(corr)
}

/// `(1/a) x^((1-b)/a) exp(x^(1/a))` for real `x > 0`, exponent formed in double-double.
pub(crate) fn pole_term_real(a: f64, b: f64, x: f64) -> f64 {
    let l = ln_dd(x).div_f(a); // ln t
    let t = exp_dd(l);
    let e = t.add(l.mul_f(1.0 - b)).add(ln_dd(a).neg());
    if e.hi > 709.9 {
        return f64::INFINITY;
    }
    e.hi.exp() * (1.0 + e.lo)
}

const PI_2: Dd = Dd {
    hi: std::f64::consts::FRAC_PI_2,
    lo: 6.123_233_995_736_766e-17,
};

/// `(sin x, cos x)` in double-double for `|x| < 1e4`.
pub(crate) fn sincos_dd(x: Dd) -> (Dd, Dd) {
    let k = (x.hi / PI_2.hi).round();
    let r = x.add(PI_2.mul_f(k).neg());
    let r2 = r.mul(r);
    // sin r = r - r^3/3! + ..., cos r = 1 - r^2/2! + ... (|r| <= pi/4: 15 terms reach 1e-33)
    let (mut s, mut c) = (r, Dd::from(1.0));
    let (mut ts, mut tc) = (r, Dd::from(1.0));
    for i in 1..=15 {
        let n = 2.0 * i as f64;
        ts = ts.mul(r2).div_f(-(n * (n + 1.0)));
        tc = tc.mul(r2).div_f(-((n - 1.0) * n));
        s = s.add(ts);
        c = c.add(tc);
    }
    match (k as i64).rem_euclid(4) {
        0 => (s, c),
        1 => (c, s.neg()),
        2 => (s.neg(), c.neg()),
        _ => (c.neg(), s),
    }
}

/// `atan2(y, x)` in double-double (one Newton step on `sincos_dd`).
fn atan2_dd(y: f64, x: f64) -> Dd {
    let t0 = Dd::from(y.atan2(x));
    let (s, c) = sincos_dd(t0);
    // theta = t0 + atan((y c - x s)/(x c + y s)) ~ t0 + (y c - x s)/(x c + y s)
    let num = c.mul_f(y).add(s.mul_f(x).neg());
    let den = c.mul_f(x).add(s.mul_f(y));
    t0.add(Dd::from(num.hi / den.hi))
}

/// `(1/a) z^((1-b)/a) exp(z^(1/a))` for complex `z != 0` (principal branch), with the
/// exponent formed in double-double.
pub(crate) fn pole_term_complex(a: f64, b: f64, zr: f64, zi: f64) -> (f64, f64) {
    let r2 = two_prod(zr, zr).add(two_prod(zi, zi));
    let ln_abs = ln_dd(r2.hi).add(Dd::from(r2.lo / r2.hi)).mul_f(0.5);
    let lr = ln_abs.div_f(a); // Re ln s
    let li = atan2_dd(zi, zr).div_f(a); // Im ln s
    let m = exp_dd(lr);
    let (sn, cs) = sincos_dd(li);
    let s_re = m.mul(cs);
    let s_im = m.mul(sn);
    let e_re = s_re.add(lr.mul_f(1.0 - b)).add(ln_dd(a).neg());
    let e_im = s_im.add(li.mul_f(1.0 - b));
    if e_re.hi > 709.9 {
        return (f64::INFINITY, f64::INFINITY);
    }
    let mag = e_re.hi.exp() * (1.0 + e_re.lo);
    let (sh, ch) = e_im.hi.sin_cos();
    // cos(hi + lo) = cos hi - lo sin hi, sin(hi + lo) = sin hi + lo cos hi
    (mag * (ch - e_im.lo * sh), mag * (sh + e_im.lo * ch))
}
