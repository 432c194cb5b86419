#!/usr/bin/env bash
# GPU check for ffpe-validate built with `--features cuda` (see README, "CUDA build").
#
# Usage: validation/scripts/gpu_check.sh BINARY OUTDIR
#
# Needs only the binary (the MNIST subset is compiled into it), bash and python3 (stdlib).
# 1. trains the 784-128-10 MLP (SGD lr 1e-3, batch 256, seed 0) for STEPS steps (default 300)
#    on cuda and on cpu with the same seed, recording every minibatch loss;
# 2. compares the first 100 minibatch losses (|cuda - cpu| <= TOL, default 1e-4: cuBLAS and
#    the CPU gemm round f32 sums differently, 100 small SGD steps keep that at ~1e-6);
# 3. estimates an LLC on cuda (and on cpu) at the final checkpoint (4 chains x 200 draws);
# 4. times 784-256-256-10 training on both devices;
# and writes OUTDIR/gpu_check.json (steps/s, SGLD steps/s, the comparison, pass/fail).
set -euo pipefail
BIN=${1:?usage: gpu_check.sh BINARY OUTDIR}
OUT=${2:?usage: gpu_check.sh BINARY OUTDIR}
STEPS=${STEPS:-300}
TOL=${TOL:-1e-4}
mkdir -p "$OUT"
BIN=$(readlink -f "$BIN")
OUT=$(readlink -f "$OUT")
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader > "$OUT/gpu.txt" 2>/dev/null || echo "nvidia-smi unavailable" > "$OUT/gpu.txt"

train() { # device arch dir
  rm -rf "$3"
  "$BIN" train --device "$1" --arch "$2" --steps "$STEPS" --seed 0 --lr 1e-3 \
    --late-window "$STEPS" --llc-every 0 --quiet --json --out "$3" > "$3.json"
}
train cuda 784-128-10 "$OUT/cuda-128"
train cpu 784-128-10 "$OUT/cpu-128"
train cuda 784-256-256-10 "$OUT/cuda-256"
train cpu 784-256-256-10 "$OUT/cpu-256"
CK=$(printf "checkpoints/step-%010d.safetensors" "$STEPS")
"$BIN" llc --device cuda --weights "$OUT/cuda-128/$CK" --chains 4 --draws 200 --json > "$OUT/llc-cuda.json"
"$BIN" llc --device cpu --weights "$OUT/cuda-128/$CK" --chains 4 --draws 200 --json > "$OUT/llc-cpu.json"

python3 - "$OUT" "$TOL" <<'PY'
import csv, json, os, sys
out, tol = sys.argv[1], float(sys.argv[2])
def losses(d):
    with open(os.path.join(out, d, "minibatch_losses.csv")) as f:
        return [float(r["loss"]) for r in csv.DictReader(f)]
def summ(d):
    with open(os.path.join(out, d + ".json")) as f:
        return json.load(f)
a, b = losses("cuda-128")[:100], losses("cpu-128")[:100]
diffs = [abs(x - y) for x, y in zip(a, b)]
llc = {k: json.load(open(os.path.join(out, f"llc-{k}.json"))) for k in ("cuda", "cpu")}
res = {
    "gpu": open(os.path.join(out, "gpu.txt")).read().strip(),
    "steps": len(losses("cpu-128")),
    "first_100_losses": {"compared": len(diffs), "max_abs_diff": max(diffs), "tolerance": tol,
                          "pass": len(diffs) == 100 and max(diffs) <= tol},
    "train_steps_per_second": {
        "784-128-10": {"cuda": summ("cuda-128")["steps_per_second"], "cpu": summ("cpu-128")["steps_per_second"]},
        "784-256-256-10": {"cuda": summ("cuda-256")["steps_per_second"], "cpu": summ("cpu-256")["steps_per_second"]},
    },
    "llc": {k: {"llc_mean": v["llc_mean"], "llc_std": v["llc_std"], "init_loss": v["init_loss"],
                "sgld_steps_per_second": v["draws_per_second"], "warnings": v["warnings"]}
            for k, v in llc.items()},
}
res["llc"]["agree_within_chain_spread"] = abs(llc["cuda"]["llc_mean"] - llc["cpu"]["llc_mean"]) <= max(
    llc["cuda"]["llc_std"], llc["cpu"]["llc_std"])
with open(os.path.join(out, "gpu_check.json"), "w") as f:
    json.dump(res, f, indent=1)
print(json.dumps(res, indent=1))
sys.exit(0 if res["first_100_losses"]["pass"] else 1)
PY
