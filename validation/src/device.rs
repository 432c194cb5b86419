//! Device selection: `cpu` (default) or `cuda[:N]` (needs the `cuda` cargo feature).
//!
//! On the CPU, candle's matrix products use `RAYON_NUM_THREADS` threads (all cores when unset);
//! the `ffpe-validate` binary sets it from `--threads` before any work starts.
//!
//! ```
//! use ffpe_validation::device::DeviceKind;
//! let d: DeviceKind = "cpu".parse().unwrap();
//! assert!(d.device().unwrap().is_cpu());
//! ```

use crate::error::{Error, Result};
use candle_core::Device;

/// Which device to compute on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum DeviceKind {
    /// The CPU.
    #[default]
    Cpu,
    /// CUDA GPU with this ordinal.
    Cuda(usize),
}

impl std::str::FromStr for DeviceKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<DeviceKind> {
        match s {
            "cpu" => Ok(DeviceKind::Cpu),
            "cuda" => Ok(DeviceKind::Cuda(0)),
            _ => match s.strip_prefix("cuda:").map(|n| n.parse::<usize>()) {
                Some(Ok(n)) => Ok(DeviceKind::Cuda(n)),
                _ => Err(Error::config("device", s, "`cpu`, `cuda` or `cuda:N`")),
            },
        }
    }
}

impl std::fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeviceKind::Cpu => write!(f, "cpu"),
            DeviceKind::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

impl DeviceKind {
    /// The candle device; a clear error for CUDA in a build without the `cuda` feature.
    pub fn device(&self) -> Result<Device> {
        match self {
            DeviceKind::Cpu => Ok(Device::Cpu),
            #[cfg(feature = "cuda")]
            DeviceKind::Cuda(n) => Device::new_cuda(*n).map_err(|e| Error::Device {
                device: self.to_string(),
                what: format!("cannot open the GPU: {e}"),
            }),
            #[cfg(not(feature = "cuda"))]
            DeviceKind::Cuda(_) => Err(Error::Device {
                device: self.to_string(),
                what: "this build has no CUDA support; rebuild with \
                       `cargo build --release -p ffpe-validation --features cuda` (see README)"
                    .into(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_errors() {
        assert_eq!("cuda:1".parse::<DeviceKind>().unwrap(), DeviceKind::Cuda(1));
        assert!(
            "tpu"
                .parse::<DeviceKind>()
                .unwrap_err()
                .to_string()
                .contains("device")
        );
        #[cfg(not(feature = "cuda"))]
        assert!(
            DeviceKind::Cuda(0)
                .device()
                .unwrap_err()
                .to_string()
                .contains("--features cuda")
        );
    }
}
