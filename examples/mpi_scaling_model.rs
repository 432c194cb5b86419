//! A MODEL (not a measurement) of `mpirun -np P ffpe solve` for a sparse-grid problem on
//! P = 64 ... 1024 ranks, from the per-component wall times MEASURED in one run.
//!
//! ```sh
//! RAYON_NUM_THREADS=1 ffpe solve benches/problems/ou_6d_sparse.toml --json > one.json
//! mpirun -np 2 -x RAYON_NUM_THREADS=1 ffpe solve benches/problems/ou_6d_sparse.toml --json > two.json
//! cargo run --release --example mpi_scaling_model -- one.json [two.json] [LEVEL...]
//! ```
//!
//! `one.json` is a single-process, one-thread run (its `sparse.component_stats` hold the
//! wall time of every component); `two.json`, optional, a 2-rank run of the same file
//! whose measured wall time is printed next to the model's P = 2 value. The levels after
//! them (default: 7 and 8) are modelled with the same dimension, `min_level`, scheme and
//! step count.
//!
//! The model:
//!
//! - **Assignment**: the rule of `ffpe` itself, [`balanced_assignment`] (LPT) of the
//!   predicted costs unknowns x steps ([`component_costs`]) to P ranks.
//! - **Component times**: at the measured level, the measured wall times. At other levels,
//!   `c x unknowns x steps` with `c` (seconds per unknown and step) calibrated on the
//!   measured components (total measured seconds / total unknowns x steps); the spread of
//!   the measured-to-predicted ratio is printed (the misprediction error).
//! - **Makespan**: the largest sum of component times of any rank, for two cases:
//!   "predicted" (ranks assigned by unknowns x steps, as `ffpe` does, times as measured:
//!   the misprediction costs balance) and "perfect" (assigned by the true times). At the
//!   modelled levels "predicted" draws every component's time as `c x unknowns x steps`
//!   times a log-normal factor with the measured spread of log(ratio) (mean of 20 seeded
//!   draws), "perfect" uses no factor.
//! - **Serial part**: rank 0's combination (measured: whole-solve wall minus the
//!   components' wall in `one.json`), scaled by the number of components.
//! - **Reduction**: every rank sends its moments to rank 0 in one gather
//!   ([`component_message_bytes`] per component plus [`RANK_MESSAGE_HEADER_BYTES`]);
//!   modelled as a linear gather into rank 0, `(P - 1) x latency + total bytes /
//!   bandwidth`, with latency 2 us and bandwidth 10 GB/s (assumed, a typical InfiniBand
//!   node link; no network contention).
//! - **Not modelled**: start-up of P processes, memory-bandwidth sharing between the ranks
//!   of one node, stragglers, the time to build each component's operator (inside the
//!   measured component times).

use std::error::Error;

use ffpe::distributed::{Assignment, balanced_assignment};
use ffpe::sparse_grid::{
    CombinationScheme, RANK_MESSAGE_HEADER_BYTES, component_costs, component_message_bytes,
};
use serde_json::Value;

/// Rank counts of the model.
const RANKS: [usize; 7] = [1, 2, 64, 128, 256, 512, 1024];
/// Gather latency per message, seconds (assumed).
const LATENCY_S: f64 = 2e-6;
/// Gather bandwidth into rank 0, bytes per second (assumed).
const BANDWIDTH: f64 = 10e9;
/// Seeded draws of the misprediction factors at the modelled levels.
const DRAWS: u64 = 20;

/// What the model needs from one `ffpe solve --json` run.
struct Measured {
    dim: usize,
    level: u32,
    min_level: u32,
    extrapolated: bool,
    snapshots: usize,
    steps: usize,
    /// Per component, in scheme order: levels and wall seconds.
    components: Vec<(Vec<u32>, f64)>,
    wall: f64,
    /// Components' wall on rank 0 (all of them in a single-process run).
    components_wall: f64,
    ranks: usize,
    rank_stats: Vec<(usize, f64, Option<f64>)>,
}

fn field<'a>(v: &'a Value, key: &str) -> Result<&'a Value, Box<dyn Error>> {
    v.get(key)
        .ok_or_else(|| format!("missing field `{key}` in the --json output").into())
}

fn num(v: &Value, key: &str) -> Result<f64, Box<dyn Error>> {
    field(v, key)?
        .as_f64()
        .ok_or_else(|| format!("field `{key}` is not a number").into())
}

fn read(path: &str) -> Result<Measured, Box<dyn Error>> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let root: Value = serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))?;
    let s = field(&root, "sparse")
        .map_err(|_| format!("{path}: no `sparse` object (not a sparse-grid run?)"))?;
    let mut components = Vec::new();
    let mut steps = 0;
    for c in field(s, "component_stats")?
        .as_array()
        .ok_or("component_stats is not a list")?
    {
        let levels: Vec<u32> = field(c, "levels")?
            .as_array()
            .ok_or("levels is not a list")?
            .iter()
            .map(|l| {
                l.as_u64()
                    .map(|l| l as u32)
                    .ok_or("level is not an integer")
            })
            .collect::<Result<_, _>>()?;
        steps = num(field(c, "work")?, "steps")? as usize;
        components.push((levels, num(c, "seconds")?));
    }
    let rank_stats = field(s, "rank_stats")?
        .as_array()
        .ok_or("rank_stats is not a list")?
        .iter()
        .map(|r| {
            Ok((
                num(r, "components")? as usize,
                num(r, "wall_seconds")?,
                r.get("peak_rss_bytes").and_then(Value::as_f64),
            ))
        })
        .collect::<Result<Vec<_>, Box<dyn Error>>>()?;
    // `times` are the requested output times; t = 0 is always solved (and sent) too
    let times: Vec<f64> = field(&root, "times")?
        .as_array()
        .ok_or("times is not a list")?
        .iter()
        .filter_map(Value::as_f64)
        .collect();
    let snapshots = times.len() + usize::from(times.first().is_none_or(|&t| t > 0.0));
    Ok(Measured {
        dim: num(s, "dim")? as usize,
        level: num(s, "level")? as u32,
        min_level: num(s, "min_level")? as u32,
        extrapolated: field(s, "extrapolated")?.as_bool().unwrap_or(false),
        snapshots,
        steps,
        components,
        wall: num(s, "wall_seconds")?,
        components_wall: rank_stats.first().map_or(0.0, |r| r.1),
        ranks: num(s, "ranks")? as usize,
        rank_stats,
    })
}

fn scheme(dim: usize, level: u32, min_level: u32, extrapolated: bool) -> CombinationScheme {
    let s = if extrapolated {
        CombinationScheme::extrapolated(dim, level, min_level)
    } else {
        CombinationScheme::truncated(dim, level, min_level)
    };
    s.unwrap_or_else(|e| panic!("scheme d = {dim}, level {level}: {e}"))
}

/// Largest per-rank sum of `times` under `assignment`, and max / mean of those sums.
fn makespan(assignment: &Assignment, times: &[f64]) -> (f64, f64) {
    let mut loads = vec![0.0; assignment.parts()];
    for (i, &t) in times.iter().enumerate() {
        loads[assignment.owner[i]] += t;
    }
    let max = loads.iter().copied().fold(0.0, f64::max);
    let mean = loads.iter().sum::<f64>() / loads.len() as f64;
    (max, if mean > 0.0 { max / mean } else { 1.0 })
}

/// LPT on the times themselves (perfect prediction), via integer nanoseconds.
fn perfect(times: &[f64], parts: usize) -> Assignment {
    let ns: Vec<u128> = times.iter().map(|t| (t * 1e9).round() as u128).collect();
    balanced_assignment(&ns, parts)
}

/// xorshift64* and Box-Muller: seeded standard normal numbers (no dependency).
struct Normal(u64);

impl Normal {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        ((self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn sample(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// Bytes each rank sends to rank 0 under `assignment` (default request of `ffpe solve`).
fn gather_bytes(assignment: &Assignment, dim: usize, snapshots: usize) -> Vec<usize> {
    let per = component_message_bytes(dim, snapshots, false, 0, &[]);
    let mut bytes = vec![RANK_MESSAGE_HEADER_BYTES; assignment.parts()];
    for &o in &assignment.owner {
        bytes[o] += per;
    }
    bytes
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(one_path) = args.first() else {
        return Err("usage: mpi_scaling_model ONE.json [TWO.json] [LEVEL...]".into());
    };
    let one = read(one_path)?;
    if one.ranks != 1 {
        return Err(format!(
            "{one_path}: a single-process run is needed, found {} ranks",
            one.ranks
        )
        .into());
    }
    let mut two = None;
    let mut levels = Vec::new();
    for a in &args[1..] {
        match a.parse::<u32>() {
            Ok(l) => levels.push(l),
            Err(_) => two = Some(read(a)?),
        }
    }
    if levels.is_empty() {
        levels = vec![one.level + 1, one.level + 2];
    }
    let base = scheme(one.dim, one.level, one.min_level, one.extrapolated);
    if base.components().len() != one.components.len()
        || base
            .components()
            .iter()
            .zip(&one.components)
            .any(|(c, m)| c.levels != m.0)
    {
        return Err("the measured components are not those of the scheme, in scheme order".into());
    }
    let measured: Vec<f64> = one.components.iter().map(|c| c.1).collect();
    let predicted = component_costs(&base, one.steps);
    let total_s: f64 = measured.iter().sum();
    // robust calibration: the median of measured / predicted (on a shared machine a few
    // components are slowed many times by time-sharing; they must not set c), and the
    // spread of log(ratio) by its median absolute deviation (x 1.4826: sigma of a normal)
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let ratios: Vec<f64> = measured
        .iter()
        .zip(&predicted)
        .map(|(&m, &p)| m / p as f64)
        .collect();
    let c = median(ratios.clone());
    let logs: Vec<f64> = ratios.iter().map(|r| (r / c).ln()).collect();
    let sigma = 1.4826 * median(logs.iter().map(|l| l.abs()).collect());
    let (lo, hi) = logs
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &l| {
            (a.min(l), b.max(l))
        });
    let serial = (one.wall - one.components_wall).max(0.0);
    println!(
        "MEASURED (from {one_path}): d = {}, level {}, min_level {}, extrapolated {}, {} components, \
         {} steps, {} output times",
        one.dim,
        one.level,
        one.min_level,
        one.extrapolated,
        one.components.len(),
        one.steps,
        one.snapshots
    );
    println!(
        "  components: {total_s:.2} s in total (1 thread), largest {:.3} s; whole solve {:.2} s, \
         rank-0 combination (serial part) {serial:.3} s",
        measured.iter().copied().fold(0.0, f64::max),
        one.wall
    );
    println!(
        "  calibration c = {c:.3e} s per unknown and step (median); measured / (c x predicted) per \
         component: {:.3} .. {:.3}, robust log-spread sigma {sigma:.3}; c x all predicted = {:.1} s",
        lo.exp(),
        hi.exp(),
        c * predicted.iter().map(|&p| p as f64).sum::<f64>()
    );
    let per_component = component_message_bytes(one.dim, one.snapshots, false, 0, &[]);
    println!(
        "  reduction: {per_component} bytes per component + {RANK_MESSAGE_HEADER_BYTES} per rank; \
         gather model (P - 1) x {:.0} us + bytes / {:.0} GB/s (ASSUMED)",
        LATENCY_S * 1e6,
        BANDWIDTH / 1e9
    );
    if let Some(two) = &two {
        let a = balanced_assignment(&predicted, 2);
        let (m, _) = makespan(&a, &measured);
        println!(
            "  check at P = 2: model {:.2} s (makespan {m:.2} s + serial {serial:.3} s) vs measured \
             2-rank solve {:.2} s (rank walls {})",
            m + serial,
            two.wall,
            two.rank_stats
                .iter()
                .map(|r| format!("{:.2} s/{} components", r.1, r.0))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    println!();
    println!("MODEL, not a measurement: modelled wall time on P ranks x 1 thread");
    println!(
        "| level | components | P | makespan (predicted cost) | makespan (perfect) | gather | total | \
         speed-up | efficiency | balance max/mean | largest message to rank 0 | all bytes to rank 0 |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    // the measured level twice: with the measured times, and modelled like the others
    let mut rows = vec![(one.level, true), (one.level, false)];
    rows.extend(levels.iter().map(|&l| (l, false)));
    for &(level, is_measured) in &rows {
        let s = scheme(one.dim, level, one.min_level, one.extrapolated);
        let costs = component_costs(&s, one.steps);
        let ideal: Vec<f64> = costs.iter().map(|&p| c * p as f64).collect();
        let serial_l = serial * s.components().len() as f64 / one.components.len() as f64;
        let mut t1 = None;
        for &p in &RANKS {
            let a = balanced_assignment(&costs, p);
            let (mk_pred, bal) = if is_measured {
                makespan(&a, &measured)
            } else {
                // misprediction: log-normal factors with the measured spread, seeded
                let (mut sum, mut bal_sum) = (0.0, 0.0);
                for draw in 0..DRAWS {
                    let mut rng = Normal(0x9E37_79B9_7F4A_7C15 ^ (draw + 1));
                    let noisy: Vec<f64> = ideal
                        .iter()
                        .map(|&t| t * (sigma * rng.sample() - 0.5 * sigma * sigma).exp())
                        .collect();
                    let (m, b) = makespan(&a, &noisy);
                    sum += m;
                    bal_sum += b;
                }
                (sum / DRAWS as f64, bal_sum / DRAWS as f64)
            };
            let truth = if is_measured { &measured } else { &ideal };
            let (mk_perfect, _) = makespan(&perfect(truth, p), truth);
            let bytes = gather_bytes(&a, one.dim, one.snapshots);
            let all: usize = bytes.iter().sum();
            let gather = (p - 1) as f64 * LATENCY_S + all as f64 / BANDWIDTH;
            let total = mk_pred + serial_l + gather;
            let t1v = *t1.get_or_insert(total);
            let speedup = t1v / total;
            println!(
                "| {level}{} | {} | {p} | {mk_pred:.2} s | {mk_perfect:.2} s | {:.2} ms | {total:.2} s | \
                 {speedup:.1} | {:.1}% | {bal:.3} | {} B | {:.1} KiB |",
                if is_measured {
                    " (measured costs)"
                } else {
                    " (predicted)"
                },
                s.components().len(),
                gather * 1e3,
                100.0 * speedup / p as f64,
                bytes.iter().max().copied().unwrap_or(0),
                all as f64 / 1024.0
            );
        }
        let largest = truth_max(if is_measured { &measured } else { &ideal });
        let sum: f64 = if is_measured {
            total_s
        } else {
            ideal.iter().sum()
        };
        println!(
            "|  | level {level}: components {sum:.1} s in all, largest {largest:.2} s: no P beats \
             {:.2} s, speed-up at most {:.0} |  |  |  |  |  |  |  |  |  |  |",
            largest + serial_l,
            (sum + serial_l) / (largest + serial_l)
        );
    }
    Ok(())
}

fn truth_max(t: &[f64]) -> f64 {
    t.iter().copied().fold(0.0, f64::max)
}
