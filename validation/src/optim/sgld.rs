//! The SGLD step: `w <- w - (eps/2) (n_beta g + gamma (w - w*)) + sigma z`, `z ~ N(0, I)`.
//!
//! With localization at `w*` it is the LLC estimator's step (Lau et al.; `sigma = sqrt(eps)` times
//! the noise level); without (`anchor = None`), `n_beta = 1` and `eps/2` the step size, it is the
//! Langevin proposal of the Moons test ([`crate::moons`]). Inside the crate a candle op applies
//! it to chain-batched tensors on the CPU, and a tensor form on other devices.

use super::Real;
use crate::rng::NormalBlocks;
use candle_core::{CpuStorage, CustomOp3, Layout, Shape, Tensor};

/// Constants of an SGLD step `w <- w - (eps/2) (n_beta g + gamma (w - w*)) + noise_scale z`.
#[derive(Clone, Copy, Debug)]
pub struct SgldStep<T = f32> {
    /// `eps / 2`.
    pub half_eps: T,
    /// Inverse temperature `n_beta`.
    pub nbeta: T,
    /// Localization strength `gamma`.
    pub gamma: T,
    /// Standard deviation of the noise, `sqrt(eps) noise_level` (0: none, nothing is drawn).
    pub noise_scale: T,
}

/// One SGLD step into `out` from `w` with gradient `g`, localized at `anchor` (`None`: no
/// localization term), drawing one standard normal from `noise` per parameter in order (only
/// when `noise_scale` is nonzero). `w` and `out` may not alias; use [`sgld_update_in_place`].
#[inline]
pub fn sgld_update<T: Real>(
    out: &mut [T],
    w: &[T],
    g: &[T],
    anchor: Option<&[T]>,
    c: &SgldStep<T>,
    mut noise: impl FnMut() -> T,
) {
    let noisy = c.noise_scale != T::ZERO;
    for (k, (o, (&w, &g))) in out.iter_mut().zip(w.iter().zip(g)).enumerate() {
        let d = match anchor {
            Some(a) => c.nbeta * g + c.gamma * (w - a[k]),
            None => c.nbeta * g,
        };
        let q = w - c.half_eps * d;
        *o = if noisy {
            q + c.noise_scale * noise()
        } else {
            q
        };
    }
}

/// [`sgld_update`] of `w` in place.
#[inline]
pub fn sgld_update_in_place<T: Real>(
    w: &mut [T],
    g: &[T],
    anchor: Option<&[T]>,
    c: &SgldStep<T>,
    mut noise: impl FnMut() -> T,
) {
    let noisy = c.noise_scale != T::ZERO;
    for (k, (w, &g)) in w.iter_mut().zip(g).enumerate() {
        let d = match anchor {
            Some(a) => c.nbeta * g + c.gamma * (*w - a[k]),
            None => c.nbeta * g,
        };
        let q = *w - c.half_eps * d;
        *w = if noisy {
            q + c.noise_scale * noise()
        } else {
            q
        };
    }
}

/// Standard normal SGLD noise for one parameter of shape `dims` (without the chain axis) into
/// `out`, in the parameter's row-major layout. A matrix `[out, in]` (a linear layer's weight)
/// is drawn input by input, in the order of its transpose `W^T`, the layout the CPU kernels
/// keep a sparse first layer in (so that they draw straight into it, without a transpose);
/// any other parameter in its own order. `scratch`: reused buffer.
pub(crate) fn draw_param_noise(
    r: &mut NormalBlocks,
    dims: &[usize],
    out: &mut [f32],
    scratch: &mut Vec<f32>,
) {
    match *dims {
        [o, i] => {
            scratch.resize(o * i, 0.0);
            r.fill(scratch);
            // `scratch` is `W^T` (`i` rows of `o`)
            transpose::transpose(scratch, out, o, i);
        }
        _ => r.fill(out),
    }
}

/// The SGLD step on chain-batched tensors on the CPU (`[chains, ...]` parameter, gradient and
/// `w*`): one pass of [`sgld_update`] per chain, chain `c` drawing its noise from its own stream.
pub(crate) struct SgldOp {
    pub(crate) step: SgldStep<f32>,
    pub(crate) chains: usize,
    pub(crate) rngs: std::cell::RefCell<Vec<NormalBlocks>>,
    /// One chain's noise and a scratch buffer, reused from call to call.
    pub(crate) noise: std::cell::RefCell<(Vec<f32>, Vec<f32>)>,
}

fn contiguous<'a>(s: &'a CpuStorage, l: &Layout) -> candle_core::Result<&'a [f32]> {
    let all = s.as_slice::<f32>()?;
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&all[a..b]),
        None => Err(candle_core::Error::Msg(
            "sgld update needs contiguous tensors".into(),
        )),
    }
}

impl CustomOp3 for SgldOp {
    fn name(&self) -> &'static str {
        "sgld-update"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (w, g, w0) = (
            contiguous(s1, l1)?,
            contiguous(s2, l2)?,
            contiguous(s3, l3)?,
        );
        let n = w.len() / self.chains;
        let mut out = vec![0f32; w.len()];
        let mut rngs = self.rngs.borrow_mut();
        let mut buf = self.noise.borrow_mut();
        let (z, scratch) = &mut *buf;
        let noisy = self.step.noise_scale != 0.0;
        z.resize(if noisy { n } else { 0 }, 0.0);
        let dims = &l1.dims()[1..];
        for (k, r) in rngs.iter_mut().enumerate() {
            let range = k * n..(k + 1) * n;
            if noisy {
                draw_param_noise(r, dims, z, scratch);
            }
            let mut z = z.iter();
            sgld_update(
                &mut out[range.clone()],
                &w[range.clone()],
                &g[range.clone()],
                Some(&w0[range]),
                &self.step,
                || *z.next().expect("one variate per parameter"),
            );
        }
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

/// The same step with tensor operations (devices other than the CPU): `noise` is the
/// standard normal draw of every parameter (`None` when `noise_scale` is 0).
pub(crate) fn sgld_tensors(
    p: &Tensor,
    g: &Tensor,
    wstar: &Tensor,
    c: &SgldStep<f64>,
    noise: Option<&Tensor>,
) -> candle_core::Result<Tensor> {
    let d = (g.affine(c.nbeta, 0.0)? + (p - wstar)?.affine(c.gamma, 0.0)?)?;
    let q = (p - d.affine(c.half_eps, 0.0)?)?;
    match noise {
        Some(z) => q + z.affine(c.noise_scale, 0.0)?,
        None => Ok(q),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn localized_step_by_hand() {
        let c = SgldStep {
            half_eps: 0.05f64,
            nbeta: 10.0,
            gamma: 2.0,
            noise_scale: 0.5,
        };
        let mut out = [0.0; 2];
        let mut z = [1.0, -2.0].into_iter();
        sgld_update(
            &mut out,
            &[1.0, 0.0],
            &[0.1, -0.2],
            Some(&[0.5, 0.0]),
            &c,
            || z.next().unwrap(),
        );
        // 1 - 0.05 (1 + 1) + 0.5 = 1.4; 0 - 0.05 (-2) - 1 = -0.9
        assert!(
            (out[0] - 1.4).abs() < 1e-15 && (out[1] + 0.9).abs() < 1e-15,
            "{out:?}"
        );
        let mut w = [1.0, 0.0];
        let mut z = [1.0, -2.0].into_iter();
        sgld_update_in_place(&mut w, &[0.1, -0.2], Some(&[0.5, 0.0]), &c, || {
            z.next().unwrap()
        });
        assert_eq!(w.map(f64::to_bits), out.map(f64::to_bits));
    }
}
