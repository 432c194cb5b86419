//! Tests of the parent module (kept in their own file so the module stays short).
use super::*;
use crate::analysis::resampling::{
    CorrelationKind, cluster_bootstrap, permutation_correlation_p, pooled_mean,
};
use crate::analysis::stats::{BootstrapConfig, SplitMix64};
use approx::assert_relative_eq;

fn ci(lo: f64, hi: f64, level: f64) -> ConfidenceInterval {
    ConfidenceInterval { lo, hi, level }
}

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
fn holm_matches_hand_computation() {
    // Sorted: 0.005 (x4 = 0.02), 0.01 (x3 = 0.03), 0.03 (x2 = 0.06), 0.04 (x1 = 0.04 ->
    // running max 0.06).
    let adj = holm(&[0.01, 0.04, 0.03, 0.005]);
    let expect = [0.03, 0.06, 0.06, 0.02];
    for (a, e) in adj.iter().zip(expect) {
        assert_relative_eq!(*a, e, max_relative = 1e-12);
    }
    // Capped at 1, NaN treated as 1, a single p-value unchanged.
    let adj = holm(&[0.5, 0.4, f64::NAN]);
    assert_relative_eq!(adj[1], 1.0);
    assert_relative_eq!(adj[0], 1.0);
    assert_relative_eq!(adj[2], 1.0);
    assert_relative_eq!(holm(&[0.02])[0], 0.02);
    assert!(holm(&[]).is_empty());
}

/// The four required cases in one family: contradicted, supported, not testable, and a
/// circular claim outside the headline count.
#[test]
fn verdicts_of_synthetic_claims() {
    let alpha = 0.05;
    let claims = vec![
        // Theory: the displacement exponent s <= 1/2 (the bound d_s <= lambda_bar).
        Claim::new("bound", "s <= 1/2", Rule::UpperBound { threshold: 0.5 }).premise(Premise {
            scaling_regime: true,
            min_units: 5,
            ..Premise::default()
        }),
        // Theory: LLC and displacement correlate negatively across inits.
        Claim::new(
            "llc_vs_r",
            "larger LLC, smaller displacement",
            Rule::SignedCorrelation {
                expected_sign: Sign::Negative,
            },
        ),
        // Steady state: needs a stationary loss.
        Claim::new(
            "gamma_shape",
            "Gamma shape equals the LLC within 20 %",
            Rule::Within { lo: 0.8, hi: 1.2 },
        )
        .premise(Premise {
            stationary: true,
            ..Premise::default()
        }),
        // Circular: D fitted on the same window it "predicts".
        Claim::new(
            "d_fit",
            "fitted D reproduces R(t) in sample",
            Rule::LowerBound { threshold: 0.0 },
        )
        .circular(),
    ];
    let m = claims.iter().filter(|c| c.is_headline()).count();
    assert_eq!(m, 3);
    let level = required_interval_level(m, alpha);
    assert_relative_eq!(level, 1.0 - 0.05 / 3.0);
    // Exponents of 20 inits x 5 runs around 0.7: the bound is contradicted.
    let s = clustered(0.7, 0.05, 0.02, 1);
    let bs = cluster_bootstrap(
        &s,
        pooled_mean,
        &BootstrapConfig {
            resamples: 2000,
            level,
            seed: 2,
        },
    )
    .unwrap();
    assert!(bs.interval.lo > 0.5, "{bs:?}");
    // One value per init: LLC and displacement strongly anti-correlated.
    let mut rng = SplitMix64::new(3);
    let llc: Vec<f64> = (0..20).map(|_| 10.0 + 3.0 * rng.normal()).collect();
    let r: Vec<f64> = llc.iter().map(|l| 50.0 - 2.0 * l + rng.normal()).collect();
    let corr =
        permutation_correlation_p(&llc, &r, Sign::Negative, CorrelationKind::Spearman, 4999, 4)
            .unwrap();
    let evidence = vec![
        Evidence::from_interval(bs.estimate, bs.interval, 20).scaling_regime(true),
        Evidence::from_correlation(&corr),
        // The interval would support, but the loss was not stationary.
        Evidence::from_interval(1.0, ci(0.95, 1.05, level), 20).stationary(false),
        // Circular claim with a supporting interval.
        Evidence::from_interval(3.0, ci(2.0, 4.0, level), 20),
    ];
    let rep = evaluate_claims(&claims, &evidence, alpha).unwrap();
    let v: Vec<&str> = rep.verdicts.iter().map(|v| v.verdict.words()).collect();
    assert_eq!(
        v,
        ["contradicted", "supported", "not testable", "supported"]
    );
    assert_eq!(
        rep.verdicts[2].verdict,
        RuleVerdict::NotTestable {
            reason: NotTestableReason::NotStationary
        }
    );
    // Headline: the circular claim is reported but not counted, and not in the Holm family.
    assert_eq!(
        rep.headline,
        VerdictCounts {
            supported: 1,
            contradicted: 1,
            inconclusive: 0,
            not_testable: 1
        }
    );
    assert_eq!(
        (rep.headline_declared, rep.headline_tested, rep.excluded),
        (3, 2, 1)
    );
    assert!(!rep.verdicts[3].headline);
    // Holm over the 2 tested headline claims: the interval bound alpha / (2 * 3) doubles.
    assert_relative_eq!(
        rep.verdicts[0].p_contradict_adjusted.unwrap(),
        2.0 * 0.05 / 6.0,
        max_relative = 1e-9
    );
    assert!(
        rep.verdicts.iter().all(|v| v.notes.is_empty()),
        "{:?}",
        rep.verdicts
    );
    // The report serialises.
    let json = serde_json::to_string(&rep).unwrap();
    assert!(json.contains("\"not_stationary\""), "{json}");

    // The same data with an unchecked premise or too few units are not testable either.
    let mut ev = evidence.clone();
    ev[0].scaling_regime = None;
    ev[2].stationary = None;
    let rep = evaluate_claims(&claims, &ev, alpha).unwrap();
    assert!(matches!(
        rep.verdicts[0].verdict,
        RuleVerdict::NotTestable {
            reason: NotTestableReason::PremiseUnchecked { .. }
        }
    ));
    ev[0].scaling_regime = Some(true);
    ev[0].n_units = 4;
    let rep = evaluate_claims(&claims, &ev, alpha).unwrap();
    assert_eq!(
        rep.verdicts[0].verdict,
        RuleVerdict::NotTestable {
            reason: NotTestableReason::TooFewUnits { have: 4, need: 5 }
        }
    );
}

#[test]
fn interval_rules_and_multiplicity() {
    let up = Claim::new("u", "below 1", Rule::UpperBound { threshold: 1.0 });
    let lo = Claim::new("l", "above 1", Rule::LowerBound { threshold: 1.0 });
    let w = Claim::new("w", "in [0, 2]", Rule::Within { lo: 0.0, hi: 2.0 });
    let one = |c: &Claim, lo_: f64, hi_: f64| {
        evaluate_claims(
            std::slice::from_ref(c),
            &[Evidence::from_interval(
                0.5 * (lo_ + hi_),
                ci(lo_, hi_, 0.95),
                10,
            )],
            0.05,
        )
        .unwrap()
        .verdicts[0]
            .verdict
            .words()
    };
    assert_eq!(one(&up, 0.2, 0.8), "supported");
    assert_eq!(one(&up, 1.2, 1.8), "contradicted");
    assert_eq!(one(&up, 0.8, 1.2), "inconclusive");
    assert_eq!(one(&lo, 1.2, 1.8), "supported");
    assert_eq!(one(&lo, 0.2, 0.8), "contradicted");
    assert_eq!(one(&w, 0.5, 1.5), "supported");
    // Entirely outside: contradicted needs both tails (1 - L) <= alpha / 2; a 95 %
    // interval is not enough, a 97.5 % one is.
    assert_eq!(one(&w, 2.5, 3.0), "inconclusive");
    let rep = evaluate_claims(
        std::slice::from_ref(&w),
        &[Evidence::from_interval(2.7, ci(2.5, 3.0, 0.975), 10)],
        0.05,
    )
    .unwrap();
    assert_eq!(rep.verdicts[0].verdict, RuleVerdict::Contradicted);
    assert_eq!(one(&w, -1.0, 1.0), "inconclusive");
    // Three headline claims with 95 % intervals: Holm's first step needs 0.025 / 3, the
    // interval bound 0.025 is not enough -> inconclusive, with a note saying why.
    let claims = [up.clone(), lo.clone(), w.clone()];
    let ev = [
        Evidence::from_interval(0.5, ci(0.2, 0.8, 0.95), 10),
        Evidence::from_interval(1.5, ci(1.2, 1.8, 0.95), 10),
        Evidence::from_interval(1.0, ci(0.5, 1.5, 0.95), 10),
    ];
    let rep = evaluate_claims(&claims, &ev, 0.05).unwrap();
    assert_eq!(rep.headline.inconclusive, 3);
    assert!(
        rep.verdicts[0].notes[0].contains("below"),
        "{:?}",
        rep.verdicts[0].notes
    );
    // At the required level all three are supported.
    let level = rep.required_interval_level;
    let ev: Vec<Evidence> = ev
        .iter()
        .map(|e| {
            let mut e = e.clone();
            e.interval = e.interval.map(|c| ci(c.lo, c.hi, level));
            e
        })
        .collect();
    let rep = evaluate_claims(&claims, &ev, 0.05).unwrap();
    assert_eq!(rep.headline.supported, 3);
    // Missing or bad evidence: not testable, never an error; bad arguments are errors.
    let rep = evaluate_claims(
        &[
            up.clone(),
            Claim::new(
                "c",
                "r > 0",
                Rule::SignedCorrelation {
                    expected_sign: Sign::Positive,
                },
            ),
        ],
        &[
            Evidence::from_interval(0.5, ci(f64::NAN, 0.8, 0.95), 10),
            Evidence::from_interval(0.5, ci(0.2, 0.8, 0.95), 10),
        ],
        0.05,
    )
    .unwrap();
    assert_eq!(rep.headline.not_testable, 2);
    assert!(evaluate_claims(std::slice::from_ref(&up), &[], 0.05).is_err());
    assert!(
        evaluate_claims(
            &[up.clone(), up.clone()],
            &[ev[0].clone(), ev[0].clone()],
            0.05
        )
        .is_err()
    );
    assert!(evaluate_claims(&[up], &[ev[0].clone()], 1.5).is_err());
    // The estimate-in-interval check.
    assert!(interval_contains_estimate(0.5, &ci(0.2, 0.8, 0.9)));
    assert!(!interval_contains_estimate(0.9, &ci(0.2, 0.8, 0.9)));
    assert!(!interval_contains_estimate(f64::NAN, &ci(0.2, 0.8, 0.9)));
}

/// A failed premise of the inputs makes a claim not testable, whatever its interval says, and
/// the verdict names the premise.
#[test]
fn a_failed_input_premise_makes_the_claim_not_testable() {
    let claims = vec![
        Claim::new("a", "x > 0", Rule::LowerBound { threshold: 0.0 }),
        Claim::new("b", "x > 0", Rule::LowerBound { threshold: 0.0 }),
    ];
    // both intervals lie far above 0 with 5 units: "b" alone would be supported
    let clean = Evidence::from_interval(3.0, ci(2.0, 4.0, 0.95), 5);
    let failed = Evidence {
        premise_failed: Some(
            "2 of the 10 LLC estimates behind the shapes fail their checks".into(),
        ),
        ..clean.clone()
    };
    let r = evaluate_claims(&claims, &[failed, clean], 0.05).unwrap();
    match &r.verdicts[0].verdict {
        RuleVerdict::NotTestable { reason } => {
            assert!(matches!(reason, NotTestableReason::PremiseFailed { .. }));
            assert_eq!(
                reason.words(),
                "premise fails: 2 of the 10 LLC estimates behind the shapes fail their checks"
            );
        }
        v => panic!("expected not testable, got {v:?}"),
    }
    assert_eq!(r.verdicts[1].verdict, RuleVerdict::Supported);
}
