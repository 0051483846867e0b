"""curl exit codes (CURLE_*) -> Reason; ``ssl_verify_result`` and the packed OpenSSL code
curl prints decide the two codes that are only "TLS failed" on their own.

- 60 CURLE_PEER_FAILED_VERIFICATION (CURLE_SSL_CACERT is the same number since 7.62):
  ``%{ssl_verify_result}`` (libcurl's CURLINFO_SSL_VERIFYRESULT) is OpenSSL's verify code
  (openssl.py), except that curl's own name check stores ``!X509_V_OK``, i.e. 1, when it
  refuses (measured: curl 7.88 and libcurl 8.23, exit 60 with 1 and "no alternative
  certificate subject name"); OpenSSL's chain check never ends with 1 on a handshake. So
  1 (or 0, an older curl) after exit 60 is ``hostname_mismatch``.
- 35 CURLE_SSL_CONNECT_ERROR: the "error:0A00010B:" code curl prints (openssl_reasons.py);
  without one, ``handshake_failure``.
- Errors after a completed handshake (HTTP-level) carry ``after_handshake``: the certificate
  was accepted. A code not listed (a newer curl) is ``client_error``.
"""

from __future__ import annotations

from tlsmatrix.clients.base import Reason
from tlsmatrix.clients.signals import openssl, openssl_reasons
from tlsmatrix.clients.signals._signal import Signal

R = Reason
_AFTER = "after"  # the handshake completed: an HTTP/transfer-level failure

# number: (CURLE name, reason or _AFTER). FTP/LDAP/TFTP/SSH/RTSP/telnet codes cannot come
# from an https:// probe; they are listed so no number is unexplained.
EXIT_CODES: dict[int, tuple[str, Reason | str]] = {
    0: ("OK", R.OK),
    1: ("UNSUPPORTED_PROTOCOL", R.CLIENT_ERROR),
    2: ("FAILED_INIT", R.CLIENT_ERROR),
    3: ("URL_MALFORMAT", R.CLIENT_ERROR),
    4: ("NOT_BUILT_IN", R.CLIENT_ERROR),
    5: ("COULDNT_RESOLVE_PROXY", R.DNS_FAILURE),
    6: ("COULDNT_RESOLVE_HOST", R.DNS_FAILURE),
    7: ("COULDNT_CONNECT", R.CONNECTION_REFUSED),
    8: ("WEIRD_SERVER_REPLY", _AFTER),
    9: ("REMOTE_ACCESS_DENIED", R.CLIENT_ERROR),
    10: ("FTP_ACCEPT_FAILED", R.CLIENT_ERROR),
    11: ("FTP_WEIRD_PASS_REPLY", R.CLIENT_ERROR),
    12: ("FTP_ACCEPT_TIMEOUT", R.CLIENT_ERROR),
    13: ("FTP_WEIRD_PASV_REPLY", R.CLIENT_ERROR),
    14: ("FTP_WEIRD_227_FORMAT", R.CLIENT_ERROR),
    15: ("FTP_CANT_GET_HOST", R.CLIENT_ERROR),
    16: ("HTTP2", _AFTER),
    17: ("FTP_COULDNT_SET_TYPE", R.CLIENT_ERROR),
    18: ("PARTIAL_FILE", _AFTER),
    19: ("FTP_COULDNT_RETR_FILE", R.CLIENT_ERROR),
    21: ("QUOTE_ERROR", R.CLIENT_ERROR),
    22: ("HTTP_RETURNED_ERROR", _AFTER),
    23: ("WRITE_ERROR", R.CLIENT_ERROR),
    25: ("UPLOAD_FAILED", R.CLIENT_ERROR),
    26: ("READ_ERROR", R.CLIENT_ERROR),
    27: ("OUT_OF_MEMORY", R.CLIENT_ERROR),
    28: ("OPERATION_TIMEDOUT", R.TIMEOUT),
    30: ("FTP_PORT_FAILED", R.CLIENT_ERROR),
    31: ("FTP_COULDNT_USE_REST", R.CLIENT_ERROR),
    33: ("RANGE_ERROR", _AFTER),
    34: ("HTTP_POST_ERROR", _AFTER),
    35: ("SSL_CONNECT_ERROR", R.HANDSHAKE_FAILURE),
    36: ("BAD_DOWNLOAD_RESUME", R.CLIENT_ERROR),
    37: ("FILE_COULDNT_READ_FILE", R.CLIENT_ERROR),
    38: ("LDAP_CANNOT_BIND", R.CLIENT_ERROR),
    39: ("LDAP_SEARCH_FAILED", R.CLIENT_ERROR),
    41: ("FUNCTION_NOT_FOUND", R.CLIENT_ERROR),
    42: ("ABORTED_BY_CALLBACK", R.CLIENT_ERROR),
    43: ("BAD_FUNCTION_ARGUMENT", R.CLIENT_ERROR),
    45: ("INTERFACE_FAILED", R.CLIENT_ERROR),
    47: ("TOO_MANY_REDIRECTS", _AFTER),
    48: ("UNKNOWN_OPTION", R.CLIENT_ERROR),
    49: ("SETOPT_OPTION_SYNTAX", R.CLIENT_ERROR),
    52: ("GOT_NOTHING", _AFTER),
    53: ("SSL_ENGINE_NOTFOUND", R.CLIENT_ERROR),
    54: ("SSL_ENGINE_SETFAILED", R.CLIENT_ERROR),
    # A reset while sending or receiving: during the handshake it is the server refusing.
    55: ("SEND_ERROR", R.HANDSHAKE_FAILURE),
    56: ("RECV_ERROR", R.HANDSHAKE_FAILURE),
    58: ("SSL_CERTPROBLEM", R.CLIENT_ERROR),  # our own client certificate
    59: ("SSL_CIPHER", R.CLIENT_ERROR),  # our own cipher list
    60: ("PEER_FAILED_VERIFICATION", R.INVALID_CERTIFICATE),
    61: ("BAD_CONTENT_ENCODING", _AFTER),
    63: ("FILESIZE_EXCEEDED", _AFTER),
    64: ("USE_SSL_FAILED", R.CLIENT_ERROR),
    65: ("SEND_FAIL_REWIND", R.CLIENT_ERROR),
    66: ("SSL_ENGINE_INITFAILED", R.CLIENT_ERROR),
    67: ("LOGIN_DENIED", R.CLIENT_ERROR),
    68: ("TFTP_NOTFOUND", R.CLIENT_ERROR),
    69: ("TFTP_PERM", R.CLIENT_ERROR),
    70: ("REMOTE_DISK_FULL", R.CLIENT_ERROR),
    71: ("TFTP_ILLEGAL", R.CLIENT_ERROR),
    72: ("TFTP_UNKNOWNID", R.CLIENT_ERROR),
    73: ("REMOTE_FILE_EXISTS", R.CLIENT_ERROR),
    74: ("TFTP_NOSUCHUSER", R.CLIENT_ERROR),
    75: ("CONV_FAILED", R.CLIENT_ERROR),
    76: ("CONV_REQD", R.CLIENT_ERROR),
    77: ("SSL_CACERT_BADFILE", R.CLIENT_ERROR),  # our trust file would not load
    78: ("REMOTE_FILE_NOT_FOUND", R.CLIENT_ERROR),
    79: ("SSH", R.CLIENT_ERROR),
    80: ("SSL_SHUTDOWN_FAILED", _AFTER),
    81: ("AGAIN", R.CLIENT_ERROR),
    82: ("SSL_CRL_BADFILE", R.CLIENT_ERROR),
    # --issuer / CURLOPT_ISSUERCERT: the issuer is not the one the user pinned.
    83: ("SSL_ISSUER_ERROR", R.UNTRUSTED_ROOT),
    84: ("FTP_PRET_FAILED", R.CLIENT_ERROR),
    85: ("RTSP_CSEQ_ERROR", R.CLIENT_ERROR),
    86: ("RTSP_SESSION_ERROR", R.CLIENT_ERROR),
    87: ("FTP_BAD_FILE_LIST", R.CLIENT_ERROR),
    88: ("CHUNK_FAILED", _AFTER),
    89: ("NO_CONNECTION_AVAILABLE", R.CLIENT_ERROR),
    90: ("SSL_PINNEDPUBKEYNOTMATCH", R.INVALID_CERTIFICATE),  # --pinnedpubkey
    # --cert-status: the stapled OCSP answer is missing, bad, or says revoked; curl's code
    # does not tell which.
    91: ("SSL_INVALIDCERTSTATUS", R.INVALID_CERTIFICATE),
    # curl 7.49+ / 8.x, not in pycurl's constants:
    92: ("HTTP2_STREAM", _AFTER),
    93: ("RECURSIVE_API_CALL", R.CLIENT_ERROR),
    94: ("AUTH_ERROR", _AFTER),
    95: ("HTTP3", _AFTER),
    96: ("QUIC_CONNECT_ERROR", R.HANDSHAKE_FAILURE),
    97: ("PROXY", R.CLIENT_ERROR),
    98: ("SSL_CLIENTCERT", R.HANDSHAKE_FAILURE),  # the server demanded a client certificate
    99: ("UNRECOVERABLE_POLL", R.CLIENT_ERROR),
    100: ("TOO_LARGE", _AFTER),
    101: ("ECH_REQUIRED", R.HANDSHAKE_FAILURE),
}
# Numbers curl retired (their names are "OBSOLETE" in curl.h); listed so that a number the
# header names is never silently unknown.
OBSOLETE = frozenset({20, 24, 29, 32, 40, 44, 46, 50, 51, 57, 62})


def signal_for_curl(
    exit_code: int,
    ssl_verify_result: int | None = None,
    stderr: str = "",
    *,
    openssl_major: int = 3,
) -> Signal:
    """The signal of one curl run: its exit code, ``%{ssl_verify_result}`` and (only for the
    packed ``error:XXXXXXXX:`` code in it) its stderr."""
    entry = EXIT_CODES.get(exit_code)
    if entry is None:
        return Signal(R.CLIENT_ERROR, f"CURLE {exit_code}")
    name, reason = entry
    token = f"CURLE_{name}"
    if exit_code == 60:
        if ssl_verify_result in (0, 1):
            return Signal(R.HOSTNAME_MISMATCH, token)
        if ssl_verify_result is not None:
            return openssl.signal_for_code(ssl_verify_result, openssl_major=openssl_major)
        return Signal(R.INVALID_CERTIFICATE, token, certificate_invalid=True)
    if exit_code == 35:
        packed = openssl_reasons.signal_for_packed_text(stderr)
        if packed is not None:
            return packed
    if reason == _AFTER:
        return Signal(R.OK, token, after_handshake=True)
    assert isinstance(reason, Reason)
    return Signal(reason, token)
