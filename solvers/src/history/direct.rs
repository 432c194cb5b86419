//! The direct `O(n)` history sum: the oracle for the fast evaluators.

use super::{HistoryEvaluator, HistoryStats, check_common};
use crate::caputo::{TimeMesh, gamma, power_difference};
use crate::error::Result;

/// Direct L1 history: stores every scaled increment `(u^k - u^{k-1}) / tau_k` and sums
/// `a_{n,k}` times them, `O(n dim)` per step. Weights use the cancellation-free form;
/// distances `t_n - t_k` are accumulated from the stored step sizes.
#[derive(Clone, Debug)]
pub struct Direct {
    steps: Vec<f64>,
    p: f64,
    inv_gamma: f64,
    dim: usize,
    /// Scaled increments, row k-1 holds (u^k - u^{k-1}) / tau_k.
    slopes: Vec<f64>,
    pushed: usize,
    terms: u64,
    /// Uniform meshes: `uniform_weights[j] = a_{n,n-j} / Gamma(2-a)` for `j >= 1`.
    uniform_weights: Option<Vec<f64>>,
}

impl Direct {
    /// Direct evaluator for `dim` components; `0 < alpha <= 1`.
    ///
    /// ```
    /// use ffpe_solvers::caputo::TimeMesh;
    /// use ffpe_solvers::history::{Direct, HistoryEvaluator};
    /// let mesh = TimeMesh::uniform(1.0, 4)?;
    /// let mut d = Direct::new(&mesh, 0.5, 1)?;
    /// d.push_increment(1, &[0.25]);
    /// let mut h = [0.0];
    /// d.history_into(2, &mut h);
    /// // h_2 = a_{2,1} (0.25 / tau) / Gamma(1.5), a_{2,1} = sqrt(0.5) - sqrt(0.25)
    /// let expect = (0.5f64.sqrt() - 0.5) * 1.0 / 0.886226925452758;
    /// assert!((h[0] - expect).abs() < 1e-14);
    /// # Ok::<(), ffpe_solvers::SolverError>(())
    /// ```
    pub fn new(mesh: &TimeMesh, alpha: f64, dim: usize) -> Result<Self> {
        check_common(alpha, dim)?;
        Ok(Self {
            steps: mesh.step_sizes().to_vec(),
            p: 1.0 - alpha,
            inv_gamma: 1.0 / gamma(2.0 - alpha),
            dim,
            slopes: Vec::with_capacity(dim * mesh.steps().min(1 << 16)),
            pushed: 0,
            terms: 0,
            uniform_weights: None,
        }
        .with_uniform_table(mesh))
    }
}

impl Direct {
    fn with_uniform_table(mut self, mesh: &TimeMesh) -> Self {
        if mesh.is_uniform() && self.p > 0.0 {
            let tau = mesh.step_sizes()[0];
            let w = (0..mesh.steps())
                .map(|j| {
                    if j == 0 {
                        0.0
                    } else {
                        power_difference(j as f64 * tau, tau, self.p) * self.inv_gamma
                    }
                })
                .collect();
            self.uniform_weights = Some(w);
        }
        self
    }
}

impl HistoryEvaluator for Direct {
    fn history_into(&mut self, n: usize, out: &mut [f64]) {
        assert_eq!(out.len(), self.dim, "history_into: out has wrong length");
        out.fill(0.0);
        if n <= 1 || self.p <= 0.0 {
            return;
        }
        assert!(
            self.pushed + 1 >= n,
            "history_into: increments of steps 1..n-1 must be pushed first"
        );
        let last = n - 1;
        let dim = self.dim;
        if let Some(table) = &self.uniform_weights {
            for k in 1..=last {
                let w = table[n - k];
                let row = &self.slopes[(k - 1) * dim..k * dim];
                for (o, s) in out.iter_mut().zip(row) {
                    *o += w * s;
                }
            }
        } else {
            // d = t_n - t_k accumulated from stored steps (k from n-1 down).
            let mut d = 0.0;
            for k in (1..=last).rev() {
                d += self.steps[k]; // tau_{k+1}
                let w = power_difference(d, self.steps[k - 1], self.p) * self.inv_gamma;
                let row = &self.slopes[(k - 1) * dim..k * dim];
                for (o, s) in out.iter_mut().zip(row) {
                    *o += w * s;
                }
            }
        }
        self.terms += last as u64;
    }

    fn push_increment(&mut self, n: usize, delta: &[f64]) {
        super::check_push(self.dim, self.pushed, n, delta);
        let tau = self.steps[n - 1];
        self.slopes.extend(delta.iter().map(|x| x / tau));
        self.pushed = n;
    }

    fn stats(&self) -> HistoryStats {
        HistoryStats {
            terms: self.terms,
            exponentials: 0,
            bytes: self.slopes.capacity() * 8 + self.steps.len() * 8,
        }
    }
}
