"""Map the probe script's JSON line to a reason, from its structured fields only.

The probe (probe.py, under another Python) describes a failure as a list of exception
records, outermost first: class name and MRO names, ``verify_code``/``verify_message``
(ssl.SSLCertVerificationError, Python 3.7+), the SSLError's OpenSSL ``reason`` and
``library``, ``errno``, pyOpenSSL's (lib, func, reason) error tuples, plus the verify
callback's codes for pyOpenSSL. No message text is matched: messages may hold host names.

The OpenSSL verify code table is private here until a shared one exists
(clients/signals/openssl.py); the lead can switch it over.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tlsmatrix.clients._common import Outcome, tls_version_name
from tlsmatrix.clients.base import Reason

# OpenSSL X509_V_ERR_* verify codes -> reasons.
VERIFY_CODES: dict[int, Reason] = {
    2: Reason.INCOMPLETE_CHAIN,  # unable to get issuer certificate
    7: Reason.BAD_SIGNATURE,  # certificate signature failure
    9: Reason.NOT_YET_VALID,
    10: Reason.EXPIRED,
    13: Reason.NOT_YET_VALID,  # format error in notBefore
    14: Reason.EXPIRED,  # format error in notAfter
    18: Reason.SELF_SIGNED,  # self-signed leaf
    19: Reason.UNTRUSTED_ROOT,  # self-signed certificate in chain
    20: Reason.INCOMPLETE_CHAIN,  # unable to get local issuer certificate
    21: Reason.INCOMPLETE_CHAIN,  # unable to verify the first certificate
    23: Reason.REVOKED,
    # 24 is "invalid CA" in OpenSSL 1.1 but "no issuer public key" in 3.0: not mapped.
    25: Reason.PATH_LENGTH,  # path length constraint exceeded
    26: Reason.WRONG_USAGE,  # unsupported certificate purpose
    32: Reason.WRONG_USAGE,  # key usage does not include certificate signing
    34: Reason.CRITICAL_EXTENSION,  # unhandled critical extension
    47: Reason.NAME_CONSTRAINTS,  # permitted subtree violation
    48: Reason.NAME_CONSTRAINTS,  # excluded subtree violation
    62: Reason.HOSTNAME_MISMATCH,
    64: Reason.HOSTNAME_MISMATCH,  # IP address mismatch
    66: Reason.WEAK_KEY,  # EE key too small
    67: Reason.WEAK_KEY,  # CA key too small
    68: Reason.WEAK_SIGNATURE,  # CA md too weak
    79: Reason.NOT_A_CA,  # invalid CA certificate
    # OpenSSL 3's X509_V_FLAG_X509_STRICT checks (on in Python 3.13's default context):
    # the certificate breaks an RFC 5280 profile rule that this client enforces.
    **dict.fromkeys(range(80, 95), Reason.INVALID_CERTIFICATE),
}

# Codes that say only "the issuer was not found" (Observation.issuer_unknown).
ISSUER_UNKNOWN_CODES = frozenset({2, 20, 21})

# OpenSSL error reasons (ssl.SSLError.reason, or pyOpenSSL's tuple reason upper-cased with
# underscores: both are OpenSSL's reason code names).
OPENSSL_REASONS: dict[str, Reason] = {
    "WRONG_VERSION_NUMBER": Reason.NOT_TLS,
    "PACKET_LENGTH_TOO_LONG": Reason.NOT_TLS,
    "RECORD_LAYER_FAILURE": Reason.NOT_TLS,
    "HTTP_REQUEST": Reason.NOT_TLS,
    "UNKNOWN_PROTOCOL": Reason.NOT_TLS,
    "UNSUPPORTED_PROTOCOL": Reason.PROTOCOL_VERSION,
    "TLSV1_ALERT_PROTOCOL_VERSION": Reason.PROTOCOL_VERSION,
    "NO_PROTOCOLS_AVAILABLE": Reason.PROTOCOL_VERSION,
    "CA_MD_TOO_WEAK": Reason.WEAK_SIGNATURE,
    "EE_KEY_TOO_SMALL": Reason.WEAK_KEY,
    "CA_KEY_TOO_SMALL": Reason.WEAK_KEY,
}

# Exception classes (by name, anywhere in the MRO) that carry one meaning.
HOSTNAME_CLASSES = frozenset({"CertificateError", "VerificationError"})  # ssl (<3.7), urllib3
# 1.x's match_hostname, service-identity (its CertificateError: a certificate without SAN)
TIMEOUT_CLASSES = frozenset({"timeout", "TimeoutError", "Deadline", "TimeoutException"})
DNS_CLASSES = frozenset({"gaierror"})
ERRNO_REASONS: dict[str, Reason] = {
    "ECONNREFUSED": Reason.CONNECTION_REFUSED,
    "ETIMEDOUT": Reason.TIMEOUT,
    "ECONNRESET": Reason.HANDSHAKE_FAILURE,
    "EPIPE": Reason.HANDSHAKE_FAILURE,
    "ECONNABORTED": Reason.HANDSHAKE_FAILURE,
}
SSL_ERROR_CLASSES = frozenset({"SSLError", "Error", "SysCallError"})


def interpret(payload: Mapping[str, Any]) -> Outcome:
    """The Outcome of one probe line (pure; unit-tested)."""
    tls_version = tls_version_name(_str(payload.get("tls_version")))
    if payload.get("ok"):
        status = payload.get("status")
        return Outcome(
            Reason.OK,
            f"HTTP {status}" if status else "handshake completed",
            tls_version=tls_version,
        )
    records = [r for r in payload.get("errors") or () if isinstance(r, Mapping)]
    outcome = classify(records, payload.get("verify_errors") or ())
    if payload.get("stage") == "after_handshake":
        outcome = _after_handshake(outcome, records)
    return Outcome(
        outcome.reason,
        outcome.detail,
        outcome.verify_code,
        tls_version,
        outcome.issuer_unknown,
        outcome.certificate_invalid,
    )


def classify(records: Sequence[Mapping[str, Any]], verify_errors: Sequence[Any]) -> Outcome:
    """The most specific signal wins: a verify code, the verify callback's first code, a
    host name check's exception class, OS-level errors, then OpenSSL's error reason."""
    detail = "; ".join(_describe(r) for r in records[:3])
    for r in records:
        code = r.get("verify_code")
        if isinstance(code, int) and code != 0:
            message = _str(r.get("verify_message")) or detail
            return Outcome(reason_for_code(code), message, code)
    for item in verify_errors:
        if isinstance(item, Sequence) and item and isinstance(item[0], int):
            code = item[0]
            depth = item[1] if len(item) > 1 else "?"
            text = item[2] if len(item) > 2 and item[2] else f"verify error {code}"
            return Outcome(reason_for_code(code), f"{text} (depth {depth})", code)
    for r in records:
        if _classes(r) & HOSTNAME_CLASSES:
            return Outcome(Reason.HOSTNAME_MISMATCH, _describe(r), 62)
    for r in records:
        classes = _classes(r)
        if classes & DNS_CLASSES:
            return Outcome(Reason.DNS_FAILURE, detail)
        errno_reason = ERRNO_REASONS.get(_str(r.get("errno_name")) or "")
        if errno_reason is Reason.CONNECTION_REFUSED or "ConnectionRefusedError" in classes:
            return Outcome(Reason.CONNECTION_REFUSED, detail)
        if classes & TIMEOUT_CLASSES or errno_reason is Reason.TIMEOUT:
            return Outcome(Reason.TIMEOUT, detail)
    for r in records:
        for name in _openssl_reasons(r):
            if name == "CERTIFICATE_VERIFY_FAILED":
                # Python 3.6's ssl (and pyOpenSSL without a callback code) gives no code:
                # rejected, the cause is for the chain analysis to name.
                return Outcome(Reason.INVALID_CERTIFICATE, _describe(r), certificate_invalid=True)
            if name in OPENSSL_REASONS:
                return Outcome(OPENSSL_REASONS[name], _describe(r))
            if "ALERT" in name:
                return Outcome(Reason.HANDSHAKE_FAILURE, _describe(r))
    for r in records:
        classes = _classes(r)
        errno_reason = ERRNO_REASONS.get(_str(r.get("errno_name")) or "")
        if errno_reason is not None:
            return Outcome(errno_reason, detail)
        if classes & {
            "SSLEOFError",
            "SSLZeroReturnError",
            "ConnectionResetError",
            "BrokenPipeError",
            "ConnectionAbortedError",
            "RemoteProtocolError",
        }:
            return Outcome(Reason.HANDSHAKE_FAILURE, detail)
    for r in records:
        if _classes(r) & SSL_ERROR_CLASSES and _str(r.get("module")) in (
            "ssl",
            "OpenSSL.SSL",
            "_ssl",
        ):
            return Outcome(Reason.HANDSHAKE_FAILURE, detail)
    return Outcome(Reason.CLIENT_ERROR, detail or "the probe reported no error")


def reason_for_code(code: int) -> Reason:
    return VERIFY_CODES.get(code, Reason.HANDSHAKE_FAILURE)


def _after_handshake(outcome: Outcome, records: Sequence[Mapping[str, Any]]) -> Outcome:
    """A failure once the certificate was accepted: an alert still refuses the handshake
    (TLS 1.3 client authentication), a timeout stays one, anything else is an accept."""
    if outcome.reason is Reason.TIMEOUT:
        return outcome
    if any("ALERT" in name for r in records for name in _openssl_reasons(r)):
        return Outcome(Reason.HANDSHAKE_FAILURE, outcome.detail)
    return Outcome(Reason.OK, f"certificate accepted; then {outcome.detail}")


def _classes(record: Mapping[str, Any]) -> set[str]:
    names = {str(n) for n in record.get("mro") or () if isinstance(n, str)}
    if isinstance(record.get("class"), str):
        names.add(record["class"])
    return names


def _openssl_reasons(record: Mapping[str, Any]) -> list[str]:
    """OpenSSL reason code names from ssl.SSLError.reason and pyOpenSSL's tuples."""
    found = []
    reason = record.get("reason")
    if isinstance(reason, str):
        found.append(reason.upper())
    for item in record.get("openssl_errors") or ():
        if isinstance(item, Sequence) and len(item) >= 3 and isinstance(item[2], str):
            found.append(item[2].upper().replace(" ", "_"))
    return found


def _describe(record: Mapping[str, Any]) -> str:
    name = _str(record.get("class")) or "Exception"
    message = _str(record.get("message"))
    return f"{name}: {message}" if message else name


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None
