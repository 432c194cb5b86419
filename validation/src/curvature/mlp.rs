//! A fully connected ReLU network in plain `f64`: loss, gradient, exact Hessian-vector products
//! and per-sample gradients.
//!
//! The network is `Linear(n_0, n_1) -> ReLU -> ... -> ReLU -> Linear(n_{L-1}, n_L)` with the mean
//! cross-entropy of the softmax of the last layer. Parameters are one flat slice in PyTorch
//! order: for each layer its weight (`n_out x n_in`, row-major, as `weight[out][in]`) and then
//! its bias (`n_out`).
//!
//! With `a_0 = x`, `z_l = W_l a_{l-1} + b_l`, `a_l = relu(z_l)` and `p = softmax(z_L)`, the
//! backward pass is `dz_L = (p - e_y) / n`, `dW_l = dz_l a_{l-1}^T`, `db_l = dz_l`,
//! `dz_{l-1} = relu'(z_{l-1}) * (W_l^T dz_l)`.
//!
//! The Hessian-vector product `H v` is Pearlmutter's R-operator (Pearlmutter 1994, "Fast exact
//! multiplication by the Hessian"), forward-over-reverse: `R{f} = d/dr f(theta + r v)` at
//! `r = 0` applied to every quantity of the forward and backward passes, with `V_l, vb_l` the
//! parts of `v`:
//!
//! - forward: `R z_l = V_l a_{l-1} + W_l R a_{l-1} + vb_l`, `R a_l = relu'(z_l) R z_l`
//!   (`R a_0 = 0`);
//! - output: `R dz_L = (diag(p) - p p^T) R z_L / n`, the exact Hessian of softmax
//!   cross-entropy with respect to the logits;
//! - backward: `R dW_l = R dz_l a_{l-1}^T + dz_l R a_{l-1}^T`, `R db_l = R dz_l`,
//!   `R dz_{l-1} = relu'(z_{l-1}) (V_l^T dz_l + W_l^T R dz_l)`; the term `relu''(z) R z` is
//!   zero: ReLU is piecewise linear.
//!
//! The result is the exact Hessian of the loss wherever no pre-activation is exactly zero (the
//! loss is then smooth in a neighbourhood). At a kink, `relu'(0) = 0` as in PyTorch, and the
//! result is the Hessian of the piece on which that unit is off. Kinks have measure zero, but a
//! finite difference across one is not a derivative: tests keep `|z|` away from 0.
//!
//! Samples are processed in chunks of [`CHUNK`] rows, grouped into at most [`MAX_PARTS`]
//! contiguous parts that rayon runs in parallel; the partial sums are added in part order, so
//! results do not depend on the number of threads. Memory is `O(MAX_PARTS * (n_params + CHUNK *
//! sum of widths))`, independent of the number of samples.

use super::{CurvatureError, Result, axpy, check_len, dot};
use rayon::prelude::*;
use std::ops::Range;

/// Samples per chunk of the forward and backward passes.
pub const CHUNK: usize = 256;

/// Most parts a batch is split into for parallel work (fixed, so sums are reproducible).
pub const MAX_PARTS: usize = 16;

/// An input pixel type: `f32` (as the datasets store images) or `f64`.
pub trait Input: Copy + Send + Sync {
    /// The value as `f64`.
    fn to_f64(self) -> f64;
}

impl Input for f32 {
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
}

impl Input for f64 {
    fn to_f64(self) -> f64 {
        self
    }
}

/// A class label type: `u8` (as IDX files store them), `u32` or `usize`.
pub trait Label: Copy + Send + Sync {
    /// The class index.
    fn class(self) -> usize;
}

impl Label for u8 {
    fn class(self) -> usize {
        usize::from(self)
    }
}

impl Label for u32 {
    fn class(self) -> usize {
        self as usize
    }
}

impl Label for usize {
    fn class(self) -> usize {
        self
    }
}

/// A batch of `n` samples: inputs `n x n_in` row-major and `n` labels (borrowed).
#[derive(Debug, Clone, Copy)]
pub struct Batch<'a, X, L> {
    x: &'a [X],
    y: &'a [L],
    n_in: usize,
}

impl<'a, X: Input, L: Label> Batch<'a, X, L> {
    /// Wraps inputs `x` (`y.len() x n_in`, row-major) and labels `y`; checks the lengths.
    pub fn new(x: &'a [X], y: &'a [L], n_in: usize) -> Result<Self> {
        if n_in == 0 {
            return Err(CurvatureError::InvalidConfig {
                field: "n_in",
                value: "0".into(),
                allowed: "at least 1 input feature",
            });
        }
        check_len("inputs x", y.len() * n_in, x.len())?;
        Ok(Self { x, y, n_in })
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.y.len()
    }

    /// Whether the batch has no samples.
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    /// Features per sample.
    pub fn n_in(&self) -> usize {
        self.n_in
    }

    /// The inputs, `len() x n_in()` row-major.
    pub fn inputs(&self) -> &'a [X] {
        self.x
    }

    /// The labels.
    pub fn labels(&self) -> &'a [L] {
        self.y
    }

    /// The samples `range` (clamped to the batch).
    pub fn slice(&self, range: Range<usize>) -> Self {
        let end = range.end.min(self.len());
        let start = range.start.min(end);
        Self {
            x: &self.x[start * self.n_in..end * self.n_in],
            y: &self.y[start..end],
            n_in: self.n_in,
        }
    }
}

/// The layer sizes of a fully connected ReLU network and the layout of its flat parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mlp {
    sizes: Vec<usize>,
    /// Offset of each layer's weight in the flat parameters; the last entry is `n_params`.
    offsets: Vec<usize>,
}

/// Per-chunk buffers: activations, deltas and their R-derivatives, `CHUNK x width` each.
struct Work {
    /// `a[0]` = inputs, `a[l]` = post-ReLU activations, `a[L]` = logits.
    a: Vec<Vec<f64>>,
    /// `d[l]` = `dLoss/dz_l` (`d[0]` unused).
    d: Vec<Vec<f64>>,
    /// `ra[l]` = `R a_l` (`ra[L]` = `R z_L`; `ra[0]` unused, it is zero).
    ra: Vec<Vec<f64>>,
    /// `rd[l]` = `R dz_l`.
    rd: Vec<Vec<f64>>,
}

impl Work {
    fn new(sizes: &[usize], with_r: bool) -> Self {
        let bufs = |on: bool| -> Vec<Vec<f64>> {
            sizes
                .iter()
                .enumerate()
                .map(|(l, &s)| {
                    if on && l > 0 {
                        vec![0.0; CHUNK * s]
                    } else {
                        Vec::new()
                    }
                })
                .collect()
        };
        let mut a = bufs(true);
        a[0] = vec![0.0; CHUNK * sizes[0]];
        Self {
            a,
            d: bufs(true),
            ra: bufs(with_r),
            rd: bufs(with_r),
        }
    }
}

/// Contiguous sample ranges, whole chunks each, at most [`MAX_PARTS`] of them.
pub(crate) fn parts(n: usize) -> Vec<Range<usize>> {
    let nc = n.div_ceil(CHUNK);
    let np = nc.clamp(1, MAX_PARTS);
    (0..np)
        .map(|k| ((k * nc / np) * CHUNK).min(n)..(((k + 1) * nc / np) * CHUNK).min(n))
        .collect()
}

impl Mlp {
    /// A network with layer widths `sizes = [n_in, h_1, ..., h_k, n_classes]` (at least two
    /// entries, all positive).
    pub fn new(sizes: &[usize]) -> Result<Self> {
        if sizes.len() < 2 || sizes.contains(&0) {
            return Err(CurvatureError::InvalidConfig {
                field: "layer sizes",
                value: format!("{sizes:?}"),
                allowed: "at least two widths (input and output), all positive",
            });
        }
        let mut offsets = vec![0];
        for w in sizes.windows(2) {
            let last = offsets[offsets.len() - 1];
            offsets.push(last + w[1] * w[0] + w[1]);
        }
        Ok(Self {
            sizes: sizes.to_vec(),
            offsets,
        })
    }

    /// The layer widths `[n_in, h_1, ..., n_classes]`.
    pub fn sizes(&self) -> &[usize] {
        &self.sizes
    }

    /// Number of linear layers.
    pub fn n_layers(&self) -> usize {
        self.sizes.len() - 1
    }

    /// Number of parameters (weights and biases of all layers).
    pub fn n_params(&self) -> usize {
        self.offsets[self.n_layers()]
    }

    /// Number of input features.
    pub fn n_in(&self) -> usize {
        self.sizes[0]
    }

    /// Number of classes (outputs).
    pub fn n_classes(&self) -> usize {
        self.sizes[self.n_layers()]
    }

    /// Where layer `l`'s weight (`n_out x n_in`, row-major) lies in the flat parameters.
    ///
    /// # Panics
    /// If `l >= n_layers()`.
    pub fn weight_range(&self, l: usize) -> Range<usize> {
        let start = self.offsets[l];
        start..start + self.sizes[l + 1] * self.sizes[l]
    }

    /// Where layer `l`'s bias (`n_out`) lies in the flat parameters.
    ///
    /// # Panics
    /// If `l >= n_layers()`.
    pub fn bias_range(&self, l: usize) -> Range<usize> {
        let w = self.weight_range(l);
        w.end..w.end + self.sizes[l + 1]
    }

    /// Mean cross-entropy of `data` at `params`.
    pub fn loss<X: Input, L: Label>(&self, params: &[f64], data: Batch<'_, X, L>) -> Result<f64> {
        self.check(params, &data)?;
        let sums: Vec<f64> = parts(data.len())
            .into_par_iter()
            .map(|range| {
                let mut w = Work::new(&self.sizes, false);
                let mut s = 0.0;
                for start in range.clone().step_by(CHUNK) {
                    let chunk = data.slice(start..(start + CHUNK).min(range.end));
                    self.forward(params, chunk.x, chunk.len(), &mut w);
                    s += self.output(chunk.y, chunk.len(), 1.0, &mut w, false);
                }
                s
            })
            .collect();
        Ok(sums.iter().sum::<f64>() / data.len() as f64)
    }

    /// Mean cross-entropy and its gradient (written to `grad`, `n_params` long).
    pub fn loss_grad<X: Input, L: Label>(
        &self,
        params: &[f64],
        data: Batch<'_, X, L>,
        grad: &mut [f64],
    ) -> Result<f64> {
        self.check(params, &data)?;
        check_len("grad", self.n_params(), grad.len())?;
        let scale = 1.0 / data.len() as f64;
        let partial: Vec<(f64, Vec<f64>)> = parts(data.len())
            .into_par_iter()
            .map(|range| {
                let mut w = Work::new(&self.sizes, false);
                let mut g = vec![0.0; self.n_params()];
                let mut s = 0.0;
                for start in range.clone().step_by(CHUNK) {
                    let chunk = data.slice(start..(start + CHUNK).min(range.end));
                    let c = chunk.len();
                    self.forward(params, chunk.x, c, &mut w);
                    s += self.output(chunk.y, c, scale, &mut w, false);
                    self.backward(params, None, c, &mut w, Some(&mut g), None);
                }
                (s, g)
            })
            .collect();
        grad.fill(0.0);
        let mut loss = 0.0;
        for (s, g) in &partial {
            loss += s;
            axpy(1.0, g, grad);
        }
        Ok(loss * scale)
    }

    /// The exact Hessian-vector product `out = H v` of the mean cross-entropy at `params`
    /// (Pearlmutter's R-operator; see the module documentation).
    pub fn hvp<X: Input, L: Label>(
        &self,
        params: &[f64],
        data: Batch<'_, X, L>,
        v: &[f64],
        out: &mut [f64],
    ) -> Result<()> {
        self.check(params, &data)?;
        check_len("v", self.n_params(), v.len())?;
        check_len("out", self.n_params(), out.len())?;
        self.hvp_unchecked(params, data, v, out);
        Ok(())
    }

    fn hvp_unchecked<X: Input, L: Label>(
        &self,
        params: &[f64],
        data: Batch<'_, X, L>,
        v: &[f64],
        out: &mut [f64],
    ) {
        let scale = 1.0 / data.len() as f64;
        let partial: Vec<Vec<f64>> = parts(data.len())
            .into_par_iter()
            .map(|range| {
                let mut w = Work::new(&self.sizes, true);
                let mut hv = vec![0.0; self.n_params()];
                for start in range.clone().step_by(CHUNK) {
                    let chunk = data.slice(start..(start + CHUNK).min(range.end));
                    let c = chunk.len();
                    self.forward(params, chunk.x, c, &mut w);
                    self.r_forward(params, v, c, &mut w);
                    self.output(chunk.y, c, scale, &mut w, true);
                    self.backward(params, Some(v), c, &mut w, None, Some(&mut hv));
                }
                hv
            })
            .collect();
        out.fill(0.0);
        for hv in &partial {
            axpy(1.0, hv, out);
        }
    }

    /// The Hessian of the mean cross-entropy at `params` on `data`, as an operator `v -> H v`
    /// for [`super::lanczos_top_k`] and [`super::slq()`]; checks the data once.
    pub fn hessian<'a, X: Input, L: Label>(
        &'a self,
        params: &'a [f64],
        data: Batch<'a, X, L>,
    ) -> Result<Hessian<'a, X, L>> {
        self.check(params, &data)?;
        Ok(Hessian {
            mlp: self,
            params,
            data,
        })
    }

    /// Per-sample gradients: row `j` of `out` (`n x n_params`, row-major) is the gradient of the
    /// cross-entropy of sample `j` alone, so the mean of the rows is [`Mlp::loss_grad`]'s
    /// gradient. Memory is the caller's: pass a slice of the batch ([`Batch::slice`]) to bound it.
    pub fn per_sample_grads<X: Input, L: Label>(
        &self,
        params: &[f64],
        data: Batch<'_, X, L>,
        out: &mut [f64],
    ) -> Result<()> {
        self.check(params, &data)?;
        let np = self.n_params();
        check_len("out", data.len() * np, out.len())?;
        out.par_chunks_mut(CHUNK * np).enumerate().for_each_init(
            || Work::new(&self.sizes, false),
            |w, (k, rows)| {
                let chunk = data.slice(k * CHUNK..(k + 1) * CHUNK);
                let c = chunk.len();
                self.forward(params, chunk.x, c, w);
                self.output(chunk.y, c, 1.0, w, false);
                self.backward(params, None, c, w, None, None);
                self.outer_rows(c, w, rows);
            },
        );
        Ok(())
    }

    /// Checks parameters, input width, a non-empty batch and the labels.
    fn check<X: Input, L: Label>(&self, params: &[f64], data: &Batch<'_, X, L>) -> Result<()> {
        check_len("params", self.n_params(), params.len())?;
        check_len("input width n_in", self.n_in(), data.n_in)?;
        if data.is_empty() {
            return Err(CurvatureError::InvalidConfig {
                field: "batch size",
                value: "0".into(),
                allowed: "at least 1 sample (the loss is a mean)",
            });
        }
        let classes = self.n_classes();
        if let Some((sample, label)) = data
            .y
            .iter()
            .map(|l| l.class())
            .enumerate()
            .find(|&(_, l)| l >= classes)
        {
            return Err(CurvatureError::Label {
                sample,
                label,
                classes,
            });
        }
        Ok(())
    }

    fn layer<'p>(&self, p: &'p [f64], l: usize) -> (&'p [f64], &'p [f64]) {
        (&p[self.weight_range(l)], &p[self.bias_range(l)])
    }

    /// `a[l+1] = act(W_l a[l] + b_l)` for all layers, `c` rows.
    fn forward<X: Input>(&self, p: &[f64], x: &[X], c: usize, w: &mut Work) {
        let n_l = self.n_layers();
        for (dst, src) in w.a[0][..x.len()].iter_mut().zip(x) {
            *dst = src.to_f64();
        }
        for l in 0..n_l {
            let (nin, nout) = (self.sizes[l], self.sizes[l + 1]);
            let (wt, b) = self.layer(p, l);
            let (prev, next) = w.a.split_at_mut(l + 1);
            let (ain, aout) = (&prev[l], &mut next[0]);
            for i in 0..c {
                let ar = &ain[i * nin..(i + 1) * nin];
                let zr = &mut aout[i * nout..(i + 1) * nout];
                for (o, z) in zr.iter_mut().enumerate() {
                    let s = b[o] + dot(&wt[o * nin..(o + 1) * nin], ar);
                    *z = if l + 1 < n_l { s.max(0.0) } else { s };
                }
            }
        }
    }

    /// `ra[l+1] = relu'(z) (V_l a[l] + W_l ra[l] + vb_l)` (no ReLU on the logits).
    fn r_forward(&self, p: &[f64], v: &[f64], c: usize, w: &mut Work) {
        let n_l = self.n_layers();
        for l in 0..n_l {
            let (nin, nout) = (self.sizes[l], self.sizes[l + 1]);
            let (wt, _) = self.layer(p, l);
            let (vw, vb) = self.layer(v, l);
            let (prev, next) = w.ra.split_at_mut(l + 1);
            let (rin, rout) = (&prev[l], &mut next[0]);
            let (ain, aout) = (&w.a[l], &w.a[l + 1]);
            for i in 0..c {
                let ar = &ain[i * nin..(i + 1) * nin];
                for o in 0..nout {
                    let k = i * nout + o;
                    if l + 1 < n_l && aout[k] <= 0.0 {
                        rout[k] = 0.0;
                        continue;
                    }
                    let mut s = vb[o] + dot(&vw[o * nin..(o + 1) * nin], ar);
                    if l > 0 {
                        s += dot(&wt[o * nin..(o + 1) * nin], &rin[i * nin..(i + 1) * nin]);
                    }
                    rout[k] = s;
                }
            }
        }
    }

    /// Softmax cross-entropy on the logits `a[L]`: returns the summed loss of the `c` rows and
    /// sets `d[L] = scale (p - e_y)` and, with `with_r`, `rd[L] = scale (diag p - p p^T) ra[L]`.
    fn output<L: Label>(&self, y: &[L], c: usize, scale: f64, w: &mut Work, with_r: bool) -> f64 {
        let n_l = self.n_layers();
        let k = self.n_classes();
        let mut total = 0.0;
        for (i, yi) in y[..c].iter().enumerate() {
            let z = &w.a[n_l][i * k..(i + 1) * k];
            let m = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let sum: f64 = z.iter().map(|&zj| (zj - m).exp()).sum();
            let lse = m + sum.ln();
            let label = yi.class();
            total += lse - z[label];
            let d = &mut w.d[n_l][i * k..(i + 1) * k];
            for (dj, &zj) in d.iter_mut().zip(z) {
                *dj = (zj - lse).exp();
            }
            if with_r {
                let rz = &w.ra[n_l][i * k..(i + 1) * k];
                let prz = dot(d, rz);
                let rd = &mut w.rd[n_l][i * k..(i + 1) * k];
                for ((r, &pj), &rzj) in rd.iter_mut().zip(d.iter()).zip(rz) {
                    *r = scale * pj * (rzj - prz);
                }
            }
            d[label] -= 1.0;
            for dj in d.iter_mut() {
                *dj *= scale;
            }
        }
        total
    }

    /// Backward pass from `d[L]` (and `rd[L]` when `v` is given): fills `d[l]` (and `rd[l]`) for
    /// the hidden layers and adds the parameter gradient to `grad` and `H v` to `hv`.
    fn backward(
        &self,
        p: &[f64],
        v: Option<&[f64]>,
        c: usize,
        w: &mut Work,
        mut grad: Option<&mut [f64]>,
        mut hv: Option<&mut [f64]>,
    ) {
        for l in (0..self.n_layers()).rev() {
            let (nin, nout) = (self.sizes[l], self.sizes[l + 1]);
            let (wt, _) = self.layer(p, l);
            let ain = &w.a[l];
            let dz = &w.d[l + 1];
            if let Some(g) = grad.as_deref_mut() {
                let (gw, gb) = g[self.offsets[l]..self.offsets[l + 1]].split_at_mut(nout * nin);
                for o in 0..nout {
                    let row = &mut gw[o * nin..(o + 1) * nin];
                    for i in 0..c {
                        let coef = dz[i * nout + o];
                        if coef != 0.0 {
                            axpy(coef, &ain[i * nin..(i + 1) * nin], row);
                        }
                        gb[o] += coef;
                    }
                }
            }
            if let Some(h) = hv.as_deref_mut() {
                let rdz = &w.rd[l + 1];
                let rain = &w.ra[l];
                let (hw, hb) = h[self.offsets[l]..self.offsets[l + 1]].split_at_mut(nout * nin);
                for o in 0..nout {
                    let row = &mut hw[o * nin..(o + 1) * nin];
                    for i in 0..c {
                        let rc = rdz[i * nout + o];
                        if rc != 0.0 {
                            axpy(rc, &ain[i * nin..(i + 1) * nin], row);
                        }
                        hb[o] += rc;
                        let dc = dz[i * nout + o];
                        if l > 0 && dc != 0.0 {
                            axpy(dc, &rain[i * nin..(i + 1) * nin], row);
                        }
                    }
                }
            }
            if l == 0 {
                break;
            }
            // d[l] = relu'(z_l) W^T dz; rd[l] = relu'(z_l) (V^T dz + W^T rdz)
            let (dlo, dhi) = w.d.split_at_mut(l + 1);
            let (din, dz) = (&mut dlo[l], &dhi[0]);
            let (rlo, rhi) = w.rd.split_at_mut(l + 1);
            let vw = v.map(|v| self.layer(v, l).0);
            for i in 0..c {
                let drow = &mut din[i * nin..(i + 1) * nin];
                drow.fill(0.0);
                for o in 0..nout {
                    let coef = dz[i * nout + o];
                    if coef != 0.0 {
                        axpy(coef, &wt[o * nin..(o + 1) * nin], drow);
                    }
                }
                let arow = &w.a[l][i * nin..(i + 1) * nin];
                for (dj, &aj) in drow.iter_mut().zip(arow) {
                    if aj <= 0.0 {
                        *dj = 0.0;
                    }
                }
                if let Some(vw) = vw {
                    let rrow = &mut rlo[l][i * nin..(i + 1) * nin];
                    let rdz = &rhi[0];
                    rrow.fill(0.0);
                    for o in 0..nout {
                        let dc = dz[i * nout + o];
                        if dc != 0.0 {
                            axpy(dc, &vw[o * nin..(o + 1) * nin], rrow);
                        }
                        let rc = rdz[i * nout + o];
                        if rc != 0.0 {
                            axpy(rc, &wt[o * nin..(o + 1) * nin], rrow);
                        }
                    }
                    for (rj, &aj) in rrow.iter_mut().zip(arow) {
                        if aj <= 0.0 {
                            *rj = 0.0;
                        }
                    }
                }
            }
        }
    }

    /// Writes the per-sample gradients of the `c` rows (deltas already in `w.d`) to `rows`.
    fn outer_rows(&self, c: usize, w: &Work, rows: &mut [f64]) {
        let np = self.n_params();
        for i in 0..c {
            let g = &mut rows[i * np..(i + 1) * np];
            for l in 0..self.n_layers() {
                let (nin, nout) = (self.sizes[l], self.sizes[l + 1]);
                let ar = &w.a[l][i * nin..(i + 1) * nin];
                let dz = &w.d[l + 1][i * nout..(i + 1) * nout];
                let (gw, gb) = g[self.offsets[l]..self.offsets[l + 1]].split_at_mut(nout * nin);
                for (o, &coef) in dz.iter().enumerate() {
                    let row = &mut gw[o * nin..(o + 1) * nin];
                    for (r, &a) in row.iter_mut().zip(ar) {
                        *r = coef * a;
                    }
                }
                gb.copy_from_slice(dz);
            }
        }
    }

    /// Pre-activations `z_l` of the hidden layers for `data` (tests: distance to ReLU kinks).
    #[cfg(test)]
    pub(crate) fn min_abs_preactivation<X: Input, L: Label>(
        &self,
        p: &[f64],
        data: Batch<'_, X, L>,
    ) -> f64 {
        let mut m = f64::INFINITY;
        for i in 0..data.len() {
            let mut a: Vec<f64> = data.x[i * data.n_in..(i + 1) * data.n_in]
                .iter()
                .map(|x| x.to_f64())
                .collect();
            for l in 0..self.n_layers() - 1 {
                let (wt, b) = self.layer(p, l);
                let nin = self.sizes[l];
                let z: Vec<f64> = (0..self.sizes[l + 1])
                    .map(|o| b[o] + dot(&wt[o * nin..(o + 1) * nin], &a))
                    .collect();
                m = z.iter().fold(m, |m, zi| m.min(zi.abs()));
                a = z.iter().map(|zi| zi.max(0.0)).collect();
            }
        }
        m
    }
}

/// The Hessian of the mean cross-entropy of an [`Mlp`] at fixed parameters and data, as a
/// symmetric linear operator (see [`Mlp::hessian`]).
#[derive(Debug, Clone, Copy)]
pub struct Hessian<'a, X, L> {
    mlp: &'a Mlp,
    params: &'a [f64],
    data: Batch<'a, X, L>,
}

impl<X: Input, L: Label> Hessian<'_, X, L> {
    /// The dimension (number of parameters).
    pub fn dim(&self) -> usize {
        self.mlp.n_params()
    }

    /// `out = H v` ([`Mlp::hvp`] without the repeated checks of the data).
    ///
    /// # Panics
    /// If `v` or `out` is not [`Hessian::dim`] long.
    pub fn apply(&self, v: &[f64], out: &mut [f64]) {
        assert_eq!(
            v.len(),
            self.dim(),
            "Hessian::apply: v has the wrong length"
        );
        assert_eq!(
            out.len(),
            self.dim(),
            "Hessian::apply: out has the wrong length"
        );
        self.mlp.hvp_unchecked(self.params, self.data, v, out);
    }
}
