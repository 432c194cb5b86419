"""Record a PyTorch training run with ffpe.torch.Recorder and analyse it with ffpe.analyze.

A small LeNet-style convnet (about 3,000 parameters) on the 10,000 MNIST digits bundled with
ffpe-validation (validation/data/mnist, IDX files read with numpy): one initialisation,
several minibatch streams (different data-order seeds, the same initial weights), plain SGD,
checkpoints at geometric steps. Then the drift/diffusion analysis of the streams, written as
analysis.json (the keys of `ffpe-validate analyze --json`) and report.md into --out (the
checkpoints into --runs, default OUT/runs/stream-K).

    python python/examples/torch_convnet.py --out torch-recorder-out

Needs torch, safetensors and ffpe (the wheel of python/).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import pathlib
import platform
import time

import numpy as np
import torch
from torch import nn

import ffpe
from ffpe.torch import Recorder

ROOT = pathlib.Path(__file__).resolve().parents[2]
MNIST = ROOT / "validation" / "data" / "mnist"


def read_idx(path: pathlib.Path) -> np.ndarray:
    """An IDX file (gzip): big-endian magic (0x0803 images, 0x0801 labels), sizes, bytes."""
    raw = gzip.decompress(path.read_bytes())
    ndim = raw[3]
    dims = np.frombuffer(raw[4 : 4 + 4 * ndim], dtype=">u4").astype(int)
    return np.frombuffer(raw[4 + 4 * ndim :], dtype=np.uint8).reshape(dims)


def load_digits(split_seed: int, n_test: int) -> tuple[torch.Tensor, ...]:
    x = read_idx(MNIST / "train-images-idx3-ubyte.gz").astype(np.float32) / 255.0
    y = read_idx(MNIST / "train-labels-idx1-ubyte.gz").astype(np.int64)
    perm = np.random.default_rng(split_seed).permutation(len(y))
    test, train = perm[:n_test], perm[n_test:]
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a))  # noqa: E731
    return t(x[train, None]), t(y[train]), t(x[test, None]), t(y[test])


class LeNet(nn.Module):
    """conv 5x5 (4) - pool - conv 5x5 (8) - pool - fc 16 - fc 10, ReLU: 3,146 parameters."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 5)
        self.conv2 = nn.Conv2d(4, 8, 5)
        self.fc1 = nn.Linear(8 * 4 * 4, 16)
        self.fc2 = nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = torch.max_pool2d(torch.relu(self.conv2(x)), 2)
        return self.fc2(torch.relu(self.fc1(x.flatten(1))))


def train_stream(init: dict, data, stream: int, args, out: pathlib.Path) -> dict:
    """One minibatch stream from the shared initial weights, recorded by a Recorder."""
    xtr, ytr, xte, yte = data
    model = LeNet()
    model.load_state_dict(init)
    opt = torch.optim.SGD(model.parameters(), lr=args.lr)
    rec = Recorder(model, out / f"stream-{stream}", per_decade=args.per_decade)
    g = torch.Generator().manual_seed(1000 + stream)  # the stream's data order
    order = torch.randperm(len(ytr), generator=g)
    pos, losses = 0, []
    for step in range(args.steps + 1):
        # the weights after `step` updates, on the geometric schedule, and the last step
        if rec.step(step) is None and step == args.steps:
            rec.save(step)
        if step == args.steps:
            break
        if pos + args.batch > len(order):
            order, pos = torch.randperm(len(ytr), generator=g), 0
        idx = order[pos : pos + args.batch]
        pos += args.batch
        loss = nn.functional.cross_entropy(model(xtr[idx]), ytr[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    with torch.no_grad():
        acc = (model(xte).argmax(1) == yte).float().mean().item()
    return {
        "dir": rec.out_dir,
        "checkpoints": len(rec.written),
        "train_loss_last_50": float(np.mean(losses[-50:])),
        "test_accuracy": acc,
    }


def report(r: dict, streams: list[dict], args, n_params: int, seconds: float) -> str:
    steps = r["steps"]
    lines = [
        "# PyTorch convnet recorded with ffpe.torch.Recorder, analysed with ffpe.analyze",
        "",
        f"LeNet-style convnet, {n_params} parameters; {len(streams)} minibatch streams from one "
        f"initialisation (seed {args.init_seed}); SGD lr {args.lr}, batch {args.batch}, "
        f"{args.steps} steps; {len(steps)} checkpoints per stream ({args.per_decade} per decade); "
        f"train/test split of the bundled 10,000 digits: {10000 - args.n_test}/{args.n_test}. "
        f"Training and analysis took {seconds:.1f} s (torch {torch.__version__}, "
        f"{torch.get_num_threads()} thread(s), {platform.machine()}).",
        "",
        "| stream | checkpoints | R(T) = &#124;w_T - w_0&#124; | late exponent of R(t) | train loss (last 50 steps) | test accuracy |",
        "|---|---|---|---|---|---|",
    ]
    for k, (run, s) in enumerate(zip(r["runs"], streams)):
        late = "n/a" if run["late_exponent"] is None else f"{run['late_exponent']:.3f}"
        lines.append(
            f"| {k} | {run['checkpoints']} | {run['r'][-1]:.4f} | {late} | "
            f"{s['train_loss_last_50']:.4f} | {s['test_accuracy']:.4f} |"
        )
    lines.append("")
    if r["drift"] is not None:
        lines += [
            "Ensemble from one initialisation: drift `|m(t) - w_0|^2` (the mean path) and "
            "diffusion `tr Sigma(t)` (the spread between streams), at a few of the common steps:",
            "",
            "| step | drift | diffusion | diffusion / drift |",
            "|---|---|---|---|",
        ]
        picks = sorted({i for i in np.linspace(1, len(steps) - 1, 6).round().astype(int)})
        for i in picks:
            d, s = r["drift"][i], r["diffusion"][i]
            ratio = f"{s / d:.3g}" if d > 0 else "n/a"
            lines.append(f"| {steps[i]} | {d:.4e} | {s:.4e} | {ratio} |")
        e = r["diffusion_exponent"]
        lines += [
            "",
            f"Exponent of `tr Sigma(t)` over the late window [0.1 T, T] = [{0.1 * steps[-1]:.0f}, "
            f"{steps[-1]}]: {'n/a' if e is None else f'{e:.3f}'} (1: Brownian spreading; below 1: "
            f"subdiffusive; above 1: superdiffusive). With {len(streams)} streams, `tr Sigma` is "
            "an estimate from few samples; the exponent is a description of this run, not a "
            "measured law.",
        ]
    for n in r["notes"]:
        lines.append(f"\nNote: {n}")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=pathlib.Path, default=pathlib.Path("torch-recorder-out"))
    p.add_argument("--runs", type=pathlib.Path, default=None,
                   help="where the checkpoints go (default: OUT/runs)")
    p.add_argument("--streams", type=int, default=4)
    p.add_argument("--steps", type=int, default=500)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--per-decade", type=int, default=20)
    p.add_argument("--init-seed", type=int, default=0)
    p.add_argument("--n-test", type=int, default=2000)
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    data = load_digits(split_seed=0, n_test=args.n_test)
    torch.manual_seed(args.init_seed)
    init = {k: v.clone() for k, v in LeNet().state_dict().items()}  # the one initialisation
    n_params = sum(v.numel() for v in init.values())
    args.out.mkdir(parents=True, exist_ok=True)
    runs = args.runs if args.runs is not None else args.out / "runs"
    streams = []
    for k in range(args.streams):
        streams.append(train_stream(init, data, k, args, runs))
        print(f"stream {k}: {streams[-1]}")
    r = ffpe.analyze([s["dir"] for s in streams])
    seconds = time.perf_counter() - start
    (args.out / "analysis.json").write_text(json.dumps(r, indent=2) + "\n")
    (args.out / "report.md").write_text(report(r, streams, args, n_params, seconds))
    print((args.out / "report.md").read_text())
    print(f"wrote {args.out / 'analysis.json'} and {args.out / 'report.md'} in {seconds:.1f} s")


if __name__ == "__main__":
    main()
