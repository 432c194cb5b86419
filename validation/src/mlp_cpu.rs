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
use crate::rng::Rng;
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
    /// Adam moments and gradient buffers (set up by the first [`SgdMlp::adam_step`] or by
    /// [`SgdMlp::set_adam_moments`]).
    adam: Option<AdamBuffers>,
    /// Weights before the last [`SgdMlp::snapshot`].
    prev: Option<Layers>,
    pool: Option<rayon::ThreadPool>,
}

/// Weights and biases of every layer, in the stored layout.
type Layers = (Vec<Vec<f32>>, Vec<Vec<f32>>);

/// Adam state in the stored layout of each layer (as [`SgdMlp`]'s weights).
#[derive(Debug)]
struct AdamBuffers {
    /// First and second moments of the weights and biases.
    m: Vec<Vec<f32>>,
    v: Vec<Vec<f32>>,
    mb: Vec<Vec<f32>>,
    vb: Vec<Vec<f32>>,
    /// Gradient of the weights (stored layout) and biases of the current step.
    gw: Vec<Vec<f32>>,
    gb: Vec<Vec<f32>>,
}

/// One step of Adam as `torch.optim.Adam` takes it (no weight decay, no AMSGrad), on the CPU:
/// for every parameter `m <- m + (1 - beta1) (g - m)` (PyTorch's `lerp_`),
/// `v <- beta2 v + (1 - beta2) g g`, `w <- w - (lr / (1 - beta1^t)) m / (sqrt(v) /
/// sqrt(1 - beta2^t) + eps)`, in f32 with the constants formed in f64 as PyTorch does in Python.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamStep {
    /// Learning rate.
    pub lr: f64,
    /// First-moment decay.
    pub beta1: f64,
    /// Second-moment decay.
    pub beta2: f64,
    /// Denominator epsilon.
    pub eps: f64,
    /// Number of this step, counting from 1 (the bias corrections use it).
    pub t: u64,
}

/// The f32 constants of one Adam step.
#[derive(Clone, Copy, Debug)]
struct AdamConsts {
    one_minus_beta1: f32,
    beta2: f32,
    one_minus_beta2: f32,
    bc2_sqrt: f32,
    eps: f32,
    neg_step_size: f32,
}

impl AdamStep {
    fn consts(&self) -> AdamConsts {
        let t = self.t.min(i32::MAX as u64) as i32;
        let bc1 = 1.0 - self.beta1.powi(t);
        let bc2 = 1.0 - self.beta2.powi(t);
        AdamConsts {
            one_minus_beta1: (1.0 - self.beta1) as f32,
            beta2: self.beta2 as f32,
            one_minus_beta2: (1.0 - self.beta2) as f32,
            bc2_sqrt: bc2.sqrt() as f32,
            eps: self.eps as f32,
            neg_step_size: (-(self.lr / bc1)) as f32,
        }
    }
}

/// Adam update of one block of parameters `w` with gradient `g` and moments `m`, `v`
/// (element by element, as PyTorch's single-tensor Adam on the CPU).
fn adam_update(w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], c: &AdamConsts) {
    for (((w, &g), m), v) in w.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
        // lerp_(g, 1 - beta1) with a weight below 1/2: m + weight (g - m)
        *m += c.one_minus_beta1 * (g - *m);
        // mul_(beta2).addcmul_(g, g, value = 1 - beta2)
        *v = *v * c.beta2 + c.one_minus_beta2 * g * g;
        // denom = sqrt(v) / sqrt(bc2) + eps; addcdiv_(m, denom, value = -lr / bc1)
        let denom = v.sqrt() / c.bc2_sqrt + c.eps;
        *w += c.neg_step_size * (*m / denom);
    }
}

/// Weights `w*` an SGLD chain is localized at ([`SgdMlp::anchor`]).
#[derive(Clone, Debug)]
pub struct Anchor {
    w: Vec<Vec<f32>>,
    bias: Vec<Vec<f32>>,
}

/// Constants of an SGLD step `w <- w - (eps/2) (n_beta g + gamma (w - w*)) + noise_scale z`.
#[derive(Clone, Copy, Debug)]
pub struct SgldStep {
    /// `eps / 2`.
    pub half_eps: f32,
    /// Inverse temperature `n_beta`.
    pub nbeta: f32,
    /// Localization strength `gamma`.
    pub gamma: f32,
    /// Standard deviation of the noise, `sqrt(eps) noise_level` (0: none).
    pub noise_scale: f32,
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
            adam: None,
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
        self.adam = Some(AdamBuffers {
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
        let a = self.adam.as_ref()?;
        Some((self.flatten(&a.m, &a.mb), self.flatten(&a.v, &a.vb)))
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
        if self.adam.is_none() {
            let z = vec![0f32; self.num_params()];
            self.set_adam_moments(&z, &z)?;
        }
        match self.pool.take() {
            Some(pool) => {
                let r = pool.install(|| self.adam_step_inner(data, idx, adam, true));
                self.pool = Some(pool);
                r
            }
            None => self.adam_step_inner(data, idx, adam, false),
        }
    }

    fn adam_step_inner(
        &mut self,
        data: &Dataset,
        idx: &[usize],
        adam: &AdamStep,
        par: bool,
    ) -> Result<f64> {
        let loss = self.loss_and_backward(data, idx, par)?;
        if !idx.is_empty() {
            self.adam_update_all(idx.len(), &adam.consts(), par);
        }
        Ok(loss)
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
        match self.pool.take() {
            Some(pool) => {
                // One hand-off to the pool per step; the halves then meet in cheap joins.
                let r = pool.install(|| self.sgd_step(data, idx, lr, true));
                self.pool = Some(pool);
                r
            }
            None => self.sgd_step(data, idx, lr, false),
        }
    }

    fn sgd_step(&mut self, data: &Dataset, idx: &[usize], lr: f32, par: bool) -> Result<f64> {
        let loss = self.loss_and_backward(data, idx, par)?;
        if !idx.is_empty() {
            self.add_gradient(idx.len(), -lr, par);
        }
        Ok(loss)
    }

    /// One SGLD step on the minibatch `idx` of `data`, localized at `anchor` (from
    /// [`SgdMlp::anchor`] of a network of the same shape), with standard normal noise drawn
    /// from `rng` parameter by parameter in PyTorch order; returns `L_B(w)` before the step.
    pub fn sgld_step(
        &mut self,
        data: &Dataset,
        idx: &[usize],
        anchor: &Anchor,
        s: &SgldStep,
        rng: &mut Rng,
    ) -> Result<f64> {
        self.check_anchor(anchor)?;
        let loss = self.loss_and_backward(data, idx, false)?;
        if idx.is_empty() {
            return Ok(loss);
        }
        // w + (-eps/2 gamma) (w - w*) + noise_scale z, then the gradient term as one product.
        let loc = -s.half_eps * s.gamma;
        for l in 0..self.w.len() {
            let (i, o) = (self.widths[l], self.widths[l + 1]);
            let transposed = self.transposed(l);
            let w = &mut self.w[l];
            let w0 = &anchor.w[l];
            if s.noise_scale > 0.0 {
                self.noise.resize(i * o, 0.0);
                if transposed {
                    // W^T[c, r] gets the noise of W[r, c]: drawn in W's order, stored
                    // transposed (the strided stores hide behind the sampler).
                    for r in 0..o {
                        for c in 0..i {
                            self.noise[c * o + r] = rng.normal_f32();
                        }
                    }
                } else {
                    rng.fill_normal_f32(&mut self.noise);
                }
                for ((v, &v0), &z) in w.iter_mut().zip(w0).zip(&self.noise) {
                    *v = localize(*v, v0, loc) + s.noise_scale * z;
                }
            } else {
                for (v, &v0) in w.iter_mut().zip(w0) {
                    *v = localize(*v, v0, loc);
                }
            }
            let (b, b0) = (&mut self.bias[l], &anchor.bias[l]);
            if s.noise_scale > 0.0 {
                self.noise.resize(o, 0.0);
                rng.fill_normal_f32(&mut self.noise[..o]);
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
        self.add_gradient(idx.len(), -s.half_eps * s.nbeta, false);
        Ok(loss)
    }

    /// Forward pass, loss and every layer's `dZ` for the minibatch `idx`; returns the mean loss.
    /// `par`: run the halves with `rayon::join` (inside the network's pool).
    fn loss_and_backward(&mut self, data: &Dataset, idx: &[usize], par: bool) -> Result<f64> {
        let b = idx.len();
        let nl = self.w.len();
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
        let pool = par;

        // Forward pass, loss and dZ of the last layer, per half.
        {
            let (mut za, mut zb) = (vec![], vec![]);
            for (l, z) in self.z.iter_mut().enumerate() {
                let w = self.widths[l + 1];
                let (a, bb) = z[..b * w].split_at_mut(h * w);
                za.push(a);
                zb.push(bb);
            }
            let (da, db) = self.dz[nl - 1][..b * k].split_at_mut(h * k);
            let (la, lb) = self.row_loss[..b].split_at_mut(h);
            let net = Params {
                widths: &self.widths,
                w: &self.w,
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

        // dZ of the hidden layers, last first, per half.
        for l in (1..nl).rev() {
            let (i, o) = (self.widths[l], self.widths[l + 1]);
            let (lower, upper) = self.dz.split_at_mut(l);
            let (sa, sb) = upper[0][..b * o].split_at(h * o);
            let (ta, tb) = lower[l - 1][..b * i].split_at_mut(h * i);
            let (aa, ab) = self.z[l - 1][..b * i].split_at(h * i);
            let wt = wt_view(&self.w[l], i, o, false);
            both(
                pool,
                || backprop_rows(wt, sa, aa, ta),
                || backprop_rows(wt, sb, ab, tb),
            );
        }
        Ok(loss)
    }

    /// `W <- W + scale * dZ^T A` and `b <- b + scale * sum_rows dZ` for every layer, with the
    /// `dZ` of the last [`SgdMlp::loss_and_backward`] (`b` rows): each weight matrix in two
    /// fixed blocks of rows, the blocks of all layers on two threads when `par`.
    fn add_gradient(&mut self, b: usize, scale: f32, par: bool) {
        let nl = self.w.len();
        let xs = &self.xs[..];
        let (mut blocks_a, mut blocks_b) = (vec![], vec![]);
        for (l, w) in self.w.iter_mut().enumerate() {
            let (i, o) = (self.widths[l], self.widths[l + 1]);
            let transposed = l == 0 && self.images.is_some();
            // Rows of the stored matrix: inputs when transposed, else outputs.
            let (rows, cols) = if transposed { (i, o) } else { (o, i) };
            let split = rows / 2;
            let (wa, wb) = w.split_at_mut(split * cols);
            blocks_a.push((l, 0..split, wa));
            blocks_b.push((l, split..rows, wb));
        }
        let g = Grads {
            widths: &self.widths,
            xs,
            z: &self.z,
            dz: &self.dz,
            csc: self.images.as_ref().map(|_| &self.csc),
            b,
            scale,
        };
        let bias = &mut self.bias;
        both(
            par,
            || {
                for (l, r, w) in blocks_a {
                    g.block(l, r, w);
                }
                for (l, bias) in bias.iter_mut().enumerate().take(nl) {
                    let o = g.widths[l + 1];
                    bias_update(bias, &g.dz[l][..b * o], o, scale);
                }
            },
            || {
                for (l, r, w) in blocks_b {
                    g.block(l, r, w);
                }
            },
        );
    }

    /// The gradient of every layer from the `dZ` of the last [`SgdMlp::loss_and_backward`]
    /// into the Adam gradient buffers, then the Adam update, each weight matrix in the same two
    /// fixed blocks of rows as [`SgdMlp::add_gradient`] (on two threads when `par`).
    fn adam_update_all(&mut self, b: usize, c: &AdamConsts, par: bool) {
        let nl = self.w.len();
        let sparse = self.images.is_some();
        let Some(adam) = self.adam.as_mut() else {
            return;
        };
        let (mut blocks_a, mut blocks_b) = (vec![], vec![]);
        for (l, (((w, g), m), v)) in self
            .w
            .iter_mut()
            .zip(adam.gw.iter_mut())
            .zip(adam.m.iter_mut())
            .zip(adam.v.iter_mut())
            .enumerate()
        {
            let (i, o) = (self.widths[l], self.widths[l + 1]);
            let (rows, cols) = if l == 0 && sparse { (i, o) } else { (o, i) };
            let split = rows / 2;
            let (wa, wb) = w.split_at_mut(split * cols);
            let (ga, gb) = g.split_at_mut(split * cols);
            let (ma, mb) = m.split_at_mut(split * cols);
            let (va, vb) = v.split_at_mut(split * cols);
            blocks_a.push((l, 0..split, wa, ga, ma, va));
            blocks_b.push((l, split..rows, wb, gb, mb, vb));
        }
        let g = Grads {
            widths: &self.widths,
            xs: &self.xs[..],
            z: &self.z,
            dz: &self.dz,
            csc: self.images.as_ref().map(|_| &self.csc),
            b,
            scale: 1.0,
        };
        let (bias, gbias, mbias, vbias) =
            (&mut self.bias, &mut adam.gb, &mut adam.mb, &mut adam.vb);
        both(
            par,
            || {
                for (l, r, w, gr, m, v) in blocks_a {
                    g.store_block(l, r, gr);
                    adam_update(w, gr, m, v, c);
                }
                for l in 0..nl {
                    let o = g.widths[l + 1];
                    column_sums(&g.dz[l][..b * o], o, &mut gbias[l]);
                    adam_update(&mut bias[l], &gbias[l], &mut mbias[l], &mut vbias[l], c);
                }
            },
            || {
                for (l, r, w, gr, m, v) in blocks_b {
                    g.store_block(l, r, gr);
                    adam_update(w, gr, m, v, c);
                }
            },
        );
    }

    fn reserve(&mut self, b: usize) {
        if b <= self.cap {
            return;
        }
        for l in 0..self.w.len() {
            let o = self.widths[l + 1];
            self.z[l].resize(b * o, 0.0);
            self.dz[l].resize(b * o, 0.0);
        }
        self.row_loss.resize(b, 0.0);
        self.cap = b;
    }
}

/// `w + loc (w - w0)`.
#[inline(always)]
fn localize(w: f32, w0: f32, loc: f32) -> f32 {
    w + loc * (w - w0)
}

/// What the weight updates read.
struct Grads<'a> {
    widths: &'a [usize],
    xs: &'a [f32],
    z: &'a [Vec<f32>],
    dz: &'a [Vec<f32>],
    /// Column-compressed minibatch when the first layer is sparse (and stored transposed).
    csc: Option<&'a Compressed>,
    b: usize,
    scale: f32,
}

impl Grads<'_> {
    /// Rows `rows` of layer `l`'s stored weights `w += scale * (dZ^T A)[rows]`.
    fn block(&self, l: usize, rows: Range<usize>, w: &mut [f32]) {
        let (i, o) = (self.widths[l], self.widths[l + 1]);
        let b = self.b;
        let dz = &self.dz[l][..b * o];
        match (l, self.csc) {
            (0, Some(csc)) => sparse_update(w, o, csc, rows, dz, Some(self.scale)),
            _ => {
                let act: &[f32] = if l == 0 {
                    &self.xs[..b * i]
                } else {
                    &self.z[l - 1][..b * i]
                };
                matmul(
                    MatMut::from_row_major_slice_mut(w, rows.len(), i),
                    Accum::Add,
                    MatRef::from_row_major_slice(dz, b, o)
                        .transpose()
                        .subrows(rows.start, rows.len()),
                    MatRef::from_row_major_slice(act, b, i),
                    self.scale,
                    Par::Seq,
                );
            }
        }
    }
}

impl Grads<'_> {
    /// Rows `rows` of layer `l`'s weight gradient `(dZ^T A)[rows]` (stored layout) into `g`.
    fn store_block(&self, l: usize, rows: Range<usize>, g: &mut [f32]) {
        let (i, o) = (self.widths[l], self.widths[l + 1]);
        let b = self.b;
        let dz = &self.dz[l][..b * o];
        match (l, self.csc) {
            (0, Some(csc)) => sparse_update(g, o, csc, rows, dz, None),
            _ => {
                let act: &[f32] = if l == 0 {
                    &self.xs[..b * i]
                } else {
                    &self.z[l - 1][..b * i]
                };
                matmul(
                    MatMut::from_row_major_slice_mut(g, rows.len(), i),
                    Accum::Replace,
                    MatRef::from_row_major_slice(dz, b, o)
                        .transpose()
                        .subrows(rows.start, rows.len()),
                    MatRef::from_row_major_slice(act, b, i),
                    1.0f32,
                    Par::Seq,
                );
            }
        }
    }
}

/// Shared view of the parameters for the forward pass.
struct Params<'a> {
    widths: &'a [usize],
    w: &'a [Vec<f32>],
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
        let nl = self.w.len();
        for l in 0..nl {
            let (i, o) = (self.widths[l], self.widths[l + 1]);
            let relu = l + 1 < nl;
            let (before, rest) = z.split_at_mut(l);
            let out = &mut rest[0][..n * o];
            match (l, csr) {
                (0, Some(csr)) => {
                    pulp::Arch::new().dispatch(SparseForward {
                        wt: &self.w[0],
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
                        wt_view(&self.w[l], i, o, false),
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

/// `bias += scale * (column sums of dz)`, summing rows in order.
fn bias_update(bias: &mut [f32], dz: &[f32], o: usize, scale: f32) {
    let mut acc = vec![0f32; o];
    column_sums(dz, o, &mut acc);
    for (b, a) in bias.iter_mut().zip(&acc) {
        *b += scale * a;
    }
}

/// `acc = column sums of dz` (`o` columns), summing rows in order.
fn column_sums(dz: &[f32], o: usize, acc: &mut [f32]) {
    acc.fill(0.0);
    for row in dz.chunks_exact(o) {
        for (a, v) in acc.iter_mut().zip(row) {
            *a += v;
        }
    }
}

/// `dst = (src W) * (act > 0)` for some minibatch rows: `src` is their `dZ` of a layer with
/// `W^T = wt` (`[i, o]`), `act` their ReLU outputs of the layer below.
fn backprop_rows(wt: MatRef<'_, f32>, src: &[f32], act: &[f32], dst: &mut [f32]) {
    let (i, o) = (wt.nrows(), wt.ncols());
    let n = src.len() / o;
    matmul(
        MatMut::from_row_major_slice_mut(dst, n, i),
        Accum::Replace,
        MatRef::from_row_major_slice(src, n, o),
        wt.transpose(),
        1.0f32,
        Par::Seq,
    );
    for (d, a) in dst.iter_mut().zip(act) {
        *d = if *a > 0.0 { *d } else { 0.0 };
    }
}

/// Columns per register block of the sparse kernels.
const CH: usize = 64;

/// `acc[j] = sum_k val[k] m[idx[k], c0 + j]` for `j < w <= CH` (`m` row-major with `o`
/// columns), summed in the order of `idx` with `mul_add`: the register-blocked inner loop of
/// both sparse kernels. A full block has a compile-time length, so it stays in registers.
#[inline(always)]
fn accumulate_block(
    idx: &[u32],
    val: &[f32],
    m: &[f32],
    o: usize,
    c0: usize,
    w: usize,
) -> [f32; CH] {
    let mut acc = [0f32; CH];
    if w == CH {
        for (&k, &x) in idx.iter().zip(val) {
            let src = &m[k as usize * o + c0..k as usize * o + c0 + CH];
            for (a, s) in acc.iter_mut().zip(src) {
                *a = x.mul_add(*s, *a);
            }
        }
    } else {
        for (&k, &x) in idx.iter().zip(val) {
            let src = &m[k as usize * o + c0..k as usize * o + c0 + w];
            for (a, s) in acc[..w].iter_mut().zip(src) {
                *a = x.mul_add(*s, *a);
            }
        }
    }
    acc
}

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
            let acc = accumulate_block(idx, val, wt, o, c0, w);
            for ((v, a), b) in row[c0..c0 + w].iter_mut().zip(&acc).zip(&bias[c0..c0 + w]) {
                let s = a + b;
                *v = if relu { s.max(0.0) } else { s };
            }
            c0 += w;
        }
    }
}

/// Sparse first-layer update for the inputs `px` (the rows of `wt`, `[px.len(), o]`):
/// `W^T[p] += neg_lr * sum_r x[r, p] dZ[r]` over the minibatch rows with `x[r, p] != 0`
/// (`neg_lr: None`: `W^T[p] = sum_r ...`, the gradient itself).
fn sparse_update(
    wt: &mut [f32],
    o: usize,
    csc: &Compressed,
    px: Range<usize>,
    dz: &[f32],
    neg_lr: Option<f32>,
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
    neg_lr: Option<f32>,
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
    neg_lr: Option<f32>,
) {
    for (p, wrow) in px.zip(wt.chunks_exact_mut(o)) {
        let nz = csc.ptr[p]..csc.ptr[p + 1];
        if nz.is_empty() {
            if neg_lr.is_none() {
                wrow.fill(0.0);
            }
            continue;
        }
        let (idx, val) = (&csc.idx[nz.clone()], &csc.val[nz]);
        let mut c0 = 0;
        while c0 < o {
            let w = (o - c0).min(CH);
            let acc = accumulate_block(idx, val, dz, o, c0, w);
            match neg_lr {
                Some(neg_lr) => {
                    for (v, a) in wrow[c0..c0 + w].iter_mut().zip(&acc) {
                        *v += neg_lr * a;
                    }
                }
                None => wrow[c0..c0 + w].copy_from_slice(&acc[..w]),
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

/// Run `a` and `b`, at the same time (`rayon::join`) when `par`.
fn both<RA: Send, RB: Send>(
    par: bool,
    a: impl FnOnce() -> RA + Send,
    b: impl FnOnce() -> RB + Send,
) -> (RA, RB) {
    if par { rayon::join(a, b) } else { (a(), b()) }
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

    /// Two Adam steps of the fast path: the gradient it uses against the candle path's, the
    /// update against Adam's formula in f64 applied to that gradient; one and two threads give
    /// the same bits; the moments round-trip through `adam_moments` / `set_adam_moments`; the
    /// jump norm equals the weights' distance.
    #[test]
    fn adam_step_matches_candle_gradients_and_formula() {
        for (arch, input) in [
            ("50-70-130-10", InputLayer::Sparse),
            ("50-70-130-10", InputLayer::Dense),
            ("30-10", InputLayer::Sparse),
        ] {
            let arch: Arch = arch.parse().unwrap();
            let mut rng = Rng::new(6, &[]);
            let mut flat = vec![0f32; arch.num_params()];
            rng.fill_normal_f32(&mut flat);
            flat.iter_mut().for_each(|v| *v *= 0.2);
            let k = *arch.widths.last().unwrap();
            let data = dataset(&mut rng, 50, arch.widths[0], k);
            let batches: [Vec<usize>; 2] = [
                (0..37).map(|r| (r * 11) % 50).collect(),
                (0..20).map(|r| (r * 3 + 1) % 50).collect(),
            ];
            let (lr, b1, b2, eps) = (0.01f64, 0.9f64, 0.999f64, 1e-8f64);
            let mut w: Vec<f64> = flat.iter().map(|&v| v as f64).collect();
            let mut m = vec![0f64; w.len()];
            let mut v = vec![0f64; w.len()];
            let mut fast: Vec<SgdMlp> = [1, 2]
                .iter()
                .map(|&t| SgdMlp::new(&arch, &flat, &data, input, t).unwrap())
                .collect();
            for (t, idx) in batches.iter().enumerate() {
                let t = t as u64 + 1;
                let before = fast[0].flat_params();
                let net = Network::from_flat(&arch, &before, None, &Device::Cpu).unwrap();
                let (mut xs, mut ys) = (vec![], vec![]);
                data.gather_into(idx, &mut xs, &mut ys);
                let x = Tensor::from_slice(&xs, (idx.len(), arch.widths[0]), &Device::Cpu).unwrap();
                let lg =
                    grad::loss_and_grads(&arch, &net.param_tensors(), &[], &x, &ys, BnMode::Train)
                        .unwrap();
                let step = AdamStep {
                    lr,
                    beta1: b1,
                    beta2: b2,
                    eps,
                    t,
                };
                let losses: Vec<f64> = fast
                    .iter_mut()
                    .map(|f| {
                        f.snapshot();
                        f.adam_step(&data, idx, &step).unwrap()
                    })
                    .collect();
                assert_eq!(losses[0].to_bits(), losses[1].to_bits());
                let want_loss = lg.loss.to_scalar::<f32>().unwrap() as f64;
                assert!((losses[0] - want_loss).abs() < 1e-5);
                // the gradient: candle's up to f32 summation order (1e-4 of the largest entry)
                let a = fast[0].adam.as_ref().unwrap();
                let g = fast[0].flatten(&a.gw, &a.gb);
                let want_g: Vec<f32> = lg
                    .grads
                    .iter()
                    .flat_map(|t| t.flatten_all().unwrap().to_vec1::<f32>().unwrap())
                    .collect();
                let scale = want_g.iter().fold(1e-3f32, |m, v| m.max(v.abs()));
                for (j, (x, y)) in g.iter().zip(&want_g).enumerate() {
                    assert!((x - y).abs() < 1e-4 * scale, "{arch} grad {j}: {x} vs {y}");
                }
                // the update: Adam in f64 on the same gradient; f32 evaluation of the step
                // (a few ulps of a step of size <= lr / (1 - beta1)) and of `w + step` (half
                // an ulp of |w|), over two steps
                let (bc1, bc2) = (1.0 - b1.powi(t as i32), 1.0 - b2.powi(t as i32));
                for j in 0..w.len() {
                    let gj = g[j] as f64;
                    m[j] = b1 * m[j] + (1.0 - b1) * gj;
                    v[j] = b2 * v[j] + (1.0 - b2) * gj * gj;
                    w[j] -= lr / bc1 * m[j] / (v[j].sqrt() / bc2.sqrt() + eps);
                }
                let (p1, p2) = (fast[0].flat_params(), fast[1].flat_params());
                assert!(p1.iter().zip(&p2).all(|(a, b)| a.to_bits() == b.to_bits()));
                for (j, (got, want)) in p1.iter().zip(&w).enumerate() {
                    assert!(
                        (*got as f64 - want).abs() < 1e-5 * lr + 2e-7 * want.abs(),
                        "{arch} {input:?} step {t} param {j}: {got} vs {want}"
                    );
                }
                let jump = fast[0].distance_from_snapshot().unwrap();
                let want_jump = p1
                    .iter()
                    .zip(&before)
                    .map(|(a, b)| (*a as f64 - *b as f64).powi(2))
                    .sum::<f64>()
                    .sqrt();
                assert!((jump - want_jump).abs() <= 1e-12 * want_jump);
            }
            // moments survive a round trip into a fresh network: the next step is identical
            let (mm, vv) = fast[0].adam_moments().unwrap();
            let mut again = SgdMlp::new(&arch, &fast[0].flat_params(), &data, input, 1).unwrap();
            again.set_adam_moments(&mm, &vv).unwrap();
            let step = AdamStep {
                lr,
                beta1: b1,
                beta2: b2,
                eps,
                t: 3,
            };
            let la = fast[0].adam_step(&data, &batches[0], &step).unwrap();
            let lb = again.adam_step(&data, &batches[0], &step).unwrap();
            assert_eq!(la.to_bits(), lb.to_bits());
            assert!(
                fast[0]
                    .flat_params()
                    .iter()
                    .zip(&again.flat_params())
                    .all(|(a, b)| a.to_bits() == b.to_bits())
            );
            assert!(again.set_adam_moments(&mm[1..], &vv).is_err());
            for bad in [
                AdamStep { t: 0, ..step },
                AdamStep { lr: -1.0, ..step },
                AdamStep { beta2: 1.0, ..step },
                AdamStep { eps: 0.0, ..step },
            ] {
                assert!(again.adam_step(&data, &batches[0], &bad).is_err());
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
        // A minibatch of one (empty first half) and an empty one (no update).
        for input in [InputLayer::Dense, InputLayer::Sparse] {
            for threads in [1, 2] {
                let mut m = SgdMlp::new(&arch, &flat, &data, input, threads).unwrap();
                assert!(m.step(&data, &[3], 0.1).unwrap().is_finite());
                let before = m.flat_params();
                assert!(m.step(&data, &[], 0.1).unwrap().is_nan());
                assert!(
                    before
                        .iter()
                        .zip(&m.flat_params())
                        .all(|(x, y)| x.to_bits() == y.to_bits())
                );
            }
        }
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
