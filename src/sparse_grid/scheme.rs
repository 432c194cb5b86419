//! Combination schemes: which anisotropic full grids to solve and with which weights.
//!
//! The classic combination technique of level `n` in `d` dimensions solves on every
//! full grid with levels `l = (l_1, .., l_d)`, `l_i >= 1`, `|l|_1 = n + (d - 1) - q`
//! for `q = 0..d-1`, and adds the solutions with coefficients `(-1)^q binom(d-1, q)`.
//! A component of level `l_i` has `2^l_i` cells along axis `i`.
//!
//! The *truncated* variant keeps every axis at least at `min_level = m`: it is the
//! classic scheme of level `n - m + 1` with every level shifted by `m - 1`. With
//! `m = 1` it is the classic scheme; in every case the finest resolution along each
//! axis is `2^n` cells, as in the equivalent full grid with `2^(n d)` cells.
//!
//! The *extrapolated* variant ([`CombinationScheme::extrapolated`]) is the Richardson
//! extrapolation of two combinations, `(4 u_n - u_{n-1}) / 3`: the finite-volume error
//! is `c h^2 + O(h^4)` along each axis, and the combined error inherits the splitting
//! `sum_i c_i h_i^2 + ...` (Bungartz, Griebel and Rüde, 1994), so the leading `h^2` terms
//! of the finest axes cancel. Both combinations are sums over component grids; every
//! component of level `n - 1` outside the level-`n` scheme is added with its own
//! coefficient (for `d >= 3` with `n - min_level < d` there is none: extrapolation
//! costs nothing). The coefficients still sum to one.

use serde::Serialize;

use super::error::{Result, SparseGridError};

/// Largest supported dimension.
pub const MAX_DIM: usize = 12;
/// Largest supported level per axis (`2^MAX_LEVEL` cells along one axis).
pub const MAX_LEVEL: u32 = 24;

/// One component grid of a combination scheme.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Component {
    /// Level per axis; the component has `2^levels[i]` cells along axis `i`.
    pub levels: Vec<u32>,
    /// Combination coefficient: `(-1)^q binom(d-1, q)` in the classic and truncated
    /// schemes; the Richardson combination `4/3 c_n - 1/3 c_{n-1}` when extrapolated.
    pub coefficient: f64,
    /// Coefficient of this grid in the plain (not extrapolated) scheme of the same
    /// level: equal to `coefficient` unless the scheme is extrapolated (then 0 for the
    /// grids that only the level `n - 1` scheme has).
    pub plain_coefficient: f64,
}

impl Component {
    /// Cells per axis, `2^l_i`.
    pub fn cells(&self) -> Vec<usize> {
        self.levels.iter().map(|&l| 1usize << l).collect()
    }

    /// Number of unknowns (cells) of this component, `2^|l|_1`.
    pub fn unknowns(&self) -> u128 {
        1u128 << self.levels.iter().map(|&l| l as u64).sum::<u64>()
    }
}

/// A (possibly truncated) combination scheme: the list of component grids and their
/// coefficients.
///
/// ```
/// use ffpe::sparse_grid::CombinationScheme;
/// // classic scheme, d = 2, level 3: grids (3,1) (2,2) (1,3) with +1, (2,1) (1,2) with -1
/// let s = CombinationScheme::classic(2, 3)?;
/// assert_eq!(s.components().len(), 5);
/// let sum: f64 = s.components().iter().map(|c| c.coefficient).sum();
/// assert!((sum - 1.0).abs() < 1e-12);
/// assert_eq!(s.total_unknowns(), 3 * 16 + 2 * 8);
/// assert_eq!(s.full_grid_unknowns(), Some(64));
/// # Ok::<(), ffpe::sparse_grid::SparseGridError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CombinationScheme {
    dim: usize,
    level: u32,
    min_level: u32,
    extrapolated: bool,
    components: Vec<Component>,
}

/// `binom(n, k)` as f64 (small arguments only).
fn binomial(n: usize, k: usize) -> f64 {
    if k > n {
        return 0.0;
    }
    let k = k.min(n - k);
    let mut b = 1.0_f64;
    for i in 0..k {
        b = b * (n - i) as f64 / (i + 1) as f64;
    }
    b.round()
}

/// Every `j` in `N^d` with `j_i >= 1` and `|j|_1 = sum`, in lexicographic order.
fn compositions(dim: usize, sum: usize) -> Vec<Vec<u32>> {
    let mut out = Vec::new();
    if sum < dim || dim == 0 {
        return out;
    }
    let mut current = vec![0u32; dim];
    fn rec(axis: usize, remaining: usize, current: &mut Vec<u32>, out: &mut Vec<Vec<u32>>) {
        let dim = current.len();
        if axis == dim - 1 {
            current[axis] = remaining as u32;
            out.push(current.clone());
            return;
        }
        // leave at least 1 for each remaining axis
        let axes_after = dim - axis - 1;
        for v in 1..=(remaining - axes_after) {
            current[axis] = v as u32;
            rec(axis + 1, remaining - v, current, out);
        }
    }
    rec(0, sum, &mut current, &mut out);
    out
}

impl CombinationScheme {
    /// The classic combination scheme of level `level` in `dim` dimensions
    /// (same as [`CombinationScheme::truncated`] with `min_level = 1`).
    pub fn classic(dim: usize, level: u32) -> Result<Self> {
        Self::truncated(dim, level, 1)
    }

    /// The truncated combination scheme: every component has at least `min_level`
    /// along every axis and at most `level` along any axis.
    ///
    /// Errors: `dim` outside `1..=MAX_DIM`, or not `1 <= min_level <= level <= MAX_LEVEL`.
    pub fn truncated(dim: usize, level: u32, min_level: u32) -> Result<Self> {
        if dim == 0 || dim > MAX_DIM {
            return Err(SparseGridError::InvalidDimension { dim, max: MAX_DIM });
        }
        if min_level == 0 || min_level > level || level > MAX_LEVEL {
            return Err(SparseGridError::InvalidLevel {
                level,
                min_level,
                max_level: MAX_LEVEL,
            });
        }
        let shifted = (level - min_level + 1) as usize;
        let shift = min_level - 1;
        let mut components = Vec::new();
        for q in 0..dim {
            // |j|_1 = shifted + (d - 1) - q must be >= d for any j with j_i >= 1
            let sum = shifted + dim - 1;
            if sum < q + dim {
                break;
            }
            let sign = if q % 2 == 0 { 1.0 } else { -1.0 };
            let coefficient = sign * binomial(dim - 1, q);
            for j in compositions(dim, sum - q) {
                components.push(Component {
                    levels: j.iter().map(|&v| v + shift).collect(),
                    coefficient,
                    plain_coefficient: coefficient,
                });
            }
        }
        Ok(Self {
            dim,
            level,
            min_level,
            extrapolated: false,
            components,
        })
    }

    /// The Richardson-extrapolated truncated scheme `(4 S_n - S_{n-1}) / 3`, where
    /// `S_n` is [`CombinationScheme::truncated`]`(dim, level, min_level)`: the
    /// leading `h^2` error of the finest axes cancels (see the module notes). Grids of
    /// both schemes are merged (level-`n` grids first, in scheme order).
    ///
    /// ```
    /// use ffpe::sparse_grid::CombinationScheme;
    /// // d = 6, level 6, min_level 2: the level-5 grids are all in the level-6 scheme
    /// let plain = CombinationScheme::truncated(6, 6, 2)?;
    /// let rich = CombinationScheme::extrapolated(6, 6, 2)?;
    /// assert_eq!(rich.components().len(), plain.components().len());
    /// let sum: f64 = rich.components().iter().map(|c| c.coefficient).sum();
    /// assert!((sum - 1.0).abs() < 1e-10); // thirds round in binary
    /// # Ok::<(), ffpe::sparse_grid::SparseGridError>(())
    /// ```
    ///
    /// Errors: as [`CombinationScheme::truncated`], and `level - 1 >= min_level`
    /// (the coarser scheme must exist).
    pub fn extrapolated(dim: usize, level: u32, min_level: u32) -> Result<Self> {
        let fine = Self::truncated(dim, level, min_level)?;
        if level <= min_level {
            return Err(SparseGridError::ExtrapolationLevel { level, min_level });
        }
        let coarse = Self::truncated(dim, level - 1, min_level)?;
        let mut components: Vec<Component> = fine
            .components
            .iter()
            .map(|c| Component {
                levels: c.levels.clone(),
                coefficient: 4.0 / 3.0 * c.coefficient,
                plain_coefficient: c.coefficient,
            })
            .collect();
        for c in &coarse.components {
            let extra = -c.coefficient / 3.0;
            match components.iter_mut().find(|f| f.levels == c.levels) {
                Some(f) => f.coefficient += extra,
                None => components.push(Component {
                    levels: c.levels.clone(),
                    coefficient: extra,
                    plain_coefficient: 0.0,
                }),
            }
        }
        // grids whose two contributions cancel exactly need no solve (coefficients are
        // multiples of 1/3 of small integers: the test is exact)
        components.retain(|c| c.coefficient.abs() > 1e-12 || c.plain_coefficient != 0.0);
        Ok(Self {
            extrapolated: true,
            components,
            ..fine
        })
    }

    /// True for a Richardson-extrapolated scheme ([`CombinationScheme::extrapolated`]).
    pub fn is_extrapolated(&self) -> bool {
        self.extrapolated
    }

    /// The dimension `d`.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The finest level per axis `n`.
    pub fn level(&self) -> u32 {
        self.level
    }

    /// The coarsest level per axis (1 for the classic scheme).
    pub fn min_level(&self) -> u32 {
        self.min_level
    }

    /// The component grids with their coefficients, layer `q = 0` first.
    pub fn components(&self) -> &[Component] {
        &self.components
    }

    /// Sum of the unknowns of all components.
    pub fn total_unknowns(&self) -> u128 {
        self.components.iter().map(Component::unknowns).sum()
    }

    /// Unknowns of the largest component.
    pub fn max_component_unknowns(&self) -> u128 {
        self.components
            .iter()
            .map(Component::unknowns)
            .max()
            .unwrap_or(0)
    }

    /// Unknowns of the equivalent full grid, `2^(level d)` (None if it overflows u128).
    pub fn full_grid_unknowns(&self) -> Option<u128> {
        let bits = u64::from(self.level) * self.dim as u64;
        if bits >= 128 {
            None
        } else {
            Some(1u128 << bits)
        }
    }

    /// Number of cells along each axis of the finest (equivalent full) grid, `2^level`.
    pub fn finest_cells(&self) -> usize {
        1usize << self.level
    }

    /// Error unless the largest component has at most `limit` unknowns.
    pub fn check_size(&self, limit: u128) -> Result<()> {
        let unknowns = self.max_component_unknowns();
        if unknowns > limit {
            return Err(SparseGridError::TooLarge {
                level: self.level,
                dim: self.dim,
                unknowns,
                limit,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coefficients_sum_to_one_for_every_d_and_n() {
        for dim in 1..=8 {
            for level in 1..=10 {
                for min_level in 1..=level.min(4) {
                    let s = CombinationScheme::truncated(dim, level, min_level).unwrap();
                    let sum: f64 = s.components().iter().map(|c| c.coefficient).sum();
                    // coefficients are small integers: the sum is exact in f64
                    assert!(
                        (sum - 1.0).abs() < 1e-12,
                        "d={dim} n={level} m={min_level}: sum {sum}"
                    );
                    for c in s.components() {
                        assert!(c.levels.iter().all(|&l| l >= min_level && l <= level));
                    }
                }
            }
        }
    }

    #[test]
    fn extrapolated_coefficients_sum_to_one_and_combine_two_schemes() {
        for dim in 1..=7 {
            for level in 3..=9 {
                for min_level in 1..=2 {
                    let r = CombinationScheme::extrapolated(dim, level, min_level).unwrap();
                    assert!(r.is_extrapolated());
                    // 3 c = 4 c_n - c_{n-1} is an integer: sum those exactly
                    let thirds: i64 = r
                        .components()
                        .iter()
                        .map(|c| {
                            let t = 3.0 * c.coefficient;
                            assert!((t - t.round()).abs() < 1e-9, "{t}");
                            t.round() as i64
                        })
                        .sum();
                    assert_eq!(thirds, 3, "d={dim} n={level}");
                    let plain: f64 = r.components().iter().map(|c| c.plain_coefficient).sum();
                    assert!((plain - 1.0).abs() < 1e-12, "d={dim} n={level}: {plain}");
                    // per grid: 4/3 (level-n coefficient) - 1/3 (level n-1 coefficient)
                    let fine = CombinationScheme::truncated(dim, level, min_level).unwrap();
                    let coarse = CombinationScheme::truncated(dim, level - 1, min_level).unwrap();
                    let coef = |s: &CombinationScheme, l: &[u32]| {
                        s.components()
                            .iter()
                            .find(|c| c.levels == l)
                            .map_or(0.0, |c| c.coefficient)
                    };
                    for c in r.components() {
                        let want = (4.0 * coef(&fine, &c.levels) - coef(&coarse, &c.levels)) / 3.0;
                        assert!((c.coefficient - want).abs() < 1e-14);
                        assert!((c.plain_coefficient - coef(&fine, &c.levels)).abs() < 1e-15);
                    }
                    for c in fine.components().iter().chain(coarse.components()) {
                        let want = (4.0 * coef(&fine, &c.levels) - coef(&coarse, &c.levels)) / 3.0;
                        if want.abs() > 1e-12 {
                            assert!(r.components().iter().any(|x| x.levels == c.levels));
                        }
                    }
                }
            }
        }
        assert!(CombinationScheme::extrapolated(3, 2, 2).is_err());
    }

    #[test]
    fn classic_counts_match_the_closed_form() {
        // q-th layer of the classic scheme has binom(n + d - 2 - q, d - 1) grids
        for dim in 1..=6 {
            for level in dim as u32..=8 {
                let s = CombinationScheme::classic(dim, level).unwrap();
                let expected: f64 = (0..dim)
                    .map(|q| binomial(level as usize + dim - 2 - q, dim - 1))
                    .sum();
                assert_eq!(s.components().len(), expected as usize, "d={dim} n={level}");
            }
        }
    }

    #[test]
    fn one_dimensional_scheme_is_the_full_grid() {
        let s = CombinationScheme::truncated(1, 5, 3).unwrap();
        assert_eq!(s.components().len(), 1);
        assert_eq!(s.components()[0].levels, vec![5]);
        assert_eq!(s.total_unknowns(), 32);
    }

    #[test]
    fn truncated_is_shifted_classic() {
        let t = CombinationScheme::truncated(3, 6, 3).unwrap();
        let c = CombinationScheme::classic(3, 4).unwrap();
        assert_eq!(t.components().len(), c.components().len());
        for (a, b) in t.components().iter().zip(c.components()) {
            let shifted: Vec<u32> = b.levels.iter().map(|l| l + 2).collect();
            assert_eq!(a.levels, shifted);
            assert!((a.coefficient - b.coefficient).abs() < 1e-15);
        }
        assert_eq!(t.full_grid_unknowns(), Some(1 << 18));
    }

    #[test]
    fn invalid_inputs_are_errors() {
        assert!(matches!(
            CombinationScheme::classic(0, 3),
            Err(SparseGridError::InvalidDimension { .. })
        ));
        assert!(matches!(
            CombinationScheme::truncated(2, 3, 4),
            Err(SparseGridError::InvalidLevel { .. })
        ));
        assert!(matches!(
            CombinationScheme::truncated(2, 3, 0),
            Err(SparseGridError::InvalidLevel { .. })
        ));
        assert!(matches!(
            CombinationScheme::classic(2, MAX_LEVEL + 1),
            Err(SparseGridError::InvalidLevel { .. })
        ));
        let s = CombinationScheme::classic(4, 6).unwrap();
        assert!(s.check_size(1 << 8).is_err());
        assert!(s.check_size(1 << 9).is_ok());
    }
}
