//! Dense linear algebra for small systems: faer's partial-pivoting LU in a workspace
//! that is allocated once ([`DenseLu::new`]) and reused for every solve (Newton
//! iterations, small least-squares normal equations).

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::lu::partial_pivoting::{factor, solve};
use faer::{Conj, Mat, MatMut, Par};

/// A reusable workspace for `A x = b` with a dense `n x n` matrix `A`: faer's LU with
/// partial pivoting (`P A = L U`), factorised in place, then the two triangular solves.
pub struct DenseLu {
    lu: Mat<f64>,
    perm: Vec<usize>,
    perm_inv: Vec<usize>,
    scratch: MemBuffer,
}

impl std::fmt::Debug for DenseLu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DenseLu").field("dim", &self.dim()).finish()
    }
}

impl DenseLu {
    /// A workspace for systems of size `n`.
    pub fn new(n: usize) -> Self {
        let req = factor::lu_in_place_scratch::<usize, f64>(n, n, Par::Seq, Default::default())
            .or(solve::solve_in_place_scratch::<usize, f64>(n, 1, Par::Seq));
        Self {
            lu: Mat::zeros(n, n),
            perm: vec![0; n],
            perm_inv: vec![0; n],
            scratch: MemBuffer::new(req),
        }
    }

    /// The size `n` of the systems this workspace solves.
    pub fn dim(&self) -> usize {
        self.lu.nrows()
    }

    /// Solves `A x = b` for `a` (row-major, `n x n`); `b` becomes `x`. Returns `false`,
    /// with `b` unchanged, when a pivot `|u_kk|` of the factorisation is NaN, infinite or
    /// `<= min_pivot` (singular to that threshold).
    ///
    /// ```
    /// use ffpe_solvers::linalg::DenseLu;
    /// let mut lu = DenseLu::new(2);
    /// let mut b = [3.0, 5.0];
    /// assert!(lu.solve(&[0.0, 1.0, 2.0, 1.0], &mut b, 0.0)); // pivots: rows swapped
    /// assert!((b[0] - 1.0).abs() < 1e-15 && (b[1] - 3.0).abs() < 1e-15);
    /// assert!(!lu.solve(&[1.0, 2.0, 2.0, 4.0], &mut b, 0.0));
    /// ```
    pub fn solve(&mut self, a: &[f64], b: &mut [f64], min_pivot: f64) -> bool {
        let n = self.dim();
        assert!(
            a.len() == n * n && b.len() == n,
            "DenseLu::solve: a is n x n, b has n entries"
        );
        for i in 0..n {
            for j in 0..n {
                self.lu[(i, j)] = a[i * n + j];
            }
        }
        let stack = MemStack::new(&mut self.scratch);
        let (_, perm) = factor::lu_in_place(
            self.lu.as_mut(),
            &mut self.perm,
            &mut self.perm_inv,
            Par::Seq,
            stack,
            Default::default(),
        );
        let singular = (0..n).any(|k| {
            let p = self.lu[(k, k)].abs();
            !(p.is_finite() && p > min_pivot)
        });
        if singular {
            return false;
        }
        let lu = self.lu.as_ref();
        solve::solve_in_place_with_conj(
            lu,
            lu,
            perm,
            Conj::No,
            MatMut::from_column_major_slice_mut(b, n, 1),
            Par::Seq,
            stack,
        );
        true
    }
}
