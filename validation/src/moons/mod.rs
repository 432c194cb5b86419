//! The Moons posterior test: is the SGD steady state a tempered posterior?
//!
//! SPEC 1.3 says the SGD steady state is `p_s(w) ~ exp(-gamma L(w) / D_xi)`, a tempered
//! posterior with `n beta_eff = gamma / D_xi`. This module tests that on a problem small enough
//! to sample the posterior exactly: a small tanh MLP on the two-moons data.
//!
//! # The experiment ([`run_study`])
//!
//! 1. **Data**: [`make_moons`] (`n` points, Gaussian noise, seeded), as scikit-learn's
//!    `make_moons`.
//! 2. **Model and loss**: an MLP `2 - h_1 - ... - h_k - 1` with tanh hidden units and one
//!    output logit `z` ([`Mlp`]); the loss is the mean binary cross-entropy (the two-class
//!    softmax cross-entropy with its one redundant direction, a common shift of both logits,
//!    removed) plus weight decay on every parameter:
//!    `L(w) = (1/n) sum_i [softplus(z_i) - y_i z_i] + (wd/2) |w|^2`.
//!    The weight decay is at once SGD's regulariser and the posterior's Gaussian prior /
//!    localisation: both sides see the same `L`, so nothing is compared against a different
//!    objective.
//! 3. **One basin**: one seeded initialisation is trained by full-batch gradient descent
//!    ([`MoonsConfig::pretrain_steps`]) to `w*`. Every SGD run *and* every posterior chain
//!    starts at `w*`. A tanh network has many equivalent and inequivalent minima, and neither
//!    SGD at a small learning rate nor a local sampler crosses between them, so comparing
//!    around one basin is the comparison the theory makes (a local steady state); sharing the
//!    start is documented in the results.
//! 4. **SGD**: [`MoonsConfig::runs`] runs from `w*`, each with its own minibatch stream (batches
//!    of `B` indices drawn uniformly *with replacement*, so the minibatch gradient noise has
//!    covariance exactly `C(w) / B`), learning rate `eta`, for [`MoonsConfig::steps`] steps;
//!    the last [`MoonsConfig::late_iterates`] iterates, [`MoonsConfig::late_spacing`] steps
//!    apart, are the SGD sample.
//! 5. **The temperature** (how `beta` is set from the SGD settings). With drift `-eta grad L`
//!    and noise covariance `eta^2 C / B` per step (`C` the covariance of the per-point
//!    gradients), SGD is the Euler step of a Langevin equation at temperature `T = eta / (2 B)`
//!    in units where the noise covariance equals the curvature. For the cross-entropy near a
//!    minimum that is the Fisher identity, `C ~ F` (the Fisher / Gauss-Newton matrix, the
//!    Hessian at a well-specified minimum); we measure the ratio `kappa = tr C / tr F`
//!    ([`Mlp::noise_traces`], averaged over the final SGD iterates; also reported at `w*`) and
//!    set `T = eta kappa / (2 B)`, i.e. the standard stationary-SGD temperature times the
//!    gradient-noise scale. `kappa` is dimensionless, so `T` does not depend on how the
//!    weights are parametrised. (The other common choice, the isotropic noise of the same total
//!    power, `c = tr C / d`, is recorded as `isotropic_noise_scale`; it spreads the noise over
//!    all `d` directions while SGD's lives in the few that change the function, and on the
//!    tiny study (then with batch 8) it put the posterior 5x too narrow in the summary, 20x too
//!    cold: it was tried first and rejected for that reason, which is stated here so the choice is not hidden.)
//!    So `gamma = 2 B / (eta kappa)` and, by SPEC 1.3,
//!    `n beta_eff = gamma / D_xi`, `D_xi = xi^(2 - nu)`,
//!    with `xi` = [`MoonsConfig::xi`] (0.5, the scale of the published comparison) and `nu` =
//!    [`MoonsConfig::walk_dimension`]. The default `nu = 2` is ordinary diffusion, for which
//!    `D_xi = 1` at every `xi`: the matched temperature is then the plain SGD temperature, and
//!    `xi` is recorded but changes nothing. A measured walk dimension can be passed in.
//!    The study also **measures** it ([`WalkDimension`]): SPEC's `R(t) ~ t^(1/nu)` with `R` the
//!    distance from `w*`, so the mean over runs of `|w_t - w*|^2` grows as `t^(2/nu)` until it
//!    saturates in the basin; `nu = 2 / slope` of `ln MSD` on `ln t` from step
//!    [`WALK_FIRST_STEP`] to the last recorded step whose MSD is at most half the plateau (the
//!    MSD of the late iterates, the SGD sample), with a bootstrap interval over runs. One more
//!    posterior sample at `n beta = gamma / xi^(2 - nu_measured)` is compared like the matched
//!    one and gets its own verdict (the theory with its own measured exponent).
//! 6. **Posterior samples**: the tempered posterior `pi(w) ~ exp(-n beta L(w))` is sampled by
//!    full-batch Langevin steps `w' = w - eps grad L(w) + sqrt(2 eps / (n beta)) N(0, I)`
//!    (SGLD without minibatch noise; `eps` = [`MoonsConfig::langevin_lr`], in the same units as
//!    SGD's learning rate) with a Metropolis-Hastings correction (MALA) when
//!    [`MoonsConfig::metropolis`] is set (default), so the chains target `pi` exactly and the
//!    step size only sets the mixing speed. [`MoonsConfig::chains`] chains from `w*`, burn-in,
//!    then [`MoonsConfig::draws_per_chain`] draws [`MoonsConfig::thin`] steps apart.
//! 7. **Summary**: the network's logits at a fixed probe set of [`PROBES`] (8 points around
//!    and between the moons) give an 8-vector per sample; it is reduced to one number, the
//!    coordinate along the first principal axis of the SGD sample's probe logits (origin at the
//!    SGD mean; the axis is fixed once from the SGD sample and used for every comparison). A
//!    second summary, the mean class-1 probability over the probes, is reported beside it.
//! 8. **Distances** between the SGD sample `P` and a posterior sample `Q` in a summary:
//!    Wasserstein-1 (exact, from the two empirical CDFs), and KL(P || Q) and the
//!    Jensen-Shannon divergence (natural logarithms, so JS <= ln 2) of histograms on a fixed
//!    binning: [`MoonsConfig::bins`] equal bins between the 0.5 % and 99.5 % quantiles of the
//!    SGD sample plus one overflow bin on each side, and a pseudo-count of
//!    [`MoonsConfig::pseudo_count`] added to every bin of both histograms (so KL stays finite).
//!    95 % intervals: a cluster bootstrap that resamples SGD runs and posterior chains (all
//!    draws of a run or chain together, since they are correlated), recentred on the estimate.
//!    Resampling duplicates clusters, which makes the samples lumpier and the distances
//!    larger: the plain percentile interval sat above its own estimate (the committed medium
//!    null, KL 0.0257 with interval [0.0262, 0.0821]). Each interval is therefore the
//!    bootstrap distribution with its median bias subtracted, `[d - (m - q_lo), d + (q_hi -
//!    m)]` (`d` the full-sample distance, `m`, `q_lo`, `q_hi` the median and the 2.5 % and
//!    97.5 % quantiles of the replicates, lower end at least 0), which contains `d` at every
//!    level; the median bias `m - d` is reported beside it (`bootstrap_median_bias`). Why this
//!    construction and not BCa / basic / the mean shift: `recentred_interval` in
//!    `distances.rs`. The interval of the walk dimension is built the same way.
//! 9. **Null and controls**: the *null band* of a comparison is a cluster **permutation test**
//!    of "the SGD sample and this posterior sample are draws of one distribution": the SGD
//!    runs and the posterior chains are pooled as clusters, the cluster labels permuted
//!    [`MoonsConfig::permutations`] times (999 by default, seeded) keeping the number of
//!    clusters of each group, and the distance recomputed on the same binning; the band is the
//!    95 % quantile of the permutation distances, and the p-value is
//!    `(1 + #{permuted >= observed}) / (1 + permutations)`. Every comparison carries its test
//!    (all metrics, both summaries). The *null comparison* (two independent posterior samples
//!    at the matched temperature, of the same size as the SGD sample) is reported as a check:
//!    its distance should be unremarkable in its own permutation test. (The band used to be
//!    the upper bootstrap end of the null comparison's distance, which the upward resampling
//!    bias made too generous.) The *controls* are the untempered posterior (`n beta = n`, i.e.
//!    `beta = 1`) and mis-tempered ones (`n beta` times each of
//!    [`MoonsConfig::control_factors`], default 0.1 and 10).
//! 10. **Verdict** (on Wasserstein-1 of the principal-axis summary, the primary metric):
//!     *contradicted* when some control fits better (its interval lies wholly below the matched
//!     one); *supported* when the matched distance is within its permutation null band (at or
//!     below the 95 % quantile of the permuted distances) and every control's interval lies
//!     wholly above the matched one; else *inconclusive*. The comparison at the measured walk
//!     dimension gets the same rule with its own permutation band. The published figures
//!     ([`PUBLISHED`]: KL 0.009, W 0.002, JS 0.003 at `xi = 0.5`) are reported beside ours;
//!     their summary and units are not known here, so they are context, not a test.
//! 11. **The Ornstein-Uhlenbeck rival** ([`OuRival`], [`LinearSgd`]): a prediction of the SGD
//!     sample fixed before it is seen, from `w*`, the exact curvature and noise at `w*` and
//!     the SGD settings only. `H` is the Hessian of `L` at `w*` (central differences of the
//!     exact gradient, [`Mlp::hessian`]), `C` the per-point gradient covariance at `w*`
//!     ([`Mlp::gradient_covariance`]; batches drawn with replacement, so the minibatch noise
//!     covariance is exactly `C / B`) and `g = grad L(w*)` (not exactly 0: pretraining stops
//!     after finitely many steps; `|g|` is reported). SGD linearised at `w*` is
//!     `x_(t+1) = A x_t - eta g + eta xi_t`, `x = w - w*`, `A = I - eta H`, `cov xi = C / B`;
//!     its stationary covariance solves the discrete Lyapunov equation
//!     `S = A S A^T + eta^2 C / B`, exactly, in the eigenbasis of the symmetric `H`
//!     (`S~_ij = Q~_ij / (1 - a_i a_j)`), and its stationary mean is `-H^-1 g`. Both exist only
//!     when every eigenvalue of `eta H` lies in `(0, 2)`; the weight decay keeps `H` positive
//!     definite at a minimum, which is checked and reported (`nonpositive_eigenvalues`); at a
//!     `w*` that is not an exact minimum there is no
//!     stationary law, and the rival is the finite-time law alone, which is defined for any
//!     `H` (a direction of negative curvature grows as `(1 + eta |lambda|)^t`). Both studies
//!     are in that case: the weight decay of 1e-3 does not lift every curvature at the
//!     pretrained `w*` (tiny, 5,000 pretraining steps: 3 eigenvalues down to -3.6e-3,
//!     `|g| = 4e-3`; medium, 20,000 steps: 2 down to -2.3e-4, `|g| = 5.3e-4`), and over the
//!     steps run `eta |lambda| t` is about 1 (tiny, 3,000 steps) and 0.23 (medium, 10,000)
//!     in those directions, so the linearisation does not blow up there. The
//!     rival row, "OU (linearised SGD at w*)", is the exact Gaussian law of the recursion *as
//!     SGD was run*: from `w*` at step 0 to the recorded late steps, each run's late iterates
//!     correlated through `A^s` as the recursion makes them (the same cluster structure as the
//!     SGD sample). It equals the stationary `N(w* - H^-1 g, S)` once the run is long against
//!     the slowest relaxation `1 / (eta lambda_min)` and is defined even when it is not (the
//!     weight decay alone gives `1 / (eta wd) = 10^4` steps, the run's length, in the
//!     directions the data do not constrain, so the stationary law would put drift and spread
//!     where SGD has not yet gone). The stationary law is compared too
//!     (`stationary_comparison`, a second row) when it exists. The OU weights go through the
//!     same summary pipeline (probe logits, the SGD principal axis, the same binning) and are
//!     compared with the SGD sample like a posterior sample (distances, recentred intervals,
//!     permutation test). **Rival verdict** "the tempered posterior is closer to SGD than the
//!     OU rival" (W1 of the principal-axis summary): *supported* when the matched posterior's
//!     interval lies wholly below the OU's, *contradicted* when wholly above, else
//!     *inconclusive*.

use crate::analysis::pca::symmetric_eigen;
use crate::analysis::stats::{BootstrapConfig, ConfidenceInterval, SplitMix64};
use crate::error::{Error, Result};
use crate::optim::sgd::{SgdStep, sgd_update};
use crate::optim::sgld::{SgldStep, sgld_update};
use crate::rng::Rng;
use crate::verdict::Verdict;
use serde::{Deserialize, Serialize};

mod data;
mod distances;
mod mlp;
mod ou;
mod report;
mod sampler;
mod walk;

pub use data::make_moons;
use distances::*;
pub use distances::{Binning, kl_js, wasserstein1};
pub use mlp::{HESSIAN_STEP, Mlp, Work};
pub use ou::LinearSgd;
pub use report::markdown;
use report::*;
use sampler::*;
use walk::*;

/// Stream label of the moons data.
const STREAM_DATA: u64 = 0x6d6f_6f6e_7344;
/// Stream label of the initialisation.
const STREAM_INIT: u64 = 0x6d6f_6f6e_7349;
/// Stream label of the SGD minibatches (then the run index).
const STREAM_SGD: u64 = 0x6d6f_6f6e_7353;
/// Stream label of the Langevin chains (then the sample-set index and the chain index).
const STREAM_LANGEVIN: u64 = 0x6d6f_6f6e_734c;
/// Stream label of the cluster permutations (then the comparison's seed).
const STREAM_PERMUTATION: u64 = 0x6d6f_6f6e_7350;
/// Stream label of the OU rival's draws (then 0 as run / 1 stationary, and the run index).
const STREAM_OU: u64 = 0x6d6f_6f6e_734f;

/// First step of the walk-dimension fit (the first few steps are a handful of minibatches).
pub const WALK_FIRST_STEP: usize = 10;
/// Recorded steps per decade of the mean squared displacement.
const WALK_PER_DECADE: f64 = 8.0;

/// The fixed probe set of the summary: points on, between and around the two moons (the
/// outer moon is the upper half circle of radius 1 about (0, 0), the inner the lower half
/// circle about (1, 0.5)).
pub const PROBES: [[f64; 2]; 8] = [
    [-1.0, 0.5],
    [0.0, 1.0],
    [0.5, 0.25],
    [1.0, 0.0],
    [1.5, 0.25],
    [2.0, 0.0],
    [0.5, -0.5],
    [1.0, 1.0],
];

/// The published figures of the paper's later version (distances between SGD solutions and the
/// tempered posterior at `xi = 0.5`).
pub const PUBLISHED: Published = Published {
    xi: 0.5,
    kl: 0.009,
    wasserstein: 0.002,
    js: 0.003,
};

/// Published distances, reported beside ours.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub struct Published {
    /// Scale of the comparison.
    pub xi: f64,
    /// Kullback-Leibler divergence.
    pub kl: f64,
    /// Wasserstein distance.
    pub wasserstein: f64,
    /// Jensen-Shannon distance.
    pub js: f64,
}

/// Settings of the Moons study. [`Default`] is the `medium` size (under 3 minutes on one core
/// in release); [`MoonsConfig::tiny`] takes seconds.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct MoonsConfig {
    /// Number of data points.
    pub n: usize,
    /// Standard deviation of the data noise.
    pub noise: f64,
    /// Seed of the data.
    pub data_seed: u64,
    /// Hidden widths of the MLP.
    pub hidden: Vec<usize>,
    /// Seed of the shared initialisation.
    pub init_seed: u64,
    /// Weight decay `wd` (the Gaussian prior of the posterior: precision `n beta wd`).
    pub weight_decay: f64,
    /// Full-batch gradient-descent steps from the initialisation to `w*` (learning rate
    /// [`MoonsConfig::lr`]).
    pub pretrain_steps: usize,
    /// SGD learning rate `eta`.
    pub lr: f64,
    /// SGD minibatch size `B`.
    pub batch_size: usize,
    /// SGD runs.
    pub runs: usize,
    /// SGD steps per run.
    pub steps: usize,
    /// Iterates per run in the SGD sample (the last one and the ones before it).
    pub late_iterates: usize,
    /// Steps between the recorded late iterates.
    pub late_spacing: usize,
    /// The scale `xi` of the comparison.
    pub xi: f64,
    /// The walk dimension `nu` in `D_xi = xi^(2 - nu)` (2: ordinary diffusion, `D_xi = 1`).
    pub walk_dimension: f64,
    /// Multiplies the matched `n beta` of the SGD settings: 1 for the study; another value
    /// deliberately mis-sets the "matched" temperature (a test that the study notices).
    pub temperature_factor: f64,
    /// Langevin chains per posterior sample.
    pub chains: usize,
    /// Draws per chain.
    pub draws_per_chain: usize,
    /// Langevin steps before the first draw.
    pub burnin: usize,
    /// Langevin steps between draws.
    pub thin: usize,
    /// Langevin step `eps` (the drift is `-eps grad L`, as SGD's with learning rate `eps`).
    pub langevin_lr: f64,
    /// Metropolis-Hastings correction of the Langevin steps (MALA): exact target.
    pub metropolis: bool,
    /// Factors of the mis-tempered controls (`n beta` times each).
    pub control_factors: Vec<f64>,
    /// Histogram bins between the 0.5 % and 99.5 % quantiles of the SGD sample (plus two
    /// overflow bins).
    pub bins: usize,
    /// Pseudo-count added to every histogram bin.
    pub pseudo_count: f64,
    /// Cluster bootstrap of the distances.
    pub bootstrap: BootstrapConfig,
    /// Cluster permutations of the null band and p-value of every comparison (module docs,
    /// item 9); the band's level and the seed are the bootstrap's.
    #[serde(default = "default_permutations")]
    pub permutations: usize,
    /// Seed of the SGD minibatches and the Langevin noise.
    pub seed: u64,
}

impl Default for MoonsConfig {
    fn default() -> Self {
        MoonsConfig {
            n: 256,
            noise: 0.3,
            data_seed: 0,
            hidden: vec![16],
            init_seed: 0,
            weight_decay: 1e-3,
            pretrain_steps: 20_000,
            lr: 0.1,
            batch_size: 32,
            runs: 200,
            steps: 10_000,
            late_iterates: 5,
            late_spacing: 1_000,
            xi: 0.5,
            walk_dimension: 2.0,
            temperature_factor: 1.0,
            chains: 40,
            draws_per_chain: 25,
            burnin: 2_000,
            thin: 200,
            langevin_lr: 0.1,
            metropolis: true,
            control_factors: vec![0.1, 10.0],
            bins: 20,
            pseudo_count: 0.5,
            bootstrap: BootstrapConfig {
                resamples: 500,
                level: 0.95,
                seed: 0,
            },
            permutations: default_permutations(),
            seed: 0,
        }
    }
}

/// 999 cluster permutations: the p-value's resolution is 0.001 and the 95 % band's Monte
/// Carlo error is a few per cent of its value.
fn default_permutations() -> usize {
    999
}

impl MoonsConfig {
    /// A few seconds in release: for tests and `--quick`.
    pub fn tiny() -> Self {
        MoonsConfig {
            n: 128,
            hidden: vec![8],
            batch_size: 16,
            pretrain_steps: 5_000,
            runs: 60,
            steps: 3_000,
            late_iterates: 2,
            late_spacing: 1_000,
            chains: 20,
            draws_per_chain: 6,
            burnin: 1_000,
            thin: 300,
            bootstrap: BootstrapConfig {
                resamples: 200,
                level: 0.95,
                seed: 0,
            },
            permutations: 199,
            ..MoonsConfig::default()
        }
    }

    /// Check every field; the error names the field and the allowed range.
    pub fn validate(&self) -> Result<()> {
        let pos = |field: &'static str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(Error::config(field, v, "a finite number > 0"))
            }
        };
        let at_least = |field: &'static str, v: usize, min: usize| {
            if v >= min {
                Ok(())
            } else {
                Err(Error::config(field, v, format!("at least {min}")))
            }
        };
        at_least("moons.n", self.n, 4)?;
        if !(self.noise.is_finite() && self.noise >= 0.0) {
            return Err(Error::config(
                "moons.noise",
                self.noise,
                "a finite number >= 0",
            ));
        }
        Mlp::new(&self.hidden)?;
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err(Error::config(
                "moons.weight_decay",
                self.weight_decay,
                "a finite number >= 0",
            ));
        }
        pos("moons.lr", self.lr)?;
        at_least("moons.batch_size", self.batch_size, 1)?;
        at_least("moons.runs", self.runs, 2)?;
        at_least("moons.late_iterates", self.late_iterates, 1)?;
        at_least("moons.late_spacing", self.late_spacing, 1)?;
        let need = (self.late_iterates - 1) * self.late_spacing + 1;
        if self.steps < need {
            return Err(Error::config(
                "moons.steps",
                self.steps,
                format!("at least (late_iterates - 1) * late_spacing + 1 = {need}"),
            ));
        }
        pos("moons.xi", self.xi)?;
        pos("moons.walk_dimension", self.walk_dimension)?;
        pos("moons.temperature_factor", self.temperature_factor)?;
        at_least("moons.chains", self.chains, 2)?;
        at_least("moons.draws_per_chain", self.draws_per_chain, 1)?;
        at_least("moons.thin", self.thin, 1)?;
        pos("moons.langevin_lr", self.langevin_lr)?;
        for &f in &self.control_factors {
            pos("moons.control_factors", f)?;
        }
        at_least("moons.bins", self.bins, 2)?;
        pos("moons.pseudo_count", self.pseudo_count)?;
        at_least("moons.bootstrap.resamples", self.bootstrap.resamples, 10)?;
        // with fewer than 19 permutations no p-value can fall below 0.05
        at_least("moons.permutations", self.permutations, 19)?;
        if !(self.bootstrap.level > 0.0 && self.bootstrap.level < 1.0) {
            return Err(Error::config(
                "moons.bootstrap.level",
                self.bootstrap.level,
                "strictly between 0 and 1",
            ));
        }
        Ok(())
    }
}

/// A distance with its bootstrap interval and permutation test.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub struct Estimate {
    /// The distance of the full samples.
    pub value: f64,
    /// Cluster-bootstrap interval recentred on `value` (module docs, item 8): it contains
    /// `value`.
    pub ci: ConfidenceInterval,
    /// Median of the bootstrap distances minus `value` (the resampling bias subtracted from
    /// the interval; 0 in results written before it was recorded).
    #[serde(default)]
    pub bootstrap_median_bias: f64,
    /// Cluster permutation test of "both samples are draws of one distribution" (module docs,
    /// item 9; `None` in results written before it was computed).
    #[serde(default)]
    pub permutation: Option<PermutationTest>,
}

/// A cluster permutation test of one distance (module docs, item 9).
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub struct PermutationTest {
    /// The null band: the `level` quantile of the permuted distances.
    pub band: f64,
    /// `(1 + #{permuted >= observed}) / (1 + permutations)`.
    pub p_value: f64,
    /// Number of permutations.
    pub permutations: usize,
    /// Level of the band (0.95).
    pub level: f64,
}

/// KL, Jensen-Shannon and Wasserstein-1 between two samples of one summary.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub struct Distances {
    /// KL(SGD || posterior) of the histograms (nats).
    pub kl: Estimate,
    /// Jensen-Shannon divergence of the histograms (nats, at most ln 2).
    pub js: Estimate,
    /// Wasserstein-1 (in the summary's units).
    pub w1: Estimate,
}

/// One posterior sample compared with the SGD sample (or, for the null, with a second
/// posterior sample).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Comparison {
    /// What this sample is: "matched", "null", "untempered", "x0.1", "OU ...", ...
    pub label: String,
    /// Its `n beta` (0 for the OU rival, which is not a posterior).
    pub nbeta: f64,
    /// `n beta` over the matched one (0 for the OU rival).
    pub factor: f64,
    /// Metropolis acceptance rate of the Langevin steps after burn-in (1 without correction
    /// and for the OU rival's exact draws).
    pub acceptance: f64,
    /// Mean data loss (cross-entropy) over the draws.
    pub loss_mean: f64,
    /// Mean and standard deviation of the principal-axis summary.
    pub summary_mean_sd: [f64; 2],
    /// Distances in the principal-axis summary (the primary one).
    pub principal: Distances,
    /// Distances in the mean class-1 probability over the probes.
    pub mean_probability: Distances,
}

/// Everything the study measured.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct MoonsResult {
    /// The settings.
    pub config: MoonsConfig,
    /// Parameters of the MLP.
    pub num_params: usize,
    /// Data loss (cross-entropy) at `w*`.
    pub pretrain_loss: f64,
    /// Noise scale `kappa = tr C / tr F` at `w*`.
    pub noise_scale_at_start: f64,
    /// Noise scale `kappa = tr C / tr F` averaged over the final SGD iterates (the one used).
    pub noise_scale: f64,
    /// `tr C / d` averaged over the final SGD iterates: the scale of the isotropic noise with
    /// SGD's total noise power (not used; recorded because it is the other common choice, and
    /// it puts the temperature far too low, module docs item 5).
    pub isotropic_noise_scale: f64,
    /// `gamma = 2 B / (eta kappa)`.
    pub gamma: f64,
    /// `D_xi = xi^(2 - nu)`.
    pub d_xi: f64,
    /// The matched `n beta = temperature_factor * gamma / D_xi`.
    pub nbeta_matched: f64,
    /// Size of the SGD sample (runs x late iterates).
    pub sgd_sample_size: usize,
    /// Size of each posterior sample (chains x draws).
    pub posterior_sample_size: usize,
    /// Mean data loss over the SGD sample.
    pub sgd_loss_mean: f64,
    /// Mean and standard deviation of the principal-axis summary of the SGD sample.
    pub sgd_summary_mean_sd: [f64; 2],
    /// Fraction of the SGD probe-logit variance along the principal axis.
    pub principal_explained: f64,
    /// SGD versus the matched posterior.
    pub matched: Comparison,
    /// Two independent matched posterior samples (the sampling-noise reference).
    pub null: Comparison,
    /// SGD versus the untempered and mis-tempered posteriors.
    pub controls: Vec<Comparison>,
    /// The verdict.
    pub verdict: Verdict,
    /// Why.
    pub verdict_reason: String,
    /// The walk dimension measured from the SGD runs and the comparison at its temperature
    /// (`None` in results written before it was measured).
    #[serde(default)]
    pub walk: Option<WalkDimension>,
    /// The Ornstein-Uhlenbeck rival: SGD linearised at `w*` (module docs, item 11; `None` in
    /// results written before it was computed).
    #[serde(default)]
    pub ou: Option<OuRival>,
    /// The published figures.
    pub published: Published,
    /// Wall time of the study.
    pub wall_seconds: f64,
}

impl MoonsResult {
    /// Whether the result has every part the current study computes (a cached result without
    /// the permutation tests or the OU rival is recomputed).
    pub fn is_current(&self) -> bool {
        self.ou.is_some() && self.matched.principal.w1.permutation.is_some()
    }
}

/// The Ornstein-Uhlenbeck rival (module docs, item 11): the linearised SGD at `w*` and its
/// sample compared with the SGD sample.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct OuRival {
    /// `|grad L(w*)|` (the regularised full-batch loss).
    pub grad_norm: f64,
    /// Smallest eigenvalue of `H` at `w*`.
    pub hessian_min_eigenvalue: f64,
    /// Largest eigenvalue of `H` at `w*`.
    pub hessian_max_eigenvalue: f64,
    /// Eigenvalues of `H` at or below 0.
    pub nonpositive_eigenvalues: usize,
    /// Whether every `eta lambda_i` lies in `(0, 2)` (a stationary law exists).
    pub stationary: bool,
    /// `1 / (eta lambda_min)`: the slowest relaxation, in steps (`None` without a stationary
    /// law).
    pub slowest_relaxation_steps: Option<f64>,
    /// `tr C` at `w*`.
    pub trace_c: f64,
    /// `|E[w_T] - w*|` of the linear recursion at the last recorded step `T`.
    pub mean_shift_last: f64,
    /// `|H^-1 g|`, the stationary mean's distance from `w*` (`None` without a stationary law).
    pub mean_shift_stationary: Option<f64>,
    /// Trace of the covariance of `w_T` at the last recorded step.
    pub trace_cov_last: f64,
    /// Trace of the stationary covariance `S` (`None` without a stationary law).
    pub trace_cov_stationary: Option<f64>,
    /// The OU sample as SGD was run (from `w*`, to the recorded steps) against SGD.
    pub comparison: Comparison,
    /// The stationary OU sample against SGD (`None` without a stationary law).
    pub stationary_comparison: Option<Comparison>,
    /// "The tempered posterior is closer to SGD than the OU rival" (module docs, item 11).
    pub verdict: Verdict,
    /// Why.
    pub verdict_reason: String,
}

/// The walk dimension `nu` of the SGD runs, measured (module docs, item 5), and the posterior
/// at the temperature it implies.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct WalkDimension {
    /// Steps at which `|w_t - w*|^2` was recorded (geometric, 8 per decade).
    pub steps: Vec<usize>,
    /// Mean over the runs of `|w_t - w*|^2` at those steps.
    pub msd: Vec<f64>,
    /// The plateau: mean of `|w - w*|^2` over the SGD sample (the late iterates).
    pub plateau: f64,
    /// First and last step of the fit (MSD at most half the plateau).
    pub window: (usize, usize),
    /// Recorded steps in the window.
    pub points: usize,
    /// Fitted `d ln MSD / d ln t` (`= 2 / nu`).
    pub slope: f64,
    /// `nu = 2 / slope` (NaN when fewer than 3 points lie in the window).
    pub nu: f64,
    /// Bootstrap interval of `nu` (runs resampled; window refitted each time), recentred on
    /// `nu` as the distances' intervals are (module docs, item 8).
    pub nu_ci: ConfidenceInterval,
    /// `D_xi = xi^(2 - nu)` at the measured `nu`.
    pub d_xi: f64,
    /// `n beta = temperature_factor * gamma / D_xi` at the measured `nu`.
    pub nbeta: f64,
    /// SGD against the posterior at that `n beta` (`None` when `nu` could not be measured).
    pub comparison: Option<Comparison>,
    /// The verdict of the same rule as the main one, with this comparison as the matched one.
    pub verdict: Verdict,
    /// Why.
    pub verdict_reason: String,
}

/// Run the Moons posterior test (see the module docs).
pub fn run_study(cfg: &MoonsConfig) -> Result<MoonsResult> {
    cfg.validate()?;
    let t0 = std::time::Instant::now();
    let (x, y) = make_moons(cfg.n, cfg.noise, cfg.data_seed);
    let mlp = Mlp::new(&cfg.hidden)?;
    let prob = Problem {
        mlp,
        x,
        y,
        all: (0..cfg.n).collect(),
        wd: cfg.weight_decay,
    };
    let mut work = prob.mlp.work();
    let w_star = prob.pretrain(cfg);
    let pretrain_loss = prob.mlp.data_loss(&w_star, &prob.x, &prob.y, &mut work);
    if !pretrain_loss.is_finite() {
        return Err(Error::config(
            "moons.lr",
            cfg.lr,
            "a learning rate at which full-batch gradient descent stays finite",
        ));
    }
    let (tc, tf) = prob.mlp.noise_traces(&w_star, &prob.x, &prob.y, &mut work);
    let noise_scale_at_start = tc / tf;

    let record = walk_steps(cfg.steps);
    let (sgd_weights, sq): (Vec<Vec<Vec<f64>>>, Vec<Vec<f64>>) = (0..cfg.runs)
        .map(|r| prob.sgd_run(&w_star, cfg, r, &record))
        .unzip();
    let finals: Vec<&Vec<f64>> = sgd_weights.iter().filter_map(|r| r.last()).collect();
    if finals.iter().any(|w| w.iter().any(|v| !v.is_finite())) {
        return Err(Error::config(
            "moons.lr",
            cfg.lr,
            "a learning rate at which SGD stays finite",
        ));
    }
    let traces: Vec<(f64, f64)> = finals
        .iter()
        .map(|w| prob.mlp.noise_traces(w, &prob.x, &prob.y, &mut work))
        .collect();
    let m = traces.len() as f64;
    let noise_scale = traces.iter().map(|(c, f)| c / f).sum::<f64>() / m;
    let isotropic_noise_scale =
        traces.iter().map(|(c, _)| c).sum::<f64>() / m / prob.mlp.num_params() as f64;
    let gamma = 2.0 * cfg.batch_size as f64 / (cfg.lr * noise_scale);
    let d_xi = cfg.xi.powf(2.0 - cfg.walk_dimension);
    let nbeta_matched = cfg.temperature_factor * gamma / d_xi;
    if !(nbeta_matched.is_finite() && nbeta_matched > 0.0) {
        return Err(Error::config(
            "moons.noise",
            cfg.noise,
            "data whose gradient noise at the SGD iterates is nonzero (n beta is not finite)",
        ));
    }

    let sgd = prob.sample_of(&sgd_weights, 1.0);
    let axis = Axis::of(&sgd);
    let sgd_sum = axis.summaries(&sgd);
    let bin_p = Binning::from_reference(&sgd_sum.principal.flat(), cfg.bins);
    let bin_m = Binning::from_reference(&sgd_sum.mean_probability.flat(), cfg.bins);

    let posterior = |nbeta: f64, set: u64| {
        let (w, acc) = prob.langevin(&w_star, nbeta, cfg, set);
        prob.sample_of(&w, acc)
    };
    let compare = |label: String,
                   nbeta: f64,
                   s: &WeightSample,
                   reference: &Summaries,
                   seed: u64|
     -> Comparison {
        let sum = axis.summaries(s);
        Comparison {
            label,
            nbeta,
            factor: nbeta / nbeta_matched,
            acceptance: s.acceptance,
            loss_mean: s.loss_mean,
            summary_mean_sd: mean_sd(&sum.principal.flat()),
            principal: distances(&reference.principal, &sum.principal, &bin_p, cfg, seed),
            mean_probability: distances(
                &reference.mean_probability,
                &sum.mean_probability,
                &bin_m,
                cfg,
                seed + 1,
            ),
        }
    };

    let matched_s = posterior(nbeta_matched, 0);
    let matched = compare("matched".into(), nbeta_matched, &matched_s, &sgd_sum, 10);
    let null_s = posterior(nbeta_matched, 1);
    let matched_sum = axis.summaries(&matched_s);
    let null = compare("null".into(), nbeta_matched, &null_s, &matched_sum, 20);

    let mut controls = Vec::new();
    let mut specs = vec![("untempered (n beta = n)".to_string(), cfg.n as f64)];
    for &f in &cfg.control_factors {
        specs.push((format!("n beta x {f}"), f * nbeta_matched));
    }
    for (k, (label, nbeta)) in specs.into_iter().enumerate() {
        let s = posterior(nbeta, 2 + k as u64);
        controls.push(compare(label, nbeta, &s, &sgd_sum, 30 + 10 * k as u64));
    }

    let (verdict, verdict_reason) = decide(&matched, &controls);

    // The walk dimension of the SGD runs and the posterior at the temperature it implies.
    let sq_dist =
        |w: &Vec<f64>| -> f64 { w.iter().zip(&w_star).map(|(a, b)| (a - b) * (a - b)).sum() };
    let late_sq: Vec<f64> = sgd_weights
        .iter()
        .map(|r| r.iter().map(sq_dist).sum::<f64>() / r.len().max(1) as f64)
        .collect();
    let all_runs: Vec<usize> = (0..cfg.runs).collect();
    let plateau_of =
        |runs: &[usize]| runs.iter().map(|&r| late_sq[r]).sum::<f64>() / runs.len() as f64;
    let msd = mean_msd(&sq, &all_runs);
    let plateau = plateau_of(&all_runs);
    let (window, points, slope) = walk_fit(&record, &msd, plateau);
    let nu = 2.0 / slope;
    let mut rng = SplitMix64::new(cfg.bootstrap.seed ^ 0x77a1_6b00);
    let reps: Vec<f64> = (0..cfg.bootstrap.resamples)
        .map(|_| {
            let pick: Vec<usize> = (0..cfg.runs).map(|_| rng.below(cfg.runs)).collect();
            let (_, _, b) = walk_fit(&record, &mean_msd(&sq, &pick), plateau_of(&pick));
            2.0 / b
        })
        .collect();
    let (nu_ci, _) = recentred_interval(nu, reps, cfg.bootstrap.level, None);
    let walk_d_xi = cfg.xi.powf(2.0 - nu);
    let walk_nbeta = cfg.temperature_factor * gamma / walk_d_xi;
    let (comparison, walk_verdict, walk_reason) = if nu.is_finite()
        && nu > 0.0
        && walk_nbeta.is_finite()
        && walk_nbeta > 0.0
    {
        let set = 2 + 1 + cfg.control_factors.len() as u64;
        let s = posterior(walk_nbeta, set);
        let c = compare(
            format!("measured nu = {nu:.3}"),
            walk_nbeta,
            &s,
            &sgd_sum,
            100,
        );
        let (v, why) = decide(&c, &controls);
        (Some(c), v, why)
    } else {
        (
            None,
            Verdict::NotTested,
            format!(
                "the walk dimension could not be measured: {points} recorded steps between step \
                 {WALK_FIRST_STEP} and the half-plateau"
            ),
        )
    };
    let walk = WalkDimension {
        steps: record,
        msd,
        plateau,
        window,
        points,
        slope,
        nu,
        nu_ci,
        d_xi: walk_d_xi,
        nbeta: walk_nbeta,
        comparison,
        verdict: walk_verdict,
        verdict_reason: walk_reason,
    };

    // The OU rival: from w*, H, C, g, eta and B only (module docs, item 11).
    let ou = {
        let d = prob.mlp.num_params();
        let h = prob
            .mlp
            .hessian(&w_star, &prob.x, &prob.y, cfg.weight_decay);
        let c = prob.mlp.gradient_covariance(&w_star, &prob.x, &prob.y);
        let mut g = vec![0.0; d];
        prob.mlp.loss_grad(
            &w_star,
            &prob.x,
            &prob.y,
            &prob.all,
            cfg.weight_decay,
            &mut work,
            &mut g,
        );
        let lin = LinearSgd::new(&h, &c, &g, cfg.lr, cfg.batch_size)?;
        let lambda = lin.hessian_eigenvalues();
        let lmin = lambda.iter().copied().fold(f64::INFINITY, f64::min);
        let lmax = lambda.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let stationary = lin.is_stationary();
        let first = cfg.steps - (cfg.late_iterates - 1) * cfg.late_spacing;
        let norm = |v: &[f64]| v.iter().map(|a| a * a).sum::<f64>().sqrt();
        let trace = |m: &[f64]| (0..d).map(|i| m[i * d + i]).sum::<f64>();
        let ou_sample = |set: u64, stat: bool| {
            let weights: Vec<Vec<Vec<f64>>> = (0..cfg.runs)
                .map(|r| {
                    let mut rng = Rng::new(cfg.seed, &[STREAM_OU, set, r as u64]);
                    lin.draw_run(first, cfg.late_spacing, cfg.late_iterates, stat, &mut rng)
                        .into_iter()
                        .map(|x| x.iter().zip(&w_star).map(|(a, b)| a + b).collect())
                        .collect()
                })
                .collect();
            prob.sample_of(&weights, 1.0)
        };
        let comparison = compare(
            "OU (linearised SGD at w*)".into(),
            0.0,
            &ou_sample(0, false),
            &sgd_sum,
            200,
        );
        let stationary_comparison = stationary.then(|| {
            compare(
                "OU, stationary law".into(),
                0.0,
                &ou_sample(1, true),
                &sgd_sum,
                210,
            )
        });
        let (verdict, verdict_reason) = posterior_vs_ou(&matched, &comparison);
        OuRival {
            grad_norm: norm(&g),
            hessian_min_eigenvalue: lmin,
            hessian_max_eigenvalue: lmax,
            nonpositive_eigenvalues: lambda.iter().filter(|&&l| l <= 0.0).count(),
            stationary,
            slowest_relaxation_steps: stationary.then(|| 1.0 / (cfg.lr * lmin)),
            trace_c: trace(&c),
            mean_shift_last: norm(&lin.mean(Some(cfg.steps))),
            mean_shift_stationary: stationary.then(|| norm(&lin.mean(None))),
            trace_cov_last: trace(&lin.covariance(Some(cfg.steps))),
            trace_cov_stationary: stationary.then(|| trace(&lin.covariance(None))),
            comparison,
            stationary_comparison,
            verdict,
            verdict_reason,
        }
    };

    Ok(MoonsResult {
        config: cfg.clone(),
        num_params: prob.mlp.num_params(),
        pretrain_loss,
        noise_scale_at_start,
        noise_scale,
        isotropic_noise_scale,
        gamma,
        d_xi,
        nbeta_matched,
        sgd_sample_size: cfg.runs * cfg.late_iterates,
        posterior_sample_size: cfg.chains * cfg.draws_per_chain,
        sgd_loss_mean: sgd.loss_mean,
        sgd_summary_mean_sd: mean_sd(&sgd_sum.principal.flat()),
        principal_explained: axis.explained,
        matched,
        null,
        controls,
        verdict,
        verdict_reason,
        walk: Some(walk),
        ou: Some(ou),
        published: PUBLISHED,
        wall_seconds: t0.elapsed().as_secs_f64(),
    })
}
