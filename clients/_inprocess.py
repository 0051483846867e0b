"""The skeleton of the in-process Python adapters (requests, httpx, urllib3, stdlib,
pyOpenSSL, truststore, aiohttp, pycurl).

An adapter says what its library is (``version``), what it trusts natively
(``native_trust``) and how it fetches one URL (``fetch``); the base class does the rest
the same way for all: the import guard (a missing library makes the client unavailable),
the ClientInfo, the trust actually used, the fetch and its Outcome, the Observation."""

from __future__ import annotations

import os
import ssl
import time
from collections.abc import Callable
from dataclasses import replace
from typing import ClassVar

from tlsmatrix.clients._common import (
    Outcome,
    exception_outcome,
    observe_outcome,
    tls_version_name,
)
from tlsmatrix.clients._trust import (
    OPENSSL_ENV_VARS,
    explicit_trust,
    openssl_default_trust,
    policy_default_context,
)
from tlsmatrix.clients.base import ClientInfo, Observation, Reason, Target, Trust, TrustUsed


class InProcessAdapter:
    """A TLS client that is a Python library, probed in this process."""

    name: ClassVar[str]
    # Variables that change its trust, in precedence order (ClientInfo.env_vars): by
    # default those of OpenSSL's default verify paths, which Python's ssl loads.
    env_vars: ClassVar[tuple[str, ...]] = OPENSSL_ENV_VARS
    notes: ClassVar[tuple[str, ...]] = ()

    # --- what a subclass says ---------------------------------------------------------

    def version(self) -> str:
        """The library's version text; importing the library here (ImportError: the
        client is unavailable)."""
        raise NotImplementedError

    def native_trust(self) -> TrustUsed:
        """What the library trusts by default, given this process's environment: by
        default OpenSSL's default verify paths (``ssl.create_default_context()``)."""
        return openssl_default_trust(os.environ)

    def fetch(
        self, target: Target, trust: Trust, timeout: float, versions: list[str | None]
    ) -> int:
        """GET target through the library and return the HTTP status; append the TLS
        version of every completed handshake to ``versions``. May raise anything."""
        raise NotImplementedError

    def policy_context(self) -> ssl.SSLContext:
        """A context made the way fetch() makes its own: its verify flags are the
        library's measured path-building policy (partial chain, X509 strict). It
        needs no trust: ssl.create_default_context() without reading the default store."""
        return policy_default_context()

    def connected(self, exc: Exception) -> bool:
        """True when ``exc`` says the connection (its handshake included) was established,
        for a library that cannot report handshakes through ``versions``."""
        return False

    # --- the shared skeleton ----------------------------------------------------------

    def describe(self) -> ClientInfo:
        """The ClientInfo when the library imports; built on Python's ssl by default."""
        info = python_ssl_info(
            self.name, self.version(), self.native_trust(), self.env_vars, self.notes
        )
        return replace(info, **verify_policy(self.policy_context()))

    def info(self) -> ClientInfo:
        try:
            return self.describe()
        except ImportError as exc:
            return ClientInfo(self.name, False, unavailable_reason=f"cannot import: {exc}")

    def trust_used(self, trust: Trust) -> TrustUsed:
        return self.native_trust() if trust.is_native else explicit_trust(trust)

    def outcome(self, target: Target, trust: Trust, timeout: float) -> Outcome:
        """What one probe found: by default one fetch(), read by fetch_outcome()."""
        versions: list[str | None] = []  # one per completed handshake
        return fetch_outcome(
            lambda: self.fetch(target, trust, timeout, versions), versions, self.connected
        )

    def probe(self, target: Target, trust: Trust, timeout: float) -> Observation:
        started = time.monotonic()
        used = self.trust_used(trust)
        outcome = self.outcome(target, trust, timeout)
        return observe_outcome(target, self.name, outcome, started=started, trust=used)


def fetch_outcome(
    fetch: Callable[[], int],
    versions: list[str | None],
    after_connect: Callable[[Exception], bool] | None = None,
) -> Outcome:
    """Run an in-process client's request (``fetch`` returns the HTTP status; each
    completed handshake appends its TLS version to ``versions``) and map what happened.
    A failure once a handshake completed is read with late_outcome(); a library that
    cannot report handshakes says so through ``after_connect(exc)``."""
    try:
        status = fetch()
    except Exception as exc:  # every failure becomes an outcome
        late = bool(versions) or (after_connect is not None and after_connect(exc))
        outcome = exception_outcome(exc, late=late)
    else:
        outcome = Outcome(Reason.OK, f"HTTP {status}")
    version = tls_version_name(versions[-1]) if versions else None
    return replace(outcome, tls_version=version)


def verify_policy(ctx: ssl.SSLContext) -> dict[str, bool]:
    """ClientInfo's path-building fields, read from a context's X509 verify flags."""
    flags = ctx.verify_flags
    return {
        "partial_chain": bool(flags & ssl.VERIFY_X509_PARTIAL_CHAIN),
        "strict_x509": bool(flags & ssl.VERIFY_X509_STRICT),
    }


def python_ssl_info(
    name: str,
    version: str,
    native_trust: TrustUsed,
    env_vars: tuple[str, ...],
    notes: tuple[str, ...] = (),
) -> ClientInfo:
    """The ClientInfo of an available in-process client built on Python's ssl module."""
    return ClientInfo(
        name=name,
        available=True,
        version=version,
        tls_library="OpenSSL",
        tls_library_version=ssl.OPENSSL_VERSION,
        native_trust=native_trust,
        env_vars=env_vars,
        fetches_aia=False,
        notes=notes,
    )


__all__ = ["InProcessAdapter", "fetch_outcome", "python_ssl_info", "verify_policy"]
