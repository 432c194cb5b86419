//! Bad input gives errors that name the key and the allowed range, never a panic; the
//! command exits non-zero.

use ffpe::config::parse_str;

const GOOD: &str = r#"
[equation]
alpha = 0.5
[potential]
kind = "quadratic"
stiffness = 1.0
[domain]
lower = -3.0
upper = 3.0
cells = 30
[initial]
kind = "gaussian"
mean = 0.5
std = 0.3
[time]
t_end = 1.0
steps = 20
"#;

fn err_of(text: &str) -> String {
    match parse_str(text) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e.to_string(),
    }
}

fn replace(from: &str, to: &str) -> String {
    assert!(GOOD.contains(from), "{from}");
    GOOD.replacen(from, to, 1)
}

#[test]
fn good_file_parses() {
    let f = parse_str(GOOD).unwrap();
    assert_eq!(f.problem.dim(), 1);
}

#[test]
fn each_bad_input_names_its_key_and_range() {
    let cases: Vec<(String, &[&str])> = vec![
        (
            replace("alpha = 0.5", "alpha = 1.5"),
            &["equation.alpha", "0 < alpha <= 1"],
        ),
        (
            replace("alpha = 0.5", "alpha = 0.0"),
            &["equation.alpha", "0 < alpha <= 1"],
        ),
        (
            replace("alpha = 0.5", "alpha = nan"),
            &["equation.alpha", "NaN"],
        ),
        (replace("alpha = 0.5\n", ""), &["equation.alpha", "missing"]),
        (
            replace("cells = 30", "cells = 2"),
            &["domain.cells", "cells >= 3"],
        ),
        (
            replace("upper = 3.0", "upper = -3.0"),
            &["domain.upper", "> lower"],
        ),
        (
            replace("lower = -3.0", "lower = inf"),
            &["domain.lower", "finite"],
        ),
        (
            replace("kind = \"quadratic\"", "kind = \"cubic\""),
            &["potential.kind", "double_well"],
        ),
        (
            replace("kind = \"gaussian\"", "kind = \"uniform\""),
            &["initial.kind", "boltzmann"],
        ),
        (
            replace("mean = 0.5", "mean = 40.0"),
            &["initial.mean", "inside the domain"],
        ),
        (replace("std = 0.3", "std = -1.0"), &["initial.std", "> 0"]),
        (
            replace("steps = 20", "steps = 0"),
            &["time.steps", "1 <= steps"],
        ),
        (
            replace("t_end = 1.0", "t_end = -1.0"),
            &["time.t_end", "1e-10 <= t_end <= 1e10"],
        ),
        (replace("steps = 20\n", ""), &["time.steps", "missing"]),
        (
            replace("stiffness = 1.0", "stiffness = -2.0"),
            &["potential.stiffness", ">= 0"],
        ),
        (
            replace("stiffness = 1.0", "stiffnes = 1.0"),
            &["potential.stiffnes", "stiffness"],
        ),
        (
            replace("cells = 30", "cells = [30, 30]\nboundary = \"sticky\""),
            &["domain.boundary", "periodic"],
        ),
        (
            format!("{GOOD}\n[output]\ntimes = [0.5, 2.0]\n"),
            &["output.times[1]", "t_end"],
        ),
        (
            format!("{GOOD}\n[grid]\nkind = \"sparse\"\nlevel = 3\nmin_level = 5\n"),
            &["grid.min_level", "level"],
        ),
        (
            replace("[equation]", "[equation]\ngamma = 0.0"),
            &["equation.gamma", "> 0"],
        ),
        (
            replace(
                "[equation]",
                "[equation]\n[equation.fractal]\nlambda = 1.0\nspectral_dimension = 0.001\nxi = 1e6\n[equation2]",
            ),
            &["equation2"],
        ),
        ("[domain\nlower = 1".to_string(), &["parse"]),
        (
            replace("cells = 30", "cells = \"many\""),
            &["domain.cells", "integer"],
        ),
    ];
    for (text, needles) in cases {
        let msg = err_of(&text);
        for n in needles {
            assert!(msg.contains(n), "message `{msg}` should contain `{n}`");
        }
    }
}

#[test]
fn fractal_diffusion_out_of_f64_range_is_an_error() {
    let text = GOOD.replace(
        "[equation]\nalpha = 0.5",
        "[equation]\nalpha = 0.5\n[equation.fractal]\nlambda = 1.0\nspectral_dimension = 0.001\nxi = 1e6",
    );
    let msg = err_of(&text);
    assert!(msg.contains("D_xi") && msg.contains("overflows"), "{msg}");
}

#[test]
fn builder_rejects_bad_values() {
    use ffpe::problem::{Initial, Problem};
    assert!(
        Problem::builder()
            .build()
            .unwrap_err()
            .to_string()
            .contains("domain.lower")
    );
    let e = Problem::builder()
        .domain(&[0.0, 0.0], &[1.0, 1.0], &[8, 8])
        .initial(Initial::Point { at: vec![0.5, 2.0] })
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("initial.mean"), "{e}");
    let e = Problem::builder()
        .domain(&[0.0], &[1.0, 2.0], &[8])
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("domain.upper"), "{e}");
}

#[test]
fn command_exits_non_zero_with_the_key_in_the_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, replace("alpha = 0.5", "alpha = 3.0")).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ffpe"))
        .args(["solve", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("equation.alpha") && err.contains("0 < alpha <= 1"),
        "{err}"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ffpe"))
        .args(["solve", "/nonexistent/problem.toml"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

/// `[time] scheme`: l1 (default) and l2-1sigma parse; an unknown name, FFT history with
/// l2-1sigma and l2-1sigma on a sparse grid are errors naming the key and what is allowed.
#[test]
fn time_scheme_key() {
    use ffpe::solve::{MeshKind, Scheme};
    let f = parse_str(GOOD).unwrap();
    assert_eq!(f.options.scheme, Scheme::L1);
    assert_eq!(f.options.mesh, MeshKind::GradedBlocks { r: None });
    let f = parse_str(&replace("steps = 20", "steps = 20\nscheme = \"l2-1sigma\"")).unwrap();
    assert_eq!(f.options.scheme, Scheme::L21Sigma);
    let e = err_of(&replace("steps = 20", "steps = 20\nscheme = \"l3\""));
    assert!(e.contains("time.scheme") && e.contains("l2-1sigma"), "{e}");
    let e = err_of(&replace(
        "steps = 20",
        "steps = 20\nscheme = \"l2-1sigma\"\nmesh = \"uniform\"\nhistory = \"fft\"",
    ));
    assert!(e.contains("time.history") && e.contains("soe"), "{e}");
    let e = err_of(&format!(
        "{}\n[grid]\nkind = \"sparse\"\nlevel = 3\n",
        replace("steps = 20", "steps = 20\nscheme = \"l2-1sigma\"")
    ));
    assert!(e.contains("time.scheme"), "{e}");
}
