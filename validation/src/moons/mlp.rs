//! The tanh MLP of the Moons test, with its own backpropagation (f64).

#[allow(unused_imports)]
use super::*;

/// An MLP `2 - hidden... - 1` with tanh hidden units and one output logit, in `f64`.
///
/// Parameters are one flat vector: for each layer its weight matrix `[out, in]` (row-major),
/// then its bias `[out]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Mlp {
    widths: Vec<usize>,
}

/// Scratch space of one forward and backward pass.
#[derive(Clone, Debug)]
pub struct Work {
    act: Vec<Vec<f64>>,
    delta: Vec<Vec<f64>>,
}

impl Mlp {
    /// The network with hidden widths `hidden` (each at least 1; may be empty: logistic
    /// regression).
    pub fn new(hidden: &[usize]) -> Result<Mlp> {
        if hidden.contains(&0) {
            return Err(Error::config(
                "moons.hidden",
                format!("{hidden:?}"),
                "hidden widths of at least 1",
            ));
        }
        let mut widths = vec![2];
        widths.extend_from_slice(hidden);
        widths.push(1);
        Ok(Mlp { widths })
    }

    /// Number of parameters.
    pub fn num_params(&self) -> usize {
        self.widths.windows(2).map(|w| w[0] * w[1] + w[1]).sum()
    }

    /// Scratch space for [`Mlp::logit`] and [`Mlp::loss_grad`].
    pub fn work(&self) -> Work {
        Work {
            act: self.widths.iter().map(|&w| vec![0.0; w]).collect(),
            delta: self.widths.iter().map(|&w| vec![0.0; w]).collect(),
        }
    }

    /// PyTorch's default initialisation: every weight and bias of a layer with `fan_in`
    /// inputs uniform in `[-1/sqrt(fan_in), 1/sqrt(fan_in)]`.
    pub fn init(&self, seed: u64) -> Vec<f64> {
        let mut rng = Rng::new(seed, &[STREAM_INIT]);
        let mut w = Vec::with_capacity(self.num_params());
        for l in self.widths.windows(2) {
            let bound = 1.0 / (l[0] as f64).sqrt();
            for _ in 0..(l[0] * l[1] + l[1]) {
                w.push(bound * (2.0 * rng.uniform() - 1.0));
            }
        }
        w
    }

    /// The output logit at `x`.
    pub fn logit(&self, w: &[f64], x: [f64; 2], work: &mut Work) -> f64 {
        work.act[0][0] = x[0];
        work.act[0][1] = x[1];
        let layers = self.widths.len() - 1;
        let mut off = 0;
        for l in 0..layers {
            let (ni, no) = (self.widths[l], self.widths[l + 1]);
            let (lower, upper) = work.act.split_at_mut(l + 1);
            let (a_in, a_out) = (&lower[l], &mut upper[0]);
            let wm = &w[off..off + ni * no];
            let b = &w[off + ni * no..off + ni * no + no];
            for j in 0..no {
                let s = b[j]
                    + wm[j * ni..(j + 1) * ni]
                        .iter()
                        .zip(a_in)
                        .map(|(p, q)| p * q)
                        .sum::<f64>();
                a_out[j] = if l + 1 < layers { s.tanh() } else { s };
            }
            off += ni * no + no;
        }
        work.act[layers][0]
    }

    /// Add `scale * d(logit)/dw` times `dz` to `grad`, after [`Mlp::logit`] at the same `w`
    /// (backpropagation through the activations kept in `work`).
    pub(super) fn backward(&self, w: &[f64], dz: f64, work: &mut Work, grad: &mut [f64]) {
        let layers = self.widths.len() - 1;
        work.delta[layers][0] = dz;
        let mut end = self.num_params();
        for l in (0..layers).rev() {
            let (ni, no) = (self.widths[l], self.widths[l + 1]);
            let off = end - (ni * no + no);
            let (dl, du) = work.delta.split_at_mut(l + 1);
            let d_out = &du[0];
            let a_in = &work.act[l];
            {
                let (gw, gb) = grad[off..end].split_at_mut(ni * no);
                for j in 0..no {
                    let d = d_out[j];
                    gb[j] += d;
                    for (g, a) in gw[j * ni..(j + 1) * ni].iter_mut().zip(a_in) {
                        *g += d * a;
                    }
                }
            }
            if l > 0 {
                let wm = &w[off..off + ni * no];
                let d_in = &mut dl[l];
                for k in 0..ni {
                    let mut s = 0.0;
                    for j in 0..no {
                        s += wm[j * ni + k] * d_out[j];
                    }
                    d_in[k] = s * (1.0 - a_in[k] * a_in[k]);
                }
            }
            end = off;
        }
    }

    /// Cross-entropy of one point and its derivative in the logit: `softplus(z) - y z`,
    /// `sigmoid(z) - y`.
    pub(super) fn point_loss(z: f64, y: u8) -> (f64, f64) {
        let y = y as f64;
        let softplus = z.max(0.0) + (-z.abs()).exp().ln_1p();
        let sig = if z >= 0.0 {
            1.0 / (1.0 + (-z).exp())
        } else {
            let e = z.exp();
            e / (1.0 + e)
        };
        (softplus - y * z, sig - y)
    }

    /// The regularised loss `L(w)` of the points `idx` (mean cross-entropy over `idx` plus
    /// `(wd/2) |w|^2`), and its gradient written to `grad`.
    #[allow(clippy::too_many_arguments)] // the data, the minibatch and the buffers, as the callers hold them
    pub fn loss_grad(
        &self,
        w: &[f64],
        x: &[[f64; 2]],
        y: &[u8],
        idx: &[usize],
        wd: f64,
        work: &mut Work,
        grad: &mut [f64],
    ) -> f64 {
        grad.fill(0.0);
        let inv = 1.0 / idx.len() as f64;
        let mut loss = 0.0;
        for &i in idx {
            let z = self.logit(w, x[i], work);
            let (l, dz) = Self::point_loss(z, y[i]);
            loss += l;
            self.backward(w, dz * inv, work, grad);
        }
        let mut sq = 0.0;
        for (g, p) in grad.iter_mut().zip(w) {
            *g += wd * p;
            sq += p * p;
        }
        loss * inv + 0.5 * wd * sq
    }

    /// The mean cross-entropy (no weight decay) over all points.
    pub fn data_loss(&self, w: &[f64], x: &[[f64; 2]], y: &[u8], work: &mut Work) -> f64 {
        x.iter()
            .zip(y)
            .map(|(&xi, &yi)| Self::point_loss(self.logit(w, xi, work), yi).0)
            .sum::<f64>()
            / x.len() as f64
    }

    /// Traces of the gradient-noise covariance and of the Fisher matrix at `w`:
    /// `tr C` with `C = (1/n) sum_i (g_i - g)(g_i - g)^T` the covariance of the per-point
    /// cross-entropy gradients `g_i = (sigmoid(z_i) - y_i) dz_i/dw` (divisor `n`: the population
    /// minibatches are drawn from), and `tr F` with `F = (1/n) sum_i p_i (1 - p_i) dz_i/dw
    /// dz_i/dw^T` (the Fisher / Gauss-Newton matrix of the cross-entropy, `p_i = sigmoid(z_i)`).
    pub fn noise_traces(&self, w: &[f64], x: &[[f64; 2]], y: &[u8], work: &mut Work) -> (f64, f64) {
        let d = self.num_params();
        let mut jac = vec![0.0; d];
        let mut sum = vec![0.0; d];
        let (mut sum_sq, mut fisher) = (0.0, 0.0);
        for (&xi, &yi) in x.iter().zip(y) {
            jac.fill(0.0);
            let z = self.logit(w, xi, work);
            let (_, r) = Self::point_loss(z, yi);
            self.backward(w, 1.0, work, &mut jac);
            let j2: f64 = jac.iter().map(|v| v * v).sum();
            let p = r + yi as f64;
            sum_sq += r * r * j2;
            fisher += p * (1.0 - p) * j2;
            for (s, v) in sum.iter_mut().zip(&jac) {
                *s += r * v;
            }
        }
        let n = x.len() as f64;
        let mean_sq: f64 = sum.iter().map(|s| (s / n) * (s / n)).sum();
        (sum_sq / n - mean_sq, fisher / n)
    }

    /// The Hessian of the regularised full-batch loss `L` (as [`Mlp::loss_grad`] over every
    /// point) at `w`, `d x d` row-major, by central differences of the exact gradient with step
    /// [`HESSIAN_STEP`], symmetrised. Error of an entry: truncation `h^2 |d^3 g| / 6` plus
    /// rounding `~ eps |g| / h`, both about `1e-11` at `h = 1e-5` for weights and gradients of
    /// order one.
    pub fn hessian(&self, w: &[f64], x: &[[f64; 2]], y: &[u8], wd: f64) -> Vec<f64> {
        let d = self.num_params();
        let all: Vec<usize> = (0..x.len()).collect();
        let mut work = self.work();
        let (mut gp, mut gm) = (vec![0.0; d], vec![0.0; d]);
        let mut wk = w.to_vec();
        let mut h = vec![0.0; d * d];
        for j in 0..d {
            wk[j] = w[j] + HESSIAN_STEP;
            self.loss_grad(&wk, x, y, &all, wd, &mut work, &mut gp);
            wk[j] = w[j] - HESSIAN_STEP;
            self.loss_grad(&wk, x, y, &all, wd, &mut work, &mut gm);
            wk[j] = w[j];
            for i in 0..d {
                h[i * d + j] = (gp[i] - gm[i]) / (2.0 * HESSIAN_STEP);
            }
        }
        for i in 0..d {
            for j in 0..i {
                let m = 0.5 * (h[i * d + j] + h[j * d + i]);
                h[i * d + j] = m;
                h[j * d + i] = m;
            }
        }
        h
    }

    /// The covariance `C = (1/n) sum_i (g_i - g)(g_i - g)^T` of the per-point cross-entropy
    /// gradients `g_i` at `w` (divisor `n`, as in [`Mlp::noise_traces`]: minibatches are drawn
    /// from the `n` points with replacement, so a batch of `B` has gradient covariance exactly
    /// `C / B`; the weight decay's gradient is the same for every point and drops out),
    /// `d x d` row-major.
    pub fn gradient_covariance(&self, w: &[f64], x: &[[f64; 2]], y: &[u8]) -> Vec<f64> {
        let d = self.num_params();
        let mut work = self.work();
        let mut gi = vec![0.0; d];
        let mut mean = vec![0.0; d];
        let mut c = vec![0.0; d * d];
        for (&xi, &yi) in x.iter().zip(y) {
            gi.fill(0.0);
            let z = self.logit(w, xi, &mut work);
            let (_, r) = Self::point_loss(z, yi);
            self.backward(w, r, &mut work, &mut gi);
            for a in 0..d {
                mean[a] += gi[a];
                for b in 0..d {
                    c[a * d + b] += gi[a] * gi[b];
                }
            }
        }
        let n = x.len().max(1) as f64;
        for a in 0..d {
            for b in 0..d {
                c[a * d + b] = c[a * d + b] / n - (mean[a] / n) * (mean[b] / n);
            }
        }
        c
    }
}

/// Step of the central differences in [`Mlp::hessian`].
pub const HESSIAN_STEP: f64 = 1e-5;
