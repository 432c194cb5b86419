//! [`Ranks`] over MPI (cargo feature `mpi`): the `mpi` crate (rsmpi) on the system's
//! MPI library (OpenMPI from Debian: `apt-get install openmpi-bin libopenmpi-dev
//! libclang-dev`).
//!
//! [`MpiRanks::init`] initialises MPI once per process (`MPI_Init_thread`, funneled: only
//! the main thread calls MPI; worker threads only compute) and finalises it on drop.
//! Started without `mpirun` the process is a singleton world of one rank.

use super::Ranks;
use ::mpi::datatype::PartitionMut;
use ::mpi::environment::Universe;
use ::mpi::topology::SimpleCommunicator;
use ::mpi::traits::*;
use ::mpi::{Count, Threading};

/// MPI's world communicator; MPI is finalised when this is dropped.
pub struct MpiRanks {
    world: SimpleCommunicator,
    // declared last: dropped (MPI_Finalize) after the communicator
    _universe: Universe,
}

impl MpiRanks {
    /// Initialises MPI; `None` if it was initialised before in this process or the
    /// library refused.
    pub fn init() -> Option<Self> {
        let (universe, _) = ::mpi::initialize_with_threading(Threading::Funneled)?;
        let world = universe.world();
        Some(Self {
            world,
            _universe: universe,
        })
    }

    /// True when this process was started by an MPI launcher (`mpirun`, `mpiexec`,
    /// `srun` with PMI/PMIx) with more than one rank, judged from the launcher's
    /// environment (OpenMPI, MPICH/Hydra, Slurm).
    pub fn launched() -> bool {
        [
            "OMPI_COMM_WORLD_SIZE",
            "PMI_SIZE",
            "PMIX_RANK",
            "MPI_LOCALNRANKS",
        ]
        .iter()
        .any(|k| std::env::var_os(k).is_some())
    }

    /// Ranks on this node (`OMPI_COMM_WORLD_LOCAL_SIZE`, `MPI_LOCALNRANKS`,
    /// `SLURM_NTASKS_PER_NODE`), if the launcher says.
    pub fn local_size() -> Option<usize> {
        [
            "OMPI_COMM_WORLD_LOCAL_SIZE",
            "MPI_LOCALNRANKS",
            "SLURM_NTASKS_PER_NODE",
        ]
        .iter()
        .find_map(|k| std::env::var(k).ok()?.trim().parse().ok())
    }
}

impl Ranks for MpiRanks {
    fn rank(&self) -> usize {
        self.world.rank() as usize
    }

    fn size(&self) -> usize {
        self.world.size() as usize
    }

    fn gather(&self, bytes: &[u8]) -> Vec<Vec<u8>> {
        let root = self.world.process_at_rank(0);
        // one leading byte: an empty message would pass a dangling pointer, which
        // OpenMPI's MPI_Gatherv rejects (MPI_ERR_ARG)
        let mut framed = Vec::with_capacity(bytes.len() + 1);
        framed.push(1u8);
        framed.extend_from_slice(bytes);
        let bytes = &framed[..];
        // MPI counts are C ints: a rank's piece must stay below 2 GiB (the reductions
        // of a sparse-grid solve are kilobytes to megabytes)
        let n = Count::try_from(bytes.len()).expect("a rank's message is below 2 GiB");
        if self.world.rank() != 0 {
            root.gather_into(&n);
            root.gather_varcount_into(bytes);
            return Vec::new();
        }
        let mut counts = vec![0 as Count; self.size()];
        root.gather_into_root(&n, &mut counts[..]);
        let displs: Vec<Count> = counts
            .iter()
            .scan(0 as Count, |acc, &c| {
                let d = *acc;
                *acc = acc
                    .checked_add(c)
                    .expect("gathered messages below 2 GiB in all");
                Some(d)
            })
            .collect();
        let total: usize = counts.iter().map(|&c| c as usize).sum();
        let mut buf = vec![0u8; total];
        {
            let mut partition = PartitionMut::new(&mut buf[..], &counts[..], &displs[..]);
            root.gather_varcount_into_root(bytes, &mut partition);
        }
        counts
            .iter()
            .zip(&displs)
            .map(|(&c, &d)| buf[(d as usize + 1).min((d + c) as usize)..(d + c) as usize].to_vec())
            .collect()
    }
}
