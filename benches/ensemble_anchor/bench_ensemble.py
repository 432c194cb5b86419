"""Shared-initialisation ensemble throughput: ffpe-validate ensemble against torch.func.vmap.

Same model (784-32-10 ReLU MLP, cross-entropy), same data (the bundled 10,000 MNIST digits,
first 8,000 as the training set; ffpe uses its seeded split of the same images, which does not
change the cost), same optimiser (plain SGD, lr 0.001, batch 256), S members from one
initialisation, each with its own minibatch stream, N steps; members-steps per second at 1 and
2 threads, both libraries in the same run on the same machine.

torch: the S members' parameters are stacked and one step is
vmap(grad(loss))(params, xb, yb) over the member axis (torch.func), each member's minibatch
drawn from its own generator. ffpe: `ffpe-validate --threads T ensemble --inits 1 --streams S
--steps N --uniform-checkpoints 0 --checkpoints-per-decade 1` (the wall time includes its
checkpoint writes and the analysis of the few checkpoints, a few per cent).

    python3 -m venv benches/.venv-hessian   # the Hessian benchmark's environment (torch)
    benches/.venv-hessian/bin/python benches/ensemble_anchor/bench_ensemble.py \
        --ffpe target/release/ffpe-validate --streams 16 --steps 2000 > results.jsonl
"""

import argparse
import gzip
import json
import os
import platform
import shutil
import subprocess
import tempfile
import time

import numpy as np
import torch
from torch.func import functional_call, grad, vmap

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "..", "validation", "data", "mnist")


def load_idx(name: str) -> np.ndarray:
    with gzip.open(os.path.join(DATA, name), "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def torch_members(streams: int, steps: int, threads: int, batch: int, lr: float) -> float:
    torch.set_num_threads(threads)
    x = torch.tensor(load_idx("train-images-idx3-ubyte.gz")[:8000].reshape(8000, 784) / 255.0, dtype=torch.float32)
    y = torch.tensor(load_idx("train-labels-idx1-ubyte.gz")[:8000].astype(np.int64))
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(784, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    base = {k: v.detach() for k, v in net.named_parameters()}
    params = {k: v.unsqueeze(0).repeat(streams, *([1] * v.dim())).clone() for k, v in base.items()}

    def loss(p, xb, yb):
        return torch.nn.functional.cross_entropy(functional_call(net, p, (xb,)), yb)

    step = vmap(grad(loss))
    gens = [torch.Generator().manual_seed(1 + s) for s in range(streams)]
    t0 = time.perf_counter()
    for _ in range(steps):
        idx = torch.stack([torch.randint(0, 8000, (batch,), generator=g) for g in gens])
        g = step(params, x[idx], y[idx])
        with torch.no_grad():
            for k in params:
                params[k].sub_(lr * g[k])
    return streams * steps / (time.perf_counter() - t0)


def ffpe_members(binary: str, streams: int, steps: int, threads: int) -> float:
    out = tempfile.mkdtemp(prefix="ens-bench-")
    try:
        t0 = time.perf_counter()
        subprocess.run(
            [binary, "--threads", str(threads), "ensemble", "--arch", "784-32-10", "--inits", "1",
             "--streams", str(streams), "--steps", str(steps), "--lr", "0.001", "--batch-size", "256",
             "--uniform-checkpoints", "0", "--checkpoints-per-decade", "1", "--quiet", "--out", out],
            check=True, stdout=subprocess.DEVNULL)
        return streams * steps / (time.perf_counter() - t0)
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ffpe", required=True, help="path of the ffpe-validate binary")
    ap.add_argument("--streams", type=int, default=16)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=2)
    a = ap.parse_args()
    with open("/proc/loadavg") as f:
        load = f.read().split()[0]
    for threads in (1, 2):
        for rep in range(a.repeats):
            row = {
                "threads": threads, "repeat": rep, "streams": a.streams, "steps": a.steps,
                "ffpe_member_steps_per_s": ffpe_members(a.ffpe, a.streams, a.steps, threads),
                "torch_vmap_member_steps_per_s": torch_members(a.streams, a.steps, threads, 256, 1e-3),
                "torch": torch.__version__, "machine": platform.processor() or platform.machine(),
                "cpus": os.cpu_count(), "load_at_start": load,
            }
            row["ratio_ffpe_over_torch"] = row["ffpe_member_steps_per_s"] / row["torch_vmap_member_steps_per_s"]
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
