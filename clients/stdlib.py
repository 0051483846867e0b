"""Python's standard library: ``ssl.create_default_context()`` + ``http.client``."""

from __future__ import annotations

import http.client
import platform
import socket
import ssl
import time

from tlsmatrix.clients._inprocess import InProcessAdapter
from tlsmatrix.clients._trust import shared_context
from tlsmatrix.clients.base import Target, Trust


class StdlibClient(InProcessAdapter):
    name = "stdlib"

    def version(self) -> str:
        return f"Python {platform.python_version()}"

    def fetch(
        self, target: Target, trust: Trust, timeout: float, versions: list[str | None]
    ) -> int:
        return fetch_over_ssl(default_context(trust.path), target, timeout, versions)


def default_context(cafile: str | None) -> ssl.SSLContext:
    """``ssl.create_default_context()`` as a program would make it: with the bundle, or
    with OpenSSL's default paths (where SSL_CERT_FILE / SSL_CERT_DIR apply)."""
    return shared_context("stdlib", cafile, lambda: ssl.create_default_context(cafile=cafile))


def fetch_over_ssl(
    ctx: ssl.SSLContext, target: Target, timeout: float, versions: list[str | None]
) -> int:
    """Connect to target.address, handshake with SNI and name check for target.ascii_host
    (appending the TLS version to ``versions``), send one GET (no redirect is followed)
    and return the HTTP status."""
    deadline = time.monotonic() + timeout
    sock = socket.create_connection((target.address, target.port), timeout=timeout)
    try:
        tls = ctx.wrap_socket(sock, server_hostname=target.ascii_host)
    except BaseException:
        sock.close()
        raise
    with tls:
        versions.append(tls.version())
        tls.settimeout(max(deadline - time.monotonic(), 0.01))
        # context=ctx: without it http.client builds (and discards) a default context,
        # loading the whole system store, on every probe.
        conn = http.client.HTTPSConnection(
            target.ascii_host, target.port, timeout=timeout, context=ctx
        )
        conn.sock = tls  # reuse our verified socket; http.client then skips connect()
        conn.request("GET", target.path, headers={"Connection": "close"})
        response = conn.getresponse()
        response.read(65536)
        return response.status
