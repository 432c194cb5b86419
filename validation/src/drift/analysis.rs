//! The analysis of trained ensembles: one pass over the common checkpoint steps, one time point
//! in memory at a time.

use super::config::{DriftConfig, GroupConfig};
use super::estimators::{ExponentFit, Tamsd, dist2, ergodicity_breaking, exponent_fit};
use super::runner::{Member, MemberRole, members};
use crate::analysis::aging::eb_brownian_reference;
use crate::analysis::ensemble::ensemble_stats;
use crate::analysis::stationarity::{MannKendall, mann_kendall};
use crate::analysis::stats::ols;
use crate::data::Data;
use crate::error::{Error, Result};
use crate::io::checkpoint;
use crate::train::{self, RunSummary};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::Path;

/// Most bytes of weights the time averages of the aging analysis keep (the ring of the last
/// `max_lag` evenly spaced samples of every stream, [`Tamsd`]): 1 GiB. The largest lag is
/// lowered where the declared one would need more, so that the memory does not grow with the
/// number of checkpoints. The study's own ensembles stay below it, so their numbers do not
/// depend on it (medium preset: 25,450 parameters x 20 streams x at most 50 lags is 102 MB).
pub const RING_BYTES: usize = 1 << 30;

/// Drift and diffusion at one checkpoint step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimePoint {
    /// Step.
    pub step: u64,
    /// `||m(t) - w_0||^2`.
    pub drift: f64,
    /// `tr Sigma(t)` (unbiased over the streams).
    pub diffusion: f64,
    /// `mean over streams ||w_t - w_0||^2` (`= drift + (S - 1)/S diffusion`).
    pub msd: f64,
    /// `diffusion / (drift + diffusion)`: the part of `E||w_t - w_0||^2` that is diffusion
    /// (`null` at the start, where both are 0).
    #[serde(default)]
    pub diffusion_share: Option<f64>,
    /// `||m(t) - w_GD(t)||^2` (`null` without a GD twin).
    pub gd_gap: Option<f64>,
    /// `||w_GD(t) - w_0||^2` (`null` without a GD twin).
    pub gd_drift: Option<f64>,
    /// Largest eigenvalues of `Sigma(t)`, decreasing.
    pub top_eigenvalues: Vec<f64>,
    /// Training loss (whole training set) averaged over the streams.
    pub train_loss: f64,
}

/// The stationarity test of a group's loss.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stationarity {
    /// The test, in words.
    pub test: String,
    /// Significance level.
    pub level: f64,
    /// Tested stretch: the last `tail` of the run (or of the run so far, in the scan).
    pub tail: f64,
    /// The test over the last `tail` of the whole run (`null`: too few loss points).
    pub at_end: Option<MannKendall>,
    /// Stationary at the end of the run.
    pub stationary: bool,
    /// The first evenly spaced step `T` from which on the loss over `[(1 - tail) T, T]` shows
    /// no trend at every later `T` (`null`: not reached).
    pub reached_at: Option<u64>,
    /// Verdict in words.
    pub verdict: String,
}

/// Aging and ergodicity on the stationary stretch (or why not).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Aging {
    /// False when the loss is not stationary (or the stretch is too short).
    pub testable: bool,
    /// Why not, or what was done.
    pub note: String,
    /// The stretch `[from, to]` (steps).
    pub window: Option<[u64; 2]>,
    /// Steps between the samples.
    pub spacing: Option<u64>,
    /// Lags (steps).
    pub lags: Vec<u64>,
    /// Time-averaged MSD over the stretch, mean over the streams, per lag.
    pub tamsd: Vec<f64>,
    /// Ensemble MSD from the start of the stretch, `E||w_{t_s + lag} - w_{t_s}||^2`, per lag.
    pub eamsd: Vec<f64>,
    /// `EB = Var(delta^2) / E[delta^2]^2` over the streams of every initialisation, per lag.
    pub eb: Vec<f64>,
    /// `EB` of Brownian motion at the same lag and length in `effective_dimension`
    /// independent coordinates (the ergodic reference, [`eb_brownian_reference`] divided by
    /// the effective dimension; the parameter count where that could not be measured).
    pub eb_ergodic: Vec<f64>,
    /// Effective number of independent coordinates of the one-sample increments on the
    /// stretch, the participation ratio `(tr C)^2 / tr(C^2)` of their covariance `C`
    /// ([`super::estimators::IncrementSketch`]). An anisotropic process (a few stiff modes
    /// carrying the increments) has far fewer than its parameter count, and its ergodic `EB`
    /// is larger by the ratio: a reference in the full dimension would call an ergodic
    /// process non-ergodic.
    #[serde(default)]
    pub effective_dimension: Option<f64>,
    /// Window starts `t_a` (steps) of the aging analysis.
    pub aging_starts: Vec<u64>,
    /// TAMSD at the smallest lag over `[t_a, end]`, mean over the streams, per start.
    pub aging_tamsd: Vec<f64>,
    /// Slope of `log delta^2` on `log t_a` (0 without aging).
    pub aging_slope: Option<f64>,
    /// The aging slope of each initialisation alone (its streams' mean TAMSD per start): the
    /// units the interval of the aging claim resamples.
    #[serde(default)]
    pub aging_slope_per_init: Vec<f64>,
    /// `EB` at the smallest lag within each initialisation (over its streams).
    #[serde(default)]
    pub eb_per_init: Vec<f64>,
}

impl Aging {
    fn not_testable(note: impl Into<String>) -> Aging {
        Aging {
            testable: false,
            note: note.into(),
            window: None,
            spacing: None,
            lags: vec![],
            tamsd: vec![],
            eamsd: vec![],
            eb: vec![],
            eb_ergodic: vec![],
            effective_dimension: None,
            aging_starts: vec![],
            aging_tamsd: vec![],
            aging_slope: None,
            aging_slope_per_init: vec![],
            eb_per_init: vec![],
        }
    }
}

/// An exponent fit in a declared window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WindowExponent {
    /// The window as fractions of the run.
    pub window: [f64; 2],
    /// The fit (`null`: too few points).
    pub fit: Option<ExponentFit>,
}

/// One group's results.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupResults {
    /// Group name.
    pub name: String,
    /// Its configuration.
    pub config: GroupConfig,
    /// Trainable parameters.
    pub n_params: usize,
    /// Every stream of an initialisation starts from bit-identical weights.
    pub shared_init_identical: bool,
    /// Updates done by the GD twins (the least of them; `null` without twins). A twin behind
    /// the streams has `gd_gap` up to its last checkpoint only.
    pub gd_steps_done: Option<u64>,
    /// Per step, averaged over the initialisations.
    pub series: Vec<TimePoint>,
    /// Per initialisation, per step.
    pub per_init: Vec<Vec<TimePoint>>,
    /// At the last step (averaged over the initialisations).
    pub last: Option<TimePoint>,
    /// Exponent `alpha` of `tr Sigma(t) ~ t^alpha` in the declared windows; intervals resample
    /// the initialisations.
    pub diffusion_exponent: Vec<WindowExponent>,
    /// Exponent of the drift `||m - w_0||^2 ~ t^beta` in the same windows.
    pub drift_exponent: Vec<WindowExponent>,
    /// `alpha` in windows `[t_a, ratio t_a]` against the window start `t_a`.
    pub exponent_vs_window_start: Vec<ExponentFit>,
    /// Stationarity of the loss.
    pub stationarity: Stationarity,
    /// Aging and ergodicity.
    pub aging: Aging,
    /// The Gamma law of late losses on the stationary stretch ([`super::steady`]; not
    /// testable where the loss is not stationary).
    #[serde(default = "gamma_law_not_run")]
    pub gamma_law: super::steady::GroupGammaLaw,
}

fn gamma_law_not_run() -> super::steady::GroupGammaLaw {
    super::steady::GroupGammaLaw::not_testable("not run (results written before the test existed)")
}

/// The study's results (`ensemble.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DriftResults {
    /// The configuration.
    pub config: DriftConfig,
    /// Where the data came from.
    pub data_source: String,
    /// Groups.
    pub groups: Vec<GroupResults>,
    /// Seconds spent training (0 when only analysed).
    pub train_seconds: f64,
    /// Seconds in all.
    pub wall_seconds: f64,
}

/// Analyse the trained study in `out` (every member must be finished).
pub fn analyse(config: &DriftConfig, data: &Data, out: &Path) -> Result<DriftResults> {
    config.validate()?;
    let t0 = std::time::Instant::now();
    let ms = members(config, data.train.len(), out)?;
    let mut groups = vec![];
    for (gi, g) in config.groups.iter().enumerate() {
        let mine: Vec<&Member> = ms.iter().filter(|m| m.group == gi).collect();
        let mut gr = analyse_group(config, g, &mine)?;
        gr.gamma_law = super::steady::group_gamma_law(
            config.stationarity.tail,
            &config.gamma_law,
            g,
            &gr,
            &mine,
            Some(data),
        );
        groups.push(gr);
    }
    Ok(DriftResults {
        config: config.clone(),
        data_source: data.source.clone(),
        groups,
        train_seconds: 0.0,
        wall_seconds: t0.elapsed().as_secs_f64(),
    })
}

/// Flat trainable weights of a checkpoint (tensors in name order: the same for every member).
fn load_flat(path: &Path, into: &mut Vec<f32>) -> Result<()> {
    let (tensors, _) = checkpoint::load(path)?;
    into.clear();
    for t in tensors
        .iter()
        .filter(|t| !super::external::is_buffer(&t.name))
    {
        into.extend_from_slice(&t.data);
    }
    Ok(())
}

fn analyse_group(cfg: &DriftConfig, g: &GroupConfig, ms: &[&Member]) -> Result<GroupResults> {
    let sums: Vec<RunSummary> = ms
        .iter()
        .map(|m| train::load_summary(&m.dir))
        .collect::<Result<_>>()?;
    // The streams must be finished; a GD twin may be behind (its gap is then reported up to
    // its last checkpoint).
    for (m, s) in ms.iter().zip(&sums) {
        if !s.finished && m.role != MemberRole::GdTwin {
            return Err(Error::Resume {
                path: m.dir.clone(),
                what: format!("not finished ({} of {} steps)", s.steps_done, g.steps),
            });
        }
    }
    let gd_steps_done = ms
        .iter()
        .zip(&sums)
        .filter(|(m, _)| m.role == MemberRole::GdTwin)
        .map(|(_, s)| s.steps_done)
        .min();
    let series: Vec<MemberSeries> = ms
        .iter()
        .zip(&sums)
        .map(|(m, s)| MemberSeries {
            init: m.init,
            role: m.role,
            losses: s
                .checkpoints
                .iter()
                .map(|c| (c.step, c.train_loss))
                .collect(),
        })
        .collect();
    let mut load = |k: usize, step: u64, into: &mut Vec<f32>| {
        load_flat(&train::checkpoint_path(&ms[k].dir, step), into)
    };
    analyse_series(
        cfg,
        g,
        &series,
        g.checkpoint_every(),
        gd_steps_done,
        &mut load,
    )
}

/// `load(k, step, into)`: member `k`'s flat trainable weights at `step` into `into`.
pub(crate) type LoadWeights<'a> = dyn FnMut(usize, u64, &mut Vec<f32>) -> Result<()> + 'a;

/// One member of a group as [`analyse_series`] reads it.
#[derive(Clone, Debug)]
pub(crate) struct MemberSeries {
    /// Its initialisation (index from 0).
    pub init: usize,
    /// Stream or GD twin.
    pub role: MemberRole,
    /// Its checkpoint steps with the training loss there (NaN where unknown).
    pub losses: Vec<(u64, f64)>,
}

/// The analysis of one group whose members are `members`: `load(k, step, into)` puts member
/// `k`'s flat trainable weights at `step` into `into` (called for one step at a time, every
/// stream of one initialisation, then its GD twin; never all checkpoints at once). `spacing`:
/// the steps between the evenly spaced checkpoints (every multiple of it up to the end is a
/// checkpoint of every stream; `None`: none), the loss series of the stationarity test and
/// the samples of the aging analysis.
pub(crate) fn analyse_series(
    cfg: &DriftConfig,
    g: &GroupConfig,
    ms: &[MemberSeries],
    spacing: Option<u64>,
    gd_steps_done: Option<u64>,
    load: &mut LoadWeights<'_>,
) -> Result<GroupResults> {
    let mut steps: Option<BTreeSet<u64>> = None;
    for m in ms {
        if m.role == MemberRole::GdTwin {
            continue;
        }
        let other: BTreeSet<u64> = m.losses.iter().map(|c| c.0).collect();
        steps = Some(match steps {
            None => other,
            Some(a) => a.intersection(&other).copied().collect(),
        });
    }
    let steps: Vec<u64> = steps.unwrap_or_default().into_iter().collect();
    let has_step = |k: usize, step: u64| ms[k].losses.iter().any(|c| c.0 == step);
    let loss_at = |k: usize, step: u64| {
        ms[k]
            .losses
            .iter()
            .find(|c| c.0 == step)
            .map_or(f64::NAN, |c| c.1)
    };
    let streams_of = |i: usize| -> Vec<usize> {
        (0..ms.len())
            .filter(|&k| ms[k].init == i && matches!(ms[k].role, MemberRole::Stream(_)))
            .collect()
    };
    let gd_of =
        |i: usize| (0..ms.len()).find(|&k| ms[k].init == i && ms[k].role == MemberRole::GdTwin);
    let all_streams: Vec<usize> = (0..g.inits).flat_map(streams_of).collect();

    // Stationarity first (from the recorded losses): it decides the aging stretch.
    let stationarity = stationarity(cfg, spacing, &steps, &|step| {
        all_streams.iter().map(|&k| loss_at(k, step)).sum::<f64>() / all_streams.len() as f64
    });
    let aging_window = match (stationarity.stationary, stationarity.reached_at, spacing) {
        (true, Some(t), Some(k)) => {
            let from = (((1.0 - cfg.stationarity.tail) * t as f64) as u64).div_ceil(k) * k;
            Some((from, (g.steps / k) * k, k))
        }
        _ => None,
    };
    let samples = aging_window.map_or(0, |(a, b, k)| ((b - a) / k + 1) as usize);
    let max_lag = ((cfg.aging.max_lag * (samples.max(1) - 1) as f64) as usize).max(1);
    let mut tamsd: Vec<Tamsd> = all_streams.iter().map(|_| Tamsd::new(max_lag)).collect();
    let mut ring_capped = None;
    let mut sketch = super::estimators::IncrementSketch::new(
        all_streams.iter().map(|&k| ms[k].init).collect(),
        samples,
    );

    let mut bufs: Vec<Vec<f32>> = vec![];
    let mut gd_buf: Vec<f32> = vec![];
    let mut w0s: Vec<Vec<f32>> = vec![vec![]; g.inits];
    let mut per_init: Vec<Vec<TimePoint>> = vec![vec![]; g.inits];
    let mut identical = true;
    let mut n_params = 0;
    for &step in &steps {
        for i in 0..g.inits {
            let ks = streams_of(i);
            bufs.resize_with(ks.len(), Vec::new);
            for (b, &k) in bufs.iter_mut().zip(&ks) {
                load(k, step, b)?;
            }
            if step == steps[0] && i == 0 {
                // the ring of the time averages: at most RING_BYTES for all streams
                let per_sample = 4 * bufs[0].len().max(1) * all_streams.len().max(1);
                let cap = (RING_BYTES / per_sample).max(1);
                if cap < max_lag {
                    ring_capped = Some(cap);
                    for t in &mut tamsd {
                        t.limit_lag(cap);
                    }
                }
            }
            if step == steps[0] {
                identical &= bufs.iter().all(|b| {
                    b.len() == bufs[0].len()
                        && b.iter()
                            .zip(&bufs[0])
                            .all(|(x, y)| x.to_bits() == y.to_bits())
                });
                w0s[i] = bufs[0].clone();
                n_params = bufs[0].len();
            }
            if w0s[i].is_empty() {
                return Err(Error::config(
                    "checkpoints",
                    "no first step",
                    "every member's checkpoint at the first common step",
                ));
            }
            let gd_here = gd_of(i).filter(|&k| has_step(k, step));
            if let Some(k) = gd_here {
                load(k, step, &mut gd_buf)?;
            }
            let st = ensemble_stats(
                &bufs,
                w0s[i].as_slice(),
                gd_here.map(|_| gd_buf.as_slice()),
                cfg.eigenvalues,
            )?;
            let gd_drift = gd_here.map(|_| dist2(&gd_buf, &w0s[i]));
            if let Some((a, b, k)) = aging_window
                && step >= a
                && step <= b
                && (step - a).is_multiple_of(k)
            {
                for (&kk, buf) in ks.iter().zip(&bufs) {
                    if let Some(p) = all_streams.iter().position(|&x| x == kk) {
                        tamsd[p].push(buf);
                        sketch.push(p, buf);
                    }
                }
            }
            per_init[i].push(TimePoint {
                step,
                drift: st.drift,
                diffusion: st.diffusion,
                msd: st.mean_sq_displacement,
                diffusion_share: share(st.drift, st.diffusion),
                gd_gap: st.gd_gap,
                gd_drift,
                top_eigenvalues: st.top_eigenvalues,
                train_loss: ks.iter().map(|&k| loss_at(k, step)).sum::<f64>() / ks.len() as f64,
            });
        }
    }
    let series: Vec<TimePoint> = (0..steps.len())
        .map(|k| average(&per_init.iter().map(|p| &p[k]).collect::<Vec<_>>()))
        .collect();
    let n = g.steps as f64;
    let fit = |f: &dyn Fn(&TimePoint) -> f64, lo: f64, hi: f64| {
        let y: Vec<Vec<f64>> = per_init.iter().map(|p| p.iter().map(f).collect()).collect();
        exponent_fit(&steps, &y, lo, hi, cfg.min_fit_points, &cfg.bootstrap)
    };
    let windows = |f: &dyn Fn(&TimePoint) -> f64| -> Vec<WindowExponent> {
        cfg.fit_windows
            .iter()
            .map(|w| WindowExponent {
                window: *w,
                fit: fit(f, w[0] * n, w[1] * n),
            })
            .collect()
    };
    let diffusion_exponent = windows(&|p: &TimePoint| p.diffusion);
    let drift_exponent = windows(&|p: &TimePoint| p.drift);
    let sw = &cfg.sweep;
    let mut exponent_vs_window_start = vec![];
    let mut k = 0u32;
    loop {
        let ta = sw.from * n * 10f64.powf(k as f64 / sw.per_decade as f64);
        if ta * sw.ratio > n * (1.0 + 1e-9) {
            break;
        }
        if let Some(f) = fit(&|p: &TimePoint| p.diffusion, ta, ta * sw.ratio) {
            exponent_vs_window_start.push(f);
        }
        k += 1;
    }
    let aging = match aging_window {
        None => Aging::not_testable(if stationarity.stationary {
            "stationary, but no evenly spaced checkpoints (uniform_checkpoints = 0)".to_string()
        } else {
            format!(
                "not testable: the loss is not stationary ({})",
                stationarity.verdict
            )
        }),
        Some((a, b, k)) => {
            let mut a = aging(
                cfg,
                &tamsd,
                &all_streams,
                ms,
                (a, b, k),
                samples,
                sketch.effective_dimension(),
            );
            if let Some(cap) = ring_capped {
                a.note.push_str(&format!(
                    "; lags up to {cap} samples only (of {max_lag} declared): the ring of the last samples of every stream is held to {} MiB",
                    RING_BYTES >> 20
                ));
            }
            a
        }
    };
    Ok(GroupResults {
        name: g.name.clone(),
        config: g.clone(),
        n_params,
        shared_init_identical: identical,
        gd_steps_done,
        last: series.last().cloned(),
        series,
        per_init,
        diffusion_exponent,
        drift_exponent,
        exponent_vs_window_start,
        stationarity,
        aging,
        gamma_law: super::steady::GroupGammaLaw::not_testable(
            "not run: the Gamma law needs the members' run directories and the data set (an estimate of the LLC after training); `ffpe-validate analyze` does not run it",
        ),
    })
}

/// `diffusion / (drift + diffusion)`, `None` when the sum is 0.
fn share(drift: f64, diffusion: f64) -> Option<f64> {
    (drift + diffusion > 0.0).then(|| diffusion / (drift + diffusion))
}

fn average(ps: &[&TimePoint]) -> TimePoint {
    let n = ps.len() as f64;
    let avg = |f: &dyn Fn(&TimePoint) -> f64| ps.iter().map(|p| f(p)).sum::<f64>() / n;
    let opt = |f: &dyn Fn(&TimePoint) -> Option<f64>| {
        ps.iter()
            .map(|p| f(p))
            .collect::<Option<Vec<f64>>>()
            .map(|v| v.iter().sum::<f64>() / n)
    };
    let k = ps
        .iter()
        .map(|p| p.top_eigenvalues.len())
        .min()
        .unwrap_or(0);
    TimePoint {
        step: ps[0].step,
        drift: avg(&|p| p.drift),
        diffusion: avg(&|p| p.diffusion),
        msd: avg(&|p| p.msd),
        diffusion_share: share(avg(&|p| p.drift), avg(&|p| p.diffusion)),
        gd_gap: opt(&|p| p.gd_gap),
        gd_drift: opt(&|p| p.gd_drift),
        top_eigenvalues: (0..k)
            .map(|j| ps.iter().map(|p| p.top_eigenvalues[j]).sum::<f64>() / n)
            .collect(),
        train_loss: avg(&|p| p.train_loss),
    }
}

/// Mann-Kendall over the last `tail` of the run, and the scan over the evenly spaced steps.
fn stationarity(
    cfg: &DriftConfig,
    spacing: Option<u64>,
    steps: &[u64],
    loss: &dyn Fn(u64) -> f64,
) -> Stationarity {
    let st = &cfg.stationarity;
    let test = format!(
        "Mann-Kendall trend test of the stream-averaged training loss at the evenly spaced \
         checkpoints over the last {:.0} % of the run, variance inflated by the effective sample \
         size (lag-1 autocorrelation); stationary when p >= {} on at least {} effective points",
        100.0 * st.tail,
        st.level,
        crate::analysis::stationarity::MIN_EFFECTIVE
    );
    let grid: Vec<u64> = match spacing {
        Some(k) => steps
            .iter()
            .copied()
            .filter(|s| *s > 0 && s.is_multiple_of(k))
            .collect(),
        None => vec![],
    };
    let test_at = |end: u64| -> Option<MannKendall> {
        let from = (1.0 - st.tail) * end as f64;
        let x: Vec<f64> = grid
            .iter()
            .filter(|&&s| s as f64 >= from && s <= end)
            .map(|&s| loss(s))
            // a step without a recorded loss (an external run's metrics) is left out
            .filter(|l| l.is_finite())
            .collect();
        if x.len() < st.min_points {
            return None;
        }
        mann_kendall(&x, st.level).ok()
    };
    let last = grid.last().copied();
    let at_end = last.and_then(test_at);
    let passes = |m: &Option<MannKendall>| m.as_ref().is_some_and(|m| m.stationary);
    let stationary = passes(&at_end);
    let mut reached_at = None;
    if stationary {
        for &t in grid.iter().rev() {
            if passes(&test_at(t)) {
                reached_at = Some(t);
            } else {
                break;
            }
        }
    }
    let verdict = match &at_end {
        None => "not testable: too few evenly spaced loss points".to_string(),
        Some(m) if stationary => {
            format!("{}; reached by step {}", m.words(), reached_at.unwrap_or(0))
        }
        Some(m) => format!("not stationary: {}", m.words()),
    };
    Stationarity {
        test,
        level: st.level,
        tail: st.tail,
        at_end,
        stationary,
        reached_at,
        verdict,
    }
}

fn aging(
    cfg: &DriftConfig,
    tamsd: &[Tamsd],
    all_streams: &[usize],
    ms: &[MemberSeries],
    (a, b, k): (u64, u64, u64),
    samples: usize,
    effective_dimension: Option<f64>,
) -> Aging {
    if samples < 4 || tamsd.is_empty() {
        return Aging::not_testable(format!(
            "stationary, but the stretch [{a}, {b}] has only {samples} evenly spaced checkpoints"
        ));
    }
    let vals: Vec<Vec<f64>> = tamsd.iter().map(|t| t.values()).collect();
    let lags_n = vals[0].len();
    let mean_over =
        |f: &dyn Fn(usize) -> f64| (0..tamsd.len()).map(f).sum::<f64>() / tamsd.len() as f64;
    let tamsd_mean: Vec<f64> = (0..lags_n).map(|l| mean_over(&|m| vals[m][l])).collect();
    let eamsd: Vec<f64> = (0..lags_n)
        .map(|l| mean_over(&|m| tamsd[m].from_first.get(l).copied().unwrap_or(f64::NAN)))
        .collect();
    // EB within each initialisation (the streams share w_0), averaged over initialisations.
    let inits: BTreeSet<usize> = all_streams.iter().map(|&k| ms[k].init).collect();
    let eb: Vec<f64> = (0..lags_n)
        .map(|l| {
            let per: Vec<f64> = inits
                .iter()
                .map(|&i| {
                    let v: Vec<f64> = all_streams
                        .iter()
                        .enumerate()
                        .filter(|(_, kk)| ms[**kk].init == i)
                        .map(|(p, _)| vals[p][l])
                        .collect();
                    ergodicity_breaking(&v)
                })
                .collect();
            per.iter().sum::<f64>() / per.len() as f64
        })
        .collect();
    let dim = effective_dimension.unwrap_or(tamsd[0].dim() as f64);
    let eb_ergodic: Vec<f64> = (1..=lags_n)
        .map(|l| eb_brownian_reference(l, samples, 1) / dim)
        .collect();
    let aging_starts: Vec<u64> = cfg
        .aging
        .starts
        .iter()
        .map(|f| a + ((f * (b - a) as f64 / k as f64) as u64) * k)
        .collect();
    // TAMSD at the smallest lag over [t_a, end] of stream slot m
    let tail_mean = |m: usize, ta: u64| {
        let skip = ((ta - a) / k) as usize;
        let inc = &tamsd[m].increments;
        let tail = &inc[skip.min(inc.len())..];
        tail.iter().sum::<f64>() / tail.len().max(1) as f64
    };
    let aging_tamsd: Vec<f64> = aging_starts
        .iter()
        .map(|&ta| mean_over(&|m| tail_mean(m, ta)))
        .collect();
    let log_starts: Vec<f64> = aging_starts
        .iter()
        .map(|&t| (t.max(1) as f64).ln())
        .collect();
    let slope_of = |tam: &[f64]| {
        let y: Vec<f64> = tam.iter().map(|v| v.ln()).collect();
        ols(&log_starts, &y).ok().map(|f| f.slope)
    };
    let aging_slope = slope_of(&aging_tamsd);
    // the same per initialisation (mean over its own streams)
    let mut aging_slope_per_init = vec![];
    let mut eb_per_init = vec![];
    for &i in &inits {
        let mine: Vec<usize> = (0..all_streams.len())
            .filter(|&p| ms[all_streams[p]].init == i)
            .collect();
        let tam: Vec<f64> = aging_starts
            .iter()
            .map(|&ta| mine.iter().map(|&m| tail_mean(m, ta)).sum::<f64>() / mine.len() as f64)
            .collect();
        aging_slope_per_init.push(slope_of(&tam).unwrap_or(f64::NAN));
        let first: Vec<f64> = mine.iter().map(|&p| vals[p][0]).collect();
        eb_per_init.push(ergodicity_breaking(&first));
    }
    Aging {
        testable: true,
        note: format!(
            "stationary stretch [{a}, {b}], {samples} checkpoints {k} steps apart, {} streams; ergodic reference in {} effective dimensions{}",
            tamsd.len(),
            crate::report::format::num(dim),
            if effective_dimension.is_some() {
                " (participation ratio of the increments)"
            } else {
                " (the parameter count: the participation ratio could not be measured)"
            }
        ),
        window: Some([a, b]),
        spacing: Some(k),
        lags: (1..=lags_n as u64).map(|l| l * k).collect(),
        tamsd: tamsd_mean,
        eamsd,
        eb,
        eb_ergodic,
        effective_dimension,
        aging_starts,
        aging_tamsd,
        aging_slope,
        aging_slope_per_init,
        eb_per_init,
    }
}
