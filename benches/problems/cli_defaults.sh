#!/usr/bin/env bash
# Times `ffpe solve FILE --json` (wall seconds, peak RSS, steps, factorisations) with
# /usr/bin/time -v, one JSON line per file. Issue 13, part 3 (fast defaults).
# Usage: benches/problems/cli_defaults.sh BIN FILE...
set -euo pipefail
bin=$1; shift
for f in "$@"; do
  out=$(mktemp); err=$(mktemp)
  /usr/bin/time -v "$bin" solve "$f" --json --max-work none >"$out" 2>"$err"
  wall=$(grep "Elapsed (wall clock)" "$err" | awk '{print $NF}')
  rss=$(grep "Maximum resident set size" "$err" | awk '{print $NF}')
  stats=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["stats"]; print(s.get("steps"), s.get("factorizations"))' "$out" 2>/dev/null || echo "? ?")
  echo "{\"file\":\"$f\",\"wall\":\"$wall\",\"max_rss_kb\":$rss,\"steps_factorizations\":\"$stats\",\"load\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}"
  rm -f "$out" "$err"
done
