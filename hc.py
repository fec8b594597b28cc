#!/usr/bin/env python3
"""Home Craft 3D: the one entry point. Needs only Python 3.11+.

    python3 hc.py run     set up, start the whole marketplace, print the storefront URL
    python3 hc.py test    set up, run every package's tests and the contract tests

Setting up means: a virtual environment in .venv, uv inside it, and the locked dependencies of
every package (uv.lock). It is skipped when nothing it depends on changed.
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
UV_VERSION = "0.13.*"
STAMP = VENV / ".homecraft-sync"


def main() -> int:
    if sys.version_info < (3, 11):  # noqa: UP036  (this file runs on whatever python3 the user has)
        print("Home Craft 3D needs Python 3.11 or newer", file=sys.stderr)
        return 2
    ensure_environment()
    python = str(BIN / "python")
    command = [python, "-m", "devstack", *sys.argv[1:]]
    if os.name == "posix":
        # Become the supervisor (same pid): `kill -INT <pid>`, `kill -TERM <pid>` and a terminal's
        # Ctrl-C reach it directly, and no wrapper is left to be killed halfway (or print a traceback).
        os.chdir(ROOT)
        os.execv(python, command)
    return subprocess.call(command, cwd=ROOT)


def ensure_environment() -> None:
    if not (BIN / "python").exists():
        print("creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    if not (BIN / "uv").exists():
        print("installing uv ...", flush=True)
        run([BIN / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check", f"uv=={UV_VERSION}"])
    fingerprint = inputs_fingerprint()
    if STAMP.exists() and STAMP.read_text() == fingerprint:
        return
    print("installing dependencies (uv sync) ...", flush=True)
    env = {**os.environ, "VIRTUAL_ENV": str(VENV), "UV_PROJECT_ENVIRONMENT": str(VENV)}
    # --inexact keeps uv itself (installed by pip above) in the environment.
    run([BIN / "uv", "sync", "--all-packages", "--locked", "--inexact", "--quiet"], env=env)
    STAMP.write_text(fingerprint)


def inputs_fingerprint() -> str:
    digest = hashlib.sha256()
    packages = ["shared", "gateway", *(f"services/{p.name}" for p in sorted((ROOT / "services").iterdir())),
                *(f"tools/{p.name}" for p in sorted((ROOT / "tools").iterdir()))]
    files = [ROOT / "uv.lock", ROOT / "pyproject.toml", *(ROOT / p / "pyproject.toml" for p in packages)]
    for path in files:
        if not path.exists():
            continue
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def run(command: list[object], env: dict[str, str] | None = None) -> None:
    result = subprocess.run([str(part) for part in command], cwd=ROOT, env=env)
    if result.returncode != 0:
        sys.exit(f"setup step failed: {' '.join(str(p) for p in command)}")


if __name__ == "__main__":
    sys.exit(main())
