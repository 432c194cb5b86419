//! Mutation fuzzing of the problem-file parser, bounded in time: every example problem is
//! mutated (bytes flipped, ranges deleted or duplicated, hostile tokens such as `nan`, `1e308`,
//! `-1`, `2147483647` or an unbalanced bracket spliced in) and parsed with small resource
//! limits; the parser must return `Ok` or an error, never panic, and never exceed the limits
//! (it refuses before allocating). A seeded generator makes every run the same; set
//! `FFPE_FUZZ_SECONDS` to fuzz longer than the default few seconds (CI's default).
//!
//! This is a hand-written mutation loop, not coverage-guided fuzzing (cargo-fuzz needs a
//! nightly toolchain); it found no panic in the iterations CI runs.

use ffpe::config::{Limits, parse_str_with_limits};
use std::time::{Duration, Instant};

/// xorshift64*: a small deterministic generator for the mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const TOKENS: [&str; 16] = [
    "nan",
    "inf",
    "-inf",
    "1e308",
    "-1",
    "0",
    "2147483647",
    "1e-300",
    "[",
    "]",
    "\"",
    "=",
    "[[",
    "true",
    "\n[time]\n",
    "99999999999999999999",
];

fn mutate(src: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut v = src.to_vec();
    for _ in 0..1 + rng.below(4) {
        let n = v.len().max(1);
        match rng.below(5) {
            0 => {
                let i = rng.below(n);
                if i < v.len() {
                    v[i] ^= 1 << rng.below(8);
                }
            }
            1 => {
                let i = rng.below(n);
                let j = (i + rng.below(32)).min(v.len());
                v.drain(i.min(v.len())..j);
            }
            2 => {
                let i = rng.below(n);
                let j = (i + rng.below(64)).min(v.len());
                let piece = v[i.min(v.len())..j].to_vec();
                let at = rng.below(v.len() + 1);
                v.splice(at..at, piece);
            }
            3 => {
                // replace a number with a hostile token
                let starts: Vec<usize> = (1..v.len())
                    .filter(|&k| v[k].is_ascii_digit() && !v[k - 1].is_ascii_alphanumeric())
                    .collect();
                if !starts.is_empty() {
                    let s = starts[rng.below(starts.len())];
                    let mut e = s;
                    while e < v.len() && (v[e].is_ascii_alphanumeric() || b".-+".contains(&v[e])) {
                        e += 1;
                    }
                    let t = TOKENS[rng.below(TOKENS.len())].as_bytes().to_vec();
                    v.splice(s..e, t);
                }
            }
            _ => {
                let at = rng.below(v.len() + 1);
                let t = TOKENS[rng.below(TOKENS.len())].as_bytes().to_vec();
                v.splice(at..at, t);
            }
        }
    }
    v
}

#[test]
fn mutated_problem_files_never_panic() {
    let secs: f64 = std::env::var("FFPE_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4.0);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut sources = vec![];
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "toml") {
            sources.push(std::fs::read(&p).unwrap());
        }
    }
    assert!(sources.len() >= 5, "examples found: {}", sources.len());
    // small limits: an accepted mutant is cheap to build, a refused one is refused early
    let limits = Limits {
        max_memory: 64 << 20,
        max_work: 1e9,
    };
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let (mut tried, mut accepted) = (0usize, 0usize);
    while Instant::now() < deadline || tried < 200 {
        let src = &sources[tried % sources.len()];
        let m = mutate(src, &mut rng);
        let text = String::from_utf8_lossy(&m);
        let r = std::panic::catch_unwind(|| parse_str_with_limits(&text, &limits).is_ok());
        match r {
            Ok(ok) => accepted += usize::from(ok),
            Err(_) => panic!("the parser panicked on:\n{text}"),
        }
        tried += 1;
    }
    println!("{tried} mutants parsed, {accepted} accepted, no panic");
}
