//! The sparse first layer: compressed minibatches and the SIMD kernels of `X W^T` and
//! `W^T += scale X^T dZ` over the nonzero inputs, summed in a fixed order.

#[allow(unused_imports)]
use super::*;

/// One stored entry of a compressed matrix: its column (or row) and its value, side by side
/// so that a row's entries are one stream of memory.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(super) struct Entry {
    pub(super) idx: u32,
    pub(super) val: f32,
}

/// Compressed rows (or columns) of a matrix: entries `ptr[r]..ptr[r + 1]` of `ent`.
#[derive(Debug, Default)]
pub(super) struct Compressed {
    pub(super) ptr: Vec<usize>,
    pub(super) ent: Vec<Entry>,
}

impl Compressed {
    pub(super) fn clear(&mut self) {
        self.ptr.clear();
        self.ent.clear();
        self.ptr.push(0);
    }

    /// The entries of row (or column) `r`.
    #[inline(always)]
    pub(super) fn row(&self, r: usize) -> &[Entry] {
        &self.ent[self.ptr[r]..self.ptr[r + 1]]
    }
}

/// Columns per register block of the sparse kernels.
pub(super) const CH: usize = 64;

/// `acc[j] = sum_k ent[k].val m[ent[k].idx, c0 + j]` for `j < w <= CH` (`m` row-major with `o`
/// columns), summed in the order of `ent` with `mul_add`: the register-blocked inner loop of
/// both sparse kernels. A full block has a compile-time length, so it stays in registers.
#[inline(always)]
pub(super) fn accumulate_block(
    ent: &[Entry],
    m: &[f32],
    o: usize,
    c0: usize,
    w: usize,
) -> [f32; CH] {
    let mut acc = [0f32; CH];
    if w == CH {
        for &Entry { idx: k, val: x } in ent {
            let src = &m[k as usize * o + c0..k as usize * o + c0 + CH];
            for (a, s) in acc.iter_mut().zip(src) {
                *a = x.mul_add(*s, *a);
            }
        }
    } else {
        for &Entry { idx: k, val: x } in ent {
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
pub(super) struct SparseForward<'a> {
    pub(super) wt: &'a [f32],
    pub(super) bias: &'a [f32],
    pub(super) o: usize,
    pub(super) csr: &'a Compressed,
    pub(super) rows: Range<usize>,
    pub(super) relu: bool,
    pub(super) out: &'a mut [f32],
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
pub(super) fn sparse_forward(
    wt: &[f32],
    bias: &[f32],
    o: usize,
    csr: &Compressed,
    rows: Range<usize>,
    relu: bool,
    out: &mut [f32],
) {
    for (r, row) in rows.zip(out.chunks_exact_mut(o)) {
        let ent = csr.row(r);
        let mut c0 = 0;
        while c0 < o {
            let w = (o - c0).min(CH);
            let acc = accumulate_block(ent, wt, o, c0, w);
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
pub(super) fn sparse_update(
    wt: &mut [f32],
    o: usize,
    csc: &Compressed,
    px: Range<usize>,
    dz: &[f32],
    neg_lr: Option<f32>,
) {
    struct Update<'a> {
        wt: &'a mut [f32],
        o: usize,
        p0: usize,
        neg_lr: Option<f32>,
    }
    impl Finish for Update<'_> {
        #[inline(always)]
        fn finish(&mut self, p: usize, c0: usize, acc: &[f32], has: bool) {
            let v = &mut self.wt[(p - self.p0) * self.o + c0..][..acc.len()];
            match self.neg_lr {
                Some(neg_lr) if has => {
                    for (v, a) in v.iter_mut().zip(acc) {
                        *v += neg_lr * a;
                    }
                }
                Some(_) => {}
                // no entries: the sum is +0.0
                None => v.copy_from_slice(acc),
            }
        }
    }
    let p0 = px.start;
    let finish = Update { wt, o, p0, neg_lr };
    pulp::Arch::new().dispatch(UpdateBlocks {
        csc,
        px,
        dz,
        o,
        finish,
    });
}

/// What [`update_blocks`] does with a finished block of sums.
trait Finish {
    /// `acc`: the sums of input `p` over the columns `c0..c0 + acc.len()`; `has`: whether the
    /// input has entries.
    fn finish(&mut self, p: usize, c0: usize, acc: &[f32], has: bool);
}

/// [`update_blocks`] dispatched to the machine's SIMD level.
struct UpdateBlocks<'a, F> {
    csc: &'a Compressed,
    px: Range<usize>,
    dz: &'a [f32],
    o: usize,
    finish: F,
}

impl<F: Finish> pulp::WithSimd for UpdateBlocks<'_, F> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        update_blocks(self.csc, self.px, self.dz, self.o, self.finish);
    }
}

/// For every input `p` in `px` and every block of columns `c0..c0 + w` of `dZ` (`o` columns,
/// `w <= CH`): `acc[j] = sum_k val_k dZ[r_k, c0 + j]` over the entries `(r_k, val_k)` of column
/// `p` of `csc` ([`accumulate_block`]), handed to `finish(p, c0, acc, has_entries)`.
#[inline(always)]
fn update_blocks(
    csc: &Compressed,
    px: Range<usize>,
    dz: &[f32],
    o: usize,
    mut finish: impl Finish,
) {
    for p in px {
        let row = csc.row(p);
        let mut c0 = 0;
        while c0 < o {
            let w = (o - c0).min(CH);
            if row.is_empty() {
                finish.finish(p, c0, &[0.0; CH][..w], false);
            } else {
                let acc = accumulate_block(row, dz, o, c0, w);
                finish.finish(p, c0, &acc[..w], true);
            }
            c0 += w;
        }
    }
}

/// The SGLD step's terms of the sparse first layer other than the gradient, fused into its
/// gradient update ([`sparse_sgld_update`]): `w <- w + loc (w - w0) + ns z`.
#[derive(Clone, Copy, Debug)]
pub(super) struct SgldFirst<'a> {
    /// The anchor's `W^T` (all rows).
    pub(super) w0: &'a [f32],
    /// Standard normal noise in `W^T`'s layout (all rows); `None`: no noise term.
    pub(super) z: Option<&'a [f32]>,
    /// `-eps gamma / 2`.
    pub(super) loc: f32,
    /// `sqrt(eps) * noise level`.
    pub(super) ns: f32,
}

/// [`sparse_update`] of an SGLD step, with the step's localisation and noise in the same pass
/// over the weights: `W^T[p] <- (W^T[p] + loc (W^T[p] - W0^T[p]) + ns Z^T[p]) + neg_lr *
/// sum_r x[r, p] dZ[r]`, each term rounded as in the separate passes (localisation and noise
/// first, then the gradient), so the result is the same to the bit.
pub(super) fn sparse_sgld_update(
    wt: &mut [f32],
    o: usize,
    csc: &Compressed,
    px: Range<usize>,
    dz: &[f32],
    neg_lr: f32,
    s: SgldFirst<'_>,
) {
    struct Sgld<'a> {
        wt: &'a mut [f32],
        o: usize,
        p0: usize,
        neg_lr: f32,
        s: SgldFirst<'a>,
    }
    impl Finish for Sgld<'_> {
        #[inline(always)]
        fn finish(&mut self, p: usize, c0: usize, acc: &[f32], has: bool) {
            let (k0, w) = (p * self.o + c0, acc.len());
            let v = &mut self.wt[(p - self.p0) * self.o + c0..][..w];
            let v0 = &self.s.w0[k0..][..w];
            let (loc, ns, neg_lr) = (self.s.loc, self.s.ns, self.neg_lr);
            match (self.s.z.map(|z| &z[k0..][..w]), has) {
                (Some(z), true) => {
                    for (((v, &v0), &z), a) in v.iter_mut().zip(v0).zip(z).zip(acc) {
                        *v = (localize(*v, v0, loc) + ns * z) + neg_lr * a;
                    }
                }
                (Some(z), false) => {
                    for ((v, &v0), &z) in v.iter_mut().zip(v0).zip(z) {
                        *v = localize(*v, v0, loc) + ns * z;
                    }
                }
                (None, true) => {
                    for ((v, &v0), a) in v.iter_mut().zip(v0).zip(acc) {
                        *v = localize(*v, v0, loc) + neg_lr * a;
                    }
                }
                (None, false) => {
                    for (v, &v0) in v.iter_mut().zip(v0) {
                        *v = localize(*v, v0, loc);
                    }
                }
            }
        }
    }
    let p0 = px.start;
    let finish = Sgld {
        wt,
        o,
        p0,
        neg_lr,
        s,
    };
    pulp::Arch::new().dispatch(UpdateBlocks {
        csc,
        px,
        dz,
        o,
        finish,
    });
}

/// Column-compressed copy (rows ascending within a column) of a row-compressed matrix with
/// `d` columns.
pub(super) fn compress_columns(csr: &Compressed, d: usize, out: &mut Compressed) {
    let nnz = csr.ent.len();
    out.ptr.clear();
    out.ptr.resize(d + 1, 0);
    for e in &csr.ent {
        out.ptr[e.idx as usize + 1] += 1;
    }
    for p in 0..d {
        out.ptr[p + 1] += out.ptr[p];
    }
    out.ent.resize(nnz, Entry::default());
    let mut next: Vec<u32> = out.ptr[..d].iter().map(|&k| k as u32).collect();
    for r in 0..csr.ptr.len() - 1 {
        for e in csr.row(r) {
            let slot = &mut next[e.idx as usize];
            out.ent[*slot as usize] = Entry {
                idx: r as u32,
                val: e.val,
            };
            *slot += 1;
        }
    }
}
