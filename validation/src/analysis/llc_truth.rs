//! Known values of the learning coefficient, and the conventions around the LLC estimate.
//!
//! * Exact real log canonical thresholds (RLCTs) `lambda` with their multiplicities `m`, the
//!   truths an SGLD LLC estimator ([`crate::llc`]) must recover on toy models:
//!   [`reduced_rank_regression_rlct`] (two-layer linear networks, Aoyagi and Watanabe 2005),
//!   [`sum_of_powers_rlct`] (`K = sum_i w_i^(p_i)`) and [`monomial_rlct`] (normal crossing,
//!   `K = prod_i w_i^(p_i)`).
//! * [`NBeta`]: which inverse temperature `n_beta` an estimate used (`B / ln B` or `n / ln n`;
//!   SPEC section 3), parsed from and printed as `batch` / `dataset`; the same type as the
//!   estimator's setting [`crate::llc::NBeta`].
//! * [`time_average_trapezoid`] and [`time_average_over`]: the time average `lambda_bar` of an
//!   LLC curve over a window, by the trapezoid rule.
//!
//! For the model `p(y|x, w)` with true parameter set `W_0 = {K(w) = 0}`, the Bayes free energy
//! is `F_n = n L_n(w_0) + lambda ln n - (m - 1) ln ln n + O_p(1)` (Watanabe 2009); a regular
//! model of dimension `d` has `lambda = d / 2`, `m = 1`.

use serde::Serialize;

use super::{AnalysisError, Result};

/// A learning coefficient with its multiplicity.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Rlct {
    /// The real log canonical threshold `lambda` (the learning coefficient).
    pub lambda: f64,
    /// Its multiplicity `m` (the order of the largest pole of the zeta function).
    pub multiplicity: u32,
}

/// The RLCT of reduced-rank regression: the two-layer linear network `x -> B A x` with input
/// dimension `M = input`, hidden width `H = hidden`, output dimension `N = output`
/// (`A` is `H x M`, `B` is `N x H`), at a true map `B_0 A_0` of rank `r = true_rank`.
///
/// Aoyagi and Watanabe (2005), "Stochastic complexities of reduced rank regression in Bayesian
/// estimation", Neural Networks 18(7), 924-933, main theorem (all four cases):
///
/// 1. `N + r <= M + H`, `M + r <= N + H` and `H + r <= M + N`:
///    `lambda = (2 (H + r)(M + N) - (M - N)^2 - (H + r)^2) / 8` and `m = 1` if `M + H + N + r`
///    is even; `lambda = (2 (H + r)(M + N) - (M - N)^2 - (H + r)^2 + 1) / 8` and `m = 2` if odd;
/// 2. `M + H < N + r`: `lambda = (H M - H r + N r) / 2`, `m = 1`;
/// 3. `N + H < M + r`: `lambda = (H N - H r + M r) / 2`, `m = 1`;
/// 4. `M + N < H + r`: `lambda = M N / 2`, `m = 1`.
///
/// The cases are disjoint and cover all `0 <= r <= H`. Cross-checked against the implementation
/// in the R package sBIC (Drton and Plummer 2017; github.com/Lucaweihs/sBIC,
/// `R/ReducedRankRegressions.R`, `learnCoef`), which writes case 1 as
/// `-(H + r)^2 - M^2 - N^2 + 2 (H + r)(M + N) + 2 M N (+ 1)` over 8, the same polynomial.
///
/// Errors: a dimension of zero, or `r > min(H, M, N)` (a rank-`r` truth is not realisable).
pub fn reduced_rank_regression_rlct(
    input: usize,
    hidden: usize,
    output: usize,
    true_rank: usize,
) -> Result<Rlct> {
    for (what, v) in [
        ("reduced-rank regression input dimension M", input),
        ("reduced-rank regression hidden width H", hidden),
        ("reduced-rank regression output dimension N", output),
    ] {
        if v == 0 {
            return Err(AnalysisError::OutOfRange {
                what,
                value: 0.0,
                allowed: ">= 1",
            });
        }
    }
    if true_rank > hidden.min(input).min(output) {
        return Err(AnalysisError::OutOfRange {
            what: "reduced-rank regression true rank r",
            value: true_rank as f64,
            allowed: "0 <= r <= min(H, M, N)",
        });
    }
    let (m, h, n, r) = (
        input as i128,
        hidden as i128,
        output as i128,
        true_rank as i128,
    );
    // integer numerators, so the division at the end is the only rounding (exact for any
    // numerator below 2^53)
    let (num, den, mult) = if n + r <= m + h && m + r <= n + h && h + r <= m + n {
        let base = 2 * (h + r) * (m + n) - (m - n) * (m - n) - (h + r) * (h + r);
        if (m + h + n + r) % 2 == 0 {
            (base, 8, 1)
        } else {
            (base + 1, 8, 2)
        }
    } else if m + h < n + r {
        (h * m - h * r + n * r, 2, 1)
    } else if n + h < m + r {
        (h * n - h * r + m * r, 2, 1)
    } else {
        // the remaining case, M + N < H + r
        debug_assert!(m + n < h + r);
        (m * n, 2, 1)
    };
    Ok(Rlct {
        lambda: num as f64 / den as f64,
        multiplicity: mult,
    })
}

/// Check that the exponents are even and >= 2 (so that `K >= 0` and vanishes at `w = 0`).
fn check_even_powers(what: &'static str, powers: &[u32]) -> Result<()> {
    if powers.is_empty() {
        return Err(AnalysisError::TooFewPoints {
            what,
            needed: 1,
            got: 0,
        });
    }
    if let Some(&p) = powers.iter().find(|&&p| p < 2 || p % 2 == 1) {
        return Err(AnalysisError::OutOfRange {
            what,
            value: f64::from(p),
            allowed: "even exponents >= 2",
        });
    }
    Ok(())
}

/// The RLCT of `K(w) = (1/2) sum_i w_i^(p_i)` at `w = 0` with a prior positive there, each
/// `p_i` even: `lambda = sum_i 1 / p_i`, `m = 1` (the variables separate, and `w_i^(p_i)` alone
/// has `lambda = 1/p_i`; the constant factor does not change `lambda`). All `p_i = 2` is the
/// regular case `d / 2`; a single `w^(2k)` gives `1 / (2k)`.
///
/// Errors: no exponents, or an exponent that is odd or below 2.
pub fn sum_of_powers_rlct(powers: &[u32]) -> Result<Rlct> {
    check_even_powers("sum-of-powers exponents", powers)?;
    Ok(Rlct {
        lambda: powers.iter().map(|&p| 1.0 / f64::from(p)).sum(),
        multiplicity: 1,
    })
}

/// The RLCT of the normal-crossing `K(w) = prod_i w_i^(p_i)` at `w = 0` with a prior positive
/// there, each `p_i` even (Watanabe 2009, "Algebraic geometry and statistical learning
/// theory", section 2.4): `lambda = min_i 1 / p_i`, `m` = the number of `i` attaining the
/// minimum (the largest exponents).
///
/// Errors: no exponents, or an exponent that is odd or below 2.
pub fn monomial_rlct(powers: &[u32]) -> Result<Rlct> {
    check_even_powers("monomial exponents", powers)?;
    let pmax = *powers.iter().max().expect("non-empty, checked above");
    let count = powers.iter().filter(|&&p| p == pmax).count();
    Ok(Rlct {
        lambda: 1.0 / f64::from(pmax),
        multiplicity: u32::try_from(count).unwrap_or(u32::MAX),
    })
}

/// The inverse-temperature convention of an LLC estimate (SPEC section 3): one type with the
/// estimator's setting, [`crate::llc::NBeta`].
pub use crate::llc::NBeta;

/// Check `t`, `y` for the time averages: equal lengths, at least 2 points, finite, `t`
/// strictly increasing.
fn check_series(t: &[f64], y: &[f64]) -> Result<()> {
    if t.len() != y.len() {
        return Err(AnalysisError::LengthMismatch {
            what: "time average t and y",
            left: t.len(),
            right: y.len(),
        });
    }
    if t.len() < 2 {
        return Err(AnalysisError::TooFewPoints {
            what: "time average",
            needed: 2,
            got: t.len(),
        });
    }
    if let Some(&v) = t.iter().chain(y).find(|v| !v.is_finite()) {
        return Err(AnalysisError::OutOfRange {
            what: "time average input",
            value: v,
            allowed: "finite",
        });
    }
    if let Some(w) = t.windows(2).find(|w| w[1] <= w[0]) {
        return Err(AnalysisError::OutOfRange {
            what: "time average t (must increase strictly)",
            value: w[1],
            allowed: "greater than the previous time",
        });
    }
    Ok(())
}

/// The trapezoid time average of `y(t)` over `[t_0, t_last]`:
/// `sum_i (t_{i+1} - t_i) (y_i + y_{i+1}) / 2 / (t_last - t_0)`, for example `lambda_bar`
/// from LLC estimates `y` at steps `t` (pass the window's points; see [`time_average_over`] to
/// cut a window out of a longer series). Exact for piecewise-linear `y`.
///
/// Errors: lengths differ, fewer than 2 points, a non-finite value, `t` not strictly
/// increasing.
pub fn time_average_trapezoid(t: &[f64], y: &[f64]) -> Result<f64> {
    check_series(t, y)?;
    let area: f64 = t
        .windows(2)
        .zip(y.windows(2))
        .map(|(tw, yw)| (tw[1] - tw[0]) * 0.5 * (yw[0] + yw[1]))
        .sum();
    Ok(area / (t[t.len() - 1] - t[0]))
}

/// The trapezoid time average of the piecewise-linear interpolant of `(t, y)` over the window
/// `[from, to]`, which must lie inside `[t_0, t_last]`; the interpolant is cut at the window
/// ends, so partial intervals count with their linear values.
///
/// Errors: as [`time_average_trapezoid`], and `from >= to` or the window outside the data.
pub fn time_average_over(t: &[f64], y: &[f64], from: f64, to: f64) -> Result<f64> {
    check_series(t, y)?;
    let (t0, t1) = (t[0], t[t.len() - 1]);
    if from.is_nan() || from < t0 || from >= to {
        return Err(AnalysisError::OutOfRange {
            what: "time-average window start",
            value: from,
            allowed: "within the data's times and before the window end",
        });
    }
    if to.is_nan() || to > t1 {
        return Err(AnalysisError::OutOfRange {
            what: "time-average window end",
            value: to,
            allowed: "at most the last time",
        });
    }
    let interp = |x: f64, i: usize| y[i] + (y[i + 1] - y[i]) * (x - t[i]) / (t[i + 1] - t[i]);
    let mut area = 0.0;
    for i in 0..t.len() - 1 {
        let (a, b) = (t[i].max(from), t[i + 1].min(to));
        if b > a {
            area += (b - a) * 0.5 * (interp(a, i) + interp(b, i));
        }
    }
    Ok(area / (to - from))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RLCTs here are k/8 or k/2 for small integers k: exact in binary, so `1e-12` only guards
    /// against a different formula, not rounding.
    const EXACT: f64 = 1e-12;

    fn rrr(m: usize, h: usize, n: usize, r: usize) -> Rlct {
        reduced_rank_regression_rlct(m, h, n, r).unwrap()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < EXACT
    }

    #[test]
    fn rrr_regular_full_rank() {
        // H <= min(M, N) and r = H: the map B A has rank H, the model is regular modulo the
        // GL(H) gauge: lambda = (dim - dim GL(H)) / 2 = (H (M + N) - H^2) / 2, m = 1
        for m in 1..=7 {
            for n in 1..=7 {
                for h in 1..=m.min(n) {
                    let got = rrr(m, h, n, h);
                    let want = ((h * (m + n) - h * h) as f64) / 2.0;
                    assert!(
                        close(got.lambda, want),
                        "M {m} H {h} N {n}: {got:?} vs {want}"
                    );
                    assert_eq!(got.multiplicity, 1, "M {m} H {h} N {n}");
                }
            }
        }
    }

    #[test]
    fn rrr_hand_checked_small_cases() {
        // (M, H, N, r) -> (lambda, m), each derived by hand:
        let cases = [
            // K = (ab)^2: normal crossing a^2 b^2, lambda = 1/2 with m = 2 (case 1, odd)
            ((1, 1, 1, 0), (0.5, 2)),
            // K = (ab - 1)^2 near a = b = 1: a smooth curve, codimension 1 -> 1/2 (case 1, even)
            ((1, 1, 1, 1), (0.5, 1)),
            // K = (a1 b1 + a2 b2)^2: f = a1 b1 + a2 b2 is a non-degenerate quadratic form in
            // 4 variables, lct(f) = min(1, 4/2) = 1 uniquely, so lambda(f^2) = 1/2, m = 1
            ((1, 2, 1, 0), (0.5, 1)),
            // K = b^2 (a1^2 + a2^2): blow up the a-plane: b^2 s^2 (1 + u^2) ->
            // min(1/2 from b, 2/2 from s) = 1/2, m = 1 (case 1, even)
            ((2, 1, 1, 0), (0.5, 1)),
            // K = b^2 (a1^2 + a2^2 + a3^2): min(1/2, 3/2) = 1/2 (case 3: N + H < M + r)
            ((3, 1, 1, 0), (0.5, 1)),
            // the transpose: K = a^2 (b1^2 + b2^2 + b3^2) (case 2: M + H < N + r)
            ((1, 1, 3, 0), (0.5, 1)),
            // M = N = 1, H = 3 > M + N - r: the scalar sum of 3 products, still 1/2 = M N / 2
            // (case 4: M + N < H + r)
            ((1, 3, 1, 0), (0.5, 1)),
            // M = N = 2, H = 1, r = 0: K = |b|^2 |a|^2 (rank-one 2x2 map b a^T):
            // min(2/2, 2/2) = 1 with both factors -> m = 2 (case 1, odd: (2*1*4 - 0 - 1 + 1)/8)
            ((2, 1, 2, 0), (1.0, 2)),
        ];
        for ((m, h, n, r), (lam, mult)) in cases {
            let got = rrr(m, h, n, r);
            assert!(
                close(got.lambda, lam),
                "(M {m}, H {h}, N {n}, r {r}): {got:?} vs {lam}"
            );
            assert_eq!(got.multiplicity, mult, "(M {m}, H {h}, N {n}, r {r})");
        }
    }

    #[test]
    fn rrr_each_case_formula() {
        // one point in each case, values from the displayed formulas by hand
        // case 1 even: M=4, H=3, N=3, r=2 -> sum 12; (2*5*7 - 1 - 25)/8 = 44/8
        let c = rrr(4, 3, 3, 2);
        assert!(close(c.lambda, 5.5) && c.multiplicity == 1, "{c:?}");
        // case 1 odd: M=4, H=2, N=3, r=0 -> sum 9; (2*2*7 - 1 - 4 + 1)/8 = 24/8
        let c = rrr(4, 2, 3, 0);
        assert!(close(c.lambda, 3.0) && c.multiplicity == 2, "{c:?}");
        // case 2: M=2, H=2, N=8, r=1 (2 + 2 < 8 + 1): (4 - 2 + 8)/2 = 5
        let c = rrr(2, 2, 8, 1);
        assert!(close(c.lambda, 5.0) && c.multiplicity == 1, "{c:?}");
        // case 3: M=10, H=2, N=3, r=1 (3 + 2 < 10 + 1): (6 - 2 + 10)/2 = 7
        let c = rrr(10, 2, 3, 1);
        assert!(close(c.lambda, 7.0) && c.multiplicity == 1, "{c:?}");
        // case 4: M=3, H=8, N=3, r=1 (3 + 3 < 8 + 1): 9/2
        let c = rrr(3, 8, 3, 1);
        assert!(close(c.lambda, 4.5) && c.multiplicity == 1, "{c:?}");
    }

    #[test]
    fn rrr_properties() {
        for m in 1..=8 {
            for n in 1..=8 {
                for h in 1..=10 {
                    for r in 0..=h.min(m).min(n) {
                        let c = rrr(m, h, n, r);
                        // symmetric under transposition (M <-> N)
                        let t = rrr(n, h, m, r);
                        assert!(close(c.lambda, t.lambda) && c.multiplicity == t.multiplicity);
                        // never above half the parameter count, nor above half the map's MN
                        let d = (h * (m + n)) as f64;
                        assert!(c.lambda <= d / 2.0 + EXACT, "{m} {h} {n} {r}");
                        assert!(c.lambda <= (m * n) as f64 / 2.0 + EXACT, "{m} {h} {n} {r}");
                        // at least the regular value of the true rank-r model
                        let reg = ((r * (m + n) - r * r) as f64) / 2.0;
                        assert!(c.lambda >= reg - EXACT, "{m} {h} {n} {r}");
                        // non-decreasing in the true rank
                        if r >= 1 {
                            assert!(rrr(m, h, n, r - 1).lambda <= c.lambda + EXACT);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn rrr_rejects_impossible_shapes() {
        assert!(reduced_rank_regression_rlct(0, 1, 1, 0).is_err());
        assert!(reduced_rank_regression_rlct(3, 2, 3, 3).is_err());
        assert!(reduced_rank_regression_rlct(3, 4, 2, 3).is_err());
    }

    #[test]
    fn powers_and_monomials() {
        // regular: d/2
        let s = sum_of_powers_rlct(&[2, 2, 2]).unwrap();
        assert!(close(s.lambda, 1.5) && s.multiplicity == 1);
        // w^(2k): 1/(2k), by either rule
        for k in 1..=5 {
            let p = 2 * k;
            let want = 1.0 / f64::from(p);
            assert!(close(sum_of_powers_rlct(&[p]).unwrap().lambda, want));
            assert!(close(monomial_rlct(&[p]).unwrap().lambda, want));
        }
        // w1^2 + w2^4: 1/2 + 1/4
        assert!(close(sum_of_powers_rlct(&[2, 4]).unwrap().lambda, 0.75));
        // w1^2 w2^4: 1/4, m = 1; w1^2 w2^2: 1/2, m = 2; w1^4 w2^2 w3^4: 1/4, m = 2
        let c = monomial_rlct(&[2, 4]).unwrap();
        assert!(close(c.lambda, 0.25) && c.multiplicity == 1);
        let c = monomial_rlct(&[2, 2]).unwrap();
        assert!(close(c.lambda, 0.5) && c.multiplicity == 2);
        let c = monomial_rlct(&[4, 2, 4]).unwrap();
        assert!(close(c.lambda, 0.25) && c.multiplicity == 2);
        // the monomial (ab)^2 is reduced-rank regression with M = H = N = 1, r = 0
        let (c, r) = (monomial_rlct(&[2, 2]).unwrap(), rrr(1, 1, 1, 0));
        assert!(close(c.lambda, r.lambda) && c.multiplicity == r.multiplicity);
        assert!(sum_of_powers_rlct(&[]).is_err());
        assert!(sum_of_powers_rlct(&[3]).is_err());
        assert!(monomial_rlct(&[2, 0]).is_err());
    }

    #[test]
    fn nbeta_convention() {
        // 1e-12 relative: one division and one log
        let b = NBeta::Batch.value(256, 8000).unwrap();
        assert!((b - 256.0 / 256f64.ln()).abs() < 1e-12 * b);
        let d = NBeta::Dataset.value(256, 8000).unwrap();
        assert!((d - 8000.0 / 8000f64.ln()).abs() < 1e-12 * d);
        assert!(NBeta::Batch.value(1, 8000).is_err());
        assert!(NBeta::Dataset.value(256, 0).is_err());
        assert!(NBeta::Value(-1.0).value(256, 8000).is_err());
        for v in [NBeta::Batch, NBeta::Dataset, NBeta::Value(12.5)] {
            assert_eq!(v.to_string().parse::<NBeta>().unwrap(), v);
        }
        assert_eq!("dataset".parse::<NBeta>().unwrap(), NBeta::Dataset);
        let msg = "Dataset".parse::<NBeta>().unwrap_err().to_string();
        assert!(
            msg.contains("nbeta") && msg.contains("batch") && msg.contains("dataset"),
            "{msg}"
        );
        // the serialised form of the estimator's setting is kept (older summary.json files);
        // the lower-case names are read too
        assert_eq!(
            serde_json::to_string(&NBeta::Dataset).unwrap(),
            "\"Dataset\""
        );
        assert_eq!(
            serde_json::from_str::<NBeta>("\"dataset\"").unwrap(),
            NBeta::Dataset
        );
        assert_eq!(NBeta::Dataset.name(), "dataset");
    }

    #[test]
    fn trapezoid_average() {
        // exact for linear y: y = 2 t + 1 on [1, 5] averages to 2 * 3 + 1 = 7; uneven steps.
        // 1e-12: a handful of roundings of O(10) numbers
        let t = [1.0, 1.5, 3.0, 5.0];
        let y: Vec<f64> = t.iter().map(|x| 2.0 * x + 1.0).collect();
        assert!((time_average_trapezoid(&t, &y).unwrap() - 7.0).abs() < 1e-12);
        // hand value for a kink: y = 0, 2, 0 at t = 0, 1, 3 -> area 1 + 2 = 3 over 3 -> 1
        assert!(
            (time_average_trapezoid(&[0.0, 1.0, 3.0], &[0.0, 2.0, 0.0]).unwrap() - 1.0).abs()
                < 1e-12
        );
        // y = t^2 on [0, 1] with 1001 points: trapezoid error h^2/6 = 1.67e-7 above 1/3
        let t: Vec<f64> = (0..=1000).map(|i| f64::from(i) / 1000.0).collect();
        let y: Vec<f64> = t.iter().map(|x| x * x).collect();
        let a = time_average_trapezoid(&t, &y).unwrap();
        assert!((a - 1.0 / 3.0 - 1e-6 / 6.0).abs() < 1e-12, "{a}");
        assert!(time_average_trapezoid(&[0.0], &[1.0]).is_err());
        assert!(time_average_trapezoid(&[0.0, 0.0], &[1.0, 2.0]).is_err());
        assert!(time_average_trapezoid(&[0.0, 1.0], &[1.0]).is_err());
        assert!(time_average_trapezoid(&[0.0, 1.0], &[1.0, f64::NAN]).is_err());
    }

    #[test]
    fn windowed_average() {
        let t = [0.0, 1.0, 3.0, 4.0];
        let y = [0.0, 2.0, 0.0, 4.0];
        // the full window equals the plain trapezoid average (1e-12: roundings of O(1) values)
        let full = time_average_over(&t, &y, 0.0, 4.0).unwrap();
        assert!((full - time_average_trapezoid(&t, &y).unwrap()).abs() < 1e-12);
        // [0.5, 2]: y = 1 .. 2 .. 1 piecewise linear -> area 0.5*1.5 + 1*1.5 = 2.25 over 1.5
        let w = time_average_over(&t, &y, 0.5, 2.0).unwrap();
        assert!((w - 1.5).abs() < 1e-12, "{w}");
        // a window inside one interval: y linear, the average is y at the midpoint (t = 3.5 -> 2)
        let w = time_average_over(&t, &y, 3.25, 3.75).unwrap();
        assert!((w - 2.0).abs() < 1e-12, "{w}");
        assert!(time_average_over(&t, &y, -1.0, 2.0).is_err());
        assert!(time_average_over(&t, &y, 1.0, 5.0).is_err());
        assert!(time_average_over(&t, &y, 2.0, 2.0).is_err());
    }
}
