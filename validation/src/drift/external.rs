//! Analysis of any training run from its checkpoints (`ffpe-validate analyze`): directories of
//! safetensors files written by any trainer (PyTorch's `save_file(model.state_dict())`, ours),
//! one directory per run ([`analyse_runs`]); or, the same analysis, runs whose flat weights are
//! already in memory (`ffpe.analyze` in Python), with directories or without ([`analyse`]).
//!
//! - **Steps**: from the checkpoint's metadata key `step` when present, else the last group of
//!   digits in the file name (`step-0000000300.safetensors`, `ckpt_300.safetensors`); a file
//!   with neither is an error naming it.
//! - **Tensors**: every floating tensor, in name order, except BatchNorm buffers
//!   (`running_mean`, `running_var`, `num_batches_tracked`) unless asked; `--include` keeps only
//!   names containing one of the given substrings. Every checkpoint of every run must have the
//!   same names and shapes as the first checkpoint of the first run (an error names the file
//!   and the tensor), and no NaN or infinity (an error names the file and the tensor). An
//!   in-memory run ([`MemoryRun`]) is one row of flat weights per step, as long as every other
//!   run's and finite (an error names the run's position and the step).
//! - **Streaming**: the steps common to all runs are read one at a time, one checkpoint per run
//!   in memory (plus each run's first), never a whole trajectory.
//! - **What comes out**: per run `R(t) = ||w_t - w_0||` and its exponent in the declared late
//!   window `[0.1 T, T]`; when the runs start from bit-identical weights (one initialisation,
//!   several minibatch streams), the ensemble's drift `||m(t) - w_0||^2`, diffusion
//!   `tr Sigma(t)` and its exponent in the same window ([`crate::analysis::ensemble`]); when
//!   they do not, the runs are treated as independent (no drift/diffusion split) and the output
//!   says so.

use super::estimators::{dist2, exponent_fit};
use crate::analysis::ensemble::ensemble_stats;
use crate::error::{Error, Result};
use crate::io::checkpoint;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// What to read.
#[derive(Clone, Debug, Default)]
pub struct ExternalConfig {
    /// Keep only tensors whose name contains one of these (empty: all).
    pub include: Vec<String>,
    /// Keep BatchNorm buffers (`running_mean`, `running_var`, `num_batches_tracked`).
    pub keep_buffers: bool,
}

/// One run's displacement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunDisplacement {
    /// The run directory (`<in-memory run K>` for the run at position K, from 0, in memory).
    pub dir: String,
    /// Checkpoints found (steps given, in memory).
    pub checkpoints: usize,
    /// `R(t)` at the common steps.
    pub r: Vec<f64>,
    /// Exponent of `R(t) ~ t^s` in `[0.1 T, T]` (`null`: fewer than 3 points).
    pub late_exponent: Option<f64>,
}

/// The analysis of the runs (`analysis.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExternalAnalysis {
    /// Parameters analysed per checkpoint.
    pub n_params: usize,
    /// Tensor names analysed, in order (empty when every run is in memory).
    pub tensors: Vec<String>,
    /// Steps common to every run.
    pub steps: Vec<u64>,
    /// Per run.
    pub runs: Vec<RunDisplacement>,
    /// All runs start from bit-identical weights: an ensemble from one initialisation.
    pub shared_init: bool,
    /// `||m(t) - w_0||^2` per common step (shared init only).
    pub drift: Option<Vec<f64>>,
    /// `tr Sigma(t)` per common step (shared init only, at least 2 runs).
    pub diffusion: Option<Vec<f64>>,
    /// Exponent of `tr Sigma(t)` in `[0.1 T, T]`.
    pub diffusion_exponent: Option<f64>,
    /// What was and was not computed.
    pub notes: Vec<String>,
}

/// A BatchNorm buffer (running statistics), not a trainable tensor.
pub(crate) fn is_buffer(name: &str) -> bool {
    name.contains("running_mean") || name.contains("running_var") || name.contains("num_batches")
}

/// The step of a checkpoint file: metadata `step`, else the last digits of the file stem.
fn step_of(path: &Path) -> Result<u64> {
    let (_, meta) = checkpoint::load(path)?;
    if let Some(s) = meta.get("step").and_then(|s| s.trim().parse::<u64>().ok()) {
        return Ok(s);
    }
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    let digits: String = stem
        .chars()
        .rev()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(|c| c.is_ascii_digit())
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    digits.parse::<u64>().map_err(|_| Error::Checkpoint {
        path: path.to_path_buf(),
        what: "no step: neither a metadata key `step` nor digits in the file name".into(),
    })
}

/// The checkpoints of a run directory by step.
fn checkpoints(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let mut files = vec![];
    let root = if dir.join("checkpoints").is_dir() {
        dir.join("checkpoints")
    } else {
        dir.to_path_buf()
    };
    for e in std::fs::read_dir(&root).map_err(|e| Error::io(&root, e))? {
        let p = e.map_err(|e| Error::io(&root, e))?.path();
        if p.extension().is_some_and(|x| x == "safetensors") {
            files.push((step_of(&p)?, p));
        }
    }
    files.sort();
    for w in files.windows(2) {
        if w[0].0 == w[1].0 {
            return Err(Error::Checkpoint {
                path: w[1].1.clone(),
                what: format!("step {} also in {}", w[0].0, w[0].1.display()),
            });
        }
    }
    if files.len() < 2 {
        return Err(Error::config(
            "run directory",
            root.display(),
            "at least two .safetensors checkpoints",
        ));
    }
    Ok(files)
}

/// Tensor names and shapes, in order.
type Layout = Vec<(String, Vec<usize>)>;

/// Flat selected weights of `path`, checked against the expected names and shapes.
fn flat(path: &Path, cfg: &ExternalConfig, expect: &Option<Layout>) -> Result<(Vec<f32>, Layout)> {
    let (mut tensors, _) = checkpoint::load(path)?;
    tensors.sort_by(|a, b| a.name.cmp(&b.name));
    let keep = |n: &str| {
        (cfg.keep_buffers || !is_buffer(n))
            && (cfg.include.is_empty() || cfg.include.iter().any(|i| n.contains(i.as_str())))
    };
    let mut names = vec![];
    let mut out = vec![];
    for t in tensors.iter().filter(|t| keep(&t.name)) {
        if let Some(v) = t.data.iter().find(|v| !v.is_finite()) {
            return Err(Error::Checkpoint {
                path: path.to_path_buf(),
                what: format!("tensor {} holds a non-finite value ({v})", t.name),
            });
        }
        names.push((t.name.clone(), t.shape.clone()));
        out.extend_from_slice(&t.data);
    }
    if names.is_empty() {
        return Err(Error::Checkpoint {
            path: path.to_path_buf(),
            what: "no tensor selected".into(),
        });
    }
    if let Some(e) = expect
        && *e != names
    {
        let diff = e.iter().zip(&names).find(|(a, b)| a != b).map_or_else(
            || format!("{} tensors instead of {}", names.len(), e.len()),
            |(a, b)| {
                format!(
                    "tensor {} {:?} where the first checkpoint has {} {:?}",
                    b.0, b.1, a.0, a.1
                )
            },
        );
        return Err(Error::Checkpoint {
            path: path.to_path_buf(),
            what: format!("mismatched tensors: {diff}"),
        });
    }
    Ok((out, names))
}

/// Exponent of `y ~ t^s` over the declared late window `[0.1 T, T]` (one replicate).
fn late_exponent(steps: &[u64], y: &[f64]) -> Option<f64> {
    let end = *steps.last()? as f64;
    let boot = crate::analysis::stats::BootstrapConfig::default();
    exponent_fit(steps, &[y.to_vec()], 0.1 * end, end, 3, &boot).map(|f| f.exponent)
}

/// One run's flat weights in memory: row `i` of `weights` (`n_params` values, row-major) is the
/// model at `steps[i]`. Steps in any order, each at most once, at least two of them.
#[derive(Clone, Copy, Debug)]
pub struct MemoryRun<'a> {
    /// The step of each row.
    pub steps: &'a [u64],
    /// `steps.len() * n_params` weights, one row per step.
    pub weights: &'a [f32],
    /// Parameters per step (the row length).
    pub n_params: usize,
}

/// One run to analyse.
#[derive(Clone, Copy, Debug)]
pub enum RunInput<'a> {
    /// A directory of safetensors checkpoints (or holding one named `checkpoints/`).
    Dir(&'a Path),
    /// Flat weights in memory.
    Memory(MemoryRun<'a>),
}

/// A run ready to be read step by step: its checkpoint files, or its rows, sorted by step.
enum Source<'a> {
    Dir {
        dir: &'a Path,
        files: Vec<(u64, PathBuf)>,
    },
    Memory {
        index: usize,
        run: MemoryRun<'a>,
        rows: Vec<(u64, usize)>,
    },
}

/// What every checkpoint must match: the first directory checkpoint's tensors, and the first
/// checkpoint's parameter count with the label of the run it came from.
#[derive(Default)]
struct Expect {
    layout: Option<Layout>,
    n_params: Option<(usize, String)>,
}

impl<'a> Source<'a> {
    /// Lists a directory's checkpoints, or checks an in-memory run's shape.
    fn open(index: usize, input: &RunInput<'a>) -> Result<Self> {
        let run = match *input {
            RunInput::Dir(dir) => {
                return Ok(Source::Dir {
                    dir,
                    files: checkpoints(dir)?,
                });
            }
            RunInput::Memory(run) => run,
        };
        let bad = |what: String| Error::Run { index, what };
        if run.n_params == 0 {
            return Err(bad("no parameters (rows of length 0)".into()));
        }
        if run.steps.len().checked_mul(run.n_params) != Some(run.weights.len()) {
            return Err(bad(format!(
                "{} weights for {} steps of {} parameters: one row of weights per step",
                run.weights.len(),
                run.steps.len(),
                run.n_params
            )));
        }
        let mut rows: Vec<(u64, usize)> = run.steps.iter().copied().zip(0..).collect();
        rows.sort_unstable();
        if let Some(w) = rows.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(bad(format!(
                "step {} given twice (rows {} and {})",
                w[0].0, w[0].1, w[1].1
            )));
        }
        if rows.len() < 2 {
            return Err(bad(format!(
                "{} steps: at least two are needed",
                rows.len()
            )));
        }
        Ok(Source::Memory { index, run, rows })
    }

    fn label(&self) -> String {
        match self {
            Source::Dir { dir, .. } => dir.display().to_string(),
            Source::Memory { index, .. } => format!("<in-memory run {index}>"),
        }
    }

    fn steps(&self) -> BTreeSet<u64> {
        match self {
            Source::Dir { files, .. } => files.iter().map(|c| c.0).collect(),
            Source::Memory { rows, .. } => rows.iter().map(|c| c.0).collect(),
        }
    }

    fn len(&self) -> usize {
        match self {
            Source::Dir { files, .. } => files.len(),
            Source::Memory { rows, .. } => rows.len(),
        }
    }

    /// The flat weights at `step` (one of [`Self::steps`]), checked against `expect` (and
    /// setting it on the first call).
    fn at(&self, step: u64, cfg: &ExternalConfig, expect: &mut Expect) -> Result<Vec<f32>> {
        let missing = || Error::config("step", step, "a step of every run");
        let w = match self {
            Source::Dir { files, .. } => {
                let k = files
                    .binary_search_by_key(&step, |c| c.0)
                    .map_err(|_| missing())?;
                let (w, names) = flat(&files[k].1, cfg, &expect.layout)?;
                expect.layout.get_or_insert(names);
                w
            }
            Source::Memory { index, run, rows } => {
                let k = rows
                    .binary_search_by_key(&step, |c| c.0)
                    .map_err(|_| missing())?;
                let row = rows[k].1;
                let w = &run.weights[row * run.n_params..(row + 1) * run.n_params];
                if let Some((j, v)) = w.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                    return Err(Error::Run {
                        index: *index,
                        what: format!(
                            "step {step} (row {row}) holds a non-finite value ({v}) at parameter {j}"
                        ),
                    });
                }
                w.to_vec()
            }
        };
        let Some((n, who)) = &expect.n_params else {
            expect.n_params = Some((w.len(), self.label()));
            return Ok(w);
        };
        if *n == w.len() {
            return Ok(w);
        }
        let what = format!("{} parameters per step where {who} has {n}", w.len());
        Err(match self {
            Source::Dir { files, .. } => Error::Checkpoint {
                path: files
                    .iter()
                    .find(|c| c.0 == step)
                    .map(|c| c.1.clone())
                    .unwrap_or_default(),
                what,
            },
            Source::Memory { index, .. } => Error::Run {
                index: *index,
                what,
            },
        })
    }
}

/// Analyses the runs in `dirs` (see the module docs).
pub fn analyse_runs(dirs: &[PathBuf], cfg: &ExternalConfig) -> Result<ExternalAnalysis> {
    let inputs: Vec<RunInput<'_>> = dirs.iter().map(|d| RunInput::Dir(d)).collect();
    analyse(&inputs, cfg)
}

/// Analyses runs given as directories or in memory (see the module docs); `cfg` selects the
/// tensors of the checkpoint files (an in-memory run is used whole).
pub fn analyse(inputs: &[RunInput<'_>], cfg: &ExternalConfig) -> Result<ExternalAnalysis> {
    if inputs.is_empty() {
        return Err(Error::config("RUN_DIR", "none", "at least one run"));
    }
    let sources: Vec<Source<'_>> = inputs
        .iter()
        .enumerate()
        .map(|(k, i)| Source::open(k, i))
        .collect::<Result<_>>()?;
    let mut common = sources[0].steps();
    for src in &sources[1..] {
        let s = src.steps();
        common = common.intersection(&s).copied().collect();
    }
    let steps: Vec<u64> = common.into_iter().collect();
    if steps.len() < 2 {
        return Err(Error::config(
            "runs",
            format!("{} common steps", steps.len()),
            "at least two steps present in every run",
        ));
    }
    let mut expect = Expect::default();
    let w0s = sources
        .iter()
        .map(|src| src.at(steps[0], cfg, &mut expect))
        .collect::<Result<Vec<_>>>()?;
    let shared = w0s.iter().all(|w| {
        w.iter()
            .zip(&w0s[0])
            .all(|(a, b)| a.to_bits() == b.to_bits())
    });
    let n = sources.len();
    let mut notes = vec![];
    if !shared {
        notes.push("the runs do not start from bit-identical weights: no drift/diffusion split (analysed as independent runs)".into());
    } else if n < 2 {
        notes.push("one run: no ensemble (give several runs from one initialisation for the drift/diffusion split)".into());
    }
    let mut r: Vec<Vec<f64>> = vec![vec![]; n];
    let (mut drift, mut diffusion) = (vec![], vec![]);
    for &s in &steps {
        let mut ws = Vec::with_capacity(n);
        for (k, rk) in r.iter_mut().enumerate() {
            let w = sources[k].at(s, cfg, &mut expect)?;
            rk.push(dist2(&w, &w0s[k]).sqrt());
            ws.push(w);
        }
        if shared && ws.len() >= 2 {
            let st = ensemble_stats(&ws, &w0s[0], None, 0)?;
            drift.push(st.drift);
            diffusion.push(st.diffusion);
        }
    }
    let runs = sources
        .iter()
        .zip(r)
        .map(|(src, r)| RunDisplacement {
            dir: src.label(),
            checkpoints: src.len(),
            late_exponent: late_exponent(&steps, &r),
            r,
        })
        .collect();
    let ensemble = shared && n >= 2;
    let diffusion_exponent = if ensemble {
        late_exponent(&steps, &diffusion)
    } else {
        None
    };
    Ok(ExternalAnalysis {
        n_params: w0s[0].len(),
        tensors: expect
            .layout
            .unwrap_or_default()
            .into_iter()
            .map(|n| n.0)
            .collect(),
        steps,
        runs,
        shared_init: shared,
        drift: ensemble.then_some(drift),
        diffusion: ensemble.then_some(diffusion),
        diffusion_exponent,
        notes,
    })
}
