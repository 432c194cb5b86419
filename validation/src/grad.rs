//! Hand-written loss and parameter gradients of the MLP (forward and backward on candle tensors).
//!
//! candle's autograd also differentiates with respect to the input images (a matrix product as
//! large as the first layer's weight gradient) and accumulates every gradient into freshly
//! allocated zeros; for these small networks that is a third of the work of a step. This module
//! computes only what SGD and SGLD need: per-chain mean cross-entropy and the gradients of the
//! trainable parameters, in [`crate::model::Arch::param_specs`] order. It runs on any candle
//! device, with or without a leading chain dimension, and is tested against candle's autograd.
//!
//! Conventions follow PyTorch: the ReLU derivative is 0 at 0; BatchNorm in training mode
//! differentiates through the batch statistics.
//!
//! The convolutional network ([`crate::conv`]) is differentiated by candle's autograd instead
//! ([`autograd_loss_and_grads`]), chain by chain when the parameters carry a chain dimension:
//! same contract, so every caller (training, ensembles, SGLD chains) takes either network.

use crate::error::Result;
use crate::model::{Arch, BN_EPS, BN_MOMENTUM, BnMode, cross_entropy_rows, forward};
use candle_core::{D, DType, Tensor, Var};

/// Losses and gradients of one step.
#[derive(Debug)]
pub struct LossGrads {
    /// Mean cross-entropy: a scalar, or `[chains]` for chain-batched parameters.
    pub loss: Tensor,
    /// Gradient of `loss` (summed over chains) for each parameter, same shapes as the parameters.
    pub grads: Vec<Tensor>,
    /// Updated BatchNorm running statistics ([`BnMode::Train`] only; else empty).
    pub new_buffers: Vec<Tensor>,
}

fn per_chain(t: &Tensor) -> Result<Tensor> {
    Ok(if t.rank() == 2 {
        t.unsqueeze(1)?
    } else {
        t.clone()
    })
}

/// Loss and gradients at `params` for inputs `x` (`[B, in]`, or `[chains, B, in]` with
/// chain-batched parameters) and labels `y` (`B` or `chains * B` values, chain-major).
pub fn loss_and_grads(
    arch: &Arch,
    params: &[Tensor],
    buffers: &[Tensor],
    x: &Tensor,
    y: &[u32],
    mode: BnMode,
) -> Result<LossGrads> {
    if arch.conv.is_some() {
        return autograd_loss_and_grads(arch, params, buffers, x, y, mode);
    }
    let nl = arch.layers();
    let dev = x.device();
    let bdim = x.rank() - 2; // the batch dimension
    let bsz = x.dim(bdim)?;
    let mut acts = vec![x.clone()];
    let mut masks = vec![];
    let mut bn_cache = vec![]; // (xhat, inv_std, gamma)
    let mut new_buffers = vec![];
    let mut idx = vec![]; // (w, b, Option<(g, beta)>) parameter indices per layer
    let mut p = 0;
    let mut h = x.clone();
    let mut logits = None;
    for l in 0..nl {
        let (w, b) = (&params[p], &params[p + 1]);
        let (wi, bi) = (p, p + 1);
        p += 2;
        let bb = per_chain(b)?;
        let z = h.matmul(&w.t()?)?.broadcast_add(&bb)?;
        if l + 1 == nl {
            idx.push((wi, bi, None));
            logits = Some(z);
            break;
        }
        let u = if arch.batchnorm {
            let (g, beta) = (per_chain(&params[p])?, per_chain(&params[p + 1])?);
            idx.push((wi, bi, Some((p, p + 1))));
            p += 2;
            let (rm, rv) = (&buffers[2 * l], &buffers[2 * l + 1]);
            let (xhat, inv_std) = match mode {
                BnMode::Train => {
                    let mean = z.mean_keepdim(bdim)?;
                    let xc = z.broadcast_sub(&mean)?;
                    let var = xc.sqr()?.mean_keepdim(bdim)?;
                    let inv_std = var.affine(1.0, BN_EPS)?.sqrt()?.recip()?;
                    let n = bsz as f64;
                    let unbiased = if n > 1.0 { n / (n - 1.0) } else { 1.0 };
                    // Detached: the batch statistics derive from the parameters (candle
                    // `Var`s), so undetached running statistics would carry this step's graph
                    // (activations, inputs, the previous buffers) into the next step, and the
                    // memory of a run would grow by about 1 MB per step without bound.
                    new_buffers.push(
                        (rm.affine(1.0 - BN_MOMENTUM, 0.0)?
                            + mean.squeeze(bdim)?.affine(BN_MOMENTUM, 0.0)?)?
                        .detach(),
                    );
                    new_buffers.push(
                        (rv.affine(1.0 - BN_MOMENTUM, 0.0)?
                            + var.squeeze(bdim)?.affine(BN_MOMENTUM * unbiased, 0.0)?)?
                        .detach(),
                    );
                    (xc.broadcast_mul(&inv_std)?, inv_std)
                }
                BnMode::Eval => {
                    let inv_std = rv.affine(1.0, BN_EPS)?.sqrt()?.recip()?;
                    (z.broadcast_sub(rm)?.broadcast_mul(&inv_std)?, inv_std)
                }
            };
            let u = xhat.broadcast_mul(&g)?.broadcast_add(&beta)?;
            bn_cache.push((xhat, inv_std, g));
            u
        } else {
            idx.push((wi, bi, None));
            z
        };
        masks.push(u.gt(0.0)?.to_dtype(DType::F32)?);
        h = u.relu()?;
        acts.push(h.clone());
    }
    let logits = logits.expect("at least one layer");
    let k = logits.dim(D::Minus1)?;
    let ylab = Tensor::from_slice(y, logits.dims()[..logits.rank() - 1].to_vec(), dev)?;
    let ls = candle_nn::ops::log_softmax(&logits, D::Minus1)?;
    let rows = cross_entropy_rows(&logits, &ylab)?;
    let loss = rows.mean(bdim)?;
    // d loss / d logits = (softmax - onehot) / B
    let mut onehot = vec![0f32; y.len() * k];
    for (i, &c) in y.iter().enumerate() {
        if c as usize >= k {
            return Err(crate::Error::config(
                "labels",
                c,
                format!("below the network's output width {k}"),
            ));
        }
        onehot[i * k + c as usize] = 1.0;
    }
    let onehot = Tensor::from_vec(onehot, logits.shape(), dev)?;
    let mut dz = ((ls.exp()? - onehot)? / bsz as f64)?;
    let mut grads: Vec<Option<Tensor>> = vec![None; params.len()];
    for l in (0..nl).rev() {
        let (wi, bi, _) = idx[l];
        grads[wi] = Some(dz.t()?.matmul(&acts[l])?);
        grads[bi] = Some(dz.sum(bdim)?);
        if l == 0 {
            break;
        }
        let du = dz.matmul(&params[wi])?.mul(&masks[l - 1])?;
        dz = match (idx[l - 1].2, &bn_cache.get(l - 1)) {
            (Some((gi, betai)), Some((xhat, inv_std, g))) => {
                grads[betai] = Some(du.sum(bdim)?);
                grads[gi] = Some(du.mul(xhat)?.sum(bdim)?);
                let dxhat = du.broadcast_mul(g)?;
                match mode {
                    BnMode::Eval => dxhat.broadcast_mul(inv_std)?,
                    BnMode::Train => {
                        let m1 = dxhat.mean_keepdim(bdim)?;
                        let m2 = dxhat.mul(xhat)?.mean_keepdim(bdim)?;
                        dxhat
                            .broadcast_sub(&m1)?
                            .sub(&xhat.broadcast_mul(&m2)?)?
                            .broadcast_mul(inv_std)?
                    }
                }
            }
            _ => du,
        };
    }
    let grads = grads
        .into_iter()
        .map(|g| g.ok_or_else(|| crate::Error::config("params", "unused", "one per layer")))
        .collect::<Result<Vec<_>>>()?;
    Ok(LossGrads {
        loss,
        grads,
        new_buffers,
    })
}

/// [`loss_and_grads`] by candle's autograd (`loss.backward()`): any architecture without
/// BatchNorm buffers to update (the convolutional network). With chain-batched parameters
/// (`x` is `[chains, B, in]`) each chain is differentiated on its own and the results are
/// stacked. The returned tensors hold values only (no graph).
pub fn autograd_loss_and_grads(
    arch: &Arch,
    params: &[Tensor],
    buffers: &[Tensor],
    x: &Tensor,
    y: &[u32],
    mode: BnMode,
) -> Result<LossGrads> {
    if arch.batchnorm && mode == BnMode::Train {
        return Err(crate::Error::config(
            "arch",
            arch,
            "no BatchNorm in training mode on the autograd path (the hand-written one has it)",
        ));
    }
    let k = arch.outputs();
    if let Some(&c) = y.iter().find(|&&c| c as usize >= k) {
        return Err(crate::Error::config(
            "labels",
            c,
            format!("below the network's output width {k}"),
        ));
    }
    if x.rank() == 3 {
        let chains = x.dim(0)?;
        let b = x.dim(1)?;
        let (mut losses, mut grads) = (vec![], vec![vec![]; params.len()]);
        for c in 0..chains {
            let pc: Vec<Tensor> = params
                .iter()
                .map(|p| p.get(c))
                .collect::<candle_core::Result<_>>()?;
            let one = autograd_loss_and_grads(
                arch,
                &pc,
                buffers,
                &x.get(c)?,
                &y[c * b..(c + 1) * b],
                mode,
            )?;
            losses.push(one.loss);
            for (g, gc) in grads.iter_mut().zip(one.grads) {
                g.push(gc);
            }
        }
        return Ok(LossGrads {
            loss: Tensor::stack(&losses, 0)?,
            grads: grads
                .iter()
                .map(|g| Tensor::stack(g, 0))
                .collect::<candle_core::Result<_>>()?,
            new_buffers: vec![],
        });
    }
    // Fresh variables hold copies of the values: the caller's tensors are never tracked.
    let vars: Vec<Var> = params
        .iter()
        .map(|p| Var::from_tensor(&p.detach()))
        .collect::<candle_core::Result<_>>()?;
    let vt: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
    let (logits, _) = forward(arch, &vt, buffers, x, mode)?;
    let ylab = Tensor::from_slice(y, logits.dim(0)?, x.device())?;
    let loss = cross_entropy_rows(&logits, &ylab)?.mean(0)?;
    let store = loss.backward()?;
    let grads = vars
        .iter()
        .map(|v| match store.get(v) {
            Some(g) => Ok(g.detach()),
            None => Ok(v.as_tensor().zeros_like()?),
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(LossGrads {
        loss: loss.detach(),
        grads,
        new_buffers: vec![],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Network;
    use crate::rng::Rng;
    use candle_core::Device;

    fn check(arch: &str, chains: usize, mode: BnMode) {
        let arch: Arch = arch.parse().unwrap();
        let dev = Device::Cpu;
        let mut rng = Rng::new(3, &[]);
        // random weights (BN gains around 1) and running statistics
        let mut flat = vec![0f32; arch.num_params()];
        rng.fill_normal_f32(&mut flat);
        flat.iter_mut().for_each(|v| *v *= 0.3);
        let nb: usize = arch.buffer_specs().iter().map(|(_, s)| s[0]).sum();
        let bufs: Vec<f32> = (0..nb)
            .map(|i| if (i / 7) % 2 == 0 { 0.1 } else { 1.5 })
            .collect();
        let net = Network::from_flat(&arch, &flat, Some(&bufs), &dev).unwrap();
        let (b, din) = (9, arch.widths[0]);
        let mut xs = vec![0f32; chains.max(1) * b * din];
        rng.fill_normal_f32(&mut xs);
        let ys: Vec<u32> = (0..chains.max(1) * b)
            .map(|i| (i % *arch.widths.last().unwrap()) as u32)
            .collect();
        let (x, params): (Tensor, Vec<Tensor>) = if chains == 0 {
            (
                Tensor::from_slice(&xs, (b, din), &dev).unwrap(),
                net.param_tensors(),
            )
        } else {
            // chain c's parameters are w + 0.01 c
            let ps = net
                .param_tensors()
                .iter()
                .map(|p| {
                    let v: Vec<Tensor> = (0..chains)
                        .map(|c| p.affine(1.0, 0.01 * c as f64).unwrap())
                        .collect();
                    Tensor::stack(&v, 0).unwrap()
                })
                .collect();
            (Tensor::from_slice(&xs, (chains, b, din), &dev).unwrap(), ps)
        };
        let vars: Vec<Var> = params
            .iter()
            .map(|p| Var::from_tensor(p).unwrap())
            .collect();
        let vt: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
        let (logits, _) = forward(&arch, &vt, net.buffers(), &x, mode).unwrap();
        let ylab =
            Tensor::from_slice(&ys, logits.dims()[..logits.rank() - 1].to_vec(), &dev).unwrap();
        let rows = cross_entropy_rows(&logits, &ylab).unwrap();
        let loss = rows.mean(x.rank() - 2).unwrap();
        let auto = loss.sum_all().unwrap().backward().unwrap();
        let ours = loss_and_grads(&arch, &params, net.buffers(), &x, &ys, mode).unwrap();
        let l1 = loss.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let l2 = ours.loss.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        for (a, b) in l1.iter().zip(&l2) {
            assert!((a - b).abs() < 1e-6, "loss {a} {b}");
        }
        for (i, v) in vars.iter().enumerate() {
            let a = auto
                .get(v)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap();
            let o = ours.grads[i]
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap();
            assert_eq!(a.len(), o.len());
            // f32 sums in different orders: relative 1e-4 of the largest entry
            let scale = a.iter().fold(1e-3f32, |m, v| m.max(v.abs()));
            for (p, q) in a.iter().zip(&o) {
                assert!((p - q).abs() < 1e-4 * scale, "{arch} param {i}: {p} vs {q}");
            }
        }
    }

    /// The running statistics of a training step must not carry the step's graph: the
    /// parameters of a training network are candle `Var`s, and a tracked buffer kept every
    /// step chained all earlier steps' activations into memory (about 1 MB per step on
    /// 784-32-10+bn, 2.7 GB after 3,000 steps).
    #[test]
    fn batchnorm_running_statistics_are_detached() {
        let arch: Arch = "6-5-3+bn".parse().unwrap();
        let dev = Device::Cpu;
        let net = Network::init(&arch, 1, &dev).unwrap();
        let params = net.param_tensors();
        assert!(
            params.iter().all(|p| p.track_op()),
            "training parameters are Vars"
        );
        let x = Tensor::from_slice(&[0.5f32; 4 * 6], (4, 6), &dev).unwrap();
        let lg = loss_and_grads(
            &arch,
            &params,
            net.buffers(),
            &x,
            &[0, 1, 2, 0],
            BnMode::Train,
        )
        .unwrap();
        assert_eq!(lg.new_buffers.len(), 2);
        assert!(lg.new_buffers.iter().all(|b| !b.track_op()));
    }

    #[test]
    fn matches_candle_autograd() {
        check("7-6-5-4", 0, BnMode::Eval);
        check("7-6-5-4+bn", 0, BnMode::Train);
        check("7-6-5-4+bn", 0, BnMode::Eval);
        check("7-6-4", 3, BnMode::Eval);
        check("7-6-5-4+bn", 3, BnMode::Eval);
    }
}
