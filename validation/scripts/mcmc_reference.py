#!/usr/bin/env python3
"""ArviZ reference values for ffpe-validation's MCMC diagnostics (validation/src/analysis/mcmc.rs).

Set-up (PyPI only; the .venv is git-ignored):
    python3 -m venv validation/scripts/.venv
    validation/scripts/.venv/bin/pip install arviz numpy
Run from the repository root:
    validation/scripts/.venv/bin/python validation/scripts/mcmc_reference.py validation/tests/data

It draws a few fixed chain arrays (numpy default_rng with the seeds below, so the arrays are the
same on every run), computes with ArviZ
    az.rhat(x, method="rank"), az.rhat(x, method="split"),
    az.ess(x, method="bulk"),  az.ess(x, method="tail")
(Vehtari, Gelman, Simpson, Carpenter, Buerkner 2021, "Rank-normalization, folding, and
localization: an improved R-hat"), and writes arrays and values to mcmc_reference.json. The Rust
unit tests in mcmc.rs read that file and must agree to ~1e-10 relative.
"""
import json
import os
import sys
import warnings

import numpy as np
import scipy

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # arviz 0.2x announces its refactor with a FutureWarning
    import arviz as az


def ar1(rng, chains, draws, phi):
    """AR(1) chains x_t = phi x_{t-1} + sqrt(1 - phi^2) e_t started in the stationary law."""
    x = np.empty((chains, draws))
    x[:, 0] = rng.standard_normal(chains)
    s = np.sqrt(1.0 - phi * phi)
    for t in range(1, draws):
        x[:, t] = phi * x[:, t - 1] + s * rng.standard_normal(chains)
    return x


def cases():
    out = []
    rng = np.random.default_rng(20210101)
    out.append(("iid_normal_4x500", "iid N(0,1)", rng.standard_normal((4, 500))))
    rng = np.random.default_rng(20210102)
    out.append(("ar1_phi0.9_4x500", "AR(1), phi = 0.9, stationary start", ar1(rng, 4, 500, 0.9)))
    rng = np.random.default_rng(20210103)
    means = np.array([0.0, 0.0, 0.3, 1.0])[:, None]
    out.append(("shifted_means_4x300", "N(mu_c, 1), mu = 0, 0, 0.3, 1.0",
                rng.standard_normal((4, 300)) + means))
    rng = np.random.default_rng(20210104)
    out.append(("student_t1_4x400", "heavy-tailed: Student t with 1 dof (Cauchy)",
                rng.standard_t(1.0, (4, 400))))
    rng = np.random.default_rng(20210105)
    out.append(("ar1_phi0.5_2x100", "AR(1), phi = 0.5, two short chains", ar1(rng, 2, 100, 0.5)))
    rng = np.random.default_rng(20210106)
    out.append(("odd_draws_3x101", "iid N(0,1), odd draw count (split drops the middle draw)",
                rng.standard_normal((3, 101))))
    rng = np.random.default_rng(20210107)
    out.append(("rounded_ties_4x200", "AR(1) phi 0.7 rounded to 0.1 (many ties in the ranks)",
                np.round(ar1(rng, 4, 200, 0.7), 1)))
    rng = np.random.default_rng(20210108)
    out.append(("trend_4x250", "AR(1) phi 0.95 plus a slow drift (non-stationary)",
                ar1(rng, 4, 250, 0.95) + np.linspace(0.0, 2.0, 250)[None, :]))
    return out


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else "validation/tests/data"
    records = []
    for name, what, x in cases():
        records.append({
            "name": name,
            "what": what,
            "chains": [row.tolist() for row in x],
            "rhat_rank": float(az.rhat(x, method="rank")),
            "rhat_split": float(az.rhat(x, method="split")),
            "ess_bulk": float(az.ess(x, method="bulk")),
            "ess_tail": float(az.ess(x, method="tail")),
        })
    doc = {
        "generated_by": "validation/scripts/mcmc_reference.py",
        "arviz_version": az.__version__,
        "numpy_version": np.__version__,
        "scipy_version": scipy.__version__,
        # with numba installed ArviZ switches to a one-pass variance (differences ~1e-13)
        "numba_used": bool(az.utils.Numba.numba_flag),
        "note": "generated, not typed in: rerun the script to regenerate; values are ArviZ's "
                "az.rhat(method='rank'|'split') and az.ess(method='bulk'|'tail') on each "
                "chains array (chains x draws)",
        "cases": records,
    }
    path = os.path.join(outdir, "mcmc_reference.json")
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    for r in records:
        print(f"{r['name']:24s} rhat_rank {r['rhat_rank']:.6f} rhat_split {r['rhat_split']:.6f} "
              f"ess_bulk {r['ess_bulk']:.2f} ess_tail {r['ess_tail']:.2f}")
    print(f"wrote {path} (arviz {az.__version__})")


if __name__ == "__main__":
    main()
