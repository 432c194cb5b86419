//! The Ornstein-Uhlenbeck rival (module docs, item 11): SGD linearised at `w*`, its exact
//! Gaussian law, and a sample of it with the SGD sample's cluster structure.

#[allow(unused_imports)]
use super::*;

/// The linearised SGD at `w*`: with `x_t = w_t - w*`,
/// `x_(t+1) = A x_t - eta g + eta xi_t`, `A = I - eta H`, `cov(xi_t) = C / B`,
/// `g = grad L(w*)`, `H` the Hessian of `L` at `w*` (symmetric). Everything is kept in the
/// eigenbasis of `H` (`H = V diag(lambda) V^T`), where `A` is diagonal and the Lyapunov
/// equation decouples entry by entry.
#[derive(Clone, Debug)]
pub struct LinearSgd {
    d: usize,
    eta: f64,
    /// Eigenvalues of `H`, largest first.
    lambda: Vec<f64>,
    /// Eigenvectors of `H`: `v[k * d + i]` is component `k` of eigenvector `i`.
    v: Vec<f64>,
    /// `V^T Q V` with `Q = eta^2 C / B`, the per-step noise covariance.
    q: Vec<f64>,
    /// `V^T g`.
    g: Vec<f64>,
}

/// `sum_(k < s) r^k` with `1 - r` given as `omr` (computed without cancellation by the caller).
fn geometric(omr: f64, s: usize) -> f64 {
    let r = 1.0 - omr;
    if omr == 0.0 {
        s as f64
    } else if r > 0.0 {
        // -expm1(s ln r) / (1 - r): no cancellation when r is near 1
        -(s as f64 * (-omr).ln_1p()).exp_m1() / omr
    } else {
        (1.0 - r.powi(s.min(i32::MAX as usize) as i32)) / omr
    }
}

/// `r^s` with `1 - r` given as `omr`.
fn power(omr: f64, s: usize) -> f64 {
    let r = 1.0 - omr;
    if r > 0.0 {
        (s as f64 * (-omr).ln_1p()).exp()
    } else {
        r.powi(s.min(i32::MAX as usize) as i32)
    }
}

impl LinearSgd {
    /// The recursion of the Hessian `h` and gradient covariance `c` (both `d x d` row-major,
    /// symmetric), the gradient `g` at `w*`, learning rate `eta` and batch size `batch`.
    pub fn new(h: &[f64], c: &[f64], g: &[f64], eta: f64, batch: usize) -> Result<LinearSgd> {
        let d = g.len();
        if h.len() != d * d || c.len() != d * d {
            return Err(Error::config(
                "moons.ou",
                format!("H {} and C {} entries for d = {d}", h.len(), c.len()),
                "d x d matrices",
            ));
        }
        if !(h.iter().chain(c).chain(g).all(|v| v.is_finite())) {
            return Err(Error::config(
                "moons.ou",
                "a non-finite entry of H, C or grad L(w*)",
                "finite curvature and gradient noise at w*",
            ));
        }
        let (lambda, vecs) = symmetric_eigen(h, d);
        let mut v = vec![0.0; d * d];
        for (i, e) in vecs.iter().enumerate() {
            for k in 0..d {
                v[k * d + i] = e[k];
            }
        }
        let scale = eta * eta / batch as f64;
        let mut q = vec![0.0; d * d];
        // V^T C V, then times eta^2 / B
        let mut cv = vec![0.0; d * d];
        for a in 0..d {
            for j in 0..d {
                cv[a * d + j] = (0..d).map(|b| c[a * d + b] * v[b * d + j]).sum();
            }
        }
        for i in 0..d {
            for j in 0..d {
                q[i * d + j] = scale * (0..d).map(|a| v[a * d + i] * cv[a * d + j]).sum::<f64>();
            }
        }
        let gt = (0..d)
            .map(|i| (0..d).map(|k| v[k * d + i] * g[k]).sum())
            .collect();
        Ok(LinearSgd {
            d,
            eta,
            lambda,
            v,
            q,
            g: gt,
        })
    }

    /// Eigenvalues of `H`, largest first.
    pub fn hessian_eigenvalues(&self) -> &[f64] {
        &self.lambda
    }

    /// Whether the recursion has a stationary law: every `|1 - eta lambda_i| < 1`, i.e.
    /// `0 < eta lambda_i < 2`.
    pub fn is_stationary(&self) -> bool {
        self.lambda.iter().all(|&l| l > 0.0 && self.eta * l < 2.0)
    }

    /// `1 - a_i a_j = eta (lambda_i + lambda_j) - eta^2 lambda_i lambda_j`, without cancellation.
    fn omr(&self, i: usize, j: usize) -> f64 {
        let (li, lj) = (self.lambda[i], self.lambda[j]);
        self.eta * (li + lj) - self.eta * self.eta * li * lj
    }

    /// From the eigenbasis to weight coordinates: `V y`.
    fn to_weights(&self, y: &[f64]) -> Vec<f64> {
        let d = self.d;
        (0..d)
            .map(|k| (0..d).map(|i| self.v[k * d + i] * y[i]).sum())
            .collect()
    }

    /// `V M V^T` of a matrix `m` in the eigenbasis.
    fn matrix_to_weights(&self, m: &[f64]) -> Vec<f64> {
        let d = self.d;
        let mut mv = vec![0.0; d * d];
        for i in 0..d {
            for b in 0..d {
                mv[i * d + b] = (0..d).map(|j| m[i * d + j] * self.v[b * d + j]).sum();
            }
        }
        let mut out = vec![0.0; d * d];
        for a in 0..d {
            for b in 0..d {
                out[a * d + b] = (0..d).map(|i| self.v[a * d + i] * mv[i * d + b]).sum();
            }
        }
        out
    }

    /// Mean of `x_t` from `x_0 = 0` (`None`: the stationary mean `-H^-1 g`), eigenbasis.
    fn mean_eig(&self, t: Option<usize>) -> Vec<f64> {
        (0..self.d)
            .map(|i| {
                let omr = self.eta * self.lambda[i];
                match t {
                    Some(t) => -self.eta * self.g[i] * geometric(omr, t),
                    None => -self.g[i] / self.lambda[i],
                }
            })
            .collect()
    }

    /// Covariance of `x_t` from `x_0 = 0` (`sum_(k < t) A^k Q A^k`; `None`: the stationary
    /// one, the solution of `S = A S A^T + Q`), eigenbasis.
    fn cov_eig(&self, t: Option<usize>) -> Vec<f64> {
        let d = self.d;
        let mut s = vec![0.0; d * d];
        for i in 0..d {
            for j in 0..d {
                let omr = self.omr(i, j);
                s[i * d + j] = self.q[i * d + j]
                    * match t {
                        Some(t) => geometric(omr, t),
                        None => 1.0 / omr,
                    };
            }
        }
        s
    }

    /// Mean of `w_t - w*` after `t` steps from `w*` (`None`: the stationary mean `-H^-1 g`,
    /// meaningful only when [`LinearSgd::is_stationary`]).
    pub fn mean(&self, t: Option<usize>) -> Vec<f64> {
        self.to_weights(&self.mean_eig(t))
    }

    /// Covariance of `w_t` after `t` steps from `w*` (`None`: the stationary covariance `S`,
    /// the solution of the discrete Lyapunov equation `S = A S A^T + eta^2 C / B`, entry by
    /// entry in the eigenbasis: `S~_ij = Q~_ij / (1 - a_i a_j)`; meaningful only when
    /// [`LinearSgd::is_stationary`]), `d x d` row-major.
    pub fn covariance(&self, t: Option<usize>) -> Vec<f64> {
        self.matrix_to_weights(&self.cov_eig(t))
    }

    /// `A^s` in weight coordinates.
    pub fn transition(&self, s: usize) -> Vec<f64> {
        let d = self.d;
        let mut m = vec![0.0; d * d];
        for i in 0..d {
            m[i * d + i] = power(self.eta * self.lambda[i], s);
        }
        self.matrix_to_weights(&m)
    }

    /// One run's recorded deviations `w_t - w*` at steps `first, first + spacing, ...`
    /// (`count` of them), drawn from the exact Gaussian law of the recursion: from `w*` at step
    /// 0, or (`stationary`) from the stationary law at step `first`; consecutive draws are
    /// linked by `x_(t+s) = A^s x_t + m_s + N(0, S_s)`, `m_s`, `S_s` the mean and covariance
    /// after `s` steps from 0, so the draws of a run are correlated as the recursion makes them.
    pub fn draw_run(
        &self,
        first: usize,
        spacing: usize,
        count: usize,
        stationary: bool,
        rng: &mut Rng,
    ) -> Vec<Vec<f64>> {
        let start = if stationary { None } else { Some(first) };
        let (m0, f0) = (self.mean_eig(start), factor(&self.cov_eig(start), self.d));
        let (ms, fs) = (
            self.mean_eig(Some(spacing)),
            factor(&self.cov_eig(Some(spacing)), self.d),
        );
        let decay: Vec<f64> = self
            .lambda
            .iter()
            .map(|&l| power(self.eta * l, spacing))
            .collect();
        let mut y = gaussian(&m0, &f0, rng);
        let mut out = vec![self.to_weights(&y)];
        for _ in 1..count {
            let noise = gaussian(&ms, &fs, rng);
            for i in 0..self.d {
                y[i] = decay[i] * y[i] + noise[i];
            }
            out.push(self.to_weights(&y));
        }
        out
    }
}

/// A square-root factor `F` with `F F^T = m` of a symmetric positive semi-definite `m`
/// (eigenvalues below 0 from rounding set to 0), `d x d` row-major.
fn factor(m: &[f64], d: usize) -> Vec<f64> {
    let (vals, vecs) = symmetric_eigen(m, d);
    let mut f = vec![0.0; d * d];
    for (j, (l, e)) in vals.iter().zip(&vecs).enumerate() {
        let s = l.max(0.0).sqrt();
        for k in 0..d {
            f[k * d + j] = e[k] * s;
        }
    }
    f
}

/// `mean + F z`, `z` standard normal.
fn gaussian(mean: &[f64], f: &[f64], rng: &mut Rng) -> Vec<f64> {
    let d = mean.len();
    let z: Vec<f64> = (0..d).map(|_| rng.normal()).collect();
    (0..d)
        .map(|k| mean[k] + (0..d).map(|j| f[k * d + j] * z[j]).sum::<f64>())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matmul(a: &[f64], b: &[f64], d: usize) -> Vec<f64> {
        let mut c = vec![0.0; d * d];
        for i in 0..d {
            for k in 0..d {
                for j in 0..d {
                    c[i * d + j] += a[i * d + k] * b[k * d + j];
                }
            }
        }
        c
    }

    fn transpose(a: &[f64], d: usize) -> Vec<f64> {
        (0..d * d).map(|k| a[(k % d) * d + k / d]).collect()
    }

    /// A generic symmetric positive definite `H` (eigenvalues spread over two decades) and a
    /// positive definite `C` that does not commute with it.
    fn generic(d: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let mut rng = Rng::new(5, &[1]);
        let b: Vec<f64> = (0..d * d).map(|_| rng.normal()).collect();
        let mut h = matmul(&b, &transpose(&b, d), d);
        for i in 0..d {
            h[i * d + i] += 0.05;
        }
        let l: Vec<f64> = (0..d * d).map(|_| rng.normal()).collect();
        let mut c = matmul(&l, &transpose(&l, d), d);
        for i in 0..d {
            c[i * d + i] += 0.1;
        }
        let g: Vec<f64> = (0..d).map(|_| 0.1 * rng.normal()).collect();
        (h, c, g)
    }

    fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max)
    }

    /// The stationary covariance solves `S = A S A^T + Q` (residual at rounding: the
    /// eigen-decomposition is accurate to ~1e-15 relative and the products add a few ulps per
    /// term), equals the converged second-moment recursion `P_(t+1) = A P_t A^T + Q` from 0,
    /// and the closed form `Q (I - A^2)^-1` when `Q` is a function of `H`.
    #[test]
    fn lyapunov_solution_matches_recursion_and_closed_form() {
        let d = 5;
        let (h, c, g) = generic(d);
        let (lambda, _) = symmetric_eigen(&h, d);
        // eta so that eta lambda_max = 1.5 (inside (0, 2)) and the slowest mode relaxes in
        // ~1 / (eta lambda_min) steps
        let eta = 1.5 / lambda[0];
        let batch = 4;
        let lin = LinearSgd::new(&h, &c, &g, eta, batch).unwrap();
        assert!(lin.is_stationary());
        let s = lin.covariance(None);
        let mut a = vec![0.0; d * d];
        for i in 0..d {
            for j in 0..d {
                a[i * d + j] = f64::from(u8::from(i == j)) - eta * h[i * d + j];
            }
        }
        let q: Vec<f64> = c.iter().map(|v| v * eta * eta / batch as f64).collect();
        let asa = matmul(&matmul(&a, &s, d), &transpose(&a, d), d);
        let resid: Vec<f64> = (0..d * d).map(|k| s[k] - asa[k] - q[k]).collect();
        let smax = s.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(
            max_abs_diff(&resid, &vec![0.0; d * d]) < 1e-12 * smax,
            "{resid:?}"
        );
        // the recursion converges as rho^(2t), rho = max |1 - eta lambda|
        let rho = lambda
            .iter()
            .map(|l| (1.0 - eta * l).abs())
            .fold(0.0, f64::max);
        let t = (40.0 / -rho.ln()).ceil() as usize;
        let mut p = vec![0.0; d * d];
        for _ in 0..t {
            let apa = matmul(&matmul(&a, &p, d), &transpose(&a, d), d);
            p = (0..d * d).map(|k| apa[k] + q[k]).collect();
        }
        // after t steps the remainder is rho^(2t) S ~ e^-80 S; the sum of t terms adds
        // rounding of ~t eps |S|
        assert!(
            max_abs_diff(&p, &s) < 1e-12 * t as f64 * smax,
            "{p:?} vs {s:?}"
        );
        // the finite-time covariance at that t is the same sum
        assert!(max_abs_diff(&lin.covariance(Some(t)), &p) < 1e-12 * t as f64 * smax);
        // the finite-time mean is -eta sum_(k<t) A^k g
        let mut m = vec![0.0; d];
        for _ in 0..7 {
            m = (0..d)
                .map(|i| (0..d).map(|j| a[i * d + j] * m[j]).sum::<f64>() - eta * g[i])
                .collect();
        }
        assert!(max_abs_diff(&lin.mean(Some(7)), &m) < 1e-13, "{m:?}");
        // the stationary mean is -H^-1 g: H m = -g
        let ms = lin.mean(None);
        let hm: Vec<f64> = (0..d)
            .map(|i| (0..d).map(|j| h[i * d + j] * ms[j]).sum::<f64>() + g[i])
            .collect();
        assert!(max_abs_diff(&hm, &vec![0.0; d]) < 1e-12, "{hm:?}");

        // commuting case: C = H^2 + H (a polynomial in H) => S = Q (I - A^2)^-1 =
        // (eta^2 / B) (H^2 + H) / (2 eta H - eta^2 H^2) = (eta / B) (H + I) (2 I - eta H)^-1,
        // checked in H's eigenbasis
        let c2: Vec<f64> = matmul(&h, &h, d)
            .iter()
            .zip(&h)
            .map(|(a, b)| a + b)
            .collect();
        let lin2 = LinearSgd::new(&h, &c2, &g, eta, batch).unwrap();
        let s2 = lin2.covariance(None);
        let (_, vecs) = symmetric_eigen(&h, d);
        for (l, e) in lambda.iter().zip(&vecs) {
            let want = eta / batch as f64 * (l + 1.0) / (2.0 - eta * l);
            let se: Vec<f64> = (0..d)
                .map(|i| (0..d).map(|j| s2[i * d + j] * e[j]).sum())
                .collect();
            let got: f64 = se.iter().zip(e).map(|(a, b)| a * b).sum();
            assert!(
                (got - want).abs() < 1e-12 * want.abs().max(1.0),
                "{got} vs {want}"
            );
            // and e is an eigenvector of S (the rest of S e vanishes)
            let rest: f64 = se
                .iter()
                .zip(e)
                .map(|(a, b)| (a - got * b).powi(2))
                .sum::<f64>()
                .sqrt();
            assert!(rest < 1e-12 * want.abs().max(1.0), "{rest}");
        }
    }

    /// `draw_run` against a direct simulation of the linear recursion: the draws' means,
    /// covariances and the covariance between consecutive draws of a run agree with the
    /// recursion simulated step by step (both Monte Carlo; the difference of two independent
    /// sample means has sd `sqrt(2 S_kk / N)`, of two sample covariances about
    /// `sqrt(2 (S_ii S_jj + S_ij^2) / N)`, so 5 of those is a 1-in-10^6 false failure).
    #[test]
    fn draws_match_a_simulation_of_the_recursion() {
        let d = 3;
        let (h, c, g) = generic(d);
        let (lambda, _) = symmetric_eigen(&h, d);
        let eta = 0.5 / lambda[0];
        let batch = 2;
        let lin = LinearSgd::new(&h, &c, &g, eta, batch).unwrap();
        let (first, spacing, count, n) = (12usize, 5usize, 2usize, 40_000usize);
        let mut a = vec![0.0; d * d];
        for i in 0..d {
            for j in 0..d {
                a[i * d + j] = f64::from(u8::from(i == j)) - eta * h[i * d + j];
            }
        }
        // noise eta xi with cov eta^2 C / B: a Cholesky-like factor of C from `factor`
        let fc = factor(&c, d);
        let sd = eta / (batch as f64).sqrt();
        let mut rng = Rng::new(9, &[2]);
        let mut sim: Vec<Vec<f64>> = Vec::with_capacity(n);
        for _ in 0..n {
            let mut x = vec![0.0; d];
            let mut rec = Vec::new();
            for t in 1..=first + (count - 1) * spacing {
                let z: Vec<f64> = (0..d).map(|_| rng.normal()).collect();
                x = (0..d)
                    .map(|i| {
                        (0..d).map(|j| a[i * d + j] * x[j]).sum::<f64>() - eta * g[i]
                            + sd * (0..d).map(|j| fc[i * d + j] * z[j]).sum::<f64>()
                    })
                    .collect();
                if t >= first && (t - first) % spacing == 0 {
                    rec.extend_from_slice(&x);
                }
            }
            sim.push(rec);
        }
        let mut rng = Rng::new(10, &[3]);
        let drawn: Vec<Vec<f64>> = (0..n)
            .map(|_| {
                lin.draw_run(first, spacing, count, false, &mut rng)
                    .concat()
            })
            .collect();
        let k = d * count;
        let moments = |s: &[Vec<f64>]| {
            let mut m = vec![0.0; k];
            for r in s {
                for (a, b) in m.iter_mut().zip(r) {
                    *a += b / n as f64;
                }
            }
            let mut cov = vec![0.0; k * k];
            for r in s {
                for i in 0..k {
                    for j in 0..k {
                        cov[i * k + j] += (r[i] - m[i]) * (r[j] - m[j]) / (n - 1) as f64;
                    }
                }
            }
            (m, cov)
        };
        let (m1, c1) = moments(&sim);
        let (m2, c2) = moments(&drawn);
        for i in 0..k {
            let tol = 5.0 * (2.0 * c1[i * k + i] / n as f64).sqrt();
            assert!(
                (m1[i] - m2[i]).abs() < tol,
                "mean {i}: {} vs {}",
                m1[i],
                m2[i]
            );
            for j in 0..k {
                let (sii, sjj, sij) = (c1[i * k + i], c1[j * k + j], c1[i * k + j]);
                let tol = 5.0 * (2.0 * (sii * sjj + sij * sij) / n as f64).sqrt();
                assert!(
                    (c1[i * k + j] - c2[i * k + j]).abs() < tol,
                    "cov {i},{j}: {} vs {}",
                    c1[i * k + j],
                    c2[i * k + j]
                );
            }
        }
        // and the exact law: the first draw's mean and covariance are mean(first), cov(first)
        let (mf, cf) = (lin.mean(Some(first)), lin.covariance(Some(first)));
        for i in 0..d {
            let tol = 5.0 * (cf[i * d + i] / n as f64).sqrt();
            assert!((m2[i] - mf[i]).abs() < tol, "{i}: {} vs {}", m2[i], mf[i]);
        }
        // the transition A^s is the s-th power of A
        let mut p = a.clone();
        for _ in 1..spacing {
            p = matmul(&p, &a, d);
        }
        assert!(max_abs_diff(&lin.transition(spacing), &p) < 1e-13);
    }

    /// A non-positive curvature direction has no stationary law but a finite-time one: the
    /// variance grows as `t Q` along a zero eigenvalue and the mean as `-eta t g`.
    #[test]
    fn flat_direction_grows_linearly() {
        let h = vec![1.0, 0.0, 0.0, 0.0];
        let c = vec![1.0, 0.0, 0.0, 2.0];
        let g = vec![0.0, 0.5];
        let (eta, batch, t) = (0.1, 1, 50);
        let lin = LinearSgd::new(&h, &c, &g, eta, batch).unwrap();
        assert!(!lin.is_stationary());
        let s = lin.covariance(Some(t));
        assert!((s[3] - t as f64 * eta * eta * 2.0).abs() < 1e-12);
        let m = lin.mean(Some(t));
        assert!((m[1] + eta * t as f64 * 0.5).abs() < 1e-12);
        // the curved direction: Q sum_(k<t) (1 - eta)^(2k)
        let want = eta * eta * (1.0 - (1.0 - eta).powi(2 * t as i32)) / (1.0 - (1.0 - eta).powi(2));
        assert!((s[0] - want).abs() < 1e-14, "{} vs {want}", s[0]);
    }
}
