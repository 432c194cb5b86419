#!/usr/bin/env bash
# 2-D and 3-D timings and peak memory of `ffpe solve` (issue 3 benchmarks).
# Problem: fractional OU, alpha = 0.5, stiffness 1 per axis, box [-5, 5]^d, Gaussian start
# at 1.5 (std 0.5) per axis, t in [0, 1], SOE history (tolerance 1e-12).
# Prints one JSON line per case: wall seconds and max RSS (GNU time), and the solver stats.
# Usage: benches/core_anchor/multid.sh [path/to/ffpe]   (default target/release/ffpe)
set -euo pipefail
FFPE=${1:-target/release/ffpe}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
run() { # d cells steps mesh solver
  local d=$1 n=$2 steps=$3 mesh=$4 solver=${5:-auto}
  local lo hi cells mean
  lo=$(printf -- '-5.0,%.0s' $(seq "$d")); hi=$(printf -- '5.0,%.0s' $(seq "$d"))
  cells=$(printf -- "$n,%.0s" $(seq "$d")); mean=$(printf -- '1.5,%.0s' $(seq "$d"))
  cat > "$TMP/p.toml" <<TOML
[equation]
alpha = 0.5
[potential]
kind = "quadratic"
stiffness = 1.0
[domain]
lower = [${lo%,}]
upper = [${hi%,}]
cells = [${cells%,}]
[initial]
kind = "gaussian"
mean = [${mean%,}]
std = 0.5
[time]
t_end = 1.0
steps = $steps
mesh = "$mesh"
history = "soe"
linear_solver = "$solver"
[output]
times = [1.0]
TOML
  /usr/bin/time -f '%e %M' -o "$TMP/time" "$FFPE" solve "$TMP/p.toml" --json > "$TMP/out.json"
  read -r wall rss < "$TMP/time"
  python3 - "$d" "$n" "$steps" "$mesh" "$solver" "$wall" "$rss" "$TMP/out.json" <<'PY'
import json, sys
d, n, steps, mesh, solver, wall, rss, path = sys.argv[1:]
out = json.load(open(path))
s = out["stats"]
print(json.dumps({"d": int(d), "cells_per_axis": int(n), "unknowns": s["unknowns"], "N": int(steps),
                  "mesh": mesh, "linear_solver": solver, "steps": s["steps"], "factorizations": s["factorizations"],
                  "wall_seconds": float(wall), "solve_seconds": round(s["seconds"], 3),
                  "peak_rss_mib": round(int(rss) / 1024, 1), "mean0_at_1": out["mean"][-1][0]}))
PY
}
for n in 64 128 256; do run 2 "$n" 200 graded-blocks cholesky; done
run 2 64 200 graded cholesky
run 2 64 200 graded-blocks lu
run 2 128 200 graded-blocks lu
for n in 16 24 32 40; do run 3 "$n" 200 graded-blocks cholesky; done
run 3 16 200 graded cholesky
run 3 16 200 graded-blocks lu
run 3 24 200 graded-blocks lu
