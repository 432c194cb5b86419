#!/usr/bin/env python3
"""PyTorch side of the ffpe-validation benchmarks (run by validation/scripts/bench.sh).

Prints one JSON object: SGD steps/s for 784-128-10 and 784-256-256-10 (batch 256, f32, the
bundled MNIST training split, same loop as `ffpe-validate train`: forward, cross-entropy,
backward, plain SGD update), and SGLD steps/s of devinterp 1.3.2 and of the hand-written
PyTorch SGLD of llc_reference.py on the reference checkpoint (4 chains x DRAWS draws).

Usage: bench_pytorch.py THREADS STEPS DRAWS
"""
import json
import math
import os
import sys
import time
import warnings

import torch

sys.path.insert(0, os.path.dirname(__file__))
from llc_reference import MLP, load_bundled, sgld  # noqa: E402

warnings.filterwarnings("ignore")


def mlp(widths):
    layers = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i + 2 < len(widths):
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def train_rate(x, y, widths, steps):
    torch.manual_seed(0)
    model = mlp(widths)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    n = x.shape[0]
    gen = torch.Generator().manual_seed(0)
    perm = torch.randperm(n, generator=gen)
    per = (n + 255) // 256

    def step(t):
        k = t % per
        idx = perm[k * 256 : min((k + 1) * 256, n)]
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
        loss.backward()
        opt.step()

    for t in range(20):
        step(t)
    t0 = time.perf_counter()
    for t in range(steps):
        step(t)
    return steps / (time.perf_counter() - t0)


def main():
    threads, steps, draws = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(threads)
    x, y = load_bundled(".")
    out = {"torch": torch.__version__, "threads": threads}
    out["train_steps_per_second"] = {
        "784-128-10": train_rate(x, y, [784, 128, 10], steps),
        "784-256-256-10": train_rate(x, y, [784, 256, 256, 10], steps),
    }
    from safetensors.torch import load_file

    model = MLP()
    model.load_state_dict(load_file("validation/tests/data/mlp-784-128-10.safetensors"))
    state = {k: v.clone() for k, v in model.state_dict().items()}
    eps, gamma, nbeta = 1e-4, 100.0, 256 / math.log(256)
    t0 = time.perf_counter()
    for c in range(4):
        model.load_state_dict(state)
        sgld(model, x, y, eps, gamma, nbeta, draws, 1.0, True, torch.Generator().manual_seed(c))
    out["sgld_torch_steps_per_second"] = 4 * draws / (time.perf_counter() - t0)
    model.load_state_dict(state)
    from devinterp.optim.sgld import SGLD
    from devinterp.slt.sampler import estimate_learning_coeff_with_summary

    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=256, shuffle=True)

    def evaluate(m, data):
        xb, yb = data
        o = m(xb)
        return torch.nn.functional.cross_entropy(o, yb), {"output": o}

    with torch.no_grad():
        full = torch.nn.functional.cross_entropy(model(x), y).item()
    t0 = time.perf_counter()
    r = estimate_learning_coeff_with_summary(
        model, loader=loader, evaluate=evaluate, sampling_method=SGLD,
        optimizer_kwargs=dict(lr=eps, localization=gamma, nbeta=nbeta), num_chains=4,
        num_draws=draws, init_loss=full, device="cpu", online=False, verbose=False, seed=0, cores=1,
    )
    out["sgld_devinterp_steps_per_second"] = 4 * draws / (time.perf_counter() - t0)
    out["devinterp_llc_mean"] = float(r["llc/mean"])
    out["devinterp_llc_std"] = float(r["llc/std"])
    print(json.dumps(out))


if __name__ == "__main__":
    main()
