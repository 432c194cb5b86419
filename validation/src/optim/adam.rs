//! The Adam update as `torch.optim.AdamW` takes it (no AMSGrad) on the CPU; with weight decay 0
//! it is `torch.optim.Adam`'s.

use super::Real;

/// One step of Adam: for every parameter `w <- (1 - lr wd) w` (only when `wd > 0`, AdamW's
/// decoupled decay), `m <- m + (1 - beta1) (g - m)` (PyTorch's `lerp_`),
/// `v <- beta2 v + (1 - beta2) g g`, `w <- w - (lr / (1 - beta1^t)) m / (sqrt(v) /
/// sqrt(1 - beta2^t) + eps)`, in the parameter type with the constants formed in f64 as PyTorch
/// does in Python.
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
    /// Decoupled weight decay (0: none).
    pub weight_decay: f64,
    /// Number of this step, counting from 1 (the bias corrections use it).
    pub t: u64,
}

/// The constants of one Adam step in the parameter type.
#[derive(Clone, Copy, Debug)]
pub struct AdamConsts<T> {
    one_minus_beta1: T,
    beta2: T,
    one_minus_beta2: T,
    bc2_sqrt: T,
    eps: T,
    neg_step_size: T,
    /// `1 - lr wd`, `None` without weight decay.
    decay: Option<T>,
}

impl AdamStep {
    /// The constants of this step in the parameter type `T`.
    pub fn consts<T: Real>(&self) -> AdamConsts<T> {
        let t = self.t.min(i32::MAX as u64) as i32;
        let bc1 = 1.0 - self.beta1.powi(t);
        let bc2 = 1.0 - self.beta2.powi(t);
        AdamConsts {
            one_minus_beta1: T::of(1.0 - self.beta1),
            beta2: T::of(self.beta2),
            one_minus_beta2: T::of(1.0 - self.beta2),
            bc2_sqrt: T::of(bc2.sqrt()),
            eps: T::of(self.eps),
            neg_step_size: T::of(-(self.lr / bc1)),
            decay: (self.weight_decay != 0.0).then(|| T::of(1.0 - self.lr * self.weight_decay)),
        }
    }
}

/// Adam update of one block of parameters `w` with gradient `g` and moments `m`, `v`
/// (element by element, as PyTorch's single-tensor Adam(W) on the CPU).
#[inline]
pub fn adam_update<T: Real>(w: &mut [T], g: &[T], m: &mut [T], v: &mut [T], c: &AdamConsts<T>) {
    if let Some(decay) = c.decay {
        for w in w.iter_mut() {
            *w *= decay;
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Two steps of `torch.optim.AdamW(lr=0.1, weight_decay=0.5)` on `w = 1` with gradients
    /// 0.5 then -0.25, from PyTorch's formula by hand in f64.
    #[test]
    fn adamw_follows_pytorch() {
        let (b1, b2, eps, lr, wd) = (0.9f64, 0.999f64, 1e-8, 0.1, 0.5);
        let (mut m, mut v, mut w) = (0.0f64, 0.0f64, 1.0f64);
        let (mut km, mut kv, mut kw) = ([0.0f64], [0.0f64], [1.0f64]);
        for (t, g) in [(1, 0.5f64), (2, -0.25)] {
            w *= 1.0 - lr * wd;
            m = b1 * m + (1.0 - b1) * g;
            v = b2 * v + (1.0 - b2) * g * g;
            let denom = v.sqrt() / (1.0 - b2.powi(t)).sqrt() + eps;
            w -= lr / (1.0 - b1.powi(t)) * m / denom;
            let s = AdamStep {
                lr,
                beta1: b1,
                beta2: b2,
                eps,
                weight_decay: wd,
                t: t as u64,
            };
            adam_update(&mut kw, &[g], &mut km, &mut kv, &s.consts());
            assert!((kw[0] - w).abs() < 1e-12, "step {t}: {} vs {w}", kw[0]);
        }
        // By hand: step 1 w = 0.95 - 0.1 * 1 (m/denom = 1 up to eps) = 0.85; step 2
        // w = 0.85 * 0.95 - 0.1 / 0.19 * m2 / denom2 with m2 = 0.02, v2 = 0.00031225.
        let step2 = 0.1 / 0.19 * 0.02 / (0.00031225f64.sqrt() / 0.001999f64.sqrt() + 1e-8);
        assert!((w - (0.85 * 0.95 - step2)).abs() < 1e-7, "{w}");
    }
}
