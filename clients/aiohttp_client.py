"""``aiohttp``: asyncio HTTP client on the ssl module; its default context is
``ssl.create_default_context()``, i.e. OpenSSL's default verify paths."""

from __future__ import annotations

import asyncio
import os
import ssl
import time
from typing import Any

from clients._common import (
    explicit_trust,
    fetch_outcome,
    observe_outcome,
    openssl_default_trust,
    shared_context,
)
from clients.base import ClientInfo, Observation, Target, Trust, TrustUsed


class AiohttpClient:
    name = "aiohttp"

    def info(self) -> ClientInfo:
        try:
            import aiohttp
        except ImportError as exc:
            return ClientInfo(self.name, False, unavailable_reason=f"cannot import: {exc}")
        return ClientInfo(
            name=self.name,
            available=True,
            version=f"aiohttp {aiohttp.__version__}",
            tls_library="OpenSSL",
            tls_library_version=ssl.OPENSSL_VERSION,
            native_trust=self.native_trust(),
            env_vars=("SSL_CERT_FILE", "SSL_CERT_DIR"),
            fetches_aia=False,
            notes=(
                "aiohttp builds its default context once, at import: SSL_CERT_FILE / "
                "SSL_CERT_DIR changed later do not reach a program's default sessions",
            ),
        )

    def native_trust(self) -> TrustUsed:
        return openssl_default_trust(os.environ)

    def probe(self, target: Target, trust: Trust, timeout: float) -> Observation:
        started = time.monotonic()
        used = self.native_trust() if trust.is_native else explicit_trust(trust)
        versions: list[str | None] = []  # one per completed handshake
        outcome = fetch_outcome(
            lambda: asyncio.run(_get(target, trust, timeout, versions)), versions, _after_connect
        )
        return observe_outcome(target, self.name, outcome, started=started, trust=used)


def _context(cafile: str | None) -> ssl.SSLContext:
    """aiohttp's own verified context (connector._make_ssl_context), with the bundle."""
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.set_alpn_protocols(("http/1.1",))
    return ctx


async def _get(target: Target, trust: Trust, timeout: float, versions: list[str | None]) -> int:
    import aiohttp

    ctx = shared_context("aiohttp", trust.path, lambda: _context(trust.path))
    async with aiohttp.ClientSession(
        trust_env=False, timeout=aiohttp.ClientTimeout(total=timeout)
    ) as session:
        try:
            async with session.get(
                target.connect_url,
                headers={"Host": target.host_header},
                ssl=ctx,
                server_hostname=target.ascii_host,
                allow_redirects=False,
            ) as resp:
                versions.append(_tls_version(resp))
                return resp.status
        except aiohttp.ClientConnectorError as exc:
            # aiohttp keeps the cause in an attribute; chain it so classification sees it
            cause = getattr(exc, "certificate_error", None) or getattr(exc, "os_error", None)
            if isinstance(cause, BaseException) and exc.__cause__ is None:
                raise exc from cause
            raise


def _tls_version(resp: Any) -> str | None:
    conn = getattr(resp, "connection", None)
    transport = getattr(conn, "transport", None)
    ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
    return ssl_object.version() if ssl_object is not None else None


def _after_connect(exc: Exception) -> bool:
    """True for a failure after aiohttp had connected (its TLS handshake included):
    aiohttp raises ClientConnectorError (or a connect timeout) for anything before."""
    import aiohttp

    before = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError, aiohttp.InvalidURL)
    return isinstance(exc, aiohttp.ClientError) and not isinstance(exc, before)

