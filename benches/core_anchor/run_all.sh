#!/usr/bin/env bash
# One session of the core benchmarks (issue 3): ffpe's report, the fplanck + pycaputo
# anchor on the same problem, and the 2-D/3-D timings, one after the other so that the
# ratios are measured under the same machine conditions. Output: JSON lines in
# benches/core_anchor/results-<date>.jsonl (ffpe report lines come from stderr).
# Set-up of the anchor: python3 -m venv benches/core_anchor/.venv &&
#   benches/core_anchor/.venv/bin/pip install fplanck pycaputo numpy scipy
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=benches/core_anchor/results-$(date -u +%Y%m%dT%H%M).jsonl
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build --release -p ffpe --bin ffpe
FFPE_CORE_REPORT=1 cargo bench -p ffpe --bench bench_main -- operator/assemble_1d \
  --warm-up-time 1 --measurement-time 2 2> >(grep '^{' >> "$OUT")
benches/core_anchor/.venv/bin/python -O benches/core_anchor/fou_anchor.py \
  --variants splu --runs 192:1024,192:4096 >> "$OUT"
benches/core_anchor/.venv/bin/python -O benches/core_anchor/fou_anchor.py \
  --variants root --runs 192:256 >> "$OUT"
benches/core_anchor/multid.sh "$CARGO_TARGET_DIR/release/ffpe" >> "$OUT"
echo "wrote $OUT"
