//! Number formatting shared by every text artifact, so that text and JSON agree.

/// Formats `x` with 4 significant digits (fixed notation for `1e-3 <= |x| < 1e5`, scientific
/// otherwise; trailing zeros trimmed); `n/a` for NaN and infinities.
///
/// ```
/// use ffpe_validation::report::format::num;
/// assert_eq!(num(0.123456), "0.1235");
/// assert_eq!(num(1234.6), "1235");
/// assert_eq!(num(2.0), "2");
/// assert_eq!(num(1.5e-7), "1.5e-7");
/// assert_eq!(num(f64::NAN), "n/a");
/// ```
pub fn num(x: f64) -> String {
    if !x.is_finite() {
        return "n/a".into();
    }
    if x == 0.0 {
        return "0".into();
    }
    let a = x.abs();
    if (1e-3..1e5).contains(&a) {
        let mag = a.log10().floor() as i32;
        let dec = (3 - mag).max(0) as usize;
        let s = format!("{x:.dec$}");
        trim(&s)
    } else {
        let s = format!("{x:.3e}");
        match s.split_once('e') {
            Some((m, e)) => format!("{}e{}", trim(m), e),
            None => s,
        }
    }
}

fn trim(s: &str) -> String {
    if s.contains('.') {
        let t = s.trim_end_matches('0').trim_end_matches('.');
        if t == "-0" { "0".into() } else { t.into() }
    } else {
        s.into()
    }
}

/// Formats an optional number.
pub fn opt(x: Option<f64>) -> String {
    x.map_or_else(|| "n/a".into(), num)
}

/// `[lo, hi]` of an interval, numbers as [`num`] writes them.
pub fn ci_text(ci: &crate::analysis::stats::ConfidenceInterval) -> String {
    format!("[{}, {}]", num(ci.lo), num(ci.hi))
}
