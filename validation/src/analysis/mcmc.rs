//! MCMC convergence diagnostics for SGLD chains: R-hat and effective sample sizes.
//!
//! Chains are given as `&[Vec<f64>]`: `C` chains of `N` draws each (for the LLC, the per-draw
//! losses `L_B(w)` of each SGLD chain).
//!
//! * [`split_rhat`], [`rank_rhat`], [`ess_bulk`], [`ess_tail`], [`ess_quantile`] and
//!   [`ess_basic`] follow Vehtari, Gelman, Simpson, Carpenter and Buerkner (2021),
//!   "Rank-normalization, folding, and localization: an improved R-hat for assessing
//!   convergence of MCMC", Bayesian Analysis 16(2), and reproduce ArviZ's `az.rhat` and
//!   `az.ess` exactly (same chain splitting, Blom rank offsets, type-7 quantiles and Geyer's
//!   initial monotone sequence; checked against `validation/tests/data/mcmc_reference.json`,
//!   written by `validation/scripts/mcmc_reference.py`).
//! * [`Diagnostics`] collects them for one set of chains, with [`Diagnostics::warnings`]
//!   (which also judges the mean Metropolis-adjusted acceptance of [`super::mala`]).
//!
//! Burn-in (the draws to drop before these diagnostics) is [`super::burn_in`].

use serde::Serialize;
use statrs::distribution::{ContinuousCDF, Normal};

use super::{AnalysisError, Result};

/// Chains stored row-major as one block: `chains` rows of `draws` values.
#[derive(Debug, Clone)]
struct Block {
    data: Vec<f64>,
    chains: usize,
    draws: usize,
}

impl Block {
    fn row(&self, c: usize) -> &[f64] {
        &self.data[c * self.draws..(c + 1) * self.draws]
    }
}

/// Check the shape of `chains` (at least `min_chains` chains of equal length, at least
/// `min_draws` draws, all finite) and copy them into a block.
fn block(chains: &[Vec<f64>], min_chains: usize, min_draws: usize) -> Result<Block> {
    if chains.len() < min_chains {
        return Err(AnalysisError::TooFewPoints {
            what: "MCMC chains",
            needed: min_chains,
            got: chains.len(),
        });
    }
    let draws = chains[0].len();
    for c in chains {
        if c.len() != draws {
            return Err(AnalysisError::LengthMismatch {
                what: "MCMC chains (draws per chain)",
                left: draws,
                right: c.len(),
            });
        }
    }
    if draws < min_draws {
        return Err(AnalysisError::TooFewPoints {
            what: "MCMC draws per chain",
            needed: min_draws,
            got: draws,
        });
    }
    let mut data = Vec::with_capacity(chains.len() * draws);
    for c in chains {
        for &v in c {
            if !v.is_finite() {
                return Err(AnalysisError::OutOfRange {
                    what: "MCMC draw",
                    value: v,
                    allowed: "finite",
                });
            }
            data.push(v);
        }
    }
    Ok(Block {
        data,
        chains: chains.len(),
        draws,
    })
}

/// Split every chain into its first and last `N/2` draws (the middle draw of an odd `N` is
/// dropped, as ArviZ does): `2C` chains of `N/2` draws, first halves then second halves.
fn split(b: &Block) -> Block {
    let half = b.draws / 2;
    let mut data = Vec::with_capacity(2 * b.chains * half);
    for c in 0..b.chains {
        data.extend_from_slice(&b.row(c)[..half]);
    }
    for c in 0..b.chains {
        data.extend_from_slice(&b.row(c)[b.draws - half..]);
    }
    Block {
        data,
        chains: 2 * b.chains,
        draws: half,
    }
}

/// Numeric order of finite values (`-0.0 == 0.0`, as numpy and scipy compare; `total_cmp`
/// would split such ties).
fn numeric_cmp(a: &f64, b: &f64) -> std::cmp::Ordering {
    a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal)
}

/// Ranks 1..=n of `x` with ties given their average rank (scipy's `rankdata(method="average")`).
fn average_ranks(x: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_by(|&a, &b| numeric_cmp(&x[a], &x[b]));
    let mut ranks = vec![0.0; x.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i + 1;
        while j < idx.len() && numeric_cmp(&x[idx[j]], &x[idx[i]]).is_eq() {
            j += 1;
        }
        // positions i..j (0-based) share the average of the 1-based ranks i+1..=j
        let avg = (i + 1 + j) as f64 / 2.0;
        for &k in &idx[i..j] {
            ranks[k] = avg;
        }
        i = j;
    }
    ranks
}

/// Rank-normalise all values together: `Phi^-1((rank - 3/8) / (S + 1/4))` (Blom offsets), `S`
/// the total number of values.
fn z_scale(b: &Block) -> Block {
    let ranks = average_ranks(&b.data);
    let size = b.data.len() as f64;
    let c = 3.0 / 8.0;
    let normal = Normal::standard();
    let data = ranks
        .iter()
        .map(|&r| normal.inverse_cdf((r - c) / (size - 2.0 * c + 1.0)))
        .collect();
    Block {
        data,
        chains: b.chains,
        draws: b.draws,
    }
}

fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

/// Sample variance (denominator `n - 1`), two-pass.
fn var1(x: &[f64]) -> f64 {
    let m = mean(x);
    x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (x.len() as f64 - 1.0)
}

/// Median of all values (mean of the two middle ones for an even count).
fn median(x: &[f64]) -> f64 {
    let mut s = x.to_vec();
    s.sort_by(numeric_cmp);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        0.5 * (s[n / 2 - 1] + s[n / 2])
    }
}

/// The potential scale reduction `sqrt(((N-1)/N W + B/N) / W)` of the chains as given
/// (ArviZ's `_rhat`).
fn rhat_plain(b: &Block) -> Result<f64> {
    let n = b.draws as f64;
    let means: Vec<f64> = (0..b.chains).map(|c| mean(b.row(c))).collect();
    let within = (0..b.chains).map(|c| var1(b.row(c))).sum::<f64>() / b.chains as f64;
    if within.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        return Err(AnalysisError::Degenerate {
            what: "R-hat",
            why: "zero within-chain variance (constant chains)",
        });
    }
    let between = n * var1(&means);
    Ok(((between / within + n - 1.0) / n).sqrt())
}

/// Classic split R-hat (Gelman et al. 2013, BDA3 section 11.4; ArviZ `az.rhat(method="split")`):
/// each chain is split in halves and the potential scale reduction of the `2C` half-chains is
/// returned.
///
/// Needs at least 2 chains and 4 draws per chain, all finite; constant chains give
/// [`AnalysisError::Degenerate`].
pub fn split_rhat(chains: &[Vec<f64>]) -> Result<f64> {
    let b = block(chains, 2, 4)?;
    rhat_plain(&split(&b))
}

/// Rank-normalised split R-hat (Vehtari et al. 2021, section 4.2; ArviZ
/// `az.rhat(method="rank")`): the larger of the bulk R-hat (split R-hat of the rank-normalised
/// draws) and the tail R-hat (split R-hat of the rank-normalised draws folded about their
/// median, `|x - median|`).
///
/// Needs at least 2 chains and 4 draws per chain, all finite; constant chains give
/// [`AnalysisError::Degenerate`].
pub fn rank_rhat(chains: &[Vec<f64>]) -> Result<f64> {
    let b = split(&block(chains, 2, 4)?);
    let bulk = rhat_plain(&z_scale(&b))?;
    let med = median(&b.data);
    let folded = Block {
        data: b.data.iter().map(|v| (v - med).abs()).collect(),
        chains: b.chains,
        draws: b.draws,
    };
    let tail = rhat_plain(&z_scale(&folded))?;
    Ok(bulk.max(tail))
}

/// Mean over chains of the lag-`k` autocovariance (denominator `N`) of the centred chains.
fn mean_autocov(centred: &Block, k: usize) -> f64 {
    let n = centred.draws;
    let mut total = 0.0;
    for c in 0..centred.chains {
        let x = centred.row(c);
        total += x[..n - k]
            .iter()
            .zip(&x[k..])
            .map(|(a, b)| a * b)
            .sum::<f64>()
            / n as f64;
    }
    total / centred.chains as f64
}

/// The effective sample size of the chains as given (ArviZ's `_ess`): multi-chain
/// autocorrelations `rho_t = 1 - (W - mean acov_t) / var_plus`, Geyer's initial positive
/// sequence truncated at the first negative pair sum, made monotone, and
/// `ESS = C N / max(tau, 1 / log10(C N))` with `tau = -1 + 2 sum rho_t`.
///
/// Autocovariances are computed directly (not by FFT) and only up to the truncation lag, so the
/// cost is `O(C N T)` for a truncation lag `T`.
fn ess_plain(b: &Block) -> f64 {
    let (n_chain, n_draw) = (b.chains, b.draws);
    let size = (n_chain * n_draw) as f64;
    let (lo, hi) = b
        .data
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    // numpy's finfo(float).resolution: ArviZ calls a spread below it constant and returns C N
    if hi - lo < 1e-15 {
        return size;
    }
    let mut centred = b.clone();
    let mut chain_means = Vec::with_capacity(n_chain);
    for c in 0..n_chain {
        let m = mean(b.row(c));
        chain_means.push(m);
        for v in &mut centred.data[c * n_draw..(c + 1) * n_draw] {
            *v -= m;
        }
    }
    let nd = n_draw as f64;
    let acov0 = mean_autocov(&centred, 0);
    let mean_var = acov0 * nd / (nd - 1.0);
    let mut var_plus = mean_var * (nd - 1.0) / nd;
    if n_chain > 1 {
        var_plus += var1(&chain_means);
    }
    let rho = |k: usize| 1.0 - (mean_var - mean_autocov(&centred, k)) / var_plus;

    let mut rho_hat = vec![0.0; n_draw];
    let mut rho_even = 1.0;
    rho_hat[0] = rho_even;
    let mut rho_odd = rho(1);
    rho_hat[1] = rho_odd;

    // Geyer's initial positive sequence
    let mut t: usize = 1;
    while t + 3 < n_draw && rho_even + rho_odd > 0.0 {
        rho_even = rho(t + 1);
        rho_odd = rho(t + 2);
        if rho_even + rho_odd >= 0.0 {
            rho_hat[t + 1] = rho_even;
            rho_hat[t + 2] = rho_odd;
        }
        t += 2;
    }
    // max_t = t - 2 >= -1 (as ArviZ); `last` = max_t + 1 >= 0
    let last = t - 1;
    if rho_even > 0.0 {
        rho_hat[last] = rho_even;
    }
    // Geyer's initial monotone sequence: t runs over 1, 3, ... while t <= max_t - 2
    let mut t = 1;
    while t + 3 <= last {
        let prev = rho_hat[t - 1] + rho_hat[t];
        if rho_hat[t + 1] + rho_hat[t + 2] > prev {
            rho_hat[t + 1] = prev / 2.0;
            rho_hat[t + 2] = rho_hat[t + 1];
        }
        t += 2;
    }
    let tau = -1.0 + 2.0 * rho_hat[..last].iter().sum::<f64>() + rho_hat[last];
    let tau = tau.max(1.0 / size.log10());
    if rho_hat.iter().any(|v| v.is_nan()) {
        return f64::NAN;
    }
    size / tau
}

/// Effective sample size of the chains as given, with no splitting and no rank normalisation
/// (ArviZ `az.ess(method="identity")`): the estimator of [`ess_bulk`] without its transforms.
///
/// Needs at least 1 chain and 4 draws, all finite. Constant draws give `C N`.
pub fn ess_basic(chains: &[Vec<f64>]) -> Result<f64> {
    Ok(ess_plain(&block(chains, 1, 4)?))
}

/// Bulk effective sample size (Vehtari et al. 2021, section 4.3; ArviZ
/// `az.ess(method="bulk")`): the ESS of the rank-normalised split chains.
///
/// Needs at least 1 chain and 4 draws, all finite.
pub fn ess_bulk(chains: &[Vec<f64>]) -> Result<f64> {
    let b = block(chains, 1, 4)?;
    Ok(ess_plain(&z_scale(&split(&b))))
}

/// Type-7 quantile (linear interpolation; scipy `mquantiles(alphap=1, betap=1)`) of all draws.
fn quantile7(x: &[f64], p: f64) -> f64 {
    let mut s = x.to_vec();
    s.sort_by(numeric_cmp);
    let n = s.len() as f64;
    // the same operations as scipy: aleph = n p + m with m = alphap + p (1 - alphap - betap)
    let (alphap, betap) = (1.0, 1.0);
    let m = alphap + p * (1.0 - alphap - betap);
    let aleph = n * p + m;
    let k = aleph.clamp(1.0, n - 1.0).floor();
    let gamma = (aleph - k).clamp(0.0, 1.0);
    let k = k as usize;
    (1.0 - gamma) * s[k - 1] + gamma * s[k]
}

/// Effective sample size of the `prob` quantile (ArviZ `az.ess(method="quantile")`): the ESS of
/// the split chains of the indicator `x <= q`, `q` the type-7 `prob` quantile of all draws.
///
/// Needs at least 1 chain and 4 draws, all finite, and `0 < prob < 1`.
pub fn ess_quantile(chains: &[Vec<f64>], prob: f64) -> Result<f64> {
    if !(prob > 0.0 && prob < 1.0) {
        return Err(AnalysisError::OutOfRange {
            what: "ESS quantile probability",
            value: prob,
            allowed: "(0, 1)",
        });
    }
    let b = block(chains, 1, 4)?;
    let q = quantile7(&b.data, prob);
    let ind = Block {
        data: b
            .data
            .iter()
            .map(|&v| if v <= q { 1.0 } else { 0.0 })
            .collect(),
        chains: b.chains,
        draws: b.draws,
    };
    Ok(ess_plain(&split(&ind)))
}

/// Tail effective sample size (Vehtari et al. 2021, section 4.3; ArviZ
/// `az.ess(method="tail")`): the smaller of the 5 % and 95 % quantile ESS ([`ess_quantile`]).
///
/// Needs at least 1 chain and 4 draws, all finite.
pub fn ess_tail(chains: &[Vec<f64>]) -> Result<f64> {
    Ok(ess_quantile(chains, 0.05)?.min(ess_quantile(chains, 0.95)?))
}

/// Largest rank-normalised R-hat accepted without a warning (Vehtari et al. 2021, section 4.3).
pub const RHAT_MAX: f64 = 1.01;
/// Smallest bulk or tail ESS per chain accepted without a warning: the threshold is
/// `ESS_PER_CHAIN_MIN * C` for `C` chains as given (before splitting), i.e. 400 for 4 chains,
/// as recommended by Vehtari et al. 2021, section 4.3.
pub const ESS_PER_CHAIN_MIN: f64 = 100.0;
/// Range of mean Metropolis-adjusted acceptance ([`super::mala::log_acceptance`]) accepted without a
/// warning: below 0.5 the SGLD step is far from the exact sampler (step too large); above 0.99
/// the chain barely moves per step and mixes slowly (step likely too small for the budget).
pub const ACCEPTANCE_RANGE: (f64, f64) = (0.5, 0.99);

/// Convergence diagnostics of one set of chains (for example the SGLD loss traces of one LLC
/// estimate).
#[derive(Debug, Clone, Serialize)]
pub struct Diagnostics {
    /// Number of chains `C`.
    pub chains: usize,
    /// Draws per chain `N`.
    pub draws: usize,
    /// Rank-normalised split R-hat ([`rank_rhat`]); `None` with a single chain.
    pub r_hat: Option<f64>,
    /// Bulk effective sample size ([`ess_bulk`]).
    pub ess_bulk: f64,
    /// Tail effective sample size ([`ess_tail`]).
    pub ess_tail: f64,
    /// Mean Metropolis-adjusted acceptance of the SGLD steps, when measured.
    pub acceptance: Option<f64>,
}

impl Diagnostics {
    /// Diagnose `chains` (`C` chains of `N` draws, `N >= 4`); `acceptance` is the mean
    /// Metropolis-adjusted acceptance, if it was measured. With one chain there is no R-hat.
    pub fn from_chains(chains: &[Vec<f64>], acceptance: Option<f64>) -> Result<Diagnostics> {
        let b = block(chains, 1, 4)?;
        let r_hat = if b.chains >= 2 {
            Some(rank_rhat(chains)?)
        } else {
            None
        };
        Ok(Diagnostics {
            chains: b.chains,
            draws: b.draws,
            r_hat,
            ess_bulk: ess_bulk(chains)?,
            ess_tail: ess_tail(chains)?,
            acceptance,
        })
    }

    /// Human-readable warnings, empty when all checks pass:
    /// R-hat above [`RHAT_MAX`]; bulk or tail ESS below `ESS_PER_CHAIN_MIN * C`
    /// ([`ESS_PER_CHAIN_MIN`]); mean acceptance outside [`ACCEPTANCE_RANGE`]. A NaN value
    /// counts as failing its check.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(r) = self.r_hat
            && (r.is_nan() || r > RHAT_MAX)
        {
            out.push(format!(
                "R-hat {r:.4} > {RHAT_MAX}: the {} chains have not mixed",
                self.chains
            ));
        }
        let min_ess = ESS_PER_CHAIN_MIN * self.chains as f64;
        for (name, v) in [("bulk", self.ess_bulk), ("tail", self.ess_tail)] {
            if v.is_nan() || v < min_ess {
                out.push(format!(
                    "{name} ESS {v:.1} < {min_ess:.0} ({ESS_PER_CHAIN_MIN} per chain x {} chains)",
                    self.chains
                ));
            }
        }
        if let Some(a) = self.acceptance {
            let (lo, hi) = ACCEPTANCE_RANGE;
            if a.is_nan() || a < lo || a > hi {
                out.push(format!(
                    "mean Metropolis acceptance {a:.3} outside [{lo}, {hi}]: {}",
                    if a < lo {
                        "step size too large for the target"
                    } else {
                        "step size very small, slow mixing"
                    }
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng, rngs::StdRng};

    fn rel(a: f64, b: f64) -> f64 {
        (a - b).abs() / b.abs()
    }

    /// Standard normal by Box-Muller (tests only).
    fn gauss(rng: &mut StdRng) -> f64 {
        let u1: f64 = 1.0 - rng.random::<f64>();
        let u2: f64 = rng.random::<f64>();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    #[derive(serde::Deserialize)]
    struct Case {
        name: String,
        chains: Vec<Vec<f64>>,
        rhat_rank: f64,
        rhat_split: f64,
        ess_bulk: f64,
        ess_tail: f64,
    }

    #[derive(serde::Deserialize)]
    struct Reference {
        arviz_version: String,
        cases: Vec<Case>,
    }

    fn reference() -> Reference {
        serde_json::from_str(include_str!("../../tests/data/mcmc_reference.json")).unwrap()
    }

    #[test]
    fn matches_arviz() {
        let r = reference();
        assert!(!r.arviz_version.is_empty());
        assert!(r.cases.len() >= 5);
        // 1e-10 relative: the only differences from ArviZ are summation order, the direct
        // (instead of FFT) autocovariance and the last bits of Phi^-1 (statrs vs scipy ndtri),
        // all at the 1e-14 level; the discrete choices (ranks, ties, truncation lag, quantile
        // indicator) must then agree exactly or the error would be >= 1e-4
        let tol = 1e-10;
        for c in &r.cases {
            let checks = [
                ("rhat_rank", rank_rhat(&c.chains).unwrap(), c.rhat_rank),
                ("rhat_split", split_rhat(&c.chains).unwrap(), c.rhat_split),
                ("ess_bulk", ess_bulk(&c.chains).unwrap(), c.ess_bulk),
                ("ess_tail", ess_tail(&c.chains).unwrap(), c.ess_tail),
            ];
            for (what, got, want) in checks {
                assert!(
                    rel(got, want) < tol,
                    "{} {what}: {got} vs ArviZ {want} (rel {:e})",
                    c.name,
                    rel(got, want)
                );
            }
        }
    }

    #[test]
    fn reference_cases_cover_good_and_bad_mixing() {
        let r = reference();
        let good = r.cases.iter().find(|c| c.name.starts_with("iid")).unwrap();
        let d = Diagnostics::from_chains(&good.chains, Some(0.9)).unwrap();
        assert!(d.warnings().is_empty(), "{:?}", d.warnings());
        let bad = r
            .cases
            .iter()
            .find(|c| c.name.starts_with("trend"))
            .unwrap();
        let d = Diagnostics::from_chains(&bad.chains, None).unwrap();
        let w = d.warnings();
        assert!(w.iter().any(|s| s.starts_with("R-hat")), "{w:?}");
        assert!(w.iter().any(|s| s.starts_with("bulk ESS")), "{w:?}");
    }

    #[test]
    fn average_ranks_handle_ties() {
        // -0.0 and 0.0 tie, as in scipy's rankdata
        let r = average_ranks(&[3.0, 1.0, 3.0, 2.0, 3.0, -0.0, 0.0]);
        let want = [6.0, 3.0, 6.0, 4.0, 6.0, 1.5, 1.5];
        for (a, b) in r.iter().zip(want) {
            // ranks are small integers or halves, exact in binary
            assert!((a - b).abs() < 1e-15);
        }
    }

    #[test]
    fn quantile7_matches_linear_interpolation() {
        let x: Vec<f64> = (0..11).map(|i| f64::from(i) * 10.0).collect();
        // type 7 with n = 11: h = (n - 1) p = 0.5 -> halfway between 0 and 10; p = 0.95 -> 95
        // (1e-12: a few roundings in n p + 1 - p)
        assert!((quantile7(&x, 0.05) - 5.0).abs() < 1e-12);
        assert!((quantile7(&x, 0.95) - 95.0).abs() < 1e-12);
    }

    #[test]
    fn split_drops_middle_of_odd_chain() {
        let b = block(
            &[
                vec![1.0, 2.0, 3.0, 4.0, 5.0],
                vec![6.0, 7.0, 8.0, 9.0, 10.0],
            ],
            1,
            4,
        )
        .unwrap();
        let s = split(&b);
        assert_eq!((s.chains, s.draws), (4, 2));
        let want = [1.0, 2.0, 6.0, 7.0, 4.0, 5.0, 9.0, 10.0];
        // copies, exact
        assert!(s.data.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-15));
    }

    #[test]
    fn shape_errors() {
        assert!(matches!(
            split_rhat(&[vec![1.0; 10]]),
            Err(AnalysisError::TooFewPoints { .. })
        ));
        assert!(matches!(
            ess_bulk(&[vec![1.0, 2.0, 3.0]]),
            Err(AnalysisError::TooFewPoints { .. })
        ));
        assert!(matches!(
            rank_rhat(&[vec![1.0, 2.0, 3.0, 4.0], vec![1.0, 2.0, 3.0]]),
            Err(AnalysisError::LengthMismatch { .. })
        ));
        assert!(matches!(
            ess_tail(&[vec![1.0, f64::NAN, 3.0, 4.0]]),
            Err(AnalysisError::OutOfRange { .. })
        ));
        assert!(matches!(
            split_rhat(&[vec![2.0; 8], vec![2.0; 8]]),
            Err(AnalysisError::Degenerate { .. })
        ));
        assert!(ess_quantile(&[vec![1.0, 2.0, 3.0, 4.0]], 1.0).is_err());
    }

    #[test]
    fn constant_chains_have_full_ess() {
        // ArviZ's convention: no spread means C N effective draws
        let e = ess_basic(&[vec![0.5; 10], vec![0.5; 10]]).unwrap();
        assert!((e - 20.0).abs() < 1e-12);
    }

    #[test]
    fn ar1_ess_near_theory() {
        // AR(1) with phi: tau = (1 + phi) / (1 - phi); 4 x 5000 draws, phi = 0.5 -> ESS ~ 20000 / 3
        let phi: f64 = 0.5;
        let mut rng = StdRng::seed_from_u64(7);
        let chains: Vec<Vec<f64>> = (0..4)
            .map(|_| {
                let mut x = gauss(&mut rng);
                (0..5000)
                    .map(|_| {
                        x = phi * x + (1.0 - phi * phi).sqrt() * gauss(&mut rng);
                        x
                    })
                    .collect()
            })
            .collect();
        let want = 20000.0 / 3.0;
        // 10 %: the ESS estimate of 20000 AR(1) draws has a relative sd of a few per cent
        for e in [ess_basic(&chains).unwrap(), ess_bulk(&chains).unwrap()] {
            assert!(rel(e, want) < 0.1, "{e} vs {want}");
        }
        let r = rank_rhat(&chains).unwrap();
        // stationary chains: R-hat within 1 % of 1 (its sd here is ~1e-3)
        assert!((r - 1.0).abs() < 0.01, "{r}");
    }

    #[test]
    fn diagnostics_warnings() {
        let d = Diagnostics {
            chains: 4,
            draws: 1000,
            r_hat: Some(1.02),
            ess_bulk: 399.0,
            ess_tail: 401.0,
            acceptance: Some(0.3),
        };
        let w = d.warnings();
        assert_eq!(w.len(), 3, "{w:?}");
        assert!(w[0].starts_with("R-hat"));
        assert!(w[1].starts_with("bulk ESS"));
        assert!(w[2].contains("too large"));
        let ok = Diagnostics {
            r_hat: Some(1.005),
            ess_bulk: 400.0,
            acceptance: Some(0.995),
            ..d.clone()
        };
        let w = ok.warnings();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("slow mixing"));
        let nan = Diagnostics {
            r_hat: Some(f64::NAN),
            acceptance: None,
            ..ok
        };
        assert_eq!(nan.warnings().len(), 1);
        let one = Diagnostics::from_chains(&[vec![1.0, 3.0, 2.0, 5.0, 4.0, 6.0]], None).unwrap();
        assert!(one.r_hat.is_none());
        let json = serde_json::to_string(&one).unwrap();
        assert!(json.contains("\"r_hat\":null"), "{json}");
    }
}
