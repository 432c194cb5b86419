#!/usr/bin/env python3
"""Anchor for the 1-D fractional Ornstein-Uhlenbeck benchmark of the ffpe core (issue 3).

Problem: D^a p = d/dx(dp/dx + p x), alpha = 0.5, V = x^2/2, x in [-6, 6], Gaussian start
at 2 with std 0.5, t in [0, 1]. Exact mean: <x>(1) = 2 E_{1/2}(-1) = 2 e erfc(1).

Method of lines: the `fplanck` finite-difference master-equation operator (PyPI) on M
points, time-stepped with `pycaputo`'s L1 method (PyPI) on its graded (Stynes) mesh.
Two variants of the implicit solve inside pycaputo's L1:
  - "root":   pycaputo as shipped (scipy.optimize.root with the Jacobian),
  - "splu":   the implicit solve overridden by a sparse direct solve (scipy splu),
              the fastest fair use of the library for a linear system.
Prints one JSON line per run: {"variant", "M", "N", "seconds", "mean", "error_mean"}.

Usage: .venv/bin/python fou_anchor.py [--variants splu,root] [--runs M:N,...]
Set up: python3 -m venv .venv && .venv/bin/pip install fplanck pycaputo numpy scipy
"""
import argparse
import json
import math
import time

import numpy as np

if not hasattr(np, "product"):  # fplanck 0.2.x calls np.product (removed in numpy 2)
    np.product = np.prod

import fplanck  # noqa: E402
import scipy.sparse as sp  # noqa: E402
import scipy.sparse.linalg as spla  # noqa: E402
from scipy import constants  # noqa: E402
from scipy.special import erfc  # noqa: E402

from pycaputo.controller import make_graded_controller  # noqa: E402
from pycaputo.derivatives import CaputoDerivative  # noqa: E402
from pycaputo.events import StepCompleted  # noqa: E402
from pycaputo.fode import caputo  # noqa: E402
from pycaputo.stepping import evolve  # noqa: E402

ALPHA = 0.5
EXACT_MEAN = 2.0 * math.e * erfc(1.0)  # 2 E_{1/2}(-1)


def operator(m):
    # D = k T / drag = 1 and mobility 1 / drag = 1: d/dx (dp/dx + p V')
    sim = fplanck.fokker_planck(
        temperature=1.0 / constants.k,
        drag=1.0,
        extent=12.0,
        resolution=12.0 / m,
        potential=lambda x: 0.5 * x**2,
        boundary=fplanck.boundary.reflecting,
    )
    x = sim.grid[0]
    assert x.size == m, (x.size, m)
    return sp.csc_matrix(sim.master_matrix), x


def run(variant, m, n):
    a, x = operator(m)
    p0 = np.exp(-0.5 * ((x - 2.0) / 0.5) ** 2)
    p0 /= p0.sum()
    ident = sp.identity(m, format="csc")

    class SpluL1(caputo.L1):
        def solve(self, t, y0, c, r):
            # (I - c A) y = r  with c the (scalar) L1 coefficient
            return spla.spsolve(ident - c[0] * a, r)

    cls = SpluL1 if variant == "splu" else caputo.L1
    ctrl = make_graded_controller(0.0, 1.0, nsteps=n, alpha=ALPHA)
    stepper = cls(
        ds=(CaputoDerivative(ALPHA),) * m,
        control=ctrl,
        source=lambda t, y: a @ y,
        source_jac=lambda t, y: a.toarray(),
        y0=(p0,),
    )
    t0 = time.perf_counter()
    y, t_last = None, 0.0
    for ev in evolve(stepper):
        if isinstance(ev, StepCompleted):
            y, t_last = ev.y, ev.t
    secs = time.perf_counter() - t0
    assert abs(t_last - 1.0) < 1e-12, t_last
    mean = float((x * y).sum() / y.sum())
    return {
        "variant": variant,
        "M": m,
        "N": n,
        "seconds": secs,
        "mean": mean,
        "error_mean": abs(mean - EXACT_MEAN),
        "fplanck": fplanck.__version__ if hasattr(fplanck, "__version__") else "0.2.2",
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--variants", default="splu")
    ap.add_argument("--runs", default="192:1024,192:4096")
    args = ap.parse_args()
    for variant in args.variants.split(","):
        for mn in args.runs.split(","):
            m, n = (int(v) for v in mn.split(":"))
            print(json.dumps(run(variant, m, n)), flush=True)


if __name__ == "__main__":
    main()
