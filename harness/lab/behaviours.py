"""Measured client behaviours the lab's predictions need and ClientInfo does not carry yet.

Each :class:`Behaviour` is keyed by what the client *does* (``cn_fallback``...), names the
ClientInfo field adapters should expose for it, and records which clients were measured
with it, on which lab scenario. :func:`behaviour_props` turns a ClientInfo into the
values: the ClientInfo field when it exists and is set, else the measured table, else the
behaviour's default (OpenSSL 3 through Python's ``ssl``). A ``NAME@INTERPRETER`` client
takes NAME's row: the same library, though an interpreter old enough to need an older
major version of it (urllib3 1.x under Python 3.6) may differ, which the lab then marks.

The table is measurement, not a name-keyed prediction: each row is what a real handshake
in the named scenario showed, and ``tests/test_lab_matrix.py`` re-measures it every run.

Measured on Debian 12 (OpenSSL 3.0, curl 7.88, Python 3.11, urllib3 2.8, pyOpenSSL 26
on OpenSSL 4.0, Node 20, OpenJDK 17, GnuTLS 3.7.9, wget 1.21, Chromium 156).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tlsmatrix.clients.base import ClientInfo

__all__ = ["BEHAVIOURS", "Behaviour", "behaviour_props"]


@dataclass(frozen=True)
class Behaviour:
    """One measured behaviour: ``field`` is both the ClientProps field and the ClientInfo
    field adapters should expose; ``measured_in`` the lab scenario that measures it;
    ``clients`` maps a client name to what was measured; ``default`` is for the rest."""

    field: str
    meaning: str
    measured_in: str
    default: bool
    clients: Mapping[str, bool]

    def value(self, info: ClientInfo) -> bool:
        # An adapter that reports the behaviour itself wins over the table. partial_chain
        # and strict_x509 exist in ClientInfo but default to False where not measured, so
        # a True there is a measurement and a False may be "not said".
        reported = getattr(info, self.field, None)
        if reported is True:
            return True
        fallback = bool(reported) if reported is not None else self.default
        # NAME@INTERPRETER runs the same library as NAME (pinned to a version that supports
        # that Python): its measured row applies unless the adapter reports otherwise.
        base = info.name.partition("@")[0]
        return self.clients.get(info.name, self.clients.get(base, fallback))


def _table(true: str, false: str) -> dict[str, bool]:
    return {**{n: True for n in true.split()}, **{n: False for n in false.split()}}


BEHAVIOURS: tuple[Behaviour, ...] = (
    Behaviour(
        "partial_chain",
        "a trusted intermediate is an anchor, its root need not be in the store",
        "partial_chain_anchor",
        False,
        _table(
            "curl pycurl java java-aia gnutls wget chromium",
            "openssl requests httpx urllib3 stdlib pyopenssl truststore aiohttp node",
        ),
    ),
    Behaviour(
        "strict_x509",
        "X509_V_FLAG_X509_STRICT-like checks: a CA's basicConstraints must be critical",
        "strict_x509",
        False,
        {},
    ),
    Behaviour(
        "cn_fallback",
        "without a subjectAltName, the subject CN is matched against the host name",
        "cn_only",
        True,
        _table(
            "curl pycurl openssl httpx stdlib truststore aiohttp node java java-aia gnutls wget",
            "requests urllib3 pyopenssl chromium",
        ),
    ),
    Behaviour(
        "partial_wildcard",
        "a wildcard inside a label (f*.lab.invalid) matches (foo.lab.invalid)",
        "partial_wildcard",
        False,
        _table(
            "openssl node java java-aia",
            "curl requests httpx urllib3 stdlib pyopenssl truststore aiohttp pycurl gnutls "
            "wget chromium",
        ),
    ),
    Behaviour(
        "anchor_constraints",
        "name constraints in a trust anchor's own certificate are enforced",
        "name_constrained_root",
        True,
        _table(
            "curl pycurl openssl requests httpx urllib3 stdlib pyopenssl truststore aiohttp node "
            "gnutls wget chromium",
            "java java-aia",  # a keystore's TrustAnchor is built without its constraints
        ),
    ),
    Behaviour(
        "needs_digital_signature",
        "an ECDSA server leaf whose keyUsage lacks digitalSignature is refused",
        "no_digital_signature",
        False,  # OpenSSL checks the bit for TLS 1.2 ECDSA suites only, and the lab is TLS 1.3
        _table(
            "java java-aia gnutls chromium",
            "curl pycurl openssl requests httpx urllib3 stdlib pyopenssl truststore aiohttp "
            "node wget",
        ),
    ),
)


def behaviour_props(info: ClientInfo) -> dict[str, bool]:
    """ClientProps keyword arguments for every behaviour, for the client ``info``."""
    return {b.field: b.value(info) for b in BEHAVIOURS}
