#!/usr/bin/env bash
# Prepared GPU session: carry target/gpu/ffpe-validate(.gz) (a `--features cuda` build, see README)
# and run `bash validation/scripts/gpu_session.sh` from the repository root on the GPU machine with
# $OUT set: runs gpu_check.sh, then `reproduce --preset quick --device cuda` within CAP seconds.
set -u
cd "$(dirname "$0")/../.."
START=$(date +%s)
BIN=target/gpu/ffpe-validate
[ -f $BIN.gz ] && gunzip -f $BIN.gz
chmod +x $BIN
nvidia-smi | head -15
LIBDIRS=$(find /usr /opt /lib /lib64 /usr/local \( -name 'libcublas.so.13*' -o -name 'libcurand.so.10*' -o -name 'libcudart.so.13*' -o -name 'libcublasLt.so.13*' \) 2>/dev/null | xargs -r -n1 dirname | sort -u | tr '\n' ':')
echo "CUDA lib dirs: $LIBDIRS"
export LD_LIBRARY_PATH="${LIBDIRS}${LD_LIBRARY_PATH:-}"
ldd $BIN | grep -E 'cuda|cublas|curand|not found'
mkdir -p "$OUT"
echo "== gpu_check $(date +%s)"
timeout 300 bash validation/scripts/gpu_check.sh $BIN "$OUT/gpu_check" > "$OUT/gpu_check.log" 2>&1
echo "gpu_check rc=$?"
tail -40 "$OUT/gpu_check.log"
ELAPSED=$(( $(date +%s) - START ))
LEFT=$(( ${CAP:-400} - ELAPSED ))
echo "== reproduce quick on cuda, ${LEFT}s left"
if [ $LEFT -gt 60 ]; then
  TIMECMD=""; [ -x /usr/bin/time ] && TIMECMD="/usr/bin/time -v"
  $TIMECMD timeout $LEFT $BIN reproduce --preset quick --device cuda --quiet --out "$OUT/quick-cuda" > "$OUT/quick-cuda.log" 2>&1
  echo "reproduce rc=$?"
  tail -30 "$OUT/quick-cuda.log"
  rm -rf "$OUT/quick-cuda/runs/"*/checkpoints 2>/dev/null
fi
du -sh "$OUT"
