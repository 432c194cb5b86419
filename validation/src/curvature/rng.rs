//! A small, stable, seeded generator for start vectors and probes.
//!
//! SplitMix64 (Steele, Lea and Flood 2014; the seeding generator of xoshiro): the sequences are
//! fixed by this file alone, so seeded Lanczos start vectors and SLQ probes are reproducible
//! across versions of `rand`.

/// SplitMix64 state.
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator for `seed` and a stream index (`stream` is mixed into the seed, so probe `i`
    /// of seed `s` does not depend on how many probes are drawn).
    pub(crate) fn new(seed: u64, stream: u64) -> Self {
        let mut g = Self(seed ^ 0x6a09_e667_f3bc_c909);
        let s = g.next_u64() ^ stream.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        Self(s)
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)` with 53 random bits.
    pub(crate) fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A standard normal deviate (Box-Muller, one of the pair).
    pub(crate) fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform(); // in (0, 1]
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// `+1` or `-1` with probability 1/2 each.
    pub(crate) fn sign(&mut self) -> f64 {
        if self.next_u64() >> 63 == 0 {
            1.0
        } else {
            -1.0
        }
    }
}
