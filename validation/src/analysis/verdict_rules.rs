//! Claims as signed, falsifiable statements fixed before the data, and the rules that turn
//! evidence into verdicts (SPEC 3, 3.1: "predictions are fixed before the data").
//!
//! A [`Claim`] names a statistic's expected side of a threshold ([`Rule`]), the premises
//! without which it cannot be tested ([`Premise`]: a stationary loss, a scaling regime, enough
//! units or effective points) and whether it counts in the headline (a *circular* claim, one
//! whose statistic was used to build the prediction, or an *always true* one, an identity
//! such as `d_s = 2 lambda_bar s`, is reported but not counted). [`evaluate_claims`] takes the
//! claims with their [`Evidence`] and returns one [`ClaimVerdict`] each:
//!
//! - a failed premise gives [`RuleVerdict::NotTestable`] with the reason, never supported or
//!   contradicted;
//! - interval rules ([`Rule::UpperBound`], [`Rule::LowerBound`], [`Rule::Within`]): supported
//!   when the whole interval lies on the predicted side, contradicted when the whole interval
//!   lies on the other side, else inconclusive;
//! - [`Rule::SignedCorrelation`]: supported when the one-sided test in the predicted direction
//!   rejects, contradicted when the one-sided test in the opposite direction rejects.
//!
//! **Multiplicity.** `alpha` is the two-sided family-wise error rate of the headline claims:
//! each direction (false support, false contradiction) gets `alpha / 2`, the tail of a
//! two-sided interval at `1 - alpha`. The one-sided p-values of each direction are adjusted by
//! Holm's step-down procedure ([`holm`]) over the tested headline claims. An interval at level
//! `L` that excludes the threshold bounds its one-sided p-value by `(1 - L) / 2` (duality of
//! tests and intervals), and that bound enters Holm; an interval that does not exclude it enters
//! as 1, which can only remove rejections (Holm is monotone in the p-values), so the family-wise
//! rate stays controlled. Intervals should therefore be computed at
//! [`required_interval_level`] (Bonferroni, `1 - alpha / m`); a lower level is allowed but can
//! only give inconclusive verdicts where the higher one would decide, and the verdict says so.
//!
//! **Resampling units.** The evidence comes from [`super::resampling`], whose unit is the
//! initialisation (seed): [`super::resampling::cluster_bootstrap`] for intervals,
//! [`super::resampling::permutation_correlation_p`] for the signed correlations.

use super::{AnalysisError, Result};
use crate::analysis::resampling::PermutationCorrelation;
use crate::analysis::stats::ConfidenceInterval;
use serde::{Deserialize, Serialize};

pub use super::resampling::Sign;

/// The rule of a claim: on which side of which threshold the statistic must lie.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Rule {
    /// The statistic is below `threshold`: supported when the interval's upper end is below it,
    /// contradicted when the interval's lower end is above it.
    UpperBound {
        /// The bound.
        threshold: f64,
    },
    /// The statistic is above `threshold`: supported when the interval's lower end is above
    /// it, contradicted when the interval's upper end is below it.
    LowerBound {
        /// The bound.
        threshold: f64,
    },
    /// The statistic lies in `[lo, hi]`: supported when the interval lies inside, contradicted
    /// when the interval lies entirely outside (below `lo` or above `hi`).
    Within {
        /// Lower end of the predicted range.
        lo: f64,
        /// Upper end of the predicted range.
        hi: f64,
    },
    /// The correlation has the predicted sign: decided by the two one-sided p-values
    /// (see [`super::resampling::permutation_correlation_p`]).
    SignedCorrelation {
        /// The predicted sign.
        expected_sign: Sign,
    },
}

/// What must hold before a claim can be tested at all; declared with the claim, before the
/// data. The default requires nothing.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Premise {
    /// The loss must be stationary by the test declared in advance (steady-state claims).
    pub stationary: bool,
    /// A scaling regime (a window where a power law is fitted) must have been found.
    pub scaling_regime: bool,
    /// Minimum number of units (initialisations) behind the evidence.
    pub min_units: usize,
    /// Minimum number of effective (decorrelated) points behind the statistic.
    pub min_effective_points: usize,
}

/// Why a claim could not be tested.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NotTestableReason {
    /// The stationarity premise failed.
    NotStationary,
    /// The scaling-regime premise failed.
    NoScalingRegime,
    /// Fewer units than the premise requires.
    TooFewUnits {
        /// Units in the evidence.
        have: usize,
        /// Units required.
        need: usize,
    },
    /// Fewer effective points than the premise requires.
    TooFewEffectivePoints {
        /// Effective points in the evidence.
        have: usize,
        /// Effective points required.
        need: usize,
    },
    /// A premise of the claim's inputs failed (for example an LLC shape from estimates that
    /// fail their diagnostics).
    PremiseFailed {
        /// Which premise, and how it failed.
        premise: String,
    },
    /// A premise was declared but the evidence does not say whether it holds.
    PremiseUnchecked {
        /// Which premise.
        premise: String,
    },
    /// The rule needs evidence that was not supplied.
    MissingEvidence {
        /// What is missing.
        needed: String,
    },
    /// The evidence is not usable (non-finite numbers, a p-value outside `[0, 1]`, ...).
    InvalidEvidence {
        /// Why.
        why: String,
    },
}

impl NotTestableReason {
    /// Words for the report.
    pub fn words(&self) -> String {
        match self {
            Self::NotStationary => "the loss is not stationary".into(),
            Self::NoScalingRegime => "no scaling regime was found".into(),
            Self::TooFewUnits { have, need } => format!("{have} units, {need} needed"),
            Self::TooFewEffectivePoints { have, need } => {
                format!("{have} effective points, {need} needed")
            }
            Self::PremiseFailed { premise } => format!("premise fails: {premise}"),
            Self::PremiseUnchecked { premise } => format!("premise not checked: {premise}"),
            Self::MissingEvidence { needed } => format!("missing evidence: {needed}"),
            Self::InvalidEvidence { why } => format!("invalid evidence: {why}"),
        }
    }
}

/// A claim fixed before the data.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Claim {
    /// Short identifier (unique within one evaluation).
    pub id: String,
    /// The claim in words.
    pub statement: String,
    /// The decision rule.
    pub rule: Rule,
    /// What must hold before the claim is testable.
    pub premise: Premise,
    /// The statistic was used to build the prediction: reported, not counted in the headline.
    pub circular: bool,
    /// The claim holds by construction (an identity): reported, not counted in the headline.
    pub always_true: bool,
}

impl Claim {
    /// A headline claim with no premise.
    pub fn new(id: impl Into<String>, statement: impl Into<String>, rule: Rule) -> Self {
        Self {
            id: id.into(),
            statement: statement.into(),
            rule,
            premise: Premise::default(),
            circular: false,
            always_true: false,
        }
    }
    /// Sets the premise.
    pub fn premise(mut self, premise: Premise) -> Self {
        self.premise = premise;
        self
    }
    /// Labels the claim circular (kept out of the headline).
    pub fn circular(mut self) -> Self {
        self.circular = true;
        self
    }
    /// Labels the claim always true (kept out of the headline).
    pub fn always_true(mut self) -> Self {
        self.always_true = true;
        self
    }
    /// Whether the claim counts in the headline (neither circular nor always true).
    pub fn is_headline(&self) -> bool {
        !self.circular && !self.always_true
    }
}

/// The evidence for one claim.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Evidence {
    /// Point estimate of the statistic.
    pub estimate: f64,
    /// Interval of the statistic (needed by the interval rules).
    pub interval: Option<ConfidenceInterval>,
    /// One-sided p-value of the test in the predicted direction (needed by
    /// [`Rule::SignedCorrelation`]).
    pub p_predicted: Option<f64>,
    /// One-sided p-value of the test in the opposite direction.
    pub p_opposite: Option<f64>,
    /// Number of units (initialisations) behind the evidence.
    pub n_units: usize,
    /// Effective number of points behind the statistic, where known.
    pub effective_points: Option<usize>,
    /// Outcome of the declared stationarity test, where run.
    pub stationary: Option<bool>,
    /// Whether a scaling regime was found, where looked for.
    pub scaling_regime: Option<bool>,
    /// A premise of the inputs that failed, in words (`None`: none did). Checked before
    /// everything else: such a claim is not testable whatever its numbers say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub premise_failed: Option<String>,
}

impl Evidence {
    /// Evidence from a point estimate and its interval.
    pub fn from_interval(estimate: f64, interval: ConfidenceInterval, n_units: usize) -> Self {
        Self {
            estimate,
            interval: Some(interval),
            n_units,
            ..Self::default()
        }
    }
    /// Evidence from a point estimate and the two one-sided p-values.
    pub fn from_p_values(estimate: f64, p_predicted: f64, p_opposite: f64, n_units: usize) -> Self {
        Self {
            estimate,
            p_predicted: Some(p_predicted),
            p_opposite: Some(p_opposite),
            n_units,
            ..Self::default()
        }
    }
    /// Evidence from a permutation correlation test.
    pub fn from_correlation(test: &PermutationCorrelation) -> Self {
        Self::from_p_values(test.r, test.p_predicted, test.p_opposite, test.n)
    }
    /// Records the stationarity test's outcome.
    pub fn stationary(mut self, stationary: bool) -> Self {
        self.stationary = Some(stationary);
        self
    }
    /// Records whether a scaling regime was found.
    pub fn scaling_regime(mut self, found: bool) -> Self {
        self.scaling_regime = Some(found);
        self
    }
    /// Records the effective number of points.
    pub fn effective_points(mut self, n: usize) -> Self {
        self.effective_points = Some(n);
        self
    }
}

/// The verdict of one claim.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum RuleVerdict {
    /// The test in the predicted direction rejects (after Holm, for headline claims).
    Supported,
    /// The test in the opposite direction rejects (after Holm, for headline claims).
    Contradicted,
    /// Neither rejects.
    Inconclusive,
    /// A premise failed or the evidence is missing: the claim was not tested.
    NotTestable {
        /// Why.
        reason: NotTestableReason,
    },
}

impl RuleVerdict {
    /// Words for the report.
    pub fn words(&self) -> &'static str {
        match self {
            Self::Supported => "supported",
            Self::Contradicted => "contradicted",
            Self::Inconclusive => "inconclusive",
            Self::NotTestable { .. } => "not testable",
        }
    }
}

/// One claim with its evidence and verdict.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ClaimVerdict {
    /// The claim.
    pub claim: Claim,
    /// The evidence.
    pub evidence: Evidence,
    /// Whether the claim counts in the headline.
    pub headline: bool,
    /// The verdict.
    pub verdict: RuleVerdict,
    /// One-sided p-value (or its interval bound) of the predicted direction, before adjustment.
    pub p_support: Option<f64>,
    /// One-sided p-value (or its interval bound) of the opposite direction, before adjustment.
    pub p_contradict: Option<f64>,
    /// `p_support` after Holm over the tested headline claims (unadjusted for the others).
    pub p_support_adjusted: Option<f64>,
    /// `p_contradict` after Holm over the tested headline claims (unadjusted for the others).
    pub p_contradict_adjusted: Option<f64>,
    /// Remarks (an interval below the required level, an interval missing its estimate, ...).
    pub notes: Vec<String>,
}

/// Counts of the headline verdicts.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct VerdictCounts {
    /// Supported.
    pub supported: usize,
    /// Contradicted.
    pub contradicted: usize,
    /// Inconclusive.
    pub inconclusive: usize,
    /// Not testable.
    pub not_testable: usize,
}

/// All verdicts of one evaluation.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct VerdictReport {
    /// Two-sided family-wise error rate of the headline claims.
    pub alpha: f64,
    /// Number of headline claims declared (the Holm family before premises are checked).
    pub headline_declared: usize,
    /// Number of headline claims tested (the Holm family actually used).
    pub headline_tested: usize,
    /// Interval level the interval rules needed: [`required_interval_level`] of the declared
    /// headline count.
    pub required_interval_level: f64,
    /// Headline verdict counts.
    pub headline: VerdictCounts,
    /// Claims kept out of the headline (circular or always true).
    pub excluded: usize,
    /// One verdict per claim, in the input order.
    pub verdicts: Vec<ClaimVerdict>,
}

/// Holm's step-down adjusted p-values (Holm 1979), in the input order:
/// `adj_(k) = max_{j <= k} min(1, (m - j + 1) p_(j))` over the ascending p-values. A
/// hypothesis is rejected at family-wise level `a` iff its adjusted p-value is `<= a`.
/// Non-finite p-values are treated as 1.
pub fn holm(p_values: &[f64]) -> Vec<f64> {
    let m = p_values.len();
    let clean: Vec<f64> = p_values
        .iter()
        .map(|&p| {
            if p.is_finite() {
                p.clamp(0.0, 1.0)
            } else {
                1.0
            }
        })
        .collect();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| clean[a].total_cmp(&clean[b]));
    let mut adj = vec![1.0; m];
    let mut running = 0.0f64;
    for (j, &i) in order.iter().enumerate() {
        running = running.max(((m - j) as f64 * clean[i]).min(1.0));
        adj[i] = running;
    }
    adj
}

/// Level of the intervals that lets the interval rules decide under the Holm/Bonferroni
/// family of `m_headline` claims at two-sided family-wise rate `alpha`: `1 - alpha / m`.
pub fn required_interval_level(m_headline: usize, alpha: f64) -> f64 {
    1.0 - alpha / m_headline.max(1) as f64
}

/// Whether `interval` is a proper finite interval containing the finite `estimate` (a check
/// for bootstrap output: a percentile interval that misses its own estimate signals a skewed
/// or degenerate resampling distribution).
pub fn interval_contains_estimate(estimate: f64, interval: &ConfidenceInterval) -> bool {
    estimate.is_finite()
        && interval.lo.is_finite()
        && interval.hi.is_finite()
        && interval.lo <= interval.hi
        && interval.contains(estimate)
}

/// The premise check: `None` when the claim is testable.
fn premise_failure(p: &Premise, e: &Evidence) -> Option<NotTestableReason> {
    if let Some(premise) = &e.premise_failed {
        return Some(NotTestableReason::PremiseFailed {
            premise: premise.clone(),
        });
    }
    if e.n_units < p.min_units {
        return Some(NotTestableReason::TooFewUnits {
            have: e.n_units,
            need: p.min_units,
        });
    }
    if p.min_effective_points > 0 {
        match e.effective_points {
            None => {
                return Some(NotTestableReason::PremiseUnchecked {
                    premise: "effective number of points".into(),
                });
            }
            Some(n) if n < p.min_effective_points => {
                return Some(NotTestableReason::TooFewEffectivePoints {
                    have: n,
                    need: p.min_effective_points,
                });
            }
            Some(_) => {}
        }
    }
    if p.stationary {
        match e.stationary {
            None => {
                return Some(NotTestableReason::PremiseUnchecked {
                    premise: "stationarity".into(),
                });
            }
            Some(false) => return Some(NotTestableReason::NotStationary),
            Some(true) => {}
        }
    }
    if p.scaling_regime {
        match e.scaling_regime {
            None => {
                return Some(NotTestableReason::PremiseUnchecked {
                    premise: "scaling regime".into(),
                });
            }
            Some(false) => return Some(NotTestableReason::NoScalingRegime),
            Some(true) => {}
        }
    }
    None
}

/// The two one-sided p-values (or their interval bounds) of a testable claim.
fn directional_p(rule: &Rule, e: &Evidence) -> std::result::Result<(f64, f64), NotTestableReason> {
    let invalid = |why: &str| NotTestableReason::InvalidEvidence { why: why.into() };
    match *rule {
        Rule::SignedCorrelation { .. } => {
            let (Some(pp), Some(po)) = (e.p_predicted, e.p_opposite) else {
                return Err(NotTestableReason::MissingEvidence {
                    needed: "both one-sided p-values".into(),
                });
            };
            if !(0.0..=1.0).contains(&pp) || !(0.0..=1.0).contains(&po) {
                return Err(invalid("a p-value outside [0, 1]"));
            }
            Ok((pp, po))
        }
        _ => {
            let Some(ci) = e.interval else {
                return Err(NotTestableReason::MissingEvidence {
                    needed: "an interval".into(),
                });
            };
            if !(ci.lo.is_finite() && ci.hi.is_finite() && ci.lo <= ci.hi) {
                return Err(invalid("the interval is not finite and ordered"));
            }
            if !(ci.level > 0.0 && ci.level < 1.0) {
                return Err(invalid("the interval level is outside (0, 1)"));
            }
            let tail = (1.0 - ci.level) / 2.0;
            let bound = |excluded: bool, b: f64| if excluded { b } else { 1.0 };
            Ok(match *rule {
                Rule::UpperBound { threshold } => (
                    bound(ci.hi < threshold, tail),
                    bound(ci.lo > threshold, tail),
                ),
                Rule::LowerBound { threshold } => (
                    bound(ci.lo > threshold, tail),
                    bound(ci.hi < threshold, tail),
                ),
                Rule::Within { lo, hi } => {
                    if lo.partial_cmp(&hi) != Some(std::cmp::Ordering::Less) {
                        return Err(invalid("Within needs lo < hi"));
                    }
                    // Support: both one-sided tests reject (intersection-union), each at the
                    // tail. Contradiction: one of two disjoint one-sided events, at most both
                    // tails together.
                    (
                        bound(ci.lo > lo && ci.hi < hi, tail),
                        bound(ci.hi < lo || ci.lo > hi, 2.0 * tail),
                    )
                }
                Rule::SignedCorrelation { .. } => unreachable!("handled above"),
            })
        }
    }
}

/// Verdicts of `claims` given their `evidence` (same order), with Holm's adjustment over the
/// tested headline claims at two-sided family-wise rate `alpha` (`alpha / 2` per direction;
/// see the module docs). Circular and always-true claims are judged unadjusted and kept out of
/// the headline counts.
///
/// Errors: `alpha` outside `(0, 1)`, mismatched lengths, duplicate claim ids, a non-finite
/// threshold in a rule. Bad evidence never errors: it makes the claim not testable.
pub fn evaluate_claims(
    claims: &[Claim],
    evidence: &[Evidence],
    alpha: f64,
) -> Result<VerdictReport> {
    if !(alpha > 0.0 && alpha < 1.0) {
        return Err(AnalysisError::OutOfRange {
            what: "verdict family-wise alpha",
            value: alpha,
            allowed: "(0, 1)",
        });
    }
    if claims.len() != evidence.len() {
        return Err(AnalysisError::LengthMismatch {
            what: "claims / evidence",
            left: claims.len(),
            right: evidence.len(),
        });
    }
    for (k, c) in claims.iter().enumerate() {
        if claims[..k].iter().any(|d| d.id == c.id) {
            return Err(AnalysisError::Degenerate {
                what: "claims",
                why: "two claims share an id",
            });
        }
        let bad = match c.rule {
            Rule::UpperBound { threshold } | Rule::LowerBound { threshold } => {
                !threshold.is_finite()
            }
            Rule::Within { lo, hi } => !(lo.is_finite() && hi.is_finite()),
            Rule::SignedCorrelation { .. } => false,
        };
        if bad {
            return Err(AnalysisError::Degenerate {
                what: "claim rule",
                why: "a threshold is not finite",
            });
        }
    }
    let half = alpha / 2.0;
    let declared = claims.iter().filter(|c| c.is_headline()).count();
    let required = required_interval_level(declared, alpha);
    // Pass 1: premises and raw directional p-values.
    let mut out: Vec<ClaimVerdict> = Vec::with_capacity(claims.len());
    for (c, e) in claims.iter().zip(evidence) {
        let mut v = ClaimVerdict {
            claim: c.clone(),
            evidence: e.clone(),
            headline: c.is_headline(),
            verdict: RuleVerdict::Inconclusive,
            p_support: None,
            p_contradict: None,
            p_support_adjusted: None,
            p_contradict_adjusted: None,
            notes: Vec::new(),
        };
        let tested = premise_failure(&c.premise, e).map_or_else(|| directional_p(&c.rule, e), Err);
        match tested {
            Err(reason) => v.verdict = RuleVerdict::NotTestable { reason },
            Ok((ps, pc)) => {
                v.p_support = Some(ps);
                v.p_contradict = Some(pc);
                if let Some(ci) = e.interval {
                    if !interval_contains_estimate(e.estimate, &ci) {
                        v.notes
                            .push("the interval does not contain the point estimate".into());
                    }
                    if c.is_headline()
                        && !matches!(c.rule, Rule::SignedCorrelation { .. })
                        && ci.level < required - 1e-12
                    {
                        v.notes.push(format!(
                            "interval level {:.4} is below the {:.4} needed for {} headline \
                             claims: it can only be inconclusive where a wider one would decide",
                            ci.level, required, declared
                        ));
                    }
                }
            }
        }
        out.push(v);
    }
    // Pass 2: Holm per direction over the tested headline claims.
    let family: Vec<usize> = (0..out.len())
        .filter(|&k| out[k].headline && out[k].p_support.is_some())
        .collect();
    let ps: Vec<f64> = family
        .iter()
        .map(|&k| out[k].p_support.unwrap_or(1.0))
        .collect();
    let pc: Vec<f64> = family
        .iter()
        .map(|&k| out[k].p_contradict.unwrap_or(1.0))
        .collect();
    let (adj_s, adj_c) = (holm(&ps), holm(&pc));
    for (j, &k) in family.iter().enumerate() {
        out[k].p_support_adjusted = Some(adj_s[j]);
        out[k].p_contradict_adjusted = Some(adj_c[j]);
    }
    for v in &mut out {
        if !v.headline {
            v.p_support_adjusted = v.p_support;
            v.p_contradict_adjusted = v.p_contradict;
        }
        let (Some(s), Some(c)) = (v.p_support_adjusted, v.p_contradict_adjusted) else {
            continue;
        };
        // Relative slack for rounding: a 95 % interval's tail (1 - 0.95) / 2 is 0.025 only to
        // within a few ulps.
        let rejects = |p: f64| p <= half * (1.0 + 1e-9);
        v.verdict = match (rejects(s), rejects(c)) {
            (true, false) => RuleVerdict::Supported,
            (false, true) => RuleVerdict::Contradicted,
            (true, true) => {
                v.notes
                    .push("both directions reject: the evidence is inconsistent".into());
                RuleVerdict::Inconclusive
            }
            (false, false) => RuleVerdict::Inconclusive,
        };
    }
    let mut counts = VerdictCounts::default();
    for v in out.iter().filter(|v| v.headline) {
        match v.verdict {
            RuleVerdict::Supported => counts.supported += 1,
            RuleVerdict::Contradicted => counts.contradicted += 1,
            RuleVerdict::Inconclusive => counts.inconclusive += 1,
            RuleVerdict::NotTestable { .. } => counts.not_testable += 1,
        }
    }
    Ok(VerdictReport {
        alpha,
        headline_declared: declared,
        headline_tested: family.len(),
        required_interval_level: required,
        headline: counts,
        excluded: out.len() - declared,
        verdicts: out,
    })
}

#[cfg(test)]
#[path = "verdict_rules_tests.rs"]
mod tests;
