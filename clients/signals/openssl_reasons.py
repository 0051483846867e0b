"""OpenSSL's SSL-library error reasons (``SSL_R_*``) -> Reason.

Python's ``ssl.SSLError.reason`` is the macro name without ``SSL_R_`` (``WRONG_VERSION_NUMBER``);
Node's ``err.code`` is ``ERR_SSL_`` + the same name and ``err.reason`` its lower-case string
(``wrong version number``); pyOpenSSL gives that string in its error tuples; curl prints the
packed error code (``error:0A00010B:...``). All of them land here.

Every reason not named below is a TLS-level failure (``handshake_failure``): the tests check
that every name in the installed sslerr.h resolves and that each named one is real.
"""

from __future__ import annotations

import re

from tlsmatrix.clients.base import Reason
from tlsmatrix.clients.signals import openssl
from tlsmatrix.clients.signals._signal import Signal

R = Reason

# The peer does not speak TLS: a plain-HTTP port answers a ClientHello with "HTTP/1.1 400",
# which the record layer reads as a bad version or an absurd length. OpenSSL 3.2+ wraps
# those in RECORD_LAYER_FAILURE (Python reports the last error, so it sees that one).
_NOT_TLS = (
    "WRONG_VERSION_NUMBER",
    "PACKET_LENGTH_TOO_LONG",
    "UNKNOWN_PROTOCOL",
    "HTTP_REQUEST",
    "HTTPS_PROXY_REQUEST",
    "RECORD_LAYER_FAILURE",
)
_PROTOCOL_VERSION = (
    "UNSUPPORTED_PROTOCOL",
    "NO_PROTOCOLS_AVAILABLE",
    "VERSION_TOO_HIGH",
    "VERSION_TOO_LOW",
    "WRONG_SSL_VERSION",
    "UNSUPPORTED_SSL_VERSION",
    "UNKNOWN_SSL_VERSION",
    "BAD_PROTOCOL_VERSION_NUMBER",
    "BAD_LEGACY_VERSION",
    "TLSV1_ALERT_PROTOCOL_VERSION",
    "INAPPROPRIATE_FALLBACK",
    "TLSV1_ALERT_INAPPROPRIATE_FALLBACK",
    "AT_LEAST_TLS_1_2_NEEDED_IN_SUITEB_MODE",
)
# Certificate policy checks the SSL library itself makes (ssl_security_cert).
_CERTIFICATE = {
    "CA_MD_TOO_WEAK": R.WEAK_SIGNATURE,
    # ssl_check_srvr_ecc_cert_and_alg: the ECDSA leaf's keyUsage lacks digitalSignature
    # (also what an undecodable extension block reads as).
    "ECC_CERT_NOT_FOR_SIGNING": R.WRONG_USAGE,
    "CA_KEY_TOO_SMALL": R.WEAK_KEY,
    "EE_KEY_TOO_SMALL": R.WEAK_KEY,
    "NO_VALID_SCTS": R.INVALID_CERTIFICATE,
    "SCT_VERIFICATION_FAILED": R.INVALID_CERTIFICATE,
    # Common reasons (err.h, not SSL_R_*): OpenSSL 3 fails the handshake with ERR_R_ASN1_LIB
    # when the server's certificate does not decode.
    "ASN1_LIB": R.MALFORMED_CERTIFICATE,
}
COMMON_REASONS = frozenset({"ASN1_LIB"})
# The client's own setup, not the server.
_CLIENT_ERROR = (
    "BAD_SSL_FILETYPE",
    "BAD_VALUE",
    "BAD_WRITE_RETRY",
    "BIO_NOT_SET",
    "CONNECTION_TYPE_NOT_SET",
    "CONTEXT_NOT_DANE_ENABLED",
    "COPY_PARAMETERS_FAILED",
    "CUSTOM_EXT_HANDLER_ALREADY_INSTALLED",
    "DANE_ALREADY_ENABLED",
    "DANE_CANNOT_OVERRIDE_MTYPE_FULL",
    "DANE_NOT_ENABLED",
    "DANE_TLSA_BAD_CERTIFICATE",
    "DANE_TLSA_BAD_CERTIFICATE_USAGE",
    "DANE_TLSA_BAD_DATA_LENGTH",
    "DANE_TLSA_BAD_DIGEST_LENGTH",
    "DANE_TLSA_BAD_MATCHING_TYPE",
    "DANE_TLSA_BAD_PUBLIC_KEY",
    "DANE_TLSA_BAD_SELECTOR",
    "DANE_TLSA_NULL_DATA",
    "ERROR_SETTING_TLSA_BASE_DOMAIN",
    "FAILED_TO_INIT_ASYNC",
    "INVALID_COMMAND",
    "INVALID_CONFIG",
    "INVALID_CONFIGURATION_NAME",
    "INVALID_CONTEXT",
    "INVALID_CT_VALIDATION_TYPE",
    "INVALID_NULL_CMD_NAME",
    "INVALID_SERVERINFO_DATA",
    "INVALID_TICKET_KEYS_LENGTH",
    "LIBRARY_BUG",
    "LIBRARY_HAS_NO_CIPHERS",
    "NOT_REPLACING_CERTIFICATE",
    "NOT_SERVER",
    "NO_CERTIFICATE_ASSIGNED",
    "NO_CIPHERS_SPECIFIED",
    "NO_CIPHER_MATCH",
    "NO_METHOD_SPECIFIED",
    "NO_PEM_EXTENSIONS",
    "NO_PRIVATE_KEY_ASSIGNED",
    "NULL_SSL_CTX",
    "NULL_SSL_METHOD_PASSED",
    "PEM_NAME_BAD_PREFIX",
    "PEM_NAME_TOO_SHORT",
    "PRIVATE_KEY_MISMATCH",
    "PROTOCOL_IS_SHUTDOWN",
    "READ_BIO_NOT_SET",
    "SSL_COMMAND_SECTION_EMPTY",
    "SSL_COMMAND_SECTION_NOT_FOUND",
    "SSL_CTX_HAS_NO_DEFAULT_SSL_VERSION",
    "SSL_LIBRARY_HAS_NO_CIPHERS",
    "SSL_SECTION_EMPTY",
    "SSL_SECTION_NOT_FOUND",
    "UNABLE_TO_LOAD_SSL3_MD5_ROUTINES",
    "UNABLE_TO_LOAD_SSL3_SHA1_ROUTINES",
    "UNINITIALIZED",
    "UNKNOWN_CMD_NAME",
    "UNKNOWN_COMMAND",
    "X509_VERIFICATION_SETUP_PROBLEMS",
)

REASONS: dict[str, Reason] = {
    **{n: R.NOT_TLS for n in _NOT_TLS},
    **{n: R.PROTOCOL_VERSION for n in _PROTOCOL_VERSION},
    **_CERTIFICATE,
    **{n: R.CLIENT_ERROR for n in _CLIENT_ERROR},
}
# Named for documentation and the tests: the default, stated explicitly.
HANDSHAKE_EXAMPLES = (
    "SSLV3_ALERT_HANDSHAKE_FAILURE",
    "TLSV1_ALERT_UNKNOWN_CA",  # the server refused OUR certificate (client auth)
    "TLSV13_ALERT_CERTIFICATE_REQUIRED",
    "TLSV1_ALERT_INTERNAL_ERROR",
    "NO_SHARED_CIPHER",
    "NO_SUITABLE_SIGNATURE_ALGORITHM",
    "DH_KEY_TOO_SMALL",  # weak key exchange parameters: TLS level, not the certificate
    "EXCESSIVE_MESSAGE_SIZE",  # e.g. a 1 MB certificate message
    "UNEXPECTED_EOF_WHILE_READING",
    "WRONG_CERTIFICATE_TYPE",
)
# Packed numbers for the names above, for curl's "error:0A00010B:" (OpenSSL 3 packing:
# library << 23 | reason; the SSL library is 20). Checked against sslerr.h by the tests.
ERR_LIB_SSL = 20
NUMBERS: dict[int, str] = {
    267: "WRONG_VERSION_NUMBER",
    198: "PACKET_LENGTH_TOO_LONG",
    252: "UNKNOWN_PROTOCOL",
    313: "RECORD_LAYER_FAILURE",
    258: "UNSUPPORTED_PROTOCOL",
    191: "NO_PROTOCOLS_AVAILABLE",
    166: "VERSION_TOO_HIGH",
    396: "VERSION_TOO_LOW",
    1070: "TLSV1_ALERT_PROTOCOL_VERSION",
    134: "CERTIFICATE_VERIFY_FAILED",
    398: "CA_MD_TOO_WEAK",
    397: "CA_KEY_TOO_SMALL",
    399: "EE_KEY_TOO_SMALL",
    1040: "SSLV3_ALERT_HANDSHAKE_FAILURE",
    318: "ECC_CERT_NOT_FOR_SIGNING",
    294: "UNEXPECTED_EOF_WHILE_READING",
}


def normalize(reason: str) -> str:
    """``wrong version number`` / ``ERR_SSL_WRONG_VERSION_NUMBER`` / ``SSL_R_...`` -> the
    macro name, the way Node builds err.code from the library's reason string."""
    name = re.sub(r"[^A-Za-z0-9]+", "_", reason.strip()).strip("_").upper()
    for prefix in ("ERR_SSL_", "SSL_R_"):
        name = name.removeprefix(prefix)
    return name


def signal_for_reason(reason: str, verify_code: int | None = None) -> Signal:
    """The signal of an SSL-library reason. CERTIFICATE_VERIFY_FAILED defers to the verify
    code when the client gives one; without it the client said only "verify failed"."""
    name = normalize(reason)
    if name == "CERTIFICATE_VERIFY_FAILED":
        if verify_code is not None:
            return openssl.signal_for_code(verify_code)
        return Signal(R.INVALID_CERTIFICATE, name, certificate_invalid=True)
    return Signal(REASONS.get(name, R.HANDSHAKE_FAILURE), name)


def parse_packed(code: int) -> tuple[int, int]:
    """(library, reason) of an OpenSSL 3 packed error code (ERR_GET_LIB/ERR_GET_REASON)."""
    if code & 0x80000000:  # ERR_SYSTEM_FLAG: an errno, not a library error
        return 2, code & 0x7FFFFFFF  # ERR_LIB_SYS
    return (code >> 23) & 0xFF, code & 0x7FFFFF


# ssl.h: the reason of a received alert is SSL_AD_REASON_OFFSET + the alert's number.
SSL_AD_REASON_OFFSET = 1000
ALERT_PROTOCOL_VERSION = 70
_PACKED = re.compile(r"\berror:([0-9A-Fa-f]{8}):")


# Libraries that decode and verify certificates: an error of theirs ending a handshake
# means the server's certificate did not decode (or its signature did not verify).
ERR_LIB_X509 = 11
ERR_LIB_ASN1 = 13
ERR_LIB_X509V3 = 34
_CERTIFICATE_LIBRARIES = {ERR_LIB_X509: "X509", ERR_LIB_ASN1: "ASN1", ERR_LIB_X509V3: "X509V3"}
# ERR_RFLAG_COMMON | ERR_R_EVP_LIB: ASN1_item_verify's signature check failed in EVP.
ERR_R_EVP_LIB_COMMON = 0x80006


def signal_for_library_code(lib: int, reason: int) -> Signal | None:
    """A certificate library's packed code: (ASN1, EVP lib) is a signature that did not
    verify, any other code of X509/ASN1/X509V3 a certificate that did not decode."""
    name = _CERTIFICATE_LIBRARIES.get(lib)
    if name is None:
        return None
    if (lib, reason) == (ERR_LIB_ASN1, ERR_R_EVP_LIB_COMMON):
        return Signal(R.BAD_SIGNATURE, "ASN1 R_EVP_LIB")
    return Signal(R.MALFORMED_CERTIFICATE, f"{name} reason {reason:#x}")


def signal_for_packed_text(text: str) -> Signal | None:
    """The signal of the first packed SSL-library code (``error:0A00010B:``) in a line such
    as curl prints, else of a certificate library's code; only the hex code is read. None
    when there is neither."""
    codes = [parse_packed(int(m.group(1), 16)) for m in _PACKED.finditer(text)]
    for lib, reason in codes:
        if lib == ERR_LIB_SSL:
            name = NUMBERS.get(reason)
            if name is not None:
                return signal_for_reason(name)
            if reason >= SSL_AD_REASON_OFFSET:  # a TLS alert the peer sent: 1000 + number
                alert = reason - SSL_AD_REASON_OFFSET
                version = alert == ALERT_PROTOCOL_VERSION
                return Signal(
                    R.PROTOCOL_VERSION if version else R.HANDSHAKE_FAILURE, f"SSL_R_ALERT_{alert}"
                )
            return Signal(R.HANDSHAKE_FAILURE, f"SSL_R {reason}")
    for lib, reason in codes:
        found = signal_for_library_code(lib, reason)
        if found is not None:
            return found
    return None
