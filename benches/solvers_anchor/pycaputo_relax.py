#!/usr/bin/env python3
"""pycaputo anchor for fractional relaxation D^a y = -y, y(0) = 1, t in [0, 1].

pycaputo's L1 method (`pycaputo.fode.caputo.L1`, O(N^2) history) on a fixed (uniform)
or graded (Stynes, r = (2 - a)/a) mesh with N steps. Prints one JSON line per run with
y(1) and the wall time; run_anchors.sh computes the error against E_a(-1).

Usage: .venv/bin/python pycaputo_relax.py --alpha 0.5 --mesh uniform --n 1024,4096,16384
Set up: python3 -m venv .venv && .venv/bin/pip install pycaputo
"""
import argparse
import json
import time

import numpy as np
import pycaputo
from pycaputo.controller import make_fixed_controller, make_graded_controller
from pycaputo.derivatives import CaputoDerivative
from pycaputo.events import StepCompleted
from pycaputo.fode import caputo
from pycaputo.stepping import evolve


def run(alpha, mesh, n):
    if mesh == "uniform":
        ctrl = make_fixed_controller(1.0 / n, tstart=0.0, tfinal=1.0)
        dtinit = 1.0 / n
    else:
        ctrl = make_graded_controller(0.0, 1.0, nsteps=n, alpha=alpha)
        dtinit = (1.0 / n) ** ((2.0 - alpha) / alpha)  # t_1 of the graded mesh
    stepper = caputo.L1(
        ds=(CaputoDerivative(alpha),),
        control=ctrl,
        source=lambda t, y: -y,
        source_jac=lambda t, y: -np.eye(1),
        y0=(np.array([1.0]),),
    )
    t0 = time.perf_counter()
    y, t_last, steps = None, 0.0, 0
    for ev in evolve(stepper, dtinit=dtinit):
        if isinstance(ev, StepCompleted):
            y, t_last = ev.y, ev.t
            steps += 1
    secs = time.perf_counter() - t0
    assert abs(t_last - 1.0) < 1e-9, t_last
    return {
        "code": "pycaputo %s" % getattr(pycaputo, "__version__", "0.10.3"),
        "alpha": alpha,
        "mesh": mesh,
        "N": n,
        "steps": steps,
        "t_final": t_last,
        "seconds": secs,
        "y1": float(np.ravel(y)[0]),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--alpha", type=float, default=0.5)
    ap.add_argument("--mesh", default="uniform")
    ap.add_argument("--n", default="1024,4096,16384")
    args = ap.parse_args()
    for n in (int(v) for v in args.n.split(",")):
        print(json.dumps(run(args.alpha, args.mesh, n)), flush=True)


if __name__ == "__main__":
    main()
