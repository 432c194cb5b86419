//! The SGD update, as `torch.optim.SGD` takes it (no dampening, no Nesterov):
//! `d <- g + wd w`; with momentum `buf <- momentum buf + d` (`buf <- d` on the first step) and
//! `d <- buf`; then `w <- w - lr d`. With momentum 0 and weight decay 0 this is `w <- w - lr g`
//! exactly (no buffer is touched), the study's plain SGD.

use super::Real;

/// The constants of one SGD step in the parameter type `T`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SgdStep<T> {
    /// Learning rate.
    pub lr: T,
    /// Momentum (0: none, the buffer is not used).
    pub momentum: T,
    /// Weight decay added to the gradient (0: none).
    pub weight_decay: T,
    /// First step: the momentum buffer is set to the gradient, not accumulated.
    pub first: bool,
}

impl<T: Real> SgdStep<T> {
    /// The step `t` (counting from 1) of SGD with these hyperparameters.
    pub fn new(lr: f64, momentum: f64, weight_decay: f64, t: u64) -> Self {
        SgdStep {
            lr: T::of(lr),
            momentum: T::of(momentum),
            weight_decay: T::of(weight_decay),
            first: t <= 1,
        }
    }

    /// Plain SGD with learning rate `lr`.
    pub fn plain(lr: T) -> Self {
        SgdStep {
            lr,
            momentum: T::ZERO,
            weight_decay: T::ZERO,
            first: false,
        }
    }

    /// The step needs the momentum buffer.
    pub fn uses_buffer(&self) -> bool {
        self.momentum != T::ZERO
    }
}

/// One SGD step of the parameters `w` with gradient `g`; `buf` is the momentum buffer (same
/// length as `w` when the step has momentum, else unused and may be empty).
#[inline]
pub fn sgd_update<T: Real>(w: &mut [T], g: &[T], buf: &mut [T], c: &SgdStep<T>) {
    if !c.uses_buffer() {
        if c.weight_decay == T::ZERO {
            for (w, &g) in w.iter_mut().zip(g) {
                *w -= c.lr * g;
            }
        } else {
            for (w, &g) in w.iter_mut().zip(g) {
                let d = g + c.weight_decay * *w;
                *w -= c.lr * d;
            }
        }
        return;
    }
    for ((w, &g), b) in w.iter_mut().zip(g).zip(buf.iter_mut()) {
        let d = if c.weight_decay == T::ZERO {
            g
        } else {
            g + c.weight_decay * *w
        };
        *b = if c.first { d } else { c.momentum * *b + d };
        *w -= c.lr * *b;
    }
}

/// Plain SGD `w - lr g` as a candle op on the CPU: one pass of [`sgd_update`] over the
/// parameter and its gradient (f32, as PyTorch's `p.add_(g, alpha=-lr)`), no temporaries.
pub(crate) struct SgdOp {
    pub(crate) lr: f32,
}

impl candle_core::CustomOp2 for SgdOp {
    fn name(&self) -> &'static str {
        "sgd-update"
    }

    fn cpu_fwd(
        &self,
        s1: &candle_core::CpuStorage,
        l1: &candle_core::Layout,
        s2: &candle_core::CpuStorage,
        l2: &candle_core::Layout,
    ) -> candle_core::Result<(candle_core::CpuStorage, candle_core::Shape)> {
        fn slice<'a>(
            s: &'a candle_core::CpuStorage,
            l: &candle_core::Layout,
        ) -> candle_core::Result<&'a [f32]> {
            let all = s.as_slice::<f32>()?;
            match l.contiguous_offsets() {
                Some((a, b)) => Ok(&all[a..b]),
                None => Err(candle_core::Error::Msg(
                    "sgd update needs contiguous tensors".into(),
                )),
            }
        }
        let mut w = slice(s1, l1)?.to_vec();
        sgd_update(&mut w, slice(s2, l2)?, &mut [], &SgdStep::plain(self.lr));
        Ok((candle_core::CpuStorage::F32(w), l1.shape().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three steps of `torch.optim.SGD(lr=0.1, momentum=0.9, weight_decay=0.01)` on
    /// `w = [1, -2]` with gradients `[0.5, 0.25]`, `[-1, 0]`, `[0.2, -0.4]`, computed by hand
    /// from PyTorch's formula in f64.
    #[test]
    fn momentum_and_weight_decay_follow_pytorch() {
        let (lr, mom, wd) = (0.1, 0.9, 0.01);
        let grads = [[0.5, 0.25], [-1.0, 0.0], [0.2, -0.4]];
        let mut w = [1.0f64, -2.0];
        let mut buf = [0.0f64; 2];
        // hand computation
        let mut hw = [1.0f64, -2.0];
        let mut hb = [0.0f64; 2];
        for (t, g) in grads.iter().enumerate() {
            for i in 0..2 {
                let d = g[i] + wd * hw[i];
                hb[i] = if t == 0 { d } else { mom * hb[i] + d };
                hw[i] -= lr * hb[i];
            }
            sgd_update(
                &mut w,
                g,
                &mut buf,
                &SgdStep::new(lr, mom, wd, t as u64 + 1),
            );
            for i in 0..2 {
                assert!((w[i] - hw[i]).abs() < 1e-15, "step {t}: {w:?} vs {hw:?}");
            }
        }
        // By hand: step 1 d = [0.51, 0.23], buf = d, w = [0.949, -2.023]; step 2
        // d = [-0.99051, -0.02023], buf = [-0.53151, 0.18677], w = [1.002151, -2.041677];
        // step 3 d = [0.21002151, -0.42041677], buf = [-0.26833749, -0.25232377].
        assert!((w[0] - 1.028984749).abs() < 1e-12 && (w[1] + 2.016444623).abs() < 1e-12);
    }

    #[test]
    fn plain_sgd_is_w_minus_lr_g_in_f32() {
        let mut w = [2.0f32, -1.0];
        sgd_update(&mut w, &[0.5, 4.0], &mut [], &SgdStep::plain(0.1));
        assert_eq!(
            w.map(f32::to_bits),
            [2.0f32 - 0.1 * 0.5, -1.0 - 0.1 * 4.0].map(f32::to_bits)
        );
    }

    #[test]
    fn weight_decay_without_momentum() {
        let mut w = [1.0f64];
        sgd_update(&mut w, &[0.0], &mut [], &SgdStep::new(0.5, 0.0, 0.1, 1));
        assert!((w[0] - 0.95).abs() < 1e-15);
    }
}
