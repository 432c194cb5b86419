#!/usr/bin/env python3
"""PyTorch reference for ffpe-validation's SGLD/LLC estimator (a one-off, not part of CI).

Set-up (PyPI only):
    python3 -m venv validation/scripts/.venv
    validation/scripts/.venv/bin/pip install torch==2.15.0 safetensors numpy devinterp==1.3.2
Run from the repository root:
    validation/scripts/.venv/bin/python validation/scripts/llc_reference.py validation/tests/data

It
1. loads the bundled MNIST subset and reproduces ffpe-validation's seeded 8000/2000 split (the
   xoshiro256++ generator of validation/src/rng.rs, ported below),
2. trains a 784-128-10 ReLU MLP (PyTorch init, SGD lr 0.05, batch 256, 3000 steps, seed 0) and
   saves it as mlp-784-128-10.safetensors (names fc1.weight, fc1.bias, fc2.weight, fc2.bias),
3. runs the SGLD update
       w <- w - (eps/2) (n_beta grad L_B(w) + gamma (w - w*)) + sqrt(eps) N(0, noise^2)
   written out by hand in PyTorch: (a) noise 0, minibatches in dataset order, 1 chain, 200 steps:
   the loss trace; (b) noise 1, shuffled, 4 chains x 400 draws: the LLC per chain,
4. runs devinterp's estimate_learning_coeff_with_summary (SGLD) on the same checkpoint with the
   same hyper-parameters and init loss, for comparison,
and writes everything to llc_reference.json (the Rust test validation/tests/llc_reference.rs
reads it).
"""
import gzip
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch
from safetensors.torch import save_file

M64 = (1 << 64) - 1


def splitmix(x):
    x = (x + 0x9E3779B97F4A7C15) & M64
    z = x
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return x, z ^ (z >> 31)


class Rng:
    """Port of validation/src/rng.rs (xoshiro256++ seeded by SplitMix64 over stream labels)."""

    def __init__(self, seed, stream):
        x = seed
        for t in stream:
            x, z = splitmix(x)
            x = z ^ ((t * 0xD6E8FEB86659FD93) & M64)
        s = []
        for _ in range(4):
            x, z = splitmix(x)
            s.append(z)
        if s == [0, 0, 0, 0]:
            s[0] = 1
        self.s = s

    def next_u64(self):
        s = self.s
        rotl = lambda v, k: ((v << k) | (v >> (64 - k))) & M64
        result = (rotl((s[0] + s[3]) & M64, 23) + s[0]) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
        return result

    def below(self, n):
        return (self.next_u64() * n) >> 64

    def permutation(self, n):
        p = list(range(n))
        for i in range(n - 1, 0, -1):
            j = self.below(i + 1)
            p[i], p[j] = p[j], p[i]
        return p


def load_bundled(root):
    d = os.path.join(root, "validation", "data", "mnist")
    with gzip.open(os.path.join(d, "train-images-idx3-ubyte.gz")) as f:
        raw = f.read()
    magic, n, r, c = struct.unpack(">IIII", raw[:16])
    assert magic == 0x803
    images = np.frombuffer(raw[16:], dtype=np.uint8).reshape(n, r * c)
    with gzip.open(os.path.join(d, "train-labels-idx1-ubyte.gz")) as f:
        raw = f.read()
    labels = np.frombuffer(raw[8:], dtype=np.uint8)
    perm = Rng(0, [0x59117]).permutation(n)
    train = np.array(perm[:8000])
    x = torch.tensor(images[train]).float() / 255.0  # f32 division, as in Rust
    y = torch.tensor(labels[train]).long()
    return x, y


class MLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(784, 128)
        self.fc2 = torch.nn.Linear(128, 10)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


def batches_in_order(n, b, t):
    per = (n + b - 1) // b
    k = t % per
    return slice(k * b, min((k + 1) * b, n))


def sgld(model, x, y, eps, gamma, nbeta, steps, noise, shuffle, gen):
    """One chain of the hand-written SGLD update; returns the loss before each step."""
    params = [p for p in model.parameters()]
    wstar = [p.detach().clone() for p in params]
    n, b = x.shape[0], 256
    losses = []
    perm = None
    per = (n + b - 1) // b
    for t in range(steps):
        if shuffle:
            if t % per == 0:
                perm = torch.randperm(n, generator=gen)
            k = t % per
            idx = perm[k * b : min((k + 1) * b, n)]
            xb, yb = x[idx], y[idx]
        else:
            sl = batches_in_order(n, b, t)
            xb, yb = x[sl], y[sl]
        for p in params:
            p.grad = None
        loss = torch.nn.functional.cross_entropy(model(xb), yb)
        loss.backward()
        losses.append(loss.item())
        with torch.no_grad():
            for p, w0 in zip(params, wstar):
                p.add_(nbeta * p.grad + gamma * (p - w0), alpha=-0.5 * eps)
                if noise > 0:
                    p.add_(torch.randn(p.shape, generator=gen) * noise, alpha=math.sqrt(eps))
    return losses


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "validation/tests/data"
    torch.set_num_threads(1)
    torch.manual_seed(0)
    x, y = load_bundled(".")
    model = MLP()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    gen = torch.Generator().manual_seed(0)
    for step in range(3000):
        idx = torch.randint(0, x.shape[0], (256,), generator=gen)
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
        loss.backward()
        opt.step()
    os.makedirs(out, exist_ok=True)
    ck = os.path.join(out, "mlp-784-128-10.safetensors")
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, ck)
    with torch.no_grad():
        full_loss = torch.nn.functional.cross_entropy(model(x), y).item()
        acc = (model(x).argmax(1) == y).float().mean().item()
    eps, gamma, nbeta = 1e-4, 100.0, 256 / math.log(256)
    state = {k: v.clone() for k, v in model.state_dict().items()}

    # (a) deterministic trace
    trace0 = sgld(model, x, y, eps, gamma, nbeta, 200, 0.0, False, gen)
    model.load_state_dict(state)

    # (b) noisy chains
    chains, draws = 4, 400
    per_chain = []
    t0 = time.perf_counter()
    for c in range(chains):
        model.load_state_dict(state)
        g = torch.Generator().manual_seed(100 + c)
        tr = sgld(model, x, y, eps, gamma, nbeta, draws, 1.0, True, g)
        per_chain.append(nbeta * (sum(tr) / len(tr) - full_loss))
    torch_rate = chains * draws / (time.perf_counter() - t0)
    model.load_state_dict(state)

    # devinterp on the same checkpoint and hyper-parameters, init loss = full training loss
    result = {
        "about": "generated by validation/scripts/llc_reference.py; do not edit",
        "torch_version": torch.__version__,
        "checkpoint": "mlp-784-128-10.safetensors",
        "train_loss_full": full_loss,
        "train_accuracy": acc,
        "epsilon": eps,
        "gamma": gamma,
        "nbeta": nbeta,
        "batch_size": 256,
        "deterministic": {"noise_level": 0.0, "shuffle": False, "chains": 1, "trace": trace0},
        "noisy": {
            "noise_level": 1.0,
            "shuffle": True,
            "chains": chains,
            "draws": draws,
            "llc_per_chain": per_chain,
            "llc_mean": float(np.mean(per_chain)),
            "llc_std": float(np.std(per_chain, ddof=1)),
            "sgld_steps_per_second_1thread": torch_rate,
        },
    }
    try:
        from devinterp.optim.sgld import SGLD
        from devinterp.slt.sampler import estimate_learning_coeff_with_summary

        loader = torch.utils.data.DataLoader(
            torch.utils.data.TensorDataset(x, y), batch_size=256, shuffle=True
        )

        def evaluate(m, data):
            xb, yb = data
            out_ = m(xb)
            return torch.nn.functional.cross_entropy(out_, yb), {"output": out_}

        t0 = time.perf_counter()
        r = estimate_learning_coeff_with_summary(
            model,
            loader=loader,
            evaluate=evaluate,
            sampling_method=SGLD,
            optimizer_kwargs=dict(lr=eps, localization=gamma, nbeta=nbeta),
            num_chains=chains,
            num_draws=draws,
            num_burnin_steps=0,
            num_steps_bw_draws=1,
            init_loss=full_loss,
            device="cpu",
            online=False,
            verbose=False,
            seed=0,
            cores=1,
        )
        rate = chains * draws / (time.perf_counter() - t0)
        per = [float(r[f"llc-chain/{i}"]) for i in range(chains)] if f"llc-chain/0" in r else []
        result["devinterp"] = {
            "version": __import__("devinterp").__version__ if hasattr(__import__("devinterp"), "__version__") else "1.3.2",
            "llc_mean": float(r["llc/mean"]),
            "llc_std": float(r["llc/std"]),
            "llc_per_chain": per,
            "sgld_steps_per_second_1thread": rate,
        }
    except Exception as e:  # devinterp is optional for the reference itself
        result["devinterp_error"] = repr(e)
    with open(os.path.join(out, "llc_reference.json"), "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps({k: v for k, v in result.items() if k != "deterministic"}, indent=1))


if __name__ == "__main__":
    main()
