//! One update on the candle path (BatchNorm, devices other than the CPU) with the optimizers of
//! [`crate::optim`], and its state.

#[allow(unused_imports)]
use super::*;

/// Optimizer state of the candle path, per parameter: Adam's moments `m`, `v`, or SGD's
/// momentum buffer in `m` (`v` empty); `t` updates done.
pub(super) struct OptState {
    pub(super) t: u64,
    pub(super) m: Vec<Tensor>,
    pub(super) v: Vec<Tensor>,
}

/// Names of the optimizer's state tensors in the resume file, by buffer.
pub(super) fn state_tags(opt: &Optimizer) -> &'static [&'static str] {
    match (opt, opt.state_buffers()) {
        (Optimizer::Adam { .. }, _) => &["adam.m.", "adam.v."],
        (Optimizer::Sgd { .. }, 1) => &["sgd.momentum."],
        _ => &[],
    }
}

/// Mean loss and gradients of a minibatch computed as two halves (candle path, used for Adam;
/// SGD goes through [`SgdMlp`]) (rows `..b/2` and `b/2..`),
/// each with its mean cross-entropy, combined with weights `n_half / b`: the same quantity as one
/// pass over the whole batch up to f32 rounding. The split never depends on the thread count, so
/// results are identical with one thread (halves in turn) and two (halves at once; candle's own
/// matrix products stay single-threaded, which is faster at these sizes than splitting gemm).
/// Only for networks without BatchNorm, whose batch statistics need the whole batch.
pub(super) fn halves_loss_and_grads(
    arch: &Arch,
    params: &[Tensor],
    xs: &[f32],
    ys: &[u32],
    dim: usize,
    parallel: bool,
) -> Result<(Tensor, Vec<Tensor>)> {
    let b = ys.len();
    let h = b / 2;
    let half = |lo: usize, hi: usize| -> Result<grad::LossGrads> {
        let x = Tensor::from_slice(&xs[lo * dim..hi * dim], (hi - lo, dim), &Device::Cpu)?;
        grad::loss_and_grads(arch, params, &[], &x, &ys[lo..hi], BnMode::Train)
    };
    let (first, second) = if parallel {
        std::thread::scope(|s| {
            let j = s.spawn(|| half(0, h));
            let second = half(h, b);
            (j.join(), second)
        })
    } else {
        (Ok(half(0, h)), half(h, b))
    };
    let first = first.map_err(|_| {
        Error::Candle(candle_core::Error::Msg(
            "the thread computing the first half of a minibatch panicked".into(),
        ))
    })??;
    let second = second?;
    let (wa, wb) = (h as f64 / b as f64, (b - h) as f64 / b as f64);
    let loss = (first.loss.affine(wa, 0.0)? + second.loss.affine(wb, 0.0)?)?;
    let grads = first
        .grads
        .iter()
        .zip(&second.grads)
        .map(|(ga, gb)| Ok((ga.affine(wa, 0.0)? + gb.affine(wb, 0.0)?)?))
        .collect::<Result<Vec<_>>>()?;
    Ok((loss, grads))
}

pub(super) fn opt_step(
    opt: &Optimizer,
    params: &[Var],
    grads: &[Tensor],
    st: &mut OptState,
) -> Result<()> {
    st.t += 1;
    match *opt {
        Optimizer::Sgd { lr, .. } if opt.is_plain_sgd() => {
            for (p, g) in params.iter().zip(grads) {
                let next = if p.device().is_cpu() {
                    p.as_tensor()
                        .apply_op2_no_bwd(g, &SgdOp { lr: lr as f32 })?
                } else {
                    (p.as_tensor() - g.affine(lr, 0.0)?)?
                };
                p.set(&next)?;
            }
        }
        Optimizer::Sgd { .. } => {
            // Momentum or weight decay: the slice kernel on the host values (any device).
            let Some(c) = opt.sgd_step::<f32>(st.t) else {
                return Ok(());
            };
            for (i, (p, g)) in params.iter().zip(grads).enumerate() {
                let (shape, dev) = (p.shape().clone(), p.device().clone());
                let mut w = p.as_tensor().flatten_all()?.to_vec1::<f32>()?;
                let g = g.flatten_all()?.to_vec1::<f32>()?;
                let mut buf = match st.m.get(i) {
                    Some(b) if c.uses_buffer() => b.flatten_all()?.to_vec1::<f32>()?,
                    _ => vec![],
                };
                sgd_update(&mut w, &g, &mut buf, &c);
                p.set(&Tensor::from_vec(w, shape.clone(), &dev)?)?;
                if c.uses_buffer() {
                    st.m[i] = Tensor::from_vec(buf, shape, &dev)?;
                }
            }
        }
        Optimizer::Adam {
            lr,
            beta1,
            beta2,
            eps,
            weight_decay,
        } => {
            // The tensor form of crate::optim::adam::adam_update (the candle path: BatchNorm,
            // devices other than the CPU).
            let bc1 = 1.0 - beta1.powi(st.t as i32);
            let bc2 = 1.0 - beta2.powi(st.t as i32);
            for (i, (p, g)) in params.iter().zip(grads).enumerate() {
                let m = (st.m[i].affine(beta1, 0.0)? + g.affine(1.0 - beta1, 0.0)?)?;
                let v = (st.v[i].affine(beta2, 0.0)? + g.sqr()?.affine(1.0 - beta2, 0.0)?)?;
                // PyTorch: denom = sqrt(v) / sqrt(bc2) + eps; p -= (lr / bc1) * m / denom
                let denom = v.sqrt()?.affine(1.0 / bc2.sqrt(), eps)?;
                let upd = (m.affine(lr / bc1, 0.0)? / denom)?;
                // AdamW: p *= 1 - lr wd first
                let base = if weight_decay == 0.0 {
                    p.as_tensor().clone()
                } else {
                    p.as_tensor().affine(1.0 - lr * weight_decay, 0.0)?
                };
                p.set(&(base - upd)?)?;
                // Keep only the values: the moments are built from `g`, whose op graph reaches
                // back to the parameters; stored as-is they would chain every step's graph
                // (about 3 MB per step for 784-64-32-10).
                st.m[i] = m.detach();
                st.v[i] = v.detach();
            }
        }
    }
    Ok(())
}

pub(super) fn l2_dist(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (*x as f64 - *y as f64).powi(2))
        .sum::<f64>()
        .sqrt()
}

pub(super) fn mix(seed: u64, step: u64) -> u64 {
    let mut r = crate::rng::Rng::new(seed, &[0x11c, step]);
    rand::RngCore::next_u64(&mut r)
}

/// Per-parameter tensors (shapes of `arch`'s parameters) from a flat vector in PyTorch order.
pub(super) fn tensors_like(arch: &Arch, flat: &[f32], dev: &Device) -> Result<Vec<Tensor>> {
    let mut out = vec![];
    let mut off = 0;
    for (_, shape) in arch.param_specs() {
        let n: usize = shape.iter().product();
        out.push(Tensor::from_slice(
            &flat[off..off + n],
            shape.as_slice(),
            dev,
        )?);
        off += n;
    }
    Ok(out)
}

/// One update on the candle path (Adam, BatchNorm, or a device other than the CPU); returns
/// the minibatch loss before the update.
pub(super) fn candle_step(
    config: &TrainConfig,
    net: &mut Network,
    st: &mut OptState,
    xs: &[f32],
    ys: &[u32],
    dim: usize,
    dev: &Device,
) -> Result<f64> {
    let arch = &config.arch;
    let b = ys.len();
    let (loss, g) = if arch.is_plain_mlp() && dev.is_cpu() && b >= 2 {
        halves_loss_and_grads(arch, &net.param_tensors(), xs, ys, dim, config.threads >= 2)?
    } else {
        let x = Tensor::from_slice(xs, (b, dim), dev)?;
        let lg = grad::loss_and_grads(
            arch,
            &net.param_tensors(),
            net.buffers(),
            &x,
            ys,
            BnMode::Train,
        )?;
        if arch.batchnorm {
            net.set_buffers(lg.new_buffers);
        }
        (lg.loss, lg.grads)
    };
    opt_step(&config.optimizer, net.params(), &g, st)?;
    Ok(loss.to_scalar::<f32>()? as f64)
}
