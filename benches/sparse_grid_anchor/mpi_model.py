#!/usr/bin/env python3
"""Scaling model of the MPI combination technique (issue 11): a model, not a measurement.

Input: the `ffpe solve --json` output of a one-rank run (its `sparse.component_stats` hold
the measured wall seconds, unknowns and levels of every component) and, optionally, the
output of an N-rank run of the same problem (to check that this script's port of the
assignment rule gives the components per rank that the Rust code used).

Model of an N-rank run:
  - components are assigned by the rule of `ffpe::distributed::balanced_assignment`
    (longest processing time first on the predicted cost unknowns x steps; ties: lower
    component index, lower rank);
  - rank r's time is the sum of the *measured* one-thread seconds of its components
    (every rank runs one thread, as in the measurement);
  - the gather of the reductions to rank 0 costs latency + bytes / bandwidth per rank
    (5 us and 10 GB/s, an InfiniBand-class network; the payload is ~ (1 + d + d^2) x
    (output times) x 8 bytes per component), and rank 0's combination is measured
    negligible (< 1 ms for 210 components);
  - the modelled wall time is the largest rank time plus the gather.
For schemes larger than the measured one (more components than ranks at 1024), the
per-component cost is extrapolated as c x unknowns x steps with c the median measured
seconds per unknown-step (stated as such in the output).

Usage: mpi_model.py ONE_RANK.json [N_RANK.json] > model.json (a markdown table on stderr)
"""
import json
import math
import sys


def lpt(costs, parts):
    order = sorted(range(len(costs)), key=lambda i: -costs[i])  # stable: ties keep index order
    loads = [0] * parts
    owner = [0] * len(costs)
    for i in order:
        p = min(range(parts), key=lambda r: (loads[r], r))
        owner[i] = p
        loads[p] += costs[i]
    return owner


def compositions(dim, total):
    if dim == 1:
        yield (total,)
        return
    for v in range(1, total - (dim - 1) + 1):
        for rest in compositions(dim - 1, total - v):
            yield (v,) + rest


def truncated(dim, level, min_level):
    shifted = level - min_level + 1
    out = []
    for q in range(dim):
        s = shifted + dim - 1
        if s < q + dim:
            break
        for j in compositions(dim, s - q):
            out.append(tuple(v + min_level - 1 for v in j))
    return out


def extrapolated(dim, level, min_level):
    fine = truncated(dim, level, min_level)
    coarse = [c for c in truncated(dim, level - 1, min_level) if c not in set(fine)]
    return fine + coarse  # level-n grids first, then the extra level n-1 grids


def model(seconds, costs, ranks, payload_bytes):
    owner = lpt(costs, ranks)
    t = [0.0] * ranks
    for i, s in enumerate(seconds):
        t[owner[i]] += s
    comm = ranks * 5e-6 + len(seconds) * payload_bytes / 10e9
    wall = max(t) + comm
    mean = sum(t) / ranks
    return {
        "ranks": ranks,
        "modelled_wall_seconds": wall,
        "ideal_seconds": sum(seconds) / ranks,
        "largest_component_seconds": max(seconds),
        "speedup": sum(seconds) / wall,
        "efficiency": sum(seconds) / wall / ranks,
        "load_balance": mean / max(t) if max(t) > 0 else 1.0,
        "idle_ranks": sum(1 for x in t if x == 0.0),
    }


def main():
    one = json.load(open(sys.argv[1]))
    sp = one["sparse"]
    comps = sp["component_stats"]
    steps = one["stats"]["steps"]
    dim = sp["dim"]
    times = len(one["times"]) + 1
    payload = (1 + dim + dim * dim) * times * 8 + 64
    seconds = [c["seconds"] for c in comps]
    unknowns = [c["unknowns"] for c in comps]
    costs = [u * steps for u in unknowns]
    out = {
        "note": "model, not a measurement: measured one-thread component seconds, LPT "
        "assignment by unknowns x steps, gather at 5 us + 10 GB/s",
        "measured_run": {
            "dim": dim, "level": sp["level"], "components": len(comps), "steps": steps,
            "total_component_seconds": sum(seconds), "wall_seconds": sp["wall_seconds"],
        },
    }
    per = sorted(s / c for s, c in zip(seconds, costs))
    c_med = per[len(per) // 2]
    out["seconds_per_unknown_step"] = {
        "median": c_med, "min": per[0], "max": per[-1],
        "p10": per[len(per) // 10], "p90": per[(9 * len(per)) // 10],
    }
    if len(sys.argv) > 2:
        many = json.load(open(sys.argv[2]))["sparse"]
        owner = lpt(costs, many["ranks"])
        want = [sum(1 for o in owner if o == r) for r in range(many["ranks"])]
        got = [r["components"] for r in many["rank_stats"]]
        assert want == got, f"assignment port disagrees: {want} vs {got}"
        out["check_against_run"] = {"ranks": many["ranks"], "components_per_rank": got,
                                    "assignment_balance": many["assignment_balance"]}
    ranks = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]
    out["measured_costs"] = [model(seconds, costs, r, payload) for r in ranks]
    out["extrapolated_schemes"] = []
    for level in (7, 8):
        grids = extrapolated(dim, level, sp["min_level"])
        u = [2 ** sum(g) for g in grids]
        c = [x * steps for x in u]
        s = [c_med * x for x in c]
        out["extrapolated_schemes"].append({
            "level": level, "components": len(grids), "unknowns": sum(u),
            "cost_model": "median seconds per unknown-step x unknowns x steps",
            "rows": [model(s, c, r, payload) for r in ranks],
        })
    json.dump(out, sys.stdout, indent=1)
    print(file=sys.stdout)
    err = sys.stderr
    print("| ranks | level %d (measured costs): wall s | speed-up | balance |" % sp["level"]
          + "".join(" level %d (modelled costs): wall s | speed-up |" % e["level"]
                    for e in out["extrapolated_schemes"]), file=err)
    print("|---" * (4 + 2 * len(out["extrapolated_schemes"])) + "|", file=err)
    for i, r in enumerate(ranks):
        m = out["measured_costs"][i]
        row = f"| {r} | {m['modelled_wall_seconds']:.2f} | {m['speedup']:.1f} | {m['load_balance']:.3f} |"
        for e in out["extrapolated_schemes"]:
            x = e["rows"][i]
            row += f" {x['modelled_wall_seconds']:.1f} | {x['speedup']:.0f} |"
        print(row, file=err)


if __name__ == "__main__":
    main()
