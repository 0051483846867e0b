"""Ctrl-C or SIGTERM during a long matrix: partial results written, children stopped, 130."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from tests._cli import ROOT
from tests.conftest import clean_environ


def client_processes(port: int, parent: int | None = None) -> list[str]:
    """Command lines of running curl/s_client processes that name the silent server's
    port (and, if given, are children of ``parent``)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{pid}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if parent is not None and ppid != parent:
            continue
        if re.search(rf":{port}\b", cmd) and ("curl" in cmd or "s_client" in cmd):
            found.append(cmd)
    return found


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_writes_partial_results_and_stops_children(
    tmp_path, servers, pki, silent_server, sig
):
    out = tmp_path / "partial.json"
    good = f"https://localhost:{servers['good'].port}/"
    slow = [f"https://127.0.0.1:{silent_server.port}/{i}" for i in range(12)]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tlsmatrix",
            "run",
            good,
            *slow,
            "--client",
            "curl",
            "--client",
            "openssl",
            "--client",
            "stdlib",
            "--ca-file",
            pki.root_pem,
            "--timeout",
            "20",
            "--jobs",
            "3",
            "--format",
            "json",
            "-o",
            str(out),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=clean_environ(PYTHONPATH=ROOT),
        cwd=ROOT,
    )
    deadline = time.monotonic() + 20
    while not client_processes(silent_server.port, proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert client_processes(silent_server.port, proc.pid), "the slow probes never started"
    time.sleep(0.3)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 130, err
    assert out.exists(), err.decode()
    assert "Traceback" not in err.decode()
    data = json.loads(out.read_text())
    assert data["partial"] is True
    done = {(r["target"], r["client"]) for r in data["results"]}
    assert (good.rstrip("/"), "curl") in done and (good.rstrip("/"), "stdlib") in done
    assert len(done) < 13 * 3
    time.sleep(0.2)
    assert client_processes(silent_server.port) == []
