#!/usr/bin/env python3
"""SG++ anchor for the sparse-grid interpolation of a Gaussian.

Interpolates f(x) = exp(-4 |x - 1/2|^2) on [0, 1]^d with SG++ regular sparse grids
(piecewise linear, with boundary points: f does not vanish on the boundary) of level
n = 2..8, and prints one JSON line per (d, n): number of grid points and the max error
over the 1000 Weyl points x_a = frac((k + 1/2) sqrt(2 + a)) - the same function and
points as the Rust side (`tests/sparse_grid_report.rs`, test `gaussian_interpolation`).

Setup (own venv; pysgpp 3.3.1 needs numpy < 2):
    python3 -m venv benches/sparse_grid_anchor/.venv
    benches/sparse_grid_anchor/.venv/bin/pip install "numpy<2" pysgpp==3.3.1
    benches/sparse_grid_anchor/.venv/bin/python benches/sparse_grid_anchor/sgpp_gaussian.py
"""
import json
import math
import sys

import pysgpp


def f(x):
    return math.exp(-4.0 * sum((v - 0.5) ** 2 for v in x))


def weyl_points(d, count=1000):
    return [[math.modf((k + 0.5) * math.sqrt(2.0 + a))[0] for a in range(d)] for k in range(count)]


def run(d, level, boundary):
    grid = pysgpp.Grid.createLinearBoundaryGrid(d) if boundary else pysgpp.Grid.createLinearGrid(d)
    grid.getGenerator().regular(level)
    storage = grid.getStorage()
    n = storage.getSize()
    alpha = pysgpp.DataVector(n)
    for i in range(n):
        gp = storage.getPoint(i)
        alpha[i] = f([gp.getStandardCoordinate(j) for j in range(d)])
    pysgpp.createOperationHierarchisation(grid).doHierarchisation(alpha)
    op = pysgpp.createOperationEvalNaive(grid)
    err = 0.0
    for x in weyl_points(d):
        v = op.eval(alpha, pysgpp.DataVector(x))
        err = max(err, abs(v - f(x)))
    return n, err


def main():
    dims = [int(a) for a in sys.argv[1].split(",")] if len(sys.argv) > 1 else [2, 3, 4, 5, 6]
    for d in dims:
        for level in range(2, 9):
            n, err = run(d, level, boundary=True)
            print(json.dumps({"tool": "sgpp-linear-boundary", "d": d, "level": level,
                              "points": n, "max_err": float("%.3e" % err)}), flush=True)
            if n > 2_000_000:
                break


if __name__ == "__main__":
    main()
