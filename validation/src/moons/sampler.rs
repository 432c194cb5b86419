//! The weight samples: full-batch pretraining, SGD runs, Langevin (MALA) chains, and the
//! probe-logit summaries of a sample.

#[allow(unused_imports)]
use super::*;

/// Probe logits of the weights `w`.
pub(super) fn probe_logits(mlp: &Mlp, w: &[f64], work: &mut Work) -> Vec<f64> {
    PROBES.iter().map(|&p| mlp.logit(w, p, work)).collect()
}

/// A weight sample: probe logits and data losses, per cluster.
pub(super) struct WeightSample {
    pub(super) logits: Vec<Vec<Vec<f64>>>,
    pub(super) loss_mean: f64,
    pub(super) acceptance: f64,
}

/// The two 1-D summaries of a weight sample.
pub(super) struct Summaries {
    pub(super) principal: Clustered,
    pub(super) mean_probability: Clustered,
}

/// The principal axis of the SGD probe logits: origin and direction.
pub(super) struct Axis {
    pub(super) mean: Vec<f64>,
    pub(super) dir: Vec<f64>,
    pub(super) explained: f64,
}

impl Axis {
    pub(super) fn of(sample: &WeightSample) -> Axis {
        let all: Vec<&Vec<f64>> = sample.logits.iter().flatten().collect();
        let p = PROBES.len();
        let m = all.len() as f64;
        let mut mean = vec![0.0; p];
        for v in &all {
            for (a, b) in mean.iter_mut().zip(v.iter()) {
                *a += b / m;
            }
        }
        let mut cov = vec![0.0; p * p];
        for v in &all {
            for i in 0..p {
                for j in 0..p {
                    cov[i * p + j] += (v[i] - mean[i]) * (v[j] - mean[j]) / (m - 1.0);
                }
            }
        }
        let (vals, vecs) = symmetric_eigen(&cov, p);
        let total: f64 = vals.iter().sum();
        let mut dir = vecs[0].clone();
        // a fixed sign: the largest component positive
        let big = dir
            .iter()
            .copied()
            .max_by(|a, b| a.abs().total_cmp(&b.abs()))
            .unwrap_or(1.0);
        if big < 0.0 {
            dir.iter_mut().for_each(|v| *v = -*v);
        }
        Axis {
            mean,
            dir,
            explained: if total > 0.0 { vals[0] / total } else { 0.0 },
        }
    }

    pub(super) fn summaries(&self, sample: &WeightSample) -> Summaries {
        let proj = |v: &Vec<f64>| {
            v.iter()
                .zip(&self.mean)
                .zip(&self.dir)
                .map(|((x, m), d)| (x - m) * d)
                .sum::<f64>()
        };
        let prob =
            |v: &Vec<f64>| v.iter().map(|z| 1.0 / (1.0 + (-z).exp())).sum::<f64>() / v.len() as f64;
        Summaries {
            principal: Clustered {
                clusters: sample
                    .logits
                    .iter()
                    .map(|c| c.iter().map(proj).collect())
                    .collect(),
            },
            mean_probability: Clustered {
                clusters: sample
                    .logits
                    .iter()
                    .map(|c| c.iter().map(prob).collect())
                    .collect(),
            },
        }
    }
}

pub(super) fn mean_sd(v: &[f64]) -> [f64; 2] {
    [
        crate::analysis::stats::mean(v),
        crate::analysis::stats::std_dev(v),
    ]
}

/// The data of a study.
pub(super) struct Problem {
    pub(super) mlp: Mlp,
    pub(super) x: Vec<[f64; 2]>,
    pub(super) y: Vec<u8>,
    pub(super) all: Vec<usize>,
    pub(super) wd: f64,
}

impl Problem {
    /// Full-batch gradient descent from the seeded initialisation.
    pub(super) fn pretrain(&self, cfg: &MoonsConfig) -> Vec<f64> {
        let mut w = self.mlp.init(cfg.init_seed);
        let mut g = vec![0.0; w.len()];
        let mut work = self.mlp.work();
        for _ in 0..cfg.pretrain_steps {
            self.mlp
                .loss_grad(&w, &self.x, &self.y, &self.all, self.wd, &mut work, &mut g);
            sgd_update(&mut w, &g, &mut [], &SgdStep::plain(cfg.lr));
        }
        w
    }

    /// One SGD run from `start`: its late iterates (earliest first) and `|w_t - start|^2` at
    /// the steps `record`.
    pub(super) fn sgd_run(
        &self,
        start: &[f64],
        cfg: &MoonsConfig,
        run: usize,
        record: &[usize],
    ) -> (Vec<Vec<f64>>, Vec<f64>) {
        let mut rng = Rng::new(cfg.seed, &[STREAM_SGD, run as u64]);
        let mut w = start.to_vec();
        let mut g = vec![0.0; w.len()];
        let mut idx = vec![0usize; cfg.batch_size];
        let mut work = self.mlp.work();
        let mut out = Vec::with_capacity(cfg.late_iterates);
        let mut sq = Vec::with_capacity(record.len());
        let mut next = record.iter().peekable();
        let first = cfg.steps - (cfg.late_iterates - 1) * cfg.late_spacing;
        for step in 1..=cfg.steps {
            for i in &mut idx {
                *i = rng.below(self.x.len());
            }
            self.mlp
                .loss_grad(&w, &self.x, &self.y, &idx, self.wd, &mut work, &mut g);
            sgd_update(&mut w, &g, &mut [], &SgdStep::plain(cfg.lr));
            if step >= first && (step - first).is_multiple_of(cfg.late_spacing) {
                out.push(w.clone());
            }
            if next.peek() == Some(&&step) {
                next.next();
                sq.push(w.iter().zip(start).map(|(a, b)| (a - b) * (a - b)).sum());
            }
        }
        (out, sq)
    }

    /// Langevin chains (MALA when `cfg.metropolis`) targeting `exp(-nbeta L)` from `start`:
    /// the draws per chain and the acceptance rate after burn-in.
    pub(super) fn langevin(
        &self,
        start: &[f64],
        nbeta: f64,
        cfg: &MoonsConfig,
        set: u64,
    ) -> (Vec<Vec<Vec<f64>>>, f64) {
        let eps = cfg.langevin_lr;
        let sd = (2.0 * eps / nbeta).sqrt();
        // w2 = w - eps g + sd z: SGLD without localization at unit inverse temperature
        let proposal = SgldStep {
            half_eps: eps,
            nbeta: 1.0,
            gamma: 0.0,
            noise_scale: sd,
        };
        let d = start.len();
        let mut work = self.mlp.work();
        let mut chains = Vec::with_capacity(cfg.chains);
        let (mut accepted, mut proposed) = (0u64, 0u64);
        for c in 0..cfg.chains {
            let mut rng = Rng::new(cfg.seed, &[STREAM_LANGEVIN, set, c as u64]);
            let mut w = start.to_vec();
            let mut g = vec![0.0; d];
            let mut l = self
                .mlp
                .loss_grad(&w, &self.x, &self.y, &self.all, self.wd, &mut work, &mut g);
            let mut w2 = vec![0.0; d];
            let mut g2 = vec![0.0; d];
            let mut draws = Vec::with_capacity(cfg.draws_per_chain);
            let total = cfg.burnin + cfg.draws_per_chain * cfg.thin;
            for step in 1..=total {
                sgld_update(&mut w2, &w, &g, None, &proposal, || rng.normal());
                let l2 = self.mlp.loss_grad(
                    &w2, &self.x, &self.y, &self.all, self.wd, &mut work, &mut g2,
                );
                let accept = if cfg.metropolis {
                    // log q(w | w2) - log q(w2 | w), q(b | a) ~ exp(-|b - a + eps g(a)|^2 / (2 sd^2))
                    let mut fwd = 0.0;
                    let mut rev = 0.0;
                    for k in 0..d {
                        let f = w2[k] - w[k] + eps * g[k];
                        let r = w[k] - w2[k] + eps * g2[k];
                        fwd += f * f;
                        rev += r * r;
                    }
                    let log_a = -nbeta * (l2 - l) + (fwd - rev) / (2.0 * sd * sd);
                    log_a >= 0.0 || rng.uniform() < log_a.exp()
                } else {
                    true
                };
                if step > cfg.burnin {
                    proposed += 1;
                    accepted += accept as u64;
                }
                if accept && l2.is_finite() {
                    std::mem::swap(&mut w, &mut w2);
                    std::mem::swap(&mut g, &mut g2);
                    l = l2;
                }
                if step > cfg.burnin && (step - cfg.burnin).is_multiple_of(cfg.thin) {
                    draws.push(w.clone());
                }
            }
            chains.push(draws);
        }
        (chains, accepted as f64 / proposed.max(1) as f64)
    }

    pub(super) fn sample_of(&self, weights: &[Vec<Vec<f64>>], acceptance: f64) -> WeightSample {
        let mut work = self.mlp.work();
        let mut loss = 0.0;
        let mut count = 0usize;
        let logits = weights
            .iter()
            .map(|c| {
                c.iter()
                    .map(|w| {
                        loss += self.mlp.data_loss(w, &self.x, &self.y, &mut work);
                        count += 1;
                        probe_logits(&self.mlp, w, &mut work)
                    })
                    .collect()
            })
            .collect();
        WeightSample {
            logits,
            loss_mean: loss / count.max(1) as f64,
            acceptance,
        }
    }
}
