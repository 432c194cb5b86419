//! Stateless minibatch order: the indices of step `t` depend only on `(seed, stream, t)`, so a
//! resumed run draws exactly the minibatches an uninterrupted run would.
//!
//! Each epoch is a fresh permutation of `0..n` (or `0..n` in order without shuffling), cut into
//! `ceil(n / B)` batches; the last one holds the remainder (PyTorch `DataLoader` with
//! `drop_last=False`).

use crate::rng::Rng;

/// Minibatch index generator for one stream (one training run or one SGLD chain).
#[derive(Clone, Debug)]
pub struct Batcher {
    n: usize,
    batch: usize,
    shuffle: bool,
    seed: u64,
    stream: Vec<u64>,
    epoch: Option<u64>,
    perm: Vec<usize>,
}

impl Batcher {
    /// `n` examples, batch size `batch` (clamped to `1..=n`), a seeded stream.
    pub fn new(n: usize, batch: usize, shuffle: bool, seed: u64, stream: &[u64]) -> Batcher {
        Batcher {
            n,
            batch: batch.clamp(1, n.max(1)),
            shuffle,
            seed,
            stream: stream.to_vec(),
            epoch: None,
            perm: vec![],
        }
    }

    /// Batches per epoch.
    pub fn per_epoch(&self) -> u64 {
        self.n.div_ceil(self.batch) as u64
    }

    /// The example indices of step `t` (0-based).
    pub fn indices(&mut self, t: u64) -> &[usize] {
        let e = t / self.per_epoch();
        let k = (t % self.per_epoch()) as usize;
        if self.epoch != Some(e) {
            self.perm = if self.shuffle {
                let mut s = self.stream.clone();
                s.push(e);
                Rng::new(self.seed, &s).permutation(self.n)
            } else {
                (0..self.n).collect()
            };
            self.epoch = Some(e);
        }
        let lo = k * self.batch;
        &self.perm[lo..(lo + self.batch).min(self.n)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_cover_everything_once() {
        let mut b = Batcher::new(10, 4, true, 5, &[1]);
        assert_eq!(b.per_epoch(), 3);
        let mut seen: Vec<usize> = (0..3).flat_map(|t| b.indices(t).to_vec()).collect();
        assert_eq!(b.indices(2).len(), 2);
        seen.sort();
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
        let e0 = b.indices(0).to_vec();
        let e1 = b.indices(3).to_vec();
        assert_ne!(e0, e1);
        let mut c = Batcher::new(10, 4, true, 5, &[1]);
        assert_eq!(c.indices(3), e1.as_slice());
        let mut d = Batcher::new(10, 4, false, 5, &[1]);
        assert_eq!(d.indices(4), &[4, 5, 6, 7]);
    }
}
