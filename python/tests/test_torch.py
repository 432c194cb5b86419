"""ffpe.torch.Recorder: checkpoints at the geometric schedule, atomically, with their step in
the metadata, that ffpe.analyze reads; clear ImportErrors without torch or safetensors. The
Recorder tests are skipped where PyTorch is not installed (CI)."""

from __future__ import annotations

import importlib
import os
import sys

import numpy as np
import pytest

import ffpe


def test_import_without_torch_says_so(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` raises ImportError
    monkeypatch.delitem(sys.modules, "ffpe.torch", raising=False)
    with pytest.raises(ImportError, match=r"ffpe.torch needs PyTorch \(pip install torch\)"):
        importlib.import_module("ffpe.torch")


try:
    import torch
except ImportError:
    torch = None
try:
    import safetensors
except ImportError:
    safetensors = None
needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
needs_safetensors = pytest.mark.skipif(
    torch is None or safetensors is None, reason="PyTorch or safetensors is not installed"
)


def model():
    torch.manual_seed(0)
    m = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3), torch.nn.Linear(3, 2))
    m[2].bias.requires_grad_(False)  # frozen: not saved
    return m


@needs_torch
def test_schedule():
    from ffpe.torch import schedule

    s = schedule(1000, per_decade=10)
    assert s[:4] == [0, 1, 2, 3] and s[-1] == 1000
    assert s == sorted(set(s))
    # about per_decade points per decade once the values are distinct
    assert len([x for x in s if 100 <= x < 1000]) == 10
    assert schedule(100, per_decade=5, first=10) == [0, 10, 16, 25, 40, 63, 100]
    with pytest.raises(ValueError, match="per_decade"):
        schedule(10, per_decade=0)


@needs_safetensors
def test_recorder_writes_the_schedule_atomically(tmp_path):
    from ffpe.torch import Recorder, schedule

    m = model()
    rec = Recorder(m, tmp_path / "run", per_decade=5)
    opt = torch.optim.SGD([p for p in m.parameters() if p.requires_grad], lr=0.1)
    x = torch.randn(8, 4)
    for step in range(101):
        rec(step)  # the weights after `step` updates
        if step == 100:
            break
        opt.zero_grad()
        m(x).pow(2).mean().backward()
        opt.step()
    files = sorted(os.listdir(tmp_path / "run"))
    assert files == [f"step-{s:010d}.safetensors" for s in schedule(100, per_decade=5)]
    assert rec.written == [str(tmp_path / "run" / f) for f in files]
    from safetensors import safe_open

    with safe_open(rec.written[-1], framework="pt") as f:
        assert f.metadata() == {"step": "100"}
        # trainable parameters only: no BatchNorm buffers, no frozen bias
        assert sorted(f.keys()) == ["0.bias", "0.weight", "1.bias", "1.weight", "2.weight"]
        w = f.get_tensor("0.weight")
        assert torch.isfinite(w).all() and torch.equal(w, m[0].weight.detach())
    assert rec.step(7) is None and rec.due(10) and not rec.due(11)
    with pytest.raises(ValueError, match="step"):
        rec.step(-1)


@needs_safetensors
def test_recorded_runs_analyse(tmp_path):
    from ffpe.torch import Recorder

    dirs = []
    for seed in range(3):
        m = model()  # one initialisation
        torch.manual_seed(100 + seed)  # three minibatch streams
        rec = Recorder(m, tmp_path / f"stream-{seed}", per_decade=10, include=["0."])
        opt = torch.optim.SGD([p for p in m.parameters() if p.requires_grad], lr=0.05)
        for step in range(51):
            rec.step(step)
            opt.zero_grad()
            m(torch.randn(8, 4)).pow(2).mean().backward()
            opt.step()
        dirs.append(rec.out_dir)
    r = ffpe.analyze(dirs)
    assert r["tensors"] == ["0.bias", "0.weight"] and r["n_params"] == 15
    assert r["shared_init"] and r["steps"][0] == 0 and r["steps"][-1] == 50
    assert all(np.isfinite(r["diffusion"])) and r["diffusion"][0] == 0.0


@needs_torch
def test_missing_safetensors_says_pip_install(tmp_path, monkeypatch):
    from ffpe.torch import Recorder

    monkeypatch.setitem(sys.modules, "safetensors.torch", None)
    with pytest.raises(ImportError, match="pip install safetensors"):
        Recorder(model(), tmp_path)
