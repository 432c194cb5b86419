#!/usr/bin/env bash
# Side-by-side CPU benchmark: ffpe-validate (candle) vs PyTorch and devinterp, in the same run.
#
# Usage (repository root): validation/scripts/bench.sh BINARY [THREADS] [STEPS] [DRAWS]
#   BINARY   target/release/ffpe-validate (built with `cargo build --release -p ffpe-validation`)
#   THREADS  CPU threads for both sides (default 1)
#   STEPS    SGD steps per architecture (default 1000)
#   DRAWS    SGLD draws per chain, 4 chains (default 300)
# Needs validation/scripts/.venv with torch, safetensors, numpy, devinterp==1.3.2 (see
# llc_reference.py). Prints one JSON object per side.
set -euo pipefail
BIN=$(readlink -f "${1:?usage: bench.sh BINARY [THREADS] [STEPS] [DRAWS]}")
T=${2:-1}; STEPS=${3:-1000}; DRAWS=${4:-300}
PY=${PY:-validation/scripts/.venv/bin/python}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
rate() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
r128=$("$BIN" --threads "$T" train --arch 784-128-10 --steps "$STEPS" --llc-every 0 \
  --checkpoints-per-decade 1 --quiet --json --out "$TMP/a" | rate steps_per_second)
r256=$("$BIN" --threads "$T" train --arch 784-256-256-10 --steps "$STEPS" --llc-every 0 \
  --checkpoints-per-decade 1 --quiet --json --out "$TMP/b" | rate steps_per_second)
llc=$("$BIN" --threads "$T" llc --weights validation/tests/data/mlp-784-128-10.safetensors \
  --chains 4 --draws "$DRAWS" --json)
echo "{\"side\": \"ffpe-validate\", \"threads\": $T, \"train_steps_per_second\": {\"784-128-10\": $r128, \"784-256-256-10\": $r256}, \"sgld_steps_per_second\": $(echo "$llc" | rate draws_per_second), \"llc_mean\": $(echo "$llc" | rate llc_mean), \"llc_std\": $(echo "$llc" | rate llc_std)}"
"$PY" validation/scripts/bench_pytorch.py "$T" "$STEPS" "$DRAWS"
