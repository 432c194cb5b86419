"""Benchmarks of the Python package (BENCHMARKS.md, section "Python package").

    python python/bench.py [--out bench.json]

1. ffpe.mittag_leffler on 1e6 points against pymittagleffler (Garrappa's algorithm, Rust)
   and a plain numpy power series (valid only for small |z|), with the largest relative
   difference to ffpe.
2. ffpe.relax against pycaputo's L1 method at N = 16384 on the same uniform and graded
   meshes (pycaputo's implicit step solved exactly for the linear right-hand side), with
   each code's max error against E_a(-t^a).

Each timing is the best of `--repeat` runs, in one process, so the ratios are same-run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time

import numpy as np

import ffpe


def best(f, repeat):
    ts = []
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = f()
        ts.append(time.perf_counter() - t0)
    return min(ts), out


def numpy_series(alpha, beta, z, terms=100):
    """E_{a,b}(z) = sum_k z^k / Gamma(a k + b), Horner in numpy (|z| <= 3 or so)."""
    c = np.array([1.0 / math.gamma(alpha * k + beta) for k in range(terms)])
    acc = np.zeros_like(z)
    for ck in c[::-1]:
        acc = acc * z + ck
    return acc


def bench_ml(n, repeat):
    rows = []
    rng = np.random.default_rng(0)
    try:
        import pymittagleffler as pml
    except ImportError:
        pml = None
    for lo, hi in ((-3.0, 0.0), (-50.0, 0.0)):
        z = rng.uniform(lo, hi, n)
        for alpha in (0.5, 0.8):
            t_ours, e = best(lambda: ffpe.mittag_leffler(alpha, 1.0, z), repeat)
            row = {"alpha": alpha, "beta": 1.0, "z_range": [lo, hi], "n": n, "ffpe_s": t_ours}
            if pml is not None:
                t_pml, ep = best(lambda: pml.mittag_leffler(z, alpha, 1.0), repeat)
                row["pymittagleffler_s"] = t_pml
                row["pymittagleffler_max_rel_diff"] = float(
                    np.max(np.abs(np.real(ep) - e) / np.maximum(1.0, np.abs(e)))
                )
            if hi - lo <= 3.0:
                t_np, es = best(lambda: numpy_series(alpha, 1.0, z), repeat)
                row["numpy_series_s"] = t_np
                row["numpy_series_max_rel_diff"] = float(
                    np.max(np.abs(es - e) / np.maximum(1.0, np.abs(e)))
                )
            rows.append(row)
    return rows


def bench_relax(n, repeat):
    import sys

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "tests"))
    from test_relax import _pycaputo_l1  # the comparison the tests run

    rows = []
    alpha, c = 0.5, 1.0
    for mesh in ("uniform", "graded"):
        row = {"alpha": alpha, "c": c, "N": n, "mesh": mesh}
        for hist in ("direct", "soe") + (("fft",) if mesh == "uniform" else ()):
            t, r = best(lambda: ffpe.relax(alpha, c, 1.0, steps=n, mesh=mesh, history=hist), repeat)
            ex = ffpe.mittag_leffler(alpha, 1.0, -c * r["t"] ** alpha)
            row[f"ffpe_{hist}_s"] = t
            row[f"ffpe_{hist}_max_err"] = float(np.max(np.abs(r["y"] - ex)))
        mesh_t = ffpe.relax(alpha, c, 1.0, steps=n, mesh=mesh, history="direct")["t"]
        try:
            t, (ts, ys) = best(lambda: _pycaputo_l1(alpha, c, mesh_t), 1)
            ex = ffpe.mittag_leffler(alpha, 1.0, -c * mesh_t**alpha)
            row["pycaputo_s"] = t
            row["pycaputo_max_err"] = float(np.max(np.abs(ys - ex)))
        except ImportError:
            pass
        rows.append(row)
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=None)
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--steps", type=int, default=16384)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    res = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "load_average": os.getloadavg(),
        "mittag_leffler": bench_ml(a.points, a.repeat),
        "relax": bench_relax(a.steps, a.repeat),
    }
    for mod in ("pymittagleffler", "pycaputo"):
        try:
            res[mod] = __import__("importlib.metadata").metadata.version(mod)
        except Exception:
            res[mod] = None
    text = json.dumps(res, indent=1)
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
