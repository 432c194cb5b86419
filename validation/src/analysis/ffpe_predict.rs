//! FFPE predictions against measured trajectories, solved with the core `ffpe` crate.
//!
//! **Out-of-sample displacement.** The late window `[t_a, t_b]` is split at its midpoint in
//! `ln t`. A model FFPE is started at `t_a` (model time `tau = t - t_a`) from a point, and the
//! prediction is `R_pred(t)^2 = R(t_a)^2 + c * MSD(tau)`, i.e. the motion after `t_a` is taken
//! as uncorrelated with the displacement accumulated before it; `c` converts model units to
//! weight space (fixed, not fitted). The temperature `T = D / gamma` is fixed by the loss-level
//! (Gamma-law) fit, so only the Caputo order and the diffusion coefficient are fitted, on the
//! first half, by least squares in `ln R`.
//!
//! The fit uses the FFPE's time-scaling: with `gamma = D / T` the operator is `D` times a fixed
//! operator, so the solution with diffusion `D` at time `tau` equals the `D = 1` solution at
//! `s = D^(1/alpha) tau`. One core-solver run per Caputo order therefore gives the whole
//! one-parameter family in `D`; the order itself is scanned on a grid and refined by golden
//! section (each trial order is one more solve).
//!
//! Two models:
//! - `reduced_landscape`: the training loss tabulated on a 2-D grid spanned by the top two
//!   principal directions of the late-window weights (coordinates in units of the standard
//!   deviation along the first direction), `c = unit^2 / explained`, with `explained` the
//!   fraction of the trajectory variance the two directions carry;
//! - `normal_crossing`: a minimum with LLC `lambda_bar` in its normal form
//!   `L = sum_{i <= d} |w_i|^(2k)` with `k = 2` and `d = 2 k lambda_bar` axes (each axis has
//!   LLC `1/(2k)`). The potential is separable, so by subordination the `d`-dimensional MSD is
//!   `d` times the MSD of one axis: one 1-D core-solver run per order. The length unit is set so
//!   that the steady-state variance matches the measured late-window weight variance.

use super::stats::ols;
use crate::analysis::results::{DisplacementPrediction, SteadyStateComparison};
use ffpe::predict::steady_state;
use ffpe::problem::{Initial, Potential, Problem};
use ffpe::solve::{MeshKind, SolveOptions, solve};
use serde::{Deserialize, Serialize};

/// The loss tabulated along the top two principal directions.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ReducedLandscape {
    /// Lower corner of the box (model units).
    pub lower: Vec<f64>,
    /// Upper corner of the box.
    pub upper: Vec<f64>,
    /// Cells per axis.
    pub cells: Vec<usize>,
    /// Loss at the cell centres, flat with axis 0 fastest.
    pub loss: Vec<f64>,
    /// One model length unit in weight space (standard deviation along direction 1).
    pub unit: f64,
    /// Coordinates of the first late-window snapshot (the model's start point).
    pub start: Vec<f64>,
    /// Coordinates of every late-window snapshot.
    pub projections: Vec<Vec<f64>>,
    /// Fraction of the late-window variance carried by the modelled directions.
    pub explained: f64,
}

/// The measured quantities a prediction needs.
#[derive(Clone, Debug)]
pub struct PredictionInput<'a> {
    /// Checkpoint steps.
    pub t: &'a [f64],
    /// Measured `R(t)`.
    pub r: &'a [f64],
    /// The late window.
    pub late: (f64, f64),
    /// Window-mean LLC.
    pub lambda_bar: f64,
    /// Temperature `T` (scale of the Gamma-law fit).
    pub temperature: f64,
    /// Total variance of the late-window weights (sum over all parameters).
    pub total_variance: f64,
}

/// Errors of the FFPE comparisons.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum PredictError {
    /// The core solver failed.
    #[error("ffpe solver: {0}")]
    Solver(#[from] ffpe::FfpeError),
    /// The data cannot support the fit.
    #[error("{0}")]
    Data(String),
}

/// An MSD curve `(s, msd)` of a reference solve.
type Curve = (Vec<f64>, Vec<f64>);

/// Output times of the reference (`D = 1`) solve: geometric over `[S_MIN, S_MAX]`.
const S_MIN: f64 = 1e-3;
const S_MAX: f64 = 1e6;
const S_POINTS: usize = 90;

fn reference_options(alpha: f64) -> SolveOptions {
    let times: Vec<f64> = (0..S_POINTS)
        .map(|i| S_MIN * (S_MAX / S_MIN).powf(i as f64 / (S_POINTS - 1) as f64))
        .collect();
    SolveOptions {
        t_end: S_MAX,
        steps: 500,
        // Grading concentrates steps near 0, where the output times are dense in ln s.
        mesh: MeshKind::Graded {
            r: Some(((2.0 - alpha) / alpha).clamp(4.0, 8.0)),
        },
        output_times: times,
        ..Default::default()
    }
}

/// MSD curve `(s, msd)` of one reference solve.
fn msd_curve(problem: &Problem, alpha: f64) -> Result<Curve, PredictError> {
    let sol = solve(problem, &reference_options(alpha))?;
    Ok((
        sol.times.clone(),
        sol.observables.iter().map(|o| o.msd.max(0.0)).collect(),
    ))
}

/// Interpolates `ln msd` linearly in `ln s`; below the range the free law `msd ~ s^alpha`,
/// above it the last value (saturated).
fn interp(curve: &Curve, alpha: f64, s: f64) -> f64 {
    let (ts, ms) = curve;
    let n = ts.len();
    if n == 0 {
        return 0.0;
    }
    if s <= ts[0] {
        return ms[0] * (s / ts[0]).powf(alpha);
    }
    if s >= ts[n - 1] {
        return ms[n - 1];
    }
    let i = ts.partition_point(|&x| x < s).clamp(1, n - 1);
    let (t0, t1) = (ts[i - 1], ts[i]);
    let (m0, m1) = (ms[i - 1].max(1e-300), ms[i].max(1e-300));
    let w = (s.ln() - t0.ln()) / (t1.ln() - t0.ln());
    (m0.ln() + w * (m1.ln() - m0.ln())).exp()
}

struct Split {
    t_a: f64,
    r_a: f64,
    fit: Vec<(f64, f64)>,
    test: Vec<(f64, f64)>,
}

fn split(inp: &PredictionInput) -> Result<Split, PredictError> {
    let (t_a, t_b) = inp.late;
    let t_m = (0.5 * (t_a.ln() + t_b.ln())).exp();
    let pts: Vec<(f64, f64)> = inp
        .t
        .iter()
        .zip(inp.r)
        .filter(|(t, r)| **t >= t_a && **t <= t_b && **r > 0.0)
        .map(|(t, r)| (*t, *r))
        .collect();
    let Some(&(t0, r0)) = pts.first() else {
        return Err(PredictError::Data("no points in the late window".into()));
    };
    let fit: Vec<(f64, f64)> = pts.iter().copied().filter(|p| p.0 <= t_m).collect();
    let test: Vec<(f64, f64)> = pts.iter().copied().filter(|p| p.0 > t_m).collect();
    if fit.len() < 3 || test.len() < 2 {
        return Err(PredictError::Data(format!(
            "late window too short for an out-of-sample test ({} fit, {} test points)",
            fit.len(),
            test.len()
        )));
    }
    Ok(Split {
        t_a: t0,
        r_a: r0,
        fit,
        test,
    })
}

fn predict_r(curve: &Curve, alpha: f64, kappa: f64, c: f64, sp: &Split, t: f64) -> f64 {
    let tau = (t - sp.t_a).max(0.0);
    (sp.r_a * sp.r_a + c * interp(curve, alpha, kappa * tau)).sqrt()
}

fn sse(curve: &Curve, alpha: f64, ln_kappa: f64, c: f64, sp: &Split) -> f64 {
    let k = ln_kappa.exp();
    sp.fit
        .iter()
        .map(|&(t, r)| (predict_r(curve, alpha, k, c, sp, t).ln() - r.ln()).powi(2))
        .sum()
}

/// Best `ln kappa` for one curve: coarse scan then golden section.
fn best_kappa(curve: &Curve, alpha: f64, c: f64, sp: &Split) -> (f64, f64) {
    let tau_min = sp
        .fit
        .iter()
        .map(|p| p.0 - sp.t_a)
        .filter(|x| *x > 0.0)
        .fold(f64::INFINITY, f64::min);
    let tau_max = sp.test.last().map_or(1.0, |p| p.0 - sp.t_a);
    let lo = (S_MIN / tau_max).ln() - 3.0;
    let hi = (S_MAX / tau_min.min(tau_max)).ln() + 3.0;
    let m = 80;
    let mut best = (f64::INFINITY, lo);
    for i in 0..=m {
        let x = lo + (hi - lo) * i as f64 / m as f64;
        let e = sse(curve, alpha, x, c, sp);
        if e < best.0 {
            best = (e, x);
        }
    }
    let h = (hi - lo) / m as f64;
    let (mut a, mut b) = (best.1 - h, best.1 + h);
    let g = (5f64.sqrt() - 1.0) / 2.0;
    for _ in 0..40 {
        let x1 = b - g * (b - a);
        let x2 = a + g * (b - a);
        if sse(curve, alpha, x1, c, sp) < sse(curve, alpha, x2, c, sp) {
            b = x2;
        } else {
            a = x1;
        }
    }
    let x = 0.5 * (a + b);
    (sse(curve, alpha, x, c, sp), x)
}

/// Fits order and diffusion with `make(alpha)` building the `D = 1` problem, and predicts.
fn fit_and_predict(
    model: &str,
    inp: &PredictionInput,
    c: f64,
    make: &dyn Fn(f64) -> Result<Problem, PredictError>,
) -> Result<DisplacementPrediction, PredictError> {
    let sp = split(inp)?;
    let mut solves = 0;
    let mut eval = |alpha: f64| -> Result<(f64, f64, Curve), PredictError> {
        let curve = msd_curve(&make(alpha)?, alpha)?;
        solves += 1;
        let (e, x) = best_kappa(&curve, alpha, c, &sp);
        Ok((e, x, curve))
    };
    // Scan the order, then refine by golden section in the bracket around the best.
    let grid: Vec<f64> = (1..=10).map(|i| i as f64 / 10.0).collect();
    let mut scan = Vec::new();
    for &a in &grid {
        let (e, x, curve) = eval(a)?;
        scan.push((a, e, x, curve));
    }
    let ib = scan
        .iter()
        .enumerate()
        .min_by(|x, y| x.1.1.total_cmp(&y.1.1))
        .map_or(0, |x| x.0);
    let mut best = scan.swap_remove(ib);
    let (mut a, mut b) = ((best.0 - 0.1).max(0.05), (best.0 + 0.1).min(1.0));
    let g = (5f64.sqrt() - 1.0) / 2.0;
    for _ in 0..6 {
        let x1 = b - g * (b - a);
        let x2 = a + g * (b - a);
        let r1 = eval(x1)?;
        let r2 = eval(x2)?;
        if r1.0 < r2.0 {
            b = x2;
            if r1.0 < best.1 {
                best = (x1, r1.0, r1.1, r1.2);
            }
        } else {
            a = x1;
            if r2.0 < best.1 {
                best = (x2, r2.0, r2.1, r2.2);
            }
        }
    }
    let (alpha, _, ln_kappa, curve) = best;
    let kappa = ln_kappa.exp();
    let pred = |t: f64| predict_r(&curve, alpha, kappa, c, &sp, t);
    let rmse = |pts: &[(f64, f64)], f: &dyn Fn(f64) -> f64| {
        (pts.iter()
            .map(|&(t, r)| (f(t).ln() - r.ln()).powi(2))
            .sum::<f64>()
            / pts.len() as f64)
            .sqrt()
    };
    // Naive: power law fitted on the first half, extrapolated.
    let (lx, ly): (Vec<f64>, Vec<f64>) = sp.fit.iter().map(|&(t, r)| (t.ln(), r.ln())).unzip();
    let naive = ols(&lx, &ly).map_err(|e| PredictError::Data(e.to_string()))?;
    let naive_f = |t: f64| (naive.intercept + naive.slope * t.ln()).exp();
    let test_rmse = rmse(&sp.test, &pred);
    let naive_rmse = rmse(&sp.test, &naive_f);
    let diffusion = kappa.powf(alpha);
    Ok(DisplacementPrediction {
        model: model.into(),
        caputo_alpha: alpha,
        diffusion,
        gamma: diffusion / inp.temperature,
        temperature: inp.temperature,
        t_origin: sp.t_a,
        fit_times: sp.fit.iter().map(|p| p.0).collect(),
        test_times: sp.test.iter().map(|p| p.0).collect(),
        measured_fit: sp.fit.iter().map(|p| p.1).collect(),
        measured_test: sp.test.iter().map(|p| p.1).collect(),
        predicted_fit: sp.fit.iter().map(|p| pred(p.0)).collect(),
        predicted_test: sp.test.iter().map(|p| pred(p.0)).collect(),
        naive_test: sp.test.iter().map(|p| naive_f(p.0)).collect(),
        fit_rmse_log: rmse(&sp.fit, &pred),
        test_rmse_log: test_rmse,
        naive_test_rmse_log: naive_rmse,
        beats_naive: test_rmse < naive_rmse,
        solves,
    })
}

fn check_inputs(inp: &PredictionInput) -> Result<(), PredictError> {
    if !(inp.temperature > 0.0 && inp.temperature.is_finite()) {
        return Err(PredictError::Data(format!(
            "temperature {} must be finite and > 0",
            inp.temperature
        )));
    }
    if !(inp.lambda_bar > 0.0 && inp.lambda_bar.is_finite()) {
        return Err(PredictError::Data(format!(
            "lambda_bar {} must be finite and > 0",
            inp.lambda_bar
        )));
    }
    Ok(())
}

/// Prediction on the reduced landscape (2-D tabulated loss).
pub fn predict_reduced(
    inp: &PredictionInput,
    land: &ReducedLandscape,
) -> Result<DisplacementPrediction, PredictError> {
    check_inputs(inp)?;
    let lmin = land.loss.iter().copied().fold(f64::INFINITY, f64::min);
    let table: Vec<f64> = land.loss.iter().map(|l| l - lmin).collect();
    let c = land.unit * land.unit / land.explained.max(1e-6);
    let t = inp.temperature;
    let make = |alpha: f64| -> Result<Problem, PredictError> {
        Ok(Problem::builder()
            .alpha(alpha)
            .diffusion_scalar(1.0)
            .gamma(1.0 / t)
            .potential(Potential::Tabulated(table.clone()))
            .domain(&land.lower, &land.upper, &land.cells)
            .initial(Initial::Point {
                at: land.start.clone(),
            })
            .build()?)
    };
    fit_and_predict("reduced_landscape", inp, c, &make)
}

/// Exponent parameter `k` of the normal-crossing model (`|w|^(2k)` per axis, LLC `1/(2k)`).
pub const NORMAL_CROSSING_K: f64 = 2.0;

/// Prediction on the normal-crossing model with LLC `lambda_bar`.
pub fn predict_normal_crossing(
    inp: &PredictionInput,
) -> Result<DisplacementPrediction, PredictError> {
    check_inputs(inp)?;
    let k = NORMAL_CROSSING_K;
    let d_axes = 2.0 * k * inp.lambda_bar;
    // Per axis L = T |w|^(2k) in model units: p_s ~ exp(-|w|^4), variance
    // Gamma(3/4) / Gamma(1/4) = 0.33799; the box [-3, 3] holds all but e^-81 of the mass.
    let var1 = 0.337_989_120_788_172_6;
    let unit2 = inp.total_variance / (d_axes * var1);
    let c = d_axes * unit2;
    let t = inp.temperature;
    let start = var1.sqrt();
    let make = |alpha: f64| -> Result<Problem, PredictError> {
        Ok(Problem::builder()
            .alpha(alpha)
            .diffusion_scalar(1.0)
            .gamma(1.0 / t)
            .potential(Potential::Power { coefficient: t, k })
            .domain(&[-3.0], &[3.0], &[160])
            .initial(Initial::Point { at: vec![start] })
            .build()?)
    };
    fit_and_predict("normal_crossing", inp, c, &make)
}

/// Histogram of the projections on direction 1 against the marginal of the reduced
/// landscape's FFPE steady state (solved by the core solver's null-space solve).
pub fn steady_state_comparison(
    land: &ReducedLandscape,
    temperature: f64,
) -> Result<SteadyStateComparison, PredictError> {
    if !(temperature > 0.0 && temperature.is_finite()) {
        return Err(PredictError::Data(format!(
            "temperature {temperature} must be finite and > 0"
        )));
    }
    let lmin = land.loss.iter().copied().fold(f64::INFINITY, f64::min);
    let table: Vec<f64> = land.loss.iter().map(|l| l - lmin).collect();
    let problem = Problem::builder()
        .alpha(1.0)
        .diffusion_scalar(temperature)
        .gamma(1.0)
        .potential(Potential::Tabulated(table))
        .domain(&land.lower, &land.upper, &land.cells)
        .build()?;
    let ss = steady_state(&problem)?;
    let (n0, n1) = (land.cells[0], land.cells.get(1).copied().unwrap_or(1));
    let h0 = (land.upper[0] - land.lower[0]) / n0 as f64;
    let h1 = if land.cells.len() > 1 {
        (land.upper[1] - land.lower[1]) / n1 as f64
    } else {
        1.0
    };
    let mut marg = vec![0.0; n0];
    for j in 0..n1 {
        for (i, m) in marg.iter_mut().enumerate() {
            *m += ss.density[j * n0 + i] * h1;
        }
    }
    let mut hist = vec![0.0; n0];
    let mut inside = 0usize;
    for p in &land.projections {
        let i = ((p[0] - land.lower[0]) / h0).floor();
        if i >= 0.0 && (i as usize) < n0 {
            hist[i as usize] += 1.0;
            inside += 1;
        }
    }
    let total = land.projections.len().max(1) as f64;
    hist.iter_mut().for_each(|h| *h /= total * h0);
    let l1 = hist
        .iter()
        .zip(&marg)
        .map(|(a, b)| (a - b).abs() * h0)
        .sum::<f64>()
        + (total - inside as f64) / total;
    Ok(SteadyStateComparison {
        centres: (0..n0)
            .map(|i| land.lower[0] + (i as f64 + 0.5) * h0)
            .collect(),
        measured_density: hist,
        ffpe_density: marg,
        l1_distance: l1,
        temperature,
        explained_variance: land.explained,
    })
}
