"""ffpe.llc: the same number as `ffpe-validate llc` (the Rust API) on the same seed, from a
safetensors path, a state_dict and array data; devinterp's keys; a given init_loss; the
progress callback and Ctrl-C; bad input."""

from __future__ import annotations

import gzip
import json
import signal
import struct
import threading
import time

import numpy as np
import pytest

import ffpe
from conftest import CHECKPOINT, ROOT, cli_json

OPTS = dict(num_chains=2, num_draws=30, seed=3)


def read_safetensors(path):
    """A state_dict of numpy arrays from a safetensors file (the format: u64 header
    length, JSON header of dtype/shape/offsets, raw little-endian data)."""
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    body = raw[8 + n :]
    dtypes = {"F32": np.float32, "I64": np.int64, "F64": np.float64}
    out = {}
    for name, h in header.items():
        if name == "__metadata__":
            continue
        a, b = h["data_offsets"]
        out[name] = np.frombuffer(body[a:b], dtype=dtypes[h["dtype"]]).reshape(h["shape"])
    return out


def test_equals_cli_and_devinterp_keys():
    ours = ffpe.llc(CHECKPOINT, arch="784-128-10", **OPTS)
    cli = cli_json(
        "ffpe-validate", "llc", "--weights", str(CHECKPOINT), "--chains", "2", "--draws", "30",
        "--seed", "3", "--json",
    )
    # the same Rust estimator, the same seed: the same number
    assert ours["llc/mean"] == cli["llc_mean"]
    assert ours["llc/std"] == cli["llc_std"]
    assert [ours["llc-chain/0"], ours["llc-chain/1"]] == cli["llc_per_chain"]
    assert ours["init_loss"] == cli["init_loss"]
    np.testing.assert_array_equal(ours["loss/trace"], np.array(cli["trace"]))
    assert ours["loss/trace"].shape == (2, 30)
    np.testing.assert_array_equal(ours["llc/means"], cli["llc_running"])
    # devinterp's definition: nbeta (mean draw loss - L(w*)) per chain
    per = ours["nbeta"] * (ours["loss/trace"].mean(axis=1) - ours["init_loss"])
    np.testing.assert_allclose(per, [ours["llc-chain/0"], ours["llc-chain/1"]], rtol=1e-12)
    assert ours["nbeta"] == pytest.approx(256 / np.log(256), rel=1e-15)


def test_state_dict_and_options():
    sd = read_safetensors(CHECKPOINT)
    a = ffpe.llc(sd, **OPTS)
    b = ffpe.llc(CHECKPOINT, **OPTS)
    assert a["llc/mean"] == b["llc/mean"]
    # devinterp spelling of the SGLD options: optimizer_kwargs or keywords
    c = ffpe.llc(CHECKPOINT, optimizer_kwargs=dict(lr=1e-4, localization=100.0, nbeta="batch"), **OPTS)
    assert c["llc/mean"] == b["llc/mean"]
    d = ffpe.llc(CHECKPOINT, lr=2e-4, **OPTS)
    assert d["llc/mean"] != b["llc/mean"]
    # threads do not change the result
    e = ffpe.llc(CHECKPOINT, cores=2, **OPTS)
    assert e["llc/mean"] == b["llc/mean"]
    # burn-in and thinning select draws burnin, burnin + k, ...
    f = ffpe.llc(CHECKPOINT, num_chains=1, num_draws=5, num_burnin_steps=3, num_steps_bw_draws=2, seed=1)
    np.testing.assert_array_equal(f["loss/trace"][0], f["loss/trace_all_steps"][0, 3::2])
    assert f["loss/trace_all_steps"].shape == (1, 13)


def _write_idx(folder, prefix, images, labels):
    n = images.shape[0]
    with gzip.open(folder / f"{prefix}-images-idx3-ubyte.gz", "wb") as f:
        f.write(struct.pack(">IIII", 0x803, n, 28, 28) + images.tobytes())
    with gzip.open(folder / f"{prefix}-labels-idx1-ubyte.gz", "wb") as f:
        f.write(struct.pack(">II", 0x801, n) + labels.tobytes())


def test_array_data_equals_idx_directory(tmp_path):
    # 300 digits of the bundled set as IDX files (with t10k files: used as given) and as arrays
    with gzip.open(ROOT / "validation/data/mnist/train-images-idx3-ubyte.gz") as f:
        px = np.frombuffer(f.read()[16:], dtype=np.uint8).reshape(-1, 784)
    with gzip.open(ROOT / "validation/data/mnist/train-labels-idx1-ubyte.gz") as f:
        lab = np.frombuffer(f.read()[8:], dtype=np.uint8)
    idx = np.arange(0, 10000, 33)[:300]
    _write_idx(tmp_path, "train", px[idx], lab[idx])
    _write_idx(tmp_path, "t10k", px[idx[:10]], lab[idx[:10]])
    x = px[idx].astype(np.float32) / np.float32(255)
    a = ffpe.llc(CHECKPOINT, data=(x, lab[idx]), batch_size=64, **OPTS)
    b = ffpe.llc(CHECKPOINT, data=tmp_path, batch_size=64, **OPTS)
    assert a["llc/mean"] == b["llc/mean"]
    cli = cli_json(
        "ffpe-validate", "llc", "--weights", str(CHECKPOINT), "--data", str(tmp_path),
        "--batch-size", "64", "--chains", "2", "--draws", "30", "--seed", "3", "--json",
    )
    assert a["llc/mean"] == cli["llc_mean"]


@pytest.mark.parametrize(
    "kwargs,field",
    [
        (dict(lr=-1.0), "lr"),
        (dict(localization=float("nan")), "localization"),
        (dict(nbeta="huge"), "nbeta"),
        (dict(num_chains=0), "num_chains"),
        (dict(num_draws=-1), "num_draws"),
        (dict(batch_size=0), "batch_size"),
        (dict(init_loss="batches:0"), "init_loss"),
        (dict(init_loss=-0.5), "init_loss"),
        (dict(init_loss=float("nan")), "init_loss"),
        (dict(init_loss=True), "init_loss"),
        (dict(init_loss=[1.0]), "init_loss"),
        (dict(progress=3), "progress"),
        (dict(arch="784-64-10"), "arch"),
        (dict(batchnorm=True), "batchnorm"),
        (dict(optimizer_kwargs=dict(temperature=1.0)), "optimizer_kwargs"),
        (dict(device="tpu"), "device"),
        (dict(data=(np.zeros((5, 784), np.float32), np.zeros(4, np.int64))), "data"),
        (dict(data=(np.zeros((5, 784), np.float32), np.full(5, 300))), "label"),
        (dict(data=(np.zeros((5, 10), np.float32), np.zeros(5, np.int64))), "arch|input width"),
    ],
)
def test_bad_input_raises(kwargs, field):
    with pytest.raises(ValueError, match=field):
        ffpe.llc(CHECKPOINT, **{"num_chains": 1, "num_draws": 2, **kwargs})


def test_bad_weights():
    with pytest.raises(OSError):
        ffpe.llc(ROOT / "no-such.safetensors")
    sd = read_safetensors(CHECKPOINT)
    sd["fc1.bias"] = sd["fc1.bias"][:64]
    with pytest.raises(ValueError, match="fc1.bias"):
        ffpe.llc(sd, num_chains=1, num_draws=2)
    with pytest.raises(ValueError, match="weights"):
        ffpe.llc(42)


def test_given_init_loss():
    a = ffpe.llc(CHECKPOINT, **OPTS)
    # the full-data L(w*) given as a number: the same result, bit for bit
    b = ffpe.llc(CHECKPOINT, init_loss=a["init_loss"], **OPTS)
    assert b["llc/mean"] == a["llc/mean"]
    assert b["init_loss"] == a["init_loss"]
    # another value: the same traces (they do not depend on L(w*)), devinterp's formula
    c = ffpe.llc(CHECKPOINT, init_loss=np.float32(0.5), **OPTS)
    np.testing.assert_array_equal(c["loss/trace"], a["loss/trace"])
    assert c["init_loss"] == 0.5
    want = c["nbeta"] * (c["loss/trace"].mean(axis=1) - 0.5)
    # same draws, mean summed in another order: rounding only
    np.testing.assert_allclose([c["llc-chain/0"], c["llc-chain/1"]], want, rtol=1e-12)
    assert ffpe.llc(CHECKPOINT, init_loss=0, **OPTS)["init_loss"] == 0.0
    cli = cli_json(
        "ffpe-validate", "llc", "--weights", str(CHECKPOINT), "--chains", "2", "--draws", "30",
        "--seed", "3", "--init-loss", "0.5", "--json",
    )
    assert c["llc/mean"] == cli["llc_mean"]


@pytest.mark.parametrize("cores", [1, 2])
def test_progress_callback(cores):
    seen = []
    r = ffpe.llc(CHECKPOINT, cores=cores, progress=lambda d, t: seen.append((d, t)), **OPTS)
    total = 2 * 30  # chains x steps
    assert {t for _, t in seen} == {total}
    done = [d for d, _ in seen]
    assert all(x < y for x, y in zip(done, done[1:])), done
    assert done[-1] == total
    # the callback does not change the result
    assert r["llc/mean"] == ffpe.llc(CHECKPOINT, **OPTS)["llc/mean"]
    # about 100 reports on a longer run (one per 1 % of the chain-steps, plus the last)
    seen.clear()
    ffpe.llc(CHECKPOINT, num_chains=1, num_draws=400, batch_size=16, cores=cores,
             progress=lambda d, t: seen.append(d))
    assert 90 <= len(seen) <= 102 and seen[-1] == 400, len(seen)


class Stop(Exception):
    pass


@pytest.mark.parametrize("cores", [1, 2])
def test_raising_callback_stops_the_run(cores):
    calls = []

    def cb(done, total):
        calls.append(done)
        if done >= 100:
            raise Stop(f"stop at {done} of {total}")

    # 2 chains x 2000 steps, reports every 40 chain-steps (1, 41, 81, 121): raises at 121 and
    # no report comes after it
    with pytest.raises(Stop, match="stop at 121.0 of 4000"):
        ffpe.llc(CHECKPOINT, num_chains=2, num_draws=2000, cores=cores, progress=cb)
    assert calls == [1, 41, 81, 121], calls
    # a ValueError from the callback is the callback's, not rewritten
    def bad(done, total):
        raise ValueError("from the callback")

    with pytest.raises(ValueError, match="from the callback"):
        ffpe.llc(CHECKPOINT, num_chains=2, num_draws=20000, cores=cores, progress=bad)


@pytest.mark.parametrize("cores", [1, 2])
def test_ctrl_c_stops_the_run(cores):
    """SIGINT during a long estimate stops it: Ctrl-C is checked every 50 ms on the calling
    thread. The signal is sent 0.2 s after the first progress report (so mid-run); the
    handler raises Stop (a test-local stand-in for KeyboardInterrupt)."""

    def handler(signum, frame):
        raise Stop("sigint")

    sent = []
    timer = threading.Timer(0.2, lambda: (sent.append(time.perf_counter()), signal.raise_signal(signal.SIGINT)))
    seen = []

    def cb(done, total):
        if not seen:
            timer.start()
        seen.append(done)

    old = signal.signal(signal.SIGINT, handler)
    try:
        with pytest.raises(Stop, match="sigint"):
            # 2 x 50000 chain-steps: 30 s at the fastest (~3000 steps/s), minutes under load
            ffpe.llc(CHECKPOINT, num_chains=2, num_draws=50000, cores=cores, progress=cb)
        latency = time.perf_counter() - sent[0]
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, old)
    # stopped mid-run, soon after the signal (50 ms checks; a chain-step is ~1-10 ms)
    assert seen[-1] < 100000, seen
    assert latency < 2.0, latency


def test_diagnostics_keys_equal_cli():
    ours = ffpe.llc(CHECKPOINT, **OPTS)
    cli = cli_json(
        "ffpe-validate", "llc", "--weights", str(CHECKPOINT), "--chains", "2", "--draws", "30",
        "--seed", "3", "--json",
    )
    assert ours["diagnostics"] == cli["diagnostics"]
    assert set(ours["diagnostics"]) == {
        "rhat", "ess_bulk", "ess_tail", "acceptance", "acceptance_steps", "burn_in", "warnings",
    }
    assert ours["n_beta"] == cli["n_beta"]
    assert ours["n_beta"]["convention"] == "batch"


def test_llc_truth_equals_cli():
    ours = ffpe.llc_truth("power:4", num_draws=2000)
    cli = cli_json("ffpe-validate", "llc-truth", "--model", "power:4", "--draws", "2000", "--json")
    assert set(ours) == {"estimate", "truth", "diagnostics"}
    assert ours == cli
    assert ours["truth"] == 0.25
    with pytest.raises(ValueError, match="model"):
        ffpe.llc_truth("power:3")
