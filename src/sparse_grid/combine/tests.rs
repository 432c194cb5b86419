//! Unit tests of the combination: exactness on representable functions, errors.

use super::super::error::SparseGridError;
use super::super::geometry::Layout;
use super::*;

fn affine_product(x: &[f64]) -> f64 {
    x.iter()
        .enumerate()
        .map(|(i, v)| 1.0 + 0.2 * (i as f64 + 1.0) * v)
        .product()
}

fn points(dim: usize, count: usize) -> Vec<Vec<f64>> {
    // deterministic quasi-random points in [-1, 1]^d (Weyl sequence)
    (0..count)
        .map(|k| {
            (0..dim)
                .map(|a| {
                    let g = (2.0f64 + a as f64).sqrt();
                    2.0 * ((k as f64 + 0.5) * g).fract() - 1.0
                })
                .collect()
        })
        .collect()
}

#[test]
fn representable_function_is_reproduced_exactly() {
    for dim in 2..=5 {
        for level in [dim as u32, dim as u32 + 2] {
            let scheme = CombinationScheme::classic(dim, level).unwrap();
            let solver =
                AnalyticComponents::new(vec![-1.0; dim], vec![1.0; dim], vec![0.0, 1.0], |t, x| {
                    (1.0 + t) * affine_product(x)
                })
                .unwrap();
            let request = CombineRequest {
                points: points(dim, 20),
                marginals: vec![vec![0], vec![dim - 1, 0]],
                steady_state: false,
                extrapolation: Extrapolation::Linear,
            };
            let c = solve_combination(&scheme, &solver, &request, &SparseGridConfig::default())
                .unwrap();
            let abs_sum: f64 = scheme
                .components()
                .iter()
                .map(|c| c.coefficient.abs())
                .sum();
            for (t, snap) in c.times.iter().zip(&c.snapshots) {
                for (x, v) in request.points.iter().zip(&snap.points) {
                    let exact = (1.0 + t) * affine_product(x);
                    // rounding only: each component interpolates with relative error
                    // ~ 2^d eps, amplified by the sum of |coefficients|
                    let tol = 2f64.powi(dim as i32) * abs_sum * f64::EPSILON * exact.abs();
                    assert!(
                        (v - exact).abs() < tol,
                        "d={dim} n={level} x={x:?} {}",
                        v - exact
                    );
                }
                // the mass of a multilinear density is integrated exactly by the midpoint rule
                let mass = (1.0 + t) * 2f64.powi(dim as i32);
                assert!((snap.moments.mass - mass).abs() < abs_sum * 1e-13 * mass);
                // 1-D marginal along axis 0: 2^(d-1) (1 + 0.2 x), exact at every target centre
                let g = &c.marginal_grids[0];
                for k in 0..g.cells()[0] {
                    let x = g.centre(0, k);
                    let exact = (1.0 + t) * 2f64.powi(dim as i32 - 1) * (1.0 + 0.2 * x);
                    assert!((snap.marginals[0][k] - exact).abs() < abs_sum * 1e-13 * exact);
                }
                // 2-D marginal over (x_{d-1}, x_0), first listed axis fastest
                let g2 = &c.marginal_grids[1];
                g2.for_each_cell(|idx, flat| {
                    let (y, x) = (g2.centre(0, idx[0]), g2.centre(1, idx[1]));
                    let exact = (1.0 + t)
                        * 2f64.powi(dim as i32 - 2)
                        * (1.0 + 0.2 * dim as f64 * y)
                        * (1.0 + 0.2 * x);
                    let got = snap.marginals[1][flat];
                    assert!((got - exact).abs() < abs_sum * 1e-13 * exact.abs());
                });
            }
            assert!(c.negativity.is_clean());
        }
    }
}

#[test]
fn function_of_one_axis_equals_the_finest_one_dimensional_grid() {
    // sum_{l: l_0 = j} c_l is 1 for j = n and 0 otherwise: the combination of a
    // function of x_0 alone is its interpolant on the finest 1-D grid (2^n cells)
    let g = |x: f64| (-(x - 0.3) * (x - 0.3) / 0.02).exp();
    let dim = 4;
    let level = 5;
    let scheme = CombinationScheme::classic(dim, level).unwrap();
    let solver =
        AnalyticComponents::new(vec![-1.0; dim], vec![1.0; dim], vec![0.0], |_, x| g(x[0]))
            .unwrap();
    let request = CombineRequest {
        points: points(dim, 30),
        ..Default::default()
    };
    let c = solve_combination(&scheme, &solver, &request, &SparseGridConfig::default()).unwrap();
    let fine = BoxGrid::new(&[-1.0], &[1.0], &[1 << level], Layout::default()).unwrap();
    let values = fine.sample(|x| g(x[0]));
    for (x, v) in request.points.iter().zip(&c.snapshots[0].points) {
        let expected = fine.interpolate_with(&values, &x[..1], Extrapolation::Constant);
        assert!((v - expected).abs() < 1e-12);
    }
}

#[test]
fn interpolation_error_of_a_gaussian_falls_with_the_level() {
    // smooth function with bounded mixed derivatives: the combination technique
    // converges like O(h^2 |log h|^(d-1)); asserting a factor > 2 per level is safe
    let dim = 3;
    let f = |_: f64, x: &[f64]| (-x.iter().map(|v| v * v).sum::<f64>()).exp();
    let pts = points(dim, 200);
    let mut errors = Vec::new();
    for level in 3..=7 {
        let scheme = CombinationScheme::classic(dim, level).unwrap();
        let solver =
            AnalyticComponents::new(vec![-1.0; dim], vec![1.0; dim], vec![0.0], f).unwrap();
        // linear extrapolation: constant extrapolation is only first order in the
        // boundary half cells (measured: the error halves per level there)
        let request = CombineRequest {
            points: pts.clone(),
            extrapolation: Extrapolation::Linear,
            ..Default::default()
        };
        let c =
            solve_combination(&scheme, &solver, &request, &SparseGridConfig::default()).unwrap();
        let err = pts
            .iter()
            .zip(&c.snapshots[0].points)
            .map(|(x, v)| (v - f(0.0, x)).abs())
            .fold(0.0f64, f64::max);
        errors.push(err);
    }
    for w in errors.windows(2) {
        assert!(w[1] < w[0] / 2.0, "{errors:?}");
    }
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let dim = 3;
    let f = |t: f64, x: &[f64]| (-(1.0 + t) * x.iter().map(|v| v * v).sum::<f64>()).exp();
    let scheme = CombinationScheme::classic(dim, 5).unwrap();
    let solver =
        AnalyticComponents::new(vec![-2.0; dim], vec![2.0; dim], vec![0.0, 0.5], f).unwrap();
    let request = CombineRequest {
        points: points(dim, 10),
        marginals: vec![vec![1], vec![0, 2]],
        ..Default::default()
    };
    let run = |threads| {
        let config = SparseGridConfig {
            threads: Some(threads),
            ..Default::default()
        };
        solve_combination(&scheme, &solver, &request, &config).unwrap()
    };
    let (a, b) = (run(1), run(2));
    assert_eq!(a.stats.threads, 1);
    assert_eq!(b.stats.threads, 2);
    for (x, y) in a.snapshots.iter().zip(&b.snapshots) {
        // components are combined in scheme order whatever the thread count:
        // results are bitwise identical
        assert_eq!(x.points, y.points);
        assert_eq!(x.marginals, y.marginals);
        assert_eq!(x.moments, y.moments);
    }
}

#[test]
fn negative_combined_values_are_reported_not_clipped() {
    // a narrow bump: coarse anisotropic components overshoot and the alternating
    // coefficients produce negative combined values away from the bump
    let dim = 2;
    let f = |_: f64, x: &[f64]| (-(x[0] * x[0] + x[1] * x[1]) / 0.005).exp();
    let scheme = CombinationScheme::classic(dim, 6).unwrap();
    let solver = AnalyticComponents::new(vec![-1.0; dim], vec![1.0; dim], vec![0.0], f).unwrap();
    let grid = BoxGrid::new(&[-1.0; 2], &[1.0; 2], &[33, 33], Layout::default()).unwrap();
    let mut pts = Vec::new();
    grid.for_each_cell(|idx, _| pts.push(vec![grid.centre(0, idx[0]), grid.centre(1, idx[1])]));
    let request = CombineRequest {
        points: pts,
        marginals: vec![vec![0, 1]],
        ..Default::default()
    };
    let c = solve_combination(&scheme, &solver, &request, &SparseGridConfig::default()).unwrap();
    let negative = c.snapshots[0].points.iter().filter(|&&v| v < 0.0).count();
    assert!(
        negative > 0,
        "this case is chosen to produce negative values"
    );
    assert_eq!(c.negativity.negative_points, negative);
    assert_eq!(c.negativity.total_points, 33 * 33);
    let min = c.snapshots[0]
        .points
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min);
    assert!((c.negativity.min_point_value - min).abs() < 1e-15);
    assert!(c.negativity.component_min_density >= 0.0);
    assert!(!c.negativity.is_clean());
}

struct Faulty {
    lower: Vec<f64>,
    upper: Vec<f64>,
    times: Vec<f64>,
    mode: u8,
}

impl ComponentSolver for Faulty {
    fn lower(&self) -> &[f64] {
        &self.lower
    }
    fn upper(&self) -> &[f64] {
        &self.upper
    }
    fn output_times(&self) -> &[f64] {
        &self.times
    }
    fn solve_component(
        &self,
        cells: &[usize],
        observe: &mut dyn FnMut(usize, f64, Snapshot<'_>),
    ) -> std::result::Result<ComponentWork, ComponentError> {
        let grid = BoxGrid::new(&self.lower, &self.upper, cells, Layout::default())?;
        let values = vec![1.0; grid.len()];
        let snap = Snapshot {
            grid: &grid,
            density: &values,
        };
        match self.mode {
            0 => observe(0, 0.25, snap),
            1 => return Err("singular matrix".into()),
            _ => {}
        }
        Ok(ComponentWork::default())
    }
}

#[test]
fn inconsistent_or_failing_components_are_errors() {
    let scheme = CombinationScheme::classic(2, 3).unwrap();
    let run = |mode| {
        let s = Faulty {
            lower: vec![0.0; 2],
            upper: vec![1.0; 2],
            times: vec![0.5],
            mode,
        };
        solve_combination(&scheme, &s, &CombineRequest::default(), &Default::default())
    };
    assert!(matches!(
        run(0),
        Err(SparseGridError::InconsistentTimes { .. })
    ));
    let e = run(1).unwrap_err();
    assert!(matches!(e, SparseGridError::Component { .. }));
    assert!(e.to_string().contains("singular matrix"));
    assert!(matches!(
        run(2),
        Err(SparseGridError::InconsistentTimes { .. })
    ));
}

#[test]
fn bad_requests_are_errors() {
    let scheme = CombinationScheme::classic(2, 3).unwrap();
    let s = AnalyticComponents::new(vec![0.0; 2], vec![1.0; 2], vec![0.0], |_, _| 1.0).unwrap();
    let cfg = SparseGridConfig::default();
    let outside = CombineRequest {
        points: vec![vec![0.5, 1.5]],
        ..Default::default()
    };
    assert!(matches!(
        solve_combination(&scheme, &s, &outside, &cfg),
        Err(SparseGridError::PointOutsideBox {
            index: 0,
            axis: 1,
            ..
        })
    ));
    for axes in [vec![], vec![2], vec![0, 0], vec![0, 1, 1]] {
        let r = CombineRequest {
            marginals: vec![axes],
            ..Default::default()
        };
        assert!(matches!(
            solve_combination(&scheme, &s, &r, &cfg),
            Err(SparseGridError::InvalidMarginal { .. })
        ));
    }
    let small = SparseGridConfig {
        max_component_unknowns: 8,
        ..Default::default()
    };
    assert!(matches!(
        solve_combination(&scheme, &s, &CombineRequest::default(), &small),
        Err(SparseGridError::TooLarge { .. })
    ));
}
