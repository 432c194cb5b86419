#!/usr/bin/env python3
"""Checks of the MPI benchmark of BENCHMARKS.md ("MPI (issue 11)") on ou_6d_sparse.toml.

Usage: ou_6d_check.py ONE.json [MORE.json ...]

ONE.json: `ffpe solve benches/problems/ou_6d_sparse.toml --json` in one process; every
MORE.json (e.g. `mpirun -np 2 ... --json`) must give the same moments bit for bit (JSON
floats are written shortest-round-trip, so equal values are equal bits). For each file it
prints the wall time, ranks, assignment balance, per-rank components / wall / peak RSS,
and the largest error of the mean against the exact separable-OU mean
<w_i>(t) = <w_i>(0) E_0.6(-k_i t^0.6), E_a by its power series in mpmath at 40 digits
(|z| <= 2.25: the series converges fast; 40 digits leave every printed digit exact).
"""

import json
import sys

import mpmath

ALPHA = mpmath.mpf("0.6")
STIFFNESS = [1.0, 1.25, 1.5, 1.75, 2.0, 2.25]
MEAN0 = [1.0, -0.8, 1.0, -0.8, 1.0, -0.8]
KEYS = ["times", "mass", "mean", "second_moment", "covariance", "msd", "r"]

mpmath.mp.dps = 40


def mittag_leffler(z):
    """E_alpha(z) by its power series (alternating, |z| <= 2.25 here)."""
    total, k = mpmath.mpf(0), 0
    while True:
        term = mpmath.power(z, k) / mpmath.gamma(ALPHA * k + 1)
        total += term
        if k > 10 and abs(term) < mpmath.mpf(10) ** -35:
            return total
        k += 1


def mean_error(run):
    err = 0.0
    for t, mean in zip(run["times"], run["mean"]):
        for m0, k, m in zip(MEAN0, STIFFNESS, mean):
            exact = m0 * mittag_leffler(-k * mpmath.power(mpmath.mpf(t), ALPHA))
            err = max(err, abs(float(m - exact)))
    return err


def describe(path, run):
    s = run["sparse"]
    ranks = ", ".join(
        f"rank {r['rank']}: {r['components']} components, {r['wall_seconds']:.1f} s, "
        f"peak RSS {r['peak_rss_bytes'] / 2**20:.0f} MiB"
        for r in s["rank_stats"]
        if r.get("peak_rss_bytes") is not None
    )
    print(
        f"{path}: {s['ranks']} rank(s) x {s['threads']} thread(s), solve {s['wall_seconds']:.1f} s, "
        f"assignment balance (mean/max predicted) {s['assignment_balance']:.4f}, "
        f"{s['components']} components; {ranks}; max |mean error| {mean_error(run):.3e}"
    )


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    runs = [(p, json.load(open(p))) for p in sys.argv[1:]]
    base_path, base = runs[0]
    for path, run in runs:
        describe(path, run)
    for path, run in runs[1:]:
        for k in KEYS:
            assert run[k] == base[k], f"{path}: {k} differs from {base_path}"
        print(f"{path}: moments identical bit for bit to {base_path} ({', '.join(KEYS)})")


if __name__ == "__main__":
    main()
