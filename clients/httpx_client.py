"""``httpx``: certifi by default; SSL_CERT_FILE / SSL_CERT_DIR win when trust_env is on."""

from __future__ import annotations

import os
import time

from clients._common import (
    after_handshake,
    classify_exception,
    explicit_trust,
    observe,
    tls_version_name,
    trust_from_env,
)
from clients.base import ClientInfo, Observation, Reason, Target, Trust, TrustUsed

ENV_VARS = ("SSL_CERT_FILE", "SSL_CERT_DIR")


class HttpxClient:
    name = "httpx"

    def info(self) -> ClientInfo:
        try:
            import httpcore
            import httpx
        except ImportError as exc:
            return ClientInfo(self.name, False, unavailable_reason=f"cannot import: {exc}")
        import ssl

        return ClientInfo(
            name=self.name,
            available=True,
            version=f"httpx {httpx.__version__} (httpcore {httpcore.__version__})",
            tls_library="OpenSSL",
            tls_library_version=ssl.OPENSSL_VERSION,
            native_trust=self.native_trust(),
            env_vars=ENV_VARS,
            fetches_aia=False,
        )

    def native_trust(self) -> TrustUsed:
        import certifi

        return trust_from_env(os.environ, ENV_VARS, TrustUsed("native", "certifi", certifi.where()))

    def probe(self, target: Target, trust: Trust, timeout: float) -> Observation:
        started = time.monotonic()
        used = self.native_trust() if trust.is_native else explicit_trust(trust)
        try:
            import ssl

            import httpx

            if trust.path:
                ctx = ssl.create_default_context(cafile=trust.path)
            else:
                # httpx's own choice of store, environment included, as a default Client makes it
                ctx = httpx.create_ssl_context(trust_env=True)
            # trust_env=False below only keeps proxies out: the trust was decided above.
            client = httpx.Client(verify=ctx, trust_env=False, timeout=timeout)
            request = client.build_request(
                "GET",
                _url(target),
                headers={"Host": _host_header(target)},
                extensions={"sni_hostname": target.ascii_host},
            )
            with client:
                response = client.send(request, stream=True, follow_redirects=False)
                try:
                    stream = response.extensions.get("network_stream")
                    ssl_object = stream.get_extra_info("ssl_object") if stream else None
                    version = ssl_object.version() if ssl_object else None
                    status = response.status_code
                finally:
                    response.close()
        except Exception as exc:
            c = classify_exception(exc)
            if _after_connect(exc):  # httpcore maps the whole handshake to Connect*
                c = after_handshake(c)
            return observe(
                target,
                self.name,
                c.reason,
                detail=c.detail,
                verify_code=c.verify_code,
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


def _after_connect(exc: Exception) -> bool:
    """True for a transport failure after the connection (TLS handshake included) was
    established: httpx raises ConnectError/ConnectTimeout for anything before."""
    import httpx

    return isinstance(exc, httpx.TransportError) and not isinstance(
        exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.ProxyError, httpx.UnsupportedProtocol)
    )


def _url(target: Target) -> str:
    host = f"[{target.address}]" if ":" in target.address else target.address
    return f"https://{host}:{target.port}{target.path}"


def _host_header(target: Target) -> str:
    host = f"[{target.ascii_host}]" if ":" in target.ascii_host else target.ascii_host
    return f"{host}:{target.port}"
