"""ffpe.solve / steady / exponent: equal to the `ffpe` command (the Rust API) on the same
problem, dicts equal to TOML files, exact solutions, progress, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

import ffpe
from conftest import EXAMPLES, cli_json

OU = {
    "equation": {"alpha": 0.5, "gamma": 1.0, "diffusion": 1.0},
    "potential": {"kind": "quadratic", "stiffness": 1.0},
    "domain": {"lower": -6.0, "upper": 6.0, "cells": 96},
    "initial": {"kind": "gaussian", "mean": 2.0, "std": 0.5},
    "time": {"t_end": 1.0, "steps": 200},
    "output": {"times": [0.1, 0.5, 1.0], "snapshots": True},
}


def test_example_file_equals_cli():
    path = EXAMPLES / "free_2d.toml"
    ours = ffpe.solve(path)
    cli = cli_json("ffpe", "solve", str(path), "--json")
    np.testing.assert_array_equal(ours["times"], cli["times"])
    np.testing.assert_array_equal(ours["mass"], cli["mass"])
    np.testing.assert_array_equal(ours["mean"], np.array(cli["mean"]))
    np.testing.assert_array_equal(ours["second_moment"], np.array(cli["second_moment"]))
    np.testing.assert_array_equal(ours["msd"], cli["msd"])
    assert ours["stats"]["steps"] == cli["stats"]["steps"]
    assert ours["stats"]["factorizations"] == cli["stats"]["factorizations"]
    assert ours["stop_reason"] == cli["stop_reason"] == "FinalTime"
    n, cells = ours["times"].size, (65, 65)
    assert ours["densities"].shape == (n,) + cells
    assert ours["grid"]["cells"] == cells
    # densities integrate to the mass; free subdiffusion MSD = 2 d D t^a / Gamma(1 + a)
    # (spatial and time errors of the 65 x 65, 200-step solve: 2 % at t >= 0.4)
    h = np.prod([(u - l) / c for l, u, c in zip(ours["grid"]["lower"], ours["grid"]["upper"], cells)])
    np.testing.assert_allclose(ours["densities"].sum(axis=(1, 2)) * h, ours["mass"], rtol=1e-12)
    t = ours["times"]
    msd = 2 * 2 * 0.5 * t**0.6 / math.gamma(1.6)
    np.testing.assert_allclose(ours["msd"][t >= 0.4], msd[t >= 0.4], rtol=2e-2)


def test_density_axis_order():
    p = {
        "equation": {"alpha": 1.0, "diffusion": [0.05, 0.05]},
        "domain": {"lower": [-4.0, -1.0], "upper": [4.0, 1.0], "cells": [16, 5]},
        "initial": {"kind": "gaussian", "mean": [2.0, 0.0], "std": [0.5, 0.5]},
        "time": {"t_end": 0.1, "steps": 10},
        "output": {"snapshots": True},
    }
    r = ffpe.solve(p)
    p0 = r["densities"][0]
    assert p0.shape == (16, 5)
    x = r["grid"]["centres"][0]
    # axis 0 of the density is axis 0 of the domain: the mass sits at x ~ 2
    assert abs(x[np.argmax(p0.sum(axis=1))] - 2.0) < 0.5
    np.testing.assert_allclose(r["mean"][0, 0], (p0.sum(axis=1) * x).sum() / p0.sum(), rtol=1e-12)


def test_dict_equals_toml(tmp_path):
    text = ffpe.problem_toml(OU)
    f = tmp_path / "ou.toml"
    f.write_text(text)
    a, b = ffpe.solve(OU), ffpe.solve(f)
    for k in ("times", "mass", "mean", "second_moment", "msd", "densities"):
        np.testing.assert_array_equal(a[k], b[k])
    cli = cli_json("ffpe", "solve", str(f), "--json")
    np.testing.assert_array_equal(a["mean"], np.array(cli["mean"]))
    # numpy values in the dict, and None for defaults
    p = {**OU, "domain": {**OU["domain"], "cells": np.int64(96), "lower": np.float64(-6.0)},
         "equation": {**OU["equation"], "gamma": None}}
    np.testing.assert_array_equal(ffpe.solve(p)["mean"], a["mean"])


def test_fractional_ou_mean():
    # <w>(t) = w0 E_a(-gamma k t^a) (exact for a Gaussian start too): 96 cells, 200 graded
    # steps: spatial O(h^2) and time O(N^-(2-a)) errors below 2e-3
    r = ffpe.solve(OU)
    exact = 2.0 * ffpe.mittag_leffler(0.5, 1.0, -(r["times"] ** 0.5))
    np.testing.assert_allclose(r["mean"][:, 0], exact, rtol=0, atol=2e-3)
    np.testing.assert_allclose(r["mass"], 1.0, rtol=0, atol=1e-12)


def test_steady_equals_cli():
    path = EXAMPLES / "double_well_1d.toml"
    ours = ffpe.steady(path)
    cli = cli_json("ffpe", "steady", str(path), "--json")
    np.testing.assert_array_equal(ours["mean"], cli["mean"])
    np.testing.assert_array_equal(ours["second_moment"], cli["second_moment"])
    assert ours["l1_vs_boltzmann"] == cli["l1_vs_boltzmann"]
    assert ours["density"].shape == (200,)
    # the null vector is the discrete Boltzmann density (Scharfetter-Gummel): round-off
    assert ours["l1_vs_boltzmann"] < 1e-10
    np.testing.assert_allclose(ours["density"], ours["boltzmann"], rtol=1e-8, atol=1e-12)


def test_exponent_equals_cli():
    path = EXAMPLES / "free_2d.toml"
    ours = ffpe.exponent(path, (0.2, 1.0))
    cli = cli_json("ffpe", "exponent", str(path), "--window", "0.2,1.0", "--json")
    assert ours["displacement_exponent"] == cli["displacement_exponent"]
    assert ours["r2"] == cli["r2"]
    assert ours["points"] == cli["points"] == 24
    # free subdiffusion: s = alpha / 2 = 0.3 (grid and boundary effects below 0.01)
    assert abs(ours["displacement_exponent"] - 0.3) < 0.01


def test_progress():
    calls = []
    ffpe.solve(OU, progress=lambda t, t_end: calls.append((t, t_end)))
    assert 20 <= len(calls) <= 202
    assert calls[-1] == (1.0, 1.0)
    assert all(b[0] >= a[0] for a, b in zip(calls, calls[1:]))

    def stop(t, t_end):
        if t > 0.3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ffpe.solve(OU, progress=stop)


def _with(section, **kv):
    p = {k: dict(v) for k, v in OU.items()}
    p.setdefault(section, {}).update(kv)
    return p


@pytest.mark.parametrize(
    "problem,field",
    [
        (_with("equation", alpha=2.0), "equation.alpha"),
        (_with("equation", alpha=float("nan")), "equation.alpha"),
        (_with("domain", cells=2), "cells"),
        (_with("domain", lower=7.0), "lower"),
        (_with("potential", kind="cubic"), "potential.kind"),
        (_with("time", steps=0), "time.steps"),
        (_with("time", history="fast"), "time.history"),
        (_with("time", t_end="soon"), "time.t_end"),
        (_with("output", times=[2.0]), r"output.times\[0\]"),
        (_with("equation", typo=1.0), "equation.typo"),
        (_with("equation", alpha=[1, {"a": object()}]), r"equation.alpha\[1\].a"),
        ({"equation": {"alpha": 0.5}}, "domain"),
        (42, "problem"),
    ],
)
def test_bad_input_raises(problem, field):
    with pytest.raises(ValueError, match=field):
        ffpe.solve(problem)


def test_bad_files_and_windows(tmp_path):
    with pytest.raises(OSError, match="nope.toml"):
        ffpe.solve(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[equation\nalpha = ")
    with pytest.raises(ValueError, match="parse"):
        ffpe.solve(bad)
    with pytest.raises(ValueError, match="window"):
        ffpe.exponent(OU, (0.5, 0.1))
    with pytest.raises(ValueError, match="window"):
        ffpe.exponent(OU, (0.1,))
    with pytest.raises(ValueError, match="equation.alpha"):
        ffpe.steady(_with("equation", alpha=0.0))


def test_shipped_examples_equal_the_repository_files(tmp_path, monkeypatch):
    # the examples compiled into the package are the repository's files, byte for byte,
    # and work from any directory
    names = ffpe.examples.names()
    assert sorted(names) == sorted(p.stem for p in EXAMPLES.glob("*.toml"))
    for name in names:
        assert ffpe.examples.text(name) == (EXAMPLES / f"{name}.toml").read_text(encoding="utf-8")
    monkeypatch.setenv("FFPE_EXAMPLES_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    ours = ffpe.solve(ffpe.examples.path("ou_1d"))
    repo = ffpe.solve(EXAMPLES / "ou_1d.toml")
    np.testing.assert_array_equal(ours["mean"], repo["mean"])
    with pytest.raises(ValueError, match="ou_1d"):
        ffpe.examples.text("no_such_example")


def test_progress_true_without_tqdm_warns(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    with pytest.warns(UserWarning, match="tqdm is not installed"):
        ffpe.relax(0.5, 1.0, 1.0, steps=16, progress=True)
