"""ffpe.analyze: the Rust analysis of `ffpe-validate analyze` from arrays and directories; a
Brownian ensemble gives its exponent; arrays equal their checkpoints (and the CLI); bad runs
raise ValueError naming the run."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

import ffpe
from conftest import cli_json


def write_safetensors(path, tensors, step):
    """A safetensors file (u64 header length, JSON header, raw little-endian data), with
    metadata {"step": step}: the format, without the safetensors package."""
    header, body, off = {"__metadata__": {"step": str(step)}}, b"", 0
    for name, a in tensors.items():
        raw = np.ascontiguousarray(a, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(raw)]}
        body += raw
        off += len(raw)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    path.write_bytes(struct.pack("<Q", len(h)) + h + body)


def geometric_steps(last, n=40):
    """Step 0 and about n geometric steps up to `last` (as validation/tests/analyze.rs)."""
    return np.array(sorted({0} | {int(10 ** (k * np.log10(last) / n)) for k in range(n + 1)}))


def walkers(s, d, steps, a=1.0, seed=0):
    """`s` walkers in `d` dimensions from one start, x <- a x + 0.01 N(0, 1) per step, at
    `steps`: a list of (steps, weights [len(steps), d] float32)."""
    rng = np.random.default_rng(seed)
    start = rng.standard_normal(d)
    runs = []
    for _ in range(s):
        x, t, rows = start.copy(), 0, []
        for target in steps:
            while t < target:
                x = a * x + 0.01 * rng.standard_normal(d)
                t += 1
            rows.append(x.astype(np.float32))
        runs.append((steps.copy(), np.array(rows)))
    return runs


def test_brownian_ensemble_gives_exponent_one():
    # as validation/tests/analyze.rs: tr Sigma = d sigma^2 t, exponent 1; 40 walkers x 100
    # dimensions give a relative error of tr Sigma ~ sqrt(2 / (39 x 100)) ~ 2 % per point over
    # a late window of one decade: the slope is within 0.05 of 1 (about five standard errors)
    runs = walkers(40, 100, geometric_steps(3000), seed=1)
    r = ffpe.analyze(runs)
    assert r["shared_init"]
    assert r["diffusion_exponent"] == pytest.approx(1.0, abs=0.05)
    assert r["n_params"] == 100 and r["tensors"] == []
    assert [run["dir"] for run in r["runs"][:2]] == ["<in-memory run 0>", "<in-memory run 1>"]
    assert len(r["drift"]) == len(r["diffusion"]) == len(r["steps"])
    # the diffusion is the ensemble variance: tr Sigma ~ d (0.01)^2 t at the last step, to
    # the same ~2 % (five standard errors: 10 %)
    assert r["diffusion"][-1] == pytest.approx(100 * 1e-4 * r["steps"][-1], rel=0.1)


def test_directories_equal_arrays_and_the_cli(tmp_path):
    steps = geometric_steps(500, 20)
    runs = walkers(4, 30, steps, seed=2)
    dirs = []
    for k, (st, w) in enumerate(runs):
        d = tmp_path / f"run{k}"
        d.mkdir()
        for s, row in zip(st, w):
            # two tensors, in a file named without digits: the step from the metadata
            name = str(s).translate(str.maketrans("0123456789", "abcdefghij"))
            write_safetensors(d / f"ckpt-{name}.safetensors",
                              {"a.weight": row[:10].reshape(2, 5), "b.weight": row[10:]}, s)
        dirs.append(d)
    from_dirs = ffpe.analyze(dirs)
    from_arrays = ffpe.analyze(runs)
    # the same float32 weights (tensors in name order = the row) through the same code
    assert from_dirs["tensors"] == ["a.weight", "b.weight"]
    for key in ("n_params", "steps", "shared_init", "drift", "diffusion", "diffusion_exponent", "notes"):
        assert from_dirs[key] == from_arrays[key], key
    for a, b in zip(from_dirs["runs"], from_arrays["runs"]):
        assert a["r"] == b["r"] and a["late_exponent"] == b["late_exponent"]
        assert a["checkpoints"] == b["checkpoints"] == len(steps)
    assert from_dirs["runs"][0]["dir"] == str(dirs[0])
    # str paths, include, float64 and list input, rows in another order
    assert ffpe.analyze([str(d) for d in dirs])["drift"] == from_dirs["drift"]
    only_b = ffpe.analyze(dirs, include="b.")
    assert only_b["tensors"] == ["b.weight"] and only_b["n_params"] == 20
    shuffled = [(st[::-1].tolist(), w[::-1].astype(np.float64)) for st, w in runs]
    assert ffpe.analyze(shuffled)["diffusion"] == from_arrays["diffusion"]
    # and the command's JSON (skipped when target/release/ffpe-validate is not built)
    cli = cli_json("ffpe-validate", "analyze", *map(str, dirs), "--json")
    assert cli == from_dirs


def test_independent_runs_have_no_split():
    steps = np.arange(0, 50, 5)
    a = walkers(1, 8, steps, seed=3)[0]
    b = walkers(1, 8, steps, seed=4)[0]
    r = ffpe.analyze([a, b])
    assert not r["shared_init"] and r["drift"] is None and r["diffusion"] is None
    assert r["diffusion_exponent"] is None and r["notes"]


def test_bad_runs_raise_value_error_naming_the_run():
    steps = np.arange(5)
    w = np.zeros((5, 3))
    ok = (steps, w)
    with pytest.raises(ValueError, match=r"run 1: 4 rows of weights for 5 steps"):
        ffpe.analyze([ok, (steps, w[:4])])
    with pytest.raises(ValueError, match=r"run 1: 2 parameters per step where <in-memory run 0> has 3"):
        ffpe.analyze([ok, (steps, w[:, :2])])
    nan = w.copy()
    nan[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"run 2: step 3 \(row 3\) holds a non-finite value \(NaN\)"):
        ffpe.analyze([ok, ok, (steps, nan)])
    inf = w.copy()
    inf[2, 0] = np.inf
    with pytest.raises(ValueError, match=r"run 0: step 2 .*non-finite value \(inf\)"):
        ffpe.analyze([(steps, inf)])
    with pytest.raises(ValueError, match=r"run 0: steps must be a 1-D integer array"):
        ffpe.analyze([(steps.astype(float), w)])
    with pytest.raises(ValueError, match=r"run 0: weights must be a 2-D float array"):
        ffpe.analyze([(steps, w.ravel())])
    with pytest.raises(ValueError, match=r"run 1: steps must be >= 0"):
        ffpe.analyze([ok, (steps - 1, w)])
    with pytest.raises(ValueError, match=r"run 0: step 1 given twice"):
        ffpe.analyze([(np.array([0, 1, 1, 2, 3]), w)])
    with pytest.raises(ValueError, match=r"run 1: expected a directory"):
        ffpe.analyze([ok, w])
    with pytest.raises(ValueError, match=r"at least two steps"):
        ffpe.analyze([ok, (steps + 4, w)])
    with pytest.raises(ValueError, match=r"`runs`"):
        ffpe.analyze([])
    with pytest.raises(OSError):
        ffpe.analyze(["/nonexistent/ffpe-run"])
