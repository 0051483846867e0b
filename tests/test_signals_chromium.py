"""Chromium net errors: every certificate error name the installed Chromium knows is in the
table (read from the binary's own string table), and the vague ones stay vague."""

from __future__ import annotations

import mmap
import os
import re
import shutil

import pytest
from tlsmatrix.clients.base import Reason
from tlsmatrix.clients.signals import chromium

from tests.conftest import missing

CERT_NAME = re.compile(rb"CERT(?:IFICATE)?_[A-Z_]{4,60}")
# Certificate-range names as net_error_list.h spells them: everything else in the binary
# that starts with CERT_ is an unrelated identifier.
CERT_FAMILY = (
    "CERT_COMMON_",
    "CERT_DATE_",
    "CERT_AUTHORITY_INVALID",
    "CERT_CONTAINS_",
    "CERT_NO_REVOC",
    "CERT_UNABLE_TO_CHECK",
    "CERT_REVOKED",
    "CERT_INVALID",
    "CERT_WEAK_",
    "CERT_NON_UNIQUE",
    "CERT_NAME_CONSTRAINT",
    "CERT_VALIDITY_TOO",
    "CERTIFICATE_TRANSPARENCY_REQUIRED",
    "CERT_SYMANTEC",
    "CERT_KNOWN_INTERCEPTION",
    "CERT_SELF_SIGNED_LOCAL",
)


def _binary() -> bytes:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        missing("chromium not installed")
    real = os.path.realpath(path)
    candidates = [real, "/usr/lib/chromium/chromium"]
    for candidate in candidates:
        if os.path.exists(candidate) and os.path.getsize(candidate) > 10_000_000:
            with (
                open(candidate, "rb") as handle,
                mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped,
            ):
                return bytes(mapped)
    missing("chromium is a wrapper whose binary was not found")


def test_every_certificate_error_of_the_installed_chromium_is_mapped() -> None:
    data = _binary()
    found = {m.decode() for m in CERT_NAME.findall(data)}
    family = {n for n in found if n.startswith(CERT_FAMILY) and n != "CERT_END"}
    assert "CERT_DATE_INVALID" in family and "CERT_AUTHORITY_INVALID" in family
    for name in family:
        assert name in chromium.CERT_ERRORS, name
    for name in chromium.CERT_ERRORS:
        if name not in chromium.REMOVED:
            assert name.encode() in data, name
    for name in (
        "SSL_PROTOCOL_ERROR",
        "SSL_VERSION_OR_CIPHER_MISMATCH",
        "NAME_NOT_RESOLVED",
        "CONNECTION_REFUSED",
        "SSL_KEY_USAGE_INCOMPATIBLE",
        "EMPTY_RESPONSE",
    ):
        assert name.encode() in data and name in chromium.OTHER_ERRORS


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        ("net::ERR_CERT_COMMON_NAME_INVALID", Reason.HOSTNAME_MISMATCH),
        ("net::ERR_CERT_AUTHORITY_INVALID", Reason.UNKNOWN_ISSUER),
        ("net::ERR_CERT_REVOKED", Reason.REVOKED),
        ("net::ERR_CERT_WEAK_SIGNATURE_ALGORITHM", Reason.WEAK_SIGNATURE),
        ("net::ERR_CERT_WEAK_KEY", Reason.WEAK_KEY),
        ("net::ERR_CERT_NAME_CONSTRAINT_VIOLATION", Reason.NAME_CONSTRAINTS),
        ("net::ERR_CERT_CONTAINS_ERRORS", Reason.MALFORMED_CERTIFICATE),
        ("ERR_CONNECTION_REFUSED", Reason.CONNECTION_REFUSED),
        ("net::ERR_NAME_NOT_RESOLVED", Reason.DNS_FAILURE),
        ("net::ERR_TIMED_OUT", Reason.TIMEOUT),
        ("net::ERR_SSL_PROTOCOL_ERROR", Reason.HANDSHAKE_FAILURE),
        ("net::ERR_SSL_VERSION_OR_CIPHER_MISMATCH", Reason.HANDSHAKE_FAILURE),
        ("net::ERR_CERT_SOMETHING_NEW", Reason.INVALID_CERTIFICATE),
        ("net::ERR_EMPTY_RESPONSE", Reason.OK),
    ],
)
def test_chromium_decisions(error: str, reason: Reason) -> None:
    assert chromium.signal_for_net_error(error).reason is reason


def test_vague_errors_carry_their_flags_and_need_evidence() -> None:
    date = chromium.signal_for_net_error("net::ERR_CERT_DATE_INVALID")
    assert date.date_ambiguous and date.reason is not Reason.EXPIRED
    assert chromium.signal_for_net_error("net::ERR_CERT_INVALID").certificate_invalid
    assert chromium.signal_for_net_error("net::ERR_CERT_AUTHORITY_INVALID").issuer_unknown
    assert chromium.signal_for_net_error("net::ERR_CERT_SOMETHING_NEW").certificate_invalid
    plain = chromium.signal_for_net_error("net::ERR_SSL_PROTOCOL_ERROR", peer_speaks_tls=False)
    assert plain.reason is Reason.NOT_TLS
    old = chromium.signal_for_net_error(
        "net::ERR_SSL_VERSION_OR_CIPHER_MISMATCH", server_version_too_old=True
    )
    assert old.reason is Reason.PROTOCOL_VERSION
    assert chromium.signal_for_net_error("net::ERR_EMPTY_RESPONSE").after_handshake
