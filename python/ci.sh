#!/usr/bin/env bash
# CI for the Python package (issue 12): a venv with maturin, pytest, numpy and mypy (plus the
# comparison packages pycaputo and pymittagleffler where PyPI has them; their tests skip
# otherwise), the wheel built by `maturin build --release`, installed, `mypy --strict` over
# the installed stubs and a typed use of the API (tests/typing_check.py), and pytest.
# PyTorch is not installed here: the ffpe.torch.Recorder tests (tests/test_torch.py) skip
# unless torch (and safetensors) are importable; the ImportError without torch is tested.
#
# Run it after `cargo test --workspace --release`: the wheel build reuses the workspace's
# target/ (the Rust dependencies are already compiled), and the tests compare with the
# `ffpe` and `ffpe-validate` binaries that the cargo tests built in target/release.
#
# Environment: PYTHON (default python3), FFPE_PY_VENV (default target/python-ci-venv).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
venv="${FFPE_PY_VENV:-$root/target/python-ci-venv}"
wheels="$root/target/python-wheels"
start=$(date +%s)

if [ ! -x "$venv/bin/python" ]; then
  "${PYTHON:-python3}" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check)
"${pip[@]}" "maturin>=1.9,<2" pytest numpy mypy
for extra in pycaputo pymittagleffler; do
  "${pip[@]}" "$extra" || echo "ci.sh: $extra is not installable here; its comparison tests will be skipped"
done
echo "ci.sh: venv ready after $(($(date +%s) - start)) s"

rm -rf "$wheels"
"$venv/bin/maturin" build --release --manifest-path "$here/Cargo.toml" \
  --interpreter "$venv/bin/python" --out "$wheels"
"${pip[@]}" --force-reinstall --no-deps "$wheels"/ffpe-*.whl
echo "ci.sh: wheel built and installed after $(($(date +%s) - start)) s"

cd "$here/tests"
# The stubs as installed (ffpe/__init__.pyi, py.typed) checked with the code that uses them.
"$venv/bin/python" -m mypy --strict --cache-dir "$root/target/mypy-cache" typing_check.py
echo "ci.sh: mypy --strict clean after $(($(date +%s) - start)) s"
"$venv/bin/python" -m pytest -q -p no:cacheprovider
echo "ci.sh: done in $(($(date +%s) - start)) s"
