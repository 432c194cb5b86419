"""Shared helpers: the workspace's command-line tools (the Rust API, as run by CI)."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
CHECKPOINT = ROOT / "validation" / "tests" / "data" / "mlp-784-128-10.safetensors"


def _binary(name: str) -> pathlib.Path | None:
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    p = target / "release" / name
    return p if p.exists() else None


def run_cli(name: str, *args: str) -> str:
    """stdout of `target/release/<name> args...`; skips when the binary was not built
    (`cargo test --workspace --release`, which CI runs first, builds it)."""
    exe = _binary(name)
    if exe is None:
        pytest.skip(f"target/release/{name} not built (run cargo build --workspace --release)")
    r = subprocess.run([str(exe), *args], capture_output=True, text=True, check=True)
    return r.stdout


def cli_json(name: str, *args: str) -> dict:
    return json.loads(run_cli(name, *args))
