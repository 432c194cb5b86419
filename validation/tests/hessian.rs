//! `ffpe-validate hessian`: the command prints what the library computes, eigenvalues
//! largest first, each a Ritz value with a small residual, and a clear error for bad input.

use std::process::Command;

#[test]
fn hessian_command_prints_the_top_eigenvalues_largest_first() {
    let w = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/mlp-784-128-10.safetensors");
    let out = Command::new(env!("CARGO_BIN_EXE_ffpe-validate"))
        .args([
            "hessian",
            "--weights",
            w.to_str().unwrap(),
            "--arch",
            "784-128-10",
            "--top",
            "3",
            "--max-samples",
            "256",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ev: Vec<f64> = v["eigenvalues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert_eq!(ev.len(), 3);
    assert!(ev[0] >= ev[1] && ev[1] >= ev[2], "{ev:?}");
    // Lanczos stops when every residual is below 1e-10 of its estimate of ||H||
    // (LanczosConfig::tol); allow the estimate to be 10x low.
    for r in v["residuals"].as_array().unwrap() {
        assert!(r.as_f64().unwrap() <= 1e-9 * ev[0].abs().max(1.0), "{v}");
    }
    assert_eq!(v["n_samples"].as_u64(), Some(256));
    assert_eq!(
        v["n_params"].as_u64(),
        Some(784 * 128 + 128 + 128 * 10 + 10)
    );
    assert!(v["noise_projected"].as_array().unwrap().len() == 3);

    let bad = Command::new(env!("CARGO_BIN_EXE_ffpe-validate"))
        .args([
            "hessian",
            "--weights",
            w.to_str().unwrap(),
            "--arch",
            "784-64-10",
        ])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("784-64-10"));
}
