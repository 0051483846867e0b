"""``aiohttp``: asyncio HTTP client on the ssl module; its default context is
``ssl.create_default_context()``, i.e. OpenSSL's default verify paths."""

from __future__ import annotations

import asyncio
import ssl
import threading
from typing import Any

from tlsmatrix.clients._inprocess import InProcessAdapter
from tlsmatrix.clients._trust import policy_default_context, shared_context
from tlsmatrix.clients.base import Target, Trust


class AiohttpClient(InProcessAdapter):
    name = "aiohttp"
    notes = (
        "aiohttp builds its default context once, at import: SSL_CERT_FILE / "
        "SSL_CERT_DIR changed later do not reach a program's default sessions",
    )

    def version(self) -> str:
        import aiohttp

        return f"aiohttp {aiohttp.__version__}"

    def policy_context(self) -> ssl.SSLContext:
        ctx = policy_default_context()
        ctx.set_alpn_protocols(("http/1.1",))  # as _context() makes it, minus the trust
        return ctx

    def fetch(
        self, target: Target, trust: Trust, timeout: float, versions: list[str | None]
    ) -> int:
        return _thread_runner().run(_get(target, trust, timeout, versions))

    def connected(self, exc: Exception) -> bool:
        """True for a failure after aiohttp had connected (its TLS handshake included):
        aiohttp raises ClientConnectorError (or a connect timeout) for anything before."""
        import aiohttp

        before = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError, aiohttp.InvalidURL)
        return isinstance(exc, aiohttp.ClientError) and not isinstance(exc, before)


_RUNNERS = threading.local()


def _thread_runner() -> asyncio.Runner:
    """One event loop per runner thread, reused from probe to probe: asyncio.run() built
    and tore down a loop (and its resolver thread pool) every probe, ~100 ms of the cost.
    Each probe still gets its own ClientSession and connector, so no connection or pool
    is shared between probes."""
    runner = getattr(_RUNNERS, "runner", None)
    if runner is None:
        runner = _RUNNERS.runner = asyncio.Runner()
    return runner


def _context(cafile: str | None) -> ssl.SSLContext:
    """aiohttp's own verified context (connector._make_ssl_context), with the bundle."""
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.set_alpn_protocols(("http/1.1",))
    return ctx


async def _get(target: Target, trust: Trust, timeout: float, versions: list[str | None]) -> int:
    import aiohttp

    ctx = shared_context("aiohttp", trust.path, lambda: _context(trust.path))
    async with aiohttp.ClientSession(
        connector=_recording_connector(versions),
        trust_env=False,
        timeout=aiohttp.ClientTimeout(total=timeout),
    ) as session:
        try:
            async with session.get(
                target.connect_url,
                headers={"Host": target.host_header},
                ssl=ctx,
                server_hostname=target.ascii_host,
                allow_redirects=False,
            ) as resp:
                await resp.content.read(65536)
                return resp.status
        except aiohttp.ClientConnectorCertificateError as exc:
            # It is itself an ssl.CertificateError, but without the verify code: the
            # SSLCertVerificationError that has it is kept in .certificate_error.
            raise exc.certificate_error from exc
        except aiohttp.ClientConnectorError as exc:
            cause = exc.os_error  # chain it so that classification sees it
            if isinstance(cause, BaseException) and exc.__cause__ is None:
                raise exc from cause
            raise


def _recording_connector(versions: list[str | None]) -> Any:
    """A TCPConnector that notes each new connection's TLS version: once a server has
    said ``Connection: close`` the response no longer holds its connection."""
    import aiohttp

    class RecordingConnector(aiohttp.TCPConnector):
        async def connect(self, req: Any, traces: Any, timeout: Any) -> Any:
            conn = await super().connect(req, traces, timeout)
            transport = conn.transport
            ssl_object = transport.get_extra_info("ssl_object") if transport else None
            versions.append(ssl_object.version() if ssl_object is not None else None)
            return conn

    return RecordingConnector()
