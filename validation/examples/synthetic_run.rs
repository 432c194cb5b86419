//! Writes synthetic training runs as safetensors checkpoints, for measuring `ffpe-validate
//! analyze` on large runs (its memory and time; BENCHMARKS.md):
//!
//! ```text
//! cargo run --release -p ffpe-validation --example synthetic_run -- OUT PARAMS CHECKPOINTS [RUNS] [EVERY]
//! ```
//!
//! `RUNS` runs (default 1) in `OUT/run-<k>/`, each a Gaussian random walk of `PARAMS` f32
//! weights from one shared start (`N(0, 1)` per weight), with a checkpoint every `EVERY` steps
//! (default 100) from step 0: `CHECKPOINTS` files `step-<step>.safetensors` of one tensor
//! `w` with the metadata `step`. Between two checkpoints each weight moves by
//! `N(0, 1e-6 EVERY)` (a walk of variance 1e-6 per step). The file is written one checkpoint
//! at a time (memory: two copies of the weights).

use ffpe_validation::io::checkpoint::{NamedTensor, save};
use ffpe_validation::rng::Rng;
use std::collections::BTreeMap;
use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        anyhow::bail!("usage: synthetic_run OUT PARAMS CHECKPOINTS [RUNS] [EVERY]");
    }
    let out = PathBuf::from(&args[0]);
    let params: usize = args[1].parse()?;
    let checkpoints: u64 = args[2].parse()?;
    let runs: usize = args.get(3).map_or(Ok(1), |s| s.parse())?;
    let every: u64 = args.get(4).map_or(Ok(100), |s| s.parse())?;
    if params == 0 || checkpoints < 2 || runs == 0 || every == 0 {
        anyhow::bail!("PARAMS >= 1, CHECKPOINTS >= 2, RUNS >= 1, EVERY >= 1");
    }
    let mut start = vec![0f32; params];
    Rng::new(7, &[0]).fill_normal_f32(&mut start);
    let scale = (1e-6 * every as f64).sqrt() as f32;
    let mut noise = vec![0f32; params];
    for k in 0..runs {
        let dir = out.join(format!("run-{k}"));
        std::fs::create_dir_all(&dir)?;
        let mut rng = Rng::new(7, &[1, k as u64]);
        let mut t = NamedTensor {
            name: "w".into(),
            shape: vec![params],
            data: start.clone(),
        };
        for c in 0..checkpoints {
            let step = c * every;
            if c > 0 {
                rng.fill_normal_f32(&mut noise);
                for (w, z) in t.data.iter_mut().zip(&noise) {
                    *w += scale * z;
                }
            }
            let meta = BTreeMap::from([("step".to_string(), step.to_string())]);
            save(
                &dir.join(format!("step-{step:010}.safetensors")),
                std::slice::from_ref(&t),
                meta,
            )?;
        }
        eprintln!("wrote {} ({checkpoints} checkpoints)", dir.display());
    }
    Ok(())
}
