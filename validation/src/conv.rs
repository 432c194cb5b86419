//! The convolutional front end of the LeNet-style network: two convolution, ReLU and max-pool
//! stages on 28 x 28 single-channel images, ahead of the fully connected layers of
//! [`crate::model`].
//!
//! The network is PyTorch's
//!
//! ```text
//! conv1 = Conv2d(1, 6, 5); conv2 = Conv2d(6, 16, 5)
//! fc1 = Linear(256, 120); fc2 = Linear(120, 84); fc3 = Linear(84, 10)
//! x -> max_pool2d(relu(conv1(x)), 2) -> max_pool2d(relu(conv2(.)), 2) -> flatten
//!   -> relu(fc1) -> relu(fc2) -> fc3
//! ```
//!
//! with no padding, stride 1: 28 x 28 -> 24 x 24 -> 12 x 12 -> 8 x 8 -> 4 x 4, so 16 x 4 x 4 =
//! 256 features, flattened channel-major (`c * 16 + row * 4 + col`, PyTorch's `flatten(1)`).
//! Its trainable parameters are `conv1.weight [6, 1, 5, 5]`, `conv1.bias [6]`,
//! `conv2.weight [16, 6, 5, 5]`, `conv2.bias [16]`, then `fc1 .. fc3` as in [`crate::model`]:
//! 44,426 in all. This module knows only the front end's shapes and its forward pass on candle
//! tensors (CPU, or CUDA with the `cuda` feature); gradients come from candle's autograd
//! ([`crate::grad`]).

use candle_core::{Result, Tensor};
use serde::{Deserialize, Serialize};

/// A convolutional front end of [`crate::model::Arch`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConvFront {
    /// LeNet-5 style (see the module docs): 1 -> 6 -> 16 channels, 5 x 5 kernels, 2 x 2 pools.
    Lenet,
}

/// Side of the square input images.
pub const SIDE: usize = 28;
/// Convolution kernel side.
const KERNEL: usize = 5;
/// Channels after each convolution.
const CHANNELS: [usize; 3] = [1, 6, 16];

impl ConvFront {
    /// The name used by [`crate::model::Arch`]'s string form.
    pub fn name(self) -> &'static str {
        match self {
            ConvFront::Lenet => "lenet",
        }
    }

    /// Pixels per input image (28 x 28).
    pub fn input_dim(self) -> usize {
        SIDE * SIDE
    }

    /// Features handed to the first fully connected layer (16 x 4 x 4).
    pub fn features(self) -> usize {
        let mut side = SIDE;
        for _ in 0..2 {
            // a valid convolution, then a 2 x 2 pool
            let conv_out = side + 1 - KERNEL;
            side = conv_out / 2;
        }
        CHANNELS[2] * side * side
    }

    /// The fully connected widths that follow the front end (`256-120-84-10`).
    pub fn fc_widths(self) -> Vec<usize> {
        vec![self.features(), 120, 84, 10]
    }

    /// Names and shapes of the front end's trainable parameters, in flattening order.
    pub fn param_specs(self) -> Vec<(String, Vec<usize>)> {
        let mut v = vec![];
        for l in 0..2 {
            let (i, o) = (CHANNELS[l], CHANNELS[l + 1]);
            v.push((format!("conv{}.weight", l + 1), vec![o, i, KERNEL, KERNEL]));
            v.push((format!("conv{}.bias", l + 1), vec![o]));
        }
        v
    }

    /// PyTorch's `fan_in` of each convolution (`in_channels * k * k`): its default
    /// initialisation draws weight and bias uniformly in `+-1/sqrt(fan_in)`.
    pub fn fan_ins(self) -> [usize; 2] {
        [CHANNELS[0] * KERNEL * KERNEL, CHANNELS[1] * KERNEL * KERNEL]
    }

    /// The features `[B, 256]` of images `x` (`[B, 784]`, row-major 28 x 28) under the front
    /// end's parameters `params` (`conv1.weight`, `conv1.bias`, `conv2.weight`, `conv2.bias`).
    /// With a leading chain dimension on `x` (`[chains, B, 784]`) and on every parameter, each
    /// chain is computed on its own and the result is `[chains, B, 256]`.
    pub fn forward(self, params: &[Tensor], x: &Tensor) -> Result<Tensor> {
        if params.len() != 4 {
            candle_core::bail!(
                "the {} front end takes 4 parameter tensors, got {}",
                self.name(),
                params.len()
            );
        }
        if x.rank() == 3 {
            let chains = x.dim(0)?;
            let mut out = Vec::with_capacity(chains);
            for c in 0..chains {
                let pc: Vec<Tensor> = params.iter().map(|p| p.get(c)).collect::<Result<_>>()?;
                out.push(self.forward(&pc, &x.get(c)?)?);
            }
            return Tensor::stack(&out, 0);
        }
        let b = x.dim(0)?;
        let mut h = x.reshape((b, 1, SIDE, SIDE))?;
        for l in 0..2 {
            let (w, bias) = (&params[2 * l], &params[2 * l + 1]);
            h = conv5(&h, w)?
                .broadcast_add(&bias.reshape((1, bias.dim(0)?, 1, 1))?)?
                .relu()?;
            h = max_pool2(&h)?;
        }
        h.reshape((b, self.features()))
    }
}

/// Valid (no padding, stride 1) convolution of `h` (`[B, C, H, W]`) with `kernel`
/// (`[O, C, k, k]`), as PyTorch's `conv2d` (a cross-correlation): the `k * k` shifted views of
/// `h` stacked into columns `[B, C k k, H' W']` (im2col by `narrow`), times the kernel as a
/// `[O, C k k]` matrix. Written with candle's `narrow`, `stack` and `matmul`, whose backward
/// passes are plain, because candle 0.11's CPU `conv2d` backward (a naive transposed
/// convolution for the input gradient, a convolution with a `[O, B, H', W']` kernel for the
/// kernel gradient) made a LeNet step on 64 images take about 80 ms on one core.
pub fn conv5(h: &Tensor, kernel: &Tensor) -> Result<Tensor> {
    let (b, c, hh, ww) = h.dims4()?;
    let (o, ci, k, k2) = kernel.dims4()?;
    if ci != c || k != k2 || k > hh || k > ww {
        candle_core::bail!(
            "conv: input {:?} and kernel {:?} do not fit",
            h.dims(),
            kernel.dims()
        );
    }
    let (oh, ow) = (hh - k + 1, ww - k + 1);
    let mut views = Vec::with_capacity(k * k);
    for i in 0..k {
        let rows = h.narrow(2, i, oh)?;
        for j in 0..k {
            views.push(rows.narrow(3, j, ow)?);
        }
    }
    // [B, C, k k, H', W'] -> [B, C k k, H' W']: column c k k + i k + j, the kernel's order
    let cols = Tensor::stack(&views, 2)?.reshape((b, c * k * k, oh * ow))?;
    kernel
        .reshape((o, c * k * k))?
        .broadcast_matmul(&cols)?
        .reshape((b, o, oh, ow))
}

/// 2 x 2 max-pooling with stride 2 of `[B, C, H, W]` (even `H`, `W`) as a reshape to
/// `[B, C, H/2, 2, W/2, 2]` and two max reductions. The values are those of candle's
/// `max_pool2d`; the gradient is not: candle 0.11's `max_pool2d` backward multiplies the
/// gradient of a window's single maximum by 1/4 (the mean of the window's max mask), where the
/// derivative is 1, so each pooling stage would scale the gradients beneath it by 1/4 (found by
/// the central-difference test in `tests/conv.rs`). The max reduction's backward gives the
/// gradient to the maximum itself (to every tied maximum; ties of positive values have
/// probability zero, and ties at 0 after the ReLU get no gradient through the ReLU anyway).
pub fn max_pool2(h: &Tensor) -> Result<Tensor> {
    let (b, c, hh, ww) = h.dims4()?;
    h.reshape((b, c, hh / 2, 2, ww / 2, 2))?.max(5)?.max(3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_follow_lenet() {
        let c = ConvFront::Lenet;
        assert_eq!(c.features(), 256);
        let n: usize = c
            .param_specs()
            .iter()
            .map(|(_, s)| s.iter().product::<usize>())
            .sum();
        assert_eq!(n, 6 * 25 + 6 + 16 * 6 * 25 + 16);
        assert_eq!(c.fan_ins(), [25, 150]);
    }
}
