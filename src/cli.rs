//! The `ffpe` command line (clap). `src/main.rs` only calls [`main`].

use crate::config::{FileSolution, GridSpec, read_file, run_file, run_sparse_file_on};
use crate::error::{FfpeError, Result};
use crate::predict::exponent_of_file;
use clap::{Parser, Subcommand};
use num_complex::Complex64;
use serde_json::json;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Time-fractional Fokker-Planck solver.
#[derive(Debug, Parser)]
#[command(name = "ffpe", version, about, long_about = None)]
pub struct Cli {
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Solve a problem file and print observables at the output times.
    ///
    /// `[grid] kind = "full"` (default) solves on the tensor grid of `[domain] cells`
    /// (1-3 dimensions); with `extrapolate = true` also on half the cells per axis and
    /// returns the Richardson combination `(4 u_h - u_2h) / 3` (fourth order in space,
    /// `1 + 2^-d` solves; even cells per axis; densities on the coarse grid). `[grid] kind = "sparse"` with `level = n` (1 to 24) solves 2-6 (up to 8)
    /// dimensions by the combination technique: `min_level` (default 2), `extrapolate =
    /// true` (Richardson of levels n and n-1), `threads`, `linear_solver = "auto" |
    /// "direct" | "iterative"`; the report adds the components, the unknowns against the
    /// equivalent full grid, wall time, peak memory and negative combined values.
    /// Before anything is allocated, the memory and work are estimated from the file and a
    /// problem above `--max-memory` or `--max-work` is refused (exit code 2), naming the
    /// keys. Examples: examples/*.toml.
    Solve {
        /// Problem file (TOML sections `[equation]`, `[potential]`, `[domain]`, `[initial]`, `[time]`, `[output]`, `[grid]`).
        problem: PathBuf,
        /// Print one JSON object on stdout: times, mass, mean, second_moment, msd, stats.
        #[arg(long)]
        json: bool,
        /// Also write observables.csv and (with `[output] snapshots = true`) density
        /// snapshots `density_K.csv` (K = output index) into this folder.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Discretisation of the Caputo derivative, overriding `[time] scheme`: `l1`
        /// (order 2 - alpha) or `l2-1sigma` (Alikhanov, order 2 on graded meshes).
        #[arg(long, value_name = "SCHEME")]
        scheme: Option<String>,
        /// Also print the exact continuum mean and `<w_i^2>` beside the numerical ones, and
        /// the largest error, where a closed form exists (flat potential: free subdiffusion,
        /// valid until the walls are felt; quadratic potential: fractional Ornstein-Uhlenbeck;
        /// no-flux walls). With `--json`: key `"exact"`.
        #[arg(long)]
        exact: bool,
        /// Largest estimated peak memory (`512MiB`, `2GiB`, `1e9` bytes; default: half the
        /// available memory, 4 GiB where unknown).
        #[arg(long, value_name = "SIZE")]
        max_memory: Option<String>,
        /// Largest estimated work in operations (`1e12`, or `none`; default 1e11, about a
        /// minute or two on one core).
        #[arg(long, value_name = "OPS")]
        max_work: Option<String>,
    },
    /// Steady state of a problem file: null-space solve versus Boltzmann closed form.
    Steady {
        /// Problem file.
        problem: PathBuf,
        /// Print JSON: mean, second_moment (per axis), l1_vs_boltzmann.
        #[arg(long)]
        json: bool,
    },
    /// Displacement exponent s of R(t) ~ t^s over a window (OLS of log R on log t).
    Exponent {
        /// Problem file.
        problem: PathBuf,
        /// Fit window T0,T1 (0 < T0 < T1 <= t_end); 24 log-spaced output times are added.
        #[arg(long, value_name = "T0,T1")]
        window: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Mittag-Leffler function E_{alpha,beta}(z): a header line `z E_{alpha,beta}(z)`, then
    /// one line per argument, `z value` (complex: `re,im re,im`).
    #[command(allow_negative_numbers = true)]
    Ml {
        /// alpha, 0.05 <= alpha <= 1 (the range where the accuracy, ~2e-15 relative, is
        /// measured; smaller orders are refused).
        #[arg(long)]
        alpha: f64,
        /// beta (real), |beta| <= 100.
        #[arg(long, default_value_t = 1.0)]
        beta: f64,
        /// Print JSON lines `{"z":[re,im],"value":[re,im]}` (an infinite value, beyond the
        /// range of f64, is `null` there: JSON has no infinity; the text output says `inf`).
        #[arg(long)]
        json: bool,
        /// Arguments: `x` or `x,y` for x + iy (negative values allowed; use `--` before them
        /// if the first one starts with `-`).
        #[arg(required = true, allow_hyphen_values = true)]
        z: Vec<String>,
    },
}

/// Parses and runs; returns the process exit code.
///
/// Built with the cargo feature `mpi` and started by an MPI launcher (`mpirun -np N`,
/// `srun`), it joins MPI: `solve` of a `[grid] kind = "sparse"` file spreads the
/// components over the ranks ([`crate::sparse_grid::solve_combination_on`]); every other
/// command runs on rank 0 alone. Only rank 0 prints, writes files and reports errors.
pub fn main() -> i32 {
    let cli = Cli::parse();
    #[cfg(feature = "mpi")]
    if crate::distributed::mpi::MpiRanks::launched() {
        let Some(ranks) = crate::distributed::mpi::MpiRanks::init() else {
            eprintln!("error: MPI could not be initialised");
            return 2;
        };
        return exit_code(run_on(cli, &ranks), &ranks);
    }
    exit_code(run(cli), &crate::distributed::SingleProcess)
}

fn exit_code(result: Result<()>, ranks: &dyn crate::distributed::Ranks) -> i32 {
    match result {
        Ok(()) => 0,
        Err(e) => {
            if ranks.is_root() {
                eprintln!("error: {e}");
            }
            2
        }
    }
}

fn parse_z(s: &str) -> Result<Complex64> {
    let bad = || FfpeError::WrongType {
        key: format!("z = \"{s}\""),
        expected: "`x` or `x,y` (real numbers)".into(),
    };
    let mut parts = s.split(',');
    let re: f64 = parts
        .next()
        .ok_or_else(bad)?
        .trim()
        .parse()
        .map_err(|_| bad())?;
    let im: f64 = match parts.next() {
        Some(p) => p.trim().parse().map_err(|_| bad())?,
        None => 0.0,
    };
    if parts.next().is_some() || !re.is_finite() || !im.is_finite() {
        return Err(bad());
    }
    Ok(Complex64::new(re, im))
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    run_on(cli, &crate::distributed::SingleProcess)
}

/// Runs a parsed command line as one of `ranks` (collective): sparse-grid solves are
/// spread over the ranks, everything else runs on rank 0; only rank 0 prints or writes.
pub fn run_on(cli: Cli, ranks: &dyn crate::distributed::Ranks) -> Result<()> {
    let sparse_solve = matches!(cli.command, Command::Solve { .. });
    if !ranks.is_root() && !sparse_solve {
        return Ok(());
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match cli.command {
        Command::Solve {
            problem,
            json,
            out: dir,
            scheme,
            exact,
            max_memory,
            max_work,
        } => {
            let mut limits = crate::config::Limits::default();
            if let Some(m) = &max_memory {
                limits.max_memory = crate::config::budget::parse_bytes("--max-memory", m)?;
            }
            if let Some(w) = &max_work {
                limits.max_work = crate::config::budget::parse_work("--max-work", w)?;
            }
            let mut file = crate::config::read_file_with_limits(&problem, &limits)?;
            if let Some(name) = scheme {
                file = file.with_scheme(&name, "--scheme")?;
                limits.check(&crate::config::budget::estimate(
                    &file.problem,
                    &file.options,
                    &file.grid,
                )?)?;
            }
            let sol = match &file.grid {
                GridSpec::Sparse { .. } => match run_sparse_file_on(&file, ranks)? {
                    Some(sol) => sol,
                    None => return Ok(()), // not rank 0: rank 0 prints
                },
                _ if !ranks.is_root() => return Ok(()),
                _ => run_file(&file)?,
            };
            if let Some(dir) = dir {
                let written = write_outputs(&dir, &sol)?;
                eprintln!(
                    "wrote {} files to {}: {}",
                    written.len(),
                    dir.display(),
                    summarise_files(&written)
                );
            }
            let exact_rows = if exact {
                Some(exact_table(&file, &sol)?)
            } else {
                None
            };
            if json {
                let mut v = solution_json(&sol);
                if let Some(rows) = &exact_rows {
                    v["exact"] = exact_json(rows);
                }
                writeln!(out, "{v}")?;
            } else {
                print_table(&mut out, &sol)?;
                if let Some(rows) = &exact_rows {
                    print_exact(&mut out, rows)?;
                }
            }
        }
        Command::Steady { problem, json } => {
            let file = read_file(&problem)?;
            let s = crate::predict::steady_state(&file.problem)?;
            if json {
                let v = json!({
                    "mean": s.observables.mean,
                    "second_moment": s.observables.second_moment,
                    "l1_vs_boltzmann": s.l1_vs_boltzmann,
                    "residual": s.residual,
                    "free_energy": s.observables.free_energy,
                });
                writeln!(out, "{v}")?;
            } else {
                writeln!(
                    out,
                    "steady state (null-space solve, {} cells)",
                    s.density.len()
                )?;
                writeln!(out, "  mean           {:?}", s.observables.mean)?;
                writeln!(out, "  second moment  {:?}", s.observables.second_moment)?;
                match s.l1_vs_boltzmann {
                    Some(l1) => writeln!(out, "  L1 distance to Boltzmann closed form  {l1:.3e}")?,
                    None => writeln!(out, "  no Boltzmann closed form for this problem")?,
                }
                writeln!(out, "  max |A p|      {:.3e}", s.residual)?;
            }
        }
        Command::Exponent {
            problem,
            window,
            json,
        } => {
            let file = read_file(&problem)?;
            let w: Vec<f64> = window
                .split(',')
                .map(|x| x.trim().parse::<f64>())
                .collect::<std::result::Result<_, _>>()
                .map_err(|_| FfpeError::WrongType {
                    key: "--window".into(),
                    expected: "T0,T1 (two numbers)".into(),
                })?;
            if w.len() != 2 {
                return Err(FfpeError::out_of_range(
                    "--window",
                    &window,
                    &format!("T0,T1 with 0 < T0 < T1 <= t_end = {}", file.options.t_end),
                ));
            }
            let fit = exponent_of_file(file.clone(), (w[0], w[1]), "--window")?;
            if json {
                writeln!(
                    out,
                    "{}",
                    json!({ "displacement_exponent": fit.slope, "r2": fit.r2, "stderr": fit.stderr,
                            "ci95": [fit.ci95.0, fit.ci95.1], "points": fit.n,
                            "caputo_alpha": file.problem.alpha() })
                )?;
            } else {
                writeln!(
                    out,
                    "displacement exponent s = {:.6} (95% CI [{:.6}, {:.6}], r^2 = {:.6}, {} points); free subdiffusion predicts alpha/2 = {:.6}",
                    fit.slope,
                    fit.ci95.0,
                    fit.ci95.1,
                    fit.r2,
                    fit.n,
                    file.problem.alpha() / 2.0
                )?;
            }
        }
        Command::Ml {
            alpha,
            beta,
            json,
            z,
        } => {
            let min = crate::solvers::mittag_leffler::MIN_ORDER;
            if !(alpha.is_finite() && (min..=1.0).contains(&alpha)) {
                return Err(FfpeError::out_of_range(
                    "--alpha",
                    crate::error::fmt_num(alpha),
                    "0.05 <= alpha <= 1 (the range where the accuracy is measured)",
                ));
            }
            if !(beta.is_finite() && beta.abs() <= 100.0) {
                return Err(FfpeError::out_of_range(
                    "--beta",
                    crate::error::fmt_num(beta),
                    "-100 <= beta <= 100",
                ));
            }
            if !json {
                let (a, b) = (crate::error::fmt_num(alpha), crate::error::fmt_num(beta));
                writeln!(out, "z E_{{{a},{b}}}(z)")?;
            }
            for s in &z {
                let zc = parse_z(s)?;
                let v = if zc.im == 0.0 {
                    Complex64::new(
                        crate::solvers::mittag_leffler::mittag_leffler(alpha, beta, zc.re)?,
                        0.0,
                    )
                } else {
                    crate::solvers::mittag_leffler::mittag_leffler_complex(alpha, beta, zc)?
                };
                if json {
                    writeln!(
                        out,
                        "{}",
                        json!({"z": [zc.re, zc.im], "value": [v.re, v.im]})
                    )?;
                } else if zc.im == 0.0 {
                    writeln!(out, "{} {}", sci(zc.re, 17), sci(v.re, 17))?;
                } else {
                    writeln!(
                        out,
                        "{},{} {},{}",
                        sci(zc.re, 17),
                        sci(zc.im, 17),
                        sci(v.re, 17),
                        sci(v.im, 17)
                    )?;
                }
            }
        }
    }
    Ok(())
}

/// The `--json` object of `ffpe solve`.
pub fn solution_json(sol: &FileSolution) -> serde_json::Value {
    let o = &sol.observables;
    json!({
        "times": o.iter().map(|x| x.time).collect::<Vec<_>>(),
        "mass": o.iter().map(|x| x.mass).collect::<Vec<_>>(),
        "mean": o.iter().map(|x| x.mean.clone()).collect::<Vec<_>>(),
        "second_moment": o.iter().map(|x| x.second_moment.clone()).collect::<Vec<_>>(),
        "covariance": o.iter().map(|x| x.covariance.clone()).collect::<Vec<_>>(),
        "msd": o.iter().map(|x| x.msd).collect::<Vec<_>>(),
        "r": o.iter().map(|x| x.r).collect::<Vec<_>>(),
        "free_energy": o.iter().map(|x| x.free_energy).collect::<Vec<_>>(),
        "kl_to_steady": o.iter().map(|x| x.kl_to_steady).collect::<Vec<_>>(),
        "l1_to_steady": o.iter().map(|x| x.l1_to_steady).collect::<Vec<_>>(),
        "stop_reason": format!("{:?}", sol.stop_reason),
        "stop_reason_text": stop_reason_text(sol.stop_reason),
        "stats": sol.stats,
        "sparse": sol.sparse,
        "extrapolation": sol.extrapolation,
    })
}

/// `x` in scientific notation with `prec` digits after the point and a signed two-digit
/// exponent (`1.793058e+00`), as C's `%e` and Python's `float()` read it.
pub fn sci(x: f64, prec: usize) -> String {
    let s = format!("{x:.prec$e}");
    match s.split_once('e') {
        Some((mant, exp)) => match exp.parse::<i32>() {
            Ok(e) => format!("{mant}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs()),
            Err(_) => s,
        },
        None => s, // inf, NaN
    }
}

/// Why the solve stopped, in words.
pub fn stop_reason_text(r: crate::solve::StopReason) -> &'static str {
    match r {
        crate::solve::StopReason::FinalTime => "reached the final time",
        crate::solve::StopReason::ObserverStop => "stopped by an observer",
        crate::solve::StopReason::MaxSteps => "stopped at the step limit (time.max_steps)",
    }
}

/// One output time of `--exact`: time, numerical and exact mean and `<w_i^2>` per axis.
struct ExactRow {
    time: f64,
    mean: Vec<f64>,
    mean_exact: Vec<f64>,
    second: Vec<f64>,
    second_exact: Vec<f64>,
}

fn exact_table(file: &crate::config::ProblemFile, sol: &FileSolution) -> Result<Vec<ExactRow>> {
    let mut rows = Vec::with_capacity(sol.observables.len());
    for o in &sol.observables {
        let Some((m, s)) = crate::reference::exact_moments(&file.problem, o.time)? else {
            return Err(FfpeError::invalid(
                "--exact",
                "no closed form for this problem: needs [potential] kind = \"flat\" or \"quadratic\" and no-flux walls",
            ));
        };
        rows.push(ExactRow {
            time: o.time,
            mean: o.mean.clone(),
            mean_exact: m,
            second: o.second_moment.clone(),
            second_exact: s,
        });
    }
    Ok(rows)
}

fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

fn exact_json(rows: &[ExactRow]) -> serde_json::Value {
    json!({
        "times": rows.iter().map(|r| r.time).collect::<Vec<_>>(),
        "mean": rows.iter().map(|r| r.mean_exact.clone()).collect::<Vec<_>>(),
        "second_moment": rows.iter().map(|r| r.second_exact.clone()).collect::<Vec<_>>(),
        "max_error_mean": rows.iter().map(|r| max_abs_diff(&r.mean, &r.mean_exact)).fold(0.0, f64::max),
        "max_error_second_moment": rows.iter().map(|r| max_abs_diff(&r.second, &r.second_exact)).fold(0.0, f64::max),
    })
}

fn print_exact(out: &mut impl Write, rows: &[ExactRow]) -> Result<()> {
    let f = |v: &[f64]| v.iter().map(|x| sci(*x, 6)).collect::<Vec<_>>().join(",");
    writeln!(
        out,
        "exact continuum moments (closed form) beside the numerical ones:"
    )?;
    writeln!(
        out,
        "{:>13} {:>28} {:>28} {:>12} {:>28} {:>12}",
        "t", "mean (exact)", "mean (numerical)", "error", "<w_i^2> (exact)", "error"
    )?;
    for r in rows {
        writeln!(
            out,
            "{:>13} {:>28} {:>28} {:>12} {:>28} {:>12}",
            sci(r.time, 6),
            f(&r.mean_exact),
            f(&r.mean),
            sci(max_abs_diff(&r.mean, &r.mean_exact), 2),
            f(&r.second_exact),
            sci(max_abs_diff(&r.second, &r.second_exact), 2),
        )?;
    }
    Ok(())
}

fn summarise_files(files: &[String]) -> String {
    let densities = files.iter().filter(|f| f.starts_with("density_")).count();
    let mut named: Vec<&str> = files
        .iter()
        .filter(|f| !f.starts_with("density_"))
        .map(String::as_str)
        .collect();
    let d;
    if densities > 0 {
        d = format!("{densities} density snapshots density_K.csv");
        named.push(&d);
    }
    named.join(", ")
}

fn print_table(out: &mut impl Write, sol: &FileSolution) -> Result<()> {
    writeln!(
        out,
        "{:>13} {:>14} {:>28} {:>28} {:>13}",
        "t", "mass", "mean", "<w_i^2>", "msd"
    )?;
    for o in &sol.observables {
        let f = |v: &[f64]| v.iter().map(|x| sci(*x, 6)).collect::<Vec<_>>().join(",");
        writeln!(
            out,
            "{:>13} {:>14.10} {:>28} {:>28} {:>13}",
            sci(o.time, 6),
            o.mass,
            f(&o.mean),
            f(&o.second_moment),
            sci(o.msd, 6)
        )?;
    }
    let s = &sol.stats;
    writeln!(
        out,
        "{}; {} steps, {} unknowns, {} factorizations, {} history terms, {} exponentials, {:.3} s",
        stop_reason_text(sol.stop_reason),
        s.steps,
        s.unknowns,
        s.factorizations,
        s.history_terms,
        s.exponentials,
        s.seconds
    )?;
    if let Some(sparse) = &sol.sparse {
        writeln!(out, "{}", sparse.summary())?;
    }
    if let Some(x) = &sol.extrapolation {
        writeln!(out, "{}", x.summary())?;
    }
    Ok(())
}

/// Suffix of the temporary files of [`write_atomic`] (`.NAME.<pid>.ffpe-tmp`).
const TMP_SUFFIX: &str = ".ffpe-tmp";

/// Writes the file `path` atomically: `write` fills a temporary file in the same folder
/// (`.NAME.<pid>.ffpe-tmp`), which is flushed, synced to disk and renamed over `path`.
/// On any error (a full disk included) the temporary is removed and `path` is left as it
/// was: a reader sees the whole new file or none of it, never a torn one.
pub fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map_or_else(|| "output".into(), |n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(".{name}.{}{TMP_SUFFIX}", std::process::id()));
    let result = write_and_rename(&tmp, path, write);
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        FfpeError::file(path, e)
    })
}

/// The steps of [`write_atomic`]: write `tmp`, flush, sync, rename it to `path`.
fn write_and_rename(
    tmp: &Path,
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let file = std::fs::File::create(tmp)?;
    let mut w = std::io::BufWriter::new(file);
    write(&mut w)?;
    let file = w
        .into_inner()
        .map_err(std::io::IntoInnerError::into_error)?;
    file.sync_all()?;
    std::fs::rename(tmp, path)
}

/// Removes the temporaries of [`write_atomic`] left in `dir` by a run that was killed
/// (only ours: `.*.<pid>.ffpe-tmp`).
fn remove_stale_temporaries(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') && name.ends_with(TMP_SUFFIX) && e.path().is_file() {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Writes `observables.csv`, `stats.json` and `density_<k>.csv` snapshots (columns `t`,
/// `x_0`, ..., `p`) into `dir`, each atomically ([`write_atomic`]); returns the names of
/// the files written.
pub fn write_outputs(dir: &Path, sol: &FileSolution) -> Result<Vec<String>> {
    let mut written = vec!["observables.csv".to_string(), "stats.json".to_string()];
    std::fs::create_dir_all(dir).map_err(|e| FfpeError::file(dir, e))?;
    remove_stale_temporaries(dir);
    write_atomic(&dir.join("observables.csv"), |f| write_observables(f, sol))?;
    let stats = serde_json::to_string_pretty(
        &json!({"stats": sol.stats, "stop_reason": format!("{:?}", sol.stop_reason),
                "stop_reason_text": stop_reason_text(sol.stop_reason)}),
    )
    .unwrap_or_default();
    write_atomic(&dir.join("stats.json"), |f| f.write_all(stats.as_bytes()))?;
    for (k, s) in sol.snapshots.iter().enumerate() {
        let name = format!("density_{k}.csv");
        write_atomic(&dir.join(&name), |f| write_density(f, s))?;
        written.push(name);
    }
    Ok(written)
}

/// `observables.csv`: one header line, one row per output time.
fn write_observables(f: &mut dyn Write, sol: &FileSolution) -> std::io::Result<()> {
    let d = sol.observables.first().map_or(0, |o| o.mean.len());
    let mut header = vec!["time".to_string(), "mass".to_string()];
    header.extend((0..d).map(|a| format!("mean_{a}")));
    header.extend((0..d).map(|a| format!("second_moment_{a}")));
    header.extend(["msd", "r", "free_energy", "kl_to_steady", "l1_to_steady"].map(String::from));
    writeln!(f, "{}", header.join(","))?;
    let opt = |x: Option<f64>| x.map_or(String::new(), |v| format!("{v:.17e}"));
    for o in &sol.observables {
        let mut row = vec![format!("{:.17e}", o.time), format!("{:.17e}", o.mass)];
        row.extend(o.mean.iter().map(|x| format!("{x:.17e}")));
        row.extend(o.second_moment.iter().map(|x| format!("{x:.17e}")));
        row.push(format!("{:.17e}", o.msd));
        row.push(format!("{:.17e}", o.r));
        row.push(opt(o.free_energy));
        row.push(opt(o.kl_to_steady));
        row.push(opt(o.l1_to_steady));
        writeln!(f, "{}", row.join(","))?;
    }
    Ok(())
}

/// `density_K.csv`: columns `t`, `x_0`, ..., `p`, one row per cell.
fn write_density(f: &mut dyn Write, s: &crate::config::Snapshot) -> std::io::Result<()> {
    let g = &s.grid;
    let mut h = vec!["t".to_string()];
    h.extend((0..g.dim()).map(|a| format!("x_{a}")));
    h.push("p".into());
    writeln!(f, "{}", h.join(","))?;
    let t = format!("{:.17e}", s.time);
    let mut c = vec![0.0; g.dim()];
    for (idx, p) in s.density.iter().enumerate() {
        g.centre_into(idx, &mut c);
        let mut row = vec![t.clone()];
        row.extend(c.iter().map(|x| format!("{x:.10e}")));
        row.push(format!("{p:.17e}"));
        writeln!(f, "{}", row.join(","))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that fails (like a full disk) after `left` bytes.
    struct FullDisk<'a> {
        inner: &'a mut dyn Write,
        left: usize,
    }

    impl Write for FullDisk<'_> {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.left == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::StorageFull,
                    "no space left on device",
                ));
            }
            let n = buf.len().min(self.left);
            self.left -= n;
            self.inner.write(&buf[..n])
        }
        fn flush(&mut self) -> std::io::Result<()> {
            self.inner.flush()
        }
    }

    /// A write that fails half way leaves neither a partial file nor a temporary, and an
    /// existing file keeps its old content.
    #[test]
    fn failed_write_leaves_no_partial_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("density_0.csv");
        let rows = |f: &mut dyn Write| -> std::io::Result<()> {
            let mut f = FullDisk {
                inner: f,
                left: 100,
            };
            for i in 0..1000 {
                writeln!(f, "{i},1.2345678901234567e-01")?;
            }
            f.flush()
        };
        let e = write_atomic(&path, rows).unwrap_err();
        assert!(e.to_string().contains("density_0.csv"), "{e}");
        assert!(!path.exists());
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert!(left.is_empty(), "{left:?}");
        // an existing file is replaced whole or not at all
        write_atomic(&path, |f| f.write_all(b"old\n")).unwrap();
        assert!(write_atomic(&path, rows).is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        // stale temporaries of ours are removed by the next write of the outputs
        let stale = dir.path().join(".observables.csv.1.ffpe-tmp");
        std::fs::write(&stale, "torn").unwrap();
        remove_stale_temporaries(dir.path());
        assert!(!stale.exists());
    }
}
