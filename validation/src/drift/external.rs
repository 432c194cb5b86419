//! Analysis of any training run from its checkpoints (`ffpe-validate analyze`): directories of
//! safetensors files written by any trainer (PyTorch's `save_file(model.state_dict())`, ours),
//! one directory per run ([`analyse_runs`]); or, the same analysis, runs whose flat weights are
//! already in memory (`ffpe.analyze` in Python), with directories or without ([`analyse`]).
//!
//! - **Steps**: from the checkpoint's metadata key `step` when present, else the last group of
//!   digits in the file name (`step-0000000300.safetensors`, `ckpt_300.safetensors`); a file
//!   with neither is an error naming it. Only the safetensors header is read to find the step
//!   ([`checkpoint_step`]), never the tensor data.
//! - **Tensors**: every floating tensor, in name order, except BatchNorm buffers
//!   (`running_mean`, `running_var`, `num_batches_tracked`) unless asked; `--include` keeps only
//!   names containing one of the given substrings. Every checkpoint of every run must have the
//!   same names and shapes as the first checkpoint of the first run (an error names the file
//!   and the tensor), and no NaN or infinity (an error names the file and the tensor). An
//!   in-memory run ([`MemoryRun`]) is one row of flat weights per step, as long as every other
//!   run's and finite (an error names the run's position and the step).
//! - **Streaming**: the steps common to all runs are read one at a time: at most one
//!   checkpoint per run in memory (the runs of one initialisation together), plus one copy of
//!   each initialisation's first checkpoint and, for the aging analysis on a stationary
//!   stretch, the ring of the last `max_lag` evenly spaced samples per run
//!   ([`super::estimators::Tamsd`]); never a whole trajectory.
//! - **Initialisations**: runs whose first common checkpoints are bit-identical share an
//!   initialisation. When every initialisation has at least two runs, the runs are an ensemble
//!   and get the analysis of `reproduce`'s own ensembles ([`super::analysis`]: drift
//!   `||m(t) - w_0||^2`, diffusion `tr Sigma(t)`, exponents in the declared windows, the
//!   stationarity test of the loss, aging and ergodicity) with the rival predictions that need
//!   only the series and the headline verdicts ([`analyse_study`]); the claims then say "not
//!   testable" where their inputs are missing (fewer than 3 initialisations, no loss, no
//!   evenly spaced checkpoints, no basin model). Otherwise the runs are analysed one by one and
//!   the output says why there is no ensemble.
//! - **Metrics**: per-step losses and LLC estimates ([`super::metrics`]) join the checkpoints
//!   by step: the training loss feeds the stationarity test and the Gamma law, the LLC the
//!   time average `lambda_bar` and the predictions built on it. A run directory written by
//!   `train` brings its own (`summary.json`).
//! - **What comes out**: per run `R(t) = ||w_t - w_0||` and its exponent in the declared late
//!   window `[0.1 T, T]` (`analysis.json`), the series of each run for the single-run analysis
//!   ([`crate::analysis::run::analyse_run`]) and the ensemble's results
//!   ([`ExternalStudy`]; the report: [`crate::report::external`]).

use super::analysis::{DriftResults, GroupResults, MemberSeries, analyse_series};
use super::config::{DriftConfig, GroupConfig};
use super::estimators::{dist2, exponent_fit};
use super::metrics::RunMetrics;
use super::runner::MemberRole;
use crate::analysis::run::RunData;
use crate::error::{Error, Result};
use crate::io::checkpoint;
use crate::train::RunSummary;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// What to read, and the analysis choices.
#[derive(Clone, Debug, Default)]
pub struct ExternalConfig {
    /// Keep only tensors whose name contains one of these (empty: all).
    pub include: Vec<String>,
    /// Keep BatchNorm buffers (`running_mean`, `running_var`, `num_batches_tracked`).
    pub keep_buffers: bool,
    /// Steps between the evenly spaced checkpoints of the stationarity test and the aging
    /// analysis (`None`: the spacing a `train` summary declares, else the smallest `k` whose
    /// multiples up to the last step are all checkpoints, else none).
    pub every: Option<u64>,
    /// The optimizer the runs were trained with, a label of the single-run tables (default
    /// SGD; a run directory written by `train` says its own).
    pub optimizer: crate::optim::OptimizerKind,
    /// The declared windows, tests and bootstrap of the ensemble analysis (default: the
    /// study's, [`DriftConfig::default`]; its `groups` and `data` are not used).
    pub drift: DriftConfig,
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
    /// Initialisations: the runs grouped by bit-identical initial weights.
    #[serde(default)]
    pub initialisations: usize,
    /// Where each run's losses and LLC estimates came from (`metrics file`, `summary.json
    /// (train)`, `none`).
    #[serde(default)]
    pub metrics: Vec<String>,
    /// `||m(t) - w_0||^2` per common step, mean over the initialisations (ensembles only).
    pub drift: Option<Vec<f64>>,
    /// `tr Sigma(t)` per common step, mean over the initialisations (ensembles only).
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

/// The step of a checkpoint file: its metadata `step`, else the last group of digits of the
/// file name. Reads the safetensors header only ([`checkpoint::load_metadata`]), never the
/// tensor data.
pub fn checkpoint_step(path: &Path) -> Result<u64> {
    let meta = checkpoint::load_metadata(path)?;
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
            files.push((checkpoint_step(&p)?, p));
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
/// tensors of the checkpoint files (an in-memory run is used whole). The displacement and
/// ensemble part of [`analyse_study`], without per-step metrics (a run directory written by
/// `train` brings its own).
pub fn analyse(inputs: &[RunInput<'_>], cfg: &ExternalConfig) -> Result<ExternalAnalysis> {
    Ok(core(inputs, &[], cfg, &mut |_, _| {})?.analysis)
}

/// Everything `analyze` computes: `analysis.json`, each run's series for the single-run
/// analysis ([`crate::analysis::run::analyse_run`]), and for an ensemble the group analysis,
/// the rival predictions and the headline verdicts, as `reproduce` reports them for its own
/// ensembles ([`crate::drift::EnsembleStudy`]).
#[derive(Clone, Debug, PartialEq)]
pub struct ExternalStudy {
    /// `analysis.json`.
    pub analysis: ExternalAnalysis,
    /// Per run, in order: `R(t)` at the common steps after the first, the training loss there
    /// (NaN where none was logged at that step), the LLC estimates and the test loss.
    pub runs: Vec<RunData>,
    /// The ensemble (every run shares its initial weights with at least one other run).
    pub ensemble: Option<super::EnsembleStudy>,
}

/// The study of [`analyse`] with per-step metrics: `metrics[k]` (empty: none given) are run
/// `k`'s losses and LLC estimates ([`super::metrics`]); a run directory written by `train`
/// without them uses its own `summary.json`.
pub fn analyse_study(
    inputs: &[RunInput<'_>],
    metrics: &[Option<RunMetrics>],
    cfg: &ExternalConfig,
) -> Result<ExternalStudy> {
    analyse_study_with_progress(inputs, metrics, cfg, &mut |_, _| {})
}

/// [`analyse_study`], calling `progress(read, total)` after each checkpoint read (`total`:
/// the common steps times the runs, plus one first read per run).
pub fn analyse_study_with_progress(
    inputs: &[RunInput<'_>],
    metrics: &[Option<RunMetrics>],
    cfg: &ExternalConfig,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<ExternalStudy> {
    let t0 = std::time::Instant::now();
    let c = core(inputs, metrics, cfg, progress)?;
    let ensemble = match c.group {
        None => None,
        Some((g, gr)) => {
            let d = &cfg.drift;
            let (rivals, rival_notes) =
                match super::rivals::score_group(&g, &gr, None, &d.rivals, &d.bootstrap) {
                    Ok(r) => (vec![Some(r)], vec![]),
                    Err(e) => (vec![None], vec![format!("{}: {e}", g.name)]),
                };
            let results = DriftResults {
                config: DriftConfig {
                    groups: vec![g],
                    ..d.clone()
                },
                data_source: "checkpoints analysed by ffpe-validate analyze (no data set)".into(),
                groups: vec![gr],
                train_seconds: 0.0,
                wall_seconds: t0.elapsed().as_secs_f64(),
            };
            let verdicts = super::claims::headline_verdicts(&results, &rivals)?;
            Some(super::EnsembleStudy {
                results,
                rivals,
                rival_notes,
                verdicts,
            })
        }
    };
    Ok(ExternalStudy {
        analysis: c.analysis,
        runs: c.runs,
        ensemble,
    })
}

/// What [`core`] gives.
struct Core {
    analysis: ExternalAnalysis,
    runs: Vec<RunData>,
    group: Option<(GroupConfig, GroupResults)>,
}

/// The steps `k, 2k, ...` up to the last of `steps` are all checkpoints (and at least 4).
fn evenly_spaced(steps: &BTreeSet<u64>, k: u64) -> std::result::Result<(), u64> {
    let end = steps.last().copied().unwrap_or(0);
    if k == 0 || end / k < 4 {
        return Err(k);
    }
    (1..=end / k)
        .map(|i| i * k)
        .find(|s| !steps.contains(s))
        .map_or(Ok(()), Err)
}

/// The smallest spacing `k` whose multiples up to the last step are all checkpoints (at least
/// 4 of them), or `None`.
fn detect_spacing(steps: &BTreeSet<u64>) -> Option<u64> {
    let end = steps.last().copied().unwrap_or(0);
    (1..=end / 4).find(|&k| evenly_spaced(steps, k).is_ok())
}

/// A run directory's `summary.json` as `train` writes it (`None` where there is none).
fn train_summary(src: &Source<'_>, notes: &mut Vec<String>) -> Option<RunSummary> {
    let Source::Dir { dir, .. } = src else {
        return None;
    };
    if !dir.join("summary.json").is_file() {
        return None;
    }
    match crate::train::load_summary(dir) {
        Ok(s) => Some(s),
        Err(e) => {
            notes.push(format!(
                "{}: summary.json is not a train summary ({e}); not used",
                dir.display()
            ));
            None
        }
    }
}

fn core(
    inputs: &[RunInput<'_>],
    metrics: &[Option<RunMetrics>],
    cfg: &ExternalConfig,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Core> {
    if inputs.is_empty() {
        return Err(Error::config("RUN_DIR", "none", "at least one run"));
    }
    if !metrics.is_empty() && metrics.len() != inputs.len() {
        return Err(Error::config(
            "metrics",
            format!("{} for {} runs", metrics.len(), inputs.len()),
            "one entry per run (or none)",
        ));
    }
    let sources: Vec<Source<'_>> = inputs
        .iter()
        .enumerate()
        .map(|(k, i)| Source::open(k, i))
        .collect::<Result<_>>()?;
    let n = sources.len();
    let mut notes = vec![];
    let summaries: Vec<Option<RunSummary>> = sources
        .iter()
        .map(|s| train_summary(s, &mut notes))
        .collect();
    // each run's metrics: given, else its train summary's, else none
    let mut sources_of_metrics = vec![];
    let run_metrics: Vec<RunMetrics> = (0..n)
        .map(|k| {
            if let Some(Some(m)) = metrics.get(k) {
                sources_of_metrics.push("metrics file".to_string());
                return m.clone();
            }
            match &summaries[k] {
                Some(s) => {
                    sources_of_metrics.push("summary.json (train)".to_string());
                    RunMetrics {
                        loss: s
                            .checkpoints
                            .iter()
                            .map(|c| (c.step, c.train_loss))
                            .collect(),
                        test_loss: s
                            .checkpoints
                            .iter()
                            .map(|c| (c.step, c.test_loss))
                            .collect(),
                        llc: s.llc.iter().map(|l| (l.step, l.llc_mean)).collect(),
                    }
                }
                None => {
                    sources_of_metrics.push("none".to_string());
                    RunMetrics::default()
                }
            }
        })
        .collect();
    let mut common = sources[0].steps();
    for src in &sources[1..] {
        let s = src.steps();
        common = common.intersection(&s).copied().collect();
    }
    let step_set = common.clone();
    let steps: Vec<u64> = common.into_iter().collect();
    if steps.len() < 2 {
        return Err(Error::config(
            "runs",
            format!("{} common steps", steps.len()),
            "at least two steps present in every run",
        ));
    }
    let end = steps[steps.len() - 1];
    let mut expect = Expect::default();
    let total = ((steps.len() + 1) * n) as u64;
    let mut read = 0u64;
    // the initial weights of every run, grouped into initialisations (bit-identical starts);
    // one copy per initialisation is kept
    let mut class_of = vec![0usize; n];
    let mut w0c: Vec<Vec<f32>> = vec![];
    for (k, src) in sources.iter().enumerate() {
        let w = src.at(steps[0], cfg, &mut expect)?;
        read += 1;
        progress(read, total);
        let same = |a: &[f32]| {
            a.len() == w.len() && a.iter().zip(&w).all(|(x, y)| x.to_bits() == y.to_bits())
        };
        class_of[k] = match w0c.iter().position(|c| same(c)) {
            Some(c) => c,
            None => {
                w0c.push(w);
                w0c.len() - 1
            }
        };
    }
    let n_params = w0c[0].len();
    let inits = w0c.len();
    let size = |c: usize| class_of.iter().filter(|&&x| x == c).count();
    let shared = inits == 1;
    let ensemble = n >= 2 && (0..inits).all(|c| size(c) >= 2);
    if n < 2 {
        notes.push("one run: no ensemble (give several runs from one initialisation for the drift/diffusion split)".into());
    } else if inits == n {
        notes.push("the runs do not start from bit-identical weights: no drift/diffusion split (analysed as independent runs)".into());
    } else if !ensemble {
        notes.push(format!(
            "{inits} initialisations, some with a single run: no drift/diffusion split (every initialisation needs at least two runs)"
        ));
    } else if inits > 1 {
        notes.push(format!(
            "{inits} initialisations (runs grouped by bit-identical initial weights), {} runs",
            n
        ));
    }
    let mut r: Vec<Vec<f64>> = vec![Vec::with_capacity(steps.len()); n];
    let mut group = None;
    if ensemble {
        let spacing = match cfg.every {
            Some(k) => {
                evenly_spaced(&step_set, k).map_err(|missing| {
                    Error::config(
                        "--every",
                        k,
                        format!(
                            "a spacing whose multiples up to step {end} are all checkpoints of every run, at least 4 of them (step {missing} is missing)"
                        ),
                    )
                })?;
                Some(k)
            }
            None => summaries
                .iter()
                .flatten()
                .find_map(|s| s.config.checkpoint_every)
                .filter(|&k| evenly_spaced(&step_set, k).is_ok())
                .or_else(|| detect_spacing(&step_set)),
        };
        match spacing {
            Some(k) => notes.push(format!(
                "evenly spaced checkpoints every {k} steps: the stationarity test and the aging analysis use them"
            )),
            None => notes.push("no evenly spaced checkpoints (every multiple of some k up to the last step): no stationarity test, no aging analysis".into()),
        }
        // members: the runs of each initialisation, in order
        let mut member_run = vec![];
        let mut series = vec![];
        for c in 0..inits {
            for k in (0..n).filter(|&k| class_of[k] == c) {
                series.push(MemberSeries {
                    init: c,
                    role: MemberRole::Stream(
                        series
                            .iter()
                            .filter(|m: &&MemberSeries| m.init == c)
                            .count(),
                    ),
                    losses: steps
                        .iter()
                        .map(|s| (*s, run_metrics[k].loss.get(s).copied().unwrap_or(f64::NAN)))
                        .collect(),
                });
                member_run.push(k);
            }
        }
        let g = GroupConfig {
            name: "runs".into(),
            steps: end,
            inits,
            streams: (0..inits).map(size).max().unwrap_or(0),
            gd_twin: false,
            uniform_checkpoints: spacing.map_or(0, |k| end / k),
            external: Some(format!(
                "{n} runs analysed from their checkpoints ({} initialisation{}, {n_params} parameters, steps {} to {end})",
                inits,
                if inits == 1 { "" } else { "s" },
                steps[0]
            )),
            ..GroupConfig::default()
        };
        let mut load = |m: usize, step: u64, into: &mut Vec<f32>| -> Result<()> {
            let k = member_run[m];
            let w = sources[k].at(step, cfg, &mut expect)?;
            r[k].push(dist2(&w, &w0c[class_of[k]]).sqrt());
            *into = w;
            read += 1;
            progress(read, total);
            Ok(())
        };
        let gr = analyse_series(&cfg.drift, &g, &series, spacing, None, &mut load)?;
        group = Some((g, gr));
    } else {
        for &s in &steps {
            for (k, rk) in r.iter_mut().enumerate() {
                let w = sources[k].at(s, cfg, &mut expect)?;
                rk.push(dist2(&w, &w0c[class_of[k]]).sqrt());
                read += 1;
                progress(read, total);
            }
        }
    }
    let runs_out: Vec<RunDisplacement> = sources
        .iter()
        .zip(&r)
        .map(|(src, r)| RunDisplacement {
            dir: src.label(),
            checkpoints: src.len(),
            late_exponent: late_exponent(&steps, r),
            r: r.clone(),
        })
        .collect();
    let (drift, diffusion) = match &group {
        Some((_, gr)) => (
            Some(gr.series.iter().map(|p| p.drift).collect::<Vec<_>>()),
            Some(gr.series.iter().map(|p| p.diffusion).collect::<Vec<_>>()),
        ),
        None => (None, None),
    };
    let diffusion_exponent = diffusion.as_ref().and_then(|d| late_exponent(&steps, d));
    // the single-run series
    let labels = unique_labels(&sources);
    let after_first: Vec<usize> = (0..steps.len()).filter(|&i| steps[i] > 0).collect();
    let runs: Vec<RunData> = (0..n)
        .map(|k| {
            let m = &run_metrics[k];
            let sum = summaries[k].as_ref();
            let last = sum.and_then(|s| s.checkpoints.iter().rfind(|c| c.step <= end));
            RunData {
                id: labels[k].clone(),
                arch: sum.map_or_else(
                    || "external".to_string(),
                    |s| {
                        s.config
                            .arch
                            .widths
                            .iter()
                            .map(|w| w.to_string())
                            .collect::<Vec<_>>()
                            .join("-")
                    },
                ),
                optimizer: sum.map_or(cfg.optimizer, |s| s.config.optimizer.kind()),
                seed: sum.map_or(k as u64, |s| s.config.seed),
                n_params,
                steps: end,
                t: after_first.iter().map(|&i| steps[i] as f64).collect(),
                r: after_first.iter().map(|&i| r[k][i]).collect(),
                train_loss: after_first
                    .iter()
                    .map(|&i| m.loss.get(&steps[i]).copied().unwrap_or(f64::NAN))
                    .collect(),
                llc_t: m.llc.keys().map(|&s| s as f64).collect(),
                llc: m.llc.values().copied().collect(),
                test_accuracy: last.map_or(f64::NAN, |c| 100.0 * c.test_accuracy),
                test_loss: m
                    .test_loss
                    .range(..=end)
                    .next_back()
                    .map_or(f64::NAN, |(_, v)| *v),
            }
        })
        .collect();
    for (k, src) in sources.iter().enumerate() {
        let m = &run_metrics[k];
        if m.is_empty() {
            continue;
        }
        let missing = steps
            .iter()
            .filter(|s| **s > 0 && !m.loss.contains_key(s))
            .count();
        if !m.loss.is_empty() && missing > 0 {
            notes.push(format!(
                "{}: no training loss logged at {missing} of the {} checkpoint steps after the first (losses are joined by exact step)",
                src.label(),
                after_first.len()
            ));
        }
    }
    Ok(Core {
        analysis: ExternalAnalysis {
            n_params,
            tensors: expect
                .layout
                .unwrap_or_default()
                .into_iter()
                .map(|n| n.0)
                .collect(),
            steps,
            runs: runs_out,
            shared_init: shared,
            initialisations: inits,
            metrics: sources_of_metrics,
            drift,
            diffusion,
            diffusion_exponent,
            notes,
        },
        runs,
        group,
    })
}

/// Run labels for the report: the directory's last component (`run-K` in memory); where two
/// runs would share one, the last two components joined by `-` (`init-0-stream-1`), and where
/// that is still shared, `-K` after it (K the run's position).
fn unique_labels(sources: &[Source<'_>]) -> Vec<String> {
    let name = |k: usize, depth: usize| match &sources[k] {
        Source::Dir { dir, .. } => {
            let parts: Vec<String> = dir
                .components()
                .rev()
                .take(depth)
                .map(|c| c.as_os_str().to_string_lossy().to_string())
                .collect();
            if parts.is_empty() {
                format!("run-{k}")
            } else {
                parts.into_iter().rev().collect::<Vec<_>>().join("-")
            }
        }
        Source::Memory { .. } => format!("run-{k}"),
    };
    let n = sources.len();
    let one: Vec<String> = (0..n).map(|k| name(k, 1)).collect();
    let two: Vec<String> = (0..n)
        .map(|k| {
            if one.iter().filter(|x| **x == one[k]).count() > 1 {
                name(k, 2)
            } else {
                one[k].clone()
            }
        })
        .collect();
    (0..n)
        .map(|k| {
            if two.iter().filter(|x| **x == two[k]).count() > 1 {
                format!("{}-{k}", two[k])
            } else {
                two[k].clone()
            }
        })
        .collect()
}
