"""`lab run --from-export`: the compose path, run here with nginx on loopback serving an
exported lab (docker compose itself cannot run on this machine)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time

from tlsmatrix.lab.aia import AIAServer
from tlsmatrix.lab.export import export
from tlsmatrix.lab.nginx import nginx_binary

from tests._cli import tlsmatrix
from tests.conftest import needs

# partial_wildcard is named for another host and still served on the shared loopback.
SCENARIOS = ["good", "leaf_only", "expired_leaf", "partial_wildcard"]


def consecutive_free_ports(n: int) -> int:
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            first = probe.getsockname()[1]
        if first + n > 65535:
            continue
        try:
            socks = []
            for port in range(first, first + n):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no block of free ports")


@needs(nginx_binary() is not None, "nginx is not installed")
def test_lab_run_from_an_export_served_by_nginx(tmp_path):
    lab_dir = tmp_path / "lab"
    log = tmp_path / "aia.jsonl"
    with AIAServer(log_file=log) as aia:
        manifest = export(
            lab_dir,
            aia.url,
            scenarios=SCENARIOS,
            listen_host="127.0.0.1",
            first_port=consecutive_free_ports(len(SCENARIOS)),
        )
        aia.publish_dir(manifest.aia_dir)
        nginx = subprocess.Popen(
            [
                nginx_binary(),
                "-c",
                str(manifest.nginx_conf),
                "-p",
                str(lab_dir) + "/",
                "-e",
                "stderr",
                "-g",
                "daemon off;",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            port = manifest.scenarios[-1].port
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            result = tlsmatrix(
                "lab",
                "run",
                "--from-export",
                str(lab_dir),
                "--aia-log",
                str(log),
                "--client",
                "curl",
                "--client",
                "stdlib",
                "--format",
                "json",
                "--strict",
            )
        finally:
            os.killpg(nginx.pid, signal.SIGKILL)
            nginx.communicate(timeout=10)
    assert result.returncode == 0, result.stderr + result.stdout
    cells = json.loads(result.stdout)["lab"]["cells"]
    assert {(c["scenario"], c["client"]) for c in cells} == {
        (s, c) for s in SCENARIOS for c in ("curl", "stdlib")
    }
    assert all(c["matches"] for c in cells)
