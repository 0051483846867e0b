"""What every adapter shares to say what happened: the Outcome of a probe and the
Observation made from it, and the shared signal mappers (OpenSSL verify codes, Python
exceptions and OpenSSL error texts). Each adapter's own mapper lives in its module."""

from __future__ import annotations

import socket
import ssl
import time
from dataclasses import dataclass

from tlsmatrix.clients.base import Observation, Reason, Target, TrustUsed, verdict_for

# OpenSSL X509_V_ERR_* codes -> our reasons. Codes not listed are certificate problems we
# have no finer name for; they still reject, as handshake failures with the code kept.
OPENSSL_CODES: dict[int, Reason] = {
    2: Reason.INCOMPLETE_CHAIN,  # unable to get issuer certificate
    9: Reason.NOT_YET_VALID,
    10: Reason.EXPIRED,
    13: Reason.NOT_YET_VALID,  # format error in notBefore
    14: Reason.EXPIRED,  # format error in notAfter
    18: Reason.SELF_SIGNED,  # self-signed leaf
    19: Reason.UNTRUSTED_ROOT,  # self-signed certificate in chain
    20: Reason.INCOMPLETE_CHAIN,  # unable to get local issuer certificate
    21: Reason.INCOMPLETE_CHAIN,  # unable to verify the first certificate
    23: Reason.REVOKED,
    62: Reason.HOSTNAME_MISMATCH,
    64: Reason.HOSTNAME_MISMATCH,  # IP address mismatch
    66: Reason.WEAK_KEY,  # EE key too small
    67: Reason.WEAK_KEY,  # CA key too small
    68: Reason.WEAK_SIGNATURE,  # CA md too weak
}


# Codes that say only "the issuer was not found": see Observation.issuer_unknown.
ISSUER_UNKNOWN_CODES = frozenset({2, 20, 21})


def reason_for_openssl_code(code: int | None) -> Reason:
    if code is None:
        return Reason.HANDSHAKE_FAILURE
    return OPENSSL_CODES.get(code, Reason.HANDSHAKE_FAILURE)


def observe(
    target: Target,
    client: str,
    reason: Reason,
    *,
    detail: str = "",
    verify_code: int | None = None,
    tls_version: str | None = None,
    started: float,
    trust: TrustUsed | None,
    issuer_unknown: bool | None = None,
    certificate_invalid: bool = False,
) -> Observation:
    """Build an Observation whose verdict always follows from its reason.

    ``issuer_unknown`` defaults to True for OpenSSL's "issuer not found" codes."""
    if issuer_unknown is None:
        issuer_unknown = verify_code in ISSUER_UNKNOWN_CODES
    return Observation(
        target=target.name,
        client=client,
        verdict=verdict_for(reason),
        reason=reason,
        detail=" ".join(detail.split())[:2000],
        verify_code=verify_code,
        tls_version=tls_version,
        elapsed_ms=round((time.monotonic() - started) * 1000, 1),
        trust=trust,
        issuer_unknown=issuer_unknown,
        certificate_invalid=certificate_invalid,
    )


# --- exceptions (Python clients) ------------------------------------------------------

# Substrings of OpenSSL/Python error texts, most specific first.
_TEXT_REASONS: tuple[tuple[str, Reason], ...] = (
    ("wrong_version_number", Reason.NOT_TLS),
    ("wrong version number", Reason.NOT_TLS),
    ("packet length too long", Reason.NOT_TLS),
    ("record layer failure", Reason.NOT_TLS),
    ("http request", Reason.NOT_TLS),
    ("unsupported protocol", Reason.PROTOCOL_VERSION),
    ("protocol version", Reason.PROTOCOL_VERSION),
    ("protocol_version", Reason.PROTOCOL_VERSION),
    ("no protocols available", Reason.PROTOCOL_VERSION),
    ("md too weak", Reason.WEAK_SIGNATURE),
    ("digest algorithm too weak", Reason.WEAK_SIGNATURE),
    ("key too small", Reason.WEAK_KEY),
    ("hostname mismatch", Reason.HOSTNAME_MISMATCH),
    ("doesn't match", Reason.HOSTNAME_MISMATCH),
    ("certificate has expired", Reason.EXPIRED),
    ("not yet valid", Reason.NOT_YET_VALID),
    ("timed out", Reason.TIMEOUT),
    ("timeout", Reason.TIMEOUT),
    ("connection refused", Reason.CONNECTION_REFUSED),
    ("name or service not known", Reason.DNS_FAILURE),
    ("nodename nor servname", Reason.DNS_FAILURE),
    ("temporary failure in name resolution", Reason.DNS_FAILURE),
    ("getaddrinfo failed", Reason.DNS_FAILURE),
    ("excessive message size", Reason.HANDSHAKE_FAILURE),  # e.g. a 1 MB certificate
    ("certificate chain too long", Reason.HANDSHAKE_FAILURE),
    ("unexpected eof", Reason.HANDSHAKE_FAILURE),
    ("eof occurred", Reason.HANDSHAKE_FAILURE),
    ("connection reset", Reason.HANDSHAKE_FAILURE),
    ("econnreset", Reason.HANDSHAKE_FAILURE),  # pyOpenSSL's SysCallError(104, 'ECONNRESET')
    ("broken pipe", Reason.HANDSHAKE_FAILURE),
    ("epipe", Reason.HANDSHAKE_FAILURE),
    ("handshake failure", Reason.HANDSHAKE_FAILURE),
    ("sslv3 alert", Reason.HANDSHAKE_FAILURE),
    ("tlsv1 alert", Reason.HANDSHAKE_FAILURE),
    ("tlsv13 alert", Reason.HANDSHAKE_FAILURE),
    ("certificate required", Reason.HANDSHAKE_FAILURE),
)


def reason_for_text(text: str) -> Reason | None:
    """The reason a raw error text names, or None when it names none we know."""
    low = text.lower()
    for needle, reason in _TEXT_REASONS:
        if needle in low:
            return reason
    return None


def exception_chain(exc: BaseException) -> list[BaseException]:
    """The exception and everything it wraps (__cause__, __context__, .reason, args)."""
    seen: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo and len(seen) < 32:
        cur = todo.pop(0)
        if any(cur is s for s in seen):
            continue
        seen.append(cur)
        for nxt in (cur.__cause__, cur.__context__, getattr(cur, "reason", None)):
            if isinstance(nxt, BaseException):
                todo.append(nxt)
        todo.extend(a for a in getattr(cur, "args", ()) if isinstance(a, BaseException))
    return seen


@dataclass(frozen=True)
class Outcome:
    """What a client's signals say, before it becomes an Observation: every adapter's
    mapping (an exception, an exit code and its text, a JSON line) produces one."""

    reason: Reason
    detail: str = ""
    verify_code: int | None = None
    tls_version: str | None = None
    issuer_unknown: bool | None = None  # None: decided from verify_code (see observe)
    certificate_invalid: bool = False


def observe_outcome(
    target: Target, client: str, outcome: Outcome, *, started: float, trust: TrustUsed | None
) -> Observation:
    """The Observation for one probe's Outcome."""
    return observe(
        target,
        client,
        outcome.reason,
        detail=outcome.detail,
        verify_code=outcome.verify_code,
        tls_version=outcome.tls_version,
        started=started,
        trust=trust,
        issuer_unknown=outcome.issuer_unknown,
        certificate_invalid=outcome.certificate_invalid,
    )


def classify_exception(exc: BaseException) -> Outcome:
    """Map any exception a Python TLS client raised to a reason.

    The most specific signal wins: an OpenSSL verify code, then OS-level errors
    (refused, DNS, timeout), then known texts. Unknown -> client_error, text kept.
    """
    chain = exception_chain(exc)
    detail = "; ".join(_describe(e) for e in chain[:3])
    for e in chain:
        if isinstance(e, ssl.SSLCertVerificationError):
            code = getattr(e, "verify_code", None)
            message = getattr(e, "verify_message", "") or str(e)
            return Outcome(reason_for_openssl_code(code), message, code)
    for e in chain:
        if isinstance(e, ConnectionRefusedError):
            return Outcome(Reason.CONNECTION_REFUSED, detail)
        if isinstance(e, socket.gaierror):
            return Outcome(Reason.DNS_FAILURE, detail)
        if isinstance(e, (TimeoutError, socket.timeout)):
            return Outcome(Reason.TIMEOUT, detail)
    for e in chain:
        found = reason_for_text(_describe(e))
        if found is not None:
            return Outcome(found, detail)
    for e in chain:
        if isinstance(e, ssl.SSLError):
            return Outcome(Reason.HANDSHAKE_FAILURE, detail)
        if isinstance(e, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)):
            return Outcome(Reason.HANDSHAKE_FAILURE, detail)
    return Outcome(Reason.CLIENT_ERROR, detail)


def is_alert_text(text: str) -> bool:
    """True when an error text says the peer sent a TLS alert."""
    return "alert" in text.lower()


def after_handshake(classified: Outcome) -> Outcome:
    """Re-read a failure that happened after the client completed the handshake, i.e.
    after it had verified and accepted the certificate.

    A TLS alert still means the server refused the handshake (TLS 1.3 client
    authentication fails after the client's Finished), and a timeout stays a timeout;
    anything else (a reset, an EOF, a malformed HTTP answer) does not change the TLS
    verdict: accept, with what broke in the detail."""
    if classified.reason is Reason.TIMEOUT:
        return classified
    if is_alert_text(classified.detail):
        return Outcome(Reason.HANDSHAKE_FAILURE, classified.detail, classified.verify_code)
    return Outcome(Reason.OK, f"certificate accepted; then {classified.detail}")


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def tls_version_name(version: str | None) -> str | None:
    """'TLSv1.3' -> 'TLS 1.3' so every client's version reads the same."""
    if not version:
        return None
    v = version.replace("TLSv", "TLS ").replace("_", ".").strip()
    return v


__all__ = [
    "ISSUER_UNKNOWN_CODES",
    "OPENSSL_CODES",
    "Outcome",
    "after_handshake",
    "classify_exception",
    "exception_chain",
    "is_alert_text",
    "observe",
    "observe_outcome",
    "reason_for_openssl_code",
    "reason_for_text",
    "tls_version_name",
]
