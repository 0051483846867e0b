"""Node's ``tls`` errors -> Reason, from ``err.code`` (and for ``UNSPECIFIED`` the library's
verify-error constant Node puts in ``err.message``).

What Node can report for one TLS connection:
- a certificate verify failure: ``err.code`` is OpenSSL's verify code name for the 28 names
  Node's X509ErrorCode() knows (``CERT_HAS_EXPIRED``, ``INVALID_CA`` ...), and
  ``UNSPECIFIED`` for every other code (name constraints, weak key, weak digest, critical
  extension ...). ``err.message`` is then ``X509_verify_cert_error_string(code)``, a constant
  of the library: ``signal_for_node_error`` matches it whole against openssl.py's table,
  which says which code it was. Nothing else in a message is read.
- ``ERR_TLS_CERT_ALTNAME_INVALID``: tls.checkServerIdentity refused the name.
- ``ERR_SSL_<REASON>``: an OpenSSL SSL-library error (``err.library`` "SSL routines",
  ``err.reason`` its string): openssl_reasons.py.
- ``ERR_OSSL_<LIB>_<REASON>``: another OpenSSL library (ASN1 decoding: the certificate).
- a system error (``ECONNREFUSED``, ``ENOTFOUND`` ...) and Node's own ``ERR_TLS_*``.
"""

from __future__ import annotations

from tlsmatrix.clients.base import Reason
from tlsmatrix.clients.signals import openssl, openssl_reasons
from tlsmatrix.clients.signals._signal import Signal

R = Reason

# The names Node 20's X509ErrorCode() gives (src/crypto/crypto_common.cc); every other verify
# code becomes "UNSPECIFIED". With OpenSSL 3, INVALID_CA is code 79.
NODE_VERIFY_NAMES = (
    "UNABLE_TO_GET_ISSUER_CERT",
    "UNABLE_TO_GET_CRL",
    "UNABLE_TO_DECRYPT_CERT_SIGNATURE",
    "UNABLE_TO_DECRYPT_CRL_SIGNATURE",
    "UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY",
    "CERT_SIGNATURE_FAILURE",
    "CRL_SIGNATURE_FAILURE",
    "CERT_NOT_YET_VALID",
    "CERT_HAS_EXPIRED",
    "CRL_NOT_YET_VALID",
    "CRL_HAS_EXPIRED",
    "ERROR_IN_CERT_NOT_BEFORE_FIELD",
    "ERROR_IN_CERT_NOT_AFTER_FIELD",
    "ERROR_IN_CRL_LAST_UPDATE_FIELD",
    "ERROR_IN_CRL_NEXT_UPDATE_FIELD",
    "OUT_OF_MEM",
    "DEPTH_ZERO_SELF_SIGNED_CERT",
    "SELF_SIGNED_CERT_IN_CHAIN",
    "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
    "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
    "CERT_CHAIN_TOO_LONG",
    "CERT_REVOKED",
    "INVALID_CA",
    "PATH_LENGTH_EXCEEDED",
    "INVALID_PURPOSE",
    "CERT_UNTRUSTED",
    "CERT_REJECTED",
    "HOSTNAME_MISMATCH",
)

# Node's own codes and the system errors a TLS connection can end with.
NODE_CODES: dict[str, Reason] = {
    "ERR_TLS_CERT_ALTNAME_INVALID": R.HOSTNAME_MISMATCH,
    # checkServerIdentity refuses a subjectAltName it cannot parse unambiguously.
    "ERR_TLS_CERT_ALTNAME_FORMAT": R.MALFORMED_CERTIFICATE,
    "ERR_TLS_HANDSHAKE_TIMEOUT": R.TIMEOUT,
    "ERR_SOCKET_CONNECTION_TIMEOUT": R.TIMEOUT,
    "ERR_TLS_INVALID_PROTOCOL_VERSION": R.CLIENT_ERROR,
    "ERR_TLS_PROTOCOL_VERSION_CONFLICT": R.CLIENT_ERROR,
    "ERR_TLS_INVALID_CONTEXT": R.CLIENT_ERROR,
    "ERR_INVALID_ARG_TYPE": R.CLIENT_ERROR,
    "ERR_INVALID_ARG_VALUE": R.CLIENT_ERROR,
    "ERR_SOCKET_CLOSED": R.HANDSHAKE_FAILURE,
    "ERR_STREAM_DESTROYED": R.HANDSHAKE_FAILURE,
    "ECONNREFUSED": R.CONNECTION_REFUSED,
    "EHOSTUNREACH": R.CONNECTION_REFUSED,
    "ENETUNREACH": R.CONNECTION_REFUSED,
    "EADDRNOTAVAIL": R.CONNECTION_REFUSED,
    "ENOTFOUND": R.DNS_FAILURE,  # getaddrinfo EAI_NONAME
    "EAI_AGAIN": R.DNS_FAILURE,
    "EAI_FAIL": R.DNS_FAILURE,
    "ENODATA": R.DNS_FAILURE,
    "ETIMEDOUT": R.TIMEOUT,
    "ECONNRESET": R.HANDSHAKE_FAILURE,  # "socket hang up" / "Client network socket
    "EPIPE": R.HANDSHAKE_FAILURE,  # disconnected before secure TLS connection"
    "ECONNABORTED": R.HANDSHAKE_FAILURE,
}


def signal_for_node_error(
    code: str | None,
    message: str | None = None,
    *,
    reason: str | None = None,
    library: str | None = None,
) -> Signal:
    """The signal of one Node error (the probe's ``code``, ``message``, ``reason``,
    ``library`` fields). ``message`` is used only as a whole library constant."""
    code = (code or "").strip()
    if code in NODE_VERIFY_NAMES:
        entry = openssl.lookup_name(code)
        if entry is not None:
            return entry.signal()
    if code == "UNSPECIFIED":
        entry = openssl.lookup_text(message or "")
        if entry is not None:
            return entry.signal()
        return openssl.BY_CODE[1].signal()
    if code in NODE_CODES:
        return Signal(NODE_CODES[code], code)
    if code.startswith("ERR_SSL_") or (library or "").lower() == "ssl routines":
        return openssl_reasons.signal_for_reason(reason or code)
    if code.startswith("ERR_OSSL_ASN1_") or (library or "").lower().startswith("asn1"):
        return Signal(R.MALFORMED_CERTIFICATE, code)
    if code.startswith("ERR_OSSL_"):
        return Signal(R.HANDSHAKE_FAILURE, code)
    if not code and message is not None:
        # A verify failure whose code Node dropped still carries the constant as message.
        entry = openssl.lookup_text(message)
        if entry is not None:
            return entry.signal()
    return Signal(R.CLIENT_ERROR, code or "no code")
