"""GnuTLS verification status -> Reason: the ``gnutls_certificate_status_t`` bits, the fixed
sentence GnuTLS prints for each (gnutls-cli's "- Status:" line), the gnutls_strerror()
constants after "*** Fatal error:", TLS alert numbers, and wget's fixed templates.

Everything matched is a library constant; where a template has a host (wget's "The
certificate of %s has expired"), the host part is a wildcard and never read.

Precedence (several bits at once): the check that stops GnuTLS first on its path. Finding
an issuer comes first, then the issuer's own properties (CA flag, constraints, signature,
algorithm), then the certificate's (critical extensions, dates, purpose), revocation, and
the name last (gnutls-cli checks it after the chain).
"""

from __future__ import annotations

import re

from tlsmatrix.clients.base import Reason
from tlsmatrix.clients.signals._signal import Signal

R = Reason

# bit: (name, reason, sentence printed by gnutls_certificate_verification_status_print)
FLAGS: dict[int, tuple[str, Reason, str]] = {
    1 << 1: ("INVALID", R.INVALID_CERTIFICATE, ""),  # set with every other failure bit
    1 << 5: ("REVOKED", R.REVOKED, "The certificate chain is revoked."),
    1 << 6: ("SIGNER_NOT_FOUND", R.UNKNOWN_ISSUER, "The certificate issuer is unknown."),
    1 << 7: ("SIGNER_NOT_CA", R.NOT_A_CA, "The certificate issuer is not a CA."),
    # GnuTLS's default profile judges signature algorithms (SHA-1); a key-size profile,
    # when configured, sets the same bit: the chain tells a weak key apart.
    1 << 8: (
        "INSECURE_ALGORITHM",
        R.WEAK_SIGNATURE,
        "The certificate chain uses insecure algorithm.",
    ),
    1 << 9: (
        "NOT_ACTIVATED",
        R.NOT_YET_VALID,
        "The certificate chain uses not yet valid certificate.",
    ),
    1 << 10: ("EXPIRED", R.EXPIRED, "The certificate chain uses expired certificate."),
    1 << 11: (
        "SIGNATURE_FAILURE",
        R.BAD_SIGNATURE,
        "The signature in the certificate is invalid.",
    ),
    1 << 12: (
        "REVOCATION_DATA_SUPERSEDED",
        R.INVALID_CERTIFICATE,
        "The revocation or OCSP data are old and have been superseded.",
    ),
    1 << 14: (
        "UNEXPECTED_OWNER",
        R.HOSTNAME_MISMATCH,
        "The name in the certificate does not match the expected.",
    ),
    1 << 15: (
        "REVOCATION_DATA_ISSUED_IN_FUTURE",
        R.INVALID_CERTIFICATE,
        "The revocation or OCSP data are issued with a future date.",
    ),
    # Path length AND name constraints (measured: both set only this bit): vague, so
    # the chain decides which constraint it was.
    1 << 16: (
        "SIGNER_CONSTRAINTS_FAILURE",
        R.INVALID_CERTIFICATE,
        "The certificate chain violates the signer's constraints.",
    ),
    1 << 17: (
        "MISMATCH",
        R.INVALID_CERTIFICATE,
        "The certificate doesn't match the local copy (TOFU).",
    ),
    1 << 18: (
        "PURPOSE_MISMATCH",
        R.WRONG_USAGE,
        "The certificate chain does not match the intended purpose.",
    ),
    1 << 19: (
        "MISSING_OCSP_STATUS",
        R.INVALID_CERTIFICATE,
        "The certificate requires the server to include an OCSP status in its response,"
        " but the OCSP status is missing.",
    ),
    1 << 20: (
        "INVALID_OCSP_STATUS",
        R.INVALID_CERTIFICATE,
        "The received OCSP status response is invalid.",
    ),
    1 << 21: (
        "UNKNOWN_CRIT_EXTENSIONS",
        R.CRITICAL_EXTENSION,
        "The certificate contains an unknown critical extension.",
    ),
}
_BIT = {name: bit for bit, (name, _r, _s) in FLAGS.items()}
PRECEDENCE: tuple[str, ...] = (
    "SIGNER_NOT_FOUND",
    "SIGNER_NOT_CA",
    "SIGNER_CONSTRAINTS_FAILURE",
    "SIGNATURE_FAILURE",
    "INSECURE_ALGORITHM",
    "UNKNOWN_CRIT_EXTENSIONS",
    "NOT_ACTIVATED",
    "EXPIRED",
    "PURPOSE_MISMATCH",
    "REVOKED",
    "REVOCATION_DATA_SUPERSEDED",
    "REVOCATION_DATA_ISSUED_IN_FUTURE",
    "MISSING_OCSP_STATUS",
    "INVALID_OCSP_STATUS",
    "MISMATCH",
    "UNEXPECTED_OWNER",
    "INVALID",
)
_VAGUE = frozenset({"INVALID", "SIGNER_CONSTRAINTS_FAILURE"})


def signal_for_status(status: int) -> Signal:
    """The signal of a ``gnutls_certificate_status_t`` value (0 = trusted)."""
    if status == 0:
        return Signal(R.OK, "GNUTLS_CERT_OK")
    for name in PRECEDENCE:
        if status & _BIT[name]:
            _n, reason, _s = FLAGS[_BIT[name]]
            return Signal(
                reason,
                f"GNUTLS_CERT_{name}",
                issuer_unknown=name == "SIGNER_NOT_FOUND",
                certificate_invalid=name in _VAGUE,
            )
    return Signal(R.INVALID_CERTIFICATE, f"GNUTLS_CERT {status:#x}", certificate_invalid=True)


_STATUS_LINE = re.compile(r"^- Status: (.*)$", re.MULTILINE)
_TRUSTED = "The certificate is trusted."
_NOT_TRUSTED = "The certificate is NOT trusted."


def status_from_sentences(text: str) -> int | None:
    """The status bits gnutls-cli's "- Status:" line states (None without such a line).
    The line is made of GnuTLS's fixed sentences only; each is recognised whole."""
    match = _STATUS_LINE.search(text)
    if match is None:
        return None
    line = match.group(1)
    if line.strip().startswith(_TRUSTED):
        return 0
    status = _BIT["INVALID"] if line.strip().startswith(_NOT_TRUSTED) else 0
    for bit, (_name, _reason, sentence) in FLAGS.items():
        if sentence and sentence in line:
            status |= bit
    return status


# gnutls_strerror() constants after "*** Fatal error: " (GNUTLS_E_* in the comment).
FATAL_ERRORS: dict[str, tuple[str, Reason]] = {
    # A plain-HTTP peer (measured: "HTTP/1.1 400" answers a ClientHello with this).
    "An unexpected TLS packet was received.": ("UNEXPECTED_PACKET", R.NOT_TLS),
    # The server answered with a version this client has disabled.
    "A packet with illegal or unsupported version was received.": (
        "UNSUPPORTED_VERSION_PACKET",
        R.PROTOCOL_VERSION,
    ),
    "A TLS fatal alert has been received.": ("FATAL_ALERT_RECEIVED", R.HANDSHAKE_FAILURE),
    "Could not negotiate a supported cipher suite.": ("UNKNOWN_CIPHER_SUITE", R.HANDSHAKE_FAILURE),
    "No supported cipher suites have been found.": ("NO_CIPHER_SUITES", R.HANDSHAKE_FAILURE),
    "The TLS connection was non-properly terminated.": (
        "PREMATURE_TERMINATION",
        R.HANDSHAKE_FAILURE,
    ),
    "Error in the pull function.": ("PULL_ERROR", R.HANDSHAKE_FAILURE),
    "Error in the push function.": ("PUSH_ERROR", R.HANDSHAKE_FAILURE),
    # Printed with the Status line, which decides; alone it names no cause.
    "Error in the certificate.": ("CERTIFICATE_ERROR", R.INVALID_CERTIFICATE),
    # The peer's certificate does not decode: gnutls_strerror() of the ASN.1 and X.509
    # parsing errors (texts as in libgnutls 3.7; a certificate rule, never a TLS failure).
    "ASN1 parser: Error in DER parsing.": ("ASN1_DER_ERROR", R.MALFORMED_CERTIFICATE),
    "ASN1 parser: Element was not found.": ("ASN1_ELEMENT_NOT_FOUND", R.MALFORMED_CERTIFICATE),
    "ASN1 parser: Identifier was not found": (
        "ASN1_IDENTIFIER_NOT_FOUND",
        R.MALFORMED_CERTIFICATE,
    ),
    "ASN1 parser: Value was not found.": ("ASN1_VALUE_NOT_FOUND", R.MALFORMED_CERTIFICATE),
    "ASN1 parser: Generic parsing error.": ("ASN1_GENERIC_ERROR", R.MALFORMED_CERTIFICATE),
    "ASN1 parser: Value is not valid.": ("ASN1_VALUE_NOT_VALID", R.MALFORMED_CERTIFICATE),
    "ASN1 parser: Error in TAG.": ("ASN1_TAG_ERROR", R.MALFORMED_CERTIFICATE),
    "ASN1 parser: error in implicit tag": ("ASN1_TAG_IMPLICIT", R.MALFORMED_CERTIFICATE),
    "ASN1 parser: Error in type 'ANY'.": ("ASN1_TYPE_ANY_ERROR", R.MALFORMED_CERTIFICATE),
    "ASN1 parser: Syntax error.": ("ASN1_SYNTAX_ERROR", R.MALFORMED_CERTIFICATE),
    "ASN1 parser: Overflow in DER parsing.": ("ASN1_DER_OVERFLOW", R.MALFORMED_CERTIFICATE),
    "The DER time encoding is invalid.": ("ASN1_TIME_ERROR", R.MALFORMED_CERTIFICATE),
    "The provided string has an embedded null.": (
        "ASN1_EMBEDDED_NULL_IN_STRING",
        R.MALFORMED_CERTIFICATE,
    ),
    "The OID is not supported.": ("X509_UNSUPPORTED_OID", R.MALFORMED_CERTIFICATE),
    "Duplicate extension in X.509 certificate.": (
        "X509_DUPLICATE_EXTENSION",
        R.MALFORMED_CERTIFICATE,
    ),
    "Unsupported extension in X.509 certificate.": (
        "X509_UNSUPPORTED_EXTENSION",
        R.MALFORMED_CERTIFICATE,
    ),
    "Unknown Subject Alternative name in X.509 certificate.": (
        "X509_UNKNOWN_SAN",
        R.MALFORMED_CERTIFICATE,
    ),
    "The certificate has unsupported attributes.": (
        "X509_UNSUPPORTED_ATTRIBUTE",
        R.MALFORMED_CERTIFICATE,
    ),
    "Error in the time fields of certificate.": ("CERTIFICATE_TIME_ERROR", R.MALFORMED_CERTIFICATE),
    "The public key is invalid.": ("PK_INVALID_PUBKEY", R.MALFORMED_CERTIFICATE),
    "Unsupported critical extension in X.509 certificate.": (
        "X509_UNSUPPORTED_CRITICAL_EXTENSION",
        R.CRITICAL_EXTENSION,
    ),
    # Verification could not run to a verdict: the chain decides.
    "Error in the certificate verification.": (
        "CERTIFICATE_VERIFICATION_ERROR",
        R.INVALID_CERTIFICATE,
    ),
    # The leaf's keyUsage does not allow the negotiated key exchange / signature.
    "Key usage violation in certificate has been detected.": (
        "KEY_USAGE_VIOLATION",
        R.WRONG_USAGE,
    ),
    "The request is invalid.": ("INVALID_REQUEST", R.CLIENT_ERROR),
}
_FATAL = re.compile(r"^\*\*\* Fatal error: (.*?)\s*$", re.MULTILINE)
_ALERT = re.compile(r"^\*\*\* Received alert \[(\d+)\]", re.MULTILINE)
ALERT_PROTOCOL_VERSION = 70


def signal_for_gnutls_cli(output: str) -> Signal | None:
    """gnutls-cli's stdout+stderr: the Status line decides a certificate failure; else the
    alert number or the fatal-error constant. None when it names nothing."""
    status = status_from_sentences(output)
    if status:
        return signal_for_status(status)
    alert = _ALERT.search(output)
    if alert is not None:
        number = int(alert.group(1))
        reason = R.PROTOCOL_VERSION if number == ALERT_PROTOCOL_VERSION else R.HANDSHAKE_FAILURE
        return Signal(reason, f"TLS alert {number}")
    fatal = _FATAL.search(output)
    if fatal is not None:
        # Any other gnutls_strerror() constant ended the handshake: TLS level.
        name, reason = FATAL_ERRORS.get(fatal.group(1), ("other", R.HANDSHAKE_FAILURE))
        vague = name in ("CERTIFICATE_ERROR", "CERTIFICATE_VERIFICATION_ERROR")
        return Signal(reason, f"GNUTLS_E_{name}", certificate_invalid=vague)
    if status == 0:
        return Signal(R.OK, "GNUTLS_CERT_OK")
    return None


# wget (GnuTLS build) prints one fixed template per status bit, under LC_ALL=C: "%s: The
# certificate of %s has expired." The host is the second %s: matched as a wildcard.
WGET_TEMPLATES: dict[str, str] = {
    "%s: The certificate of %s is not trusted.": "INVALID",
    "%s: The certificate of %s doesn't have a known issuer.": "SIGNER_NOT_FOUND",
    "%s: The certificate of %s has been revoked.": "REVOKED",
    "%s: The certificate signer of %s was not a CA.": "SIGNER_NOT_CA",
    "%s: The certificate of %s was signed using an insecure algorithm.": "INSECURE_ALGORITHM",
    "%s: The certificate of %s is not yet activated.": "NOT_ACTIVATED",
    "%s: The certificate of %s has expired.": "EXPIRED",
    # wget's own checks of the leaf after GnuTLS's:
    "The certificate has expired": "EXPIRED",
    "The certificate has not yet been activated": "NOT_ACTIVATED",
    "The certificate's owner does not match hostname %s": "UNEXPECTED_OWNER",
}


def _template_regex(template: str) -> re.Pattern[str]:
    parts = [re.escape(p) for p in template.split("%s")]
    return re.compile("^" + ".+?".join(parts) + r"\s*$", re.MULTILINE)


_WGET = [(_template_regex(t), name) for t, name in WGET_TEMPLATES.items()]


def status_from_wget(stderr: str) -> int:
    """The status bits wget's certificate messages state (0 when it printed none)."""
    status = 0
    for pattern, name in _WGET:
        if pattern.search(stderr):
            status |= _BIT[name] | _BIT["INVALID"]
    return status


# wget's exit status (wget(1), "EXIT STATUS").
WGET_EXIT: dict[int, Reason] = {
    0: R.OK,
    1: R.CLIENT_ERROR,
    2: R.CLIENT_ERROR,  # parse error (options)
    3: R.CLIENT_ERROR,  # file I/O
    4: R.HANDSHAKE_FAILURE,  # network failure: refined by signal_for_wget
    5: R.INVALID_CERTIFICATE,  # SSL verification failure: the messages say which
    6: R.CLIENT_ERROR,  # authentication
    7: R.CLIENT_ERROR,  # protocol errors
    8: R.OK,  # the server answered with an HTTP error: the certificate was accepted
}
# glibc's strerror/gai_strerror constants wget puts after "failed: ".
SYSTEM_ERRORS: dict[str, Reason] = {
    "Connection refused": R.CONNECTION_REFUSED,
    "No route to host": R.CONNECTION_REFUSED,
    "Network is unreachable": R.CONNECTION_REFUSED,
    "Connection timed out": R.TIMEOUT,
    "Connection reset by peer": R.HANDSHAKE_FAILURE,
    "Name or service not known": R.DNS_FAILURE,
    "Temporary failure in name resolution": R.DNS_FAILURE,
    "No address associated with hostname": R.DNS_FAILURE,
}
_FAILED = re.compile(r"\bfailed: ([A-Za-z ]+)\.\s*$", re.MULTILINE)


def signal_for_wget(exit_code: int, stderr: str) -> Signal:
    """One wget run: its exit status, certificate templates and "failed: <strerror>."."""
    status = status_from_wget(stderr)
    if status:
        return signal_for_status(status)
    if exit_code == 4:
        for match in _FAILED.finditer(stderr):
            if match.group(1) in SYSTEM_ERRORS:
                return Signal(SYSTEM_ERRORS[match.group(1)], match.group(1))
    reason = WGET_EXIT.get(exit_code, R.CLIENT_ERROR)
    return Signal(
        reason,
        f"wget exit {exit_code}",
        certificate_invalid=reason is R.INVALID_CERTIFICATE,
        after_handshake=exit_code == 8,
    )
