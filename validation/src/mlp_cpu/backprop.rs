//! Forward pass, loss and backpropagation of [`SgdMlp`] over two halves of the minibatch, and
//! the weight updates from the stored `dZ`: fused into the gradient product (plain SGD, SGLD)
//! or through the gradient buffers (the optimizers of [`crate::optim`]).

#[allow(unused_imports)]
use super::*;

impl SgdMlp {
    /// Forward pass, loss and every layer's `dZ` for the minibatch `idx`; returns the mean loss.
    /// `par`: run the halves with `rayon::join` (inside the network's pool).
    pub(super) fn loss_and_backward(
        &mut self,
        data: &Dataset,
        idx: &[usize],
        par: bool,
    ) -> Result<f64> {
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
                self.csr.ent.extend_from_slice(images.row(i));
                self.csr.ptr.push(self.csr.ent.len());
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
    /// `sgld`: the sparse first layer's SGLD localisation and noise, done in the same pass
    /// ([`sparse_sgld_update`]).
    pub(super) fn add_gradient(
        &mut self,
        b: usize,
        scale: f32,
        par: bool,
        sgld: Option<SgldFirst<'_>>,
    ) {
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
            sgld,
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
    /// into the gradient buffers, then the optimizer's update `f(w, g, m, v)` (weights,
    /// gradient, first and second state buffers), each weight matrix in the same two fixed
    /// blocks of rows as [`SgdMlp::add_gradient`] (on two threads when `par`).
    pub(super) fn update_all<F>(&mut self, b: usize, par: bool, f: &F)
    where
        F: Fn(&mut [f32], &[f32], &mut [f32], &mut [f32]) + Sync,
    {
        let nl = self.w.len();
        let sparse = self.images.is_some();
        let Some(opt) = self.opt.as_mut() else {
            return;
        };
        let (mut blocks_a, mut blocks_b) = (vec![], vec![]);
        for (l, (((w, g), m), v)) in self
            .w
            .iter_mut()
            .zip(opt.gw.iter_mut())
            .zip(opt.m.iter_mut())
            .zip(opt.v.iter_mut())
            .enumerate()
        {
            let (i, o) = (self.widths[l], self.widths[l + 1]);
            let (rows, cols) = if l == 0 && sparse { (i, o) } else { (o, i) };
            let split = rows / 2;
            let (wa, wb) = w.split_at_mut(split * cols);
            let (ga, gb) = g.split_at_mut(split * cols);
            let (ma, mb) = m.split_at_mut(split * cols);
            // SGD keeps no second buffer.
            let (va, vb): (&mut [f32], &mut [f32]) = if v.is_empty() {
                (&mut [], &mut [])
            } else {
                v.split_at_mut(split * cols)
            };
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
            sgld: None,
        };
        let (bias, gbias, mbias, vbias) = (&mut self.bias, &mut opt.gb, &mut opt.mb, &mut opt.vb);
        both(
            par,
            || {
                for (l, r, w, gr, m, v) in blocks_a {
                    g.store_block(l, r, gr);
                    f(w, gr, m, v);
                }
                for l in 0..nl {
                    let o = g.widths[l + 1];
                    column_sums(&g.dz[l][..b * o], o, &mut gbias[l]);
                    f(&mut bias[l], &gbias[l], &mut mbias[l], &mut vbias[l]);
                }
            },
            || {
                for (l, r, w, gr, m, v) in blocks_b {
                    g.store_block(l, r, gr);
                    f(w, gr, m, v);
                }
            },
        );
    }

    pub(super) fn reserve(&mut self, b: usize) {
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
pub(super) fn localize(w: f32, w0: f32, loc: f32) -> f32 {
    w + loc * (w - w0)
}

/// What the weight updates read.
pub(super) struct Grads<'a> {
    pub(super) widths: &'a [usize],
    pub(super) xs: &'a [f32],
    pub(super) z: &'a [Vec<f32>],
    pub(super) dz: &'a [Vec<f32>],
    /// Column-compressed minibatch when the first layer is sparse (and stored transposed).
    pub(super) csc: Option<&'a Compressed>,
    pub(super) b: usize,
    pub(super) scale: f32,
    /// The SGLD step's other terms for the sparse first layer ([`sparse_sgld_update`]).
    pub(super) sgld: Option<SgldFirst<'a>>,
}

impl Grads<'_> {
    /// Rows `rows` of layer `l`'s stored weights `w += scale * (dZ^T A)[rows]`.
    pub(super) fn block(&self, l: usize, rows: Range<usize>, w: &mut [f32]) {
        let (i, o) = (self.widths[l], self.widths[l + 1]);
        let b = self.b;
        let dz = &self.dz[l][..b * o];
        match (l, self.csc) {
            (0, Some(csc)) => match self.sgld {
                Some(s) => sparse_sgld_update(w, o, csc, rows, dz, self.scale, s),
                None => sparse_update(w, o, csc, rows, dz, Some(self.scale)),
            },
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
    pub(super) fn store_block(&self, l: usize, rows: Range<usize>, g: &mut [f32]) {
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
pub(super) struct Params<'a> {
    pub(super) widths: &'a [usize],
    pub(super) w: &'a [Vec<f32>],
    pub(super) bias: &'a [Vec<f32>],
}

impl Params<'_> {
    /// Forward pass of minibatch rows `rows` into `z` (the rows' slices of each layer's
    /// buffer), then per-row cross-entropy into `loss` and `dZ = (softmax - onehot) / B` of the
    /// last layer into `dz_last`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn forward_rows(
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
pub(super) fn add_bias(out: &mut [f32], bias: &[f32], relu: bool) {
    for row in out.chunks_exact_mut(bias.len()) {
        for (v, b) in row.iter_mut().zip(bias) {
            let s = *v + b;
            *v = if relu { s.max(0.0) } else { s };
        }
    }
}

/// `bias += scale * (column sums of dz)`, summing rows in order.
pub(super) fn bias_update(bias: &mut [f32], dz: &[f32], o: usize, scale: f32) {
    let mut acc = vec![0f32; o];
    column_sums(dz, o, &mut acc);
    for (b, a) in bias.iter_mut().zip(&acc) {
        *b += scale * a;
    }
}

/// `acc = column sums of dz` (`o` columns), summing rows in order.
pub(super) fn column_sums(dz: &[f32], o: usize, acc: &mut [f32]) {
    acc.fill(0.0);
    for row in dz.chunks_exact(o) {
        for (a, v) in acc.iter_mut().zip(row) {
            *a += v;
        }
    }
}

/// `dst = (src W) * (act > 0)` for some minibatch rows: `src` is their `dZ` of a layer with
/// `W^T = wt` (`[i, o]`), `act` their ReLU outputs of the layer below.
pub(super) fn backprop_rows(wt: MatRef<'_, f32>, src: &[f32], act: &[f32], dst: &mut [f32]) {
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
