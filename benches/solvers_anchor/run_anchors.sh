#!/usr/bin/env bash
# Fractional relaxation D^a y = -y, y(0) = 1, a = 0.5, t in [0, 1], error at t = 1 against
# E_{1/2}(-1) = e erfc(1): ffpe-solvers (Direct / SOE / FFT) side by side with pycaputo's L1
# (PyPI, O(N^2) history) and numra-fde's L1 (crates.io, benchmark only: non-commercial
# licence, built as a separate throwaway crate outside the workspace). All in one run, so the
# ratios are measured under the same machine load.
#
# Usage (from the repository root): benches/solvers_anchor/run_anchors.sh [N,N,...]
# Needs: python3 (venv with pycaputo, created here if missing), cargo.
set -euo pipefail
cd "$(dirname "$0")/../.."
NS="${1:-1024,4096,16384}"
HERE=benches/solvers_anchor
OUT=$HERE/results
mkdir -p "$OUT"
if [ ! -x $HERE/.venv/bin/python ]; then
  python3 -m venv $HERE/.venv
  $HERE/.venv/bin/pip install -q pycaputo
fi
CARGO_TARGET_DIR=${SOLVERS_TARGET:-/work/tgt/solvers} cargo build -q --release -p ffpe-solvers --example relaxation_table
(cd $HERE/numra && CARGO_TARGET_DIR=${NUMRA_TARGET:-/work/tgt/numra} cargo build -q --release)
OURS=${SOLVERS_TARGET:-/work/tgt/solvers}/release/examples/relaxation_table
NUMRA=${NUMRA_TARGET:-/work/tgt/numra}/release/numra-anchor
{
  $OURS --mesh uniform --history direct,soe,fft --n "$NS" --reps 3
  $OURS --mesh graded --history direct,soe --n "$NS" --reps 3
  $NUMRA 0.5 "$NS"
  $HERE/.venv/bin/python $HERE/pycaputo_relax.py --mesh uniform --n 64 >/dev/null  # warm-up (imports)
  $HERE/.venv/bin/python $HERE/pycaputo_relax.py --mesh uniform --n "$NS"
  $HERE/.venv/bin/python $HERE/pycaputo_relax.py --mesh graded --n "$NS"
} | tee "$OUT/anchors.jsonl"
$HERE/.venv/bin/python - "$OUT/anchors.jsonl" <<'PY'
import json, math, sys
from scipy.special import erfc
exact = math.e * erfc(1.0)  # E_{1/2}(-1)
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
for r in rows:
    r["err"] = abs(r["y1"] - exact)
    r["who"] = r.get("code") or "ffpe-solvers " + r["history"]
def best(mesh, n, who):
    c = [r for r in rows if r["mesh"] == mesh and r["N"] == n and r["who"].startswith(who)]
    return min(c, key=lambda r: r["seconds"]) if c else None
print("| mesh | N | code | seconds | error at t=1 | ffpe fastest / this |")
print("|---|---|---|---|---|---|")
for mesh in ("uniform", "graded"):
    for n in sorted({r["N"] for r in rows}):
        mine = [r for r in rows if r["mesh"] == mesh and r["N"] == n and r["who"].startswith("ffpe")]
        if not mine:
            continue
        fastest = min(mine, key=lambda r: r["seconds"])
        for r in sorted([r for r in rows if r["mesh"] == mesh and r["N"] == n], key=lambda r: r["seconds"]):
            ratio = r["seconds"] / fastest["seconds"]
            print(f"| {mesh} | {n} | {r['who']} | {r['seconds']:.4g} | {r['err']:.3e} | {ratio:.1f}x |")
PY
