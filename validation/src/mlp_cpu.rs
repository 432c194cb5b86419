//! CPU fast path of plain-SGD training for networks without BatchNorm.
//!
//! [`crate::train::run`] uses [`SgdMlp`] for SGD on the CPU when the network has no BatchNorm;
//! Adam, BatchNorm and CUDA keep the candle path ([`crate::grad`]). Here the parameters and
//! every intermediate live in preallocated `Vec<f32>`s (no per-operation tensors), the matrix
//! products are faer's (single-threaded), bias and ReLU are one pass, and the SGD update is fused
//! into the weight-gradient product: `W^T <- W^T + (-lr) A^T dZ` is one product that accumulates
//! into the weights, so no gradient is ever stored. The network is converted to candle tensors
//! only where the run needs them (checkpoints, evaluation, LLC, resume files).
//!
//! Weights are held transposed (`[in, out]`, row-major) so that a row of `W^T` belongs to one
//! input. That is what the *sparse first layer* needs: MNIST images are about 80 % zeros, and with
//! [`InputLayer::Sparse`] the first layer's product `X W^T` and its update `W^T -= lr X^T dZ` run
//! over the nonzero pixels only (a row-compressed and a column-compressed copy of the
//! minibatch). [`InputLayer::Auto`] picks it when at most [`SPARSE_MAX_DENSITY`] of the training
//! inputs are nonzero, so dense data (e.g. Fashion-MNIST) stays on the dense product.
//!
//! Determinism. The minibatch is always processed as two halves of rows (forward pass, loss and
//! backpropagated `dZ`), and every weight update is split into two fixed blocks of `W^T` rows;
//! with two threads the two halves (blocks) run at the same time, with one thread in turn. Every
//! number is computed by the same operations in the same order either way, so results are
//! bit-identical for any thread count. The sparse kernels sum in a fixed order (pixels
//! ascending, then minibatch rows ascending) without fused multiply-adds, so they give the same
//! bits with any SIMD width.

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::model::Arch;
use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use std::ops::Range;

/// Largest fraction of nonzero training inputs for which [`InputLayer::Auto`] takes the sparse
/// first layer.
pub const SPARSE_MAX_DENSITY: f64 = 0.3;

/// How the first layer treats its input.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InputLayer {
    /// Sparse when at most [`SPARSE_MAX_DENSITY`] of the training inputs are nonzero, else dense.
    #[default]
    Auto,
    /// Always a dense matrix product.
    Dense,
    /// Always over the nonzero inputs only.
    Sparse,
}

impl InputLayer {
    /// True for the default, [`InputLayer::Auto`].
    pub fn is_auto(&self) -> bool {
        *self == InputLayer::Auto
    }

    /// Whether the sparse kernel is used for training inputs `images`.
    pub fn sparse_for(&self, images: &[f32]) -> bool {
        match self {
            InputLayer::Dense => false,
            InputLayer::Sparse => true,
            InputLayer::Auto => density(images) <= SPARSE_MAX_DENSITY,
        }
    }
}

impl std::str::FromStr for InputLayer {
    type Err = Error;
    fn from_str(s: &str) -> Result<InputLayer> {
        match s {
            "auto" => Ok(InputLayer::Auto),
            "dense" => Ok(InputLayer::Dense),
            "sparse" => Ok(InputLayer::Sparse),
            _ => Err(Error::config("input-layer", s, "auto, dense or sparse")),
        }
    }
}

/// Fraction of nonzero entries (1 for an empty slice).
pub fn density(x: &[f32]) -> f64 {
    if x.is_empty() {
        return 1.0;
    }
    x.iter().filter(|v| **v != 0.0).count() as f64 / x.len() as f64
}

/// Compressed rows (or columns) of a matrix: entries `ptr[r]..ptr[r + 1]` of `idx`/`val`.
#[derive(Debug, Default)]
struct Compressed {
    ptr: Vec<usize>,
    idx: Vec<u32>,
    val: Vec<f32>,
}

impl Compressed {
    fn clear(&mut self) {
        self.ptr.clear();
        self.idx.clear();
        self.val.clear();
        self.ptr.push(0);
    }
}

/// An MLP without BatchNorm trained by plain SGD on the CPU (see the module docs).
///
/// ```
/// use ffpe_validation::{data::Dataset, mlp_cpu::{InputLayer, SgdMlp}, model::Arch};
/// let arch: Arch = "4-3-2".parse().unwrap();
/// let data = Dataset { images: vec![1.0, 0.0, 0.0, 2.0, 0.0, 1.0, 1.0, 0.0], labels: vec![0, 1], dim: 4 };
/// let w = vec![0.1f32; arch.num_params()];
/// let mut net = SgdMlp::new(&arch, &w, &data, InputLayer::Auto, 1).unwrap();
/// let loss = net.step(&data, &[0, 1], 0.1).unwrap();
/// assert!((loss - 2f64.ln()).abs() < 1e-6); // equal logits before the update
/// assert_eq!(net.flat_params().len(), arch.num_params());
/// ```
#[derive(Debug)]
pub struct SgdMlp {
    widths: Vec<usize>,
    /// `W^T` of each layer, `[in, out]` row-major.
    wt: Vec<Vec<f32>>,
    bias: Vec<Vec<f32>>,
    /// Nonzero inputs of every training image (sparse first layer only).
    images: Option<Compressed>,
    /// Size and width of the training set.
    n_data: (usize, usize),
    /// Dense minibatch inputs (dense first layer only) and labels.
    xs: Vec<f32>,
    ys: Vec<u32>,
    /// Rows the buffers hold.
    cap: usize,
    /// Per layer `[cap, out]`: ReLU outputs of hidden layers, logits of the last.
    z: Vec<Vec<f32>>,
    /// Per layer `[cap, out]`: derivative of the loss by the layer's pre-activation.
    dz: Vec<Vec<f32>>,
    row_loss: Vec<f32>,
    csr: Compressed,
    csc: Compressed,
    pool: Option<rayon::ThreadPool>,
}

impl SgdMlp {
    /// A network of `arch` (no BatchNorm) with flattened weights `flat` (PyTorch order, see
    /// [`crate::model`]) to be trained on minibatches of `train`; `input` selects the first
    /// layer's kernel; `threads >= 2` runs the two halves of each phase at the same time
    /// (results do not depend on it).
    pub fn new(
        arch: &Arch,
        flat: &[f32],
        train: &Dataset,
        input: InputLayer,
        threads: usize,
    ) -> Result<SgdMlp> {
        arch.validate()?;
        if train.dim() != arch.widths[0] || train.images.len() != train.len() * train.dim() {
            return Err(Error::config(
                "arch",
                arch,
                format!("input width {} (pixels per image of the data)", train.dim()),
            ));
        }
        if arch.batchnorm {
            return Err(Error::config(
                "arch",
                arch,
                "no BatchNorm for the CPU SGD path",
            ));
        }
        if flat.len() != arch.num_params() {
            return Err(Error::config(
                "weights",
                flat.len(),
                format!("{} values for {arch}", arch.num_params()),
            ));
        }
        let widths = arch.widths.clone();
        let mut wt = vec![];
        let mut bias = vec![];
        let mut off = 0;
        for l in 0..arch.layers() {
            let (i, o) = (widths[l], widths[l + 1]);
            let w = &flat[off..off + o * i];
            let mut t = vec![0f32; i * o];
            for r in 0..o {
                for c in 0..i {
                    t[c * o + r] = w[r * i + c];
                }
            }
            wt.push(t);
            off += o * i;
            bias.push(flat[off..off + o].to_vec());
            off += o;
        }
        let pool = if threads >= 2 {
            Some(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(2)
                    .build()
                    .map_err(|e| Error::Device {
                        device: "cpu".into(),
                        what: format!("cannot start 2 training threads: {e}"),
                    })?,
            )
        } else {
            None
        };
        let images = input.sparse_for(&train.images).then(|| {
            let mut c = Compressed::default();
            c.clear();
            for row in train.images.chunks_exact(train.dim().max(1)) {
                for (p, &v) in row.iter().enumerate() {
                    if v != 0.0 {
                        c.idx.push(p as u32);
                        c.val.push(v);
                    }
                }
                c.ptr.push(c.idx.len());
            }
            c
        });
        Ok(SgdMlp {
            z: vec![vec![]; arch.layers()],
            dz: vec![vec![]; arch.layers()],
            widths,
            wt,
            bias,
            images,
            n_data: (train.len(), train.dim()),
            xs: vec![],
            ys: vec![],
            cap: 0,
            row_loss: vec![],
            csr: Compressed::default(),
            csc: Compressed::default(),
            pool,
        })
    }

    /// True when the first layer runs over the nonzero inputs only.
    pub fn sparse_input(&self) -> bool {
        self.images.is_some()
    }

    /// The flattened weights in PyTorch order (as [`crate::model::Network::flat_params`]).
    pub fn flat_params(&self) -> Vec<f32> {
        let mut v = Vec::with_capacity(self.wt.iter().map(|w| w.len()).sum::<usize>() * 2);
        for l in 0..self.wt.len() {
            let (i, o) = (self.widths[l], self.widths[l + 1]);
            for r in 0..o {
                v.extend((0..i).map(|c| self.wt[l][c * o + r]));
            }
            v.extend_from_slice(&self.bias[l]);
        }
        v
    }

    /// One SGD update `w <- w - lr grad L_B(w)` on the minibatch of images `idx` of `data` (the
    /// training set given to [`SgdMlp::new`]); returns the mean cross-entropy `L_B(w)` before
    /// the update.
    pub fn step(&mut self, data: &Dataset, idx: &[usize], lr: f32) -> Result<f64> {
        let b = idx.len();
        let nl = self.wt.len();
        let d0 = self.widths[0];
        let k = self.widths[nl];
        if (data.len(), data.dim()) != self.n_data || data.images.len() != data.len() * d0 {
            return Err(Error::config(
                "data",
                format!("{} images of {} pixels", data.len(), data.dim()),
                "the training set the network was set up with",
            ));
        }
        if let Some(&i) = idx.iter().find(|&&i| i >= data.len()) {
            return Err(Error::config(
                "minibatch",
                i,
                format!("image indices below {}", data.len()),
            ));
        }
        if let Some(&c) = idx
            .iter()
            .map(|&i| &data.labels[i])
            .find(|&&c| c as usize >= k)
        {
            return Err(Error::config(
                "labels",
                c,
                format!("below the network's output width {k}"),
            ));
        }
        if b == 0 {
            return Ok(f64::NAN);
        }
        self.reserve(b);
        self.ys.clear();
        self.ys.extend(idx.iter().map(|&i| data.labels[i] as u32));
        if let Some(images) = &self.images {
            self.csr.clear();
            for &i in idx {
                let r = images.ptr[i]..images.ptr[i + 1];
                self.csr.idx.extend_from_slice(&images.idx[r.clone()]);
                self.csr.val.extend_from_slice(&images.val[r]);
                self.csr.ptr.push(self.csr.idx.len());
            }
            compress_columns(&self.csr, d0, &mut self.csc);
        } else {
            self.xs.clear();
            for &i in idx {
                self.xs
                    .extend_from_slice(&data.images[i * d0..(i + 1) * d0]);
            }
        }
        let (xs, ys) = (&self.xs[..], &self.ys[..]);
        let h = b / 2;
        let invb = 1.0 / b as f32;
        let pool = self.pool.as_ref();

        // Forward pass, loss and dZ of the last layer, per half.
        {
            let (mut za, mut zb) = (vec![], vec![]);
            for (l, z) in self.z.iter_mut().enumerate() {
                let w = self.widths[l + 1];
                let (a, bb) = z[..b * w].split_at_mut(h * w);
                za.push(a);
                zb.push(bb);
            }
            let w_last = k;
            let (da, db) = self.dz[nl - 1][..b * w_last].split_at_mut(h * w_last);
            let (la, lb) = self.row_loss[..b].split_at_mut(h);
            let net = Params {
                widths: &self.widths,
                wt: &self.wt,
                bias: &self.bias,
            };
            let csr = self.images.is_some().then_some(&self.csr);
            both(
                pool,
                || net.forward_rows(xs, csr, 0..h, &mut za, &ys[..h], invb, da, la),
                || net.forward_rows(xs, csr, h..b, &mut zb, &ys[h..], invb, db, lb),
            );
        }
        let loss = self.row_loss[..b].iter().map(|&v| v as f64).sum::<f64>() / b as f64;

        // Backward pass with the fused updates, last layer first.
        for l in (0..nl).rev() {
            let (i, o) = (self.widths[l], self.widths[l + 1]);
            if l > 0 {
                // dZ of layer l - 1 from the weights of layer l before their update.
                let (lower, upper) = self.dz.split_at_mut(l);
                let src = &upper[0][..b * o];
                let (sa, sb) = src.split_at(h * o);
                let (ta, tb) = lower[l - 1][..b * i].split_at_mut(h * i);
                let act = &self.z[l - 1][..b * i];
                let (aa, ab) = act.split_at(h * i);
                let wt = &self.wt[l];
                both(
                    pool,
                    || backprop_rows(wt, i, o, sa, aa, ta),
                    || backprop_rows(wt, i, o, sb, ab, tb),
                );
            }
            let dz = &self.dz[l][..b * o];
            let bias = &mut self.bias[l];
            let split = i / 2;
            let (wa, wb) = self.wt[l].split_at_mut(split * o);
            let neg = -lr;
            if l == 0 && self.images.is_some() {
                let csc = &self.csc;
                both(
                    pool,
                    || {
                        sparse_update(wa, o, csc, 0..split, dz, neg);
                        bias_update(bias, dz, o, neg);
                    },
                    || sparse_update(wb, o, csc, split..i, dz, neg),
                );
            } else {
                let act: &[f32] = if l == 0 { xs } else { &self.z[l - 1][..b * i] };
                let at = MatRef::from_row_major_slice(act, b, i).transpose();
                let dzm = MatRef::from_row_major_slice(dz, b, o);
                both(
                    pool,
                    || {
                        let dst = MatMut::from_row_major_slice_mut(wa, split, o);
                        matmul(dst, Accum::Add, at.subrows(0, split), dzm, neg, Par::Seq);
                        bias_update(bias, dz, o, neg);
                    },
                    || {
                        let dst = MatMut::from_row_major_slice_mut(wb, i - split, o);
                        matmul(
                            dst,
                            Accum::Add,
                            at.subrows(split, i - split),
                            dzm,
                            neg,
                            Par::Seq,
                        );
                    },
                );
            }
        }
        Ok(loss)
    }

    fn reserve(&mut self, b: usize) {
        if b <= self.cap {
            return;
        }
        for l in 0..self.wt.len() {
            let o = self.widths[l + 1];
            self.z[l].resize(b * o, 0.0);
            self.dz[l].resize(b * o, 0.0);
        }
        self.row_loss.resize(b, 0.0);
        self.cap = b;
    }
}

/// Shared view of the parameters for the forward pass.
struct Params<'a> {
    widths: &'a [usize],
    wt: &'a [Vec<f32>],
    bias: &'a [Vec<f32>],
}

impl Params<'_> {
    /// Forward pass of minibatch rows `rows` into `z` (the rows' slices of each layer's
    /// buffer), then per-row cross-entropy into `loss` and `dZ = (softmax - onehot) / B` of the
    /// last layer into `dz_last`.
    #[allow(clippy::too_many_arguments)]
    fn forward_rows(
        &self,
        xs: &[f32],
        csr: Option<&Compressed>,
        rows: Range<usize>,
        z: &mut [&mut [f32]],
        ys: &[u32],
        invb: f32,
        dz_last: &mut [f32],
        loss: &mut [f32],
    ) {
        let n = rows.len();
        let nl = self.wt.len();
        for l in 0..nl {
            let (i, o) = (self.widths[l], self.widths[l + 1]);
            let relu = l + 1 < nl;
            let (before, rest) = z.split_at_mut(l);
            let out = &mut rest[0][..n * o];
            match (l, csr) {
                (0, Some(csr)) => {
                    pulp::Arch::new().dispatch(SparseForward {
                        wt: &self.wt[0],
                        bias: &self.bias[0],
                        o,
                        csr,
                        rows: rows.clone(),
                        relu,
                        out,
                    });
                }
                _ => {
                    let a: &[f32] = if l == 0 {
                        &xs[rows.start * i..rows.end * i]
                    } else {
                        &before[l - 1][..n * i]
                    };
                    matmul(
                        MatMut::from_row_major_slice_mut(out, n, o),
                        Accum::Replace,
                        MatRef::from_row_major_slice(a, n, i),
                        MatRef::from_row_major_slice(&self.wt[l], i, o),
                        1.0f32,
                        Par::Seq,
                    );
                    add_bias(out, &self.bias[l], relu);
                }
            }
        }
        let k = self.widths[nl];
        let logits = &z[nl - 1][..n * k];
        for (r, &y) in ys.iter().enumerate() {
            let zr = &logits[r * k..(r + 1) * k];
            let g = &mut dz_last[r * k..(r + 1) * k];
            let m = zr.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
            let mut s = 0f32;
            for (g, &v) in g.iter_mut().zip(zr) {
                *g = (v - m).exp();
                s += *g;
            }
            loss[r] = m + s.ln() - zr[y as usize];
            let inv = 1.0 / s;
            for g in g.iter_mut() {
                *g = *g * inv * invb;
            }
            g[y as usize] -= invb;
        }
    }
}

/// `out[r] = relu?(out[r] + bias)` for every row of `out`.
fn add_bias(out: &mut [f32], bias: &[f32], relu: bool) {
    for row in out.chunks_exact_mut(bias.len()) {
        for (v, b) in row.iter_mut().zip(bias) {
            let s = *v + b;
            *v = if relu { s.max(0.0) } else { s };
        }
    }
}

/// `bias += neg_lr * (column sums of dz)`, summing rows in order.
fn bias_update(bias: &mut [f32], dz: &[f32], o: usize, neg_lr: f32) {
    let mut acc = vec![0f32; o];
    for row in dz.chunks_exact(o) {
        for (a, v) in acc.iter_mut().zip(row) {
            *a += v;
        }
    }
    for (b, a) in bias.iter_mut().zip(&acc) {
        *b += neg_lr * a;
    }
}

/// `dst = (src W) * (act > 0)` for some minibatch rows: `src` is their `dZ` of a layer with
/// `W^T = wt` (`[i, o]`), `act` their ReLU outputs of the layer below.
fn backprop_rows(wt: &[f32], i: usize, o: usize, src: &[f32], act: &[f32], dst: &mut [f32]) {
    let n = src.len() / o;
    matmul(
        MatMut::from_row_major_slice_mut(dst, n, i),
        Accum::Replace,
        MatRef::from_row_major_slice(src, n, o),
        MatRef::from_row_major_slice(wt, i, o).transpose(),
        1.0f32,
        Par::Seq,
    );
    for (d, a) in dst.iter_mut().zip(act) {
        *d = if *a > 0.0 { *d } else { 0.0 };
    }
}

/// Columns per register block of the sparse kernels.
const CH: usize = 64;

/// Sparse first layer, rows `rows` of the minibatch: `out = relu?(X W^T + b)` over the nonzero
/// inputs of each row (ascending), `CH` outputs at a time held in registers.
struct SparseForward<'a> {
    wt: &'a [f32],
    bias: &'a [f32],
    o: usize,
    csr: &'a Compressed,
    rows: Range<usize>,
    relu: bool,
    out: &'a mut [f32],
}

impl pulp::WithSimd for SparseForward<'_> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        let SparseForward {
            wt,
            bias,
            o,
            csr,
            rows,
            relu,
            out,
        } = self;
        sparse_forward(wt, bias, o, csr, rows, relu, out);
    }
}

#[inline(always)]
fn sparse_forward(
    wt: &[f32],
    bias: &[f32],
    o: usize,
    csr: &Compressed,
    rows: Range<usize>,
    relu: bool,
    out: &mut [f32],
) {
    for (r, row) in rows.zip(out.chunks_exact_mut(o)) {
        let nz = csr.ptr[r]..csr.ptr[r + 1];
        let (idx, val) = (&csr.idx[nz.clone()], &csr.val[nz]);
        let mut c0 = 0;
        while c0 < o {
            let w = (o - c0).min(CH);
            let mut acc = [0f32; CH];
            if w == CH {
                for (&p, &x) in idx.iter().zip(val) {
                    let src = &wt[p as usize * o + c0..p as usize * o + c0 + CH];
                    for (a, s) in acc.iter_mut().zip(src) {
                        *a = x.mul_add(*s, *a);
                    }
                }
            } else {
                for (&p, &x) in idx.iter().zip(val) {
                    let src = &wt[p as usize * o + c0..p as usize * o + c0 + w];
                    for (a, s) in acc[..w].iter_mut().zip(src) {
                        *a = x.mul_add(*s, *a);
                    }
                }
            }
            for ((v, a), b) in row[c0..c0 + w].iter_mut().zip(&acc).zip(&bias[c0..c0 + w]) {
                let s = a + b;
                *v = if relu { s.max(0.0) } else { s };
            }
            c0 += w;
        }
    }
}

/// Sparse first-layer update for the inputs `px` (the rows of `wt`, `[px.len(), o]`):
/// `W^T[p] += neg_lr * sum_r x[r, p] dZ[r]` over the minibatch rows with `x[r, p] != 0`.
fn sparse_update(
    wt: &mut [f32],
    o: usize,
    csc: &Compressed,
    px: Range<usize>,
    dz: &[f32],
    neg_lr: f32,
) {
    pulp::Arch::new().dispatch(SparseUpdate {
        wt,
        o,
        csc,
        px,
        dz,
        neg_lr,
    });
}

struct SparseUpdate<'a> {
    wt: &'a mut [f32],
    o: usize,
    csc: &'a Compressed,
    px: Range<usize>,
    dz: &'a [f32],
    neg_lr: f32,
}

impl pulp::WithSimd for SparseUpdate<'_> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        let SparseUpdate {
            wt,
            o,
            csc,
            px,
            dz,
            neg_lr,
        } = self;
        sparse_update_kernel(wt, o, csc, px, dz, neg_lr);
    }
}

#[inline(always)]
fn sparse_update_kernel(
    wt: &mut [f32],
    o: usize,
    csc: &Compressed,
    px: Range<usize>,
    dz: &[f32],
    neg_lr: f32,
) {
    for (p, wrow) in px.zip(wt.chunks_exact_mut(o)) {
        let nz = csc.ptr[p]..csc.ptr[p + 1];
        if nz.is_empty() {
            continue;
        }
        let (idx, val) = (&csc.idx[nz.clone()], &csc.val[nz]);
        let mut c0 = 0;
        while c0 < o {
            let w = (o - c0).min(CH);
            let mut acc = [0f32; CH];
            if w == CH {
                for (&r, &x) in idx.iter().zip(val) {
                    let src = &dz[r as usize * o + c0..r as usize * o + c0 + CH];
                    for (a, s) in acc.iter_mut().zip(src) {
                        *a = x.mul_add(*s, *a);
                    }
                }
            } else {
                for (&r, &x) in idx.iter().zip(val) {
                    let src = &dz[r as usize * o + c0..r as usize * o + c0 + w];
                    for (a, s) in acc[..w].iter_mut().zip(src) {
                        *a = x.mul_add(*s, *a);
                    }
                }
            }
            for (v, a) in wrow[c0..c0 + w].iter_mut().zip(&acc) {
                *v += neg_lr * a;
            }
            c0 += w;
        }
    }
}

/// Column-compressed copy (rows ascending within a column) of a row-compressed matrix with
/// `d` columns.
fn compress_columns(csr: &Compressed, d: usize, out: &mut Compressed) {
    let nnz = csr.idx.len();
    out.ptr.clear();
    out.ptr.resize(d + 1, 0);
    for &p in &csr.idx {
        out.ptr[p as usize + 1] += 1;
    }
    for p in 0..d {
        out.ptr[p + 1] += out.ptr[p];
    }
    out.idx.resize(nnz, 0);
    out.val.resize(nnz, 0.0);
    let mut next = out.ptr[..d].to_vec();
    for r in 0..csr.ptr.len() - 1 {
        for k in csr.ptr[r]..csr.ptr[r + 1] {
            let p = csr.idx[k] as usize;
            out.idx[next[p]] = r as u32;
            out.val[next[p]] = csr.val[k];
            next[p] += 1;
        }
    }
}

/// Run `a` and `b`, at the same time when there is a pool.
fn both<RA: Send, RB: Send>(
    pool: Option<&rayon::ThreadPool>,
    a: impl FnOnce() -> RA + Send,
    b: impl FnOnce() -> RB + Send,
) -> (RA, RB) {
    match pool {
        Some(p) => p.join(a, b),
        None => (a(), b()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grad;
    use crate::model::{BnMode, Network};
    use crate::rng::Rng;
    use candle_core::{Device, Tensor};

    /// `n` random images of `d` pixels, 80 % zeros, labels `(7 r) mod k`.
    fn dataset(rng: &mut Rng, n: usize, d: usize, k: usize) -> Dataset {
        let mut images = vec![0f32; n * d];
        rng.fill_normal_f32(&mut images);
        for (j, v) in images.iter_mut().enumerate() {
            if j % 5 != 0 {
                *v = 0.0;
            }
        }
        let labels = (0..n).map(|r| ((r * 7) % k) as u8).collect();
        Dataset {
            images,
            labels,
            dim: d,
        }
    }

    /// One step of the fast path against one step of the candle path (`grad::loss_and_grads`
    /// and `w - lr g`), dense and sparse inputs, widths that exercise full and partial
    /// register blocks, one and two threads.
    #[test]
    fn step_matches_candle_path() {
        for (arch, input) in [
            ("50-70-130-10", InputLayer::Sparse),
            ("50-70-130-10", InputLayer::Dense),
            ("30-8-3", InputLayer::Sparse),
            ("30-10", InputLayer::Sparse),
            ("30-10", InputLayer::Dense),
        ] {
            let arch: Arch = arch.parse().unwrap();
            let mut rng = Rng::new(5, &[]);
            let mut flat = vec![0f32; arch.num_params()];
            rng.fill_normal_f32(&mut flat);
            flat.iter_mut().for_each(|v| *v *= 0.2);
            let k = *arch.widths.last().unwrap();
            let data = dataset(&mut rng, 50, arch.widths[0], k);
            let idx: Vec<usize> = (0..37).map(|r| (r * 11) % 50).collect();
            let (mut xs, mut ys) = (vec![], vec![]);
            data.gather_into(&idx, &mut xs, &mut ys);
            let lr = 0.05f32;
            for threads in [1, 2] {
                let mut fast = SgdMlp::new(&arch, &flat, &data, input, threads).unwrap();
                assert_eq!(fast.sparse_input(), input == InputLayer::Sparse);
                let loss = fast.step(&data, &idx, lr).unwrap();
                let net = Network::from_flat(&arch, &flat, None, &Device::Cpu).unwrap();
                let x = Tensor::from_slice(&xs, (idx.len(), arch.widths[0]), &Device::Cpu).unwrap();
                let lg =
                    grad::loss_and_grads(&arch, &net.param_tensors(), &[], &x, &ys, BnMode::Train)
                        .unwrap();
                let want_loss = lg.loss.to_scalar::<f32>().unwrap() as f64;
                assert!((loss - want_loss).abs() < 1e-5, "{loss} vs {want_loss}");
                let g: Vec<f32> = lg
                    .grads
                    .iter()
                    .flat_map(|t| t.flatten_all().unwrap().to_vec1::<f32>().unwrap())
                    .collect();
                let got = fast.flat_params();
                let scale = g.iter().fold(1e-3f32, |m, v| m.max(v.abs()));
                for (j, ((w, g), n)) in flat.iter().zip(&g).zip(&got).enumerate() {
                    let want = w - lr * g;
                    // f32 sums in different orders: 1e-4 of the largest gradient entry times
                    // lr, plus the rounding of the update itself
                    assert!(
                        (want - n).abs() < 1e-4 * lr * scale + 1e-6 * w.abs(),
                        "{arch} {input:?} param {j}: {n} vs {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn thread_count_round_trip_and_errors() {
        let arch: Arch = "40-66-12".parse().unwrap();
        let mut rng = Rng::new(9, &[]);
        let mut flat = vec![0f32; arch.num_params()];
        rng.fill_normal_f32(&mut flat);
        let data = dataset(&mut rng, 30, 40, 12);
        let same = SgdMlp::new(&arch, &flat, &data, InputLayer::Dense, 1)
            .unwrap()
            .flat_params();
        assert!(
            flat.iter()
                .zip(&same)
                .all(|(a, b)| a.to_bits() == b.to_bits())
        );
        let idx: Vec<usize> = (0..21).map(|r| (r * 7) % 30).collect();
        for input in [InputLayer::Dense, InputLayer::Sparse] {
            let mut a = SgdMlp::new(&arch, &flat, &data, input, 1).unwrap();
            let mut b = SgdMlp::new(&arch, &flat, &data, input, 2).unwrap();
            for _ in 0..3 {
                let la = a.step(&data, &idx, 0.1).unwrap();
                let lb = b.step(&data, &idx, 0.1).unwrap();
                assert_eq!(la.to_bits(), lb.to_bits());
            }
            let (pa, pb) = (a.flat_params(), b.flat_params());
            assert!(pa.iter().zip(&pb).all(|(x, y)| x.to_bits() == y.to_bits()));
        }
        let mut a = SgdMlp::new(&arch, &flat, &data, InputLayer::Auto, 1).unwrap();
        assert!(a.sparse_input());
        assert!(a.step(&data, &[30], 0.1).is_err());
        let mut bad = data.clone();
        bad.labels[0] = 12;
        assert!(a.step(&bad, &[0], 0.1).is_err());
        assert!(a.step(&data.subset(&[1, 2]), &[0], 0.1).is_err());
        let small: Arch = "40-66-11".parse().unwrap();
        let mut s = SgdMlp::new(
            &small,
            &vec![0.0; small.num_params()],
            &data,
            InputLayer::Auto,
            1,
        )
        .unwrap();
        assert!(s.step(&data, &[5], 0.1).is_err()); // label 11 >= 11 outputs
        assert!(SgdMlp::new(&arch, &flat[1..], &data, InputLayer::Auto, 1).is_err());
        assert!((density(&[0.0, 1.0, 0.0, 0.0]) - 0.25).abs() < 1e-12);
        assert!(InputLayer::Auto.sparse_for(&[0.0, 1.0, 0.0, 0.0]));
        assert!(!InputLayer::Auto.sparse_for(&[0.5, 1.0, 0.0, 0.0]));
        assert_eq!("dense".parse::<InputLayer>().unwrap(), InputLayer::Dense);
        assert!("x".parse::<InputLayer>().is_err());
    }
}
