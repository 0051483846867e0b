"""What Chromium said, as a reason: its ``net::ERR_*`` error and the page's security
state, read from the DevTools events into a PageState, become the shared Outcome."""

from __future__ import annotations

import base64
import contextlib
import time
from dataclasses import dataclass
from typing import Any

from tlsmatrix.clients._common import Outcome, tls_version_name
from tlsmatrix.clients.base import Reason

# net error (without "net::") -> reason. Not listed: certificate errors fall back to
# handshake_failure, other errors to client_error; the raw text is always kept.
NET_ERRORS: dict[str, Reason] = {
    "ERR_CERT_AUTHORITY_INVALID": Reason.INCOMPLETE_CHAIN,  # refined by the harness
    "ERR_CERT_DATE_INVALID": Reason.EXPIRED,  # or not_yet_valid, from the certificate
    "ERR_CERT_COMMON_NAME_INVALID": Reason.HOSTNAME_MISMATCH,
    "ERR_CERT_REVOKED": Reason.REVOKED,
    "ERR_CERT_WEAK_KEY": Reason.WEAK_KEY,
    "ERR_CERT_WEAK_SIGNATURE_ALGORITHM": Reason.WEAK_SIGNATURE,
    "ERR_CERT_SYMANTEC_LEGACY": Reason.UNTRUSTED_ROOT,
    "ERR_CERT_KNOWN_INTERCEPTION_BLOCKED": Reason.UNTRUSTED_ROOT,
    "ERR_SSL_VERSION_OR_CIPHER_MISMATCH": Reason.PROTOCOL_VERSION,
    "ERR_SSL_OBSOLETE_VERSION_OR_CIPHER": Reason.PROTOCOL_VERSION,
    "ERR_SSL_PROTOCOL_ERROR": Reason.HANDSHAKE_FAILURE,  # also what a plain-HTTP port gives
    "ERR_CONNECTION_RESET": Reason.HANDSHAKE_FAILURE,
    "ERR_CONNECTION_CLOSED": Reason.HANDSHAKE_FAILURE,
    "ERR_BAD_SSL_CLIENT_AUTH_CERT": Reason.HANDSHAKE_FAILURE,
    "ERR_SSL_CLIENT_AUTH_CERT_NEEDED": Reason.HANDSHAKE_FAILURE,
    # What headless Chromium 156 reports when the server demands a client certificate
    # (it has none to offer and the server closes): the handshake did not complete.
    "ERR_SOCKET_NOT_CONNECTED": Reason.HANDSHAKE_FAILURE,
    "ERR_CONNECTION_REFUSED": Reason.CONNECTION_REFUSED,
    "ERR_ADDRESS_UNREACHABLE": Reason.CONNECTION_REFUSED,
    "ERR_CONNECTION_FAILED": Reason.CONNECTION_REFUSED,
    "ERR_NAME_NOT_RESOLVED": Reason.DNS_FAILURE,
    "ERR_NAME_RESOLUTION_FAILED": Reason.DNS_FAILURE,
    "ERR_TIMED_OUT": Reason.TIMEOUT,
    "ERR_CONNECTION_TIMED_OUT": Reason.TIMEOUT,
}

# Errors raised only after the handshake verified the certificate: the TLS verdict is
# "accept" and the HTTP trouble goes into the detail.
AFTER_HANDSHAKE = frozenset(
    {
        "ERR_EMPTY_RESPONSE",
        "ERR_INVALID_HTTP_RESPONSE",
        "ERR_INVALID_RESPONSE",
        "ERR_RESPONSE_HEADERS_TRUNCATED",
        "ERR_HTTP2_PROTOCOL_ERROR",
        "ERR_INCOMPLETE_CHUNKED_ENCODING",
        "ERR_CONTENT_LENGTH_MISMATCH",
    }
)


def reason_for_net_error(error_text: str) -> Reason:
    """Map Chromium's ``net::ERR_*`` text to a reason (certificate errors we have no finer
    name for reject as handshake_failure; unknown non-certificate errors are client_error)."""
    name = error_text.strip().removeprefix("net::")
    if name in AFTER_HANDSHAKE:
        return Reason.OK
    if name in NET_ERRORS:
        return NET_ERRORS[name]
    if name.startswith(("ERR_CERT_", "ERR_SSL_", "ERR_CERTIFICATE_")):
        return Reason.HANDSHAKE_FAILURE
    return Reason.CLIENT_ERROR


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
    """True when the reason for ``error_text`` depends on the certificate itself (its dates,
    its signature), which only the interstitial's security state carries."""
    return reason_for_net_error(error_text) is Reason.EXPIRED or "ERR_CERT_INVALID" in error_text


def read_error(page: PageState) -> tuple[Reason, str]:
    """(reason, detail) for a navigation that ended in ``page.error_text``."""
    error_text = page.error_text or ""
    reason = reason_for_net_error(error_text)
    if reason is Reason.EXPIRED:
        return date_reason(page), error_text
    if "ERR_CERT_INVALID" in error_text:
        return (Reason.WEAK_SIGNATURE if page.weak_signature else reason), error_text
    if reason is Reason.OK:
        return reason, f"certificate accepted; then {error_text}"
    return reason, error_text


def date_reason(page: PageState) -> Reason:
    """Expired or not yet valid, from the leaf's validity as the browser reported it."""
    now = time.time()
    if page.valid_from is not None and now < page.valid_from:
        return Reason.NOT_YET_VALID
    if page.valid_from is None and page.certificate:
        with contextlib.suppress(Exception):
            from cryptography import x509

            cert = x509.load_der_x509_certificate(base64.b64decode(page.certificate))
            if now < cert.not_valid_before_utc.timestamp():
                return Reason.NOT_YET_VALID
    return Reason.EXPIRED


def page_outcome(page: PageState) -> Outcome:
    """The Outcome of a finished navigation."""
    return Outcome(
        page.reason or Reason.CLIENT_ERROR,
        page.detail,
        tls_version=tls_version_name(page.tls_version),
        issuer_unknown=page.error_text == "net::ERR_CERT_AUTHORITY_INVALID",
        # "the certificate is invalid" with no why: the harness names it from the chain
        certificate_invalid=page.error_text
        in ("net::ERR_CERT_INVALID", "net::ERR_CERT_DATE_INVALID"),
    )


__all__ = [
    "AFTER_HANDSHAKE",
    "NET_ERRORS",
    "PageState",
    "date_reason",
    "note_security_state",
    "page_outcome",
    "read_error",
    "reason_for_net_error",
    "wants_security_state",
]
