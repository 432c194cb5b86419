#!/usr/bin/env python3
"""PyTorch reference for ffpe-validation's Adam training (a one-off, not part of CI).

Set-up: the virtual environment of llc_reference.py (torch==2.15.0, safetensors, numpy).
Run from the repository root, after `cargo build --release -p ffpe-validation`:
    target/release/ffpe-validate train --optimizer adam --lr 0.001 --steps 200 \
        --late-window 200 --llc-every 0 --out /tmp/adam_run --quiet
    validation/scripts/.venv/bin/python validation/scripts/adam_reference.py \
        /tmp/adam_run/checkpoints/step-0000000000.safetensors validation/tests/data

It starts from ffpe-validate's step-0 weights (784-128-10, seed 0, PyTorch init), draws the
same minibatches (epoch e is the permutation Rng(seed, [0x7a1, e]) of the 8000 training
images, cut into batches of 256, the last one holding the remainder), trains 200 steps with
torch.optim.Adam (lr 1e-3, betas (0.9, 0.999), eps 1e-8, no weight decay, f32) and writes the
minibatch loss before each update to adam_reference.json. The Rust test
validation/tests/adam_reference.rs trains the same run and compares the losses.
"""
import json
import os
import sys

import torch
from safetensors.torch import load_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llc_reference import MLP, Rng, load_bundled  # noqa: E402

STEPS = 200
BATCH = 256
LR = 1e-3
SEED = 0


def main():
    init, out_dir = sys.argv[1], sys.argv[2]
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    torch.set_num_threads(1)
    x, y = load_bundled(root)
    n = x.shape[0]
    model = MLP()
    model.load_state_dict(load_file(init), strict=True)
    opt = torch.optim.Adam(model.parameters(), lr=LR, betas=(0.9, 0.999), eps=1e-8)
    per = (n + BATCH - 1) // BATCH
    perm, epoch, losses = None, None, []
    for t in range(STEPS):
        e, k = t // per, t % per
        if e != epoch:
            perm = torch.tensor(Rng(SEED, [0x7A1, e]).permutation(n))
            epoch = e
        idx = perm[k * BATCH:min((k + 1) * BATCH, n)]
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
        loss.backward()
        opt.step()
        losses.append(loss.item())
    out = {
        "description": "Adam (torch.optim.Adam) from ffpe-validate's step-0 weights, same minibatches",
        "torch": torch.__version__,
        "arch": "784-128-10",
        "seed": SEED,
        "lr": LR,
        "betas": [0.9, 0.999],
        "eps": 1e-8,
        "batch_size": BATCH,
        "steps": STEPS,
        "losses": losses,
    }
    path = os.path.join(out_dir, "adam_reference.json")
    with open(path + ".tmp", "w") as f:
        json.dump(out, f, indent=1)
    os.replace(path + ".tmp", path)
    print(f"wrote {path}: first {losses[0]:.6f}, last {losses[-1]:.6f}")


if __name__ == "__main__":
    main()
