"""Python's standard library: ``ssl.create_default_context()`` + ``http.client``."""

from __future__ import annotations

import http.client
import os
import platform
import socket
import ssl
import time

from clients._common import (
    after_handshake,
    classify_exception,
    explicit_trust,
    observe,
    openssl_default_trust,
    tls_version_name,
)
from clients.base import ClientInfo, Observation, Reason, Target, Trust, TrustUsed


class StdlibClient:
    name = "stdlib"

    def info(self) -> ClientInfo:
        return ClientInfo(
            name=self.name,
            available=True,
            version=f"Python {platform.python_version()}",
            tls_library="OpenSSL",
            tls_library_version=ssl.OPENSSL_VERSION,
            native_trust=self.native_trust(),
            env_vars=("SSL_CERT_FILE", "SSL_CERT_DIR"),
            fetches_aia=False,
        )

    def native_trust(self) -> TrustUsed:
        return openssl_default_trust(os.environ)

    def probe(self, target: Target, trust: Trust, timeout: float) -> Observation:
        started = time.monotonic()
        used = self.native_trust() if trust.is_native else explicit_trust(trust)
        try:
            ctx = ssl.create_default_context(cafile=trust.path)
            status, version = fetch_over_ssl(ctx, target, timeout)
        except AfterHandshake as exc:  # the certificate was accepted; then something broke
            c, version = after_handshake(classify_exception(exc.__cause__ or exc)), exc.version
        except Exception as exc:  # every failure becomes an observation
            c, version = classify_exception(exc), None
        else:
            c = None
        if c is not None:
            return observe(
                target,
                self.name,
                c.reason,
                detail=c.detail,
                verify_code=c.verify_code,
                tls_version=tls_version_name(version),
                started=started,
                trust=used,
            )
        return observe(
            target,
            self.name,
            Reason.OK,
            detail=f"HTTP {status}",
            tls_version=tls_version_name(version),
            started=started,
            trust=used,
        )


class AfterHandshake(Exception):
    """A failure after the handshake verified the certificate; the cause is chained."""

    def __init__(self, version: str | None) -> None:
        super().__init__(f"after the handshake ({version})")
        self.version = version


def fetch_over_ssl(ctx: ssl.SSLContext, target: Target, timeout: float) -> tuple[int, str | None]:
    """Connect to target.address, handshake with SNI and name check for target.ascii_host,
    send one GET (no redirect is followed) and return (status, TLS version).

    Raises what the connection or handshake raised, and AfterHandshake (from the cause)
    for a failure once the handshake has completed."""
    deadline = time.monotonic() + timeout
    sock = socket.create_connection((target.address, target.port), timeout=timeout)
    try:
        tls = ctx.wrap_socket(sock, server_hostname=target.ascii_host)
    except BaseException:
        sock.close()
        raise
    with tls:
        version = tls.version()
        try:
            tls.settimeout(max(deadline - time.monotonic(), 0.01))
            conn = http.client.HTTPSConnection(target.ascii_host, target.port, timeout=timeout)
            conn.sock = tls  # reuse our verified socket; http.client then skips connect()
            conn.request("GET", target.path, headers={"Connection": "close"})
            response = conn.getresponse()
            response.read(65536)
        except Exception as exc:
            raise AfterHandshake(version) from exc
        return response.status, version
