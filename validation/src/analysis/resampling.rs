//! Resampling whose unit is the initialisation (seed): the interval and test machinery behind
//! the verdicts of [`super::verdict_rules`].
//!
//! Runs that share an initialisation (an ensemble: same init seed, different minibatch-stream
//! seeds) are not independent, so intervals resample whole inits ([`cluster_bootstrap`]) and
//! permutation tests permute one value per init ([`permutation_test_two_groups`],
//! [`permutation_correlation_p`]). All draw from the fixed [`SplitMix64`] generator, so every
//! p-value and interval is reproducible bit for bit.

use super::{AnalysisError, Result};
use crate::analysis::stats::{
    BootstrapConfig, ConfidenceInterval, SplitMix64, mean, pearson, percentile_interval, ranks,
};
use serde::{Deserialize, Serialize};

/// The sign a correlation is predicted to have.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Sign {
    /// Predicted positive.
    Positive,
    /// Predicted negative.
    Negative,
}

/// A statistic with its bootstrap interval.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct BootstrapEstimate {
    /// The statistic on all units.
    pub estimate: f64,
    /// Percentile interval of the resampled statistic.
    pub interval: ConfidenceInterval,
    /// Number of units resampled.
    pub units: usize,
    /// Resamples with a finite statistic (the others are dropped).
    pub resamples_used: usize,
}

/// Percentile bootstrap whose unit is the initialisation: each resample draws `units.len()`
/// whole units with replacement (runs, values or ensembles sharing an init stay together) and
/// evaluates `stat` on them. `T` is whatever one unit holds (a `Vec<f64>` of per-run values,
/// a struct of ensemble statistics, ...).
///
/// Errors: fewer than 2 units, a non-finite statistic on the data, or fewer than half the
/// resamples giving a finite statistic.
pub fn cluster_bootstrap<T, F>(
    units: &[T],
    mut stat: F,
    cfg: &BootstrapConfig,
) -> Result<BootstrapEstimate>
where
    F: FnMut(&[&T]) -> f64,
{
    let n = units.len();
    if n < 2 {
        return Err(AnalysisError::TooFewPoints {
            what: "cluster bootstrap units",
            needed: 2,
            got: n,
        });
    }
    if !(cfg.level > 0.0 && cfg.level < 1.0) {
        return Err(AnalysisError::OutOfRange {
            what: "cluster bootstrap level",
            value: cfg.level,
            allowed: "(0, 1)",
        });
    }
    let all: Vec<&T> = units.iter().collect();
    let estimate = stat(&all);
    if !estimate.is_finite() {
        return Err(AnalysisError::Degenerate {
            what: "cluster bootstrap",
            why: "the statistic of the data is not finite",
        });
    }
    let mut rng = SplitMix64::new(cfg.seed);
    let mut pick: Vec<&T> = Vec::with_capacity(n);
    let mut reps = Vec::with_capacity(cfg.resamples);
    for _ in 0..cfg.resamples {
        pick.clear();
        pick.extend((0..n).map(|_| &units[rng.below(n)]));
        reps.push(stat(&pick));
    }
    let used = reps.iter().filter(|x| x.is_finite()).count();
    if used == 0 || used < cfg.resamples / 2 {
        return Err(AnalysisError::Degenerate {
            what: "cluster bootstrap",
            why: "most resamples gave a non-finite statistic",
        });
    }
    Ok(BootstrapEstimate {
        estimate,
        interval: percentile_interval(reps, cfg.level),
        units: n,
        resamples_used: used,
    })
}

/// Mean of all values of the given units pooled (each value weighs the same): the usual
/// statistic for [`cluster_bootstrap`] over `Vec<f64>` units. NaN when there are no values.
pub fn pooled_mean(units: &[&Vec<f64>]) -> f64 {
    let (s, n) = units.iter().fold((0.0, 0usize), |(s, n), u| {
        (s + u.iter().sum::<f64>(), n + u.len())
    });
    s / n as f64
}

/// Groups `values` by the unit (initialisation) each came from, units in order of first
/// appearance: the input of [`cluster_bootstrap`] from a flat table.
pub fn group_by_unit(unit_of: &[u64], values: &[f64]) -> Result<Vec<Vec<f64>>> {
    if unit_of.len() != values.len() {
        return Err(AnalysisError::LengthMismatch {
            what: "group by unit ids / values",
            left: unit_of.len(),
            right: values.len(),
        });
    }
    let mut ids: Vec<u64> = Vec::new();
    let mut groups: Vec<Vec<f64>> = Vec::new();
    for (&u, &v) in unit_of.iter().zip(values) {
        match ids.iter().position(|&x| x == u) {
            Some(k) => groups[k].push(v),
            None => {
                ids.push(u);
                groups.push(vec![v]);
            }
        }
    }
    Ok(groups)
}

/// Result of a two-group permutation test of the difference in means.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PermutationTest {
    /// `mean(a) - mean(b)`.
    pub statistic: f64,
    /// One-sided p-value for `mean(a) > mean(b)`.
    pub p_greater: f64,
    /// One-sided p-value for `mean(a) < mean(b)`.
    pub p_less: f64,
    /// Two-sided p-value (`|difference|`).
    pub p_two_sided: f64,
    /// Number of random permutations.
    pub permutations: usize,
}

fn shuffle<T>(v: &mut [T], rng: &mut SplitMix64) {
    for i in (1..v.len()).rev() {
        v.swap(i, rng.below(i + 1));
    }
}

fn check_values(what: &'static str, v: &[f64], needed: usize) -> Result<()> {
    if v.len() < needed {
        return Err(AnalysisError::TooFewPoints {
            what,
            needed,
            got: v.len(),
        });
    }
    if let Some(&x) = v.iter().find(|x| !x.is_finite()) {
        return Err(AnalysisError::OutOfRange {
            what,
            value: x,
            allowed: "finite numbers",
        });
    }
    Ok(())
}

/// Monte-Carlo p-value `(1 + #{as extreme}) / (1 + permutations)` (never 0, valid at any
/// number of permutations; Phipson and Smyth 2010).
fn mc_p(count: usize, n_perm: usize) -> f64 {
    (1 + count) as f64 / (1 + n_perm) as f64
}

/// Permutation test of `mean(a) - mean(b)` with one value per unit in each group: the group
/// labels are shuffled `n_perm` times with a [`SplitMix64`] seeded by `seed`. Gives both
/// one-sided p-values and the two-sided one.
///
/// Errors: a group with fewer than 2 values, non-finite values, `n_perm == 0`.
pub fn permutation_test_two_groups(
    a: &[f64],
    b: &[f64],
    n_perm: usize,
    seed: u64,
) -> Result<PermutationTest> {
    check_values("permutation test group a", a, 2)?;
    check_values("permutation test group b", b, 2)?;
    if n_perm == 0 {
        return Err(AnalysisError::OutOfRange {
            what: "permutations",
            value: 0.0,
            allowed: ">= 1",
        });
    }
    let obs = mean(a) - mean(b);
    let mut pooled: Vec<f64> = a.iter().chain(b).copied().collect();
    let scale = pooled.iter().map(|x| x.abs()).sum::<f64>() / pooled.len() as f64;
    // Permutations that reproduce the observed split differ from it only by rounding.
    let tol = 1e-12 * (scale + obs.abs());
    let na = a.len();
    let mut rng = SplitMix64::new(seed);
    let (mut ge, mut le, mut two) = (0, 0, 0);
    for _ in 0..n_perm {
        shuffle(&mut pooled, &mut rng);
        let d = mean(&pooled[..na]) - mean(&pooled[na..]);
        if d >= obs - tol {
            ge += 1;
        }
        if d <= obs + tol {
            le += 1;
        }
        if d.abs() >= obs.abs() - tol {
            two += 1;
        }
    }
    Ok(PermutationTest {
        statistic: obs,
        p_greater: mc_p(ge, n_perm),
        p_less: mc_p(le, n_perm),
        p_two_sided: mc_p(two, n_perm),
        permutations: n_perm,
    })
}

/// Which correlation coefficient a permutation test uses.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CorrelationKind {
    /// Pearson's linear correlation.
    Pearson,
    /// Spearman's rank correlation (Pearson on average ranks): robust to outlying runs.
    #[default]
    Spearman,
}

/// Result of a permutation test of a correlation's sign.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PermutationCorrelation {
    /// Which coefficient.
    pub kind: CorrelationKind,
    /// The coefficient on the data.
    pub r: f64,
    /// The predicted sign.
    pub expected_sign: Sign,
    /// One-sided p-value in the predicted direction (small: the data show the predicted sign).
    pub p_predicted: f64,
    /// One-sided p-value in the opposite direction (small: the data show the other sign).
    pub p_opposite: f64,
    /// Number of pairs (units).
    pub n: usize,
    /// Number of random permutations.
    pub permutations: usize,
}

/// Permutation test of the sign of the correlation of `x` and `y` (one pair per unit): `y` is
/// shuffled against `x` `n_perm` times. `p_predicted` is the one-sided p-value in the direction
/// of `expected_sign`, `p_opposite` the other one; they feed [`Rule::SignedCorrelation`](super::verdict_rules::Rule::SignedCorrelation)
/// through [`Evidence::from_correlation`](super::verdict_rules::Evidence::from_correlation).
///
/// Errors: fewer than 3 pairs, mismatched lengths, non-finite values, a constant variable,
/// `n_perm == 0`.
pub fn permutation_correlation_p(
    x: &[f64],
    y: &[f64],
    expected_sign: Sign,
    kind: CorrelationKind,
    n_perm: usize,
    seed: u64,
) -> Result<PermutationCorrelation> {
    if x.len() != y.len() {
        return Err(AnalysisError::LengthMismatch {
            what: "permutation correlation x/y",
            left: x.len(),
            right: y.len(),
        });
    }
    check_values("permutation correlation x", x, 3)?;
    check_values("permutation correlation y", y, 3)?;
    if n_perm == 0 {
        return Err(AnalysisError::OutOfRange {
            what: "permutations",
            value: 0.0,
            allowed: ">= 1",
        });
    }
    let (xs, mut ys) = match kind {
        CorrelationKind::Pearson => (x.to_vec(), y.to_vec()),
        CorrelationKind::Spearman => (ranks(x), ranks(y)),
    };
    let r = pearson(&xs, &ys);
    if !r.is_finite() {
        return Err(AnalysisError::Degenerate {
            what: "permutation correlation",
            why: "a variable is constant",
        });
    }
    let tol = 1e-12;
    let mut rng = SplitMix64::new(seed);
    let (mut ge, mut le) = (0, 0);
    for _ in 0..n_perm {
        shuffle(&mut ys, &mut rng);
        let rp = pearson(&xs, &ys);
        if rp >= r - tol {
            ge += 1;
        }
        if rp <= r + tol {
            le += 1;
        }
    }
    let (p_pos, p_neg) = (mc_p(ge, n_perm), mc_p(le, n_perm));
    let (p_predicted, p_opposite) = match expected_sign {
        Sign::Positive => (p_pos, p_neg),
        Sign::Negative => (p_neg, p_pos),
    };
    Ok(PermutationCorrelation {
        kind,
        r,
        expected_sign,
        p_predicted,
        p_opposite,
        n: x.len(),
        permutations: n_perm,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::verdict_rules::interval_contains_estimate;
    use approx::assert_relative_eq;

    /// 20 inits, each with 5 runs (minibatch seeds): a shared init effect of sd `between`
    /// plus run noise of sd `within`, around `centre`.
    fn clustered(centre: f64, between: f64, within: f64, seed: u64) -> Vec<Vec<f64>> {
        let mut rng = SplitMix64::new(seed);
        (0..20)
            .map(|_| {
                let u = centre + between * rng.normal();
                (0..5).map(|_| u + within * rng.normal()).collect()
            })
            .collect()
    }

    #[test]
    fn permutation_correlation_strong_and_null() {
        // Strong: y = x + small noise, 30 units. r ~ 0.99; under the null r has sd
        // 1/sqrt(29) ~ 0.19, so no permutation out of 999 reaches it: p = 1/1000.
        let mut rng = SplitMix64::new(5);
        let x: Vec<f64> = (0..30).map(|_| rng.normal()).collect();
        let y: Vec<f64> = x.iter().map(|a| a + 0.1 * rng.normal()).collect();
        for kind in [CorrelationKind::Pearson, CorrelationKind::Spearman] {
            let t = permutation_correlation_p(&x, &y, Sign::Positive, kind, 999, 6).unwrap();
            assert!(t.p_predicted < 0.01, "{t:?}");
            assert!(t.p_opposite > 0.99, "{t:?}");
            // Predicting the wrong sign swaps the two.
            let w = permutation_correlation_p(&x, &y, Sign::Negative, kind, 999, 6).unwrap();
            assert!(w.p_opposite < 0.01 && w.p_predicted > 0.99, "{w:?}");
        }
        // Null: 300 independent data sets of 20 pairs, 199 permutations each. Under the null
        // the p-value is (discretely) uniform: mean 0.5 (sd of the mean 0.29/sqrt(300) =
        // 0.017; band +-0.07 is 4 sd), fraction below 0.05 about 0.05 (binomial sd 0.013;
        // band [0.01, 0.11]), and the Kolmogorov distance to U(0, 1) below 1.63/sqrt(300)
        // = 0.094 (the 1 % critical value) plus the 1/200 grid of the p-values.
        let mut ps = Vec::new();
        for rep in 0..300u64 {
            let mut rng = SplitMix64::new(100 + rep);
            let x: Vec<f64> = (0..20).map(|_| rng.normal()).collect();
            let y: Vec<f64> = (0..20).map(|_| rng.normal()).collect();
            let t = permutation_correlation_p(
                &x,
                &y,
                Sign::Positive,
                CorrelationKind::Pearson,
                199,
                1000 + rep,
            )
            .unwrap();
            ps.push(t.p_predicted);
        }
        let m = mean(&ps);
        assert!((m - 0.5).abs() < 0.07, "mean p {m}");
        let small = ps.iter().filter(|&&p| p <= 0.05).count() as f64 / ps.len() as f64;
        assert!(
            (0.01..=0.11).contains(&small),
            "fraction below 0.05: {small}"
        );
        ps.sort_by(f64::total_cmp);
        let n = ps.len() as f64;
        let ks = ps
            .iter()
            .enumerate()
            .map(|(i, &p)| (p - i as f64 / n).abs().max(((i + 1) as f64 / n - p).abs()))
            .fold(0.0, f64::max);
        assert!(ks < 0.094 + 0.005, "KS distance {ks}");
        // Errors.
        assert!(
            permutation_correlation_p(
                &[1.0, 1.0, 1.0],
                &[1.0, 2.0, 3.0],
                Sign::Positive,
                CorrelationKind::Pearson,
                10,
                0
            )
            .is_err()
        );
        assert!(
            permutation_correlation_p(
                &[1.0, 2.0],
                &[1.0, 2.0],
                Sign::Positive,
                CorrelationKind::Pearson,
                10,
                0
            )
            .is_err()
        );
    }

    #[test]
    fn permutation_two_groups() {
        let mut rng = SplitMix64::new(8);
        let a: Vec<f64> = (0..15).map(|_| 1.0 + rng.normal()).collect();
        let b: Vec<f64> = (0..15).map(|_| rng.normal()).collect();
        // Shift 1 sd with 15 per group: z ~ 2.7, one-sided p ~ 0.003 (well below 0.05).
        let t = permutation_test_two_groups(&a, &b, 1999, 9).unwrap();
        assert!(t.statistic > 0.0);
        assert!(t.p_greater < 0.05 && t.p_less > 0.9, "{t:?}");
        assert!(t.p_two_sided < 0.1 && t.p_two_sided >= t.p_greater, "{t:?}");
        // Deterministic for a seed.
        assert_eq!(t, permutation_test_two_groups(&a, &b, 1999, 9).unwrap());
        // The same group twice: nothing to see.
        let s = permutation_test_two_groups(&a, &a, 999, 9).unwrap();
        assert!(
            s.p_two_sided > 0.9 && s.p_greater > 0.4 && s.p_less > 0.4,
            "{s:?}"
        );
        assert!(permutation_test_two_groups(&a, &[1.0], 99, 0).is_err());
        assert!(permutation_test_two_groups(&a, &b, 0, 0).is_err());
    }

    #[test]
    fn cluster_bootstrap_is_wider_under_correlation() {
        // 20 inits x 5 runs; init effect sd 1, run noise sd 0.3: intraclass correlation
        // 1 / 1.09 = 0.92, design effect 1 + 4 x 0.92 = 4.7, so the honest interval is about
        // sqrt(4.7) = 2.2 times the naive one. Assert > 1.5.
        let units = clustered(0.0, 1.0, 0.3, 10);
        let cfg = BootstrapConfig {
            resamples: 2000,
            level: 0.95,
            seed: 11,
        };
        let cl = cluster_bootstrap(&units, pooled_mean, &cfg).unwrap();
        let flat: Vec<Vec<f64>> = units.iter().flatten().map(|&v| vec![v]).collect();
        let naive = cluster_bootstrap(&flat, pooled_mean, &cfg).unwrap();
        assert_relative_eq!(cl.estimate, naive.estimate, max_relative = 1e-12);
        assert!(
            interval_contains_estimate(cl.estimate, &cl.interval),
            "{cl:?}"
        );
        assert!(interval_contains_estimate(naive.estimate, &naive.interval));
        let (wc, wn) = (
            cl.interval.hi - cl.interval.lo,
            naive.interval.hi - naive.interval.lo,
        );
        assert!(wc > 1.5 * wn, "cluster {wc} naive {wn}");
        assert_eq!((cl.units, naive.units, cl.resamples_used), (20, 100, 2000));
        // Without an init effect the two agree: the ratio is near 1, scattered mainly by the
        // cluster side estimating a standard deviation from 20 unit means (relative sd
        // sqrt(1 / (2 x 19)) = 0.16); band 0.6-1.5 is about 2.5 sd.
        let indep = clustered(0.0, 0.0, 1.0, 12);
        let cl = cluster_bootstrap(&indep, pooled_mean, &cfg).unwrap();
        let flat: Vec<Vec<f64>> = indep.iter().flatten().map(|&v| vec![v]).collect();
        let nv = cluster_bootstrap(&flat, pooled_mean, &cfg).unwrap();
        let ratio = (cl.interval.hi - cl.interval.lo) / (nv.interval.hi - nv.interval.lo);
        assert!((0.6..1.5).contains(&ratio), "{ratio}");
        // Grouping a flat table gives the same units.
        let ids: Vec<u64> = (0..100).map(|k| (k / 5) as u64).collect();
        let vals: Vec<f64> = units.iter().flatten().copied().collect();
        assert_eq!(group_by_unit(&ids, &vals).unwrap(), units);
        assert!(group_by_unit(&ids, &vals[1..]).is_err());
        assert!(cluster_bootstrap(&units[..1], pooled_mean, &cfg).is_err());
    }
}
