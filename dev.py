#!/usr/bin/env python3
"""Set-up and entry points for a fresh checkout, needing only Python 3.11+.

    python3 dev.py serve   # the emulator with demo data on 127.0.0.1:7376
    python3 dev.py test    # the whole test suite

Each command first makes `.venv/` and installs the project into it (again only when pyproject.toml changed).
Extra arguments are passed on: `python3 dev.py serve --seed 7`, `python3 dev.py test -k streams`. The tests run
on two workers (pytest-xdist) unless the arguments choose (`-n 0`: one process).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")


def ensure_venv(extra: str) -> None:
    """Create .venv and install the project with `extra`, unless the same pyproject.toml is installed."""
    stamp = VENV / f".installed-{extra}"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    if not (BIN / "python").exists():
        print("dev.py: creating .venv", file=sys.stderr)
        venv.create(VENV, with_pip=True)
    print(f"dev.py: installing sequin-emulator[{extra}] into .venv", file=sys.stderr)
    subprocess.run([str(BIN / "python"), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
    subprocess.run([str(BIN / "python"), "-m", "pip", "install", "--quiet", "-e", f".[{extra}]"], check=True, cwd=ROOT)
    stamp.write_text(digest)


def main(argv: list[str]) -> int:
    command, rest = (argv[0], argv[1:]) if argv else ("", [])
    if command in ("serve", "test"):
        ensure_venv("test")
        os.chdir(ROOT)
        # exec, so that Ctrl-C and CI's signals reach the server or pytest directly
        if command == "serve":
            os.execv(BIN / "sequin-emulator", [str(BIN / "sequin-emulator"), "serve", "--demo", *rest])
        chosen = any(a == "-n" or a.startswith(("-n", "--numprocesses", "--dist")) or a == "no:xdist" for a in rest)
        workers = [] if chosen else ["-n", "2"]
        os.execv(BIN / "python", [str(BIN / "python"), "-m", "pytest", *workers, *rest])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
