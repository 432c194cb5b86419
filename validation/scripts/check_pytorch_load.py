#!/usr/bin/env python3
"""Check that an ffpe-validate checkpoint loads into PyTorch (strict) and evaluates identically.

Usage (repository root; torch + safetensors in validation/scripts/.venv):
    target/release/ffpe-validate train --arch 784-32-16-10 --batchnorm --optimizer adam \
        --steps 200 --llc-every 0 --out /tmp/bn
    validation/scripts/.venv/bin/python validation/scripts/check_pytorch_load.py /tmp/bn 200
Builds the PyTorch module fc1, bn1, fc2, bn2, ..., fcL from the checkpoint's shapes, loads the
state dict with strict=True, and compares the eval-mode training loss with metrics.csv.
"""
import csv
import os
import sys

import torch
from safetensors.torch import load_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llc_reference import load_bundled  # noqa: E402


class MLP(torch.nn.Module):
    def __init__(self, widths, bn):
        super().__init__()
        self.n = len(widths) - 1
        self.bn = bn
        for i in range(self.n):
            setattr(self, f"fc{i + 1}", torch.nn.Linear(widths[i], widths[i + 1]))
            if bn and i + 1 < self.n:
                setattr(self, f"bn{i + 1}", torch.nn.BatchNorm1d(widths[i + 1]))

    def forward(self, x):
        for i in range(1, self.n):
            x = getattr(self, f"fc{i}")(x)
            if self.bn:
                x = getattr(self, f"bn{i}")(x)
            x = torch.relu(x)
        return getattr(self, f"fc{self.n}")(x)


def main():
    run, step = sys.argv[1], int(sys.argv[2])
    sd = load_file(os.path.join(run, "checkpoints", f"step-{step:010d}.safetensors"))
    widths = [sd["fc1.weight"].shape[1]]
    k = 1
    while f"fc{k}.weight" in sd:
        widths.append(sd[f"fc{k}.weight"].shape[0])
        k += 1
    m = MLP(widths, "bn1.weight" in sd)
    print(m.load_state_dict(sd, strict=True))
    m.eval()
    x, y = load_bundled(".")
    with torch.no_grad():
        loss = torch.nn.functional.cross_entropy(m(x), y).item()
    ours = [float(r["train_loss"]) for r in csv.DictReader(open(os.path.join(run, "metrics.csv")))
            if int(r["step"]) == step][0]
    print(f"pytorch {loss:.9f} ffpe-validate {ours:.9f} diff {abs(loss - ours):.2e}")
    sys.exit(0 if abs(loss - ours) < 1e-5 else 1)


if __name__ == "__main__":
    main()
