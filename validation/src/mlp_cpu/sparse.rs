//! The sparse first layer: compressed minibatches and the SIMD kernels of `X W^T` and
//! `W^T += scale X^T dZ` over the nonzero inputs, summed in a fixed order.

#[allow(unused_imports)]
use super::*;

/// Compressed rows (or columns) of a matrix: entries `ptr[r]..ptr[r + 1]` of `idx`/`val`.
#[derive(Debug, Default)]
pub(super) struct Compressed {
    pub(super) ptr: Vec<usize>,
    pub(super) idx: Vec<u32>,
    pub(super) val: Vec<f32>,
}

impl Compressed {
    pub(super) fn clear(&mut self) {
        self.ptr.clear();
        self.idx.clear();
        self.val.clear();
        self.ptr.push(0);
    }
}

/// Columns per register block of the sparse kernels.
pub(super) const CH: usize = 64;

/// `acc[j] = sum_k val[k] m[idx[k], c0 + j]` for `j < w <= CH` (`m` row-major with `o`
/// columns), summed in the order of `idx` with `mul_add`: the register-blocked inner loop of
/// both sparse kernels. A full block has a compile-time length, so it stays in registers.
#[inline(always)]
pub(super) fn accumulate_block(
    idx: &[u32],
    val: &[f32],
    m: &[f32],
    o: usize,
    c0: usize,
    w: usize,
) -> [f32; CH] {
    let mut acc = [0f32; CH];
    if w == CH {
        for (&k, &x) in idx.iter().zip(val) {
            let src = &m[k as usize * o + c0..k as usize * o + c0 + CH];
            for (a, s) in acc.iter_mut().zip(src) {
                *a = x.mul_add(*s, *a);
            }
        }
    } else {
        for (&k, &x) in idx.iter().zip(val) {
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
        let nz = csr.ptr[r]..csr.ptr[r + 1];
        let (idx, val) = (&csr.idx[nz.clone()], &csr.val[nz]);
        let mut c0 = 0;
        while c0 < o {
            let w = (o - c0).min(CH);
            let acc = accumulate_block(idx, val, wt, o, c0, w);
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
    pulp::Arch::new().dispatch(SparseUpdate {
        wt,
        o,
        csc,
        px,
        dz,
        neg_lr,
    });
}

pub(super) struct SparseUpdate<'a> {
    pub(super) wt: &'a mut [f32],
    pub(super) o: usize,
    pub(super) csc: &'a Compressed,
    pub(super) px: Range<usize>,
    pub(super) dz: &'a [f32],
    pub(super) neg_lr: Option<f32>,
}

impl pulp::WithSimd for SparseUpdate<'_> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        let SparseUpdate {
            wt,
            o,
            csc,
            px,
            dz,
            neg_lr,
        } = self;
        sparse_update_kernel(wt, o, csc, px, dz, neg_lr);
    }
}

#[inline(always)]
pub(super) fn sparse_update_kernel(
    wt: &mut [f32],
    o: usize,
    csc: &Compressed,
    px: Range<usize>,
    dz: &[f32],
    neg_lr: Option<f32>,
) {
    for (p, wrow) in px.zip(wt.chunks_exact_mut(o)) {
        let nz = csc.ptr[p]..csc.ptr[p + 1];
        if nz.is_empty() {
            if neg_lr.is_none() {
                wrow.fill(0.0);
            }
            continue;
        }
        let (idx, val) = (&csc.idx[nz.clone()], &csc.val[nz]);
        let mut c0 = 0;
        while c0 < o {
            let w = (o - c0).min(CH);
            let acc = accumulate_block(idx, val, dz, o, c0, w);
            match neg_lr {
                Some(neg_lr) => {
                    for (v, a) in wrow[c0..c0 + w].iter_mut().zip(&acc) {
                        *v += neg_lr * a;
                    }
                }
                None => wrow[c0..c0 + w].copy_from_slice(&acc[..w]),
            }
            c0 += w;
        }
    }
}

/// Column-compressed copy (rows ascending within a column) of a row-compressed matrix with
/// `d` columns.
pub(super) fn compress_columns(csr: &Compressed, d: usize, out: &mut Compressed) {
    let nnz = csr.idx.len();
    out.ptr.clear();
    out.ptr.resize(d + 1, 0);
    for &p in &csr.idx {
        out.ptr[p as usize + 1] += 1;
    }
    for p in 0..d {
        out.ptr[p + 1] += out.ptr[p];
    }
    out.idx.resize(nnz, 0);
    out.val.resize(nnz, 0.0);
    let mut next = out.ptr[..d].to_vec();
    for r in 0..csr.ptr.len() - 1 {
        for k in csr.ptr[r]..csr.ptr[r + 1] {
            let p = csr.idx[k] as usize;
            out.idx[next[p]] = r as u32;
            out.val[next[p]] = csr.val[k];
            next[p] += 1;
        }
    }
}
