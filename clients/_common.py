"""What every adapter shares to say what happened: the Outcome of a probe and the
Observation made from it. Every adapter reads its client's structured signal with the
tables in ``clients/signals`` and turns the Signal into an Outcome here
(outcome_for_signal / late_outcome); no adapter matches words in a message."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, replace

from tlsmatrix.clients.base import Observation, Reason, Target, TrustUsed, verdict_for
from tlsmatrix.clients.signals import openssl as openssl_table
from tlsmatrix.clients.signals import python_ssl
from tlsmatrix.clients.signals._signal import Signal

# OpenSSL's "no issuer found" codes (2/20/21 ...): see Observation.issuer_unknown.
ISSUER_UNKNOWN_CODES = frozenset(
    entry.code for entry in openssl_table.CODES if entry.issuer_unknown
)


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


def outcome_for_signal(
    signal: Signal, detail: str = "", *, tls_version: str | None = None
) -> Outcome:
    """The Outcome of a client's signal (a table's answer), the one way every adapter turns
    one into a result: ``after_handshake`` is an accept (the certificate had passed), a
    ``date_ambiguous`` date is ``certificate_invalid`` (the harness reads the chain's dates),
    and ``verify_code`` is the client's own code or none."""
    # the token leads a failure's detail; an accept's detail is the client's own words
    shown = detail
    if signal.reason is not Reason.OK and detail and signal.token not in detail:
        shown = f"{signal.token}: {detail}"
    if signal.after_handshake:
        return Outcome(
            Reason.OK,
            f"certificate accepted; then {shown or signal.token}",
            tls_version=tls_version,
        )
    return Outcome(
        signal.reason,
        shown or signal.token,
        signal.verify_code,
        tls_version,
        issuer_unknown=signal.issuer_unknown,
        certificate_invalid=signal.certificate_invalid or signal.date_ambiguous,
    )


def is_alert(signal: Signal) -> bool:
    """True when the signal is a TLS alert: OpenSSL's alert reasons (``SSLV3_ALERT_*``,
    ``TLSV1_ALERT_*``, ``TLSV13_ALERT_*``, the constant's name, never a message)."""
    return "_ALERT_" in signal.token.upper()


def late_outcome(signal: Signal, detail: str = "", *, tls_version: str | None = None) -> Outcome:
    """A failure after the client completed the handshake, i.e. after it had verified and
    accepted the certificate. A TLS alert still means the server refused the handshake
    (TLS 1.3 client authentication fails after the client's Finished) and a timeout stays a
    timeout; anything else (a reset, an EOF, a bad HTTP answer) leaves the TLS verdict an
    accept, with what broke in the detail."""
    if signal.reason is Reason.TIMEOUT or is_alert(signal):
        return outcome_for_signal(signal, detail, tls_version=tls_version)
    return outcome_for_signal(
        replace(signal, after_handshake=True), detail, tls_version=tls_version
    )


def exception_outcome(exc: BaseException, *, late: bool = False) -> Outcome:
    """The Outcome of an exception a Python client raised, from its innermost structured
    error (python_ssl.signal_for_exception); the text is only the detail."""
    signal = python_ssl.signal_for_exception(exc)
    detail = exception_detail(exc)
    return late_outcome(signal, detail) if late else outcome_for_signal(signal, detail)


def exception_detail(exc: BaseException) -> str:
    """What an exception and the errors it wraps say, for a person to read: each distinct
    text once, innermost last."""
    texts: list[str] = []
    for error in python_ssl.innermost_errors(exc):
        text = _describe(error)
        if not any(text in seen or seen in text for seen in texts):
            texts.append(text)
    return "; ".join(texts[:3])


# Object reprs with a memory address (aiohttp prints its SSLContext): noise for a person,
# and a detail that differs between identical runs.
_ADDRESS_REPR = re.compile(r"<([\w.]+) object at 0x[0-9a-fA-F]+>")


def _describe(exc: BaseException) -> str:
    text = _ADDRESS_REPR.sub(lambda m: m.group(1).rsplit(".", 1)[-1], str(exc))
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def tls_version_name(version: str | None) -> str | None:
    """'TLSv1.3' -> 'TLS 1.3' so every client's version reads the same."""
    if not version:
        return None
    v = version.replace("TLSv", "TLS ").replace("_", ".").strip()
    return v


__all__ = [
    "ISSUER_UNKNOWN_CODES",
    "Outcome",
    "exception_detail",
    "exception_outcome",
    "is_alert",
    "late_outcome",
    "observe",
    "observe_outcome",
    "outcome_for_signal",
    "tls_version_name",
]
