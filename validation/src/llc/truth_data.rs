//! The data and the true parameter of a known-truth model ([`KnownModel`]) in a file
//! (`ffpe-validate llc-truth --export-data FILE`), so that another estimator samples the same
//! model at the same point with the same settings (the comparison with devinterp,
//! `validation/scripts/llc_truth_devinterp.py`).
//!
//! [`estimate_known`](super::truth::estimate_known) samples the population loss `K`; it draws
//! no data. For reduced-rank regression the file adds a synthetic data set whose
//! mean-squared-error loss is `K` plus a constant *exactly*, not only in expectation: `n`
//! inputs with `X^T X = n I_M` (the thin QR factor of a Gaussian `n x M` matrix, scaled by
//! `sqrt(n)`) and outputs `y_i = C0 x_i + e_i` with the noise `E` orthogonal to the columns of
//! `X`, so that for every `(A, B)`
//!
//! ```text
//! (1/n) sum_i |y_i - B A x_i|^2 / 2 = |B A - C0|_F^2 / 2 + |E|_F^2 / (2 n) = K(A, B) + c
//! ```
//!
//! (expand `Y - X (B A)^T = X (C0 - B A)^T + E`; the cross term is `tr(E^T X ..) = 0`).
//! Full-batch SGLD on these data is the chain of `estimate_known` up to the noise stream:
//! a tool that needs data sees the same posterior. Powers and crossings have no data; the file
//! carries their exponents.
//!
//! Format: safetensors, every tensor F64, row-major:
//!
//! * `wstar` `[d]`: the parameter the estimate is taken at, in the estimator's order
//!   ([`KnownModel::wstar`]);
//! * reduced-rank regression: `a0` `[H, M]` and `b0` `[N, H]` (the same values as `wstar`),
//!   `c0` `[N, M]`, `x` `[n, M]`, `y` `[n, N]`;
//! * power and crossing: `powers` `[k]`.
//!
//! Header metadata (strings; numbers in Rust's shortest round-trip form): `format`
//! ([`FORMAT`]), `model` (the `--model` string), `truth`, `multiplicity`, `samples` (`n`, 0
//! without data), `loss_offset` (`c`, 0 without data), and the sampler settings `epsilon`,
//! `gamma`, `nbeta`, `chains`, `draws`, `burnin`, `steps_between_draws`, `seed`,
//! `noise_level`.

use std::collections::HashMap;
use std::path::Path;

use faer::Mat;
use safetensors::{Dtype, tensor::TensorView};

use super::LlcConfig;
use super::truth::KnownModel;
use crate::error::{Error, Result};
use crate::rng::Rng;

/// The `format` metadata value of an export file.
pub const FORMAT: &str = "ffpe-llc-truth-v1";

/// Largest number of values (`n (M + N)`) of an exported data set: 10 million (80 MB).
pub const MAX_DATA_VALUES: usize = 10_000_000;

/// A synthetic data set whose mean-squared-error loss is `K + offset` exactly (module docs).
#[derive(Clone, Debug)]
pub struct SyntheticData {
    /// Number of samples `n`.
    pub samples: usize,
    /// Inputs, row-major `n x M`, with `X^T X = n I_M`.
    pub x: Vec<f64>,
    /// Outputs, row-major `n x N`: `y_i = C0 x_i + e_i`.
    pub y: Vec<f64>,
    /// `c = |E|_F^2 / (2 n)`.
    pub offset: f64,
}

/// Number of samples of the data set of `rrr:M,H,N,r`: `max(64, 2 (M + N))`, more than `M`
/// (so that noise orthogonal to the inputs exists) and small enough for full batches.
pub fn data_samples(input: usize, output: usize) -> usize {
    (2 * (input + output)).max(64)
}

/// The synthetic data set of a reduced-rank regression model (module docs), from the noise
/// stream `(seed, 0xda7a)`; `None` for the models without data (powers, crossings).
///
/// Errors: the data would have more than [`MAX_DATA_VALUES`] values.
pub fn synthetic_data(model: &KnownModel, seed: u64) -> Result<Option<SyntheticData>> {
    let KnownModel::ReducedRank {
        input: m,
        output: nout,
        rank: r,
        ..
    } = *model
    else {
        return Ok(None);
    };
    let n = data_samples(m, nout);
    if n.saturating_mul(m + nout) > MAX_DATA_VALUES {
        return Err(Error::config(
            "export-data",
            format!("{n} samples x {} values", m + nout),
            format!("at most {MAX_DATA_VALUES} values: a smaller rrr model (M + N <= 2236)"),
        ));
    }
    let mut rng = Rng::new(seed, &[0xda7a]);
    let zv: Vec<f64> = (0..n * m).map(|_| rng.normal()).collect();
    let ev: Vec<f64> = (0..n * nout).map(|_| rng.normal()).collect();
    let z = Mat::<f64>::from_fn(n, m, |i, j| zv[i * m + j]);
    let q = z.qr().compute_thin_Q();
    let mut e = Mat::<f64>::from_fn(n, nout, |i, j| ev[i * nout + j]);
    // remove the inputs' column space from the noise; twice, so that what is left of it is at
    // rounding level (one projection leaves O(eps |E|) of it, the second O(eps^2))
    for _ in 0..2 {
        let proj = &q * (q.transpose() * &e);
        e -= proj;
    }
    let scale = (n as f64).sqrt();
    let x: Vec<f64> = (0..n * m).map(|k| scale * q[(k / m, k % m)]).collect();
    let y: Vec<f64> = (0..n * nout)
        .map(|k| {
            let (i, j) = (k / nout, k % nout);
            let signal = if j < r && j < m { x[i * m + j] } else { 0.0 };
            signal + e[(i, j)]
        })
        .collect();
    let offset = (0..n)
        .flat_map(|i| (0..nout).map(move |j| (i, j)))
        .map(|(i, j)| e[(i, j)] * e[(i, j)])
        .sum::<f64>()
        / (2.0 * n as f64);
    Ok(Some(SyntheticData {
        samples: n,
        x,
        y,
        offset,
    }))
}

/// Write the export file of `model` with the settings `config` to `path` atomically (module
/// docs); `spec` is the `--model` string recorded as `model`. The data set's seed is
/// `config.seed`.
///
/// Errors: `config.nbeta` not a given value, data too large ([`synthetic_data`]), the write.
pub fn export_data(model: &KnownModel, spec: &str, config: &LlcConfig, path: &Path) -> Result<()> {
    let nbeta = super::truth::known_nbeta(config)?;
    let truth = model.truth()?;
    let mut tensors: Vec<(&str, Vec<usize>, Vec<f64>)> = vec![];
    let wstar = model.wstar();
    tensors.push(("wstar", vec![wstar.len()], wstar.clone()));
    let data = synthetic_data(model, config.seed)?;
    match model {
        KnownModel::ReducedRank {
            input: m,
            hidden: h,
            output: n,
            rank: r,
        } => {
            let (m, h, n, r) = (*m, *h, *n, *r);
            let (a0, b0) = wstar.split_at(h * m);
            tensors.push(("a0", vec![h, m], a0.to_vec()));
            tensors.push(("b0", vec![n, h], b0.to_vec()));
            let c0 = (0..n * m)
                .map(|k| {
                    if k / m == k % m && k / m < r {
                        1.0
                    } else {
                        0.0
                    }
                })
                .collect();
            tensors.push(("c0", vec![n, m], c0));
        }
        KnownModel::Power(p) | KnownModel::Crossing(p) => {
            tensors.push((
                "powers",
                vec![p.len()],
                p.iter().map(|&v| f64::from(v)).collect(),
            ));
        }
    }
    let (samples, offset) = match &data {
        Some(d) => {
            let (m, n) = (d.x.len() / d.samples, d.y.len() / d.samples);
            tensors.push(("x", vec![d.samples, m], d.x.clone()));
            tensors.push(("y", vec![d.samples, n], d.y.clone()));
            (d.samples, d.offset)
        }
        None => (0, 0.0),
    };
    let meta: HashMap<String, String> = [
        ("format", FORMAT.to_string()),
        ("model", spec.to_string()),
        ("truth", truth.lambda.to_string()),
        ("multiplicity", truth.multiplicity.to_string()),
        ("samples", samples.to_string()),
        ("loss_offset", offset.to_string()),
        ("epsilon", config.epsilon.to_string()),
        ("gamma", config.gamma.to_string()),
        ("nbeta", nbeta.to_string()),
        ("chains", config.chains.to_string()),
        ("draws", config.draws.to_string()),
        ("burnin", config.burnin.to_string()),
        (
            "steps_between_draws",
            config.steps_between_draws.to_string(),
        ),
        ("seed", config.seed.to_string()),
        ("noise_level", config.noise_level.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, _, v)| v.iter().flat_map(|x| x.to_le_bytes()).collect())
        .collect();
    let views = tensors
        .iter()
        .zip(&bytes)
        .map(|((name, shape, _), b)| Ok((*name, TensorView::new(Dtype::F64, shape.clone(), b)?)))
        .collect::<std::result::Result<Vec<_>, safetensors::SafeTensorError>>()?;
    let out = safetensors::serialize(views, Some(meta))?;
    crate::io::write_atomic(path, &out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llc::NBeta;
    use safetensors::SafeTensors;

    fn tensor(st: &SafeTensors<'_>, name: &str) -> (Vec<usize>, Vec<f64>) {
        let t = st.tensor(name).unwrap();
        assert_eq!(t.dtype(), Dtype::F64, "{name}");
        let v = t
            .data()
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
            .collect();
        (t.shape().to_vec(), v)
    }

    /// The export round trip: what is read back is the model's `w*`, its settings and truth,
    /// and (rrr) data whose mean-squared-error loss is `K + c` at arbitrary parameters.
    #[test]
    fn export_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        for spec in ["rrr:3,2,2,1", "rrr:2,2,3,1", "power:2,4", "crossing:2,4"] {
            let model: KnownModel = spec.parse().unwrap();
            let cfg = LlcConfig {
                seed: 7,
                ..model.default_config()
            };
            let path = dir.path().join("case.safetensors");
            export_data(&model, spec, &cfg, &path).unwrap();
            let bytes = std::fs::read(&path).unwrap();
            let st = SafeTensors::deserialize(&bytes).unwrap();
            let (_, meta) = SafeTensors::read_metadata(&bytes).unwrap();
            let meta = meta.metadata().clone().unwrap();
            let num = |k: &str| meta[k].parse::<f64>().unwrap();
            assert_eq!(meta["format"], FORMAT);
            assert_eq!(meta["model"], spec);
            // the settings and the truth come back bit for bit (shortest round-trip form)
            let truth = model.truth().unwrap();
            assert_eq!(num("truth").to_bits(), truth.lambda.to_bits(), "{spec}");
            assert_eq!(num("epsilon").to_bits(), cfg.epsilon.to_bits());
            assert_eq!(num("gamma").to_bits(), cfg.gamma.to_bits());
            let NBeta::Value(nb) = cfg.nbeta else {
                unreachable!()
            };
            assert_eq!(num("nbeta").to_bits(), nb.to_bits());
            for (k, v) in [
                ("chains", cfg.chains),
                ("draws", cfg.draws),
                ("burnin", cfg.burnin),
                ("steps_between_draws", cfg.steps_between_draws),
                ("seed", 7),
                ("multiplicity", truth.multiplicity as usize),
            ] {
                assert_eq!(meta[k].parse::<usize>().unwrap(), v, "{spec} {k}");
            }
            let (shape, w) = tensor(&st, "wstar");
            assert_eq!(shape, [model.dim()]);
            assert_eq!(w, model.wstar(), "{spec}");
            let KnownModel::ReducedRank {
                input: m,
                hidden: h,
                output: n,
                ..
            } = model
            else {
                let (_, p) = tensor(&st, "powers");
                assert_eq!(p, [2.0, 4.0]);
                assert_eq!(meta["samples"], "0");
                continue;
            };
            let (xs, x) = tensor(&st, "x");
            let (ys, y) = tensor(&st, "y");
            let ns = data_samples(m, n);
            assert_eq!((xs, ys), (vec![ns, m], vec![ns, n]));
            assert_eq!(tensor(&st, "a0").1, w[..h * m]);
            assert_eq!(tensor(&st, "b0").1, w[h * m..]);
            let c = num("loss_offset");
            // the data's loss minus c is K at w* and at arbitrary points. Tolerance 1e-12
            // relative: sums of ns (M + N) ~ 500 products of O(1) numbers, each rounding
            // ~1e-16, against K + c = O(1)
            let mut rng = Rng::new(3, &[1]);
            for trial in 0..4 {
                let p: Vec<f64> = if trial == 0 {
                    model.wstar()
                } else {
                    (0..model.dim()).map(|_| rng.normal()).collect()
                };
                let (a, b) = p.split_at(h * m);
                let mut mse = 0.0;
                for i in 0..ns {
                    for o in 0..n {
                        let f: f64 = (0..h)
                            .map(|k| {
                                b[o * h + k]
                                    * (0..m).map(|j| a[k * m + j] * x[i * m + j]).sum::<f64>()
                            })
                            .sum();
                        mse += 0.5 * (y[i * n + o] - f).powi(2);
                    }
                }
                mse /= ns as f64;
                let mut g = vec![0.0; model.dim()];
                let k = model.loss_grad(&p, &mut g);
                assert!(
                    (mse - c - k).abs() < 1e-12 * (k + c),
                    "{spec} trial {trial}: data loss {mse} - {c} vs K {k}"
                );
            }
            // the noise is not negligible: c is about (n - M) N / (2 n), between N / 4 and N / 2
            assert!(c > 0.1 && c < n as f64, "{spec}: {c}");
        }
    }

    #[test]
    fn export_refuses_what_it_cannot_write() {
        let dir = tempfile::tempdir().unwrap();
        let model: KnownModel = "power:2".parse().unwrap();
        let cfg = LlcConfig {
            nbeta: NBeta::Batch,
            ..model.default_config()
        };
        let e = export_data(&model, "power:2", &cfg, &dir.path().join("a")).unwrap_err();
        assert!(e.to_string().contains("nbeta"), "{e}");
        // 2 (M + N) samples x (M + N) values above the limit
        let big: KnownModel = "rrr:2500,1,1,0".parse().unwrap();
        let e = synthetic_data(&big, 0).unwrap_err();
        assert!(e.to_string().contains("export-data"), "{e}");
        let e = export_data(
            &big,
            "rrr:2500,1,1,0",
            &big.default_config(),
            &dir.path().join("b"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("export-data"), "{e}");
        assert!(!dir.path().join("b").exists());
    }
}
