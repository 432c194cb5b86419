//! # Spreading independent work over processes (MPI or shards)
//!
//! Two kinds of work in this project are embarrassingly parallel beyond one machine:
//! the component grids of a sparse-grid solve ([`crate::sparse_grid`]) and the training
//! runs of a sweep (`ffpe-validate reproduce`). Both are split the same way:
//!
//! 1. Every unit of work gets a **predicted cost** (a sparse-grid component: unknowns x
//!    time steps; a training run: parameters x steps).
//! 2. [`balanced_assignment`] assigns the units to `P` parts (ranks or shards) by the
//!    greedy *longest processing time first* rule: units by decreasing cost (ties: lower
//!    index first), each to the part with the smallest load so far (ties: lower part).
//!    The rule is deterministic, so every process computes the same assignment without
//!    talking to the others, and its makespan is at most `4/3 - 1/(3P)` times the optimum
//!    (Graham 1969).
//! 3. The parts run independently and send what they produced to rank 0 through
//!    [`Ranks::gather`], the only collective operation used. Rank 0 combines the pieces
//!    **in unit order**, so the result is bit for bit that of one process.
//!
//! [`Ranks`] is the small capability trait behind this: [`SingleProcess`] (one process,
//! the default), [`run_local`] (ranks simulated by threads in one process, for tests of
//! the distributed code paths without MPI) and, with the cargo feature `mpi`,
//! `mpi::MpiRanks` (MPI through the `mpi` crate, rsmpi, over the system's OpenMPI or
//! MPICH: `mpirun -np N ffpe solve problem.toml`).
//!
//! [`wire`] holds the little-endian byte encoding of the gathered pieces (f64 as their
//! bit patterns, so nothing is rounded on the way).

#[cfg(feature = "mpi")]
pub mod mpi;
pub mod wire;

use std::sync::{Barrier, Mutex};

/// "Who am I, how many are we, send my bytes to rank 0": the collective operations the
/// distributed code paths need.
pub trait Ranks {
    /// This process's rank, `0..size()`.
    fn rank(&self) -> usize;
    /// Number of ranks.
    fn size(&self) -> usize;
    /// Collective: every rank calls it once with its bytes; rank 0 gets every rank's
    /// bytes in rank order (its own first), the other ranks get an empty vector.
    /// It is also a barrier: rank 0 returns only after every rank has called it.
    fn gather(&self, bytes: &[u8]) -> Vec<Vec<u8>>;
    /// True on rank 0, the rank that combines, prints and writes.
    fn is_root(&self) -> bool {
        self.rank() == 0
    }
}

/// One process: rank 0 of 1.
#[derive(Clone, Copy, Debug, Default)]
pub struct SingleProcess;

impl Ranks for SingleProcess {
    fn rank(&self) -> usize {
        0
    }
    fn size(&self) -> usize {
        1
    }
    fn gather(&self, bytes: &[u8]) -> Vec<Vec<u8>> {
        vec![bytes.to_vec()]
    }
}

/// Shared state of ranks simulated by threads.
struct LocalShared {
    slots: Mutex<Vec<Option<Vec<u8>>>>,
    barrier: Barrier,
}

/// One of the ranks of [`run_local`]: a thread of this process.
pub struct LocalRank<'a> {
    rank: usize,
    size: usize,
    shared: &'a LocalShared,
}

impl Ranks for LocalRank<'_> {
    fn rank(&self) -> usize {
        self.rank
    }
    fn size(&self) -> usize {
        self.size
    }
    fn gather(&self, bytes: &[u8]) -> Vec<Vec<u8>> {
        if let Ok(mut slots) = self.shared.slots.lock() {
            slots[self.rank] = Some(bytes.to_vec());
        }
        // every rank has written its slot
        self.shared.barrier.wait();
        let out = if self.rank == 0 {
            let mut slots = self.shared.slots.lock().unwrap_or_else(|e| e.into_inner());
            slots
                .iter_mut()
                .map(|s| s.take().unwrap_or_default())
                .collect()
        } else {
            Vec::new()
        };
        // rank 0 has taken the slots: they may be written again by the next gather
        self.shared.barrier.wait();
        out
    }
}

/// Runs `f` on `size` ranks simulated by threads of this process (each gets its
/// [`LocalRank`]) and returns the results in rank order: the distributed code paths,
/// tested without MPI.
///
/// ```
/// use ffpe::distributed::{Ranks, run_local};
/// let out = run_local(3, |r| r.gather(&[r.rank() as u8]));
/// assert_eq!(out[0], vec![vec![0u8], vec![1], vec![2]]);
/// assert!(out[1].is_empty() && out[2].is_empty());
/// ```
pub fn run_local<R: Send>(size: usize, f: impl Fn(&LocalRank<'_>) -> R + Sync) -> Vec<R> {
    let size = size.max(1);
    let shared = LocalShared {
        slots: Mutex::new(vec![None; size]),
        barrier: Barrier::new(size),
    };
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..size)
            .map(|rank| {
                let (f, shared) = (&f, &shared);
                s.spawn(move || f(&LocalRank { rank, size, shared }))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// Which part (rank or shard) runs which unit of work, and the predicted load of each part.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Assignment {
    /// `owner[i]`: the part that runs unit `i`.
    pub owner: Vec<usize>,
    /// Predicted load (sum of the costs of its units) of each part.
    pub loads: Vec<u128>,
}

impl Assignment {
    /// Number of parts.
    pub fn parts(&self) -> usize {
        self.loads.len()
    }

    /// The units of `part`, in unit order.
    pub fn units_of(&self, part: usize) -> Vec<usize> {
        (0..self.owner.len())
            .filter(|&i| self.owner[i] == part)
            .collect()
    }

    /// Load balance: mean load / largest load (1 is perfect; 0 when nothing to do).
    pub fn balance(&self) -> f64 {
        let max = self.loads.iter().copied().max().unwrap_or(0);
        if max == 0 {
            return if self.loads.iter().all(|&l| l == 0) {
                1.0
            } else {
                0.0
            };
        }
        let total: u128 = self.loads.iter().sum();
        total as f64 / (self.loads.len() as f64 * max as f64)
    }

    /// Largest predicted load of any part (the predicted makespan).
    pub fn max_load(&self) -> u128 {
        self.loads.iter().copied().max().unwrap_or(0)
    }
}

/// The deterministic cost-balanced assignment of units with `costs` to `parts` parts:
/// longest processing time first (see the module notes). `parts = 0` is treated as 1.
///
/// ```
/// use ffpe::distributed::balanced_assignment;
/// let a = balanced_assignment(&[5, 4, 3, 3, 3], 2);
/// // 5 -> part 0, 4 -> part 1, 3 -> part 1 (load 4 < 5), 3 -> part 0, 3 -> part 1
/// assert_eq!(a.owner, vec![0, 1, 1, 0, 1]);
/// assert_eq!(a.loads, vec![8, 10]);
/// ```
pub fn balanced_assignment(costs: &[u128], parts: usize) -> Assignment {
    let parts = parts.max(1);
    let mut order: Vec<usize> = (0..costs.len()).collect();
    // stable sort: equal costs keep the unit order
    order.sort_by_key(|&i| std::cmp::Reverse(costs[i]));
    let mut loads = vec![0u128; parts];
    let mut owner = vec![0usize; costs.len()];
    for i in order {
        let (part, _) = loads
            .iter()
            .enumerate()
            .min_by_key(|&(p, &l)| (l, p))
            .expect("at least one part");
        owner[i] = part;
        loads[part] += costs[i];
    }
    Assignment { owner, loads }
}

/// A part `index` of `count` (`--shard i/n`, `0 <= i < n`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Shard {
    /// This shard, `0..count`.
    pub index: usize,
    /// Number of shards.
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = String;
    /// Parses `i/n` with `0 <= i < n`, e.g. `0/4` (a Slurm job array passes
    /// `$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT`).
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("invalid shard {s:?}: expected i/n with integers 0 <= i < n");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: usize = i.trim().parse().map_err(|_| bad())?;
        let count: usize = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Self { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignment_is_deterministic_and_complete() {
        let costs: Vec<u128> = (0..50).map(|i| ((i * 7919) % 97 + 1) as u128).collect();
        for parts in 1..=9 {
            let a = balanced_assignment(&costs, parts);
            assert_eq!(a, balanced_assignment(&costs, parts));
            assert_eq!(a.loads.iter().sum::<u128>(), costs.iter().sum::<u128>());
            let mut seen: Vec<usize> = (0..parts).flat_map(|p| a.units_of(p)).collect();
            seen.sort_unstable();
            assert_eq!(seen, (0..50).collect::<Vec<_>>());
            // Graham's bound for LPT against the lower bound max(mean, largest unit)
            let total: u128 = costs.iter().sum();
            let lower = (total as f64 / parts as f64).max(*costs.iter().max().unwrap() as f64);
            let bound = 4.0 / 3.0 - 1.0 / (3.0 * parts as f64);
            assert!(a.max_load() as f64 <= bound * lower + 1e-9, "parts {parts}");
        }
    }

    #[test]
    fn more_parts_than_units_leaves_parts_idle() {
        let a = balanced_assignment(&[3, 1], 4);
        assert_eq!(a.owner, vec![0, 1]);
        assert_eq!(a.loads, vec![3, 1, 0, 0]);
        assert!((a.balance() - 4.0 / 12.0).abs() < 1e-15);
        assert!((balanced_assignment(&[], 3).balance() - 1.0).abs() < 1e-15);
    }

    #[test]
    fn shards_parse_and_reject_bad_input() {
        assert_eq!("2/5".parse::<Shard>(), Ok(Shard { index: 2, count: 5 }));
        for bad in ["5/5", "1/0", "a/2", "3", "-1/2", ""] {
            let e = bad.parse::<Shard>().unwrap_err();
            assert!(e.contains("0 <= i < n"), "{e}");
        }
        assert_eq!(Shard { index: 0, count: 3 }.to_string(), "0/3");
    }

    #[test]
    fn local_ranks_gather_in_rank_order_repeatedly() {
        let out = run_local(4, |r| {
            let a = r.gather(&[r.rank() as u8; 2]);
            let b = r.gather(&vec![7u8; r.rank()]);
            (a, b)
        });
        assert_eq!(out[0].0, (0..4u8).map(|k| vec![k; 2]).collect::<Vec<_>>());
        assert_eq!(
            out[0].1,
            (0..4).map(|k| vec![7u8; k]).collect::<Vec<Vec<u8>>>()
        );
        assert!(out[1..].iter().all(|(a, b)| a.is_empty() && b.is_empty()));
        assert_eq!(SingleProcess.gather(&[1, 2]), vec![vec![1, 2]]);
    }
}
