//! FFT block-convolution history for uniform meshes.
//!
//! On a uniform mesh the history is a discrete convolution,
//! `h_n = tau^(-a)/Gamma(2-a) sum_{k=1}^{n-1} b_{n-k} delta_k`, `b_j = (j+1)^(1-a) - j^(1-a)`,
//! whose inputs `delta_k` arrive one per step. It is evaluated online by the classical
//! divide-and-conquer split of the lower-triangular Toeplitz matrix: when the increment
//! count `k` is `s * odd` (`s` a power of two), the block of the last `s` increments is
//! convolved with `b_1..b_{2s-1}` and added to the next `s` outputs. Blocks up to
//! [`DIRECT_BLOCK`] are done directly, larger ones with a cached `rustfft` plan of size `2s`
//! and a cached transform of the kernel segment. Total work `O(N log^2 N)` per component.

use std::collections::HashMap;
use std::sync::Arc;

use num_complex::Complex64;
use rustfft::{Fft as FftPlan, FftPlanner};

use super::{HistoryEvaluator, HistoryStats, check_common};
use crate::caputo::{TimeMesh, gamma, power_difference};
use crate::error::{Result, SolverError};

/// Blocks of at most this many increments are convolved directly.
pub const DIRECT_BLOCK: usize = 64;

struct Level {
    forward: Arc<dyn FftPlan<f64>>,
    inverse: Arc<dyn FftPlan<f64>>,
    kernel_hat: Vec<Complex64>,
}

/// FFT-based history evaluator (uniform meshes only).
pub struct Fft {
    n_steps: usize,
    dim: usize,
    scale: f64,
    /// `b_j`, `j = 0..=N` (`b_0` unused).
    b: Vec<f64>,
    /// Increments, row `i` holds `delta_{i+1}`.
    x: Vec<f64>,
    /// Accumulated convolution, row `m` holds `y_m` with `h_{m+1} = scale * y_m`.
    y: Vec<f64>,
    pushed: usize,
    levels: HashMap<usize, Level>,
    planner: FftPlanner<f64>,
    buf: Vec<Complex64>,
    scratch: Vec<Complex64>,
    terms: u64,
}

impl std::fmt::Debug for Fft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fft")
            .field("n_steps", &self.n_steps)
            .field("dim", &self.dim)
            .field("pushed", &self.pushed)
            .finish()
    }
}

impl Fft {
    /// FFT evaluator; the mesh must be uniform.
    ///
    /// ```
    /// use ffpe_solvers::caputo::TimeMesh;
    /// use ffpe_solvers::history::Fft;
    /// assert!(Fft::new(&TimeMesh::uniform(1.0, 100)?, 0.5, 2).is_ok());
    /// assert!(Fft::new(&TimeMesh::graded(1.0, 100, 2.0)?, 0.5, 2).is_err());
    /// # Ok::<(), ffpe_solvers::SolverError>(())
    /// ```
    pub fn new(mesh: &TimeMesh, alpha: f64, dim: usize) -> Result<Self> {
        check_common(alpha, dim)?;
        if !mesh.is_uniform() {
            return Err(SolverError::HistoryNotApplicable {
                kind: "Fft",
                reason: "the FFT convolution needs a uniform mesh; use Soe or Direct",
            });
        }
        let n = mesh.steps();
        let tau = mesh.step_sizes()[0];
        let p = 1.0 - alpha;
        let b = (0..=n)
            .map(|j| {
                if j == 0 || p <= 0.0 {
                    0.0
                } else {
                    power_difference(j as f64, 1.0, p)
                }
            })
            .collect();
        Ok(Self {
            n_steps: n,
            dim,
            scale: tau.powf(-alpha) / gamma(2.0 - alpha),
            b,
            x: Vec::with_capacity(n * dim),
            y: vec![0.0; n * dim],
            pushed: 0,
            levels: HashMap::new(),
            planner: FftPlanner::new(),
            buf: Vec::new(),
            scratch: Vec::new(),
            terms: 0,
        })
    }

    fn level(&mut self, s: usize) -> &Level {
        if !self.levels.contains_key(&s) {
            let m = 2 * s;
            let forward = self.planner.plan_fft_forward(m);
            let inverse = self.planner.plan_fft_inverse(m);
            let mut kernel_hat: Vec<Complex64> = (0..m)
                .map(|j| {
                    let v = if j >= 1 && j < self.b.len() {
                        self.b[j]
                    } else {
                        0.0
                    };
                    Complex64::new(v, 0.0)
                })
                .collect();
            forward.process(&mut kernel_hat);
            let inv_m = 1.0 / m as f64;
            for v in &mut kernel_hat {
                *v *= inv_m;
            }
            self.levels.insert(
                s,
                Level {
                    forward,
                    inverse,
                    kernel_hat,
                },
            );
        }
        &self.levels[&s]
    }

    /// Add block `x[start..start+s)` convolved with `b` to `y[start+s .. start+2s)`.
    fn contribute(&mut self, start: usize, s: usize) {
        let dim = self.dim;
        let out_lo = start + s;
        if out_lo >= self.n_steps {
            return;
        }
        let out_hi = (start + 2 * s).min(self.n_steps);
        if s <= DIRECT_BLOCK {
            for m in out_lo..out_hi {
                for i in start..start + s {
                    let w = self.b[m - i];
                    let (xr, yr) = (i * dim, m * dim);
                    for c in 0..dim {
                        self.y[yr + c] += w * self.x[xr + c];
                    }
                }
            }
            self.terms += (s * (out_hi - out_lo)) as u64;
            return;
        }
        let m = 2 * s;
        // take the level out of the map while it is used (no clone of the kernel transform)
        self.level(s);
        let lv = self.levels.remove(&s).expect("level just built");
        let (fwd, inv, khat) = (&lv.forward, &lv.inverse, &lv.kernel_hat);
        self.buf.resize(m, Complex64::new(0.0, 0.0));
        let scratch_len = fwd
            .get_inplace_scratch_len()
            .max(inv.get_inplace_scratch_len());
        self.scratch.resize(scratch_len, Complex64::new(0.0, 0.0));
        // Two components per complex transform (real parts and imaginary parts).
        let mut c = 0;
        while c < dim {
            let pair = c + 1 < dim;
            for (j, v) in self.buf.iter_mut().enumerate() {
                *v = if j < s {
                    let r = (start + j) * dim;
                    Complex64::new(self.x[r + c], if pair { self.x[r + c + 1] } else { 0.0 })
                } else {
                    Complex64::new(0.0, 0.0)
                };
            }
            fwd.process_with_scratch(&mut self.buf, &mut self.scratch);
            for (v, k) in self.buf.iter_mut().zip(khat) {
                *v *= k;
            }
            inv.process_with_scratch(&mut self.buf, &mut self.scratch);
            for mo in out_lo..out_hi {
                let v = self.buf[mo - start];
                self.y[mo * dim + c] += v.re;
                if pair {
                    self.y[mo * dim + c + 1] += v.im;
                }
            }
            c += 2;
        }
        self.levels.insert(s, lv);
        self.terms += (2 * m * (usize::BITS - m.leading_zeros()) as usize) as u64;
    }
}

impl HistoryEvaluator for Fft {
    fn history_into(&mut self, n: usize, out: &mut [f64]) {
        assert_eq!(out.len(), self.dim, "history_into: out has wrong length");
        if n <= 1 {
            out.fill(0.0);
            return;
        }
        assert!(
            self.pushed + 1 >= n,
            "Fft::history_into: increments of steps 1..n-1 must be pushed first"
        );
        let row = &self.y[(n - 1) * self.dim..n * self.dim];
        for (o, y) in out.iter_mut().zip(row) {
            *o = self.scale * y;
        }
    }

    fn push_increment(&mut self, n: usize, delta: &[f64]) {
        super::check_push(self.dim, self.pushed, n, delta);
        self.x.extend_from_slice(delta);
        self.pushed = n;
        // x index k = n - 1 is now known; block size s = lowbit(k + 1) = lowbit(n).
        let s = 1usize << n.trailing_zeros();
        self.contribute(n - s, s);
    }

    fn stats(&self) -> HistoryStats {
        let lv: usize = self.levels.values().map(|l| l.kernel_hat.len() * 16).sum();
        HistoryStats {
            terms: self.terms,
            exponentials: 0,
            bytes: (self.b.len() + self.x.capacity() + self.y.len()) * 8 + lv,
        }
    }
}
