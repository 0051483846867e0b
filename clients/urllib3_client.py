"""``urllib3`` 2.x: OpenSSL's default verify paths (SSL_CERT_FILE / SSL_CERT_DIR honoured)."""

from __future__ import annotations

import os
import time
from typing import Any

from tlsmatrix.clients._common import (
    explicit_trust,
    fetch_outcome,
    observe_outcome,
    openssl_default_trust,
    python_ssl_info,
    shared_context,
)
from tlsmatrix.clients.base import ClientInfo, Observation, Target, Trust, TrustUsed


class Urllib3Client:
    name = "urllib3"

    def info(self) -> ClientInfo:
        try:
            import urllib3
        except ImportError as exc:
            return ClientInfo(self.name, False, unavailable_reason=f"cannot import: {exc}")

        return python_ssl_info(
            self.name,
            f"urllib3 {urllib3.__version__}",
            self.native_trust(),
            ("SSL_CERT_FILE", "SSL_CERT_DIR"),
        )

    def native_trust(self) -> TrustUsed:
        return openssl_default_trust(os.environ)

    def probe(self, target: Target, trust: Trust, timeout: float) -> Observation:
        started = time.monotonic()
        used = self.native_trust() if trust.is_native else explicit_trust(trust)
        versions: list[str | None] = []  # one per completed handshake
        outcome = fetch_outcome(lambda: _get(target, trust, timeout, versions), versions)
        return observe_outcome(target, self.name, outcome, started=started, trust=used)


def _get(target: Target, trust: Trust, timeout: float, versions: list[str | None]) -> int:
    from tlsmatrix.clients._urllib3 import get_status

    context = shared_context("urllib3", trust.path, lambda: _context(trust.path))
    return get_status(target, context, timeout, versions)


def _context(cafile: str | None) -> Any:
    """The context urllib3 would make itself: its defaults, then the bundle or (without
    one) OpenSSL's default paths."""
    import ssl

    from urllib3.util.ssl_ import create_urllib3_context

    ctx = create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED)
    if cafile:
        ctx.load_verify_locations(cafile=cafile)
    else:
        ctx.load_default_certs()
    return ctx
