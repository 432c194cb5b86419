//! Files: the one atomic write ([`atomic::write_atomic`], fsync'd), a JSON cache keyed by
//! configuration ([`atomic::JsonCache`]) and safetensors checkpoints ([`checkpoint`]).

pub mod atomic;
pub mod checkpoint;

pub use atomic::{JsonCache, remove_stale_temporaries, write_atomic};
