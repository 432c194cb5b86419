//! Fully connected ReLU networks with optional BatchNorm, and a LeNet-style convolutional
//! network ([`crate::conv`]), built on candle.
//!
//! Layout and names follow a PyTorch module with attributes `fc1, bn1, fc2, bn2, ..., fcL` in
//! that order: trainable parameters are `fcK.weight` (`[out, in]`), `fcK.bias`, and for each
//! hidden layer with BatchNorm `bnK.weight`, `bnK.bias`; the BatchNorm buffers are
//! `bnK.running_mean` and `bnK.running_var`. The *flattened trainable weights* concatenate the
//! trainable parameters in exactly this order (PyTorch's `named_parameters()` order), each
//! row-major; BatchNorm running statistics are not trainable and are not part of them.
//!
//! The convolutional network (`lenet`, [`Arch::lenet`]) puts `conv1.weight`, `conv1.bias`,
//! `conv2.weight`, `conv2.bias` (PyTorch's `Conv2d`, default initialisation uniform in
//! `+-1/sqrt(in_channels * 25)`) ahead of `fc1 .. fc3` (`256-120-84-10`); see [`crate::conv`].
//! It trains through candle's autograd only: [`Arch::is_plain_mlp`] is the one gate of every
//! MLP-only path (the CPU kernels of [`crate::mlp_cpu`], the exact curvature of
//! [`crate::curvature`]).
//!
//! Initialisation is PyTorch's default for `nn.Linear` (weights and biases uniform in
//! `+-1/sqrt(fan_in)`) and `nn.BatchNorm1d` (weight 1, bias 0, running mean 0, running var 1),
//! drawn from this crate's seeded generator. BatchNorm uses momentum 0.1 and eps 1e-5, batch
//! statistics in training (biased variance for normalising, unbiased for the running update),
//! running statistics in evaluation.
//!
//! ```
//! use ffpe_validation::model::{Arch, Network};
//! let arch: Arch = "784-16-10".parse().unwrap();
//! let net = Network::init(&arch, 0, &candle_core::Device::Cpu).unwrap();
//! let w = net.flat_params().unwrap();
//! assert_eq!(w.len(), arch.num_params());
//! assert_eq!(arch.num_params(), 784 * 16 + 16 + 16 * 10 + 10);
//! ```

pub use crate::conv::ConvFront;
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::io::checkpoint::{self, NamedTensor};
use crate::rng::Rng;
use candle_core::{D, DType, Device, Tensor, Var};
use std::collections::BTreeMap;
use std::path::Path;

/// BatchNorm momentum (PyTorch default).
pub const BN_MOMENTUM: f64 = 0.1;
/// BatchNorm epsilon (PyTorch default).
pub const BN_EPS: f64 = 1e-5;

/// Network architecture: the widths of the fully connected layers from input to output,
/// whether hidden layers have BatchNorm (after the linear map, before the ReLU), and an
/// optional convolutional front end ahead of them.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Arch {
    /// Widths of the fully connected layers, input first, output last, e.g. `[784, 128, 10]`
    /// (with a convolutional front end, its input is the front end's features).
    pub widths: Vec<usize>,
    /// BatchNorm after each hidden linear layer.
    pub batchnorm: bool,
    /// Convolutional front end (`None`: a fully connected network; absent in older files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conv: Option<ConvFront>,
}

impl std::str::FromStr for Arch {
    type Err = Error;
    /// Parse `784-128-10` (no BatchNorm), `784-128-10+bn`, or `lenet` (the convolutional
    /// network of [`crate::conv`]).
    fn from_str(s: &str) -> Result<Arch> {
        if s.trim() == ConvFront::Lenet.name() {
            return Ok(Arch::lenet());
        }
        let (body, batchnorm) = match s.strip_suffix("+bn") {
            Some(b) => (b, true),
            None => (s, false),
        };
        let widths = body
            .split('-')
            .map(|w| w.trim().parse::<usize>())
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|_| {
                Error::config(
                    "arch",
                    s,
                    "widths joined by '-' (e.g. 784-128-10, optionally +bn), or lenet",
                )
            })?;
        let arch = Arch {
            widths,
            batchnorm,
            conv: None,
        };
        arch.validate()?;
        Ok(arch)
    }
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(c) = self.conv {
            return write!(f, "{}", c.name());
        }
        let w: Vec<String> = self.widths.iter().map(|w| w.to_string()).collect();
        write!(
            f,
            "{}{}",
            w.join("-"),
            if self.batchnorm { "+bn" } else { "" }
        )
    }
}

impl Arch {
    /// An architecture from widths.
    pub fn new(widths: &[usize], batchnorm: bool) -> Result<Arch> {
        let a = Arch {
            widths: widths.to_vec(),
            batchnorm,
            conv: None,
        };
        a.validate()?;
        Ok(a)
    }

    /// The LeNet-style convolutional network of [`crate::conv`] (`lenet`).
    pub fn lenet() -> Arch {
        Arch {
            widths: ConvFront::Lenet.fc_widths(),
            batchnorm: false,
            conv: Some(ConvFront::Lenet),
        }
    }

    /// A fully connected network without BatchNorm: the networks of the hand-written CPU
    /// kernels ([`crate::mlp_cpu`]) and of the exact curvature ([`crate::curvature`]). Every
    /// such fast path asks this, so that no other network can reach them.
    pub fn is_plain_mlp(&self) -> bool {
        self.conv.is_none() && !self.batchnorm
    }

    /// Values per input image (the first width, or the convolutional front end's 28 x 28).
    pub fn input_dim(&self) -> usize {
        match self.conv {
            Some(c) => c.input_dim(),
            None => self.widths.first().copied().unwrap_or(0),
        }
    }

    /// Output width (classes).
    pub fn outputs(&self) -> usize {
        self.widths.last().copied().unwrap_or(0)
    }

    /// Check: at least input and output, every width positive; a convolutional front end
    /// comes with its own fully connected widths and no BatchNorm.
    pub fn validate(&self) -> Result<()> {
        if let Some(c) = self.conv
            && (self.widths != c.fc_widths() || self.batchnorm)
        {
            return Err(Error::config(
                "arch",
                format!(
                    "{} with widths {:?}, batchnorm {}",
                    c.name(),
                    self.widths,
                    self.batchnorm
                ),
                format!(
                    "{} has the fully connected widths {:?} and no BatchNorm",
                    c.name(),
                    c.fc_widths()
                ),
            ));
        }
        if self.widths.len() < 2 || self.widths.contains(&0) {
            return Err(Error::config(
                "arch",
                self,
                "at least two positive widths (input-...-output), e.g. 784-128-10",
            ));
        }
        Ok(())
    }

    /// Number of linear layers.
    pub fn layers(&self) -> usize {
        self.widths.len() - 1
    }

    /// Names and shapes of the trainable parameters, in flattening order.
    pub fn param_specs(&self) -> Vec<(String, Vec<usize>)> {
        let mut v = self.conv.map(|c| c.param_specs()).unwrap_or_default();
        for l in 0..self.layers() {
            let (i, o) = (self.widths[l], self.widths[l + 1]);
            v.push((format!("fc{}.weight", l + 1), vec![o, i]));
            v.push((format!("fc{}.bias", l + 1), vec![o]));
            if self.batchnorm && l + 1 < self.layers() {
                v.push((format!("bn{}.weight", l + 1), vec![o]));
                v.push((format!("bn{}.bias", l + 1), vec![o]));
            }
        }
        v
    }

    /// Names and shapes of the BatchNorm buffers (running mean and variance per hidden layer).
    pub fn buffer_specs(&self) -> Vec<(String, Vec<usize>)> {
        let mut v = vec![];
        if self.batchnorm {
            for l in 0..self.layers() - 1 {
                let o = self.widths[l + 1];
                v.push((format!("bn{}.running_mean", l + 1), vec![o]));
                v.push((format!("bn{}.running_var", l + 1), vec![o]));
            }
        }
        v
    }

    /// Total number of trainable parameters.
    pub fn num_params(&self) -> usize {
        self.param_specs()
            .iter()
            .map(|(_, s)| s.iter().product::<usize>())
            .sum()
    }

    /// Infer the architecture from checkpoint tensors (`fcK.weight` shapes, `bnK.weight`;
    /// `conv1.weight` marks the convolutional network, whose shapes must then be LeNet's).
    pub fn from_tensors(tensors: &[NamedTensor], path: &Path) -> Result<Arch> {
        let get = |n: &str| tensors.iter().find(|t| t.name == n);
        if get("conv1.weight").is_some() {
            let want = Arch::lenet();
            for (name, shape) in want.param_specs() {
                match get(&name) {
                    Some(t) if t.shape == shape => {}
                    Some(t) => {
                        return Err(Error::Checkpoint {
                            path: path.into(),
                            what: format!(
                                "{name} has shape {:?}; the convolutional network (lenet) has \
                                 {shape:?}",
                                t.shape
                            ),
                        });
                    }
                    None => {
                        return Err(Error::Checkpoint {
                            path: path.into(),
                            what: format!(
                                "conv1.weight present but {name} missing: not a checkpoint of \
                                 the convolutional network (lenet)"
                            ),
                        });
                    }
                }
            }
            return Ok(want);
        }
        let mut widths = vec![];
        let mut k = 1;
        while let Some(w) = get(&format!("fc{k}.weight")) {
            if w.shape.len() != 2 {
                return Err(Error::Checkpoint {
                    path: path.into(),
                    what: format!("fc{k}.weight has shape {:?}, expected [out, in]", w.shape),
                });
            }
            if k == 1 {
                widths.push(w.shape[1]);
            }
            widths.push(w.shape[0]);
            k += 1;
        }
        if widths.is_empty() {
            return Err(Error::Checkpoint {
                path: path.into(),
                what: "no fc1.weight: not a checkpoint of an fc1, bn1, fc2, ... MLP".into(),
            });
        }
        Arch::new(&widths, get("bn1.weight").is_some())
    }
}

/// Evaluation mode for [`forward`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BnMode {
    /// Batch statistics (training); only for unbatched parameters.
    Train,
    /// Running statistics.
    Eval,
}

/// Loss and accuracy of a network on a data set.
#[derive(Clone, Copy, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Eval {
    /// Mean cross-entropy.
    pub loss: f64,
    /// Fraction classified correctly.
    pub accuracy: f64,
}

/// A network: its architecture, trainable parameters (candle `Var`s) and BatchNorm buffers.
#[derive(Clone, Debug)]
pub struct Network {
    arch: Arch,
    device: Device,
    params: Vec<Var>,
    buffers: Vec<Tensor>,
}

fn linear(x: &Tensor, w: &Tensor, b: &Tensor) -> Result<Tensor> {
    // w is [out, in] or [chains, out, in]; x is [B, in] or [chains, B, in].
    let y = x.matmul(&w.t()?)?;
    let b = if b.rank() == 2 {
        b.unsqueeze(1)?
    } else {
        b.clone()
    };
    Ok(y.broadcast_add(&b)?)
}

fn per_chain(t: &Tensor) -> Result<Tensor> {
    Ok(if t.rank() == 2 {
        t.unsqueeze(1)?
    } else {
        t.clone()
    })
}

/// Forward pass on explicit parameter tensors (in [`Arch::param_specs`] order), optionally with a
/// leading chain dimension on every parameter and on `x` (`[chains, B, in]`). `buffers` are the
/// running statistics (never batched). In [`BnMode::Train`] the batch statistics are used and the
/// updated running statistics are returned.
pub fn forward(
    arch: &Arch,
    params: &[Tensor],
    buffers: &[Tensor],
    x: &Tensor,
    mode: BnMode,
) -> Result<(Tensor, Vec<Tensor>)> {
    let (mut h, rest) = match arch.conv {
        Some(c) => {
            let n = c.param_specs().len();
            if params.len() < n {
                return Err(Error::config(
                    "params",
                    params.len(),
                    "one tensor per parameter",
                ));
            }
            (c.forward(&params[..n], x)?, &params[n..])
        }
        None => (x.clone(), params),
    };
    let mut p = rest.iter();
    let mut new_buffers = vec![];
    let mut next = || {
        p.next()
            .ok_or_else(|| Error::config("params", "too few", "one tensor per parameter"))
    };
    for l in 0..arch.layers() {
        let (w, b) = (next()?, next()?);
        h = linear(&h, w, b)?;
        if l + 1 == arch.layers() {
            break;
        }
        if arch.batchnorm {
            let (g, beta) = (per_chain(next()?)?, per_chain(next()?)?);
            let (rm, rv) = (&buffers[2 * l], &buffers[2 * l + 1]);
            let hn = match mode {
                BnMode::Train => {
                    let n = h.dim(0)? as f64;
                    let mean = h.mean_keepdim(0)?;
                    let xc = h.broadcast_sub(&mean)?;
                    let var = xc.sqr()?.mean_keepdim(0)?;
                    let hn = xc.broadcast_div(&var.affine(1.0, BN_EPS)?.sqrt()?)?;
                    let unbiased = if n > 1.0 { n / (n - 1.0) } else { 1.0 };
                    let m = mean.squeeze(0)?.detach();
                    let v = var.squeeze(0)?.detach();
                    new_buffers
                        .push((rm.affine(1.0 - BN_MOMENTUM, 0.0)? + m.affine(BN_MOMENTUM, 0.0)?)?);
                    new_buffers.push(
                        (rv.affine(1.0 - BN_MOMENTUM, 0.0)?
                            + v.affine(BN_MOMENTUM * unbiased, 0.0)?)?,
                    );
                    hn
                }
                BnMode::Eval => h
                    .broadcast_sub(rm)?
                    .broadcast_div(&rv.affine(1.0, BN_EPS)?.sqrt()?)?,
            };
            h = hn.broadcast_mul(&g)?.broadcast_add(&beta)?;
        }
        h = h.relu()?;
    }
    Ok((h, new_buffers))
}

/// Per-example cross-entropy: `logits` `[.., B, K]`, `labels` `[.., B]` (u32) -> `[.., B]`.
pub fn cross_entropy_rows(logits: &Tensor, labels: &Tensor) -> Result<Tensor> {
    let ls = candle_nn::ops::log_softmax(logits, D::Minus1)?;
    let picked = ls.gather(&labels.unsqueeze(D::Minus1)?, D::Minus1)?;
    Ok(picked.squeeze(D::Minus1)?.neg()?)
}

impl Network {
    /// A freshly initialised network (PyTorch default initialisation, seeded).
    pub fn init(arch: &Arch, seed: u64, device: &Device) -> Result<Network> {
        arch.validate()?;
        let mut rng = Rng::new(seed, &[0x1417]);
        let mut flat = Vec::with_capacity(arch.num_params());
        if let Some(c) = arch.conv {
            // PyTorch's Conv2d default: weight and bias uniform in +-1/sqrt(fan_in), layer by
            // layer in parameter order (as the fully connected layers below)
            for (l, fan_in) in c.fan_ins().into_iter().enumerate() {
                let bound = 1.0 / (fan_in as f64).sqrt();
                let n: usize = c.param_specs()[2 * l..2 * l + 2]
                    .iter()
                    .map(|(_, s)| s.iter().product::<usize>())
                    .sum();
                for _ in 0..n {
                    flat.push(((2.0 * rng.uniform() - 1.0) * bound) as f32);
                }
            }
        }
        for l in 0..arch.layers() {
            let (i, o) = (arch.widths[l], arch.widths[l + 1]);
            let bound = 1.0 / (i as f64).sqrt();
            for _ in 0..(o * i + o) {
                flat.push(((2.0 * rng.uniform() - 1.0) * bound) as f32);
            }
            if arch.batchnorm && l + 1 < arch.layers() {
                flat.extend(std::iter::repeat_n(1.0f32, o));
                flat.extend(std::iter::repeat_n(0.0f32, o));
            }
        }
        Network::from_flat(arch, &flat, None, device)
    }

    /// A network from flattened trainable weights and (with BatchNorm) flattened buffers
    /// (`None`: running mean 0 and variance 1).
    pub fn from_flat(
        arch: &Arch,
        flat: &[f32],
        buffers: Option<&[f32]>,
        device: &Device,
    ) -> Result<Network> {
        arch.validate()?;
        if flat.len() != arch.num_params() {
            return Err(Error::config(
                "weights",
                format!("{} values", flat.len()),
                format!("{} trainable parameters for {arch}", arch.num_params()),
            ));
        }
        let mut params = vec![];
        let mut at = 0;
        for (_, shape) in arch.param_specs() {
            let n: usize = shape.iter().product();
            let t = Tensor::from_slice(&flat[at..at + n], shape.as_slice(), device)?;
            params.push(Var::from_tensor(&t)?);
            at += n;
        }
        let specs = arch.buffer_specs();
        let total: usize = specs.iter().map(|(_, s)| s[0]).sum();
        let default_buf: Vec<f32> = specs
            .iter()
            .flat_map(|(n, s)| {
                std::iter::repeat_n(if n.ends_with("var") { 1.0 } else { 0.0 }, s[0])
            })
            .collect();
        let bufs = buffers.unwrap_or(&default_buf);
        if bufs.len() != total {
            return Err(Error::config(
                "buffers",
                format!("{} values", bufs.len()),
                format!("{total} BatchNorm running statistics for {arch}"),
            ));
        }
        let mut buffers = vec![];
        let mut at = 0;
        for (_, s) in specs {
            buffers.push(Tensor::from_slice(&bufs[at..at + s[0]], s[0], device)?);
            at += s[0];
        }
        Ok(Network {
            arch: arch.clone(),
            device: device.clone(),
            params,
            buffers,
        })
    }

    /// The architecture.
    pub fn arch(&self) -> &Arch {
        &self.arch
    }
    /// The device holding the parameters.
    pub fn device(&self) -> &Device {
        &self.device
    }
    /// Trainable parameters, in flattening order.
    pub fn params(&self) -> &[Var] {
        &self.params
    }
    /// Parameter tensors (views of the `Var`s).
    pub fn param_tensors(&self) -> Vec<Tensor> {
        self.params.iter().map(|v| v.as_tensor().clone()).collect()
    }
    /// BatchNorm running statistics (`bn1.running_mean`, `bn1.running_var`, ...).
    pub fn buffers(&self) -> &[Tensor] {
        &self.buffers
    }
    /// Replace the BatchNorm running statistics.
    pub fn set_buffers(&mut self, buffers: Vec<Tensor>) {
        self.buffers = buffers;
    }

    /// Flattened trainable weights (see the module docs for the order).
    pub fn flat_params(&self) -> Result<Vec<f32>> {
        let mut v = Vec::with_capacity(self.arch.num_params());
        for p in &self.params {
            v.extend(p.as_tensor().flatten_all()?.to_vec1::<f32>()?);
        }
        Ok(v)
    }

    /// Flattened BatchNorm buffers (empty without BatchNorm).
    pub fn flat_buffers(&self) -> Result<Vec<f32>> {
        let mut v = vec![];
        for b in &self.buffers {
            v.extend(b.to_vec1::<f32>()?);
        }
        Ok(v)
    }

    /// Overwrite the trainable weights from a flat vector.
    pub fn set_flat_params(&mut self, flat: &[f32]) -> Result<()> {
        let fresh = Network::from_flat(&self.arch, flat, None, &self.device)?;
        for (p, q) in self.params.iter().zip(fresh.params) {
            p.set(q.as_tensor())?;
        }
        Ok(())
    }

    /// Logits in training mode (batch statistics); updates the running statistics.
    pub fn forward_train(&mut self, x: &Tensor) -> Result<Tensor> {
        let (y, nb) = forward(
            &self.arch,
            &self.param_tensors(),
            &self.buffers,
            x,
            BnMode::Train,
        )?;
        if self.arch.batchnorm {
            self.buffers = nb;
        }
        Ok(y)
    }

    /// Logits in evaluation mode (running statistics).
    pub fn forward_eval(&self, x: &Tensor) -> Result<Tensor> {
        Ok(forward(
            &self.arch,
            &self.param_tensors(),
            &self.buffers,
            x,
            BnMode::Eval,
        )?
        .0)
    }

    /// Mean cross-entropy and accuracy on `data` in evaluation mode (chunks of 2000 images;
    /// losses summed in f64).
    pub fn evaluate(&self, data: &Dataset) -> Result<Eval> {
        if data.is_empty() {
            return Ok(Eval::default());
        }
        let (mut loss, mut correct) = (0f64, 0usize);
        let idx: Vec<usize> = (0..data.len()).collect();
        for chunk in idx.chunks(2000) {
            let (mut xs, mut ys) = (vec![], vec![]);
            data.gather_into(chunk, &mut xs, &mut ys);
            let x = Tensor::from_vec(xs, (chunk.len(), data.dim), &self.device)?;
            let y = Tensor::from_vec(ys.clone(), chunk.len(), &self.device)?;
            let logits = self.forward_eval(&x)?;
            let l = cross_entropy_rows(&logits, &y)?.to_dtype(DType::F64)?;
            loss += l.to_vec1::<f64>()?.iter().sum::<f64>();
            let pred = logits.argmax(D::Minus1)?.to_vec1::<u32>()?;
            correct += pred.iter().zip(&ys).filter(|(p, y)| p == y).count();
        }
        Ok(Eval {
            loss: loss / data.len() as f64,
            accuracy: correct as f64 / data.len() as f64,
        })
    }

    /// Mean cross-entropy on `data` at the flattened trainable weights `flat` (BatchNorm running
    /// statistics kept from `self`). This is the training loss along arbitrary directions.
    pub fn loss_at(&self, flat: &[f32], data: &Dataset) -> Result<f64> {
        let mut n = Network::from_flat(&self.arch, flat, None, &self.device)?;
        n.buffers = self.buffers.clone();
        Ok(n.evaluate(data)?.loss)
    }

    /// Parameters and buffers as named tensors (PyTorch names), parameters first.
    pub fn to_named(&self) -> Result<Vec<NamedTensor>> {
        let mut out = vec![];
        for ((name, shape), p) in self.arch.param_specs().into_iter().zip(&self.params) {
            out.push(NamedTensor {
                name,
                shape,
                data: p.as_tensor().flatten_all()?.to_vec1::<f32>()?,
            });
        }
        for ((name, shape), b) in self.arch.buffer_specs().into_iter().zip(&self.buffers) {
            out.push(NamedTensor {
                name,
                shape,
                data: b.to_vec1::<f32>()?,
            });
        }
        Ok(out)
    }

    /// Save as a PyTorch-compatible safetensors file (atomic), with string metadata.
    ///
    /// With BatchNorm, `bnK.num_batches_tracked` (an i64 scalar, as in PyTorch's `state_dict`)
    /// is written too, set to the metadata's `step` (0 when absent), so that
    /// `model.load_state_dict(load_file(path))` works with `strict=True`.
    pub fn save(&self, path: &Path, metadata: BTreeMap<String, String>) -> Result<()> {
        let mut m = metadata;
        m.insert("arch".into(), self.arch.to_string());
        let mut tensors = self.to_named()?;
        if self.arch.batchnorm {
            let step = m
                .get("step")
                .and_then(|s| s.parse::<f32>().ok())
                .unwrap_or(0.0);
            for l in 1..self.arch.layers() {
                tensors.push(NamedTensor {
                    name: format!("bn{l}.num_batches_tracked"),
                    shape: vec![],
                    data: vec![step],
                });
            }
        }
        checkpoint::save(path, &tensors, m)
    }

    /// Build from named tensors (extra tensors are ignored); the architecture is inferred.
    pub fn from_named(tensors: &[NamedTensor], path: &Path, device: &Device) -> Result<Network> {
        let arch = Arch::from_tensors(tensors, path)?;
        let find = |name: &str, shape: &[usize]| -> Result<&[f32]> {
            let t = tensors
                .iter()
                .find(|t| t.name == name)
                .ok_or_else(|| Error::Checkpoint {
                    path: path.into(),
                    what: format!("missing tensor {name} (architecture {arch})"),
                })?;
            if t.shape != shape {
                return Err(Error::Checkpoint {
                    path: path.into(),
                    what: format!("{name} has shape {:?}, expected {shape:?}", t.shape),
                });
            }
            Ok(&t.data)
        };
        let mut flat = vec![];
        for (n, s) in arch.param_specs() {
            flat.extend_from_slice(find(&n, &s)?);
        }
        let mut bufs = vec![];
        for (n, s) in arch.buffer_specs() {
            bufs.extend_from_slice(find(&n, &s)?);
        }
        Network::from_flat(
            &arch,
            &flat,
            arch.batchnorm.then_some(bufs.as_slice()),
            device,
        )
    }

    /// Load a safetensors checkpoint (ours or PyTorch's `save_file(model.state_dict())`).
    pub fn load(path: &Path, device: &Device) -> Result<Network> {
        let (t, _) = checkpoint::load(path)?;
        Network::from_named(&t, path, device)
    }
}

/// The flattened trainable weights stored in a checkpoint, with its architecture.
pub fn read_flat_params(path: &Path) -> Result<(Arch, Vec<f32>)> {
    let n = Network::load(path, &Device::Cpu)?;
    Ok((n.arch.clone(), n.flat_params()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arch_parse_and_names() {
        let a: Arch = "784-256-256-10+bn".parse().unwrap();
        assert_eq!(a.widths, vec![784, 256, 256, 10]);
        let names: Vec<String> = a.param_specs().into_iter().map(|x| x.0).collect();
        assert_eq!(
            names,
            [
                "fc1.weight",
                "fc1.bias",
                "bn1.weight",
                "bn1.bias",
                "fc2.weight",
                "fc2.bias",
                "bn2.weight",
                "bn2.bias",
                "fc3.weight",
                "fc3.bias"
            ]
        );
        assert_eq!(a.buffer_specs().len(), 4);
        assert!("784".parse::<Arch>().is_err());
        assert!("784-0-10".parse::<Arch>().is_err());
        assert!(
            "784-x-10"
                .parse::<Arch>()
                .unwrap_err()
                .to_string()
                .contains("arch")
        );
        assert_eq!(a.to_string(), "784-256-256-10+bn");
    }

    #[test]
    fn init_follows_pytorch_bounds() {
        let a: Arch = "400-100-10".parse().unwrap();
        let n = Network::init(&a, 3, &Device::Cpu).unwrap();
        let w = n.flat_params().unwrap();
        let w1 = &w[..40_000];
        let max = w1.iter().fold(0f32, |m, v| m.max(v.abs()));
        // bound 1/sqrt(400) = 0.05; with 40,000 uniform draws the max is within 1e-4 of it
        assert!(max <= 0.05 && max > 0.0499, "{max}");
        // variance of U(-b, b) is b^2/3; 40,000 draws: relative standard error ~0.6 %
        let var = w1.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / 40_000.0;
        assert!((var / (0.0025 / 3.0) - 1.0).abs() < 0.03, "{var}");
        let n2 = Network::init(&a, 3, &Device::Cpu).unwrap();
        assert_eq!(w, n2.flat_params().unwrap());
    }

    #[test]
    fn save_load_roundtrip_with_bn() {
        let a: Arch = "6-5-4-3+bn".parse().unwrap();
        let mut n = Network::init(&a, 1, &Device::Cpu).unwrap();
        let x = Tensor::from_vec(
            (0..48).map(|v| v as f32 / 48.0).collect(),
            (8, 6),
            &Device::Cpu,
        )
        .unwrap();
        n.forward_train(&x).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.safetensors");
        n.save(&p, BTreeMap::new()).unwrap();
        let m = Network::load(&p, &Device::Cpu).unwrap();
        assert_eq!(m.arch(), &a);
        assert_eq!(m.flat_params().unwrap(), n.flat_params().unwrap());
        assert_eq!(m.flat_buffers().unwrap(), n.flat_buffers().unwrap());
        let (arch, flat) = read_flat_params(&p).unwrap();
        assert_eq!((arch, flat.len()), (a.clone(), a.num_params()));
    }

    #[test]
    fn batchnorm_train_matches_hand_computation() {
        // one hidden unit, identity-like weights: check normalisation and running updates
        let a = Arch::new(&[1, 1, 1], true).unwrap();
        let flat = [2.0f32, 1.0, 3.0, 0.5, 1.0, 0.0];
        let mut n = Network::from_flat(&a, &flat, None, &Device::Cpu).unwrap();
        let x = Tensor::from_vec(vec![0.0f32, 1.0, 2.0, 3.0], (4, 1), &Device::Cpu).unwrap();
        let y = n
            .forward_train(&x)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        // h = 2x+1 = [1,3,5,7], mean 4, biased var 5; bn: 3*(h-4)/sqrt(5+1e-5)+0.5; relu; fc2
        for (xi, yi) in [0.0f64, 1.0, 2.0, 3.0].iter().zip(&y) {
            let h = 2.0 * xi + 1.0;
            let e = (3.0 * (h - 4.0) / (5.0f64 + 1e-5).sqrt() + 0.5).max(0.0);
            assert!((e - *yi as f64).abs() < 1e-5, "{e} {yi}");
        }
        let b = n.flat_buffers().unwrap();
        // running mean 0.1*4, running var 0.9 + 0.1 * 5 * 4/3
        assert!((b[0] - 0.4).abs() < 1e-6 && (b[1] - (0.9 + 0.1 * 20.0 / 3.0)).abs() < 1e-5);
    }
}
