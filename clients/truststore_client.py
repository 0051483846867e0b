"""``truststore``: the operating system's verifier behind an ``ssl.SSLContext``, here driven
by urllib3. On Linux truststore has no platform API to call: it lets OpenSSL verify, and
before every handshake points the context at the system CA store it finds."""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from typing import Any

from tlsmatrix.clients._inprocess import InProcessAdapter
from tlsmatrix.clients._trust import openssl_default_trust, shared_context
from tlsmatrix.clients.base import Target, Trust, TrustUsed

# truststore's own fallback list (truststore/_openssl.py), used when its import fails.
_FALLBACK_CANDIDATES = (
    "/etc/ssl/cert.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/pki/tls/cert.pem",
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/ssl/ca-bundle.pem",
)


class TruststoreClient(InProcessAdapter):
    name = "truststore"
    notes = (
        "Linux: truststore verifies with OpenSSL against the system CA store it "
        "finds (OpenSSL default paths, else the first of its known CA files)",
        "an explicit bundle is added to the system store, not used instead of it: "
        "truststore reloads the system store before every handshake",
    )

    def version(self) -> str:
        import truststore
        import urllib3

        return f"truststore {truststore.__version__} (urllib3 {urllib3.__version__})"

    def native_trust(self) -> TrustUsed:
        return system_store(os.environ)

    def trust_used(self, trust: Trust) -> TrustUsed:
        return self.native_trust() if trust.is_native else bundle_trust(trust, os.environ)

    def policy_context(self) -> Any:
        return _context(None)

    def fetch(
        self, target: Target, trust: Trust, timeout: float, versions: list[str | None]
    ) -> int:
        from tlsmatrix.clients._urllib3 import get_status

        # One context per trust, but the OS store is still loaded on every handshake:
        # truststore's Linux backend calls set_default_verify_paths()/load_verify_locations()
        # inside every wrap_socket (truststore/_api.py, _openssl._configure_context) and has
        # no switch to keep a loaded store. Skipping it would measure a client no user runs.
        context = shared_context("truststore", trust.path, lambda: _context(trust.path))
        return get_status(target, context, timeout, versions)


def system_store(env: Mapping[str, str]) -> TrustUsed:
    """The store truststore's Linux backend loads: OpenSSL's default paths when they exist
    (SSL_CERT_FILE / SSL_CERT_DIR included), else the first CA file of its own list."""
    defaults = ssl.get_default_verify_paths()
    if defaults.cafile or (defaults.capath and _has_hashed_certs(defaults.capath)):
        found = openssl_default_trust(env)
        return TrustUsed("native", f"truststore: {found.origin}", found.path)
    try:
        from truststore._openssl import _CA_FILE_CANDIDATES as candidates
    except ImportError:
        candidates = list(_FALLBACK_CANDIDATES)
    for cafile in candidates:
        if os.path.isfile(cafile):
            return TrustUsed("native", "truststore: system CA file", cafile)
    return TrustUsed("native", "truststore: no system CA store found", None)


def bundle_trust(trust: Trust, env: Mapping[str, str]) -> TrustUsed:
    """An explicit bundle with truststore: that file plus the system store."""
    assert trust.path is not None
    system = system_store(env).path or "none found"
    return TrustUsed("bundle", f"explicit bundle + OS trust store ({system})", trust.path)


def _has_hashed_certs(capath: str) -> bool:
    import re

    if not os.path.isdir(capath):
        return False
    return any(re.match(r"^[0-9a-fA-F]{8}\.[0-9]$", n) for n in os.listdir(capath))


def _context(cafile: str | None) -> Any:
    import truststore

    ctx = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if cafile:
        ctx.load_verify_locations(cafile=cafile)
    return ctx
