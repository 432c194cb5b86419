#!/usr/bin/env bash
# The calibration behind the medium preset's LLC settings (MEDIUM_LLC and, at the paper's
# n_beta = n / ln n, PAPER_NBETA_LLC in
# validation/src/reproduce/preset.rs): `ffpe-validate llc-sweep` (epsilon x gamma grid,
# devinterp's recipe, with the declared rule of `llc-sweep --help`) at the chain length the
# study uses (4 chains x 1000 draws after 200 burn-in steps), on five checkpoints of a medium
# run: the end of a single SGD run and of a single Adam run, the end of stream 0 of
# initialisation 0 of the study's ensemble group, of the weight-decay group and of the
# BatchNorm group; then the two single runs' checkpoints again at n_beta = n / ln n.
#
# usage: validation/scripts/llc_calibration.sh MEDIUM_OUT RESULTS_DIR [FFPE_VALIDATE]
#   MEDIUM_OUT   the output directory of `ffpe-validate reproduce --preset medium`
#                (its runs/ and ensembles/ hold the checkpoints)
#   RESULTS_DIR  where each sweep's sweep.json and llc_sweep.png/.svg go (one folder each)
set -euo pipefail
med=${1:?medium output directory}
out=${2:?results directory}
bin=${3:-target/release/ffpe-validate}
eps=3e-4,1e-3,2e-3
gammas=100,300
mkdir -p "$out"
sweep() { # name arch checkpoint [extra llc-sweep options]
  "$bin" llc-sweep --weights "$3" --arch "$2" --epsilons "$eps" --gammas "$gammas" \
    --chains 4 --draws 1000 --burnin 200 --threads 2 --seed 0 --out "$out/$1" "${@:4}" >/dev/null
  python3 - "$out/$1/sweep.json" "$1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
c = d["chosen"]
ch = d["points"][c] if c is not None else None
print(f"{sys.argv[2]}: chosen " + (f"eps {ch['epsilon']:g}, gamma {ch['gamma']:g}, LLC {ch['llc_mean']:.3f}" if ch else "none"))
for p in d["points"]:
    g = p["diagnostics"]
    print(f"  eps {p['epsilon']:g} gamma {p['gamma']:g}: LLC {p['llc_mean']:.3f} +- {p['llc_std']:.3f}, "
          f"R-hat {g['rhat']:.4f}, ESS {g['ess_bulk']:.0f}, acceptance {g['acceptance']:.3f}, "
          f"usable {p['usable']} {'; '.join(p['reasons'])}")
PY
}
sweep single-sgd-s0 784-32-10 "$med/runs/784-32-10_sgd_s0/checkpoints/step-0000010000.safetensors"
sweep single-adam-s0 784-32-10 "$med/runs/784-32-10_adam_s0/checkpoints/step-0000010000.safetensors"
sweep ensemble-sgd 784-32-10 "$med/ensembles/sgd/init-0/stream-0/checkpoints/step-0000014000.safetensors"
sweep ensemble-sgd-wd 784-32-10 "$med/ensembles/sgd-wd/init-0/stream-0/checkpoints/step-0000012000.safetensors"
sweep ensemble-sgd-wd-bn 784-32-10+bn "$med/ensembles/sgd-wd-bn/init-0/stream-0/checkpoints/step-0000006000.safetensors"
# The paper's n_beta = n / ln n (PAPER_NBETA_LLC in preset.rs): 19 times colder than B / ln B,
# so a grid of smaller steps.
eps=3e-5,1e-4,3e-4
sweep paper-nbeta-single-sgd-s0 784-32-10 "$med/runs/784-32-10_sgd_s0/checkpoints/step-0000010000.safetensors" --nbeta dataset
sweep paper-nbeta-single-adam-s0 784-32-10 "$med/runs/784-32-10_adam_s0/checkpoints/step-0000010000.safetensors" --nbeta dataset
# The BatchNorm network on a wider grid (stronger localisation, smaller steps): still nothing
# flat in epsilon (2026-12-07 night, `ensemble-sgd-wd-bn-wide-grid/`).
eps=1e-4,3e-4,1e-3
gammas=300,1000,3000
sweep ensemble-sgd-wd-bn-wide-grid 784-32-10+bn "$med/ensembles/sgd-wd-bn/init-0/stream-0/checkpoints/step-0000006000.safetensors"
