#!/usr/bin/env python3
"""Side-by-side CPU benchmark of ffpe-validate (candle) against PyTorch and devinterp, in one run.

Usage (repository root, after `cargo build --release -p ffpe-validation`):
    validation/scripts/.venv/bin/python validation/scripts/bench_compare.py \
        target/release/ffpe-validate [--threads 1] [--steps 600] [--draws 200] [--reps 3] [--dense-too]

Needs validation/scripts/.venv with torch==2.15.0, safetensors, numpy, devinterp==1.3.2
(see llc_reference.py), or devinterp==2.0.1 (whose API differs: its sample() and compute_llc,
see devinterp2_sgld below; the installed version is detected). Measured:
- SGD steps/s, 784-128-10 and 784-256-256-10, batch 256, f32, the bundled 8000-image training
  split, plain SGD (lr 1e-3): forward, cross-entropy, backward, update (ffpe-validate picks its
  sparse first layer for these ~80 %-zero images; --dense-too also times the dense one);
- SGLD steps/s (chain-steps: 4 chains x draws) on validation/tests/data/mlp-784-128-10.safetensors
  with eps 1e-4, gamma 100, n_beta = 256/ln 256: ffpe-validate llc (its diagnostics included),
  devinterp's estimate_learning_coeff_with_summary (SGLD; 1.x) or sample() + compute_llc
  (SGMCMC.sgld; 2.x), and a hand-written PyTorch loop.
- with --sgld-batch K: the SGLD rows for K checkpoints (here K copies of the one test checkpoint)
  in one batched `ffpe-validate llc --weights P1 .. PK` call (llc::estimate_many: 4K chains over
  --threads) against devinterp and the PyTorch loop called K times; --only-sgld skips training;
- with --ensemble S1,S2,...: seed-steps/s (updates summed over the members) of S seeds of one
  architecture trained together: ffpe-validate `train --seeds S` (the members spread over the
  threads, each exactly a run of that seed alone), the same S seeds as S separate runs one after
  the other (each `train --seed k` with the same --threads; its rate is one run's steps/s), and
  PyTorch with the S networks batched two ways: torch.func (vmap of grad of functional_call over
  stack_module_state) and a hand-batched loop (weights [S, out, in], torch.baddbmm, one backward
  of the summed per-member mean losses); every member has its own minibatch order
  (--ensemble-steps updates per member; --only-ensemble skips the tables above).
Every rate is a difference quotient between a short and a long run ((N2 - N1) / (t2 - t1)), so
start-up, data loading and evaluation cancel; both wall-clock and CPU-time rates are reported
(on a shared machine the CPU-time rate is the fairer one for single-threaded runs). Each
measurement is repeated --reps times, alternating sides, and the best rate is kept.
"""
import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings

warnings.filterwarnings("ignore")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def child_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_ours(cmd):
    c0, w0 = child_cpu(), time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - w0, child_cpu() - c0


def rates(n1, n2, m1, m2):
    (w1, c1), (w2, c2) = m1, m2
    return {"wall": (n2 - n1) / max(w2 - w1, 1e-9), "cpu": (n2 - n1) / max(c2 - c1, 1e-9)}


def best(a, b):
    return {k: max(a[k], b[k]) for k in a} if a else b


def timed(f):
    c0, w0 = time.process_time(), time.perf_counter()
    f()
    return time.perf_counter() - w0, time.process_time() - c0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--draws", type=int, default=200)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--dense-too", action="store_true",
                    help="also time ffpe-validate training with --input-layer dense (MNIST is about "
                         "80 %% zeros, so the default picks the sparse first layer)")
    ap.add_argument("--ensemble", default="",
                    help="comma-separated ensemble sizes S (e.g. 10,20): also time S seeds trained "
                         "together against S separate runs and batched PyTorch")
    ap.add_argument("--ensemble-steps", type=int, default=450,
                    help="updates per member in the long ensemble run (the short one has a third; "
                         "between 300 and 999 both have the same checkpoints)")
    ap.add_argument("--only-ensemble", action="store_true")
    ap.add_argument("--sgld-batch", type=int, default=1,
                    help="checkpoints per batched SGLD call (ffpe-validate llc --weights with K "
                         "paths, one estimate_many run) against devinterp called K times")
    ap.add_argument("--only-sgld", action="store_true", help="only the SGLD rows")
    ap.add_argument("--archs", default="784-128-10,784-256-256-10")
    a = ap.parse_args()
    import torch
    from llc_reference import MLP, load_bundled, sgld
    from safetensors.torch import load_file

    torch.set_num_threads(a.threads)
    x, y = load_bundled(".")
    ck = "validation/tests/data/mlp-784-128-10.safetensors"
    n1, n2 = a.steps // 3, a.steps
    d1, d2 = a.draws // 4, a.draws
    env = dict(os.environ)
    if a.threads > 1:
        env["RAYON_NUM_THREADS"] = "1"
    res = {"threads": a.threads, "steps": [n1, n2], "draws": [d1, d2], "torch": torch.__version__}
    tmp = tempfile.mkdtemp()

    def ours_train(arch, n, input_layer="auto"):
        out = os.path.join(tmp, f"{arch}-{n}")
        subprocess.run(["rm", "-rf", out], check=True)
        extra = [] if input_layer == "auto" else ["--input-layer", input_layer]
        return run_ours([a.binary, "--threads", str(a.threads), "train", "--arch", arch, "--steps",
                         str(n), "--llc-every", "0", "--checkpoints-per-decade", "1", "--quiet",
                         *extra, "--out", out])

    def ours_llc(d):
        return run_ours([a.binary, "--threads", str(a.threads), "llc", "--weights",
                         *([ck] * a.sgld_batch), "--chains", "4", "--draws", str(d), "--json"])

    def torch_train(widths, n):
        torch.manual_seed(0)
        layers = []
        for i, (p, q) in enumerate(zip(widths[:-1], widths[1:])):
            layers.append(torch.nn.Linear(p, q))
            if i + 2 < len(widths):
                layers.append(torch.nn.ReLU())
        model = torch.nn.Sequential(*layers)
        opt = torch.optim.SGD(model.parameters(), lr=1e-3)
        perm = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(0))
        per = (x.shape[0] + 255) // 256

        def loop():
            for t in range(n):
                k = t % per
                idx = perm[k * 256:(k + 1) * 256]
                opt.zero_grad()
                torch.nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
                opt.step()
        return timed(loop)

    model = MLP()
    model.load_state_dict(load_file(ck))
    state = {k: v.clone() for k, v in model.state_dict().items()}
    eps, gamma, nbeta = 1e-4, 100.0, 256 / math.log(256)
    with torch.no_grad():
        full = torch.nn.functional.cross_entropy(model(x), y).item()

    def torch_sgld(d):
        def loop():
            for c in [c for _ in range(a.sgld_batch) for c in range(4)]:
                model.load_state_dict(state)
                sgld(model, x, y, eps, gamma, nbeta, d, 1.0, True, torch.Generator().manual_seed(c))
        return timed(loop)

    from importlib.metadata import version
    devinterp_version = version("devinterp")
    res["devinterp"] = devinterp_version

    def devinterp2_sgld(d):
        # devinterp 2.x: data as a HuggingFace Dataset of input_ids, a per-token loss function,
        # sample() (SGMCMC.sgld, every step's loss written to zarr) then compute_llc; here a
        # row's ids are (image index, 0) and the loss function returns the image's
        # cross-entropy (shape batch x 1). init loss over one minibatch (a fixed cost that the
        # difference quotient cancels).
        from datasets import Dataset
        from devinterp.slt.llc import compute_llc
        from devinterp.slt.sampling import sample
        ds = Dataset.from_dict({"input_ids": [[i, 0] for i in range(x.shape[0])]}).with_format(
            "torch")

        def loss_fn(m, ids):
            i = ids[:, 0]
            return torch.nn.functional.cross_entropy(m(x[i]), y[i], reduction="none")[:, None]

        def loop():
            for _ in range(a.sgld_batch):
                model.load_state_dict(state)
                z = os.path.join(tmp, "devinterp.zarr")
                subprocess.run(["rm", "-rf", z], check=True)
                compute_llc(sample(model, ds, {}, lr=eps, n_beta=nbeta, num_chains=4,
                                   num_draws=d, batch_size=256, num_init_loss_batches=1,
                                   localization=gamma, init_seed=0, device="cpu",
                                   output_path=z, loss_fn=loss_fn))
        return timed(loop)

    def devinterp_sgld(d):
        if not devinterp_version.startswith("1."):
            return devinterp2_sgld(d)
        from devinterp.optim.sgld import SGLD
        from devinterp.slt.sampler import estimate_learning_coeff_with_summary
        loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=256,
                                             shuffle=True)

        def evaluate(m, data):
            o = m(data[0])
            return torch.nn.functional.cross_entropy(o, data[1]), {"output": o}
        def loop():
            for _ in range(a.sgld_batch):
                model.load_state_dict(state)
                estimate_learning_coeff_with_summary(
                    model, loader=loader, evaluate=evaluate, sampling_method=SGLD,
                    optimizer_kwargs=dict(lr=eps, localization=gamma, nbeta=nbeta), num_chains=4,
                    num_draws=d, init_loss=full, device="cpu", online=False, verbose=False,
                    seed=0, cores=1)
        return timed(loop)

    def ours_ensemble(arch, s, n):
        out = os.path.join(tmp, f"ens-{arch}-{s}-{n}")
        subprocess.run(["rm", "-rf", out], check=True)
        return run_ours([a.binary, "--threads", str(a.threads), "train", "--arch", arch, "--steps",
                         str(n), "--seeds", str(s), "--llc-every", "0", "--checkpoints-per-decade",
                         "1", "--quiet", "--out", out])

    def member_orders(s, n):
        """Minibatch indices [n, S, 256]: member k's own shuffled epochs (seed k)."""
        per = x.shape[0] // 256
        out = torch.empty(n, s, 256, dtype=torch.long)
        for k in range(s):
            g = torch.Generator().manual_seed(k)
            perm = torch.randperm(x.shape[0], generator=g)
            for t in range(n):
                if t % per == 0 and t > 0:
                    perm = torch.randperm(x.shape[0], generator=g)
                j = t % per
                out[t, k] = perm[j * 256:(j + 1) * 256]
        return out

    def torch_models(widths, s):
        ms = []
        for k in range(s):
            torch.manual_seed(k)
            layers = []
            for i, (p, q) in enumerate(zip(widths[:-1], widths[1:])):
                layers.append(torch.nn.Linear(p, q))
                if i + 2 < len(widths):
                    layers.append(torch.nn.ReLU())
            ms.append(torch.nn.Sequential(*layers))
        return ms

    def torch_vmap(widths, s, n):
        import copy
        from torch.func import functional_call, grad, stack_module_state, vmap
        ms = torch_models(widths, s)
        params, _ = stack_module_state(ms)
        params = {k: v.detach().clone() for k, v in params.items()}
        base = copy.deepcopy(ms[0]).to("meta")

        def loss(p, xb, yb):
            return torch.nn.functional.cross_entropy(functional_call(base, (p,), (xb,)), yb)
        g = vmap(grad(loss))
        orders = member_orders(s, n)

        def loop():
            for t in range(n):
                idx = orders[t]
                grads = g(params, x[idx], y[idx])
                with torch.no_grad():
                    for k in params:
                        params[k].sub_(grads[k], alpha=1e-3)
        return timed(loop)

    def torch_bmm(widths, s, n):
        ms = torch_models(widths, s)
        nl = len(widths) - 1
        ws = [torch.stack([m[2 * l].weight.detach() for m in ms]).requires_grad_() for l in range(nl)]
        bs = [torch.stack([m[2 * l].bias.detach() for m in ms]).unsqueeze(1).requires_grad_()
              for l in range(nl)]
        orders = member_orders(s, n)

        def loop():
            for t in range(n):
                idx = orders[t]
                h = x[idx]
                for l in range(nl):
                    h = torch.baddbmm(bs[l], h, ws[l].transpose(1, 2))
                    if l + 1 < nl:
                        h = torch.relu(h)
                # the sum over members of each member's mean loss: member k's gradient is its own
                loss = torch.nn.functional.cross_entropy(
                    h.reshape(-1, widths[-1]), y[idx].reshape(-1), reduction="sum") / 256
                loss.backward()
                with torch.no_grad():
                    for p in ws + bs:
                        p.sub_(p.grad, alpha=1e-3)
                        p.grad = None
        return timed(loop)

    sizes = [int(v) for v in a.ensemble.split(",") if v.strip()]
    archs = [(s, [int(w) for w in s.split("-")]) for s in a.archs.split(",")]
    e1, e2 = a.ensemble_steps // 3, a.ensemble_steps
    res["ensemble_steps"] = [e1, e2]
    table = {}
    if not a.only_ensemble:
        # one untimed call of each SGLD side first: the first devinterp call in a process pays
        # one-off costs (lazy imports, allocator warm-up) that would shrink the difference
        # quotient's t2 - t1 and inflate its rate
        ours_llc(d1), devinterp_sgld(d1), torch_sgld(d1)
    for arch, widths in archs if sizes else []:
        # the same untimed first call for the ensemble sides (torch.func traces on first use)
        for s_ in sizes:
            ours_ensemble(arch, s_, e1), torch_vmap(widths, s_, e1), torch_bmm(widths, s_, e1)
    for _ in range(a.reps):
        for arch, widths in archs if sizes else []:
            k0 = f"train {arch}"
            if a.only_ensemble or k0 not in table:
                table.setdefault(k0, {})
                table[k0]["ffpe-validate"] = best(
                    table[k0].get("ffpe-validate"),
                    rates(n1, n2, ours_train(arch, n1), ours_train(arch, n2)))
            for s_ in sizes:
                k = f"ensemble {arch} S={s_} (seed-steps/s)"
                table.setdefault(k, {})
                table[k]["ffpe-validate ensemble"] = best(
                    table[k].get("ffpe-validate ensemble"),
                    rates(s_ * e1, s_ * e2, ours_ensemble(arch, s_, e1), ours_ensemble(arch, s_, e2)))
                table[k]["pytorch vmap"] = best(
                    table[k].get("pytorch vmap"),
                    rates(s_ * e1, s_ * e2, torch_vmap(widths, s_, e1), torch_vmap(widths, s_, e2)))
                table[k]["pytorch bmm"] = best(
                    table[k].get("pytorch bmm"),
                    rates(s_ * e1, s_ * e2, torch_bmm(widths, s_, e1), torch_bmm(widths, s_, e2)))
        if a.only_ensemble:
            continue
        for arch, widths in [] if a.only_sgld else archs:
            k = f"train {arch}"
            table.setdefault(k, {})
            table[k]["ffpe-validate"] = best(table[k].get("ffpe-validate"),
                                             rates(n1, n2, ours_train(arch, n1), ours_train(arch, n2)))
            if a.dense_too:
                s = "ffpe-validate (dense input)"
                table[k][s] = best(table[k].get(s), rates(n1, n2, ours_train(arch, n1, "dense"),
                                                          ours_train(arch, n2, "dense")))
            table[k]["pytorch"] = best(table[k].get("pytorch"),
                                       rates(n1, n2, torch_train(widths, n1), torch_train(widths, n2)))
        k = f"sgld 784-128-10, {a.sgld_batch} x 4 chains (chain-steps/s)"
        c1, c2 = 4 * a.sgld_batch * d1, 4 * a.sgld_batch * d2
        table.setdefault(k, {})
        table[k]["ffpe-validate"] = best(table[k].get("ffpe-validate"),
                                         rates(c1, c2, ours_llc(d1), ours_llc(d2)))
        table[k]["devinterp"] = best(table[k].get("devinterp"),
                                     rates(c1, c2, devinterp_sgld(d1), devinterp_sgld(d2)))
        table[k]["pytorch-loop"] = best(table[k].get("pytorch-loop"),
                                        rates(c1, c2, torch_sgld(d1), torch_sgld(d2)))
    for k, v in table.items():
        if k.startswith("ensemble"):
            # S separate runs one after the other: one run's steps/s, in seed-steps/s
            v["ffpe-validate separate runs"] = dict(table["train " + k.split()[1]]["ffpe-validate"])
    res["rates"] = table
    print(json.dumps(res, indent=1))
    for k, v in table.items():
        if k.startswith("ensemble"):
            ours = v["ffpe-validate ensemble"]
            print(f"| {k} | " + " | ".join(f"{s}: {r['wall']:.0f} wall, {r['cpu']:.0f} cpu"
                                           for s, r in v.items())
                  + " | ensemble / " + ", ".join(
                      f"{s} {ours['wall'] / v[s]['wall']:.2f} wall, {ours['cpu'] / v[s]['cpu']:.2f} cpu"
                      for s in v if s != "ffpe-validate ensemble") + " |")
            continue
        other = v.get("pytorch") or v.get("devinterp")
        if other is None:
            print(f"| {k} | " + " | ".join(f"{s}: {r['wall']:.0f} wall, {r['cpu']:.0f} cpu"
                                           for s, r in v.items()) + " |")
            continue
        ratios = ", ".join(f"{s} {v[s][m] / other[m]:.2f} {m}" for s in v
                           if s.startswith("ffpe-validate") for m in ("cpu", "wall"))
        print(f"| {k} | " + " | ".join(f"{s}: {r['wall']:.0f} wall, {r['cpu']:.0f} cpu" for s, r in v.items())
              + f" | ratio {ratios} |")


if __name__ == "__main__":
    main()
