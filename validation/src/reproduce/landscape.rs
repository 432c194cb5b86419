//! The reduced loss landscape along the top principal directions of the late-window weights.

#[allow(unused_imports)]
use super::*;

/// Tabulates the reduced landscape of one run (or loads it from `landscape.json`).
pub(super) fn landscape(
    run_dir: &Path,
    sum: &RunSummary,
    late: (f64, f64),
    cells: usize,
    data: &Data,
) -> Result<(ReducedLandscape, f64), ReproduceError> {
    let path = run_dir.join("landscape.json");
    let cache = JsonCache::new(&path);
    if let Some(v) = cache.get::<(f64, f64), (ReducedLandscape, f64)>(&late) {
        return Ok(v);
    }
    let steps: Vec<u64> = sum
        .checkpoints
        .iter()
        .map(|c| c.step)
        .filter(|&t| t as f64 >= late.0 && t as f64 <= late.1)
        .collect();
    let mut snaps = Vec::with_capacity(steps.len());
    let mut arch = sum.config.arch.clone();
    for &t in &steps {
        let (a, w) = read_flat_params(&checkpoint_path(run_dir, t))?;
        arch = a;
        snaps.push(w.iter().map(|&x| x as f64).collect::<Vec<f64>>());
    }
    let pc = principal_directions(&snaps, 2)
        .map_err(|e| ReproduceError::Analysis(format!("late-window snapshots: {e}")))?;
    let total_var: f64 = {
        let m = snaps.len() as f64;
        snaps
            .iter()
            .map(|s| {
                s.iter()
                    .zip(&pc.mean)
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum::<f64>()
            })
            .sum::<f64>()
            / (m - 1.0)
    };
    let unit = pc.variances[0].sqrt().max(1e-12);
    let ndir = pc.directions.len();
    let coords: Vec<Vec<f64>> = pc
        .projections
        .iter()
        .map(|p| p.iter().map(|x| x / unit).collect())
        .collect();
    let mut lower = Vec::new();
    let mut upper = Vec::new();
    for k in 0..ndir {
        let m = coords
            .iter()
            .map(|c| c[k].abs())
            .fold(0.0, f64::max)
            .max(1.0)
            * 1.5;
        lower.push(-m);
        upper.push(m);
    }
    let cell_counts = vec![cells; ndir];
    let total: usize = cell_counts.iter().product();
    let mut loss = Vec::with_capacity(total);
    let mut w = vec![0f32; pc.mean.len()];
    for idx in 0..total {
        let mut rem = idx;
        let mut x = pc.mean.clone();
        for k in 0..ndir {
            let i = rem % cells;
            rem /= cells;
            let h = (upper[k] - lower[k]) / cells as f64;
            let c = (lower[k] + (i as f64 + 0.5) * h) * unit;
            for (xj, uj) in x.iter_mut().zip(&pc.directions[k]) {
                *xj += c * uj;
            }
        }
        for (wj, xj) in w.iter_mut().zip(&x) {
            *wj = *xj as f32;
        }
        loss.push(crate::train::loss_at(&arch, &w, None, &data.train)?);
    }
    let land = ReducedLandscape {
        lower,
        upper,
        cells: cell_counts,
        loss,
        unit,
        start: coords[0].clone(),
        projections: coords,
        explained: pc.explained.iter().sum(),
    };
    let v = (land, total_var);
    cache.put(&late, &v)?;
    Ok(v)
}

/// Total variance of the late-window weights (for the normal-crossing model), from the
/// checkpoints.
pub(super) fn late_variance(
    run_dir: &Path,
    sum: &RunSummary,
    late: (f64, f64),
) -> Result<f64, ReproduceError> {
    let mut snaps: Vec<Vec<f32>> = Vec::new();
    for c in &sum.checkpoints {
        let t = c.step as f64;
        if t >= late.0 && t <= late.1 {
            snaps.push(read_flat_params(&checkpoint_path(run_dir, c.step))?.1);
        }
    }
    let m = snaps.len();
    if m < 2 {
        return Ok(f64::NAN);
    }
    let p = snaps[0].len();
    let mut mean = vec![0f64; p];
    for s in &snaps {
        for (a, b) in mean.iter_mut().zip(s) {
            *a += *b as f64 / m as f64;
        }
    }
    Ok(snaps
        .iter()
        .map(|s| {
            s.iter()
                .zip(&mean)
                .map(|(a, b)| (*a as f64 - b).powi(2))
                .sum::<f64>()
        })
        .sum::<f64>()
        / (m - 1) as f64)
}
