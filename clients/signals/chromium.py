"""Chromium net errors (``net::ERR_*``, by name as CDP's ``errorText`` gives them) -> Reason.

Where Chromium is vague the signal says so and the harness decides from the chain:
``ERR_CERT_AUTHORITY_INVALID`` is only "no path to a trusted root" (``issuer_unknown``),
``ERR_CERT_INVALID`` names no cause (``certificate_invalid``), and ``ERR_CERT_DATE_INVALID``
covers expired AND not yet valid (``date_ambiguous``: never defaulted to expired).

Two TLS errors are ambiguous by design and take the harness's evidence as arguments:
- ``ERR_SSL_PROTOCOL_ERROR`` is what a plain-HTTP port gives, but also any malformed
  handshake: ``not_tls`` only when the harness saw the peer not speak TLS
  (``peer_speaks_tls=False``), else ``handshake_failure``.
- ``ERR_SSL_VERSION_OR_CIPHER_MISMATCH`` is a version or a cipher mismatch:
  ``protocol_version`` only when the harness knows the server's highest version is below
  what Chromium accepts (``server_version_too_old=True``), else ``handshake_failure``.
"""

from __future__ import annotations

from tlsmatrix.clients.base import Reason
from tlsmatrix.clients.signals._signal import Signal

R = Reason
_AFTER = "after"  # an HTTP-level failure: the handshake, and the certificate, passed

# The certificate error range (-200..-2xx), every name net_error_list.h has had.
CERT_ERRORS: dict[str, tuple[int, Reason]] = {
    "CERT_COMMON_NAME_INVALID": (-200, R.HOSTNAME_MISMATCH),
    "CERT_DATE_INVALID": (-201, R.INVALID_CERTIFICATE),  # date_ambiguous
    "CERT_AUTHORITY_INVALID": (-202, R.UNKNOWN_ISSUER),  # issuer_unknown
    "CERT_CONTAINS_ERRORS": (-203, R.MALFORMED_CERTIFICATE),
    "CERT_NO_REVOCATION_MECHANISM": (-204, R.INVALID_CERTIFICATE),
    "CERT_UNABLE_TO_CHECK_REVOCATION": (-205, R.INVALID_CERTIFICATE),
    "CERT_REVOKED": (-206, R.REVOKED),
    "CERT_INVALID": (-207, R.INVALID_CERTIFICATE),  # certificate_invalid
    "CERT_WEAK_SIGNATURE_ALGORITHM": (-208, R.WEAK_SIGNATURE),
    # An internal name (".local", a private address) the certificate cannot vouch for.
    "CERT_NON_UNIQUE_NAME": (-210, R.HOSTNAME_MISMATCH),
    "CERT_WEAK_KEY": (-211, R.WEAK_KEY),
    "CERT_NAME_CONSTRAINT_VIOLATION": (-212, R.NAME_CONSTRAINTS),
    "CERT_VALIDITY_TOO_LONG": (-213, R.INVALID_CERTIFICATE),  # a policy with no own word
    "CERTIFICATE_TRANSPARENCY_REQUIRED": (-214, R.INVALID_CERTIFICATE),
    "CERT_SYMANTEC_LEGACY": (-215, R.UNTRUSTED_ROOT),  # removed in later Chromium
    "CERT_KNOWN_INTERCEPTION_BLOCKED": (-217, R.UNTRUSTED_ROOT),
    "SSL_OBSOLETE_VERSION": (-218, R.PROTOCOL_VERSION),  # removed in later Chromium
    "CERT_SELF_SIGNED_LOCAL_NETWORK": (-219, R.SELF_SIGNED),  # newer Chromium
}
REMOVED = frozenset({"CERT_SYMANTEC_LEGACY", "SSL_OBSOLETE_VERSION"})

OTHER_ERRORS: dict[str, Reason | str] = {
    "FAILED": R.CLIENT_ERROR,
    "ABORTED": R.CLIENT_ERROR,
    "INVALID_ARGUMENT": R.CLIENT_ERROR,
    "UNEXPECTED": R.CLIENT_ERROR,
    "TIMED_OUT": R.TIMEOUT,
    "CONNECTION_TIMED_OUT": R.TIMEOUT,
    "SOCKET_NOT_CONNECTED": R.HANDSHAKE_FAILURE,
    "CONNECTION_CLOSED": R.HANDSHAKE_FAILURE,
    "CONNECTION_RESET": R.HANDSHAKE_FAILURE,
    "CONNECTION_ABORTED": R.HANDSHAKE_FAILURE,
    "CONNECTION_REFUSED": R.CONNECTION_REFUSED,
    "CONNECTION_FAILED": R.CONNECTION_REFUSED,
    "ADDRESS_UNREACHABLE": R.CONNECTION_REFUSED,
    "ADDRESS_INVALID": R.CLIENT_ERROR,
    "INTERNET_DISCONNECTED": R.CONNECTION_REFUSED,
    "NETWORK_ACCESS_DENIED": R.CONNECTION_REFUSED,
    "NAME_NOT_RESOLVED": R.DNS_FAILURE,
    "NAME_RESOLUTION_FAILED": R.DNS_FAILURE,
    "HOST_RESOLVER_QUEUE_TOO_LARGE": R.DNS_FAILURE,
    "DNS_TIMED_OUT": R.DNS_FAILURE,
    "DNS_SERVER_FAILED": R.DNS_FAILURE,
    "DNS_MALFORMED_RESPONSE": R.DNS_FAILURE,
    "SSL_PROTOCOL_ERROR": R.HANDSHAKE_FAILURE,  # see signal_for_net_error
    "SSL_VERSION_OR_CIPHER_MISMATCH": R.HANDSHAKE_FAILURE,  # see signal_for_net_error
    "SSL_OBSOLETE_VERSION_OR_CIPHER": R.PROTOCOL_VERSION,
    "NO_SSL_VERSIONS_ENABLED": R.CLIENT_ERROR,
    "SSL_CLIENT_AUTH_CERT_NEEDED": R.HANDSHAKE_FAILURE,
    "BAD_SSL_CLIENT_AUTH_CERT": R.HANDSHAKE_FAILURE,
    "SSL_CLIENT_AUTH_SIGNATURE_FAILED": R.HANDSHAKE_FAILURE,
    "SSL_CLIENT_AUTH_NO_COMMON_ALGORITHMS": R.HANDSHAKE_FAILURE,
    "SSL_CLIENT_AUTH_CERT_BAD_FORMAT": R.CLIENT_ERROR,
    "SSL_CLIENT_AUTH_CERT_NO_PRIVATE_KEY": R.CLIENT_ERROR,
    "SSL_CLIENT_AUTH_PRIVATE_KEY_ACCESS_DENIED": R.CLIENT_ERROR,
    "SSL_RENEGOTIATION_REQUESTED": R.HANDSHAKE_FAILURE,
    "SSL_NO_RENEGOTIATION": R.HANDSHAKE_FAILURE,
    "SSL_DECOMPRESSION_FAILURE_ALERT": R.HANDSHAKE_FAILURE,
    "SSL_BAD_RECORD_MAC_ALERT": R.HANDSHAKE_FAILURE,
    "SSL_UNRECOGNIZED_NAME_ALERT": R.HANDSHAKE_FAILURE,
    "SSL_HANDSHAKE_NOT_COMPLETED": R.HANDSHAKE_FAILURE,
    "SSL_SERVER_CERT_CHANGED": R.HANDSHAKE_FAILURE,
    "SSL_SERVER_CERT_BAD_FORMAT": R.MALFORMED_CERTIFICATE,
    # The certificate's keyUsage does not allow the negotiated key exchange.
    "SSL_KEY_USAGE_INCOMPATIBLE": R.WRONG_USAGE,
    "SSL_PINNED_KEY_NOT_IN_CERT_CHAIN": R.INVALID_CERTIFICATE,
    "ECH_NOT_NEGOTIATED": R.HANDSHAKE_FAILURE,
    "ECH_FALLBACK_CERTIFICATE_INVALID": R.HANDSHAKE_FAILURE,
    "ALPN_NEGOTIATION_FAILED": R.HANDSHAKE_FAILURE,
    "PROXY_CONNECTION_FAILED": R.CLIENT_ERROR,
    "TUNNEL_CONNECTION_FAILED": R.CLIENT_ERROR,
    "BLOCKED_BY_CLIENT": R.CLIENT_ERROR,
    "BLOCKED_BY_ADMINISTRATOR": R.CLIENT_ERROR,
    "BLOCKED_BY_RESPONSE": _AFTER,
    "EMPTY_RESPONSE": _AFTER,
    "INVALID_HTTP_RESPONSE": _AFTER,
    "INVALID_RESPONSE": _AFTER,
    "RESPONSE_HEADERS_TRUNCATED": _AFTER,
    "HTTP2_PROTOCOL_ERROR": _AFTER,
    "INCOMPLETE_CHUNKED_ENCODING": _AFTER,
    "CONTENT_LENGTH_MISMATCH": _AFTER,
    "TOO_MANY_REDIRECTS": _AFTER,
    "INVALID_REDIRECT": _AFTER,
    "UNSAFE_REDIRECT": _AFTER,
    "HTTP_RESPONSE_CODE_FAILURE": _AFTER,
}


def _name(error: str) -> str:
    name = error.strip().removeprefix("net::")
    return name.removeprefix("ERR_")


def signal_for_net_error(
    error: str,
    *,
    peer_speaks_tls: bool | None = None,
    server_version_too_old: bool | None = None,
) -> Signal:
    """The signal of one net error name (``net::ERR_CERT_DATE_INVALID`` or without
    ``net::``); the two keyword arguments are the harness's evidence, see the module doc."""
    name = _name(error)
    token = f"ERR_{name}"
    if name in ("", "NONE", "OK"):
        return Signal(R.OK, "OK")
    if name in CERT_ERRORS:
        _number, reason = CERT_ERRORS[name]
        return Signal(
            reason,
            token,
            issuer_unknown=name == "CERT_AUTHORITY_INVALID",
            certificate_invalid=name == "CERT_INVALID",
            date_ambiguous=name == "CERT_DATE_INVALID",
        )
    if name == "SSL_PROTOCOL_ERROR" and peer_speaks_tls is False:
        return Signal(R.NOT_TLS, token)
    if name == "SSL_VERSION_OR_CIPHER_MISMATCH" and server_version_too_old:
        return Signal(R.PROTOCOL_VERSION, token)
    if name in OTHER_ERRORS:
        reason = OTHER_ERRORS[name]
        if reason == _AFTER:
            return Signal(R.OK, token, after_handshake=True)
        assert isinstance(reason, Reason)
        return Signal(reason, token)
    # A name this table does not know (a newer Chromium): judged by its family.
    if name.startswith(("CERT_", "CERTIFICATE_")):
        return Signal(R.INVALID_CERTIFICATE, token, certificate_invalid=True)
    if name.startswith("SSL_"):
        return Signal(R.HANDSHAKE_FAILURE, token)
    if name.startswith(("NAME_", "DNS_")):
        return Signal(R.DNS_FAILURE, token)
    return Signal(R.CLIENT_ERROR, token)
