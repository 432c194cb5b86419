//! The local learning coefficient (LLC) of a potential by volume scaling:
//! `V(eps) = vol{ w in box : L(w) - L(w*) < eps } ~ eps^lambda`.
//!
//! `V(eps)` is measured either by midpoint quadrature on a uniform grid of the box or by
//! uniform sampling; `lambda` is the OLS slope of `log V` on `log eps` over a range of
//! `eps` (`multiplicity = 1`). With multiplicity `m > 1` the model is the asymptotic form
//! of the volume function, `V = eps^lambda sum_{j<m} c_j (ln 1/eps)^j`, fitted by variable
//! projection: normal crossings such as `(w1 w2)^2` (`lambda = 1/2`, `m = 2`) have a log
//! factor that otherwise biases the plain slope low (0.36 to 0.45 over practical ranges).

use crate::error::{FfpeError, Result};
use crate::problem::Potential;
use serde::Serialize;

/// How `V(eps)` is measured.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub enum LlcMethod {
    /// Midpoint rule with this many points per axis.
    Quadrature {
        /// Points per axis.
        points_per_axis: usize,
    },
    /// Uniform sampling with this many samples and seed.
    Sampling {
        /// Number of samples.
        samples: usize,
        /// RNG seed.
        seed: u64,
    },
}

/// Result of an LLC fit.
#[derive(Clone, Debug, Serialize)]
pub struct LlcFit {
    /// The fitted LLC `lambda`.
    pub lambda: f64,
    /// The multiplicity `m` used in the model (1: plain power law).
    pub multiplicity: usize,
    /// `r^2` of the fit.
    pub r2: f64,
    /// The `eps` values used.
    pub eps: Vec<f64>,
    /// The measured volumes.
    pub volumes: Vec<f64>,
}

/// splitmix64: a tiny, seedable generator (no external RNG needed here).
struct SplitMix(u64);
impl SplitMix {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The `eps` values of a volume-scaling fit: `count` log-spaced values in `[min, max]`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct EpsRange {
    /// Smallest `eps > 0` (`llc.eps_range` in errors).
    pub min: f64,
    /// Largest `eps` (`> min`; `< 1` with multiplicity `> 1`).
    pub max: f64,
    /// Number of values, `>= 3` (`llc.n_eps` in errors).
    pub count: usize,
}

/// LLC of `potential` at `center` by volume scaling over the box `[lower, upper]`,
/// at the log-spaced `eps` of [`EpsRange`] and with the given multiplicity (1 for a
/// plain power law).
///
/// ```
/// use ffpe::predict::{EpsRange, LlcMethod, llc_volume_scaling};
/// use ffpe::problem::Potential;
/// let quartic = Potential::Power { coefficient: 1.0, k: 2.0 }; // w^4: lambda = 1/4
/// let eps = EpsRange { min: 1e-8, max: 1e-2, count: 12 };
/// let fit = llc_volume_scaling(&quartic, &[-1.0], &[1.0], &[0.0], eps,
///     LlcMethod::Quadrature { points_per_axis: 200_000 }, 1).unwrap();
/// assert!((fit.lambda - 0.25).abs() < 0.01);
/// ```
pub fn llc_volume_scaling(
    potential: &Potential,
    lower: &[f64],
    upper: &[f64],
    center: &[f64],
    eps: EpsRange,
    method: LlcMethod,
    multiplicity: usize,
) -> Result<LlcFit> {
    let EpsRange {
        min: e0,
        max: e1,
        count: n_eps,
    } = eps;
    let d = lower.len();
    if upper.len() != d || center.len() != d {
        return Err(FfpeError::DimensionMismatch {
            key: "llc.upper/center".into(),
            found: upper.len().min(center.len()),
            expected: d,
        });
    }
    if !(e0 > 0.0 && e1 > e0 && e1.is_finite()) {
        return Err(FfpeError::out_of_range(
            "llc.eps_range",
            format!("{e0},{e1}"),
            "0 < eps_min < eps_max",
        ));
    }
    if multiplicity > 1 && e1 >= 1.0 {
        return Err(FfpeError::out_of_range(
            "llc.eps_range",
            e1,
            "eps_max < 1 with multiplicity > 1",
        ));
    }
    if multiplicity > 4 || multiplicity + 1 > n_eps {
        return Err(FfpeError::out_of_range(
            "llc.multiplicity",
            multiplicity,
            "1 <= multiplicity <= 4 and < n_eps",
        ));
    }
    if n_eps < 3 {
        return Err(FfpeError::out_of_range("llc.n_eps", n_eps, "n_eps >= 3"));
    }
    let l0 = potential.value(center)?;
    let box_vol: f64 = (0..d).map(|a| upper[a] - lower[a]).product();
    let mut w = vec![0.0; d];
    let mut excess: Vec<f64> = match method {
        LlcMethod::Quadrature { points_per_axis } => {
            let n = points_per_axis.max(2);
            let total = (n as u128).pow(d as u32);
            if total > 200_000_000 {
                return Err(FfpeError::out_of_range(
                    "llc.points_per_axis",
                    n,
                    "points_per_axis^d <= 2e8",
                ));
            }
            let mut out = Vec::with_capacity(total as usize);
            let mut mi = vec![0usize; d];
            for _ in 0..total {
                for a in 0..d {
                    w[a] = lower[a] + (mi[a] as f64 + 0.5) * (upper[a] - lower[a]) / n as f64;
                }
                out.push(potential.value(&w)? - l0);
                for m in mi.iter_mut() {
                    *m += 1;
                    if *m < n {
                        break;
                    }
                    *m = 0;
                }
            }
            out
        }
        LlcMethod::Sampling { samples, seed } => {
            let mut rng = SplitMix(seed);
            let mut out = Vec::with_capacity(samples);
            for _ in 0..samples {
                for a in 0..d {
                    w[a] = lower[a] + rng.next_f64() * (upper[a] - lower[a]);
                }
                out.push(potential.value(&w)? - l0);
            }
            out
        }
    };
    excess.sort_by(|a, b| a.total_cmp(b));
    let total = excess.len() as f64;
    let mut eps = Vec::with_capacity(n_eps);
    let mut vols = Vec::with_capacity(n_eps);
    for i in 0..n_eps {
        let e = (e0.ln() + (e1.ln() - e0.ln()) * i as f64 / (n_eps - 1) as f64).exp();
        let count = excess.partition_point(|&x| x < e);
        if count == 0 {
            return Err(FfpeError::out_of_range(
                "llc.eps_range",
                e,
                "eps large enough that the resolution sees the sublevel set (raise eps_min or points)",
            ));
        }
        eps.push(e);
        vols.push(box_vol * count as f64 / total);
    }
    let ly: Vec<f64> = vols.iter().map(|v| v.ln()).collect();
    let lx: Vec<f64> = eps.iter().map(|e| e.ln()).collect();
    if multiplicity <= 1 {
        let f = super::exponent::ols(&lx, &ly)?;
        return Ok(LlcFit {
            lambda: f.slope,
            multiplicity: 1,
            r2: f.r2,
            eps,
            volumes: vols,
        });
    }
    // Multiplicity m >= 2: V(eps) = eps^lambda sum_{j<m} c_j (ln 1/eps)^j (the asymptotic
    // form of the volume function of singular learning theory). For fixed lambda the c_j
    // follow from a linear least-squares fit in relative error; lambda minimises the
    // residual (coarse scan, then golden section).
    let mut lu = ffpe_solvers::linalg::DenseLu::new(multiplicity);
    let mut resid = |lam: f64| -> f64 {
        let m = multiplicity;
        // weighted LS: minimise sum ((sum_j c_j b_ij) / y_i - 1)^2, y_i = V_i eps_i^-lam
        let mut ata = vec![0.0; m * m];
        let mut atb = vec![0.0; m];
        let rows: Vec<Vec<f64>> = eps
            .iter()
            .zip(&vols)
            .map(|(e, v)| {
                let y = v * e.powf(-lam);
                let l = (1.0 / e).ln();
                (0..m).map(|j| l.powi(j as i32) / y).collect()
            })
            .collect();
        for r in &rows {
            for a in 0..m {
                atb[a] += r[a];
                for b in 0..m {
                    ata[a * m + b] += r[a] * r[b];
                }
            }
        }
        // the normal equations, by faer's LU (pivots below 1e-300: no fit at this lambda)
        if !lu.solve(&ata, &mut atb, 1e-300) {
            return f64::INFINITY;
        }
        let c = atb;
        rows.iter()
            .map(|r| {
                let f: f64 = r.iter().zip(&c).map(|(x, y)| x * y).sum();
                (f - 1.0).powi(2)
            })
            .sum()
    };
    let (mut best, mut best_r) = (0.0, f64::INFINITY);
    let scan = 2000;
    for i in 1..=scan {
        let lam = 10.0 * i as f64 / scan as f64;
        let r = resid(lam);
        if r < best_r {
            best = lam;
            best_r = r;
        }
    }
    let (mut a, mut b) = (best - 0.005, best + 0.005);
    let g = 0.5 * (5f64.sqrt() - 1.0);
    for _ in 0..80 {
        let (x1, x2) = (b - g * (b - a), a + g * (b - a));
        if resid(x1) < resid(x2) {
            b = x2;
        } else {
            a = x1;
        }
    }
    let lambda = 0.5 * (a + b);
    let sse = resid(lambda);
    let my = ly.iter().sum::<f64>() / ly.len() as f64;
    let syy: f64 = ly.iter().map(|y| (y - my).powi(2)).sum();
    Ok(LlcFit {
        lambda,
        multiplicity,
        r2: if syy > 0.0 { 1.0 - sse / syy } else { 1.0 },
        eps,
        volumes: vols,
    })
}
