//! CPU fast path of training (SGD, with or without momentum and weight decay, and Adam) and of
//! SGLD for networks without BatchNorm.
//!
//! [`crate::train::run`] uses [`SgdMlp`] on the CPU when the network has no BatchNorm;
//! BatchNorm and CUDA keep the candle path ([`crate::grad`]). Here the parameters and
//! every intermediate live in preallocated `Vec<f32>`s (no per-operation tensors), the matrix
//! products are faer's (single-threaded), bias and ReLU are one pass, and the SGD update is fused
//! into the weight-gradient product: `W^T <- W^T + (-lr) A^T dZ` is one product that accumulates
//! into the weights, so no gradient is ever stored. The other optimizers store the gradient and
//! apply their kernel from [`crate::optim`] ([`SgdMlp::sgd_step`], [`SgdMlp::adam_step`]). The network is converted to candle tensors
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
use crate::optim::adam::adam_update;
use crate::optim::sgd::{SgdStep, sgd_update};
use crate::optim::sgld::draw_param_noise;
use crate::rng::NormalBlocks;
use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use std::ops::Range;

pub use crate::optim::{AdamStep, SgldStep};

mod backprop;
mod sparse;

use backprop::*;
use sparse::*;

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

/// An MLP without BatchNorm trained by plain SGD (or sampled by SGLD) on the CPU (see the
/// module docs).
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
    /// Weights of each layer: `W^T` (`[in, out]`, row-major) for the sparse first layer, else
    /// `W` (`[out, in]`, row-major, PyTorch's layout).
    w: Vec<Vec<f32>>,
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
    /// SGLD noise of one weight matrix, PyTorch order.
    noise: Vec<f32>,
    /// The sparse first layer's noise, in its stored layout `W^T`.
    noise_t: Vec<f32>,
    /// Scratch buffer of [`draw_param_noise`].
    scratch: Vec<f32>,
    /// Optimizer state and gradient buffers (set up by the first [`SgdMlp::adam_step`] or
    /// [`SgdMlp::sgd_step`] with momentum or weight decay, or by [`SgdMlp::set_adam_moments`] /
    /// [`SgdMlp::set_momentum_buffer`]).
    opt: Option<OptBuffers>,
    /// Weights before the last [`SgdMlp::snapshot`].
    prev: Option<Layers>,
    pool: Option<rayon::ThreadPool>,
}

/// Weights and biases of every layer, in the stored layout.
type Layers = (Vec<Vec<f32>>, Vec<Vec<f32>>);

/// Optimizer state in the stored layout of each layer (as [`SgdMlp`]'s weights): Adam's
/// moments, or SGD's momentum buffer in `m` (then `v` is empty), and the gradient of the
/// current step.
#[derive(Debug)]
struct OptBuffers {
    /// Adam's moments (else SGD's momentum buffer).
    adam: bool,
    /// First moments (momentum buffer) and second moments of the weights and biases.
    m: Vec<Vec<f32>>,
    v: Vec<Vec<f32>>,
    mb: Vec<Vec<f32>>,
    vb: Vec<Vec<f32>>,
    /// Gradient of the weights (stored layout) and biases of the current step.
    gw: Vec<Vec<f32>>,
    gb: Vec<Vec<f32>>,
}

/// Weights `w*` an SGLD chain is localized at ([`SgdMlp::anchor`]).
#[derive(Clone, Debug)]
pub struct Anchor {
    w: Vec<Vec<f32>>,
    bias: Vec<Vec<f32>>,
}

/// The `[in, out]` view `W^T` of layer weights `w` stored transposed or not.
fn wt_view(w: &[f32], i: usize, o: usize, transposed: bool) -> MatRef<'_, f32> {
    if transposed {
        MatRef::from_row_major_slice(w, i, o)
    } else {
        MatRef::from_row_major_slice(w, o, i).transpose()
    }
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
        if train.dim() != arch.input_dim() || train.images.len() != train.len() * train.dim() {
            return Err(Error::config(
                "arch",
                arch,
                format!("input width {} (pixels per image of the data)", train.dim()),
            ));
        }
        if !arch.is_plain_mlp() {
            return Err(Error::config(
                "arch",
                arch,
                "a fully connected network without BatchNorm for the CPU SGD path",
            ));
        }
        if flat.len() != arch.num_params() {
            return Err(Error::config(
                "weights",
                flat.len(),
                format!("{} values for {arch}", arch.num_params()),
            ));
        }
        let sparse = input.sparse_for(&train.images);
        let widths = arch.widths.clone();
        let mut w = vec![];
        let mut bias = vec![];
        let mut off = 0;
        for l in 0..arch.layers() {
            let (i, o) = (widths[l], widths[l + 1]);
            let src = &flat[off..off + o * i];
            w.push(if l == 0 && sparse {
                let mut t = vec![0f32; i * o];
                for r in 0..o {
                    for c in 0..i {
                        t[c * o + r] = src[r * i + c];
                    }
                }
                t
            } else {
                src.to_vec()
            });
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
        let images = sparse.then(|| {
            let mut c = Compressed::default();
            c.clear();
            for row in train.images.chunks_exact(train.dim().max(1)) {
                for (p, &v) in row.iter().enumerate() {
                    if v != 0.0 {
                        c.ent.push(Entry {
                            idx: p as u32,
                            val: v,
                        });
                    }
                }
                c.ptr.push(c.ent.len());
            }
            c
        });
        Ok(SgdMlp {
            z: vec![vec![]; arch.layers()],
            dz: vec![vec![]; arch.layers()],
            widths,
            w,
            bias,
            images,
            n_data: (train.len(), train.dim()),
            xs: vec![],
            ys: vec![],
            cap: 0,
            row_loss: vec![],
            csr: Compressed::default(),
            csc: Compressed::default(),
            noise: vec![],
            noise_t: vec![],
            scratch: vec![],
            opt: None,
            prev: None,
            pool,
        })
    }

    /// True when the first layer runs over the nonzero inputs only.
    pub fn sparse_input(&self) -> bool {
        self.images.is_some()
    }

    fn transposed(&self, l: usize) -> bool {
        l == 0 && self.images.is_some()
    }

    /// The flattened weights in PyTorch order (as [`crate::model::Network::flat_params`]).
    pub fn flat_params(&self) -> Vec<f32> {
        self.flatten(&self.w, &self.bias)
    }

    /// Per-layer buffers in the stored layout, flattened in PyTorch order.
    fn flatten(&self, w: &[Vec<f32>], bias: &[Vec<f32>]) -> Vec<f32> {
        let mut v = Vec::with_capacity(
            w.iter().map(|w| w.len()).sum::<usize>() + bias.iter().map(|b| b.len()).sum::<usize>(),
        );
        for l in 0..w.len() {
            let (i, o) = (self.widths[l], self.widths[l + 1]);
            if self.transposed(l) {
                for r in 0..o {
                    v.extend((0..i).map(|c| w[l][c * o + r]));
                }
            } else {
                v.extend_from_slice(&w[l]);
            }
            v.extend_from_slice(&bias[l]);
        }
        v
    }

    /// Per-layer buffers in the stored layout from a flat vector in PyTorch order (length
    /// checked by the caller).
    fn unflatten(&self, flat: &[f32]) -> Layers {
        let (mut w, mut bias) = (vec![], vec![]);
        let mut off = 0;
        for l in 0..self.w.len() {
            let (i, o) = (self.widths[l], self.widths[l + 1]);
            let src = &flat[off..off + o * i];
            w.push(if self.transposed(l) {
                let mut t = vec![0f32; i * o];
                for r in 0..o {
                    for c in 0..i {
                        t[c * o + r] = src[r * i + c];
                    }
                }
                t
            } else {
                src.to_vec()
            });
            off += o * i;
            bias.push(flat[off..off + o].to_vec());
            off += o;
        }
        (w, bias)
    }

    /// Number of trainable parameters.
    pub fn num_params(&self) -> usize {
        self.w.iter().map(|w| w.len()).sum::<usize>()
            + self.bias.iter().map(|b| b.len()).sum::<usize>()
    }

    /// Remember the current weights, for [`SgdMlp::distance_from_snapshot`].
    pub fn snapshot(&mut self) {
        match &mut self.prev {
            Some((w, b)) => {
                for (d, s) in w.iter_mut().zip(&self.w) {
                    d.copy_from_slice(s);
                }
                for (d, s) in b.iter_mut().zip(&self.bias) {
                    d.copy_from_slice(s);
                }
            }
            None => self.prev = Some((self.w.clone(), self.bias.clone())),
        }
    }

    /// `||w - w_snapshot||_2` over all trainable parameters (f64 sum of the squared f32
    /// differences, layer by layer; `None` before the first [`SgdMlp::snapshot`]). After
    /// `snapshot(); step(..)` it is the length of the step's jump `||w_{t+1} - w_t||_2`.
    pub fn distance_from_snapshot(&self) -> Option<f64> {
        let (w, b) = self.prev.as_ref()?;
        let mut s = 0f64;
        for (x, y) in w.iter().chain(b).zip(self.w.iter().chain(&self.bias)) {
            for (a, c) in x.iter().zip(y) {
                let d = *c as f64 - *a as f64;
                s += d * d;
            }
        }
        Some(s.sqrt())
    }

    /// Set the Adam moments `m`, `v` (flattened in PyTorch order, as the weights), e.g. from a
    /// resume file; without this call the first [`SgdMlp::adam_step`] starts from zeros.
    pub fn set_adam_moments(&mut self, m: &[f32], v: &[f32]) -> Result<()> {
        let n = self.num_params();
        for (f, x) in [("adam-m", m), ("adam-v", v)] {
            if x.len() != n {
                return Err(Error::config(f, x.len(), format!("{n} values")));
            }
        }
        let (mw, mb) = self.unflatten(m);
        let (vw, vb) = self.unflatten(v);
        self.opt = Some(OptBuffers {
            adam: true,
            gw: mw.iter().map(|x| vec![0.0; x.len()]).collect(),
            gb: mb.iter().map(|x| vec![0.0; x.len()]).collect(),
            m: mw,
            v: vw,
            mb,
            vb,
        });
        Ok(())
    }

    /// The Adam moments `(m, v)` flattened in PyTorch order (`None` before any Adam step or
    /// [`SgdMlp::set_adam_moments`]).
    pub fn adam_moments(&self) -> Option<(Vec<f32>, Vec<f32>)> {
        let a = self.opt.as_ref().filter(|a| a.adam)?;
        Some((self.flatten(&a.m, &a.mb), self.flatten(&a.v, &a.vb)))
    }

    /// Set SGD's momentum buffer (flattened in PyTorch order, as the weights), e.g. from a
    /// resume file; without this call the first [`SgdMlp::sgd_step`] with momentum starts it.
    pub fn set_momentum_buffer(&mut self, buf: &[f32]) -> Result<()> {
        let n = self.num_params();
        if buf.len() != n {
            return Err(Error::config(
                "momentum-buffer",
                buf.len(),
                format!("{n} values"),
            ));
        }
        let (mw, mb) = self.unflatten(buf);
        self.opt = Some(OptBuffers {
            adam: false,
            gw: mw.iter().map(|x| vec![0.0; x.len()]).collect(),
            gb: mb.iter().map(|x| vec![0.0; x.len()]).collect(),
            v: vec![vec![]; mw.len()],
            vb: vec![vec![]; mb.len()],
            m: mw,
            mb,
        });
        Ok(())
    }

    /// SGD's momentum buffer flattened in PyTorch order (`None` before any SGD step with
    /// momentum or weight decay, or [`SgdMlp::set_momentum_buffer`]).
    pub fn momentum_buffer(&self) -> Option<Vec<f32>> {
        let a = self.opt.as_ref().filter(|a| !a.adam)?;
        Some(self.flatten(&a.m, &a.mb))
    }

    /// One SGD update ([`SgdStep`]: momentum and weight decay as `torch.optim.SGD`) on the
    /// minibatch `idx` of `data`; returns `L_B(w)` before the update. Plain SGD (no momentum,
    /// no weight decay) is [`SgdMlp::step`], the update fused into the gradient product;
    /// otherwise the gradient is stored and [`crate::optim::sgd::sgd_update`] applied, in the
    /// same two fixed blocks of rows (results do not depend on the thread count).
    pub fn sgd_step(&mut self, data: &Dataset, idx: &[usize], c: &SgdStep<f32>) -> Result<f64> {
        if !c.uses_buffer() && c.weight_decay == 0.0 {
            return self.step(data, idx, c.lr);
        }
        if self.opt.as_ref().is_none_or(|o| o.adam) {
            let z = vec![0f32; self.num_params()];
            self.set_momentum_buffer(&z)?;
        }
        let c = *c;
        self.with_pool(|net, par| {
            let loss = net.loss_and_backward(data, idx, par)?;
            if !idx.is_empty() {
                net.update_all(idx.len(), par, &|w, g, m, _| sgd_update(w, g, m, &c));
            }
            Ok(loss)
        })
    }

    /// Run `f(self, par)` inside the network's pool when it has one (`par`: two threads).
    fn with_pool<R>(&mut self, f: impl FnOnce(&mut Self, bool) -> R + Send) -> R
    where
        R: Send,
    {
        match self.pool.take() {
            Some(pool) => {
                // One hand-off to the pool per step; the halves then meet in cheap joins.
                let r = pool.install(|| f(self, true));
                self.pool = Some(pool);
                r
            }
            None => f(self, false),
        }
    }

    /// One Adam update ([`AdamStep`]) on the minibatch of images `idx` of `data` (the training
    /// set given to [`SgdMlp::new`]); returns `L_B(w)` before the update. The gradient is the
    /// same as [`SgdMlp::step`]'s (two halves of the minibatch, two fixed blocks of rows of
    /// every weight matrix), so results do not depend on the thread count.
    pub fn adam_step(&mut self, data: &Dataset, idx: &[usize], adam: &AdamStep) -> Result<f64> {
        if !(adam.lr.is_finite() && adam.lr > 0.0) {
            return Err(Error::config("lr", adam.lr, "a positive finite number"));
        }
        if !((0.0..1.0).contains(&adam.beta1) && (0.0..1.0).contains(&adam.beta2)) {
            return Err(Error::config(
                "beta1/beta2",
                format!("{}/{}", adam.beta1, adam.beta2),
                "in [0, 1)",
            ));
        }
        if !(adam.eps.is_finite() && adam.eps > 0.0) {
            return Err(Error::config(
                "adam-eps",
                adam.eps,
                "a positive finite number",
            ));
        }
        if adam.t == 0 {
            return Err(Error::config("t", 0, "at least 1 (steps count from 1)"));
        }
        if !(adam.weight_decay.is_finite() && adam.weight_decay >= 0.0) {
            return Err(Error::config(
                "weight-decay",
                adam.weight_decay,
                "a finite number >= 0",
            ));
        }
        if !self.opt.as_ref().is_some_and(|o| o.adam) {
            let z = vec![0f32; self.num_params()];
            self.set_adam_moments(&z, &z)?;
        }
        let c = adam.consts::<f32>();
        self.with_pool(|net, par| {
            let loss = net.loss_and_backward(data, idx, par)?;
            if !idx.is_empty() {
                net.update_all(idx.len(), par, &|w, g, m, v| adam_update(w, g, m, v, &c));
            }
            Ok(loss)
        })
    }

    /// The current weights, as the centre `w*` of SGLD chains.
    pub fn anchor(&self) -> Anchor {
        Anchor {
            w: self.w.clone(),
            bias: self.bias.clone(),
        }
    }

    /// Set the weights to those of `anchor` (from [`SgdMlp::anchor`] of this network), e.g. to
    /// start the next SGLD chain without compressing the training images again.
    pub fn reset(&mut self, anchor: &Anchor) -> Result<()> {
        self.check_anchor(anchor)?;
        for (w, a) in self.w.iter_mut().zip(&anchor.w) {
            w.copy_from_slice(a);
        }
        for (b, a) in self.bias.iter_mut().zip(&anchor.bias) {
            b.copy_from_slice(a);
        }
        Ok(())
    }

    fn check_anchor(&self, anchor: &Anchor) -> Result<()> {
        let same = |a: &[Vec<f32>], b: &[Vec<f32>]| {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.len() == y.len())
        };
        if same(&anchor.w, &self.w) && same(&anchor.bias, &self.bias) {
            Ok(())
        } else {
            Err(Error::config(
                "anchor",
                "other shapes",
                "the weights of a network of the same architecture",
            ))
        }
    }

    /// One SGD update `w <- w - lr grad L_B(w)` on the minibatch of images `idx` of `data` (the
    /// training set given to [`SgdMlp::new`]); returns the mean cross-entropy `L_B(w)` before
    /// the update.
    pub fn step(&mut self, data: &Dataset, idx: &[usize], lr: f32) -> Result<f64> {
        self.with_pool(|net, par| {
            let loss = net.loss_and_backward(data, idx, par)?;
            if !idx.is_empty() {
                net.add_gradient(idx.len(), -lr, par, None);
            }
            Ok(loss)
        })
    }

    /// The mean cross-entropy `L_B(w)` of the minibatch `idx` of `data` and its gradient by
    /// every parameter, flat in PyTorch order (as [`crate::grad::loss_and_grads`], up to f32
    /// summation order); the weights are not changed.
    pub fn loss_and_gradient(&mut self, data: &Dataset, idx: &[usize]) -> Result<(f64, Vec<f32>)> {
        let loss = self.loss_and_backward(data, idx, false)?;
        let b = idx.len();
        let mut gw: Vec<Vec<f32>> = self.w.iter().map(|w| vec![0.0; w.len()]).collect();
        let mut gb: Vec<Vec<f32>> = self.bias.iter().map(|v| vec![0.0; v.len()]).collect();
        if b > 0 {
            let g = Grads {
                widths: &self.widths,
                xs: &self.xs,
                z: &self.z,
                dz: &self.dz,
                csc: self.images.as_ref().map(|_| &self.csc),
                b,
                scale: 1.0,
                sgld: None,
            };
            for (l, (gw, gb)) in gw.iter_mut().zip(&mut gb).enumerate() {
                let (i, o) = (self.widths[l], self.widths[l + 1]);
                let rows = if self.transposed(l) { i } else { o };
                g.store_block(l, 0..rows, gw);
                column_sums(&self.dz[l][..b * o], o, gb);
            }
        }
        Ok((loss, self.flatten(&gw, &gb)))
    }

    /// One SGLD step on the minibatch `idx` of `data`, localized at `anchor` (from
    /// [`SgdMlp::anchor`] of a network of the same shape), with standard normal noise drawn
    /// from `noise` parameter by parameter in PyTorch order; returns `L_B(w)` before the step.
    pub fn sgld_step(
        &mut self,
        data: &Dataset,
        idx: &[usize],
        anchor: &Anchor,
        s: &SgldStep,
        noise: &mut NormalBlocks,
    ) -> Result<f64> {
        self.sgld_step_fused(data, idx, anchor, s, noise, true)
    }

    /// [`SgdMlp::sgld_step`]; `fuse: false` updates the sparse first layer in two passes
    /// (localisation and noise, then the gradient), the reference the fused pass is tested
    /// against.
    fn sgld_step_fused(
        &mut self,
        data: &Dataset,
        idx: &[usize],
        anchor: &Anchor,
        s: &SgldStep,
        noise: &mut NormalBlocks,
        fuse: bool,
    ) -> Result<f64> {
        self.check_anchor(anchor)?;
        let loss = self.loss_and_backward(data, idx, false)?;
        if idx.is_empty() {
            return Ok(loss);
        }
        // w + (-eps/2 gamma) (w - w*) + noise_scale z, then the gradient term as one product;
        // the sparse first layer's weights get all three in one pass (`sparse_sgld_update`).
        let loc = -s.half_eps * s.gamma;
        let fused = fuse && self.images.is_some();
        for l in 0..self.w.len() {
            let (i, o) = (self.widths[l], self.widths[l + 1]);
            let transposed = self.transposed(l);
            let w = &mut self.w[l];
            let w0 = &anchor.w[l];
            if s.noise_scale > 0.0 {
                // drawn input by input (`draw_param_noise`): straight into W^T's layout, or
                // transposed into W's
                if transposed {
                    self.noise_t.resize(i * o, 0.0);
                    noise.fill(&mut self.noise_t);
                } else {
                    self.noise.resize(i * o, 0.0);
                    draw_param_noise(noise, &[o, i], &mut self.noise, &mut self.scratch);
                }
            }
            if !(l == 0 && fused) {
                if s.noise_scale > 0.0 {
                    let z = if transposed {
                        &self.noise_t
                    } else {
                        &self.noise
                    };
                    for ((v, &v0), &z) in w.iter_mut().zip(w0).zip(z) {
                        *v = localize(*v, v0, loc) + s.noise_scale * z;
                    }
                } else {
                    for (v, &v0) in w.iter_mut().zip(w0) {
                        *v = localize(*v, v0, loc);
                    }
                }
            }
            let (b, b0) = (&mut self.bias[l], &anchor.bias[l]);
            if s.noise_scale > 0.0 {
                self.noise.resize(o, 0.0);
                noise.fill(&mut self.noise[..o]);
            }
            for (j, (v, &v0)) in b.iter_mut().zip(b0).enumerate() {
                let z = if s.noise_scale > 0.0 {
                    s.noise_scale * self.noise[j]
                } else {
                    0.0
                };
                *v = localize(*v, v0, loc) + z;
            }
        }
        let noise_t = std::mem::take(&mut self.noise_t);
        let first = fused.then_some(SgldFirst {
            w0: &anchor.w[0],
            z: (s.noise_scale > 0.0).then_some(&noise_t[..]),
            loc,
            ns: s.noise_scale,
        });
        self.add_gradient(idx.len(), -s.half_eps * s.nbeta, false, first);
        self.noise_t = noise_t;
        Ok(loss)
    }
}

/// Run `a` and `b`, at the same time (`rayon::join`) when `par`.
fn both<RA: Send, RB: Send>(
    par: bool,
    a: impl FnOnce() -> RA + Send,
    b: impl FnOnce() -> RB + Send,
) -> (RA, RB) {
    if par { rayon::join(a, b) } else { (a(), b()) }
}

#[cfg(test)]
mod tests;
