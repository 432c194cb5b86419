"""Recording a PyTorch training run for ``ffpe.analyze`` / ``ffpe-validate analyze``.

``Recorder(model, out_dir)`` saves the model's trainable parameters as a safetensors
checkpoint (metadata ``{"step": "<step>"}``, file ``step-<10 digits>.safetensors``) at the
steps of a geometric schedule: step 0, then about ``per_decade`` steps per decade from
``first`` on, so that ``log t`` is evenly sampled for the exponent fits::

    rec = ffpe.torch.Recorder(model, "runs/stream-0")
    for step in range(steps + 1):
        rec.step(step)        # saves when `step` is on the schedule
        ...                   # one optimiser step
    ffpe.analyze(["runs/stream-0", "runs/stream-1", ...])

Needs PyTorch and the ``safetensors`` package (``pip install safetensors``); importing this
module without PyTorch raises ImportError (``ffpe.analyze`` itself needs neither).
"""

from __future__ import annotations

import os
import tempfile
from typing import Any, Callable, Sequence

try:
    import torch
except ImportError as e:  # pragma: no cover - exercised by the tests with torch hidden
    raise ImportError(
        "ffpe.torch needs PyTorch (pip install torch); ffpe.analyze works without it"
    ) from e

__all__ = ["Recorder", "schedule"]


def _int(name: str, v: Any, minimum: int) -> int:
    if isinstance(v, bool) or not hasattr(v, "__index__"):
        raise ValueError(f"`{name}` = {v!r}: allowed an integer >= {minimum}")
    i = int(v)
    if i < minimum:
        raise ValueError(f"`{name}` = {v!r} is out of range: allowed an integer >= {minimum}")
    return i


def _point(k: int, per_decade: int, first: int) -> int:
    return int(round(first * 10.0 ** (k / per_decade)))


def schedule(last: int, per_decade: int = 20, first: int = 1) -> list[int]:
    """The recorded steps up to ``last``: 0, then ``round(first * 10**(k / per_decade))`` for
    ``k = 0, 1, ...`` (distinct integers, so fewer than ``per_decade`` per decade at first)."""
    last = _int("last", last, 0)
    per_decade = _int("per_decade", per_decade, 1)
    first = _int("first", first, 1)
    out = {0}
    k = 0
    while (v := _point(k, per_decade, first)) <= last:
        out.add(v)
        k += 1
    return sorted(out)


def _save_file() -> Callable[..., None]:
    try:
        from safetensors.torch import save_file
    except ImportError as e:
        raise ImportError(
            "ffpe.torch.Recorder writes safetensors checkpoints: pip install safetensors"
        ) from e
    return save_file  # type: ignore[no-any-return]


class Recorder:
    """Saves a model's trainable parameters at geometrically spaced steps.

    Parameters
    ----------
    model : torch.nn.Module
        Its ``named_parameters()`` with ``requires_grad`` are saved (on the CPU, in their
        dtype; BatchNorm buffers and frozen parameters are not).
    out_dir : str or os.PathLike
        The run directory (created if missing); one directory per run.
    per_decade : int
        About this many recorded steps per decade of steps (20).
    first : int
        The first step after 0 on the schedule (1).
    include : str or list of str, optional
        Keep only parameters whose name contains one of these.

    ``recorder.step(step)`` (or ``recorder(step)``) saves when ``step`` is 0 or on the
    schedule (see :func:`schedule`) and returns the file written, else None;
    ``recorder.save(step)`` saves unconditionally. Files are written atomically (a temporary
    file in ``out_dir``, then ``os.replace``), so an interrupted run leaves whole checkpoints.
    """

    def __init__(
        self,
        model: Any,
        out_dir: str | os.PathLike[str],
        per_decade: int = 20,
        first: int = 1,
        include: str | Sequence[str] | None = None,
    ) -> None:
        if not hasattr(model, "named_parameters"):
            raise ValueError("`model`: expected a torch.nn.Module (with named_parameters())")
        self._save = _save_file()
        self.model = model
        self.out_dir = os.fspath(out_dir)
        self.per_decade = _int("per_decade", per_decade, 1)
        self.first = _int("first", first, 1)
        self.include = [include] if isinstance(include, str) else (
            None if include is None else [str(i) for i in include]
        )
        self.written: list[str] = []
        self._points = {0}
        self._last = 0
        self._k = 0
        os.makedirs(self.out_dir, exist_ok=True)
        if not self._tensors():
            raise ValueError(
                "`model` has no trainable parameter"
                + ("" if self.include is None else f" whose name contains one of {self.include}")
            )

    def due(self, step: int) -> bool:
        """Whether ``step`` is on the schedule (0, or a geometric step)."""
        step = _int("step", step, 0)
        while self._last < step:
            v = _point(self._k, self.per_decade, self.first)
            self._k += 1
            self._points.add(v)
            self._last = max(self._last, v)
        return step in self._points

    def step(self, step: int) -> str | None:
        """Saves the parameters if ``step`` is on the schedule; returns the file or None."""
        return self.save(step) if self.due(step) else None

    __call__ = step

    def _tensors(self) -> dict[str, Any]:
        out = {}
        for name, p in self.model.named_parameters():
            if not p.requires_grad:
                continue
            if self.include is not None and not any(i in name for i in self.include):
                continue
            out[name] = p.detach().to("cpu", copy=True).contiguous()
        return out

    def save(self, step: int) -> str:
        """Saves the parameters now as step ``step``; returns the file written."""
        step = _int("step", step, 0)
        path = os.path.join(self.out_dir, f"step-{step:010d}.safetensors")
        fd, tmp = tempfile.mkstemp(dir=self.out_dir, prefix=".step-", suffix=".tmp")
        os.close(fd)
        try:
            with torch.no_grad():
                self._save(self._tensors(), tmp, metadata={"step": str(step)})
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise
        self.written.append(path)
        return path
