#!/usr/bin/env python3
"""Anchor benchmark: `ffpe-validate hessian` against PyHessian and curvlinops (a one-off).

Set-up (PyPI; the CPU-only torch index was unreachable here, so plain PyPI torch):
    python3 -m venv benches/.venv-hessian
    benches/.venv-hessian/bin/pip install torch numpy scipy safetensors pyhessian curvlinops-for-pytorch
Run from the repository root:
    benches/.venv-hessian/bin/python benches/hessian_anchor/bench_hessian.py \
        --ffpe /path/to/ffpe-validate --out benches/hessian_anchor/results-20261206.jsonl

In one run it
1. loads validation/tests/data/mlp-784-128-10.safetensors into a torch 784-128-10 ReLU MLP
   (float64, and float32 for PyHessian's default precision),
2. rebuilds the 8000-image training split of the bundled MNIST subset with the exact port of
   ffpe-validation's seeded permutation (validation/scripts/llc_reference.py, imported),
3. for each thread count (torch.set_num_threads / RAYON_NUM_THREADS) times
   (a) PyHessian: hessian(model, criterion, dataloader=...).eigenvalues(top_n=5) (power
       iteration with deflation, its default maxIter=100, tol=1e-3 relative change of the
       Rayleigh quotient) in float64 and float32, and .density(iter=80, n_v=10) (SLQ);
   (b) curvlinops: HessianLinearOperator + scipy.sparse.linalg.eigsh(k=5, which="LA")
       (ARPACK implicitly restarted Lanczos, tol 1e-10 like ours), and curvlinops' spectral
       density papyan2020traces.spectrum.lanczos_approximate_spectrum (10 repeats x 80 Lanczos
       vectors, written out with its public pieces) with the SLQ trace of the same runs;
   (c) ffpe-validate hessian --top 5 --json, and with --density (SLQ 10 probes x 80 steps),
       as a subprocess,
and appends one JSON line per measurement (eigenvalues, wall and CPU seconds, 1/5/15-minute
load average before and after, relative differences from ours) to --out. Wall and CPU seconds
of the torch tools cover the computation only (model and data already built); ours is the whole
process: MNIST decompression and split, checkpoint load, top-k Lanczos and the per-sample
gradient-noise projections, which the command always computes.

`--summarize FILE [RUN]` prints the markdown tables of one run (the last by default).

On 2026-12-06 (2-core VM, load average 8-18 from concurrent compiles) it ran as
    bench_hessian.py --top-samples 2000 --density-samples 2000 --threads 1,2
        (top-5 at 1 and 2 threads; densities of ours and curvlinops at 2 threads; stopped
         during PyHessian's 2-thread density for the deadline)
and, concurrently with it,
    bench_hessian.py --top-samples 8000 --threads 1 --skip density
    bench_hessian.py --threads 1 --skip top,ours-density,curvlinops-density
    bench_hessian.py --threads 1 --skip top,curvlinops-density,pyhessian-density
"""
import argparse
import importlib.util
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time

import numpy as np
import torch
from safetensors.torch import load_file

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CKPT = os.path.join(ROOT, "validation", "tests", "data", "mlp-784-128-10.safetensors")


def _llc_reference():
    path = os.path.join(ROOT, "validation", "scripts", "llc_reference.py")
    spec = importlib.util.spec_from_file_location("llc_reference", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


REF = _llc_reference()


def load_train():
    """The 8000 training images in split order (float32 / 255 as in Rust) and labels."""
    cwd = os.getcwd()
    try:
        os.chdir(ROOT)
        x, y = REF.load_bundled(".")
    finally:
        os.chdir(cwd)
    return x, y


def make_model(dtype):
    model = REF.MLP()
    sd = load_file(CKPT)
    model.load_state_dict({k: v for k, v in sd.items()})
    return model.to(dtype).eval()


def loader(x, y, n, dtype, batch):
    ds = torch.utils.data.TensorDataset(x[:n].to(dtype), y[:n])
    return torch.utils.data.DataLoader(ds, batch_size=batch, shuffle=False)


def cpu_self():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def cpu_children():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


class Recorder:
    def __init__(self, path, common):
        self.path = path
        self.common = common
        self.ours = {}  # (kind, threads) -> eigenvalues

    def write(self, rec):
        rec = {**self.common, **rec}
        with open(self.path, "a") as f:
            f.write(json.dumps(rec) + "\n")
        ev = rec.get("eigenvalues")
        short = [float(f"{v:.8g}") for v in ev] if ev else None
        print(
            f"[{time.strftime('%H:%M:%S')}] {rec['tool']:<34} {rec.get('dtype','')} t={rec['threads']} "
            f"n={rec['n_samples']} wall={rec['wall_s']:.1f}s cpu={rec['cpu_s']:.1f}s "
            f"load={rec['load_before'][0]:.1f}->{rec['load_after'][0]:.1f} ev={short} "
            f"trH={rec.get('trace_slq')} rel={rec.get('rel_diff_vs_ours')}",
            flush=True,
        )


def timed(fn, children=False):
    load0 = os.getloadavg()
    c0 = cpu_children() if children else cpu_self()
    t0 = time.perf_counter()
    out = fn()
    wall = time.perf_counter() - t0
    cpu = (cpu_children() if children else cpu_self()) - c0
    return out, wall, cpu, list(load0), list(os.getloadavg())


def rel(ev, ours):
    if ours is None or ev is None:
        return None
    return [float((a - b) / abs(b)) for a, b in zip(ev, ours)]


# ---------------------------------------------------------------- ffpe-validate hessian


def run_ours(args, threads, n, density):
    cmd = [
        args.ffpe, "hessian", "--weights", CKPT, "--arch", "784-128-10",
        "--top", str(args.top), "--max-samples", str(n), "--seed", "0", "--json",
    ]
    if density:
        cmd.append("--density")
    env = {**os.environ, "RAYON_NUM_THREADS": str(threads)}

    def go():
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
        return json.loads(p.stdout)

    r, wall, cpu, l0, l1 = timed(go, children=True)
    rec = {
        "tool": "ffpe-validate hessian" + (" --density" if density else ""),
        "command": "RAYON_NUM_THREADS=%d " % threads + " ".join(cmd[:1] + cmd[1:]).replace(ROOT + "/", ""),
        "dtype": "float64",
        "threads": threads,
        "n_samples": r["n_samples"],
        "eigenvalues": r["eigenvalues"],
        "residuals": r["residuals"],
        "lanczos_steps": r["lanczos_steps"],
        "loss": r["loss"],
        "internal_seconds": r["seconds"],
        "includes": "data load + top-k Lanczos + per-sample gradient-noise projections"
        + (" + SLQ" if density else ""),
        "wall_s": wall, "cpu_s": cpu, "load_before": l0, "load_after": l1,
    }
    if density and r.get("density"):
        rec["trace_slq"] = r["density"]["trace"]
        rec["trace_sq_slq"] = r["density"]["trace_sq"]
        rec["slq"] = {"probes": 10, "steps": 80}
    return rec


# ---------------------------------------------------------------- PyHessian


def pyhessian_top(x, y, n, dtype, threads, args):
    from pyhessian import hessian

    torch.set_default_dtype(dtype)  # PyHessian draws its vectors with the default dtype
    try:
        torch.manual_seed(0)
        model = make_model(dtype)
        dl = loader(x, y, n, dtype, args.batch)
        crit = torch.nn.CrossEntropyLoss()

        def go():
            h = hessian(model, crit, dataloader=dl, cuda=False)
            ev, _ = h.eigenvalues(maxIter=100, tol=1e-3, top_n=args.top)
            return ev

        ev, wall, cpu, l0, l1 = timed(go)
    finally:
        torch.set_default_dtype(torch.float32)
    return {
        "tool": "PyHessian eigenvalues(top_n=5)",
        "method": "power iteration + deflation, maxIter=100, tol=1e-3 (relative change of Rayleigh quotient)",
        "dtype": str(dtype).replace("torch.", ""),
        "threads": threads, "n_samples": n, "batch_size": args.batch,
        "eigenvalues_as_returned": [float(v) for v in ev],
        "eigenvalues": sorted((float(v) for v in ev), reverse=True),
        "wall_s": wall, "cpu_s": cpu, "load_before": l0, "load_after": l1,
    }


def _torch_eig_shim():
    """PyHessian 0.1 (the PyPI release) calls torch.eig(T, eigenvectors=True), removed in
    torch 2; T is its symmetric tridiagonal Lanczos matrix, so the old API is emulated with
    torch.linalg.eigh: eigenvalues as an (n, 2) [real, imag] tensor, eigenvectors as columns."""
    try:
        torch.eig(torch.eye(2), eigenvectors=True)
        return False  # a torch that still has it
    except (AttributeError, RuntimeError):
        pass

    def eig(a, eigenvectors=False):
        w, v = torch.linalg.eigh(a)
        return torch.stack([w, torch.zeros_like(w)], 1), v

    eig._bench_shim = True
    torch.eig = eig
    return True


def pyhessian_density(x, y, n, dtype, threads, args):
    from pyhessian import hessian

    _torch_eig_shim()
    torch.set_default_dtype(dtype)
    try:
        torch.manual_seed(0)
        model = make_model(dtype)
        dl = loader(x, y, n, dtype, args.batch)
        crit = torch.nn.CrossEntropyLoss()
        d = sum(p.numel() for p in model.parameters())

        def go():
            h = hessian(model, crit, dataloader=dl, cuda=False)
            return h.density(iter=args.slq_steps, n_v=args.slq_probes)

        (nodes, weights), wall, cpu, l0, l1 = timed(go)
    finally:
        torch.set_default_dtype(torch.float32)
    nodes = [np.real(np.asarray(a, dtype=complex)).astype(float) for a in nodes]
    weights = [np.real(np.asarray(w, dtype=complex)).astype(float) for w in weights]
    rec = slq_summary(nodes, weights, d)
    return {
        "tool": f"PyHessian density(iter={args.slq_steps}, n_v={args.slq_probes})",
        "method": "SLQ, Rademacher probes, Lanczos with full reorthogonalisation"
        + ("; torch.eig emulated by torch.linalg.eigh (removed in torch 2)" if getattr(torch.eig, "_bench_shim", False) else ""),
        "dtype": str(dtype).replace("torch.", ""),
        "threads": threads, "n_samples": n, "batch_size": args.batch,
        **rec,
        "wall_s": wall, "cpu_s": cpu, "load_before": l0, "load_after": l1,
    }


# ---------------------------------------------------------------- curvlinops


def curvlinops_operator(x, y, n, dtype, args):
    from curvlinops import HessianLinearOperator

    model = make_model(dtype)
    params = [p for p in model.parameters() if p.requires_grad]
    data = [(x[i : min(i + args.batch, n)].to(dtype), y[i : min(i + args.batch, n)]) for i in range(0, n, args.batch)]
    op = HessianLinearOperator(
        model, torch.nn.CrossEntropyLoss(), params, data, check_deterministic=False
    )
    return op, sum(p.numel() for p in params)


def curvlinops_top(x, y, n, dtype, threads, args):
    from scipy.sparse.linalg import eigsh

    op, d = curvlinops_operator(x, y, n, dtype, args)
    sop = op.to_scipy() if hasattr(op, "to_scipy") else op  # curvlinops >= 2: torch operator
    v0 = np.random.default_rng(0).standard_normal(d)

    def go():
        vals, _ = eigsh(sop, k=args.top, which="LA", tol=args.eigsh_tol, v0=v0)
        return vals

    vals, wall, cpu, l0, l1 = timed(go)
    return {
        "tool": "curvlinops HessianLinearOperator + scipy eigsh(k=5)",
        "method": f"ARPACK implicitly restarted Lanczos, which='LA', tol={args.eigsh_tol}",
        "dtype": str(dtype).replace("torch.", ""),
        "threads": threads, "n_samples": n, "batch_size": args.batch,
        "eigenvalues": sorted((float(v) for v in vals), reverse=True),
        "wall_s": wall, "cpu_s": cpu, "load_before": l0, "load_after": l1,
    }


def curvlinops_density(x, y, n, dtype, threads, args):
    """curvlinops' spectral density, lanczos_approximate_spectrum (Papyan 2020, algorithm 2:
    Gaussian start vectors, Lanczos without reorthogonalisation, boundaries from eigsh with
    tol 1e-2), written out with its public pieces so that the SLQ trace d * sum_j w_j theta_j
    of every repeat can be read off the same Lanczos runs (num_repeats = probes, ncv = steps)."""
    from curvlinops.papyan2020traces import spectrum as sp

    op, d = curvlinops_operator(x, y, n, dtype, args)
    torch.manual_seed(0)
    out = {}

    def go():
        bounds = sp.approximate_boundaries(op, tol=1e-2)
        nodes, weights = [], []
        dens = None
        for k in range(args.slq_probes):
            evals, evecs = sp.fast_lanczos(op, args.slq_steps)
            grid, dk = sp.lanczos_approximate_spectrum_from_iter((evals, evecs), bounds, 1024, 3.0, 0.05)
            dens = dk if dens is None else (1 - 1 / (k + 1)) * dens + dk / (k + 1)
            nodes.append(evals.detach().cpu().numpy())
            weights.append((evecs[0, :] ** 2).detach().cpu().numpy())
        out.update(nodes=nodes, weights=weights, bounds=[float(b) for b in bounds])

    _, wall, cpu, l0, l1 = timed(go)
    rec = slq_summary(out["nodes"], out["weights"], d)
    return {
        "tool": f"curvlinops lanczos_approximate_spectrum ({args.slq_probes} x {args.slq_steps})",
        "method": "Papyan 2020 alg. 2 (Gaussian start, no reorthogonalisation) + approximate_boundaries(tol=1e-2)",
        "dtype": str(dtype).replace("torch.", ""),
        "threads": threads, "n_samples": n, "batch_size": args.batch,
        "boundaries": out["bounds"], **rec,
        "wall_s": wall, "cpu_s": cpu, "load_before": l0, "load_after": l1,
    }


def slq_summary(nodes, weights, d):
    """SLQ tr H and tr H^2 (mean over probes) and the standard error of tr H over probes.
    Note sum_j w_j theta_j = e1' T e1 = v' H v: the SLQ trace is Hutchinson's estimate."""
    per = np.array([d * np.sum(w * a) for a, w in zip(nodes, weights)])
    per2 = np.array([d * np.sum(w * a * a) for a, w in zip(nodes, weights)])
    return {
        "trace_slq": float(per.mean()),
        "trace_slq_se": float(per.std(ddof=1) / math.sqrt(len(per))) if len(per) > 1 else None,
        "trace_slq_per_probe": [float(v) for v in per],
        "trace_sq_slq": float(per2.mean()),
        "ritz_max": float(max(np.max(a) for a in nodes)),
    }


# ---------------------------------------------------------------- main


def guarded(rec_fn, recorder, label, ours_key=None, **kw):
    try:
        rec = rec_fn(**kw)
    except Exception as e:  # record the failure and go on
        rec = {
            "tool": label, "threads": kw.get("threads"), "n_samples": kw.get("n"),
            "error": f"{type(e).__name__}: {e}", "wall_s": float("nan"), "cpu_s": float("nan"),
            "load_before": list(os.getloadavg()), "load_after": list(os.getloadavg()),
        }
        recorder.write(rec)
        return None
    if ours_key is not None and "eigenvalues" in rec:
        rec["rel_diff_vs_ours"] = rel(rec["eigenvalues"], recorder.ours.get(ours_key))
    recorder.write(rec)
    return rec


def summarize(path, run=None):
    """Markdown tables of one run of the JSON lines file (the last run when run is None)."""
    recs = [json.loads(l) for l in open(path) if l.strip()]
    run = run or recs[-1]["run"]
    recs = [r for r in recs if r["run"] == run]
    ours = {}
    for r in recs:
        if r["tool"].startswith("ffpe-validate") and "error" not in r:
            ours[("density" in r["tool"], r["threads"])] = r
    fmt = lambda v: f"{v:.6f}"
    print(f"run {run}, load average (1 min) {min(r['load_before'][0] for r in recs):.1f} to "
          f"{max(r['load_after'][0] for r in recs):.1f}\n")
    print("| tool | dtype | threads | images | top-5 eigenvalues | wall s (CPU s) | wall / ours (CPU / ours) | max rel. diff vs ours |")
    print("|---|---|---|---|---|---|---|---|")
    for r in recs:
        if "error" in r:
            print(f"| {r['tool']} | | {r['threads']} | {r['n_samples']} | FAILED: {r['error'][:80]} | | | |")
            continue
        if "eigenvalues" not in r or "--density" in r["tool"]:
            continue
        o = ours.get((False, r["threads"]))
        ratio = f"{r['wall_s'] / o['wall_s']:.2f} ({r['cpu_s'] / o['cpu_s']:.2f})" if o else ""
        rd = r.get("rel_diff_vs_ours")
        md = f"{max(abs(v) for v in rd):.1e}" if rd else "(reference)"
        print(f"| {r['tool']} | {r.get('dtype','')} | {r['threads']} | {r['n_samples']} | "
              f"{', '.join(fmt(v) for v in r['eigenvalues'])} | {r['wall_s']:.1f} ({r['cpu_s']:.1f}) | {ratio} | {md} |")
    print()
    print("| tool | threads | images | tr H (SLQ) | s.e. over probes | tr H^2 (SLQ) | largest Ritz value | wall s (CPU s) | wall / ours (CPU / ours) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in recs:
        if "trace_slq" not in r and not ("error" in r and "ensity" in r["tool"] + "SLQ"):
            continue
        if "error" in r:
            print(f"| {r['tool']} | {r['threads']} | {r['n_samples']} | FAILED: {r['error'][:80]} | | | | | |")
            continue
        o = ours.get((True, r["threads"]))
        ratio = f"{r['wall_s'] / o['wall_s']:.2f} ({r['cpu_s'] / o['cpu_s']:.2f})" if o else ""
        se = r.get("trace_slq_se")
        ritz = r.get("ritz_max", r.get("eigenvalues", [None])[0])
        print(f"| {r['tool']} | {r['threads']} | {r['n_samples']} | {r['trace_slq']:.3f} | "
              f"{'' if se is None else f'{se:.3f}'} | {r['trace_sq_slq']:.3f} | {ritz:.6f} | "
              f"{r['wall_s']:.1f} ({r['cpu_s']:.1f}) | {ratio} |")


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--summarize":
        return summarize(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ffpe", default="/tmp/bin-hessian/ffpe-validate")
    ap.add_argument("--out", default=os.path.join(ROOT, "benches", "hessian_anchor", "results-20261206.jsonl"))
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--top", type=int, default=5)
    ap.add_argument("--top-samples", type=int, default=8000)
    ap.add_argument("--density-samples", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=1000, help="dataloader batch size of the torch tools")
    ap.add_argument("--slq-probes", type=int, default=10)
    ap.add_argument("--slq-steps", type=int, default=80)
    ap.add_argument("--eigsh-tol", type=float, default=1e-10)
    ap.add_argument("--note", default="", help="free text stored in every JSON line")
    ap.add_argument("--skip", default="", help="comma list of: top, density, pyhessian32, ours-density, curvlinops-density, pyhessian-density")
    args = ap.parse_args()
    skip = set(s for s in args.skip.split(",") if s)
    threads = [int(t) for t in args.threads.split(",")]

    x, y = load_train()
    import curvlinops
    import pyhessian  # noqa: F401
    import scipy

    try:
        from importlib.metadata import version

        vers = {k: version(k) for k in ["torch", "pyhessian", "curvlinops-for-pytorch", "scipy", "numpy"]}
    except Exception:
        vers = {"torch": torch.__version__, "scipy": scipy.__version__}
    run_id = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    common = {
        "run": run_id, "machine": f"{platform.node()} {os.cpu_count()} cores",
        "python": platform.python_version(), "versions": vers,
        "checkpoint": os.path.relpath(CKPT, ROOT),
        "argv": sys.argv[1:],
    }
    if args.note:
        common["note"] = args.note
    rec = Recorder(args.out, common)
    print(f"run {run_id}: train {tuple(x.shape)}, versions {vers}", flush=True)

    # sanity: the torch float64 loss equals ours
    m = make_model(torch.float64)
    with torch.no_grad():
        full_loss = torch.nn.functional.cross_entropy(m(x[: args.top_samples].double()), y[: args.top_samples]).item()
    print(f"torch float64 loss over {args.top_samples} images: {full_loss!r}", flush=True)

    n1, n2 = args.top_samples, args.density_samples
    if "top" not in skip:
        for t in threads:
            torch.set_num_threads(t)
            r = guarded(run_ours, rec, "ffpe-validate hessian", args=args, threads=t, n=n1, density=False)
            if r:
                rec.ours[("top", t)] = r["eigenvalues"]
                print(f"  loss ours {r['loss']!r} vs torch {full_loss!r}", flush=True)
            ours = ("top", t)
            guarded(curvlinops_top, rec, "curvlinops eigsh", ours, x=x, y=y, n=n1, dtype=torch.float64, threads=t, args=args)
            guarded(pyhessian_top, rec, "PyHessian eigenvalues", ours, x=x, y=y, n=n1, dtype=torch.float64, threads=t, args=args)
            if "pyhessian32" not in skip:
                guarded(pyhessian_top, rec, "PyHessian eigenvalues", ours, x=x, y=y, n=n1, dtype=torch.float32, threads=t, args=args)
    if "density" not in skip:
        for t in sorted(threads, reverse=True):
            torch.set_num_threads(t)
            if "ours-density" not in skip:
                r = guarded(run_ours, rec, "ffpe-validate hessian --density", args=args, threads=t, n=n2, density=True)
                if r:
                    rec.ours[("density", t)] = r["eigenvalues"]
            if "curvlinops-density" not in skip:
                guarded(curvlinops_density, rec, "curvlinops SLQ", x=x, y=y, n=n2, dtype=torch.float64, threads=t, args=args)
            if "pyhessian-density" not in skip:
                guarded(pyhessian_density, rec, "PyHessian density", x=x, y=y, n=n2, dtype=torch.float64, threads=t, args=args)


if __name__ == "__main__":
    main()
