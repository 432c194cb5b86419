"""ffpe.mittag_leffler: closed forms, the Rust API (the `ffpe ml` command) and pymittagleffler."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import ffpe
from conftest import run_cli


def test_shapes_and_dtypes():
    assert isinstance(ffpe.mittag_leffler(0.5, 1.0, -1.0), float)
    assert isinstance(ffpe.mittag_leffler(0.5, 1.0, -1.0 + 0.5j), complex)
    z = np.linspace(-3.0, 1.0, 12).reshape(3, 4)
    e = ffpe.mittag_leffler(0.7, 1.0, z)
    assert e.shape == (3, 4) and e.dtype == np.float64
    ec = ffpe.mittag_leffler(0.7, 1.0, z + 0.25j)
    assert ec.shape == (3, 4) and ec.dtype == np.complex128
    assert ffpe.mittag_leffler(0.7, 1.0, np.array([], dtype=float)).shape == (0,)
    # non-contiguous input and lists
    assert np.array_equal(ffpe.mittag_leffler(0.7, 1.0, z.T), e.T)
    assert np.array_equal(ffpe.mittag_leffler(0.7, 1.0, z.tolist()), e)


def test_closed_forms():
    z = np.linspace(-20.0, 5.0, 501)
    # E_{1,1}(z) = exp(z): the Rust kernel's error is <= 1.7e-15 relative (mpmath table)
    np.testing.assert_allclose(ffpe.mittag_leffler(1.0, 1.0, z), np.exp(z), rtol=4e-15, atol=0)
    # E_{1/2,1}(-x) = exp(x^2) erfc(x); the double-precision reference itself carries
    # ~x^2 eps from exp(x^2) (25 eps at x = 5) plus erfc's few eps
    x = np.linspace(0.0, 5.0, 201)
    ref = np.array([math.exp(v * v) * math.erfc(v) for v in x])
    np.testing.assert_allclose(ffpe.mittag_leffler(0.5, 1.0, -x), ref, rtol=1e-14, atol=0)
    # E_{1,1} on complex arguments
    zc = np.array([0.5 + 1.0j, -2.0 - 3.0j, 1.0j])
    np.testing.assert_allclose(ffpe.mittag_leffler(1.0, 1.0, zc), np.exp(zc), rtol=4e-15)


@pytest.mark.parametrize("alpha,beta", [(0.5, 1.0), (0.3, 0.7), (0.9, 2.0), (1.0, 1.0)])
def test_equals_rust_cli(alpha, beta):
    zs = [-30.0, -2.5, -1.0, -1e-3, 0.0, 0.5, 3.0]
    zc = [(-1.0, 0.5), (2.0, -1.0)]
    args = [f"{z!r}" for z in zs] + [f"{a!r},{b!r}" for a, b in zc]
    out = run_cli("ffpe", "ml", "--alpha", repr(alpha), "--beta", repr(beta), "--json", "--", *args)
    rows = [json.loads(line) for line in out.splitlines()]
    cli_real = np.array([r["value"][0] for r in rows[: len(zs)]])
    cli_cplx = np.array([complex(*r["value"]) for r in rows[len(zs) :]])
    # same Rust code, values printed with 17 digits: identical
    np.testing.assert_array_equal(ffpe.mittag_leffler(alpha, beta, np.array(zs)), cli_real)
    np.testing.assert_array_equal(
        ffpe.mittag_leffler(alpha, beta, np.array([complex(a, b) for a, b in zc])), cli_cplx
    )


@pytest.mark.parametrize("alpha", [0.3, 0.5, 0.8, 1.0])
@pytest.mark.parametrize("beta", [1.0, 0.5, 1.5])
def test_side_by_side_pymittagleffler(alpha, beta):
    pml = pytest.importorskip("pymittagleffler")
    z = np.linspace(-20.0, 2.0, 221)
    ours = ffpe.mittag_leffler(alpha, beta, z)
    theirs = np.real(pml.mittag_leffler(z.astype(np.complex128), alpha, beta))
    # ours is within 1.7e-15 of mpmath; Garrappa's algorithm in pymittagleffler bounds each
    # residue and trapezoid sum by eps = 1.1e-15 relative to its own size, and those terms
    # exceed E by up to ~10^3 (seen: 1.09e-12 relative at E = 27.7, z = 1.8): 5e-12
    np.testing.assert_allclose(ours, theirs, rtol=5e-12, atol=1e-12)
    zc = z[::10] + 0.5j
    np.testing.assert_allclose(
        ffpe.mittag_leffler(alpha, beta, zc), pml.mittag_leffler(zc, alpha, beta), rtol=1e-12, atol=1e-12
    )


@pytest.mark.parametrize(
    "alpha,beta,z,field",
    [
        (0.0, 1.0, 1.0, "alpha"),
        (1.5, 1.0, 1.0, "alpha"),
        (float("nan"), 1.0, 1.0, "alpha"),
        (0.5, float("nan"), 1.0, "beta"),
        (0.5, 1.0, float("nan"), "z"),
        (0.5, 1.0, [0.0, float("inf")], "z"),
        (0.5, 1.0, complex(1.0, float("nan")), "z"),
        (0.5, 1.0, "abc", "z"),
    ],
)
def test_bad_input_raises(alpha, beta, z, field):
    with pytest.raises(ValueError, match=field):
        ffpe.mittag_leffler(alpha, beta, z)
