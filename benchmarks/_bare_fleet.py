"""The floor under the fleet benchmark: the seven core clients alone, in one fresh
process, with nothing of tlsmatrix: each host probed once by each client as a person
would write it (benchmarks/_bare.py, fresh session/context per probe; curl and openssl as
plain commands), eight at a time, the libraries imported first, in a row. No chain
capture, no analysis, no report. What this costs is what running these real clients
costs on the machine; tlsmatrix's time over it is its own.

``python benchmarks/_bare_fleet.py '[PORT, ...]' BUNDLE``; exits non-zero if any probe
did not get HTTP 200 (or, for openssl, verify return code 0)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._bare import BARE  # noqa: E402

TIMEOUT = 10.0


def _command(argv: list[str], expect: bytes | None = None) -> None:
    """Run ``argv``; raise unless it exits 0 and prints ``expect`` (when given)."""
    res = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT)
    if res.returncode != 0 or (expect is not None and res.stdout != expect):
        raise RuntimeError(f"{argv[0]}: {res.stdout[-200:]!r} {res.stderr[-200:]!r}")


def tasks(ports: list[int], bundle: str) -> list[Callable[[], None]]:
    out: list[Callable[[], None]] = []
    for port in ports:
        url = f"https://localhost:{port}/"
        curl = ["curl", "-s", "-o", os.devnull, "-w", "%{http_code}", "--cacert", bundle, url]
        openssl = ["openssl", "s_client", "-connect", f"localhost:{port}", "-servername",
                   "localhost", "-CAfile", bundle, "-verify_return_error", "-brief"]  # fmt: skip
        out.append(lambda argv=curl: _command(argv, b"200"))
        out.append(lambda argv=openssl: _command(argv))
        for bare in BARE.values():
            out.append(lambda p=port, f=bare: f("127.0.0.1", p, bundle, TIMEOUT))
    return out


def main() -> int:
    ports, bundle = json.loads(sys.argv[1]), sys.argv[2]
    import httpx  # noqa: F401
    import OpenSSL.SSL  # noqa: F401 - the libraries first, in a row
    import requests  # noqa: F401
    import service_identity.pyopenssl  # noqa: F401
    import urllib3  # noqa: F401

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda task: task(), tasks(ports, bundle)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
