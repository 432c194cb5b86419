//! The validation pass: typed sections ([`FileSpec`]) to a [`Problem`], [`SolveOptions`]
//! and a [`GridSpec`]. Every error names the key and the allowed range.

use ffpe_solvers::history::HistoryKind;

use super::spec::{
    DomainSpec, EquationSpec, FileSpec, FullGridSpec, GridSection, InitialSpec, Int, Ints,
    PotentialSpec, Real, Reals, SparseGridSpec, TimeSpec,
};
use super::{GridSpec, SparseFileOptions};
use crate::error::{FfpeError, Result};
use crate::problem::{Boundary, Diffusion, Initial, Potential, Problem, ProblemBuilder};
use crate::solve::{LinearBackend, MeshKind, Scheme, SolveOptions};
use crate::sparse_grid::{ComponentLinearSolver, KrylovSettings};

fn missing(key: &str, hint: &str) -> FfpeError {
    FfpeError::MissingKey {
        key: key.into(),
        hint: hint.into(),
    }
}

fn real(v: Option<Real>) -> Option<f64> {
    v.map(|Real(x)| x)
}

fn reals(v: Option<Reals>) -> Option<Vec<f64>> {
    v.map(|Reals(x)| x)
}

/// A non-negative integer list; `key[i]` names an entry out of range.
fn counts(key: &str, v: Ints) -> Result<Vec<usize>> {
    let one = v.0.len() == 1;
    v.0.iter()
        .enumerate()
        .map(|(i, &x)| {
            usize::try_from(x).map_err(|_| {
                let k = if one {
                    key.to_string()
                } else {
                    format!("{key}[{i}]")
                };
                FfpeError::out_of_range(&k, x, "a non-negative integer")
            })
        })
        .collect()
}

fn count(key: &str, v: Option<Int>) -> Result<Option<usize>> {
    v.map(|Int(x)| {
        usize::try_from(x).map_err(|_| FfpeError::out_of_range(key, x, "a non-negative integer"))
    })
    .transpose()
}

fn broadcast<T: Clone>(key: &str, v: Vec<T>, d: usize) -> Result<Vec<T>> {
    if v.len() == d {
        Ok(v)
    } else if v.len() == 1 {
        Ok(vec![v[0].clone(); d])
    } else {
        Err(FfpeError::DimensionMismatch {
            key: key.into(),
            found: v.len(),
            expected: d,
        })
    }
}

/// `[domain]`: the builder with the box, cells and boundary.
fn domain(dom: Option<DomainSpec>, limits: &super::budget::Limits) -> Result<ProblemBuilder> {
    let dom =
        dom.ok_or_else(|| missing("domain", "a [domain] section with lower, upper, cells"))?;
    let lower = reals(dom.lower)
        .ok_or_else(|| missing("domain.lower", "lower corner, number or list per axis"))?;
    let upper = reals(dom.upper)
        .ok_or_else(|| missing("domain.upper", "upper corner, number or list per axis"))?;
    let cells = counts(
        "domain.cells",
        dom.cells
            .ok_or_else(|| missing("domain.cells", "cells per axis (>= 3), number or list"))?,
    )?;
    let d = match count("domain.dimension", dom.dimension)? {
        Some(d) if (1..=8).contains(&d) => d,
        Some(d) => {
            return Err(FfpeError::out_of_range(
                "domain.dimension",
                d,
                "1 <= dimension <= 8",
            ));
        }
        None => lower.len().max(upper.len()).max(cells.len()),
    };
    if d == 0 {
        return Err(FfpeError::out_of_range(
            "domain.lower",
            "[]",
            "at least one axis",
        ));
    }
    let lower = broadcast("domain.lower", lower, d)?;
    let upper = broadcast("domain.upper", upper, d)?;
    let cells = broadcast("domain.cells", cells, d)?;
    // before the builder: a grid of 2^31 cells must not be touched
    limits.check_cells(&cells)?;
    let boundary = match &dom.boundary {
        Some(s) => Boundary::parse("domain.boundary", s)?,
        None => Boundary::NoFlux,
    };
    Ok(Problem::builder()
        .domain(&lower, &upper, &cells)
        .boundary(boundary))
}

/// `[equation]`: order, friction, diffusion.
fn equation(mut b: ProblemBuilder, eq: EquationSpec) -> Result<ProblemBuilder> {
    let alpha = real(eq.alpha)
        .ok_or_else(|| missing("equation.alpha", "the Caputo order, 0 < alpha <= 1"))?;
    b = b.alpha(alpha);
    if let Some(g) = real(eq.gamma) {
        b = b.gamma(g);
    }
    match (reals(eq.diffusion), eq.fractal) {
        (Some(_), Some(_)) => Err(FfpeError::invalid(
            "equation.diffusion",
            "give either `diffusion` or [equation.fractal], not both",
        )),
        (Some(v), None) => Ok(b.diffusion(if v.len() == 1 {
            Diffusion::Scalar(v[0])
        } else {
            Diffusion::PerAxis(v)
        })),
        (None, Some(f)) => Ok(b.diffusion(Diffusion::Fractal {
            lambda: real(f.lambda)
                .ok_or_else(|| missing("equation.fractal.lambda", "the LLC lambda > 0"))?,
            spectral_dimension: real(f.spectral_dimension).ok_or_else(|| {
                missing(
                    "equation.fractal.spectral_dimension",
                    "the spectral dimension d_s > 0",
                )
            })?,
            xi: real(f.xi).ok_or_else(|| missing("equation.fractal.xi", "the scale xi > 0"))?,
        })),
        (None, None) => Ok(b),
    }
}

/// `[potential]` (default flat).
fn potential(p: Option<PotentialSpec>) -> Result<Potential> {
    Ok(match p.unwrap_or(PotentialSpec::Flat(Default::default())) {
        PotentialSpec::Flat(_) => Potential::Flat,
        PotentialSpec::Quadratic(q) => Potential::Quadratic {
            stiffness: reals(q.stiffness).ok_or_else(|| {
                missing("potential.stiffness", "stiffness k_i >= 0, number or list")
            })?,
            center: reals(q.center).unwrap_or_default(),
        },
        PotentialSpec::DoubleWell(w) => Potential::DoubleWell {
            height: real(w.height)
                .ok_or_else(|| missing("potential.height", "barrier height h > 0"))?,
            width: real(w.width)
                .ok_or_else(|| missing("potential.width", "half well distance a > 0"))?,
            center: reals(w.center).unwrap_or_default(),
        },
        PotentialSpec::Power(p) => Potential::Power {
            coefficient: real(p.coefficient).unwrap_or(1.0),
            k: real(p.k).ok_or_else(|| {
                missing("potential.k", "exponent parameter k > 0 (L = c |w|^(2k))")
            })?,
        },
        PotentialSpec::NormalCrossing(n) => Potential::NormalCrossing {
            k: reals(n.k).ok_or_else(|| missing("potential.k", "exponents k_i >= 0 per axis"))?,
        },
        PotentialSpec::ProductSquare(_) => Potential::product_square(),
        PotentialSpec::Tabulated(t) => Potential::Tabulated(
            reals(t.values)
                .ok_or_else(|| missing("potential.values", "one value per cell, axis 0 fastest"))?,
        ),
    })
}

/// `[initial]`.
fn initial(i: InitialSpec) -> Result<Initial> {
    Ok(match i {
        InitialSpec::Gaussian(g) => Initial::Gaussian {
            mean: reals(g.mean).ok_or_else(|| {
                missing(
                    "initial.mean",
                    "mean per axis (number or list) inside the domain",
                )
            })?,
            std: reals(g.std)
                .ok_or_else(|| missing("initial.std", "standard deviation per axis > 0"))?,
        },
        InitialSpec::Point(p) => Initial::Point {
            at: reals(p.mean)
                .ok_or_else(|| missing("initial.mean", "the start point inside the domain"))?,
        },
        InitialSpec::Boltzmann(_) => Initial::Boltzmann,
        InitialSpec::Tabulated(t) => {
            Initial::Tabulated(reals(t.values).ok_or_else(|| {
                missing("initial.values", "one value >= 0 per cell, axis 0 fastest")
            })?)
        }
    })
}

fn unknown(key: &str, value: &str, allowed: &str) -> FfpeError {
    FfpeError::UnknownKind {
        key: key.into(),
        value: value.into(),
        allowed: allowed.into(),
    }
}

/// `[time]` and `[output]`: the solve options (`extrapolate` comes from `[grid]`).
fn time(tm: Option<TimeSpec>, output: super::spec::OutputSpec) -> Result<SolveOptions> {
    let tm = tm.ok_or_else(|| missing("time", "a [time] section with t_end and steps"))?;
    let t_end = real(tm.t_end).ok_or_else(|| missing("time.t_end", "final time > 0"))?;
    let steps = count("time.steps", tm.steps)?
        .ok_or_else(|| missing("time.steps", "number of time steps >= 1"))?;
    let grading = real(tm.grading);
    let mesh = match tm.mesh.as_deref().unwrap_or("graded-blocks") {
        "graded" => MeshKind::Graded { r: grading },
        "graded-blocks" | "graded_blocks" => MeshKind::GradedBlocks { r: grading },
        "uniform" => {
            if grading.is_some() {
                return Err(FfpeError::invalid(
                    "time.grading",
                    "only with mesh = \"graded\" or \"graded-blocks\"",
                ));
            }
            MeshKind::Uniform
        }
        other => {
            return Err(unknown(
                "time.mesh",
                other,
                "\"graded\", \"graded-blocks\", \"uniform\"",
            ));
        }
    };
    let scheme = match tm.scheme.as_deref() {
        None => Scheme::L1,
        Some(name) => Scheme::from_name(name)
            .ok_or_else(|| unknown("time.scheme", name, "\"l1\", \"l2-1sigma\""))?,
    };
    let history = match tm.history.as_deref().unwrap_or("soe") {
        "direct" => HistoryKind::Direct,
        "soe" => {
            let tol = crate::error::check_range(
                "time.tolerance",
                real(tm.tolerance).unwrap_or(1e-12),
                Some((1e-15, false)),
                Some((1e-2, false)),
                "1e-15 <= tolerance <= 1e-2",
            )?;
            HistoryKind::Soe { tolerance: tol }
        }
        "fft" => HistoryKind::Fft,
        other => {
            return Err(unknown(
                "time.history",
                other,
                "\"direct\", \"soe\", \"fft\"",
            ));
        }
    };
    let max_steps = count("time.max_steps", tm.max_steps)?;
    if max_steps == Some(0) {
        return Err(FfpeError::out_of_range(
            "time.max_steps",
            0,
            "max_steps >= 1 (leave it out for no limit)",
        ));
    }
    let backend = match tm.linear_solver.as_deref().unwrap_or("auto") {
        "auto" => LinearBackend::Auto,
        "lu" => LinearBackend::Lu,
        "cholesky" => LinearBackend::Cholesky,
        other => {
            return Err(unknown(
                "time.linear_solver",
                other,
                "\"auto\", \"lu\", \"cholesky\"",
            ));
        }
    };
    Ok(SolveOptions {
        t_end,
        steps,
        mesh,
        scheme,
        history,
        output_times: reals(output.times).unwrap_or_else(|| vec![t_end]),
        snapshots: output.snapshots.is_some_and(|f| f.0),
        max_steps,
        backend,
        extrapolate: false,
    })
}

/// `[grid] kind = "full"`: Richardson extrapolation in space, checked at parse time.
fn full_grid(g: FullGridSpec, problem: &Problem, options: &mut SolveOptions) -> Result<GridSpec> {
    if let Some(x) = g.extrapolate {
        options.extrapolate = x.0;
    }
    if options.extrapolate {
        // odd or too few cells, tabulated data: errors at parse time
        let coarse = crate::solve::extrapolation_cells(problem)?;
        problem.with_cells(&coarse)?;
    }
    Ok(GridSpec::Full)
}

/// `[grid] kind = "sparse"`.
fn sparse_grid(g: SparseGridSpec, scheme: Scheme) -> Result<GridSpec> {
    let level = count("grid.level", g.level)?
        .ok_or_else(|| missing("grid.level", "sparse-grid level n >= 1"))?;
    let max_level = crate::sparse_grid::MAX_LEVEL as usize;
    if !(1..=max_level).contains(&level) {
        return Err(FfpeError::out_of_range(
            "grid.level",
            level,
            &format!("1 <= level <= {max_level}"),
        ));
    }
    // default 2: the full-grid solver needs at least 3 cells per axis
    let min_level = count("grid.min_level", g.min_level)?.unwrap_or(2);
    if !(1..=level).contains(&min_level) {
        return Err(FfpeError::out_of_range(
            "grid.min_level",
            min_level,
            &format!("1 <= min_level <= level = {level}"),
        ));
    }
    if scheme != Scheme::L1 {
        return Err(FfpeError::invalid(
            "time.scheme",
            "the sparse-grid solver ([grid] kind = \"sparse\") supports scheme = \"l1\" only",
        ));
    }
    let threads = match g.threads {
        None => None,
        Some(Int(t)) if (1..=1024).contains(&t) => Some(t as usize),
        Some(Int(t)) => {
            return Err(FfpeError::out_of_range(
                "grid.threads",
                t,
                "an integer 1..=1024",
            ));
        }
    };
    let linear_solver = match g.linear_solver.as_deref().unwrap_or("auto") {
        "auto" => ComponentLinearSolver::Auto,
        "direct" => ComponentLinearSolver::Direct,
        "iterative" => ComponentLinearSolver::Iterative(KrylovSettings::default()),
        other => {
            return Err(unknown(
                "grid.linear_solver",
                other,
                "\"auto\", \"direct\", \"iterative\"",
            ));
        }
    };
    Ok(GridSpec::Sparse {
        level,
        min_level,
        options: SparseFileOptions {
            extrapolate: g.extrapolate.is_some_and(|f| f.0),
            threads,
            linear_solver,
        },
    })
}

/// The problem, the solve options and the grid of a problem file; the resources are
/// checked against `limits` before the time mesh is built.
pub(super) fn validate(
    spec: FileSpec,
    limits: &super::budget::Limits,
) -> Result<(Problem, SolveOptions, GridSpec)> {
    let mut b = domain(spec.domain, limits)?;
    b = equation(b, spec.equation.unwrap_or_default())?;
    b = b.potential(potential(spec.potential)?);
    if let Some(i) = spec.initial {
        b = b.initial(initial(i)?);
    }
    let problem = b.build()?;
    let mut options = time(spec.time, spec.output.unwrap_or_default())?;
    let grid = match spec.grid {
        None => GridSpec::Full,
        Some(GridSection::Full(g)) => full_grid(g, &problem, &mut options)?,
        Some(GridSection::Sparse(g)) => sparse_grid(g, options.scheme)?,
    };
    // The cheap checks of the mesh (t_end, steps, grading, output times), then the
    // budget, then the mesh itself (errors at parse time): nothing large is allocated
    // before the budget has accepted it.
    crate::solve::check_mesh_settings(
        options.scheme,
        problem.alpha(),
        options.t_end,
        options.steps,
        options.mesh,
        &options.output_times,
        options.history,
    )?;
    limits.check(&super::budget::estimate(&problem, &options, &grid)?)?;
    crate::solve::build_scheme_mesh(
        options.scheme,
        problem.alpha(),
        options.t_end,
        options.steps,
        options.mesh,
        &options.output_times,
        options.history,
    )?;
    Ok((problem, options, grid))
}
