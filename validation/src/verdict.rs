//! Verdicts and claims: the ground floor that the analysis, the Moons test and the report share
//! (SPEC section 3: the point of the software is an honest verdict per claim).

use serde::{Deserialize, Serialize};

/// The verdict on one claim.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The data support the claim within their uncertainty.
    Supported,
    /// The data contradict the claim.
    Contradicted,
    /// The uncertainty is too large, or the evidence is mixed.
    Inconclusive,
    /// The check could not be run (reason in the evidence).
    NotTested,
}

impl Verdict {
    /// Words for the report.
    pub fn words(self) -> &'static str {
        match self {
            Verdict::Supported => "supported",
            Verdict::Contradicted => "contradicted",
            Verdict::Inconclusive => "inconclusive",
            Verdict::NotTested => "not tested",
        }
    }
}

/// One claim of the theory with its verdict.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Claim {
    /// Short identifier.
    pub id: String,
    /// The claim in words.
    pub statement: String,
    /// Verdict.
    pub verdict: Verdict,
    /// The evidence in words, with numbers and intervals (all of them also in this file).
    pub evidence: String,
}
