"""``httpx``: certifi by default; SSL_CERT_FILE / SSL_CERT_DIR win when trust_env is on."""

from __future__ import annotations

import os
import ssl

from tlsmatrix.clients._inprocess import InProcessAdapter
from tlsmatrix.clients._trust import certifi_trust, policy_default_context, shared_context
from tlsmatrix.clients.base import Target, Trust, TrustUsed

ENV_VARS = ("SSL_CERT_FILE", "SSL_CERT_DIR")


class HttpxClient(InProcessAdapter):
    name = "httpx"
    env_vars = ENV_VARS

    def version(self) -> str:
        import httpcore
        import httpx

        return f"httpx {httpx.__version__} (httpcore {httpcore.__version__})"

    def native_trust(self) -> TrustUsed:
        return certifi_trust(os.environ, ENV_VARS)

    def policy_context(self) -> ssl.SSLContext:
        import httpx

        # The path a probe with a bundle takes (verify=<context>), minus the trust
        return httpx.create_ssl_context(verify=policy_default_context(), trust_env=False)

    def fetch(
        self, target: Target, trust: Trust, timeout: float, versions: list[str | None]
    ) -> int:
        # httpx reports the TLS version with the response
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

    def connected(self, exc: Exception) -> bool:
        """True for a transport failure after the connection (TLS handshake included) was
        established: httpx raises ConnectError/ConnectTimeout for anything before."""
        import httpx

        before = (
            httpx.ConnectError,
            httpx.ConnectTimeout,
            httpx.ProxyError,
            httpx.UnsupportedProtocol,
        )
        return isinstance(exc, httpx.TransportError) and not isinstance(exc, before)
