"""The example problem files of ffpe (the repository's ``examples/*.toml``), shipped inside
the package so that they work from any directory::

    import ffpe
    ffpe.examples.names()                       # ['absorbing_1d', ..., 'ou_1d', ...]
    s = ffpe.solve(ffpe.examples.path("ou_1d"))  # a real file, written once to a cache folder
    print(ffpe.examples.text("ou_1d"))          # the TOML text
"""

from __future__ import annotations

import os
import pathlib
import tempfile

from . import _native


def names() -> list[str]:
    """Names of the shipped examples (without ``.toml``)."""
    return list(_native.example_names())


def text(name: str) -> str:
    """The TOML text of example ``name``; ``ValueError`` lists the names otherwise."""
    return str(_native.example_text(name))


def path(name: str) -> pathlib.Path:
    """A path to example ``name`` as a TOML file.

    The file is written (atomically) into ``$FFPE_EXAMPLES_DIR`` or, by default, a folder
    ``ffpe-examples`` under the system's temporary directory, and rewritten when its
    content differs from the shipped text.
    """
    body = text(name)
    stem = name[:-5] if name.endswith(".toml") else name
    folder = pathlib.Path(
        os.environ.get("FFPE_EXAMPLES_DIR") or pathlib.Path(tempfile.gettempdir()) / "ffpe-examples"
    )
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{stem}.toml"
    try:
        if target.read_text(encoding="utf-8") == body:
            return target
    except OSError:
        pass
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(body)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return target
