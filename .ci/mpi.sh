#!/usr/bin/env bash
# MPI checks (issue 11), called from .ci/run after the default build and tests.
# Installs OpenMPI and libclang from Debian when missing, builds the workspace with the
# `mpi` features, lints that build, and runs two-rank `mpirun` jobs against the
# single-process runs of the same binary:
#   1. a sparse-grid solve (examples/ou_4d_sparse.toml, 4-D, 146 components): the moments
#      at every output time must be identical bit for bit;
#   2. `ffpe-validate reproduce --preset tiny`: results.json must be identical number for
#      number except meta.wall_seconds.
# Needs python3 (installed with the MPI packages when missing) for the JSON comparisons.
set -euxo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
need=()
for pkg in openmpi-bin libopenmpi-dev libclang-dev python3; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${need[@]}"
fi

FEATURES="ffpe/mpi,ffpe-validation/mpi"
cargo build --workspace --release --features "$FEATURES"
cargo clippy --workspace --all-targets --features "$FEATURES" -- -D warnings

# OpenMPI refuses to start as root (CI) without these
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
MPIRUN=(mpirun --oversubscribe --allow-run-as-root -np 2)
BIN=target/release
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# 1. sparse grid: 1 process vs 2 ranks
"$BIN/ffpe" solve examples/ou_4d_sparse.toml --json >"$work/sparse-1.json"
"${MPIRUN[@]}" "$BIN/ffpe" solve examples/ou_4d_sparse.toml --json >"$work/sparse-2.json"
python3 - "$work/sparse-1.json" "$work/sparse-2.json" <<'EOF'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
keys = ["times", "mass", "mean", "second_moment", "covariance", "msd", "r"]
# json floats are written shortest-round-trip: equal values are equal bits
for k in keys:
    assert a[k] == b[k], f"{k}: {a[k]} != {b[k]}"
assert a["sparse"]["ranks"] == 1 and b["sparse"]["ranks"] == 2, (a["sparse"]["ranks"], b["sparse"]["ranks"])
assert a["sparse"]["components"] == b["sparse"]["components"]
per_rank = [r["components"] for r in b["sparse"]["rank_stats"]]
assert sum(per_rank) == b["sparse"]["components"] and min(per_rank) > 0, per_rank
print(f"sparse grid: 2 ranks ({per_rank} components, balance "
      f"{b['sparse']['assignment_balance']:.3f}) equal 1 process bit for bit")
EOF

# 2. reproduce --preset tiny: 1 process vs 2 ranks
"$BIN/ffpe-validate" reproduce --preset tiny --quiet --out "$work/tiny-1"
"${MPIRUN[@]}" "$BIN/ffpe-validate" reproduce --preset tiny --quiet --out "$work/tiny-2"
python3 - "$work/tiny-1/results.json" "$work/tiny-2/results.json" <<'EOF'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for r in (a, b):
    del r["meta"]["wall_seconds"]
assert a == b, "results.json differ between 1 process and 2 MPI ranks"
print(f"reproduce --preset tiny: 2 ranks equal 1 process ({len(a['runs'])} runs)")
EOF
ls "$work/tiny-2/shards"
