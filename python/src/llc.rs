//! `ffpe.llc`: the SGLD estimate of the local learning coefficient of an MLP
//! ([`ffpe_validation::llc::estimate`]), from a safetensors file or a state_dict.

use crate::convert::{Progress, to_py, validation_error, value_error};
use ffpe_validation::data::{self, DataConfig, Dataset};
use ffpe_validation::device::DeviceKind;
use ffpe_validation::io::checkpoint::NamedTensor;
use ffpe_validation::llc::{InitLoss, LlcConfig, NBeta, estimate_with_progress};
use ffpe_validation::model::{Arch, Network};
use numpy::{PyReadonlyArray1, PyReadonlyArray2, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyAny, PyBool, PyString};
use std::path::{Path, PathBuf};

/// The network: a path to a safetensors file, or a list of `(name, float32 array)` pairs.
fn network(weights: &Bound<'_, PyAny>, device: &candle_core::Device) -> PyResult<Network> {
    if let Ok(path) = weights.extract::<PathBuf>() {
        return Network::load(&path, device).map_err(validation_error);
    }
    let pairs: Vec<(String, PyReadonlyArrayDyn<'_, f32>)> = weights.extract().map_err(|_| {
        value_error(
            "`weights`: expected a path to a safetensors file or a state_dict (names -> float32 arrays)",
        )
    })?;
    let tensors = pairs
        .into_iter()
        .map(|(name, a)| NamedTensor {
            shape: a.shape().to_vec(),
            data: a.as_array().iter().copied().collect(),
            name,
        })
        .collect::<Vec<_>>();
    Network::from_named(&tensors, Path::new("<state_dict>"), device).map_err(validation_error)
}

/// The training set: the bundled MNIST split, an IDX directory, or `(images, labels)`.
fn dataset(
    data: Option<&Bound<'_, PyAny>>,
    n_train: usize,
    n_test: usize,
    split_seed: u64,
) -> PyResult<Dataset> {
    let from_config = |dir: Option<PathBuf>| {
        data::load(&DataConfig {
            dir,
            n_train,
            n_test,
            split_seed,
        })
        .map(|d| d.train)
        .map_err(validation_error)
    };
    let Some(data) = data else {
        return from_config(None);
    };
    if let Ok(dir) = data.extract::<PathBuf>() {
        return from_config(Some(dir));
    }
    let (x, y): (PyReadonlyArray2<'_, f32>, PyReadonlyArray1<'_, i64>) =
        data.extract().map_err(|_| {
            value_error(
                "`data`: expected None (bundled MNIST), a directory of IDX files, or (images [n, d] float32, labels [n] int)",
            )
        })?;
    let (n, dim) = (x.shape()[0], x.shape()[1]);
    if y.len() != n || n == 0 || dim == 0 {
        return Err(value_error(format!(
            "`data`: {n} images of {dim} pixels and {} labels: allowed n >= 1 images with one label each",
            y.len()
        )));
    }
    let labels = y
        .as_array()
        .iter()
        .map(|&l| u8::try_from(l))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| value_error("`data` labels: allowed integers 0 <= label <= 255"))?;
    Ok(Dataset {
        images: x.as_array().iter().copied().collect(),
        labels,
        dim,
    })
}

/// `init_loss`: "full", "batches:K", or a number (a given `L(w*)`, finite and >= 0).
fn init_loss_of(v: &Bound<'_, PyAny>) -> PyResult<InitLoss> {
    if v.is_instance_of::<PyString>() {
        return v
            .extract::<String>()?
            .parse::<InitLoss>()
            .map_err(validation_error);
    }
    let number = if v.is_instance_of::<PyBool>() {
        None
    } else {
        v.extract::<f64>().ok()
    };
    let Some(x) = number else {
        return Err(value_error(
            "`init_loss`: expected \"full\", \"batches:K\" (K >= 1) or a number >= 0",
        ));
    };
    let l = InitLoss::Value(x);
    l.check().map_err(validation_error)?;
    Ok(l)
}

/// LLC estimate with the options of `ffpe-validate llc` (the Python wrapper maps devinterp's
/// names onto them); returns the fields of [`ffpe_validation::llc::LlcResult`]. `progress`:
/// `callback(done, total)` in chain-steps, about 100 times (see [`Progress`]); the GIL is
/// released during the estimate and Ctrl-C stops it.
#[pyfunction]
#[pyo3(signature = (weights, data=None, arch=None, batchnorm=false, epsilon=LlcConfig::default().epsilon, gamma=LlcConfig::default().gamma, nbeta="batch", chains=LlcConfig::default().chains, draws=LlcConfig::default().draws, burnin=LlcConfig::default().burnin, steps_between_draws=LlcConfig::default().steps_between_draws, batch_size=LlcConfig::default().batch_size, seed=LlcConfig::default().seed, noise_level=LlcConfig::default().noise_level, shuffle=LlcConfig::default().shuffle, init_loss=None, threads=1, device="cpu", n_train=8000, n_test=2000, split_seed=0, progress=None))]
#[allow(clippy::too_many_arguments)]
pub fn llc<'py>(
    py: Python<'py>,
    weights: &Bound<'py, PyAny>,
    data: Option<&Bound<'py, PyAny>>,
    arch: Option<&str>,
    batchnorm: bool,
    epsilon: f64,
    gamma: f64,
    nbeta: &str,
    chains: usize,
    draws: usize,
    burnin: usize,
    steps_between_draws: usize,
    batch_size: usize,
    seed: u64,
    noise_level: f64,
    shuffle: bool,
    init_loss: Option<&Bound<'py, PyAny>>,
    threads: usize,
    device: &str,
    n_train: usize,
    n_test: usize,
    split_seed: u64,
    progress: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let dev = device
        .parse::<DeviceKind>()
        .and_then(|d| d.device())
        .map_err(validation_error)?;
    let net = network(weights, &dev)?;
    if let Some(s) = arch {
        let mut want: Arch = s.parse().map_err(validation_error)?;
        want.batchnorm |= batchnorm;
        if &want != net.arch() {
            return Err(value_error(format!(
                "`arch` = {want} does not match the weights ({})",
                net.arch()
            )));
        }
    } else if batchnorm && !net.arch().batchnorm {
        return Err(value_error(
            "`batchnorm` = True, but the weights have no BatchNorm layers",
        ));
    }
    if threads == 0 {
        return Err(value_error("`cores` = 0 is out of range: allowed >= 1"));
    }
    let train = dataset(data, n_train, n_test, split_seed)?;
    let cfg = LlcConfig {
        epsilon,
        gamma,
        nbeta: nbeta.parse::<NBeta>().map_err(validation_error)?,
        chains,
        draws,
        burnin,
        steps_between_draws,
        batch_size,
        seed,
        noise_level,
        shuffle,
        init_loss: init_loss.map_or(Ok(InitLoss::Full), init_loss_of)?,
        threads,
        ..LlcConfig::default()
    };
    let total = cfg.chains.saturating_mul(cfg.total_steps());
    // Chain-steps take ~1 ms or more: Ctrl-C is checked every 50 ms, not only at 1 % marks.
    let mut prog =
        Progress::new(progress, total as f64).signals_every(std::time::Duration::from_millis(50));
    let r = py.detach(|| {
        estimate_with_progress(&net, &train, &cfg, &mut |done, _| prog.tick(done as f64))
    });
    if let Some(e) = prog.error {
        return Err(e);
    }
    to_py(py, &r.map_err(validation_error)?)
}

/// The estimator against a closed-form coefficient (what `ffpe-validate llc-truth` runs,
/// [`ffpe_validation::llc::truth`]): `model` is `rrr:M,H,N,r`, `power:p1,..` or
/// `crossing:p1,..`; the settings default to the model's. Returns `{estimate, truth,
/// diagnostics}` (the keys of `llc-truth --json`).
#[pyfunction]
#[pyo3(signature = (model, seed=0, nbeta=None, epsilon=None, gamma=None, chains=None, draws=None, burnin=None, steps_between_draws=None))]
#[allow(clippy::too_many_arguments)]
pub fn llc_truth<'py>(
    py: Python<'py>,
    model: &str,
    seed: u64,
    nbeta: Option<f64>,
    epsilon: Option<f64>,
    gamma: Option<f64>,
    chains: Option<usize>,
    draws: Option<usize>,
    burnin: Option<usize>,
    steps_between_draws: Option<usize>,
) -> PyResult<Bound<'py, PyAny>> {
    use ffpe_validation::llc::truth::{KnownModel, estimate_known};
    let m: KnownModel = model.parse().map_err(validation_error)?;
    let mut cfg = m.default_config();
    cfg.seed = seed;
    if let Some(v) = nbeta {
        if !(v.is_finite() && v > 0.0) {
            return Err(value_error(format!(
                "invalid nbeta = {v}: a positive finite number"
            )));
        }
        cfg.nbeta = NBeta::Value(v);
    }
    cfg.epsilon = epsilon.unwrap_or(cfg.epsilon);
    cfg.gamma = gamma.unwrap_or(cfg.gamma);
    cfg.chains = chains.unwrap_or(cfg.chains);
    cfg.draws = draws.unwrap_or(cfg.draws);
    cfg.burnin = burnin.unwrap_or(cfg.burnin);
    cfg.steps_between_draws = steps_between_draws.unwrap_or(cfg.steps_between_draws);
    let e = py
        .detach(|| estimate_known(&m, &cfg))
        .map_err(validation_error)?;
    let out = serde_json::json!({
        "estimate": e.estimate,
        "truth": e.truth,
        "diagnostics": e.result.diagnostics,
    });
    to_py(py, &out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stub's defaults are the estimator's: `LlcConfig::default()` is their one source
    /// (the `#[pyo3(signature)]` above takes them from it; the `.pyi` is checked here).
    #[test]
    fn stub_defaults_are_the_estimators() {
        let pyi = include_str!("../python/ffpe/__init__.pyi");
        let d = LlcConfig::default();
        for line in [
            format!("num_chains: int = {},", d.chains),
            format!("num_draws: int = {},", d.draws),
            format!("num_burnin_steps: int = {},", d.burnin),
            format!("num_steps_bw_draws: int = {},", d.steps_between_draws),
            format!("batch_size: int = {},", d.batch_size),
            format!("seed: int = {},", d.seed),
            format!("cores: int = {},", d.threads),
            format!(
                "shuffle: bool = {},",
                if d.shuffle { "True" } else { "False" }
            ),
        ] {
            assert!(pyi.contains(&line), "__init__.pyi lacks `{line}`");
        }
    }
}
