//! The SGLD chains: on the CPU fast path one by one, else chain-batched with candle.

#[allow(unused_imports)]
use super::*;

/// What a group of chains produced.
#[derive(Clone, Debug, Default)]
pub(super) struct ChainsOut {
    /// Minibatch loss of every step, one trace per chain.
    pub(super) traces: Vec<Vec<f64>>,
    /// Warnings (divergence).
    pub(super) warnings: Vec<String>,
    /// Acceptance probabilities of the measured steps, per chain ([`MalaProbe`]).
    pub(super) accept: Vec<Vec<f64>>,
}

impl ChainsOut {
    /// Append the chains of `o` (in order).
    pub(super) fn extend(&mut self, o: ChainsOut) {
        self.traces.extend(o.traces);
        self.warnings.extend(o.warnings);
        self.accept.extend(o.accept);
    }
}

pub(super) fn chain_batcher(data: &Dataset, config: &LlcConfig, k: usize) -> Batcher {
    Batcher::new(
        data.len(),
        config.batch_size,
        config.shuffle,
        config.seed,
        &[0x5c1d, k as u64],
    )
}

/// The SGLD noise of chain `k`: its own stream of [`NormalBlocks`], the same on every path
/// (CPU kernels, chain-batched candle, other devices), parameter by parameter in PyTorch order,
/// each weight matrix input by input ([`draw_param_noise`]).
pub(super) fn noise_stream(config: &LlcConfig, k: usize) -> NormalBlocks {
    NormalBlocks::new(&mut Rng::new(config.seed, &[0x901e, k as u64]))
}

/// Run the chains `ks`: on the CPU without BatchNorm each chain on its own with the
/// [`crate::mlp_cpu`] kernels, else as one chain-batched candle computation.
pub(super) fn run_chains(
    net: &Network,
    data: &Dataset,
    config: &LlcConfig,
    nbeta: f64,
    ks: std::ops::Range<usize>,
    monitor: &Monitor<'_, '_>,
) -> Result<ChainsOut> {
    if net.device().is_cpu() && net.arch().is_plain_mlp() {
        run_chains_cpu(net, data, config, nbeta, ks, monitor)
    } else {
        run_chains_batched(net, data, config, nbeta, ks, monitor)
    }
}

/// The chains `ks` one after the other with [`SgdMlp::sgld_step`] (same minibatch and noise
/// streams, same arithmetic up to f32 summation order as [`run_chains_batched`]).
pub(super) fn run_chains_cpu(
    net: &Network,
    data: &Dataset,
    config: &LlcConfig,
    nbeta: f64,
    ks: std::ops::Range<usize>,
    monitor: &Monitor<'_, '_>,
) -> Result<ChainsOut> {
    let flat = net.flat_params()?;
    let step = SgldStep {
        half_eps: (config.epsilon / 2.0) as f32,
        nbeta: nbeta as f32,
        gamma: config.gamma as f32,
        noise_scale: (config.epsilon.sqrt() * config.noise_level) as f32,
    };
    let steps = config.total_steps();
    let mut out = ChainsOut::default();
    let mut m = SgdMlp::new(net.arch(), &flat, data, InputLayer::Auto, 1)?;
    let anchor = m.anchor();
    let probe = MalaProbe::for_network(net, config, nbeta)?;
    for k in ks {
        m.reset(&anchor)?;
        let mut batcher = chain_batcher(data, config, k);
        let mut noise = noise_stream(config, k);
        let mut trace = Vec::with_capacity(steps);
        let mut accept = vec![];
        for t in 0..steps {
            let idx = batcher.indices(t as u64);
            // A measured step: loss and gradient at w and, after the step, at w' on the same
            // minibatch, by the same kernels (the SGLD step itself is unchanged).
            let before = match &probe {
                Some(p) if p.measured(t) => {
                    let w = to_f64(&m.flat_params());
                    let (l, g) = m.loss_and_gradient(data, idx)?;
                    Some((p, w, l, to_f64(&g)))
                }
                _ => None,
            };
            let l = m.sgld_step(data, idx, &anchor, &step, &mut noise)?;
            if let Some((p, w, l0, g0)) = before {
                let wn = to_f64(&m.flat_params());
                let (l1, g1) = m.loss_and_gradient(data, idx)?;
                accept.extend(p.accept((&w, l0, &g0), (&wn, l1, &to_f64(&g1))));
            }
            monitor.step(1)?;
            trace.push(l);
            if !l.is_finite() {
                out.warnings.push(format!(
                    "diverged: non-finite minibatch loss at step {t} (chain {k}); lower epsilon or \
                     raise gamma"
                ));
                break;
            }
        }
        out.traces.push(trace);
        out.accept.push(accept);
    }
    Ok(out)
}

/// Run the chains `ks` as one chain-batched computation; returns their traces and warnings.
pub(super) fn run_chains_batched(
    net: &Network,
    data: &Dataset,
    config: &LlcConfig,
    nbeta: f64,
    ks: std::ops::Range<usize>,
    monitor: &Monitor<'_, '_>,
) -> Result<ChainsOut> {
    let arch = net.arch().clone();
    let dev = net.device().clone();
    let c = ks.len();
    let buffers = net.buffers().to_vec();
    let mut batchers: Vec<Batcher> = ks.clone().map(|k| chain_batcher(data, config, k)).collect();
    // Chain-batched parameters and w*.
    let wstar: Vec<Tensor> = net
        .param_tensors()
        .iter()
        .map(|p| {
            let mut shape = vec![c];
            shape.extend(p.dims());
            p.unsqueeze(0)?.broadcast_as(shape)?.contiguous()
        })
        .collect::<candle_core::Result<_>>()?;
    let mut params: Vec<Tensor> = wstar.clone();
    let (eps, gamma) = (config.epsilon, config.gamma);
    let nscale = (eps.sqrt() * config.noise_level) as f32;
    let noise_rngs: Vec<NormalBlocks> = ks.clone().map(|k| noise_stream(config, k)).collect();
    let sizes: Vec<usize> = params.iter().map(|p| p.elem_count() / c).collect();
    let mut noise_buf: Vec<Vec<f32>> = if dev.is_cpu() {
        vec![vec![]; sizes.len()]
    } else {
        sizes.iter().map(|&s| vec![0f32; s * c]).collect()
    };
    let mut scratch = vec![];
    let steps = config.total_steps();
    let mut trace = vec![Vec::with_capacity(steps); c];
    let mut warnings = vec![];
    let dim = data.dim();
    let (mut xs, mut ys) = (vec![], vec![]);
    let update = SgldOp {
        step: SgldStep {
            half_eps: (eps / 2.0) as f32,
            nbeta: nbeta as f32,
            gamma: gamma as f32,
            noise_scale: nscale,
        },
        chains: c,
        rngs: std::cell::RefCell::new(noise_rngs),
        noise: Default::default(),
    };
    let tensor_step = SgldStep {
        half_eps: eps / 2.0,
        nbeta,
        gamma,
        noise_scale: nscale as f64,
    };
    let probe = MalaProbe::for_network(net, config, nbeta)?;
    let mut accept = vec![vec![]; c];
    for t in 0..steps {
        xs.clear();
        ys.clear();
        let mut bsz = 0;
        for b in batchers.iter_mut() {
            let idx = b.indices(t as u64);
            bsz = idx.len();
            data.gather_into(idx, &mut xs, &mut ys);
        }
        let x = Tensor::from_slice(&xs, (c, bsz, dim), &dev)?;
        let lg = grad::loss_and_grads(&arch, &params, &buffers, &x, &ys, BnMode::Eval)?;
        let losses = lg.loss.to_dtype(DType::F64)?.to_vec1::<f64>()?;
        let diverged = losses.iter().any(|l| !l.is_finite());
        monitor.step(c)?;
        for (tr, l) in trace.iter_mut().zip(&losses) {
            tr.push(*l);
        }
        if diverged {
            warnings.push(format!(
                "diverged: non-finite minibatch loss at step {t}; lower epsilon or raise gamma"
            ));
            break;
        }
        let measured = probe.as_ref().filter(|p| p.measured(t));
        let before = measured.map(|_| params.clone());
        for (i, p) in params.iter_mut().enumerate() {
            let g = &lg.grads[i];
            let next = if dev.is_cpu() {
                p.apply_op3_no_bwd(g, &wstar[i], &update)?
            } else {
                // Same arithmetic with tensor ops on other devices; noise from the same streams.
                if nscale > 0.0 {
                    let mut rngs = update.rngs.borrow_mut();
                    let dims = &p.dims()[1..];
                    for (k, r) in rngs.iter_mut().enumerate() {
                        let z = &mut noise_buf[i][k * sizes[i]..(k + 1) * sizes[i]];
                        draw_param_noise(r, dims, z, &mut scratch);
                    }
                }
                let nz = if nscale > 0.0 {
                    Some(Tensor::from_slice(&noise_buf[i], p.shape(), &dev)?)
                } else {
                    None
                };
                sgld_tensors(p, g, &wstar[i], &tensor_step, nz.as_ref())?
            };
            *p = next;
        }
        if let (Some(pr), Some(w0)) = (measured, before) {
            // The chains' losses and gradients at w' on the same minibatches.
            let lg1 = grad::loss_and_grads(&arch, &params, &buffers, &x, &ys, BnMode::Eval)?;
            let l1 = lg1.loss.to_dtype(DType::F64)?.to_vec1::<f64>()?;
            let rows = [
                per_chain_rows(&w0, c)?,
                per_chain_rows(&lg.grads, c)?,
                per_chain_rows(&params, c)?,
                per_chain_rows(&lg1.grads, c)?,
            ];
            for k in 0..c {
                accept[k].extend(pr.accept(
                    (&rows[0][k], losses[k], &rows[1][k]),
                    (&rows[2][k], l1[k], &rows[3][k]),
                ));
            }
        }
    }
    Ok(ChainsOut {
        traces: trace,
        warnings,
        accept,
    })
}
