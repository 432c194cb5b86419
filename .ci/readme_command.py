#!/usr/bin/env python3
"""Prints a command of README.md exactly as it is written there, so that CI runs what a
reader runs (not a copy that could drift).

    python3 .ci/readme_command.py main   # the main command: first ```sh block after "Run the main job"
    python3 .ci/readme_command.py test   # the test command: first ```sh block after "Run the tests"

Exits 1 with a message when the README no longer has the marker, the block, or exactly one
command line in the block.
"""
import pathlib
import sys

MARKERS = {"main": "Run the main job", "test": "Run the tests"}


def command(readme: str, which: str) -> str:
    marker = MARKERS[which]
    start = readme.find(marker)
    if start < 0:
        raise SystemExit(f"readme_command.py: README.md has no paragraph starting {marker!r}")
    fence = readme.find("```sh\n", start)
    if fence < 0:
        raise SystemExit(f"readme_command.py: no ```sh block after {marker!r}")
    body_start = fence + len("```sh\n")
    end = readme.find("```", body_start)
    lines = [
        l.strip()
        for l in readme[body_start:end].splitlines()
        if l.strip() and not l.strip().startswith("#")
    ]
    if len(lines) != 1:
        raise SystemExit(
            f"readme_command.py: expected one command in the block after {marker!r}, found {lines}"
        )
    return lines[0]


def main() -> None:
    if len(sys.argv) != 2 or sys.argv[1] not in MARKERS:
        raise SystemExit("usage: readme_command.py main|test")
    root = pathlib.Path(__file__).resolve().parent.parent
    print(command((root / "README.md").read_text(encoding="utf-8"), sys.argv[1]))


if __name__ == "__main__":
    main()
