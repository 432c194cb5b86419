#!/usr/bin/env python3
"""CPU cost of `reproduce --preset paper`, measured on a subset and extrapolated (issue 10).

    python3 validation/scripts/paper_cpu_cost.py target/release/ffpe-validate [--steps 10000] \
        [--out paper_cpu_cost.json]

For every architecture of the paper preset, one SGD run of `--steps` steps with the paper's
settings (batch 256, lr 0.001, 20 checkpoints per decade, LLC 2 chains x 200 draws on the
geometric schedule plus every 500 steps in the late window), and the same run without LLC
estimates, both timed (wall, one thread). From them:
- t_step: seconds per training step (with checkpoints), from the run without LLC;
- t_llc: seconds per LLC estimate, (wall with LLC - wall without) / estimates made;
- the modelled cost of one 100,000-step run: 100,000 t_step + n_llc(100,000) t_llc, with the
  number of estimates the schedule makes in 100,000 steps (counted by the binary's own schedule:
  it is in the summary of a run, so the script reads it from a 100,000-step dry count below);
- the whole preset: the runs of the preset (as `reproduce` lists them: 5 architectures x 2
  optimizers x 20 seeds, 30 more histogram seeds, the batch-size scan) with each run's modelled
  cost (Adam is taken at the SGD cost of the same architecture, the batch-size scan at
  cost x batch / 256 for the training part), divided by the cores used.
This is a measurement of the parts and a model of the whole, and the output says so.
"""
import argparse
import json
import os
import platform
import subprocess
import tempfile
import time

PAPER = [
    "784-128-10",
    "784-256-10",
    "784-128-128-10",
    "784-256-256-10",
    "784-512-256-128-10",
]


def geometric_count(steps, per_decade):
    """Distinct rounded steps of the geometric schedule 10^(k / per_decade) <= steps (step 0
    excluded), as `train::checkpoint_schedule` builds it."""
    out = set()
    k = 0
    while True:
        t = round(10 ** (k / per_decade))
        if t > steps:
            break
        out.add(t)
        k += 1
    out.add(steps)
    return len(out)


def n_llc(steps, llc_every=500, per_decade=10, late_frac=0.1):
    """LLC estimates of one run: the geometric schedule (10 per decade) plus every llc_every
    steps in the late window (the last 10 %); the two sets overlap in a few steps, ignored."""
    late = int(steps * late_frac)
    return geometric_count(steps, per_decade) + late // llc_every


def timed(cmd):
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("binary")
    ap.add_argument("--steps", type=int, default=10_000)
    ap.add_argument("--out", default="paper_cpu_cost.json")
    ap.add_argument("--cores", type=int, default=2)
    a = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for arch in PAPER:
            common = [a.binary, "train", "--arch", arch, "--steps", str(a.steps),
                      "--optimizer", "sgd", "--lr", "0.001", "--batch-size", "256",
                      "--checkpoints-per-decade", "20", "--quiet"]
            w_no = timed(common + ["--llc-every", "0", "--llc-per-decade", "0",
                                   "--out", os.path.join(tmp, arch + "-nollc")])
            d = os.path.join(tmp, arch + "-llc")
            w_llc = timed(common + ["--llc-every", "500", "--llc-per-decade", "10",
                                    "--llc-chains", "2", "--llc-draws", "200", "--out", d])
            with open(os.path.join(d, "summary.json")) as f:
                made = len(json.load(f)["llc"])
            t_step = w_no / a.steps
            t_llc = (w_llc - w_no) / max(made, 1)
            run_100k = 100_000 * t_step + n_llc(100_000) * t_llc
            rows.append({"arch": arch, "steps_measured": a.steps, "wall_no_llc": w_no,
                         "wall_with_llc": w_llc, "llc_estimates": made, "t_step": t_step,
                         "t_llc": t_llc, "n_llc_100k": n_llc(100_000),
                         "modelled_run_100k_s": run_100k})
            print(f"{arch}: {a.steps} steps {w_no:.1f} s without LLC, {w_llc:.1f} s with "
                  f"{made} estimates; modelled 100k-step run {run_100k:.0f} s", flush=True)
    by = {r["arch"]: r for r in rows}
    # the paper preset's runs: 5 archs x 2 optimizers x 20 seeds; 30 more histogram seeds of
    # the first architecture; batch scan 16/64/1024 x 10 seeds (256 is the main sweep)
    total = sum(2 * 20 * by[x]["modelled_run_100k_s"] for x in PAPER)
    first = by[PAPER[0]]
    total += 30 * first["modelled_run_100k_s"]
    for b in (16, 64, 1024):
        train = 100_000 * first["t_step"] * b / 256
        total += 10 * (train + first["n_llc_100k"] * first["t_llc"])
    res = {
        "what": "measured per-architecture parts, modelled whole (see the script's docstring)",
        "machine": f"{platform.node()} {platform.machine()}, {os.cpu_count()} cores",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "rows": rows,
        "modelled_core_seconds": total,
        "modelled_wall_hours_on_cores": total / a.cores / 3600,
        "cores": a.cores,
    }
    with open(a.out + ".tmp", "w") as f:
        json.dump(res, f, indent=1)
    os.replace(a.out + ".tmp", a.out)
    print(f"paper preset, modelled: {total / 3600:.1f} core-hours = "
          f"{total / a.cores / 3600:.1f} h on {a.cores} cores")


if __name__ == "__main__":
    main()
