"""``httpx``: certifi by default; SSL_CERT_FILE / SSL_CERT_DIR win when trust_env is on."""

from __future__ import annotations

import os
import time

from tlsmatrix.clients._common import (
    explicit_trust,
    fetch_outcome,
    observe_outcome,
    python_ssl_info,
    shared_context,
    trust_from_env,
)
from tlsmatrix.clients.base import ClientInfo, Observation, Target, Trust, TrustUsed

ENV_VARS = ("SSL_CERT_FILE", "SSL_CERT_DIR")


class HttpxClient:
    name = "httpx"

    def info(self) -> ClientInfo:
        try:
            import httpcore
            import httpx
        except ImportError as exc:
            return ClientInfo(self.name, False, unavailable_reason=f"cannot import: {exc}")

        return python_ssl_info(
            self.name,
            f"httpx {httpx.__version__} (httpcore {httpcore.__version__})",
            self.native_trust(),
            ENV_VARS,
        )

    def native_trust(self) -> TrustUsed:
        import certifi

        return trust_from_env(os.environ, ENV_VARS, TrustUsed("native", "certifi", certifi.where()))

    def probe(self, target: Target, trust: Trust, timeout: float) -> Observation:
        started = time.monotonic()
        used = self.native_trust() if trust.is_native else explicit_trust(trust)
        versions: list[str | None] = []  # httpx reports the version with the response
        outcome = fetch_outcome(
            lambda: _get(target, trust, timeout, versions), versions, _after_connect
        )
        return observe_outcome(target, self.name, outcome, started=started, trust=used)


def _get(target: Target, trust: Trust, timeout: float, versions: list[str | None]) -> int:
    import ssl

    import httpx

    cafile = trust.path
    if cafile:
        ctx = shared_context("httpx", cafile, lambda: ssl.create_default_context(cafile=cafile))
    else:
        # httpx's own choice of store, environment included, as a default Client makes it
        ctx = shared_context("httpx", None, lambda: httpx.create_ssl_context(trust_env=True))
    # trust_env=False below only keeps proxies out: the trust was decided above.
    client = httpx.Client(verify=ctx, trust_env=False, timeout=timeout)
    request = client.build_request(
        "GET",
        target.connect_url,
        headers={"Host": target.host_header},
        extensions={"sni_hostname": target.ascii_host},
    )
    with client:
        response = client.send(request, stream=True, follow_redirects=False)
        try:
            stream = response.extensions.get("network_stream")
            ssl_object = stream.get_extra_info("ssl_object") if stream else None
            versions.append(ssl_object.version() if ssl_object else None)
            return response.status_code
        finally:
            response.close()


def _after_connect(exc: Exception) -> bool:
    """True for a transport failure after the connection (TLS handshake included) was
    established: httpx raises ConnectError/ConnectTimeout for anything before."""
    import httpx

    return isinstance(exc, httpx.TransportError) and not isinstance(
        exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.ProxyError, httpx.UnsupportedProtocol)
    )
