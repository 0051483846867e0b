"""Verifying a presented chain against one trust store, with a real verifier
(cryptography's webpki-style path builder), for ``inspect`` and ``fix-chain``."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509 import verification


@dataclass(frozen=True)
class StoreVerdict:
    ok: bool
    detail: str
    path: tuple[str, ...] = ()  # subjects, leaf first, when ok


def verify_against(
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    roots: Sequence[x509.Certificate],
    hostname: str | None,
) -> StoreVerdict:
    """Build and check a path from ``leaf`` to one of ``roots`` using ``intermediates``;
    checks validity periods, key usage and the host name (when given)."""
    if not roots:
        return StoreVerdict(False, "the trust store holds no certificate")
    try:
        store = verification.Store(list(roots))
        builder = verification.PolicyBuilder().store(store)
        if hostname:
            subject = _subject(hostname)
            chain = builder.build_server_verifier(subject).verify(leaf, list(intermediates))
        else:
            chain = builder.build_client_verifier().verify(leaf, list(intermediates)).chain
    except verification.VerificationError as exc:
        return StoreVerdict(False, " ".join(str(exc).split()))
    except ValueError as exc:
        return StoreVerdict(False, f"cannot verify: {exc}")
    return StoreVerdict(True, "verified", tuple(c.subject.rfc4514_string() for c in chain))


def _subject(hostname: str) -> verification.DNSName | verification.IPAddress:
    name = hostname.rstrip(".")
    try:
        return verification.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return verification.DNSName(name.encode("idna").decode("ascii"))
