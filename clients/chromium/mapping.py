"""What Chromium said, as a reason: its ``net::ERR_*`` error (signals/chromium.py) and the
page's security state, read from the DevTools events into a PageState, become the shared
Outcome. Where Chromium is vague (ERR_CERT_AUTHORITY_INVALID, ERR_CERT_INVALID,
ERR_CERT_DATE_INVALID) the Outcome carries the flag and the harness decides from the chain;
ERR_SSL_PROTOCOL_ERROR is ``not_tls`` only when one bounded probe saw the peer not answer
a ClientHello with TLS (peer_speaks_tls), ERR_SSL_VERSION_OR_CIPHER_MISMATCH is
``protocol_version`` only when one saw the server refuse TLS 1.2 and 1.3
(server_version_too_old)."""

from __future__ import annotations

import base64
import contextlib
import socket
import ssl
import time
from dataclasses import dataclass, replace
from typing import Any

from tlsmatrix.clients._common import Outcome, outcome_for_signal, tls_version_name
from tlsmatrix.clients.base import Reason, Target
from tlsmatrix.clients.signals import chromium as chromium_signals
from tlsmatrix.clients.signals import python_ssl
from tlsmatrix.clients.signals._signal import Signal


@dataclass
class PageState:
    """What the DevTools events said about one navigation (filled while it runs)."""

    reason: Reason | None = None
    detail: str = ""
    status: int | None = None
    location: str | None = None
    tls_version: str | None = None
    valid_from: float | None = None
    valid_to: float | None = None
    certificate: str | None = None  # base64 DER of the leaf, from the security state
    weak_signature: bool = False  # the security state says SHA-1 / a weak signature
    redirect_aborted: bool = False
    error_text: str | None = None
    signal: Signal | None = None  # the error's signal, once read_error() has read it


def note_security_state(params: dict[str, Any], page: PageState) -> None:
    """Take the leaf's validity, protocol and signature from a
    ``Security.visibleSecurityStateChanged`` event."""
    state = params.get("visibleSecurityState", {}).get("certificateSecurityState")
    if not state:
        return
    page.tls_version = state.get("protocol") or page.tls_version
    page.valid_from = state.get("validFrom", page.valid_from)
    page.valid_to = state.get("validTo", page.valid_to)
    chain = state.get("certificate") or []
    if chain:
        page.certificate = chain[0]
    if state.get("certificateHasSha1Signature") or state.get("certificateHasWeakSignature"):
        page.weak_signature = True


def wants_security_state(error_text: str) -> bool:
    """True when the security state can make the error's signal more precise: a date
    error (the leaf's own dates) or ERR_CERT_INVALID (a SHA-1 signature)."""
    signal = chromium_signals.signal_for_net_error(error_text)
    return signal.date_ambiguous or signal.token == "ERR_CERT_INVALID"


def error_signal(page: PageState, *, peer_speaks_tls: bool | None = None) -> Signal:
    """The signal of the navigation's ``net::ERR_*``, made precise by what the browser's
    security state said (never by a default): a leaf that the browser reports outside its
    own validity names the date error, a SHA-1 flag names ERR_CERT_INVALID."""
    signal = chromium_signals.signal_for_net_error(
        page.error_text or "", peer_speaks_tls=peer_speaks_tls
    )
    if signal.date_ambiguous:
        leaf = leaf_date_reason(page)
        if leaf is not None:
            return Signal(leaf, f"{signal.token} (leaf dates from the security state)")
    if signal.token == "ERR_CERT_INVALID" and page.weak_signature:
        return Signal(Reason.WEAK_SIGNATURE, f"{signal.token} (certificateHasSha1Signature)")
    return signal


def read_error(page: PageState, *, peer_speaks_tls: bool | None = None) -> tuple[Reason, str]:
    """(reason, detail) for a navigation that ended in ``page.error_text``; the signal is
    kept in ``page.signal`` for page_outcome()."""
    page.signal = error_signal(page, peer_speaks_tls=peer_speaks_tls)
    outcome = outcome_for_signal(page.signal, page.error_text or "")
    return outcome.reason, outcome.detail


def leaf_date_reason(page: PageState) -> Reason | None:
    """Expired or not yet valid when the leaf the browser reported is out of its validity;
    None when its dates are unknown or fine (an intermediate's date may be the cause)."""
    now = time.time()
    valid_from, valid_to = page.valid_from, page.valid_to
    if (valid_from is None or valid_to is None) and page.certificate:
        with contextlib.suppress(Exception):
            from cryptography import x509

            cert = x509.load_der_x509_certificate(base64.b64decode(page.certificate))
            valid_from = cert.not_valid_before_utc.timestamp()
            valid_to = cert.not_valid_after_utc.timestamp()
    if valid_from is not None and now < valid_from:
        return Reason.NOT_YET_VALID
    if valid_to is not None and now > valid_to:
        return Reason.EXPIRED
    return None


def _handshake_reason(
    target: Target, timeout: float, minimum: ssl.TLSVersion | None = None
) -> Reason | None:
    """One bounded, unverified handshake with Python's ssl: Reason.OK when it completes,
    OpenSSL's signal when it fails, None when nothing could be learned (no connection, no
    answer in time). Only the record layer and version matter, not the certificate."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if minimum is not None:
        ctx.minimum_version = minimum
    try:
        with (
            socket.create_connection((target.address, target.port), timeout=timeout) as sock,
            ctx.wrap_socket(sock, server_hostname=None if target.is_ip else target.ascii_host),
        ):
            return Reason.OK
    except ssl.SSLError as exc:
        return python_ssl.signal_for_ssl_error(exc).reason
    except (OSError, ValueError):
        return None


def peer_speaks_tls(target: Target, timeout: float) -> bool | None:
    """One bounded probe: does the peer answer a ClientHello with TLS? False when OpenSSL
    reads its answer as not TLS (a plain-HTTP port), True for any TLS answer (even an
    alert), None when nothing could be learned (no connection, no answer in time)."""
    reason = _handshake_reason(target, timeout)
    return None if reason is None else reason is not Reason.NOT_TLS


def server_version_too_old(target: Target, timeout: float) -> bool | None:
    """One bounded probe: does the server refuse every version Chromium speaks (TLS 1.2
    and 1.3)? True when a TLS 1.2+ handshake ends in OpenSSL's protocol-version signal,
    False when it gets further, None when nothing could be learned."""
    reason = _handshake_reason(target, timeout, minimum=ssl.TLSVersion.TLSv1_2)
    return None if reason is None else reason is Reason.PROTOCOL_VERSION


# The two net errors that are ambiguous by design, and the probe that decides each.
_AMBIGUOUS = {
    "ERR_SSL_PROTOCOL_ERROR": "peer_speaks_tls",
    "ERR_SSL_VERSION_OR_CIPHER_MISMATCH": "server_version_too_old",
}


def refine_protocol_error(page: PageState, target: Target, deadline: float) -> None:
    """ERR_SSL_PROTOCOL_ERROR / ERR_SSL_VERSION_OR_CIPHER_MISMATCH: ask the peer once
    (bounded by the deadline, at most 2 s) and map the error with that evidence."""
    if page.signal is None or page.signal.token not in _AMBIGUOUS:
        return
    remaining = min(2.0, deadline - time.monotonic())
    if remaining <= 0.05:
        return
    if _AMBIGUOUS[page.signal.token] == "peer_speaks_tls":
        evidence = {"peer_speaks_tls": peer_speaks_tls(target, remaining)}
    else:
        evidence = {"server_version_too_old": server_version_too_old(target, remaining)}
    page.signal = chromium_signals.signal_for_net_error(page.error_text or "", **evidence)
    page.reason, page.detail = page.signal.reason, page.error_text or ""


def page_outcome(page: PageState) -> Outcome:
    """The Outcome of a finished navigation."""
    version = tls_version_name(page.tls_version)
    if page.signal is not None and page.reason is not Reason.TIMEOUT:
        return replace(outcome_for_signal(page.signal, page.error_text or ""), tls_version=version)
    return Outcome(page.reason or Reason.CLIENT_ERROR, page.detail, tls_version=version)


__all__ = [
    "PageState",
    "error_signal",
    "leaf_date_reason",
    "note_security_state",
    "page_outcome",
    "peer_speaks_tls",
    "read_error",
    "refine_protocol_error",
    "server_version_too_old",
    "wants_security_state",
]
