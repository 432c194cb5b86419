//! The resource budget of a problem file, checked before anything is allocated.
//!
//! A problem file inside every documented range can still ask for more memory than the
//! machine has (`cells = 2147483647`: 17 GB for one vector) or for more work than anyone
//! would wait for (`steps = 100000000`, a 4-D sparse grid of level 12). [`estimate`]
//! predicts, from the configuration alone, the peak memory and the work of a solve:
//!
//! | part | memory | work per step |
//! |---|---|---|
//! | time mesh (base steps, graded-blocks ~1.5x, output times inserted) | ~48 bytes per node | - |
//! | state vectors, operator (`2 d + 1` entries per row) | ~12 + 2 (2d+1) words per unknown | `2 (2d+1)` per unknown |
//! | direct factor (Cholesky; LU 4x): `d = 1` 2, `d = 2` `4 log2 n`, `d >= 3` `10 n^(1 - 2/d)` entries per row | 16 bytes per entry | 4 per entry, plus the factorisations |
//! | BiCGSTAB (sparse grids, `d >= 4`): iterations `2 sqrt(kappa) + 5` (at most 1000) | 6 vectors | `(4 (2d+1) + 12)` per iteration |
//! | history: SOE `N_exp` states (L2-1sigma 2x); direct: every past state; FFT: 4 per past state | 8 bytes each | `4 N_exp`; direct: `n_t`; FFT: `10 log2(N)^2` |
//! | output: observables per output time; snapshots `n` values each | | |
//!
//! [`Limits::check`] refuses what exceeds the limits, naming the keys that drive the
//! estimate. The default memory limit is half the available memory (`MemAvailable` of
//! `/proc/meminfo`), or 4 GiB where that cannot be read; the default work limit is
//! [`DEFAULT_MAX_WORK`] operations (about a minute or two on one core). `ffpe solve
//! --max-memory 2GiB --max-work 1e12` changes them. Estimates are within about 2x of
//! the measured peak RSS for the example problems (BENCHMARKS.md, "Resource budget").

use super::GridSpec;
use crate::error::{FfpeError, Result};
use crate::problem::Problem;
use crate::solve::{LinearBackend, MeshKind, Scheme, SolveOptions};
use crate::sparse_grid::{CombinationScheme, ComponentLinearSolver, MAX_LEVEL};
use ffpe_solvers::history::{HistoryKind, soe_exponentials};

/// Default work limit in operations (floating-point operations, roughly): at the
/// `~1e9` per second the solver reaches, one to two minutes.
pub const DEFAULT_MAX_WORK: f64 = 1e11;
/// Memory limit where `/proc/meminfo` cannot be read: 4 GiB.
pub const FALLBACK_MAX_MEMORY: u64 = 4 << 30;
/// Largest number of sparse-grid components built to estimate a scheme.
const MAX_COMPONENTS: f64 = 1e6;

/// Memory and work limits of a solve (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limits {
    /// Largest estimated peak memory, bytes.
    pub max_memory: u64,
    /// Largest estimated work, operations.
    pub max_work: f64,
}

impl Default for Limits {
    /// Half the available memory (4 GiB where unknown) and [`DEFAULT_MAX_WORK`].
    fn default() -> Self {
        Self {
            max_memory: available_memory().map_or(FALLBACK_MAX_MEMORY, |b| b / 2),
            max_work: DEFAULT_MAX_WORK,
        }
    }
}

/// `MemAvailable` of `/proc/meminfo`, bytes (Linux only).
pub fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb.saturating_mul(1024))
}

/// Bytes in words: `512MiB`, `2GiB`, `4G` (powers of 1024; `KB`/`MB`/`GB`/`TB` powers of
/// 1000), or a plain number of bytes (`1e9`). `key` names the setting in errors.
pub fn parse_bytes(key: &str, s: &str) -> Result<u64> {
    let t = s.trim();
    let split = t
        .find(|c: char| c.is_ascii_alphabetic() && c != 'e' && c != 'E')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let scale: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kib" => 1024.0,
        "m" | "mib" => 1024f64.powi(2),
        "g" | "gib" => 1024f64.powi(3),
        "t" | "tib" => 1024f64.powi(4),
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "tb" => 1e12,
        _ => f64::NAN,
    };
    let bad = || {
        FfpeError::out_of_range(
            key,
            format!("\"{s}\""),
            "a size such as 512MiB, 2GiB or 1e9 (bytes), at least 1MiB",
        )
    };
    let x: f64 = num.trim().parse().map_err(|_| bad())?;
    let bytes = x * scale;
    if !(bytes.is_finite() && bytes >= 1024.0 * 1024.0) {
        return Err(bad());
    }
    Ok(bytes.min(u64::MAX as f64) as u64)
}

/// A work limit: a number of operations `>= 1e6` (`1e12`), or `none` for no limit.
pub fn parse_work(key: &str, s: &str) -> Result<f64> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("none") || t.eq_ignore_ascii_case("inf") {
        return Ok(f64::INFINITY);
    }
    match t.parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 1e6 => Ok(x),
        _ => Err(FfpeError::out_of_range(
            key,
            format!("\"{s}\""),
            "a number of operations >= 1e6 (for example 1e12), or none",
        )),
    }
}

/// `bytes` in words with three significant digits (`1.50 GiB`).
pub fn format_bytes(bytes: f64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut x = bytes;
    let mut u = 0;
    while x >= 1024.0 && u + 1 < units.len() {
        x /= 1024.0;
        u += 1;
    }
    if u + 1 == units.len() && x >= 1024.0 {
        return format!("{bytes:.2e} B");
    }
    format!("{x:.3} {}", units[u])
}

/// One part of an estimate: what, the keys that drive it, bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct Part {
    /// What the memory holds (`history`, `time mesh`, ...).
    pub what: &'static str,
    /// The keys that set its size.
    pub keys: &'static str,
    /// Estimated bytes.
    pub bytes: f64,
}

/// Estimated resources of a solve.
#[derive(Clone, Debug, PartialEq)]
pub struct Estimate {
    /// Peak memory by part, bytes.
    pub parts: Vec<Part>,
    /// Total work, operations.
    pub work: f64,
    /// The keys that drive the work (for messages).
    pub work_keys: &'static str,
    /// Unknowns of the (largest) grid.
    pub unknowns: f64,
    /// Nodes of the time mesh.
    pub nodes: f64,
}

impl Estimate {
    /// Total peak memory, bytes.
    pub fn bytes(&self) -> f64 {
        self.parts.iter().map(|p| p.bytes).sum::<f64>() + BASE_BYTES
    }

    /// The largest part.
    fn largest(&self) -> Option<&Part> {
        self.parts.iter().max_by(|a, b| a.bytes.total_cmp(&b.bytes))
    }
}

/// Memory of the process before the solve (binary, allocator, parsed file).
const BASE_BYTES: f64 = 4.0 * 1024.0 * 1024.0;

impl Limits {
    /// The first check, before any grid is built: the grid vectors and operator of
    /// `cells` alone (`8 (12 + 2 (2d+1))` bytes per cell) must fit the memory limit.
    pub fn check_cells(&self, cells: &[usize]) -> Result<()> {
        let n: f64 = cells.iter().map(|&c| c as f64).product();
        let bytes = n * 8.0 * (12.0 + 2.0 * (2 * cells.len() + 1) as f64);
        if bytes > self.max_memory as f64 {
            return Err(FfpeError::invalid(
                "domain.cells",
                format!(
                    "{} cells need an estimated {} of memory for the grid vectors alone, above \
                     the limit of {}; reduce domain.cells, or raise the limit with `ffpe solve \
                     --max-memory`",
                    sig(n),
                    format_bytes(bytes),
                    format_bytes(self.max_memory as f64)
                ),
            ));
        }
        Ok(())
    }

    /// Refuses an estimate above the limits, naming the keys that drive it.
    pub fn check(&self, e: &Estimate) -> Result<()> {
        let bytes = e.bytes();
        if bytes > self.max_memory as f64 {
            let (keys, what) = e
                .largest()
                .map_or(("domain.cells", "grid"), |p| (p.keys, p.what));
            return Err(FfpeError::invalid(
                keys,
                format!(
                    "the problem needs an estimated {} of memory (largest part: {what}, {}; \
                     {} unknowns, {} time nodes), above the limit of {}; reduce {keys}, or raise \
                     the limit with `ffpe solve --max-memory`",
                    format_bytes(bytes),
                    format_bytes(e.largest().map_or(0.0, |p| p.bytes)),
                    sig(e.unknowns),
                    sig(e.nodes),
                    format_bytes(self.max_memory as f64),
                ),
            ));
        }
        if e.work > self.max_work {
            return Err(FfpeError::invalid(
                e.work_keys,
                format!(
                    "the problem needs an estimated {} operations ({} unknowns, {} time nodes; \
                     about {} s at 1e9 per second), above the limit of {}; reduce {}, or raise \
                     the limit with `ffpe solve --max-work` (a number, or none)",
                    sig(e.work),
                    sig(e.unknowns),
                    sig(e.nodes),
                    sig(e.work / 1e9),
                    sig(self.max_work),
                    e.work_keys,
                ),
            ));
        }
        Ok(())
    }
}

/// A number with three significant digits (`1.23e9`, `456`).
pub fn sig(x: f64) -> String {
    if x.is_finite() && x.abs() < 1e4 && (x == 0.0 || x.abs() >= 1e-2) {
        let s = format!("{x:.3}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        s.to_string()
    } else {
        format!("{x:.2e}")
    }
}

/// Largest grading of a mesh (the default one of `scheme`, or the user's, clamped as
/// the mesh builder does).
fn grading(mesh: MeshKind, alpha: f64, scheme: Scheme) -> f64 {
    let r = match mesh {
        MeshKind::Uniform => return 1.0,
        MeshKind::Graded { r } | MeshKind::GradedBlocks { r } => r,
    };
    r.unwrap_or_else(|| scheme.optimal_grading(alpha))
        .clamp(1.0, 8.0)
}

/// Time mesh: nodes, smallest step, factorisations (one per distinct step size).
struct MeshCost {
    nodes: f64,
    min_step: f64,
    factorizations: f64,
}

fn mesh_cost(opts: &SolveOptions, alpha: f64, outputs: f64) -> MeshCost {
    let n = opts.steps as f64;
    let r = grading(opts.mesh, alpha, opts.scheme);
    let t = opts.t_end;
    let first = t * n.powf(-r);
    let (nodes, factorizations) = match opts.mesh {
        MeshKind::Uniform => (n, 1.0),
        MeshKind::Graded { .. } => (n, n),
        // steps tau_1 2^m: r log2(N) sizes; about 1.45 N nodes on the examples
        MeshKind::GradedBlocks { .. } => (1.5 * n + 64.0, r * n.max(2.0).log2() + 2.0),
    };
    // every inserted output time splits a step into two new sizes
    let min_step = if outputs > 0.0 {
        first.min(t / (nodes + outputs))
    } else {
        first
    };
    MeshCost {
        nodes: nodes + outputs,
        min_step: min_step.max(1e-9 * t * n.powf(-r)).min(t),
        factorizations: factorizations + 2.0 * outputs,
    }
}

/// Entries per row of a direct factor of a `d`-D grid operator with `n` unknowns.
fn fill_per_row(n: f64, d: usize, lu: bool) -> f64 {
    let f = match d {
        1 => 2.0,
        2 => 4.0 * n.max(2.0).log2(),
        _ => 10.0 * n.powf(1.0 - 2.0 / d as f64),
    };
    (if lu { 4.0 * f } else { f }).min(n)
}

/// Operations of one direct factorisation.
fn factor_work(n: f64, d: usize, lu: bool) -> f64 {
    let w = match d {
        1 => 10.0 * n,
        2 => 10.0 * n.powf(1.5),
        _ => n.powf(3.0 - 3.0 / d as f64),
    };
    (if lu { 4.0 * w } else { w }).min(n.powi(3))
}

/// History storage (words per unknown) and work per step and unknown.
fn history_cost(h: HistoryKind, scheme: Scheme, n_exp: f64, nodes: f64) -> (f64, f64) {
    let two = if scheme == Scheme::L21Sigma { 2.0 } else { 1.0 };
    match h {
        HistoryKind::Soe { .. } => (two * n_exp, two * 4.0 * n_exp),
        // every past increment; the sum over them each step (half on average)
        HistoryKind::Direct => (nodes, two * nodes),
        HistoryKind::Fft => (4.0 * nodes, 10.0 * nodes.max(2.0).log2().powi(2)),
    }
}

/// Observables of one output time, bytes (time, mass, mean, moments, covariance, ...).
fn observable_bytes(d: usize) -> f64 {
    let d = d as f64;
    8.0 * (12.0 + 2.0 * d + d * d) + 4.0 * 24.0
}

/// Estimated memory and work of solving `problem` with `opts` on `grid`. Cheap: no
/// mesh, grid or history is built (the SOE kernel is, a few thousand numbers).
pub fn estimate(problem: &Problem, opts: &SolveOptions, grid: &GridSpec) -> Result<Estimate> {
    let d = problem.dim();
    let alpha = problem.alpha();
    let outputs = opts.output_times.len().max(1) as f64;
    let mesh = mesh_cost(opts, alpha, outputs);
    let n_exp = match opts.history {
        HistoryKind::Soe { tolerance } => {
            soe_exponentials(alpha, mesh.min_step, opts.t_end, tolerance).max(1) as f64
        }
        _ => 0.0,
    };
    let (hist_words, hist_work) = history_cost(opts.history, opts.scheme, n_exp, mesh.nodes);
    let stencil = (2 * d + 1) as f64;
    let mut parts = vec![
        Part {
            what: "time mesh",
            keys: "time.steps",
            bytes: 48.0 * mesh.nodes,
        },
        Part {
            what: "observables",
            keys: "output.times",
            bytes: outputs * observable_bytes(d),
        },
    ];
    let history_keys = match opts.history {
        HistoryKind::Soe { .. } => "time.t_end, time.tolerance, domain.cells",
        _ => "time.history, time.steps, domain.cells",
    };
    match grid {
        GridSpec::Full => {
            let n: f64 = problem.grid().cells().iter().map(|&c| c as f64).product();
            // extrapolation adds the solve on half the cells per axis
            let extra = if opts.extrapolate {
                1.0 + 0.5f64.powi(d as i32)
            } else {
                1.0
            };
            let lu = opts.backend == LinearBackend::Lu;
            let fill = fill_per_row(n, d, lu);
            parts.push(Part {
                what: "grid vectors and operator",
                keys: "domain.cells",
                bytes: extra * n * 8.0 * (12.0 + 2.0 * stencil),
            });
            parts.push(Part {
                what: "direct factorisation",
                keys: "domain.cells",
                bytes: extra * n * fill * 16.0,
            });
            parts.push(Part {
                what: "history",
                keys: history_keys,
                bytes: extra * n * hist_words * 8.0,
            });
            if opts.snapshots {
                parts.push(Part {
                    what: "density snapshots",
                    keys: "output.snapshots, output.times, domain.cells",
                    bytes: extra * outputs * n * 8.0,
                });
            }
            let per_step = n * (hist_work + 4.0 * fill + 2.0 * stencil + 20.0);
            let work = extra
                * (mesh.nodes * per_step
                    + mesh.factorizations * factor_work(n, d, lu)
                    // observables per output time (moments, free energy, distances to the
                    // steady state): measured ~60 s for 1e6 outputs on 192 cells
                    + outputs * (500.0 * n + 2e4));
            Ok(Estimate {
                parts,
                work,
                work_keys: "domain.cells, time.steps",
                unknowns: n,
                nodes: mesh.nodes,
            })
        }
        GridSpec::Sparse {
            level,
            min_level,
            options,
        } => {
            let (level, min_level) = (*level, *min_level);
            let refuse = |what: String| {
                FfpeError::invalid(
                    "grid.level",
                    format!(
                        "{what}; allowed 1 <= level <= {MAX_LEVEL} and a scheme of at most {} components",
                        sig(MAX_COMPONENTS)
                    ),
                )
            };
            // components: binom(level - min_level + d - 1, d - 1), before building any
            let q = level.saturating_sub(min_level) as f64;
            let mut count = 1.0;
            for i in 1..d {
                count = count * (q + i as f64) / i as f64;
            }
            if options.extrapolate {
                count *= 2.0;
            }
            if count > MAX_COMPONENTS {
                return Err(refuse(format!(
                    "level {level} in {d} dimensions gives about {} components",
                    sig(count)
                )));
            }
            let (l, m) = (
                u32::try_from(level).unwrap_or(u32::MAX),
                u32::try_from(min_level).unwrap_or(u32::MAX),
            );
            let scheme = if options.extrapolate {
                CombinationScheme::extrapolated(d, l, m)
            } else {
                CombinationScheme::truncated(d, l, m)
            }
            .map_err(|e| FfpeError::invalid("grid.level", e.to_string()))?;
            let iterative = match &options.linear_solver {
                ComponentLinearSolver::Auto => d >= 4,
                ComponentLinearSolver::Direct => false,
                ComponentLinearSolver::Iterative(_) => true,
            };
            let max_iter = match &options.linear_solver {
                ComponentLinearSolver::Iterative(k) => k.max_iterations as f64,
                _ => crate::sparse_grid::KrylovSettings::default().max_iterations as f64,
            };
            // BiCGSTAB iterations from the condition number of c I + A: c = 1 /
            // (Gamma(2 - a) tau^a), |A| ~ sum_i 4 D_i / h_i^2 on the finest axis
            let tau = opts.t_end / opts.steps.max(1) as f64;
            let g = problem.grid();
            let lam: f64 = (0..d)
                .map(|i| {
                    let h = (g.upper()[i] - g.lower()[i]) / 2f64.powi(level as i32);
                    4.0 * problem.diffusion_per_axis()[i] / (h * h)
                })
                .fold(0.0, f64::max);
            let kappa = 1.0 + lam * special::Gamma::gamma(2.0 - alpha) * tau.powf(alpha);
            let iters = (2.0 * kappa.sqrt() + 5.0).min(max_iter);
            let threads = options
                .threads
                .unwrap_or_else(|| {
                    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
                })
                .max(1);
            let mut sizes: Vec<f64> = scheme
                .components()
                .iter()
                .map(|c| c.unknowns() as f64)
                .collect();
            sizes.sort_by(|a, b| b.total_cmp(a));
            let per_unknown = |n: f64| {
                let solver = if iterative {
                    8.0 * (6.0 + stencil)
                } else {
                    16.0 * fill_per_row(n, d, true)
                };
                8.0 * (12.0 + 2.0 * stencil + hist_words) + solver
            };
            let running: f64 = sizes
                .iter()
                .take(threads)
                .map(|&n| n * per_unknown(n))
                .sum();
            parts.push(Part {
                what: "sparse-grid components running at once",
                keys: "grid.level, grid.threads",
                bytes: running,
            });
            parts.push(Part {
                what: "component results",
                keys: "grid.level, output.times",
                bytes: sizes.len() as f64 * outputs * (observable_bytes(d) + 64.0),
            });
            let work: f64 = sizes
                .iter()
                .map(|&n| {
                    let solve = if iterative {
                        iters * (4.0 * stencil + 12.0)
                    } else {
                        4.0 * fill_per_row(n, d, true)
                    };
                    let factor = if iterative {
                        0.0
                    } else {
                        mesh.factorizations * factor_work(n, d, true)
                    };
                    mesh.nodes * n * (hist_work + solve + 2.0 * stencil + 20.0) + factor
                })
                .sum();
            let unknowns = sizes.first().copied().unwrap_or(0.0);
            Ok(Estimate {
                parts,
                work,
                work_keys: if iterative && iters >= max_iter {
                    "grid.level, time.steps, equation.diffusion"
                } else {
                    "grid.level, time.steps"
                },
                unknowns,
                nodes: mesh.nodes,
            })
        }
    }
}
