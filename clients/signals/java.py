"""JSSE failures -> Reason: the CertPathValidatorException reason (BasicReason/PKIXReason
enum name), the exception classes of the cause chain, and a few fixed JDK message
templates whose variable part (a host name) is never read.

TlsProbe.java already prints the cause chain ({class, message} outermost first) and each
CertPathValidatorException's ``getReason()``. What it should add so no message is needed
(see ``signal_for_java``'s keyword arguments):
- ``index``: CertPathValidatorException.getIndex(), the failing certificate's position in
  getCertPath() (0 = leaf), and ``reason_class`` (BasicReason or PKIXReason);
- for ALGORITHM_CONSTRAINED, the failing certificate's ``sig_alg`` (getSigAlgName()),
  ``key_alg`` and ``key_bits`` (RSAKey/DSAKey modulus or p bit length, EC field size), so the
  table tells a weak signature from a weak key;
- ``validator_error``: ValidatorException.getErrorType() (its T_* constant's text);
- the top stack frame's class of the innermost CertificateException
  (``sun.security.util.HostnameChecker`` for a name mismatch).
"""

from __future__ import annotations

from collections.abc import Sequence

from tlsmatrix.clients.base import Reason
from tlsmatrix.clients.signals._signal import Signal

R = Reason

# java.security.cert.CertPathValidatorException.BasicReason
BASIC_REASONS: dict[str, Reason] = {
    "UNSPECIFIED": R.INVALID_CERTIFICATE,
    "EXPIRED": R.EXPIRED,
    "NOT_YET_VALID": R.NOT_YET_VALID,
    "REVOKED": R.REVOKED,
    # Revocation checking on and no answer: the certificate is not known revoked.
    "UNDETERMINED_REVOCATION_STATUS": R.INVALID_CERTIFICATE,
    "INVALID_SIGNATURE": R.BAD_SIGNATURE,
    # A disabled algorithm or key size (jdk.certpath.disabledAlgorithms): which one needs
    # the failing certificate's algorithms; see _constrained().
    "ALGORITHM_CONSTRAINED": R.WEAK_SIGNATURE,
}
# java.security.cert.PKIXReason
PKIX_REASONS: dict[str, Reason] = {
    "NAME_CHAINING": R.UNKNOWN_ISSUER,  # issuer/subject names do not chain
    "INVALID_KEY_USAGE": R.WRONG_USAGE,
    "INVALID_POLICY": R.INVALID_CERTIFICATE,
    "NO_TRUST_ANCHOR": R.UNTRUSTED_ROOT,
    "UNRECOGNIZED_CRIT_EXT": R.CRITICAL_EXTENSION,
    "NOT_CA_CERT": R.NOT_A_CA,
    "PATH_TOO_LONG": R.PATH_LENGTH,
    "INVALID_NAME": R.NAME_CONSTRAINTS,
}
_VAGUE_REASONS = frozenset({"UNSPECIFIED"})

# Exception classes that say enough by themselves (innermost wins).
CLASSES: dict[str, Reason] = {
    "java.security.cert.CertificateExpiredException": R.EXPIRED,
    "java.security.cert.CertificateNotYetValidException": R.NOT_YET_VALID,
    "java.security.cert.CertificateRevokedException": R.REVOKED,
    "java.security.cert.CertificateParsingException": R.MALFORMED_CERTIFICATE,
    "java.security.cert.CertificateEncodingException": R.MALFORMED_CERTIFICATE,
    # "PKIX path building failed": no path to an anchor, for any of the three reasons.
    "sun.security.provider.certpath.SunCertPathBuilderException": R.UNKNOWN_ISSUER,
    "java.security.cert.CertPathBuilderException": R.UNKNOWN_ISSUER,
    "java.net.ConnectException": R.CONNECTION_REFUSED,
    "java.net.NoRouteToHostException": R.CONNECTION_REFUSED,
    "java.net.PortUnreachableException": R.CONNECTION_REFUSED,
    "java.net.UnknownHostException": R.DNS_FAILURE,
    "java.net.SocketTimeoutException": R.TIMEOUT,
    "java.net.http.HttpTimeoutException": R.TIMEOUT,
    "java.net.http.HttpConnectTimeoutException": R.TIMEOUT,
    "java.net.SocketException": R.HANDSHAKE_FAILURE,  # reset / broken pipe
    "java.io.EOFException": R.HANDSHAKE_FAILURE,  # "Remote host terminated the handshake"
    "javax.net.ssl.SSLProtocolException": R.HANDSHAKE_FAILURE,
    "javax.net.ssl.SSLHandshakeException": R.HANDSHAKE_FAILURE,
    "javax.net.ssl.SSLException": R.HANDSHAKE_FAILURE,
    "javax.net.ssl.SSLPeerUnverifiedException": R.HANDSHAKE_FAILURE,
}

# sun.security.validator.ValidatorException.getErrorType() texts.
VALIDATOR_ERRORS: dict[str, Reason] = {
    "No trusted certificate found": R.UNTRUSTED_ROOT,  # T_NO_TRUST_ANCHOR
    "End entity certificate extension check failed": R.WRONG_USAGE,  # T_EE_EXTENSIONS
    "CA certificate extension check failed": R.WRONG_USAGE,  # T_CA_EXTENSIONS
    "Certificate expired": R.EXPIRED,  # T_CERT_EXPIRED
    "Certificate signature validation failed": R.BAD_SIGNATURE,  # T_SIGNATURE_ERROR
    "Certificate chaining error": R.UNKNOWN_ISSUER,  # T_NAME_CHAINING
    "Algorithm constraints check failed": R.WEAK_SIGNATURE,  # T_ALGORITHM_DISABLED
    "Untrusted certificate": R.UNTRUSTED_ROOT,  # T_UNTRUSTED_CERT
}

# Fixed JDK messages by the exception class that carries them, matched from their start;
# what follows (a host) is never read.
_PREFIXES_BY_CLASS: dict[str, tuple[tuple[str, Reason], ...]] = {
    # sun.security.util.HostnameChecker
    "java.security.cert.CertificateException": (
        ("No subject alternative DNS name matching ", R.HOSTNAME_MISMATCH),
        ("No subject alternative names matching IP ", R.HOSTNAME_MISMATCH),
        ("No subject alternative names present", R.HOSTNAME_MISMATCH),
        ("No name matching ", R.HOSTNAME_MISMATCH),
        # HostnameChecker.matchDNS: the expected name is not a valid IDN (an underscore), so
        # no certificate name can match it
        ("Illegal given domain name: ", R.HOSTNAME_MISMATCH),
    ),
    # sun.security.validator.EndEntityChecker (T_EE_EXTENSIONS)
    "sun.security.validator.ValidatorException": (
        ("Extended key usage does not permit ", R.WRONG_USAGE),
        ("KeyUsage does not allow ", R.WRONG_USAGE),
        ("Netscape cert type does not permit ", R.WRONG_USAGE),
    ),
    # SSLSocketImpl / the handshaker
    "javax.net.ssl.SSLException": (("Unsupported or unrecognized SSL message", R.NOT_TLS),),
    "javax.net.ssl.SSLHandshakeException": (
        ("The server selected protocol version ", R.PROTOCOL_VERSION),
        ("No appropriate protocol", R.PROTOCOL_VERSION),
        ("Received fatal alert: protocol_version", R.PROTOCOL_VERSION),
    ),
}
# (exception class, message prefix, reason), in the order above.
MESSAGE_PREFIXES: tuple[tuple[str, str, Reason], ...] = tuple(
    (owner, prefix, reason) for owner, rows in _PREFIXES_BY_CLASS.items() for prefix, reason in rows
)

_WEAK_DIGESTS = ("MD2", "MD5", "SHA1")
# Below these sizes a key is what a disabledAlgorithms "keySize <" rule refuses.
_MIN_BITS = {"RSA": 2048, "DSA": 2048, "DH": 2048, "EC": 224}


def _constrained(sig_alg: str | None, key_alg: str | None, key_bits: int | None) -> Signal:
    """ALGORITHM_CONSTRAINED: a weak digest in the signature, else a short key; without the
    probe's fields, vague (the chain decides)."""
    if sig_alg and sig_alg.upper().replace("-", "").startswith(_WEAK_DIGESTS):
        return Signal(R.WEAK_SIGNATURE, "ALGORITHM_CONSTRAINED")
    if key_alg and key_bits and key_bits < _MIN_BITS.get(key_alg.upper(), 0):
        return Signal(R.WEAK_KEY, "ALGORITHM_CONSTRAINED")
    return Signal(R.WEAK_SIGNATURE, "ALGORITHM_CONSTRAINED", certificate_invalid=True)


def signal_for_java(
    chain: Sequence[tuple[str, str | None]],
    reasons: Sequence[str] = (),
    *,
    validator_error: str | None = None,
    sig_alg: str | None = None,
    key_alg: str | None = None,
    key_bits: int | None = None,
) -> Signal:
    """The signal of one JSSE failure: ``chain`` is TlsProbe's (class, message) list, outermost
    first; ``reasons`` the CertPathValidatorException.getReason() names it printed."""
    for name in reasons:
        if name == "ALGORITHM_CONSTRAINED":
            return _constrained(sig_alg, key_alg, key_bits)
        if name in BASIC_REASONS:
            return Signal(BASIC_REASONS[name], name, certificate_invalid=name in _VAGUE_REASONS)
        if name in PKIX_REASONS:
            reason = PKIX_REASONS[name]
            return Signal(reason, name, issuer_unknown=reason is R.UNKNOWN_ISSUER)
    if validator_error in VALIDATOR_ERRORS:
        reason = VALIDATOR_ERRORS[validator_error]
        return Signal(reason, validator_error, issuer_unknown=reason is R.UNKNOWN_ISSUER)
    for klass, message in reversed(chain):  # innermost first
        for owner, prefix, reason in MESSAGE_PREFIXES:
            if klass == owner and (message or "").startswith(prefix):
                return Signal(reason, f"{klass.rsplit('.', 1)[-1]}: {prefix.strip()}")
        if klass in CLASSES and klass not in _GENERIC:
            return Signal(CLASSES[klass], klass.rsplit(".", 1)[-1], issuer_unknown=_is_path(klass))
    for klass, message in chain:  # outermost: the SSL exception and the alert it carries
        found = _alert(message)
        if found is not None:
            return _alert_signal(*found)
        if klass in CLASSES:
            return Signal(CLASSES[klass], klass.rsplit(".", 1)[-1])
    return Signal(R.CLIENT_ERROR, chain[0][0] if chain else "no exception")


_GENERIC = frozenset(
    {
        "javax.net.ssl.SSLHandshakeException",
        "javax.net.ssl.SSLException",
        "javax.net.ssl.SSLProtocolException",
        "javax.net.ssl.SSLPeerUnverifiedException",
    }
)


def _is_path(klass: str) -> bool:
    return klass.endswith("CertPathBuilderException")


def _alert(message: str | None) -> tuple[str, bool] | None:
    """(alert name, sent by us) from JSSE's message: "(certificate_unknown) ..." for an
    alert it sends, "Received fatal alert: handshake_failure" for one it received."""
    text = message or ""
    if text.startswith("Received fatal alert: "):
        words = text.removeprefix("Received fatal alert: ").split()
        return (words[0], False) if words else None
    if text.startswith("(") and ")" in text:
        name = text[1 : text.index(")")]
        return (name, True) if name and name.replace("_", "").isalpha() else None
    return None


# Alerts JSSE sends when it refuses the certificate (TLS alert names, RFC 8446 6.2).
_SENT_CERTIFICATE_ALERTS = {
    "certificate_expired": R.EXPIRED,
    "certificate_revoked": R.REVOKED,
    "bad_certificate": R.INVALID_CERTIFICATE,
    "unsupported_certificate": R.INVALID_CERTIFICATE,
    "certificate_unknown": R.INVALID_CERTIFICATE,
    "unknown_ca": R.UNKNOWN_ISSUER,
}


def _alert_signal(name: str, sent: bool) -> Signal:
    if name == "protocol_version":
        return Signal(R.PROTOCOL_VERSION, f"alert {name}")
    if sent and name in _SENT_CERTIFICATE_ALERTS:
        reason = _SENT_CERTIFICATE_ALERTS[name]
        return Signal(
            reason,
            f"sent alert {name}",
            issuer_unknown=reason is R.UNKNOWN_ISSUER,
            certificate_invalid=reason is R.INVALID_CERTIFICATE,
        )
    return Signal(R.HANDSHAKE_FAILURE, f"{'sent' if sent else 'received'} alert {name}")
