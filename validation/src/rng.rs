//! A small, stable, seedable random number generator.
//!
//! `rand`'s `StdRng` does not promise the same stream across versions; results here must be
//! reproducible bit for bit, so the crate uses xoshiro256++ seeded through SplitMix64
//! (both public-domain algorithms by Blackman and Vigna), implemented below.

use rand::RngCore;

/// xoshiro256++ generator. Streams are derived from a seed and a list of stream labels,
/// so that every use (initialisation, minibatch order of epoch `e`, SGLD noise of chain `c`)
/// has its own independent, reproducible stream.
#[derive(Clone, Debug)]
pub struct Rng {
    s: [u64; 4],
    /// High half of the last 64-bit word drawn for [`Rng::normal_f32`], not used yet.
    spare: Option<u32>,
}

/// Layers of the `f32` ziggurat.
const ZIG_LAYERS: usize = 128;
/// Scale of the 25-bit signed integer that positions a variate within its layer.
const ZIG_SCALE: f64 = (1u64 << 24) as f64;
/// Right edge of the base layer (Marsaglia and Tsang 2000, 128 layers).
const ZIG_R: f64 = 3.442_619_855_899;
/// Area of each layer.
const ZIG_V: f64 = 9.912_563_035_262_17e-3;

/// Tables of the 128-layer ziggurat (Marsaglia and Tsang 2000, "rnor"): acceptance
/// thresholds `k`, layer widths `w` (per unit of the 25-bit integer) and densities `f` at the
/// layer edges.
struct Ziggurat {
    k: [u32; ZIG_LAYERS],
    w: [f32; ZIG_LAYERS],
    f: [f64; ZIG_LAYERS],
}

impl Ziggurat {
    /// The fast path on 32 random bits: the low 7 choose the layer, the other 25 (sign
    /// included) the position in it; `None` when the point falls outside the layer's
    /// rectangle core (a wedge or the tail).
    #[inline(always)]
    fn fast(&self, u: u32) -> Option<f32> {
        let iz = (u as usize) & (ZIG_LAYERS - 1);
        let hz = (u as i32) >> 7;
        (hz.unsigned_abs() < self.k[iz]).then(|| hz as f32 * self.w[iz])
    }
}

fn ziggurat() -> &'static Ziggurat {
    static TABLES: std::sync::OnceLock<Ziggurat> = std::sync::OnceLock::new();
    TABLES.get_or_init(|| {
        let (mut k, mut w, mut f) = ([0u32; ZIG_LAYERS], [0f32; ZIG_LAYERS], [0f64; ZIG_LAYERS]);
        let mut dn = ZIG_R;
        let mut tn = dn;
        let q = ZIG_V / (-0.5 * dn * dn).exp();
        k[0] = (dn / q * ZIG_SCALE) as u32;
        k[1] = 0;
        w[0] = (q / ZIG_SCALE) as f32;
        w[ZIG_LAYERS - 1] = (dn / ZIG_SCALE) as f32;
        f[0] = 1.0;
        f[ZIG_LAYERS - 1] = (-0.5 * dn * dn).exp();
        for i in (1..ZIG_LAYERS - 1).rev() {
            dn = (-2.0 * (ZIG_V / dn + (-0.5 * dn * dn).exp()).ln()).sqrt();
            k[i + 1] = (dn / tn * ZIG_SCALE) as u32;
            tn = dn;
            f[i] = (-0.5 * dn * dn).exp();
            w[i] = (dn / ZIG_SCALE) as f32;
        }
        Ziggurat { k, w, f }
    })
}

/// One step of xoshiro256++: the output word, the state advanced.
#[inline(always)]
fn xoshiro256pp(s: &mut [u64; 4]) -> u64 {
    let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
    let t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = s[3].rotate_left(45);
    result
}

fn splitmix(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    /// A generator for `seed` and the stream labels `stream`.
    pub fn new(seed: u64, stream: &[u64]) -> Self {
        let mut x = seed;
        for &t in stream {
            x = splitmix(&mut x) ^ t.wrapping_mul(0xD6E8_FEB8_6659_FD93);
        }
        let mut s = [0u64; 4];
        for v in &mut s {
            *v = splitmix(&mut x);
        }
        if s == [0; 4] {
            s[0] = 1;
        }
        Rng { s, spare: None }
    }

    /// A uniform integer in `0..n` (`n > 0`), by Lemire's multiply-shift (bias < 2^-32 for the
    /// sizes used here).
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }

    /// A uniform `f64` in `[0, 1)`.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A standard normal variate (Marsaglia polar method).
    pub fn normal(&mut self) -> f64 {
        loop {
            let u = 2.0 * self.uniform() - 1.0;
            let v = 2.0 * self.uniform() - 1.0;
            let s = u * u + v * v;
            if s > 0.0 && s < 1.0 {
                return u * (-2.0 * s.ln() / s).sqrt();
            }
        }
    }

    /// Fill `out` with standard normal `f32` variates: the same values, in the same order, as
    /// calling [`Rng::normal_f32`] once per entry.
    pub fn fill_normal_f32(&mut self, out: &mut [f32]) {
        for v in out {
            *v = self.normal_f32();
        }
    }

    /// 32 random bits: the two halves of each 64-bit word in turn.
    #[inline]
    fn next_half(&mut self) -> u32 {
        match self.spare.take() {
            Some(h) => h,
            None => {
                let x = self.next_u64();
                self.spare = Some((x >> 32) as u32);
                x as u32
            }
        }
    }

    /// One standard normal `f32` variate: the 128-layer ziggurat of Marsaglia and Tsang
    /// (2000) on 32 random bits, the low 7 choosing the layer and the other 25 (sign
    /// included) the position in it, so layer and position come from disjoint bits (the
    /// correlation Doornik (2005) found in the original, which reused the layer bits, does not
    /// arise). 97.2 % of the draws take the fast path (one table lookup, one multiply); the
    /// wedges and the tail (`|x| > 3.44`) are sampled exactly by rejection in `f64`. Two
    /// variates per 64-bit word (`rand_distr`'s `f64` ziggurat, used before, spends a word on
    /// each); it made SGLD steps 1.35x faster (BENCHMARKS.md). Position resolution `2^-24` of
    /// a layer width, the precision of an `f32`.
    #[inline]
    pub fn normal_f32(&mut self) -> f32 {
        let u = self.next_half();
        match ziggurat().fast(u) {
            Some(x) => x,
            None => self.normal_f32_slow(u),
        }
    }

    /// The wedges and the tail of the ziggurat, starting from the rejected bits `u`.
    #[cold]
    fn normal_f32_slow(&mut self, mut u: u32) -> f32 {
        let z = ziggurat();
        loop {
            if let Some(x) = z.fast(u) {
                return x;
            }
            let iz = (u as usize) & (ZIG_LAYERS - 1);
            let hz = (u as i32) >> 7;
            let x = hz as f64 * z.w[iz] as f64;
            if iz == 0 {
                // tail beyond r: Marsaglia's exponential rejection
                loop {
                    let a = -(1.0 - self.uniform()).ln() / ZIG_R;
                    let b = -(1.0 - self.uniform()).ln();
                    if b + b >= a * a {
                        let t = ZIG_R + a;
                        return (if hz > 0 { t } else { -t }) as f32;
                    }
                }
            }
            // wedge between the layer's rectangle and the density
            if z.f[iz] + self.uniform() * (z.f[iz - 1] - z.f[iz]) < (-0.5 * x * x).exp() {
                return x as f32;
            }
            u = self.next_half();
        }
    }

    /// Fisher-Yates shuffle.
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }

    /// A random permutation of `0..n`.
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut p: Vec<usize> = (0..n).collect();
        self.shuffle(&mut p);
        p
    }
}

/// Lanes of [`NormalBlocks`]: independent xoshiro256++ generators stepped together.
const LANES: usize = 8;
/// Variates per block of [`NormalBlocks`]: two per 64-bit word of each lane.
const BLOCK: usize = 2 * LANES;

/// Standard normal `f32` variates in blocks of 16, for the SGLD noise, where one variate per
/// parameter and step made the one-at-a-time [`Rng::normal_f32`] a fifth of the step's cost.
///
/// Eight independent xoshiro256++ generators (seeded through SplitMix64 from a parent
/// [`Rng`]) are stepped together, one state word per SIMD register; the 64-bit output of
/// lane `l` gives variates `2 l` (low half) and `2 l + 1` (high half) of the block, each a
/// draw of the same 128-layer ziggurat as [`Rng::normal_f32`]. The fast path is computed for
/// all of them without branches; the 2.8 % that land in a wedge or the tail are finished
/// exactly by [`Rng::normal_f32`]'s rejection sampler, in order, with a ninth generator
/// (`spill`). So every variate has exactly the ziggurat's distribution, and the stream is a
/// deterministic function of the parent's state: the same on every machine, with or without
/// SIMD, and the same however the output is split between calls to [`NormalBlocks::fill`]
/// (the unused rest of a block is kept for the next call).
#[derive(Clone, Debug)]
pub struct NormalBlocks {
    /// State word `j` of lane `l` at `s[j][l]`.
    s: [[u64; LANES]; 4],
    /// The generator of the slow path.
    spill: Rng,
    /// The last block drawn, of which `buf[pos..]` has not been handed out yet.
    buf: [f32; BLOCK],
    pos: usize,
}

impl NormalBlocks {
    /// A block sampler seeded from `rng` (which advances by nine words).
    pub fn new(rng: &mut Rng) -> Self {
        let mut s = [[0u64; LANES]; 4];
        for l in 0..LANES {
            let mut x = rng.next_u64();
            for row in s.iter_mut() {
                row[l] = splitmix(&mut x);
            }
            if s.iter().all(|row| row[l] == 0) {
                s[0][l] = 1;
            }
        }
        let spill = Rng::new(rng.next_u64(), &[]);
        NormalBlocks {
            s,
            spill,
            buf: [0.0; BLOCK],
            pos: BLOCK,
        }
    }

    /// Fill `out` with standard normal variates, continuing the stream.
    pub fn fill(&mut self, out: &mut [f32]) {
        let take = (BLOCK - self.pos).min(out.len());
        out[..take].copy_from_slice(&self.buf[self.pos..self.pos + take]);
        self.pos += take;
        let rest = &mut out[take..];
        if rest.is_empty() {
            return;
        }
        let full = rest.len() / BLOCK * BLOCK;
        let (body, tail) = rest.split_at_mut(full);
        self.blocks(body, true);
        if !tail.is_empty() {
            let mut buf = [0f32; BLOCK];
            self.blocks(&mut buf, true);
            tail.copy_from_slice(&buf[..tail.len()]);
            self.buf = buf;
            self.pos = tail.len();
        }
    }
}

impl NormalBlocks {
    /// Whole blocks into `out` (`out.len()` a multiple of [`BLOCK`]): with AVX2 when `simd` and
    /// the machine has it, else the portable code (the same numbers).
    fn blocks(&mut self, out: &mut [f32], simd: bool) {
        #[cfg(target_arch = "x86_64")]
        if simd && let Some(v3) = pulp::x86::V3::try_new() {
            pulp::Simd::vectorize(
                v3,
                BlocksV3 {
                    v3,
                    sampler: self,
                    out,
                },
            );
            return;
        }
        let _ = simd;
        let z = ziggurat();
        for out in out.chunks_exact_mut(BLOCK) {
            let mut halves = [0u32; BLOCK];
            for l in 0..LANES {
                let mut lane = self.s.map(|row| row[l]);
                let w = xoshiro256pp(&mut lane);
                for (row, v) in self.s.iter_mut().zip(lane) {
                    row[l] = v;
                }
                halves[2 * l] = w as u32;
                halves[2 * l + 1] = (w >> 32) as u32;
            }
            for (&u, o) in halves.iter().zip(out.iter_mut()) {
                *o = z.fast(u).unwrap_or_else(|| self.spill.normal_f32_slow(u));
            }
        }
    }
}

/// Whole blocks of [`NormalBlocks`] with AVX2: each state word of the eight lanes in two
/// registers, the ziggurat's fast path on the eight 32-bit halves of each output register
/// (the low half of word `l` first, as in the portable code), the table entries read one by one.
#[cfg(target_arch = "x86_64")]
struct BlocksV3<'a> {
    v3: pulp::x86::V3,
    sampler: &'a mut NormalBlocks,
    out: &'a mut [f32],
}

#[cfg(target_arch = "x86_64")]
impl pulp::WithSimd for BlocksV3<'_> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        use std::arch::x86_64::{__m256, __m256i};
        let pulp::x86::V3 { avx, avx2, .. } = self.v3;
        let z = ziggurat();
        let load = |w: &[u64; LANES], h: usize| -> __m256i {
            pulp::cast([w[4 * h], w[4 * h + 1], w[4 * h + 2], w[4 * h + 3]])
        };
        let s = &self.sampler.s;
        let mut st: [[__m256i; 2]; 4] = [
            [load(&s[0], 0), load(&s[0], 1)],
            [load(&s[1], 0), load(&s[1], 1)],
            [load(&s[2], 0), load(&s[2], 1)],
            [load(&s[3], 0), load(&s[3], 1)],
        ];
        let m127 = avx._mm256_set1_epi32(ZIG_LAYERS as i32 - 1);
        let spill = &mut self.sampler.spill;
        for out in self.out.chunks_exact_mut(BLOCK) {
            let mut rejected = 0u32;
            let mut bits = [[0u32; 8]; 2];
            for h in 0..2 {
                let [s0, s1, s2, s3] = [st[0][h], st[1][h], st[2][h], st[3][h]];
                let sum = avx2._mm256_add_epi64(s0, s3);
                let rot = avx2._mm256_or_si256(
                    avx2._mm256_slli_epi64::<23>(sum),
                    avx2._mm256_srli_epi64::<41>(sum),
                );
                let r = avx2._mm256_add_epi64(rot, s0);
                let t = avx2._mm256_slli_epi64::<17>(s1);
                let s2 = avx2._mm256_xor_si256(s2, s0);
                let s3 = avx2._mm256_xor_si256(s3, s1);
                let s1 = avx2._mm256_xor_si256(s1, s2);
                let s0 = avx2._mm256_xor_si256(s0, s3);
                let s2 = avx2._mm256_xor_si256(s2, t);
                let s3 = avx2._mm256_or_si256(
                    avx2._mm256_slli_epi64::<45>(s3),
                    avx2._mm256_srli_epi64::<19>(s3),
                );
                [st[0][h], st[1][h], st[2][h], st[3][h]] = [s0, s1, s2, s3];
                let iz: [u32; 8] = pulp::cast(avx2._mm256_and_si256(r, m127));
                let hz = avx2._mm256_srai_epi32::<7>(r);
                let (mut w, mut k) = ([0f32; 8], [0u32; 8]);
                for m in 0..8 {
                    w[m] = z.w[iz[m] as usize];
                    k[m] = z.k[iz[m] as usize];
                }
                let (w, k): (__m256, __m256i) = (pulp::cast(w), pulp::cast(k));
                let x = avx._mm256_mul_ps(avx._mm256_cvtepi32_ps(hz), w);
                let fast = avx2._mm256_cmpgt_epi32(k, avx2._mm256_abs_epi32(hz));
                let fast = avx._mm256_movemask_ps(avx._mm256_castsi256_ps(fast)) as u32;
                rejected |= (!fast & 0xff) << (8 * h);
                let x: [f32; 8] = pulp::cast(x);
                out[8 * h..8 * h + 8].copy_from_slice(&x);
                bits[h] = pulp::cast(r);
            }
            while rejected != 0 {
                let j = rejected.trailing_zeros() as usize;
                rejected &= rejected - 1;
                out[j] = spill.normal_f32_slow(bits[j / 8][j % 8]);
            }
        }
        let unload = |w: [__m256i; 2]| -> [u64; LANES] {
            let (a, b): ([u64; 4], [u64; 4]) = (pulp::cast(w[0]), pulp::cast(w[1]));
            [a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3]]
        };
        self.sampler.s = [unload(st[0]), unload(st[1]), unload(st[2]), unload(st[3])];
    }
}

impl RngCore for Rng {
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }
    fn next_u64(&mut self) -> u64 {
        xoshiro256pp(&mut self.s)
    }
    fn fill_bytes(&mut self, dst: &mut [u8]) {
        for chunk in dst.chunks_mut(8) {
            let b = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&b[..chunk.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_differ_and_repeat() {
        let a: Vec<u64> = (0..4).map(|_| Rng::new(1, &[2]).next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(Rng::new(1, &[2]).next_u64(), Rng::new(1, &[3]).next_u64());
        assert_ne!(Rng::new(1, &[]).next_u64(), Rng::new(2, &[]).next_u64());
    }

    /// 2e6 draws against N(0, 1): Kolmogorov-Smirnov distance against the CDF below
    /// 2.5 / sqrt(n) (a correct sampler exceeds it with probability ~1e-5); the tail beyond the
    /// base layer and the far tail against their probabilities within 5 binomial standard
    /// errors; moments within 5 standard errors.
    fn assert_standard_normal(v: &[f32]) {
        use statrs::distribution::{ContinuousCDF, Normal};
        let n = v.len();
        let mut x: Vec<f64> = v.iter().map(|&a| a as f64).collect();
        let nf = n as f64;
        let m = x.iter().sum::<f64>() / nf;
        let var = x.iter().map(|a| (a - m).powi(2)).sum::<f64>() / nf;
        let kurt = x.iter().map(|a| (a - m).powi(4)).sum::<f64>() / nf / (var * var);
        assert!(m.abs() < 5.0 / nf.sqrt(), "mean {m}");
        assert!((var - 1.0).abs() < 5.0 * (2.0 / nf).sqrt(), "var {var}");
        assert!(
            (kurt - 3.0).abs() < 5.0 * (24.0 / nf).sqrt(),
            "kurtosis {kurt}"
        );
        x.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let g = Normal::new(0.0, 1.0).unwrap();
        let mut d = 0.0f64;
        for (i, &xi) in x.iter().enumerate() {
            let c = g.cdf(xi);
            d = d
                .max((c - i as f64 / nf).abs())
                .max(((i + 1) as f64 / nf - c).abs());
        }
        assert!(d < 2.5 / nf.sqrt(), "KS distance {d}");
        for cut in [ZIG_R, 4.0] {
            let p = 2.0 * g.cdf(-cut);
            let k = x.iter().filter(|a| a.abs() > cut).count() as f64;
            let se = (nf * p * (1.0 - p)).sqrt();
            assert!(
                (k - nf * p).abs() < 5.0 * se,
                "|x| > {cut}: {k} vs {}",
                nf * p
            );
        }
    }

    #[test]
    fn ziggurat_matches_the_normal_distribution() {
        let mut v = vec![0f32; 2_000_000];
        Rng::new(11, &[3]).fill_normal_f32(&mut v);
        assert_standard_normal(&v);
        // fill and one-at-a-time give the same sequence
        let mut a = Rng::new(5, &[1]);
        let mut b = Rng::new(5, &[1]);
        let mut fa = vec![0f32; 1001];
        a.fill_normal_f32(&mut fa[..7]);
        a.fill_normal_f32(&mut fa[7..]);
        let fb: Vec<f32> = (0..1001).map(|_| b.normal_f32()).collect();
        assert_eq!(fa, fb);
    }

    #[test]
    fn normal_blocks_are_the_same_with_and_without_simd_and_however_split() {
        let mut a = NormalBlocks::new(&mut Rng::new(9, &[4]));
        let mut b = a.clone();
        let n = 100 * BLOCK;
        let (mut va, mut vb) = (vec![0f32; n], vec![0f32; n]);
        a.blocks(&mut va, true);
        b.blocks(&mut vb, false);
        assert_eq!(va, vb);
        assert_eq!(a.s, b.s);
        // fill in pieces of odd sizes gives the same stream as one call
        let mut c = NormalBlocks::new(&mut Rng::new(9, &[5]));
        let mut d = c.clone();
        let mut vc = vec![0f32; 10_007];
        let mut vd = vec![0f32; 10_007];
        c.fill(&mut vc);
        let mut at = 0;
        for (i, len) in [1, 15, 16, 17, 3, 1000, 33].iter().cycle().enumerate() {
            let end = (at + len + i % 2).min(vd.len());
            d.fill(&mut vd[at..end]);
            at = end;
            if at == vd.len() {
                break;
            }
        }
        assert_eq!(vc, vd);
    }

    #[test]
    fn normal_blocks_match_the_normal_distribution() {
        // the same checks as the one-at-a-time sampler's, on the portable and the SIMD path
        // (equal by the test above), drawn in uneven pieces
        let mut nb = NormalBlocks::new(&mut Rng::new(11, &[3]));
        let mut v = vec![0f32; 2_000_000];
        for piece in v.chunks_mut(12_345) {
            nb.fill(piece);
        }
        assert_standard_normal(&v);
        // neighbours within a block (different lanes, and the two halves of one word) and
        // one block apart are uncorrelated: |r| < 5 / sqrt(n) for each lag
        let n = v.len() - BLOCK;
        for lag in [1, 2, 7, 8, BLOCK] {
            let r = (0..n).map(|i| v[i] as f64 * v[i + lag] as f64).sum::<f64>() / n as f64;
            assert!(r.abs() < 5.0 / (n as f64).sqrt(), "lag {lag}: {r}");
        }
    }

    #[test]
    fn the_slow_path_takes_2_8_percent_of_the_draws() {
        // exact from the tables: 32 random bits, |hz| < k[iz] on the fast path, hz uniform
        // on 2^25 values (the doc comments of `normal_f32` and `NormalBlocks` quote it)
        let z = ziggurat();
        let slow: f64 = (0..ZIG_LAYERS)
            .map(|i| 1.0 - (2.0 * z.k[i] as f64 - 1.0) / (1u64 << 25) as f64)
            .sum::<f64>()
            / ZIG_LAYERS as f64;
        assert!((0.0275..0.0285).contains(&slow), "{slow}");
    }

    #[test]
    fn normal_moments() {
        // 2e5 draws: the standard error of the mean is 2.2e-3 and of the variance 3.2e-3;
        // 5 standard errors.
        let mut r = Rng::new(7, &[]);
        let mut v = vec![0f32; 200_001];
        r.fill_normal_f32(&mut v);
        let n = v.len() as f64;
        let m = v.iter().map(|&x| x as f64).sum::<f64>() / n;
        let var = v.iter().map(|&x| (x as f64 - m).powi(2)).sum::<f64>() / n;
        assert!(m.abs() < 0.011, "mean {m}");
        assert!((var - 1.0).abs() < 0.016, "var {var}");
    }
}
