//! The estimator against known learning coefficients: SGLD LLC estimates of models whose
//! coefficient has a closed form ([`crate::analysis::llc_truth`]), the check behind
//! `ffpe-validate llc-truth`.
//!
//! A [`KnownModel`] is a population loss `K(w) >= 0` (no data, so no minibatch noise) and the
//! parameter `w*` the estimate is taken at. The chains are the estimator's: the same SGLD
//! update ([`crate::optim::sgld::sgld_update`]) with the same `(seed, chain)` noise streams,
//! the same draws, the same `llc = n_beta (mean draw loss - K(w*))` and the same diagnostics
//! (the estimator's `finish`); only the loss and its gradient come from the model instead of a
//! network. Without minibatches the gradient at the proposal `w'` is the next step's gradient,
//! so the Metropolis-adjusted acceptance costs one potential evaluation per measured step.
//!
//! Where the estimate is taken, and why the closed form is the local coefficient there:
//!
//! * `rrr:M,H,N,r`: reduced-rank regression `x -> B A x` (`A` is `H x M`, `B` is `N x H`) with
//!   `x ~ N(0, I_M)` and unit Gaussian noise, so `K(A, B) = |B A - C0|_F^2 / 2` with the true
//!   map `C0 = diag(1, .., 1, 0, ..)` of rank `r`. `w* = (A0, B0)` with `A0`, `B0` the rank-`r`
//!   partial identities: the surplus `H - r` hidden units are switched off. Near `w*` the rank-`r`
//!   block is a regular reparametrisation (coefficient `r (M + N - r) / 2`) and the rest is the
//!   rank-0 problem of size `(M - r, H - r, N - r)` at its origin, which is quasi-homogeneous, so
//!   its local coefficient at the origin is its global one; the Aoyagi-Watanabe formula obeys
//!   exactly this reduction (`lambda(M, H, N, r) = r (M + N - r) / 2 + lambda(M - r, H - r, N - r, 0)`,
//!   with the same parity), so the closed form is the local coefficient at `w*`.
//! * `power:p1,p2,..`: `K(w) = sum_i w_i^(p_i)` (even `p_i`) at `w* = 0`: the variables
//!   separate, `lambda = sum_i 1 / p_i`.
//! * `crossing:p1,p2,..`: the normal crossing `K(w) = prod_i w_i^(p_i)` at `w* = 0` (the origin is
//!   the deepest point of `{K = 0}`): `lambda = 1 / max p_i` with multiplicity the number of
//!   exponents attaining the maximum.
//!
//! For a posterior `exp(-n_beta K) phi` the expected `n_beta K` is
//! `lambda - (m - 1) / ln n_beta + ...` (the free energy `lambda ln n - (m - 1) ln ln n`): with multiplicity `m > 1` (crossing
//! with a repeated largest exponent, reduced-rank regression in the odd-parity case of
//! Aoyagi-Watanabe) the estimate approaches the truth only logarithmically in `n_beta`, and a
//! warning says so. The per-model settings ([`KnownModel::default_config`]) come from the scales
//! of each posterior: see there.

#[allow(unused_imports)]
use super::*;
use crate::analysis::llc_truth::{
    Rlct, monomial_rlct, reduced_rank_regression_rlct, sum_of_powers_rlct,
};
use crate::optim::sgld::sgld_update;

/// A model with a known learning coefficient (see the module docs).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub enum KnownModel {
    /// Reduced-rank regression, `rrr:M,H,N,r`.
    ReducedRank {
        /// Input dimension `M`.
        input: usize,
        /// Hidden width `H`.
        hidden: usize,
        /// Output dimension `N`.
        output: usize,
        /// Rank `r` of the true map.
        rank: usize,
    },
    /// `sum_i w_i^(p_i)`, `power:p1,p2,..`.
    Power(Vec<u32>),
    /// `prod_i w_i^(p_i)`, `crossing:p1,p2,..`.
    Crossing(Vec<u32>),
}

/// The allowed `--model` values.
pub const MODEL_ALLOWED: &str = "rrr:M,H,N,r (M, H, N >= 1, 0 <= r <= min(M, H, N), M H + H N <= \
     10000), power:p1,p2,.. or crossing:p1,p2,.. (1 to 16 even exponents, each 2 to 64)";

impl std::str::FromStr for KnownModel {
    type Err = Error;
    fn from_str(s: &str) -> Result<KnownModel> {
        let bad = || Error::config("model", s, MODEL_ALLOWED);
        let (kind, list) = s.split_once(':').ok_or_else(bad)?;
        let nums: Vec<usize> = list
            .split(',')
            .map(|v| v.trim().parse::<usize>())
            .collect::<std::result::Result<_, _>>()
            .map_err(|_| bad())?;
        let model = match kind {
            "rrr" => match nums[..] {
                [m, h, n, r] => KnownModel::ReducedRank {
                    input: m,
                    hidden: h,
                    output: n,
                    rank: r,
                },
                _ => return Err(bad()),
            },
            "power" | "crossing" => {
                let p: Vec<u32> = nums
                    .iter()
                    .map(|&p| {
                        u32::try_from(p)
                            .ok()
                            .filter(|p| (2..=64).contains(p) && p % 2 == 0)
                    })
                    .collect::<Option<_>>()
                    .ok_or_else(bad)?;
                if p.len() > 16 {
                    return Err(bad());
                }
                if kind == "power" {
                    KnownModel::Power(p)
                } else {
                    KnownModel::Crossing(p)
                }
            }
            _ => return Err(bad()),
        };
        if let KnownModel::ReducedRank {
            input,
            hidden,
            output,
            rank,
        } = model
        {
            let size = hidden.saturating_mul(input.saturating_add(output));
            if size > 10_000 || reduced_rank_regression_rlct(input, hidden, output, rank).is_err() {
                return Err(bad());
            }
        }
        Ok(model)
    }
}

impl KnownModel {
    /// The closed-form coefficient and its multiplicity.
    pub fn truth(&self) -> Result<Rlct> {
        Ok(match self {
            KnownModel::ReducedRank {
                input,
                hidden,
                output,
                rank,
            } => reduced_rank_regression_rlct(*input, *hidden, *output, *rank)?,
            KnownModel::Power(p) => sum_of_powers_rlct(p)?,
            KnownModel::Crossing(p) => monomial_rlct(p)?,
        })
    }

    /// Number of parameters.
    pub fn dim(&self) -> usize {
        match self {
            KnownModel::ReducedRank {
                input,
                hidden,
                output,
                ..
            } => hidden * (input + output),
            KnownModel::Power(p) | KnownModel::Crossing(p) => p.len(),
        }
    }

    /// The parameter the estimate is taken at (module docs): for reduced-rank regression `A`
    /// (row-major `H x M`) then `B` (row-major `N x H`), both rank-`r` partial identities.
    pub fn wstar(&self) -> Vec<f64> {
        let mut w = vec![0.0; self.dim()];
        if let KnownModel::ReducedRank {
            input: m,
            hidden: h,
            rank: r,
            ..
        } = *self
        {
            for k in 0..r {
                w[k * m + k] = 1.0;
                w[h * m + k * h + k] = 1.0;
            }
        }
        w
    }

    /// `K(w)` and its gradient into `g`.
    pub fn loss_grad(&self, w: &[f64], g: &mut [f64]) -> f64 {
        match self {
            KnownModel::Power(p) => {
                let mut k = 0.0;
                for ((&w, g), &p) in w.iter().zip(g.iter_mut()).zip(p) {
                    let p = p as i32;
                    k += w.powi(p);
                    *g = f64::from(p) * w.powi(p - 1);
                }
                k
            }
            KnownModel::Crossing(p) => {
                let f: Vec<f64> = w.iter().zip(p).map(|(w, &p)| w.powi(p as i32)).collect();
                for (i, gi) in g.iter_mut().enumerate() {
                    let others: f64 = f
                        .iter()
                        .enumerate()
                        .filter(|(j, _)| *j != i)
                        .map(|(_, v)| v)
                        .product();
                    *gi = f64::from(p[i]) * w[i].powi(p[i] as i32 - 1) * others;
                }
                f.iter().product()
            }
            KnownModel::ReducedRank {
                input: m,
                hidden: h,
                output: n,
                rank: r,
            } => {
                let (m, h, n, r) = (*m, *h, *n, *r);
                let (a, b) = w.split_at(h * m);
                // residual R = B A - C0 (N x M)
                let mut res = vec![0.0; n * m];
                for i in 0..n {
                    for j in 0..m {
                        let s: f64 = (0..h).map(|k| b[i * h + k] * a[k * m + j]).sum();
                        res[i * m + j] = if i == j && i < r { s - 1.0 } else { s };
                    }
                }
                let (ga, gb) = g.split_at_mut(h * m);
                // dK/dA = B^T R, dK/dB = R A^T
                for k in 0..h {
                    for j in 0..m {
                        ga[k * m + j] = (0..n).map(|i| b[i * h + k] * res[i * m + j]).sum();
                    }
                }
                for i in 0..n {
                    for k in 0..h {
                        gb[i * h + k] = (0..m).map(|j| res[i * m + j] * a[k * m + j]).sum();
                    }
                }
                0.5 * res.iter().map(|x| x * x).sum::<f64>()
            }
        }
    }

    /// The estimator's settings for this model, from the scales of its posterior
    /// `exp(-n_beta K - gamma |w - w*|^2 / 2)`:
    ///
    /// * `gamma = 1` confines the flat directions of `{K = 0}` to `|w| ~ 1`; `lambda` does not
    ///   depend on it, only the finite-`n_beta` correction does, through `n_beta / gamma^2`.
    /// * The Langevin step biases the variance of a direction of curvature `kappa` by about
    ///   `eps kappa / 4`; the stiffest direction has `kappa ~ n_beta` (regular directions), so
    ///   `eps n_beta = 0.02` (0.5 %).
    /// * The flat directions mix in `~ 1 / (gamma eps)` steps; the burn-in covers about one
    ///   such time and the draws several.
    ///
    /// Per model (measured with seed 0; `ffpe-validate llc-truth`):
    ///
    /// * reduced-rank regression: `n_beta = 3e3`, `eps = 7e-6`, 60000 burn-in steps, 3600 draws
    ///   150 steps apart. At `n_beta = 1e3` the rank-0 `2,2,2` case sits 4.7 % below the truth
    ///   (the finite-`n_beta` correction), at `3e3` 1 %, at `1e4` 1 % (3x the cost).
    /// * powers: `n_beta = 1e3`, `eps = 2e-5`, 20000 burn-in steps, 18000 draws 50 steps
    ///   apart: `n_beta K` is Gamma(`lambda`)-distributed, so the relative standard error is
    ///   `1 / sqrt(lambda ESS)` and `lambda = 1/4` needs an ESS of several thousand.
    /// * crossing: the correction to `lambda` decays as `(gamma^2 / n_beta)^(1/4)` (the next
    ///   pole, from the flat axis), so `n_beta = 1e6`; the stiffest direction has curvature
    ///   `~ (n_beta / gamma)^(1/2) = 1e3`, so `eps = 1e-5`; 20000 burn-in steps, 10800 draws 50
    ///   steps apart. Three or more variables mix much more slowly (`crossing:2,6,4` is 19 %
    ///   low with these settings, its burn-in unfinished: see the diagnostics).
    ///
    /// `nbeta` is a given value (no minibatches, no training set); acceptance is measured on
    /// every draw; 4 chains. The acceptance is then about 0.999, above the warning range: the
    /// step is chosen for accuracy, not speed.
    pub fn default_config(&self) -> LlcConfig {
        let (nbeta, eps, burnin, draws, between) = match self {
            KnownModel::ReducedRank { .. } => (3e3, 7e-6, 60_000, 3_600, 150),
            KnownModel::Power(_) => (1e3, 2e-5, 20_000, 18_000, 50),
            KnownModel::Crossing(_) => (1e6, 1e-5, 20_000, 10_800, 50),
        };
        LlcConfig {
            epsilon: eps,
            gamma: 1.0,
            nbeta: NBeta::Value(nbeta),
            chains: 4,
            draws,
            burnin,
            steps_between_draws: between,
            acceptance_every: 1,
            init_loss: InitLoss::Value(0.0),
            ..LlcConfig::default()
        }
    }
}

/// An estimate against the closed form.
#[derive(Clone, Debug, serde::Serialize)]
pub struct KnownEstimate {
    /// The LLC estimate (mean over chains).
    pub estimate: f64,
    /// The closed-form coefficient.
    pub truth: f64,
    /// Its multiplicity.
    pub multiplicity: u32,
    /// The full result (traces, per-chain values, diagnostics).
    pub result: LlcResult,
}

/// The given `n_beta` of a known-model estimate (a known model has no minibatches and no
/// training set, so neither size convention applies).
pub(crate) fn known_nbeta(config: &LlcConfig) -> Result<f64> {
    match config.nbeta {
        NBeta::Value(nbeta) => Ok(nbeta),
        _ => Err(Error::config(
            "nbeta",
            config.nbeta,
            "a positive number (a known model has no minibatches and no training set)",
        )),
    }
}

/// Estimate the LLC of `model` at its `w*` with `config` (its `nbeta` must be a given value,
/// its `init_loss` is replaced by `K(w*)`).
pub fn estimate_known(model: &KnownModel, config: &LlcConfig) -> Result<KnownEstimate> {
    config.validate()?;
    let nbeta = known_nbeta(config)?;
    let truth = model.truth()?;
    let wstar = model.wstar();
    let d = wstar.len();
    let mut g = vec![0.0; d];
    let init_loss = model.loss_grad(&wstar, &mut g);
    let config = LlcConfig {
        init_loss: InitLoss::Value(init_loss),
        ..config.clone()
    };
    let step = crate::optim::sgld::SgldStep {
        half_eps: config.epsilon / 2.0,
        nbeta,
        gamma: config.gamma,
        noise_scale: config.epsilon.sqrt() * config.noise_level,
    };
    let probe = MalaProbe::new(&config, nbeta, wstar.clone());
    let steps = config.total_steps();
    let start = std::time::Instant::now();
    let mut out = ChainsOut::default();
    for k in 0..config.chains {
        let mut rng = Rng::new(config.seed, &[0x901e, k as u64]);
        let mut w = wstar.clone();
        let mut wn = vec![0.0; d];
        let mut gn = vec![0.0; d];
        let mut l = model.loss_grad(&w, &mut g);
        let mut trace = Vec::with_capacity(steps);
        let mut accept = vec![];
        for t in 0..steps {
            trace.push(l);
            if !l.is_finite() {
                out.warnings.push(format!(
                    "diverged: non-finite loss at step {t} (chain {k}); lower epsilon"
                ));
                break;
            }
            sgld_update(&mut wn, &w, &g, Some(&wstar), &step, || rng.normal());
            let ln = model.loss_grad(&wn, &mut gn);
            if let Some(p) = probe.as_ref().filter(|p| p.measured(t)) {
                accept.extend(p.accept((&w, l, &g), (&wn, ln, &gn)));
            }
            std::mem::swap(&mut w, &mut wn);
            std::mem::swap(&mut g, &mut gn);
            l = ln;
        }
        out.traces.push(trace);
        out.accept.push(accept);
    }
    let elapsed = start.elapsed().as_secs_f64();
    let mut result = finish(&config, init_loss, 0, out, elapsed)?;
    if truth.multiplicity > 1 {
        result.diagnostics.warnings.push(format!(
            "multiplicity {} > 1: the estimate approaches the truth only as lambda - {} / ln n_beta \
             (here {:.3} below it at leading order)",
            truth.multiplicity,
            truth.multiplicity - 1,
            f64::from(truth.multiplicity - 1) / nbeta.ln()
        ));
    }
    Ok(KnownEstimate {
        estimate: result.llc_mean,
        truth: truth.lambda,
        multiplicity: truth.multiplicity,
        result,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Relative error of the estimate. The tolerance of 10 % is the issue's requirement; the
    /// settings' own error budget (see [`KnownModel::default_config`]) is about 0.5-1 %
    /// Langevin bias, up to 1 % finite-`n_beta` correction, and a standard error of
    /// `sqrt(lambda / ESS) / lambda` = 1-2.5 % at the measured ESS, so 10 % is at least three
    /// standard errors beyond the biases.
    fn check(model: &str) {
        let m: KnownModel = model.parse().unwrap();
        let cfg = m.default_config();
        let e = estimate_known(&m, &cfg).unwrap();
        let rel = (e.estimate - e.truth).abs() / e.truth;
        assert!(
            rel < 0.10,
            "{model}: estimate {} vs truth {} ({:.1} %), chains {:?}, diagnostics {:?}",
            e.estimate,
            e.truth,
            100.0 * rel,
            e.result.llc_per_chain,
            e.result.diagnostics
        );
        let acc = e.result.diagnostics.acceptance.unwrap();
        // eps kappa = 0.02 or less: the exact sampler would accept almost every proposal
        assert!(acc > 0.9, "{model}: acceptance {acc}");
    }

    // The four cases of Aoyagi-Watanabe, each with multiplicity 1 (see the module docs for m > 1).
    #[test]
    fn llc_truth_rrr_case1_even() {
        // N + r <= M + H, M + r <= N + H, H + r <= M + N, M + H + N + r even: lambda 3/2
        check("rrr:2,2,2,0");
        // the same case at a rank-1 truth, w* away from the origin: lambda 5/2
        check("rrr:2,2,3,1");
    }

    #[test]
    fn llc_truth_rrr_case2() {
        // M + H < N + r: lambda = (H M - H r + N r) / 2 = 1/2
        check("rrr:1,1,3,0");
    }

    #[test]
    fn llc_truth_rrr_case3() {
        // N + H < M + r: lambda = (H N - H r + M r) / 2 = 1/2
        check("rrr:3,1,1,0");
    }

    #[test]
    fn llc_truth_rrr_case4() {
        // M + N < H + r: lambda = M N / 2 = 1/2
        check("rrr:1,3,1,0");
    }

    #[test]
    fn llc_truth_power() {
        check("power:2"); // regular: 1/2
        check("power:4"); // 1/4
        check("power:2,4"); // 1/2 + 1/4
    }

    #[test]
    fn llc_truth_crossing() {
        check("crossing:2,4"); // 1/4, m = 1
    }

    #[test]
    fn known_model_parsing_and_gradients() {
        for bad in [
            "rrr:1,2",
            "rrr:2,2,2,3",
            "power:3",
            "crossing:",
            "power:0",
            "foo:2",
            "rrr",
            "rrr:1000,1000,1000,0",
        ] {
            let e = bad.parse::<KnownModel>().unwrap_err().to_string();
            assert!(
                e.contains("model") && e.contains("rrr:M,H,N,r"),
                "{bad}: {e}"
            );
        }
        // the gradient against central differences (step 1e-6: error ~ 1e-12 K''' + 1e-10
        // rounding, so 1e-6 absolute on O(1) gradients)
        for s in ["rrr:3,2,2,1", "power:2,4,6", "crossing:2,4,2"] {
            let m: KnownModel = s.parse().unwrap();
            let w: Vec<f64> = (0..m.dim()).map(|i| 0.3 + 0.1 * i as f64).collect();
            let mut g = vec![0.0; m.dim()];
            m.loss_grad(&w, &mut g);
            for i in 0..m.dim() {
                let mut wp = w.clone();
                let mut wm = w.clone();
                wp[i] += 1e-6;
                wm[i] -= 1e-6;
                let mut tmp = vec![0.0; m.dim()];
                let fd = (m.loss_grad(&wp, &mut tmp) - m.loss_grad(&wm, &mut tmp)) / 2e-6;
                assert!((fd - g[i]).abs() < 1e-6, "{s} {i}: {fd} vs {}", g[i]);
            }
            // K(w*) = 0
            let mut tmp = vec![0.0; m.dim()];
            assert!(m.loss_grad(&m.wstar(), &mut tmp).abs() < 1e-15);
        }
        let m: KnownModel = "power:4".parse().unwrap();
        let cfg = LlcConfig {
            nbeta: NBeta::Batch,
            ..m.default_config()
        };
        assert!(estimate_known(&m, &cfg).is_err());
    }
}
