"""Typed use of the ffpe API, checked by `mypy --strict` against the stubs
(ffpe/__init__.pyi) in python/ci.sh; never run (pytest collects only test_*.py).

Every assignment below states the type the stubs must give; mypy fails on a mismatch."""

from __future__ import annotations

import pathlib
from typing import Any

import numpy as np
import numpy.typing as npt

import ffpe


def progress(done: float, total: float) -> None:
    print(f"{done / total:.0%}")


def use() -> None:
    version: str = ffpe.__version__
    x: float = ffpe.mittag_leffler(0.5, 1.0, -1.0)
    zc: complex = ffpe.mittag_leffler(0.5, 1.0, 1j)
    arr: npt.NDArray[Any] = ffpe.mittag_leffler(0.5, 1.0, np.linspace(-3.0, 0.0, 10))

    r: ffpe.Relaxation = ffpe.relax(0.5, 1.0, 1.0, steps=64, mesh="graded", history="soe")
    y: npt.NDArray[np.float64] = r["y"]
    steps: int = r["stats"]["steps"]
    r2 = ffpe.relax(0.5, 1.0, mesh=np.linspace(0.0, 1.0, 65), history="direct", progress=progress)
    t_end: float = float(r2["t"][-1])
    ffpe.relax(0.5, 1.0, 1.0, progress=True)

    s: ffpe.Solution = ffpe.solve("examples/ou_1d.toml", progress=progress)
    s2 = ffpe.solve({"equation": {"alpha": 0.5}}, snapshots=False, progress=None)
    shipped: list[str] = ffpe.examples.names()
    s3: ffpe.Solution = ffpe.solve(ffpe.examples.path(shipped[0]))
    toml_text: str = ffpe.examples.text("ou_1d")
    cells: tuple[int, ...] = s2["grid"]["cells"]
    reason: str = s["stop_reason"]
    unknowns: int = s["stats"]["unknowns"]
    sparse: dict[str, Any] | None = s["sparse"]
    toml: str = ffpe.problem_toml({"equation": {"alpha": 0.5}})

    st: ffpe.Steady = ffpe.steady(pathlib.Path("examples/double_well_1d.toml"))
    l1: float | None = st["l1_vs_boltzmann"]
    e: ffpe.Exponent = ffpe.exponent("examples/free_2d.toml", (0.2, 1.0))
    ci: tuple[float, float] = e["ci95"]

    ll: dict[str, Any] = ffpe.llc(
        "validation/tests/data/mlp-784-128-10.safetensors",
        arch="784-128-10",
        optimizer_kwargs={"lr": 1e-4, "localization": 100.0, "nbeta": "batch"},
        num_chains=2,
        num_draws=10,
        init_loss=2.3,
        progress=progress,
    )
    ffpe.llc({"fc1.weight": np.zeros((8, 784), np.float32)}, init_loss="batches:2", progress=True)
    ffpe.llc(
        pathlib.Path("w.safetensors"),
        data=(np.zeros((4, 784), np.float32), np.zeros(4, np.int64)),
        nbeta=10.0,
        cores=2,
    )
    print(version, x, zc, arr, y, steps, t_end, cells, reason, unknowns, sparse, toml, l1, ci, ll)

    w = np.zeros((3, 5), dtype=np.float32)
    an: ffpe.Analysis = ffpe.analyze([(np.arange(3), w), (np.arange(3), w)])
    an2 = ffpe.analyze([pathlib.Path("run0"), "run1"], include=["fc"], keep_buffers=True)
    split: list[float] | None = an["diffusion"]
    late: float | None = an2["runs"][0]["late_exponent"]
    common: list[int] = an["steps"]
    print(split, late, common)
