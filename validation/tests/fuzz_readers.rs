//! Mutation fuzzing of the binary readers, bounded in time: IDX images and labels (raw and
//! gzip) and safetensors checkpoints, each valid file mutated (bits flipped, ranges deleted or
//! duplicated, header fields set to extreme values) and read; a reader must return `Ok` or an
//! error naming the file, never panic. Seeded, so every run is the same; `FFPE_FUZZ_SECONDS`
//! fuzzes longer than the default few seconds. A hand-written mutation loop (cargo-fuzz needs
//! a nightly toolchain), not coverage-guided.

use ffpe_validation::analysis::stats::SplitMix64;
use ffpe_validation::data::{parse_idx_images, parse_idx_labels};
use ffpe_validation::io::checkpoint::{NamedTensor, load, to_bytes};
use std::path::Path;
use std::time::{Duration, Instant};

fn mutate(src: &[u8], rng: &mut SplitMix64) -> Vec<u8> {
    let mut v = src.to_vec();
    for _ in 0..1 + rng.below(3) {
        let n = v.len().max(1);
        match rng.below(5) {
            0 => {
                let i = rng.below(n);
                if i < v.len() {
                    v[i] ^= 1 << rng.below(8);
                }
            }
            1 => {
                let i = rng.below(n).min(v.len());
                let j = (i + rng.below(64)).min(v.len());
                v.drain(i..j);
            }
            2 => {
                let i = rng.below(n).min(v.len());
                let j = (i + rng.below(64)).min(v.len());
                let piece = v[i..j].to_vec();
                let at = rng.below(v.len() + 1);
                v.splice(at..at, piece);
            }
            3 => {
                // an extreme 32-bit (or 64-bit) field in the first bytes: sizes and counts
                let at = rng.below(24.min(v.len()).max(1));
                let val: [u8; 8] = match rng.below(3) {
                    0 => [0xff; 8],
                    1 => [0; 8],
                    _ => rng.next_u64().to_le_bytes(),
                };
                for (k, b) in val.iter().enumerate().take(4 + 4 * rng.below(2)) {
                    if at + k < v.len() {
                        v[at + k] = *b;
                    }
                }
            }
            _ => v.truncate(rng.below(v.len() + 1)),
        }
    }
    v
}

fn idx3(n: u32, r: u32, c: u32) -> Vec<u8> {
    let mut v = vec![0, 0, 8, 3];
    for x in [n, r, c] {
        v.extend_from_slice(&x.to_be_bytes());
    }
    v.extend((0..n * r * c).map(|k| (k % 251) as u8));
    v
}

fn idx1(n: u32) -> Vec<u8> {
    let mut v = vec![0, 0, 8, 1];
    v.extend_from_slice(&n.to_be_bytes());
    v.extend((0..n).map(|k| (k % 10) as u8));
    v
}

fn gzip(b: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

fn budget() -> Duration {
    Duration::from_secs_f64(
        std::env::var("FFPE_FUZZ_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(3.0),
    )
}

#[test]
fn mutated_idx_files_never_panic() {
    let p = Path::new("fuzz.idx");
    let sources = [
        idx3(6, 4, 5),
        gzip(&idx3(6, 4, 5)),
        idx1(30),
        gzip(&idx1(30)),
    ];
    let mut rng = SplitMix64::new(7);
    let deadline = Instant::now() + budget();
    let mut tried = 0usize;
    while Instant::now() < deadline || tried < 400 {
        let src = &sources[tried % sources.len()];
        let m = mutate(src, &mut rng);
        let r = std::panic::catch_unwind(|| {
            let _ = parse_idx_images(&m, p);
            let _ = parse_idx_labels(&m, p);
        });
        assert!(r.is_ok(), "an IDX reader panicked on {m:?}");
        tried += 1;
    }
    println!("{tried} IDX mutants read, no panic");
}

#[test]
fn mutated_checkpoints_never_panic() {
    let tensors = vec![
        NamedTensor {
            name: "fc1.weight".into(),
            shape: vec![3, 4],
            data: (0..12).map(|k| k as f32 * 0.5).collect(),
        },
        NamedTensor {
            name: "fc1.bias".into(),
            shape: vec![3],
            data: vec![0.1, -0.2, 0.3],
        },
    ];
    let meta = [("step".to_string(), "100".to_string())]
        .into_iter()
        .collect();
    let src = to_bytes(&tensors, meta).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fuzz.safetensors");
    let mut rng = SplitMix64::new(11);
    let deadline = Instant::now() + budget();
    let mut tried = 0usize;
    while Instant::now() < deadline || tried < 300 {
        let m = mutate(&src, &mut rng);
        std::fs::write(&path, &m).unwrap();
        let r = std::panic::catch_unwind(|| {
            if let Err(e) = load(&path) {
                assert!(e.to_string().contains("fuzz.safetensors"), "{e}");
            }
        });
        assert!(r.is_ok(), "the checkpoint reader panicked on {m:?}");
        tried += 1;
    }
    println!("{tried} checkpoint mutants read, no panic");
}
