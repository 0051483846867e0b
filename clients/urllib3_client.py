"""``urllib3`` 2.x: OpenSSL's default verify paths (SSL_CERT_FILE / SSL_CERT_DIR honoured)."""

from __future__ import annotations

from typing import Any

from tlsmatrix.clients._inprocess import InProcessAdapter
from tlsmatrix.clients._trust import shared_context
from tlsmatrix.clients.base import Target, Trust


class Urllib3Client(InProcessAdapter):
    name = "urllib3"

    def version(self) -> str:
        import urllib3

        return f"urllib3 {urllib3.__version__}"

    def policy_context(self) -> Any:
        from urllib3.util.ssl_ import create_urllib3_context

        return create_urllib3_context()

    def fetch(
        self, target: Target, trust: Trust, timeout: float, versions: list[str | None]
    ) -> int:
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
