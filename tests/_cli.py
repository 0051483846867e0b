"""The one way tests run Python and the command line (``python -m tlsmatrix ...``) in a
subprocess, as a user would: trust/proxy variables cleared, this checkout on PYTHONPATH."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import clean_environ

ROOT = str(Path(__file__).resolve().parent.parent)


def python(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120, cwd: str | Path = ROOT
) -> subprocess.CompletedProcess[str]:
    """Run ``python ARGS`` (this interpreter) in ``cwd``; stdin closed, output captured as
    text. ``env`` replaces the cleaned environment when given."""
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        env=env or clean_environ(PYTHONPATH=ROOT),
        cwd=cwd,
    )


def tlsmatrix(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m tlsmatrix ARGS`` from the repository root (see :func:`python`)."""
    return python("-m", "tlsmatrix", *args, env=env, timeout=timeout)


def trust_args(**bundles: str) -> list[str]:
    """``--client NAME --trust NAME=PEM`` for each client, in order: each its own bundle."""
    args: list[str] = []
    for name, pem in bundles.items():
        args += ["--client", name, "--trust", f"{name}={pem}"]
    return args


def rows(stdout: str) -> dict[str, dict[str, Any]]:
    """The ``results`` of a JSON report, keyed by client name (one target)."""
    return {r["client"]: r for r in json.loads(stdout)["results"]}
