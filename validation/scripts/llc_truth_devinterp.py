#!/usr/bin/env python3
"""Known-truth LLC table: ffpe-validate llc-truth beside devinterp 2.0.1, one run, same models,
same data, same true parameter, same sampler settings.

Set-up (PyPI only):
    python3 -m venv /work/venv-devinterp
    /work/venv-devinterp/bin/pip install torch==2.15.0 devinterp==2.0.1 safetensors arviz
Run from the repository root, after `cargo build --release -p ffpe-validation`:
    /work/venv-devinterp/bin/python validation/scripts/llc_truth_devinterp.py \
        target/release/ffpe-validate [--cases C1;C2;..] [--steps-scale F] [--out DIR]

For each case (default: the cases of the tests in validation/src/llc/truth.rs, the four regimes
of the Aoyagi-Watanabe formula and the potentials):
1. `ffpe-validate llc-truth --model CASE --seed S --json --export-data F --summary G` estimates
   the LLC with our sampler and writes the model's true parameter, its settings and, for
   reduced-rank regression, a synthetic data set whose mean-squared-error loss is our
   population loss K plus a constant exactly (validation/src/llc/truth_data.rs);
2. devinterp 2.0.1 (`devinterp.slt.sampling.sample`, its SGLD `SGMCMC.sgld`, then
   `devinterp.slt.llc.compute_llc`) samples the same model from the same point with the
   settings read from that file (lr = epsilon, localization = gamma, n_beta, chains, draws,
   burn-in, steps between draws, noise level), CPU, float64 parameters, one thread:
   - rrr: a two-layer linear network `x -> B A x` (A = a0, B = b0 at the start) on the exported
     data, full batch (batch size n, so the loss of every step is K + c, as ours is K), the
     per-sample loss |y_i - B A x_i|^2 / 2; init loss = the full-data loss at w* (= c);
   - power / crossing: one parameter vector w (start 0), the potential K(w) itself as the loss
     of a one-row data set (there are no data);
   devinterp 2.0.1 takes data as a HuggingFace Dataset of `input_ids`; here a row's ids are
   (sample index, 0) and the loss function maps them to the sample's loss (shape batch x 1);
3. one table: truth, ours and devinterp (estimate +- the standard deviation of the per-chain
   LLCs, relative error, R-hat), and the wall time of each. R-hat is computed the same way for
   both, by ArviZ (rank-normalised split R-hat, Vehtari et al. 2021) on the per-draw losses,
   (chain, draw); ours also reports its own (equal to ArviZ's, tested).
   devinterp 2.0.1's own `llc_mean` averages the loss over every step, burn-in included (its
   docstring: "averages sampling_loss_micro over every step (including burn-in)"); the table
   gives it and, as the estimate comparable to ours, the same formula on its draws only
   (n_beta (mean of the draws' loss - init loss), per chain, then the mean over chains).

--steps-scale F multiplies burn-in and draws of every case (both tools) by F, for a cheaper
run; ours is then also run at its default settings (those of the tests), a column of its own.
Output: DIR/table.md, DIR/results.json (rewritten after every case), per-case files.
`llc_truth_devinterp.py --render DIR/results.json` prints the table of the cases finished so far.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

DEFAULT_CASES = [
    "rrr:2,2,2,0",  # case 1 (even): 3/2
    "rrr:2,2,3,1",  # case 1 (even), rank-1 truth: 5/2
    "rrr:1,1,3,0",  # case 2: M + H < N + r, 1/2
    "rrr:3,1,1,0",  # case 3: N + H < M + r, 1/2
    "rrr:1,3,1,0",  # case 4: M + N < H + r, 1/2
    "power:2",  # 1/2
    "power:4",  # 1/4
    "power:2,4",  # 3/4
    "crossing:2,4",  # 1/4
]

REGIME = {
    "rrr:2,2,2,0": "AW case 1",
    "rrr:2,2,3,1": "AW case 1",
    "rrr:1,1,3,0": "AW case 2",
    "rrr:3,1,1,0": "AW case 3",
    "rrr:1,3,1,0": "AW case 4",
}


def child_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def rhat(draws):
    """ArviZ's rank-normalised split R-hat of draws[chain][draw]."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import arviz as az
    return float(az.rhat(np.asarray(draws, dtype=float), method="rank"))


def read_export(path):
    from safetensors import safe_open

    with safe_open(path, framework="numpy") as f:
        meta = dict(f.metadata())
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    return meta, tensors


def run_ours(binary, case, seed, scale_args, out_dir, tag):
    export = os.path.join(out_dir, f"{tag}.safetensors")
    summary = os.path.join(out_dir, f"{tag}-ours.json")
    cmd = [binary, "llc-truth", "--model", case, "--seed", str(seed), "--json",
           "--export-data", export, "--summary", summary, *scale_args]
    c0, w0 = child_cpu(), time.perf_counter()
    p = subprocess.run(cmd, check=True, capture_output=True, text=True)
    wall, cpu = time.perf_counter() - w0, child_cpu() - c0
    line = json.loads(p.stdout)
    with open(summary) as f:
        s = json.load(f)
    return export, {"cmd": " ".join(cmd), "wall_s": wall, "cpu_s": cpu, "json": line,
                    "summary": s, "stderr": p.stderr}


def scaled_args(binary, case, scale):
    """--burnin/--draws for --steps-scale: our defaults for the case times scale."""
    if scale == 1.0:
        return []
    with tempfile.TemporaryDirectory() as d:
        f = os.path.join(d, "defaults.safetensors")
        subprocess.run([binary, "llc-truth", "--model", case, "--export-data", f, "--export-only"],
                       check=True, capture_output=True)
        meta, _ = read_export(f)
    burnin = max(0, round(int(meta["burnin"]) * scale))
    draws = max(4, round(int(meta["draws"]) * scale))
    return ["--burnin", str(burnin), "--draws", str(draws)]


def run_devinterp(export, out_dir, tag):
    import torch
    from datasets import Dataset
    from devinterp.slt.llc import compute_llc
    from devinterp.slt.sampling import sample

    torch.set_num_threads(1)
    meta, t = read_export(export)
    case = meta["model"]
    eps, gamma, nbeta = float(meta["epsilon"]), float(meta["gamma"]), float(meta["nbeta"])
    chains, draws = int(meta["chains"]), int(meta["draws"])
    burnin, between = int(meta["burnin"]), int(meta["steps_between_draws"])
    seed, noise = int(meta["seed"]), float(meta["noise_level"])
    kind = case.split(":")[0]
    f64 = torch.float64

    if kind == "rrr":
        x = torch.from_numpy(t["x"]).to(f64)
        y = torch.from_numpy(t["y"]).to(f64)
        n = x.shape[0]

        class Linear2(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.a = torch.nn.Parameter(torch.from_numpy(t["a0"]).to(f64).clone())
                self.b = torch.nn.Parameter(torch.from_numpy(t["b0"]).to(f64).clone())

            def forward(self, xb):
                return xb @ self.a.T @ self.b.T

        model = Linear2()

        def loss_fn(m, ids):
            i = ids[:, 0]
            r = y[i] - m(x[i])
            return (0.5 * (r * r).sum(dim=1))[:, None]

        batch = n
    else:
        powers = torch.from_numpy(t["powers"]).to(f64)

        class Potential(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.w = torch.nn.Parameter(torch.from_numpy(t["wstar"]).to(f64).clone())

            def forward(self):
                terms = self.w ** powers
                return terms.sum() if kind == "power" else terms.prod()

        model = Potential()

        def loss_fn(m, ids):
            return m().expand(ids.shape[0], 1)

        n, batch = 1, 1
    ds = Dataset.from_dict({"input_ids": [[i, 0] for i in range(n)]}).with_format("torch")
    zarr_path = os.path.join(out_dir, f"{tag}-devinterp.zarr")
    subprocess.run(["rm", "-rf", zarr_path], check=True)
    c0, w0 = time.process_time(), time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        samples = sample(model, ds, {}, lr=eps, n_beta=nbeta, num_chains=chains,
                         num_draws=draws, batch_size=batch, num_burnin_steps=burnin,
                         num_steps_bw_draws=between, num_init_loss_batches=1, init_seed=seed,
                         localization=gamma, noise_level=noise, shuffle=False, device="cpu",
                         output_path=zarr_path, loss_fn=loss_fn)
        res = compute_llc(samples)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    d = samples.dataset
    init = float(d.init_loss.values.mean())
    # per-draw loss (chain, draw): the step loss devinterp records at each draw, batch-averaged
    dl = np.asarray(d.sampling_loss.values, dtype=float).mean(axis=(2, 3))
    per_chain = nbeta * (dl.mean(axis=1) - init)
    out = {
        "wall_s": wall, "cpu_s": cpu, "init_loss": init,
        "llc_mean_all_steps": float(res.llc_mean.values),
        "llc_std_all_steps": float(res.llc_std.values),
        "llc_per_chain_draws": per_chain.tolist(),
        "llc_mean_draws": float(per_chain.mean()),
        "llc_std_draws": float(per_chain.std(ddof=1)) if chains > 1 else 0.0,
        "rhat_arviz": rhat(dl) if chains > 1 else float("nan"),
        "draws_shape": list(dl.shape),
    }
    subprocess.run(["rm", "-rf", zarr_path], check=True)
    return out


def render(res):
    """The markdown table of a results.json (every case finished so far)."""
    scaled = res["steps_scale"] != 1

    def miss(r):
        return " **miss**" if abs(r) > 0.10 else ""

    lines = [
        "| case | truth | settings (eps, n_beta, burn-in, draws x spacing) | ours | rel. err | R-hat | "
        "wall | devinterp 2.0.1 (draws) | rel. err | R-hat | devinterp llc_mean (all steps) | "
        "rel. err | wall |" + (" ours, default settings | rel. err | wall |" if scaled else ""),
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|" + ("---|---|---|" if scaled else ""),
    ]
    for case, c in res["cases"].items():
        truth, st, o, d = c["truth"], c["settings"], c["ours"], c["devinterp"]
        reg = REGIME.get(case, "")
        lines.append(
            f"| `{case}`{' (' + reg + ')' if reg else ''} | {truth:g} | {float(st['epsilon']):g}, "
            f"{float(st['nbeta']):g}, {st['burnin']}, {st['draws']} x {st['steps_between_draws']} | "
            f"{o['estimate']:.3f} +- {o['std']:.3f} | {100 * o['rel_err']:+.1f} %{miss(o['rel_err'])} | "
            f"{o['rhat_arviz']:.3f} | {o['wall_s']:.2f} s | "
            f"{d['llc_mean_draws']:.3f} +- {d['llc_std_draws']:.3f} | "
            f"{100 * d['rel_err_draws']:+.1f} %{miss(d['rel_err_draws'])} | {d['rhat_arviz']:.3f} | "
            f"{d['llc_mean_all_steps']:.3f} +- {d['llc_std_all_steps']:.3f} | "
            f"{100 * d['rel_err_all_steps']:+.1f} %{miss(d['rel_err_all_steps'])} | "
            f"{d['wall_s']:.0f} s |" + (
                f" {o['default']['estimate']:.3f} +- {o['default']['std']:.3f} | "
                f"{100 * o['default']['rel_err']:+.1f} %{miss(o['default']['rel_err'])} | "
                f"{o['default']['wall_s']:.2f} s |" if "default" in o else ""))
    return "\n".join(lines) + "\n"


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--render":
        # the table of a results.json, also of a run still going or stopped part-way
        with open(sys.argv[2]) as f:
            print(render(json.load(f)), end="")
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--cases", default=";".join(DEFAULT_CASES),
                    help="semicolon-separated --model values")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps-scale", type=float, default=1.0,
                    help="burn-in and draws of both tools = our defaults x this")
    ap.add_argument("--out", default="validation/results/llc-truth-devinterp")
    a = ap.parse_args()
    import devinterp  # noqa: F401 (fail early when the venv lacks it)
    from importlib.metadata import version

    os.makedirs(a.out, exist_ok=True)
    res = {"devinterp": version("devinterp"), "torch": version("torch"),
           "arviz": version("arviz"), "steps_scale": a.steps_scale, "seed": a.seed,
           "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), "cases": {}}
    for case in a.cases.split(";"):
        tag = case.replace(":", "_").replace(",", "-")
        extra = scaled_args(a.binary, case, a.steps_scale)
        export, ours = run_ours(a.binary, case, a.seed, extra, a.out, tag)
        meta, _ = read_export(export)
        di = run_devinterp(export, a.out, tag)
        s = ours["summary"]["result"]
        od = np.asarray(s["loss_traces"], dtype=float)
        truth = float(meta["truth"])
        ours_row = {
            "estimate": s["llc_mean"], "std": s["llc_std"],
            "rel_err": (s["llc_mean"] - truth) / truth,
            "rhat_own": s["diagnostics"]["rhat"], "rhat_arviz": rhat(od),
            "acceptance": s["diagnostics"]["acceptance"],
            "ess_bulk": s["diagnostics"]["ess_bulk"],
            "wall_s": ours["wall_s"], "cpu_s": ours["cpu_s"],
        }
        if extra:
            # ours also at its default settings (those of the tests), beside the matched run
            _, full = run_ours(a.binary, case, a.seed, [], a.out, tag + "-default")
            fs = full["summary"]["result"]
            ours_row["default"] = {"estimate": fs["llc_mean"], "std": fs["llc_std"],
                                   "rel_err": (fs["llc_mean"] - truth) / truth,
                                   "rhat_arviz": rhat(np.asarray(fs["loss_traces"], dtype=float)),
                                   "wall_s": full["wall_s"]}
        di["rel_err_draws"] = (di["llc_mean_draws"] - truth) / truth
        di["rel_err_all_steps"] = (di["llc_mean_all_steps"] - truth) / truth
        settings = {k: meta[k] for k in ("epsilon", "gamma", "nbeta", "chains", "draws", "burnin",
                                         "steps_between_draws", "seed", "samples")}
        res["cases"][case] = {"truth": truth, "multiplicity": int(meta["multiplicity"]),
                              "settings": settings, "ours": ours_row, "devinterp": di,
                              "ours_cmd": ours["cmd"]}
        print(f"{case}: truth {truth}, ours {ours_row['estimate']:.4f} +- {ours_row['std']:.4f} "
              f"({100 * ours_row['rel_err']:+.1f} %, {ours['wall_s']:.2f} s), devinterp draws "
              f"{di['llc_mean_draws']:.4f} +- {di['llc_std_draws']:.4f} "
              f"({100 * di['rel_err_draws']:+.1f} %), all steps {di['llc_mean_all_steps']:.4f} "
              f"({100 * di['rel_err_all_steps']:+.1f} %), {di['wall_s']:.1f} s", flush=True)
        with open(os.path.join(a.out, "results.json"), "w") as f:
            json.dump(res, f, indent=1)

    res["finished"] = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump(res, f, indent=1)
    with open(os.path.join(a.out, "table.md"), "w") as f:
        f.write(render(res))
    print(render(res))


if __name__ == "__main__":
    main()
