"""The baselines: one handshake plus one GET done directly with each library, the way a
person would write it, with the same trust bundle the adapter is given and the same
per-probe setup the adapter needs (a fresh session/pool/context each time, since a probe
must not reuse a connection). Each raises unless the server answered HTTP 200."""

from __future__ import annotations

import http.client
import socket
import ssl
import subprocess
from collections.abc import Callable, Sequence

NO_PROXY = {"http": None, "https": None, "all": None}


def _ok(status: int) -> None:
    if status != 200:
        raise RuntimeError(f"HTTP {status}")


def bare_requests(host: str, port: int, bundle: str, timeout: float) -> None:
    import requests

    with requests.Session() as session:
        response = session.get(
            f"https://{host}:{port}/",
            verify=bundle,
            timeout=(timeout, timeout),
            allow_redirects=False,
            proxies=dict(NO_PROXY),  # this machine sets proxy variables; loopback only
        )
        _ok(response.status_code)


def bare_httpx(host: str, port: int, bundle: str, timeout: float) -> None:
    import httpx

    ctx = ssl.create_default_context(cafile=bundle)
    with httpx.Client(verify=ctx, trust_env=False, timeout=timeout) as client:
        _ok(client.get(f"https://{host}:{port}/").status_code)


def bare_urllib3(host: str, port: int, bundle: str, timeout: float) -> None:
    import urllib3

    with urllib3.HTTPSConnectionPool(
        host,
        port,
        cert_reqs="CERT_REQUIRED",
        ca_certs=bundle,
        timeout=urllib3.Timeout(connect=timeout, read=timeout),
        retries=False,
    ) as pool:
        _ok(pool.urlopen("GET", "/", redirect=False).status)


def bare_stdlib(host: str, port: int, bundle: str, timeout: float) -> None:
    ctx = ssl.create_default_context(cafile=bundle)
    conn = http.client.HTTPSConnection(host, port, context=ctx, timeout=timeout)
    try:
        conn.request("GET", "/", headers={"Connection": "close"})
        response = conn.getresponse()
        response.read()
        _ok(response.status)
    finally:
        conn.close()


def bare_pyopenssl(host: str, port: int, bundle: str, timeout: float) -> None:
    """pyOpenSSL checks no name by itself; service-identity does it, as the adapter does."""
    from OpenSSL import SSL
    from service_identity.pyopenssl import verify_ip_address

    ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
    ctx.set_verify(SSL.VERIFY_PEER, lambda _c, _x, _e, _d, ok: bool(ok))
    ctx.load_verify_locations(bundle)
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.setblocking(True)  # blocking pyOpenSSL: no WantRead loop in the baseline
    conn = SSL.Connection(ctx, sock)
    try:
        conn.set_connect_state()
        conn.do_handshake()
        verify_ip_address(conn, host)
        conn.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        head = conn.recv(1024)
        _ok(int(head.split(b" ", 2)[1]))
    finally:
        sock.close()


BARE: dict[str, Callable[[str, int, str, float], None]] = {
    "requests": bare_requests,
    "httpx": bare_httpx,
    "urllib3": bare_urllib3,
    "stdlib": bare_stdlib,
    "pyopenssl": bare_pyopenssl,
}


def bare_command(argv: Sequence[str], env: dict[str, str], timeout: float) -> None:
    """The command alone: the same argv, stdin closed, output captured."""
    subprocess.run(
        list(argv), stdin=subprocess.DEVNULL, capture_output=True, env=env, timeout=timeout
    )
