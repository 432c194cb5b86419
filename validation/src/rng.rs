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
    /// arise). 99 % of the draws take the fast path (one table lookup, one multiply); the
    /// wedges and the tail (`|x| > 3.44`) are sampled exactly by rejection in `f64`. Two
    /// variates per 64-bit word (`rand_distr`'s `f64` ziggurat, used before, spends a word on
    /// each); it made SGLD steps 1.35x faster (BENCHMARKS.md). Position resolution `2^-24` of
    /// a layer width, the precision of an `f32`.
    #[inline]
    pub fn normal_f32(&mut self) -> f32 {
        let z = ziggurat();
        let u = self.next_half();
        let iz = (u as usize) & (ZIG_LAYERS - 1);
        let hz = (u as i32) >> 7;
        if hz.unsigned_abs() < z.k[iz] {
            return hz as f32 * z.w[iz];
        }
        self.normal_f32_slow(u)
    }

    /// The wedges and the tail of the ziggurat, starting from the rejected bits `u`.
    #[cold]
    fn normal_f32_slow(&mut self, mut u: u32) -> f32 {
        let z = ziggurat();
        loop {
            let iz = (u as usize) & (ZIG_LAYERS - 1);
            let hz = (u as i32) >> 7;
            if hz.unsigned_abs() < z.k[iz] {
                return hz as f32 * z.w[iz];
            }
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

impl RngCore for Rng {
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }
    fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
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

    #[test]
    fn ziggurat_matches_the_normal_distribution() {
        use statrs::distribution::{ContinuousCDF, Normal};
        // 2e6 draws: Kolmogorov-Smirnov distance against the N(0, 1) CDF, below 2.5 / sqrt(n)
        // (a correct sampler exceeds it with probability ~1e-5); the tail beyond the base
        // layer and the far tail against their probabilities within 5 binomial standard
        // errors; moments within 5 standard errors.
        let n = 2_000_000usize;
        let mut r = Rng::new(11, &[3]);
        let mut v = vec![0f32; n];
        r.fill_normal_f32(&mut v);
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
