//! # ffpe-validation: does SGD subdiffuse on a fractal?
//!
//! MNIST networks trained with candle, weight trajectories, local learning coefficient (LLC)
//! estimation by SGLD, analysis, and comparison with `ffpe` predictions.
//!
//! Workflow: [`data::load`] the digits (the bundled 10,000-image MNIST subset, or any IDX
//! directory) -> [`train::run`] a network ([`model::Network`], SGD or Adam) with checkpoints on
//! a geometric schedule, `R(t)`, losses and LLC traces written to a run directory (resumable)
//! -> [`llc::estimate`] the LLC of any checkpoint. [`ensemble::run_ensemble`] trains many runs
//! (seeds, learning rates) side by side, each exactly as `train::run` would.
//!
//! Modules: [`data`] (IDX reader, split), [`model`] (MLP, PyTorch names and init),
//! [`checkpoint`] (safetensors, atomic writes), [`batches`] (stateless minibatch order),
//! [`train`] (optimizers, schedule, runs), [`ensemble`] (many runs at once), [`mlp_cpu`] (the CPU
//! SGD and Adam fast path), [`llc`] (SGLD), [`device`] (CPU/CUDA selection), [`rng`] (stable
//! seeded generator), [`error`], [`shard`] (sweeps split into shards or MPI ranks, and merged
//! into one report), [`moons`] (the Moons posterior test: SGD versus the tempered posterior).

pub mod analysis;
pub mod batches;
pub mod checkpoint;
pub mod curvature;
pub mod data;
pub mod device;
pub mod ensemble;
pub mod error;
pub mod grad;
pub mod llc;
pub mod mlp_cpu;
pub mod model;
pub mod moons;
pub mod report;
pub mod reproduce;
pub mod rng;
pub mod shard;
pub mod train;

pub use error::{Error, Result};
