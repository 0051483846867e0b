"""The client registry: built-in adapters by name, plus third-party adapters that
declare themselves in the ``tlsmatrix.clients`` entry-point group.

Adapters are imported only when asked for, so listing names costs no client library.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Iterable

from tlsmatrix.clients.base import (
    CERTIFICATE_REASONS,
    TRUST_ENV_VARS,
    Client,
    ClientInfo,
    Observation,
    Reason,
    Target,
    Trust,
    TrustUsed,
    Verdict,
    verdict_for,
)

ENTRY_POINT_GROUP = "tlsmatrix.clients"

# name -> "module:Class". Order is the order of columns in reports.
BUILTIN: dict[str, str] = {
    "curl": "tlsmatrix.clients.curl:CurlClient",
    "openssl": "tlsmatrix.clients.openssl_cli:OpenSSLClient",
    "requests": "tlsmatrix.clients.requests_client:RequestsClient",
    "httpx": "tlsmatrix.clients.httpx_client:HttpxClient",
    "urllib3": "tlsmatrix.clients.urllib3_client:Urllib3Client",
    "stdlib": "tlsmatrix.clients.stdlib:StdlibClient",
    "pyopenssl": "tlsmatrix.clients.pyopenssl_client:PyOpenSSLClient",
    "truststore": "tlsmatrix.clients.truststore_client:TruststoreClient",
    "aiohttp": "tlsmatrix.clients.aiohttp_client:AiohttpClient",
    "pycurl": "tlsmatrix.clients.pycurl_client:PycurlClient",
    "node": "tlsmatrix.clients.node:NodeClient",
    "java": "tlsmatrix.clients.java:JavaClient",
    "java-aia": "tlsmatrix.clients.java:JavaAIAClient",
    "gnutls": "tlsmatrix.clients.gnutls:GnuTLSClient",
    "wget": "tlsmatrix.clients.wget:WgetClient",
    "chromium": "tlsmatrix.clients.chromium:ChromiumClient",
}


class UnknownClient(KeyError):
    """Raised for a client name that no adapter registers."""


@functools.cache
def _entry_points() -> dict[str, str]:
    """Installed plugins, read once per process: scanning every distribution's metadata
    costs ~80 ms and a run asks several times."""
    from importlib.metadata import entry_points

    found: dict[str, str] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep.value)
    return found


class Registry(dict[str, str]):
    """name -> "module:Class". ``NAME@INTERPRETER`` is also "in" it when NAME is a Python
    adapter that runs under another interpreter (tlsmatrix.clients.interpreter)."""

    def __contains__(self, name: object) -> bool:
        if super().__contains__(name):
            return True
        if not isinstance(name, str) or "@" not in name:
            return False
        from tlsmatrix.clients.interpreter import ADAPTERS

        return name.partition("@")[0] in ADAPTERS


def registry() -> Registry:
    """Every known adapter: built-ins first, then plugins (a plugin cannot shadow one)."""
    names = Registry(BUILTIN)
    for name, ref in _entry_points().items():
        names.setdefault(name, ref)
    return names


def names() -> list[str]:
    return list(registry())


def is_known(name: str) -> bool:
    """Whether an adapter answers to ``name``. A built-in name needs no scan of the
    installed plugins (~40 ms), since a plugin cannot shadow it."""
    return name in BUILTIN or name in registry()


def load(name: str) -> Client:
    """Instantiate the adapter called ``name``. Raises UnknownClient for an unknown name.

    ``NAME@INTERPRETER`` loads NAME under that Python, provisioning its venv now (once,
    cached), so that no probe ever waits for an install."""
    if "@" in name and name not in BUILTIN:
        from tlsmatrix.clients import interpreter

        if name not in registry():
            raise UnknownClient(name)
        return interpreter.load(name)
    ref = BUILTIN.get(name) or registry().get(name)
    if ref is None:
        raise UnknownClient(name)
    module_name, _, attr = ref.partition(":")
    cls = getattr(importlib.import_module(module_name), attr)
    return cls()


def load_many(selected: Iterable[str] | None = None) -> list[Client]:
    chosen = list(selected) if selected else names()
    return [load(n) for n in chosen]


__all__ = [
    "BUILTIN",
    "CERTIFICATE_REASONS",
    "Client",
    "ClientInfo",
    "ENTRY_POINT_GROUP",
    "Observation",
    "Reason",
    "TRUST_ENV_VARS",
    "Target",
    "Trust",
    "TrustUsed",
    "UnknownClient",
    "Verdict",
    "is_known",
    "load",
    "load_many",
    "names",
    "registry",
    "verdict_for",
]
