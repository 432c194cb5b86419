//! Principal directions of a weight trajectory (snapshots much fewer than parameters).
//!
//! With `m` snapshots of `p` parameters (`m << p`), the eigenvectors of the `m x m` Gram
//! matrix of the centred snapshots give the principal directions `u_k = X^T v_k / sqrt(mu_k)`.
//! The small symmetric eigenproblem is solved by cyclic Jacobi rotations.

use super::{AnalysisError, Result};
use serde::{Deserialize, Serialize};

/// Eigen-decomposition of a small symmetric matrix (row-major `n x n`) by cyclic Jacobi.
/// Returns eigenvalues in decreasing order and the matching eigenvectors (as rows).
pub fn symmetric_eigen(a: &[f64], n: usize) -> (Vec<f64>, Vec<Vec<f64>>) {
    let mut m = a.to_vec();
    let mut v = vec![0.0; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    for _sweep in 0..100 {
        let mut off = 0.0;
        for i in 0..n {
            for j in (i + 1)..n {
                off += m[i * n + j] * m[i * n + j];
            }
        }
        let scale: f64 = (0..n).map(|i| m[i * n + i].abs()).sum::<f64>().max(1e-300);
        if off.sqrt() <= 1e-15 * scale {
            break;
        }
        for p in 0..n {
            for q in (p + 1)..n {
                let apq = m[p * n + q];
                if apq.abs() <= 1e-300 {
                    continue;
                }
                let theta = (m[q * n + q] - m[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta.abs() < 1e-300 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let mkp = m[k * n + p];
                    let mkq = m[k * n + q];
                    m[k * n + p] = c * mkp - s * mkq;
                    m[k * n + q] = s * mkp + c * mkq;
                }
                for k in 0..n {
                    let mpk = m[p * n + k];
                    let mqk = m[q * n + k];
                    m[p * n + k] = c * mpk - s * mqk;
                    m[q * n + k] = s * mpk + c * mqk;
                }
                for k in 0..n {
                    let vkp = v[k * n + p];
                    let vkq = v[k * n + q];
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| m[j * n + j].total_cmp(&m[i * n + i]));
    let vals = order.iter().map(|&i| m[i * n + i]).collect();
    let vecs = order
        .iter()
        .map(|&i| (0..n).map(|k| v[k * n + i]).collect())
        .collect();
    (vals, vecs)
}

/// Principal directions of a set of snapshots.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Principal {
    /// Mean snapshot (the centre of the reduced landscape).
    pub mean: Vec<f64>,
    /// Unit directions, largest variance first.
    pub directions: Vec<Vec<f64>>,
    /// Variance along each direction (divisor m - 1).
    pub variances: Vec<f64>,
    /// Fraction of the total variance along each direction.
    pub explained: Vec<f64>,
    /// Coordinates of every snapshot along the directions (`[snapshot][direction]`).
    pub projections: Vec<Vec<f64>>,
}

/// Top `k` principal directions of `snapshots` (each of the same length).
///
/// ```
/// use ffpe_validation::analysis::pca::principal_directions;
/// let s = vec![vec![0.0, 0.0, 0.0], vec![2.0, 0.1, 0.0], vec![4.0, 0.0, 0.0], vec![6.0, -0.1, 0.0]];
/// let p = principal_directions(&s, 1).unwrap();
/// assert!(p.directions[0][0].abs() > 0.99 && p.explained[0] > 0.99);
/// ```
pub fn principal_directions(snapshots: &[Vec<f64>], k: usize) -> Result<Principal> {
    let m = snapshots.len();
    if m < 3 {
        return Err(AnalysisError::TooFewPoints {
            what: "principal directions snapshots",
            needed: 3,
            got: m,
        });
    }
    let p = snapshots[0].len();
    for s in snapshots {
        if s.len() != p {
            return Err(AnalysisError::LengthMismatch {
                what: "principal directions snapshot lengths",
                left: p,
                right: s.len(),
            });
        }
    }
    let mut mean = vec![0.0; p];
    for s in snapshots {
        for (a, b) in mean.iter_mut().zip(s) {
            *a += b / m as f64;
        }
    }
    let centred: Vec<Vec<f64>> = snapshots
        .iter()
        .map(|s| s.iter().zip(&mean).map(|(a, b)| a - b).collect())
        .collect();
    let mut g = vec![0.0; m * m];
    for i in 0..m {
        for j in i..m {
            let d: f64 = centred[i].iter().zip(&centred[j]).map(|(a, b)| a * b).sum();
            g[i * m + j] = d;
            g[j * m + i] = d;
        }
    }
    let total: f64 = (0..m).map(|i| g[i * m + i]).sum();
    if total <= 0.0 {
        return Err(AnalysisError::Degenerate {
            what: "principal directions",
            why: "all snapshots are equal",
        });
    }
    let (vals, vecs) = symmetric_eigen(&g, m);
    let k = k.min(m - 1);
    let mut directions = Vec::with_capacity(k);
    let mut variances = Vec::with_capacity(k);
    let mut explained = Vec::with_capacity(k);
    for (mu, v) in vals.iter().zip(&vecs).take(k) {
        if *mu <= 1e-14 * total {
            break;
        }
        let mut u = vec![0.0; p];
        for (c, vi) in centred.iter().zip(v) {
            for (a, b) in u.iter_mut().zip(c) {
                *a += vi * b;
            }
        }
        let norm = u.iter().map(|x| x * x).sum::<f64>().sqrt();
        u.iter_mut().for_each(|x| *x /= norm);
        directions.push(u);
        variances.push(mu / (m - 1) as f64);
        explained.push(mu / total);
    }
    let projections = centred
        .iter()
        .map(|c| {
            directions
                .iter()
                .map(|u| u.iter().zip(c).map(|(a, b)| a * b).sum())
                .collect()
        })
        .collect();
    Ok(Principal {
        mean,
        directions,
        variances,
        explained,
        projections,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::stats::SplitMix64;

    #[test]
    fn jacobi_matches_known_spectrum() {
        // [[2,1],[1,2]] has eigenvalues 3 and 1.
        let (v, e) = symmetric_eigen(&[2.0, 1.0, 1.0, 2.0], 2);
        assert!((v[0] - 3.0).abs() < 1e-12 && (v[1] - 1.0).abs() < 1e-12);
        assert!((e[0][0].abs() - 0.5f64.sqrt()).abs() < 1e-12);
    }

    #[test]
    fn recovers_planted_directions() {
        // Snapshots = a1 u1 + a2 u2 + small noise with var(a1) = 9, var(a2) = 1.
        let p = 500;
        let mut rng = SplitMix64::new(2);
        let mut u1: Vec<f64> = (0..p).map(|_| rng.normal()).collect();
        let n1 = u1.iter().map(|x| x * x).sum::<f64>().sqrt();
        u1.iter_mut().for_each(|x| *x /= n1);
        let mut u2: Vec<f64> = (0..p).map(|_| rng.normal()).collect();
        let d: f64 = u2.iter().zip(&u1).map(|(a, b)| a * b).sum();
        u2.iter_mut().zip(&u1).for_each(|(a, b)| *a -= d * b);
        let n2 = u2.iter().map(|x| x * x).sum::<f64>().sqrt();
        u2.iter_mut().for_each(|x| *x /= n2);
        let snaps: Vec<Vec<f64>> = (0..200)
            .map(|_| {
                let (a1, a2) = (3.0 * rng.normal(), rng.normal());
                (0..p)
                    .map(|i| a1 * u1[i] + a2 * u2[i] + 1e-3 * rng.normal())
                    .collect()
            })
            .collect();
        let pc = principal_directions(&snaps, 2).unwrap();
        let c1: f64 = pc.directions[0].iter().zip(&u1).map(|(a, b)| a * b).sum();
        let c2: f64 = pc.directions[1].iter().zip(&u2).map(|(a, b)| a * b).sum();
        assert!(c1.abs() > 0.999 && c2.abs() > 0.999, "{c1} {c2}");
        // Sampling error of a variance with 200 draws: ~10 %; allow 25 %.
        assert!((pc.variances[0] / 9.0 - 1.0).abs() < 0.25);
        assert!(pc.explained[0] + pc.explained[1] > 0.99);
    }
}
