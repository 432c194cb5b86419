"""ffpe.relax: the exact solution E_a(-c t^a), history evaluators against the direct sum,
and pycaputo's L1 method on the same mesh."""

from __future__ import annotations

import numpy as np
import pytest

import ffpe


def exact(alpha, c, t, y0=1.0):
    return y0 * ffpe.mittag_leffler(alpha, 1.0, -c * np.asarray(t) ** alpha)


def test_graded_mesh_error_and_order():
    alpha, c = 0.5, 1.0
    errs = []
    ns = [256, 512, 1024, 2048]
    for n in ns:
        r = ffpe.relax(alpha, c, 1.0, steps=n, mesh="graded", history="direct")
        assert r["t"].shape == (n + 1,) and r["y"].shape == (n + 1,)
        assert r["stats"]["steps"] == n
        err = np.abs(r["y"] - exact(alpha, c, r["t"]))
        errs.append(err.max())
        if n == 1024:
            # the Rust doc example (ffpe-solvers lib.rs): 5.05e-6 at t = 1 for N = 1024
            assert err[-1] < 6e-6
    slope = -np.polyfit(np.log(ns), np.log(errs), 1)[0]
    # Stynes-O'Riordan-Gracia: O(N^-(2 - alpha)) = 1.5; pre-asymptotic band +-0.15
    assert abs(slope - (2 - alpha)) < 0.15, slope


def test_histories_agree():
    alpha, c = 0.6, 2.0
    d = ffpe.relax(alpha, c, 2.0, steps=400, mesh="graded", history="direct")
    s = ffpe.relax(alpha, c, 2.0, steps=400, mesh="graded", history="soe", tolerance=1e-12)
    # SOE kernel relative error 1e-12: the history sums, and so y, differ by <~ 1e-12 |y|
    np.testing.assert_allclose(s["y"], d["y"], rtol=0, atol=1e-10)
    assert s["stats"]["exponentials"] > 0
    du = ffpe.relax(alpha, c, 2.0, steps=512, mesh="uniform", history="direct")
    fu = ffpe.relax(alpha, c, 2.0, steps=512, mesh="uniform", history="fft")
    # FFT convolution of the same weights: round-off only
    np.testing.assert_allclose(fu["y"], du["y"], rtol=0, atol=1e-12)
    # a given mesh equal to the graded one gives the same numbers
    g = ffpe.relax(alpha, c, mesh=d["t"], history="direct")
    np.testing.assert_allclose(g["y"], d["y"], rtol=0, atol=1e-14)


def test_progress_callback_and_interrupt():
    calls = []
    r = ffpe.relax(0.5, 1.0, 1.0, steps=1000, progress=lambda done, total: calls.append((done, total)))
    assert 50 <= len(calls) <= 102
    assert calls[-1] == (1000.0, 1000.0)
    assert r["y"].size == 1001

    class Stop(Exception):
        pass

    def stop(done, total):
        if done > 100:
            raise Stop()

    with pytest.raises(Stop):
        ffpe.relax(0.5, 1.0, 1.0, steps=1000, progress=stop)


def _pycaputo_l1(alpha, c, t):
    """pycaputo's L1 method for D^a y = -c y, y(0) = 1, on the mesh t: its implicit step
    solved exactly for this linear right-hand side (instead of scipy's root finder), and a
    controller that takes the given steps exactly (pycaputo's GivenStepController adds
    5 eps to each step, which changes the first steps of a strongly graded mesh, ~1e-14,
    by several per cent)."""
    from dataclasses import dataclass

    from pycaputo.controller import GivenStepController, evaluate_timestep_accept
    from pycaputo.derivatives import CaputoDerivative
    from pycaputo.events import StepCompleted
    from pycaputo.fode import caputo
    from pycaputo.stepping import evolve

    @dataclass(frozen=True)
    class ExactSteps(GivenStepController):
        pass

    @evaluate_timestep_accept.register(ExactSteps)
    def _accept(ctrl, m, q, dtprev, state):
        n = state["n"]
        return float(ctrl.timesteps[n + 1]) if n < ctrl.timesteps.size - 1 else 0.0

    class LinearL1(caputo.L1):
        def solve(self, t, y0, h, r):  # y = h f(t, y) + r with f = -c y
            return r / (1.0 + h * c)

    dt = np.diff(t)
    m = LinearL1(
        ds=(CaputoDerivative(alpha),),
        control=ExactSteps(tstart=0.0, tfinal=float(t[-1]), nsteps=dt.size, timesteps=dt),
        source=lambda s, y: -c * y,
        source_jac=lambda s, y: -c * np.eye(1),
        y0=(np.array([1.0]),),
    )
    ts, ys = [], []
    for ev in evolve(m, dtinit=float(dt[0])):
        if isinstance(ev, StepCompleted):
            ts.append(ev.t)
            ys.append(ev.y[0])
    return np.array(ts), np.array(ys)


@pytest.mark.parametrize("mesh", ["uniform", "graded"])
@pytest.mark.parametrize("alpha", [0.3, 0.5, 0.8])
def test_side_by_side_pycaputo(mesh, alpha):
    pytest.importorskip("pycaputo")
    c, n = 1.0, 256
    ours = ffpe.relax(alpha, c, 1.0, steps=n, mesh=mesh, history="direct")
    ts, ys = _pycaputo_l1(alpha, c, ours["t"])
    assert ts.size == n + 1
    # pycaputo accumulates t_n = t_{n-1} + tau_n: the same nodes up to n eps
    np.testing.assert_allclose(ts, ours["t"], rtol=0, atol=1e-13)
    # The same L1 recurrence on the same mesh: round-off only (seen: <= 4.2e-14). Except
    # a = 0.3 graded (r = 17/3, tau_1 = 2e-14): pycaputo forms the weights as
    # (t_n - t_{k-1})^(1-a) - (t_n - t_k)^(1-a) and the steps as differences of times,
    # which cancel to a relative error ~ eps t_n / tau_k; ffpe stores the steps and uses
    # expm1/log1p (no cancellation). That costs pycaputo up to ~1e-7 here (seen 5.6e-8).
    tol = 2e-7 if (mesh, alpha) == ("graded", 0.3) else 1e-12
    np.testing.assert_allclose(ys, ours["y"], rtol=0, atol=tol)
    e_ours = np.max(np.abs(ours["y"] - exact(alpha, c, ours["t"])))
    e_theirs = np.max(np.abs(ys - exact(alpha, c, ours["t"])))
    # same mesh, same scheme: the same error
    assert abs(e_ours - e_theirs) <= 1e-6 * e_ours
    assert e_ours > 1e-6  # a discretisation error, not round-off: the comparison means something


@pytest.mark.parametrize(
    "kwargs,field",
    [
        (dict(alpha=0.0, c=1.0, t=1.0), "alpha"),
        (dict(alpha=1.2, c=1.0, t=1.0), "alpha"),
        (dict(alpha=0.5, c=float("nan"), t=1.0), "c"),
        (dict(alpha=0.5, c=1.0, t=-1.0), "t_end"),
        (dict(alpha=0.5, c=1.0, t=1.0, steps=0), "steps"),
        (dict(alpha=0.5, c=1.0, t=1.0, steps=-3), "steps"),
        (dict(alpha=0.5, c=1.0, t=1.0, mesh="log"), "mesh"),
        (dict(alpha=0.5, c=1.0, t=1.0, history="fast"), "history"),
        (dict(alpha=0.5, c=1.0, t=1.0, history="fft"), "FFT"),
        (dict(alpha=0.5, c=1.0, t=1.0, grading=0.5), "grading|r ="),
        (dict(alpha=0.5, c=1.0, t=1.0, mesh="uniform", grading=2.0), "grading"),
        (dict(alpha=0.5, c=1.0, t=1.0, tolerance=1.0), "tolerance"),
        (dict(alpha=0.5, c=1.0, mesh=[0.0, 0.5, 0.4]), "mesh|times"),
        (dict(alpha=0.5, c=1.0, t=2.0, mesh=[0.0, 0.5, 1.0]), "t"),
        (dict(alpha=0.5, c=1.0), "t"),
    ],
)
def test_bad_input_raises(kwargs, field):
    with pytest.raises(ValueError, match=field):
        ffpe.relax(**kwargs)
