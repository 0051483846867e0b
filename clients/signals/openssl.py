"""OpenSSL certificate verify codes (``X509_V_ERR_*``) -> Reason, every one of them.

The table covers every code OpenSSL 3.0 through 3.6 defines (0..100); the tests prove it
against the installed libcrypto builds and x509_vfy.h. ``text`` is the library's own
constant (``X509_verify_cert_error_string``), so a client that reports only that string
(Node's ``UNSPECIFIED`` errors carry it as the message) is mapped by exact equality with a
constant, never by searching words in a message.

Choices that are not obvious:
- 2/20/21 (and the issuer-matching codes 29-31, and a path loop) say only "no issuer
  found": ``unknown_issuer`` with ``issuer_unknown`` so the harness refines it from the chain.
- 13/14 (a malformed date field) are ``malformed_certificate``, not expired/not yet valid.
- CRL and OCSP codes describe revocation data, not a chain certificate: a stale or missing
  CRL is not a revoked certificate. They are ``invalid_certificate`` with ``revocation_data``.
- X509_STRICT profile violations (80-94, Python 3.13's default) are ``malformed_certificate``.
- 22 (the verifier's depth limit) is ``path_length``: the path is longer than allowed.
- Code 24 is ``NO_ISSUER_PUBLIC_KEY`` in OpenSSL 3 and was ``INVALID_CA`` in 1.1.1; pass
  ``openssl_major`` for a client built on 1.1.1.
"""

from __future__ import annotations

from dataclasses import dataclass

from tlsmatrix.clients.base import Reason
from tlsmatrix.clients.signals._signal import Signal

R = Reason


@dataclass(frozen=True)
class VerifyCode:
    code: int
    name: str  # without the X509_V_ERR_ prefix, as Node's err.code spells it
    reason: Reason
    text: str  # X509_verify_cert_error_string() of OpenSSL 3.x
    issuer_unknown: bool = False
    vague: bool = False  # names no cause: the harness decides from the chain
    revocation_data: bool = False  # about a CRL/OCSP response, not a chain certificate

    @property
    def macro(self) -> str:
        return "X509_V_OK" if self.code == 0 else f"X509_V_ERR_{self.name}"

    def signal(self) -> Signal:
        return Signal(
            reason=self.reason,
            token=self.macro,
            verify_code=self.code,
            issuer_unknown=self.issuer_unknown,
            certificate_invalid=self.vague,
        )


def _c(code: int, name: str, reason: Reason, text: str, **flags: bool) -> VerifyCode:
    return VerifyCode(code, name, reason, text, **flags)


_IU = {"issuer_unknown": True}
_VAGUE = {"vague": True}
_REV = {"revocation_data": True}

# One row per code, kept on its own lines (the formatter would triple the table).
# fmt: off
CODES: tuple[VerifyCode, ...] = (
    _c(0, "OK", R.OK, "ok"),
    _c(1, "UNSPECIFIED", R.INVALID_CERTIFICATE, "unspecified certificate verification error",
       **_VAGUE),
    _c(2, "UNABLE_TO_GET_ISSUER_CERT", R.UNKNOWN_ISSUER, "unable to get issuer certificate",
       **_IU),
    _c(3, "UNABLE_TO_GET_CRL", R.INVALID_CERTIFICATE, "unable to get certificate CRL", **_REV),
    _c(4, "UNABLE_TO_DECRYPT_CERT_SIGNATURE", R.BAD_SIGNATURE,
       "unable to decrypt certificate's signature"),
    _c(5, "UNABLE_TO_DECRYPT_CRL_SIGNATURE", R.INVALID_CERTIFICATE,
       "unable to decrypt CRL's signature", **_REV),
    _c(6, "UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY", R.MALFORMED_CERTIFICATE,
       "unable to decode issuer public key"),
    _c(7, "CERT_SIGNATURE_FAILURE", R.BAD_SIGNATURE, "certificate signature failure"),
    _c(8, "CRL_SIGNATURE_FAILURE", R.INVALID_CERTIFICATE, "CRL signature failure", **_REV),
    _c(9, "CERT_NOT_YET_VALID", R.NOT_YET_VALID, "certificate is not yet valid"),
    _c(10, "CERT_HAS_EXPIRED", R.EXPIRED, "certificate has expired"),
    _c(11, "CRL_NOT_YET_VALID", R.INVALID_CERTIFICATE, "CRL is not yet valid", **_REV),
    _c(12, "CRL_HAS_EXPIRED", R.INVALID_CERTIFICATE, "CRL has expired", **_REV),
    _c(13, "ERROR_IN_CERT_NOT_BEFORE_FIELD", R.MALFORMED_CERTIFICATE,
       "format error in certificate's notBefore field"),
    _c(14, "ERROR_IN_CERT_NOT_AFTER_FIELD", R.MALFORMED_CERTIFICATE,
       "format error in certificate's notAfter field"),
    _c(15, "ERROR_IN_CRL_LAST_UPDATE_FIELD", R.INVALID_CERTIFICATE,
       "format error in CRL's lastUpdate field", **_REV),
    _c(16, "ERROR_IN_CRL_NEXT_UPDATE_FIELD", R.INVALID_CERTIFICATE,
       "format error in CRL's nextUpdate field", **_REV),
    _c(17, "OUT_OF_MEM", R.CLIENT_ERROR, "out of memory"),
    _c(18, "DEPTH_ZERO_SELF_SIGNED_CERT", R.SELF_SIGNED, "self-signed certificate"),
    _c(19, "SELF_SIGNED_CERT_IN_CHAIN", R.UNTRUSTED_ROOT,
       "self-signed certificate in certificate chain"),
    _c(20, "UNABLE_TO_GET_ISSUER_CERT_LOCALLY", R.UNKNOWN_ISSUER,
       "unable to get local issuer certificate", **_IU),
    _c(21, "UNABLE_TO_VERIFY_LEAF_SIGNATURE", R.UNKNOWN_ISSUER,
       "unable to verify the first certificate", **_IU),
    _c(22, "CERT_CHAIN_TOO_LONG", R.PATH_LENGTH, "certificate chain too long"),
    _c(23, "CERT_REVOKED", R.REVOKED, "certificate revoked"),
    _c(24, "NO_ISSUER_PUBLIC_KEY", R.MALFORMED_CERTIFICATE,
       "issuer certificate doesn't have a public key"),
    _c(25, "PATH_LENGTH_EXCEEDED", R.PATH_LENGTH, "path length constraint exceeded"),
    _c(26, "INVALID_PURPOSE", R.WRONG_USAGE, "unsuitable certificate purpose"),
    # The store's trust settings distrust the anchor for this purpose (or reject it).
    _c(27, "CERT_UNTRUSTED", R.UNTRUSTED_ROOT, "certificate not trusted"),
    _c(28, "CERT_REJECTED", R.UNTRUSTED_ROOT, "certificate rejected"),
    # "Informational when looking for an issuer": a candidate issuer did not match.
    _c(29, "SUBJECT_ISSUER_MISMATCH", R.UNKNOWN_ISSUER, "subject issuer mismatch", **_IU),
    _c(30, "AKID_SKID_MISMATCH", R.UNKNOWN_ISSUER,
       "authority and subject key identifier mismatch", **_IU),
    _c(31, "AKID_ISSUER_SERIAL_MISMATCH", R.UNKNOWN_ISSUER,
       "authority and issuer serial number mismatch", **_IU),
    _c(32, "KEYUSAGE_NO_CERTSIGN", R.WRONG_USAGE,
       "key usage does not include certificate signing"),
    _c(33, "UNABLE_TO_GET_CRL_ISSUER", R.INVALID_CERTIFICATE,
       "unable to get CRL issuer certificate", **_REV),
    _c(34, "UNHANDLED_CRITICAL_EXTENSION", R.CRITICAL_EXTENSION, "unhandled critical extension"),
    _c(35, "KEYUSAGE_NO_CRL_SIGN", R.WRONG_USAGE, "key usage does not include CRL signing"),
    _c(36, "UNHANDLED_CRITICAL_CRL_EXTENSION", R.INVALID_CERTIFICATE,
       "unhandled critical CRL extension", **_REV),
    # A leaf that carries CA markings under X509_STRICT: a profile violation.
    _c(37, "INVALID_NON_CA", R.MALFORMED_CERTIFICATE,
       "invalid non-CA certificate (has CA markings)"),
    _c(38, "PROXY_PATH_LENGTH_EXCEEDED", R.PATH_LENGTH, "proxy path length constraint exceeded"),
    _c(39, "KEYUSAGE_NO_DIGITAL_SIGNATURE", R.WRONG_USAGE,
       "key usage does not include digital signature"),
    _c(40, "PROXY_CERTIFICATES_NOT_ALLOWED", R.INVALID_CERTIFICATE,
       "proxy certificates not allowed, please set the appropriate flag"),
    _c(41, "INVALID_EXTENSION", R.MALFORMED_CERTIFICATE,
       "invalid or inconsistent certificate extension"),
    _c(42, "INVALID_POLICY_EXTENSION", R.MALFORMED_CERTIFICATE,
       "invalid or inconsistent certificate policy extension"),
    _c(43, "NO_EXPLICIT_POLICY", R.INVALID_CERTIFICATE, "no explicit policy"),
    _c(44, "DIFFERENT_CRL_SCOPE", R.INVALID_CERTIFICATE, "different CRL scope", **_REV),
    _c(45, "UNSUPPORTED_EXTENSION_FEATURE", R.INVALID_CERTIFICATE,
       "unsupported extension feature"),
    _c(46, "UNNESTED_RESOURCE", R.INVALID_CERTIFICATE,
       "RFC 3779 resource not subset of parent's resources"),
    _c(47, "PERMITTED_VIOLATION", R.NAME_CONSTRAINTS, "permitted subtree violation"),
    _c(48, "EXCLUDED_VIOLATION", R.NAME_CONSTRAINTS, "excluded subtree violation"),
    _c(49, "SUBTREE_MINMAX", R.NAME_CONSTRAINTS,
       "name constraints minimum and maximum not supported"),
    _c(50, "APPLICATION_VERIFICATION", R.INVALID_CERTIFICATE, "application verification failure",
       **_VAGUE),
    _c(51, "UNSUPPORTED_CONSTRAINT_TYPE", R.NAME_CONSTRAINTS, "unsupported name constraint type"),
    _c(52, "UNSUPPORTED_CONSTRAINT_SYNTAX", R.NAME_CONSTRAINTS,
       "unsupported or invalid name constraint syntax"),
    _c(53, "UNSUPPORTED_NAME_SYNTAX", R.NAME_CONSTRAINTS, "unsupported or invalid name syntax"),
    _c(54, "CRL_PATH_VALIDATION_ERROR", R.INVALID_CERTIFICATE, "CRL path validation error",
       **_REV),
    # Path building went round in circles without reaching an anchor.
    _c(55, "PATH_LOOP", R.UNKNOWN_ISSUER, "path loop", **_IU),
    _c(56, "SUITE_B_INVALID_VERSION", R.MALFORMED_CERTIFICATE,
       "Suite B: certificate version invalid"),
    _c(57, "SUITE_B_INVALID_ALGORITHM", R.WEAK_KEY, "Suite B: invalid public key algorithm"),
    _c(58, "SUITE_B_INVALID_CURVE", R.WEAK_KEY, "Suite B: invalid ECC curve"),
    _c(59, "SUITE_B_INVALID_SIGNATURE_ALGORITHM", R.WEAK_SIGNATURE,
       "Suite B: invalid signature algorithm"),
    _c(60, "SUITE_B_LOS_NOT_ALLOWED", R.WEAK_KEY, "Suite B: curve not allowed for this LOS"),
    _c(61, "SUITE_B_CANNOT_SIGN_P_384_WITH_P_256", R.WEAK_KEY,
       "Suite B: cannot sign P-384 with P-256"),
    _c(62, "HOSTNAME_MISMATCH", R.HOSTNAME_MISMATCH, "hostname mismatch"),
    _c(63, "EMAIL_MISMATCH", R.HOSTNAME_MISMATCH, "email address mismatch"),
    _c(64, "IP_ADDRESS_MISMATCH", R.HOSTNAME_MISMATCH, "IP address mismatch"),
    _c(65, "DANE_NO_MATCH", R.INVALID_CERTIFICATE, "no matching DANE TLSA records"),
    _c(66, "EE_KEY_TOO_SMALL", R.WEAK_KEY, "EE certificate key too weak"),
    _c(67, "CA_KEY_TOO_SMALL", R.WEAK_KEY, "CA certificate key too weak"),
    _c(68, "CA_MD_TOO_WEAK", R.WEAK_SIGNATURE, "CA signature digest algorithm too weak"),
    _c(69, "INVALID_CALL", R.CLIENT_ERROR, "invalid certificate verification context"),
    _c(70, "STORE_LOOKUP", R.CLIENT_ERROR, "issuer certificate lookup error"),
    _c(71, "NO_VALID_SCTS", R.INVALID_CERTIFICATE,
       "Certificate Transparency required, but no valid SCTs found"),
    _c(72, "PROXY_SUBJECT_NAME_VIOLATION", R.INVALID_CERTIFICATE, "proxy subject name violation"),
    _c(73, "OCSP_VERIFY_NEEDED", R.INVALID_CERTIFICATE, "OCSP verification needed", **_REV),
    _c(74, "OCSP_VERIFY_FAILED", R.INVALID_CERTIFICATE, "OCSP verification failed", **_REV),
    _c(75, "OCSP_CERT_UNKNOWN", R.INVALID_CERTIFICATE, "OCSP unknown cert", **_REV),
    # An algorithm this library cannot use (disabled, like MD5, or unknown): the chain says
    # which, so the harness decides between weak_signature and an unsupported one.
    _c(76, "UNSUPPORTED_SIGNATURE_ALGORITHM", R.INVALID_CERTIFICATE,
       "Cannot find certificate signature algorithm", **_VAGUE),
    _c(77, "SIGNATURE_ALGORITHM_MISMATCH", R.BAD_SIGNATURE,
       "subject signature algorithm and issuer public key algorithm mismatch"),
    _c(78, "SIGNATURE_ALGORITHM_INCONSISTENCY", R.MALFORMED_CERTIFICATE,
       "cert info signature and signature algorithm mismatch"),
    _c(79, "INVALID_CA", R.NOT_A_CA, "invalid CA certificate"),
    _c(80, "PATHLEN_INVALID_FOR_NON_CA", R.MALFORMED_CERTIFICATE,
       "Path length invalid for non-CA cert"),
    _c(81, "PATHLEN_WITHOUT_KU_KEY_CERT_SIGN", R.MALFORMED_CERTIFICATE,
       "Path length given without key usage keyCertSign"),
    _c(82, "KU_KEY_CERT_SIGN_INVALID_FOR_NON_CA", R.MALFORMED_CERTIFICATE,
       "Key usage keyCertSign invalid for non-CA cert"),
    _c(83, "ISSUER_NAME_EMPTY", R.MALFORMED_CERTIFICATE, "Issuer name empty"),
    _c(84, "SUBJECT_NAME_EMPTY", R.MALFORMED_CERTIFICATE, "Subject name empty"),
    _c(85, "MISSING_AUTHORITY_KEY_IDENTIFIER", R.MALFORMED_CERTIFICATE,
       "Missing Authority Key Identifier"),
    _c(86, "MISSING_SUBJECT_KEY_IDENTIFIER", R.MALFORMED_CERTIFICATE,
       "Missing Subject Key Identifier"),
    _c(87, "EMPTY_SUBJECT_ALT_NAME", R.MALFORMED_CERTIFICATE,
       "Empty Subject Alternative Name extension"),
    _c(88, "EMPTY_SUBJECT_SAN_NOT_CRITICAL", R.MALFORMED_CERTIFICATE,
       "Subject empty and Subject Alt Name extension not critical"),
    _c(89, "CA_BCONS_NOT_CRITICAL", R.MALFORMED_CERTIFICATE,
       "Basic Constraints of CA cert not marked critical"),
    _c(90, "AUTHORITY_KEY_IDENTIFIER_CRITICAL", R.MALFORMED_CERTIFICATE,
       "Authority Key Identifier marked critical"),
    _c(91, "SUBJECT_KEY_IDENTIFIER_CRITICAL", R.MALFORMED_CERTIFICATE,
       "Subject Key Identifier marked critical"),
    _c(92, "CA_CERT_MISSING_KEY_USAGE", R.MALFORMED_CERTIFICATE,
       "CA cert does not include key usage extension"),
    _c(93, "EXTENSIONS_REQUIRE_VERSION_3", R.MALFORMED_CERTIFICATE,
       "Using cert extension requires at least X509v3"),
    _c(94, "EC_KEY_EXPLICIT_PARAMS", R.MALFORMED_CERTIFICATE,
       "Certificate public key has explicit ECC parameters"),
    # OpenSSL 3.2+: a raw public key (RFC 7250) that no configured key matches.
    _c(95, "RPK_UNTRUSTED", R.UNTRUSTED_ROOT,
       "Raw public key untrusted, no trusted keys configured"),
    # OpenSSL 3.6+: OCSP responses (status_request_v2 / multi-stapling).
    _c(96, "OCSP_RESP_INVALID", R.INVALID_CERTIFICATE, "OCSP response(s) invalid", **_REV),
    _c(97, "OCSP_SIGNATURE_FAILURE", R.INVALID_CERTIFICATE,
       "OCSP response signature verification failure", **_REV),
    _c(98, "OCSP_NOT_YET_VALID", R.INVALID_CERTIFICATE,
       "OCSP response not yet valid (contains a date in the future)", **_REV),
    _c(99, "OCSP_HAS_EXPIRED", R.INVALID_CERTIFICATE, "OCSP response has expired", **_REV),
    _c(100, "OCSP_NO_RESPONSE", R.INVALID_CERTIFICATE,
       "no OCSP response available for certificate", **_REV),
)
# fmt: on

BY_CODE: dict[int, VerifyCode] = {c.code: c for c in CODES}
BY_NAME: dict[str, VerifyCode] = {c.name: c for c in CODES}
# Texts a later release reworded (OpenSSL 3.6), so both spellings are constants we know.
_LATER_TEXTS = {"certificate is not yet valid or the system clock is incorrect": 9}
BY_TEXT: dict[str, VerifyCode] = {
    **{c.text: c for c in CODES},
    **{text: BY_CODE[code] for text, code in _LATER_TEXTS.items()},
}
ISSUER_UNKNOWN_CODES = frozenset(c.code for c in CODES if c.issuer_unknown)

# OpenSSL 1.1.1 numbered "invalid CA certificate" 24 (3.0 moved it to 79).
_LEGACY_1_1 = {24: _c(24, "INVALID_CA", R.NOT_A_CA, "invalid CA certificate")}


def lookup(code: int, *, openssl_major: int = 3) -> VerifyCode | None:
    """The table entry for a verify code as the given OpenSSL major version numbers it."""
    if openssl_major < 3 and code in _LEGACY_1_1:
        return _LEGACY_1_1[code]
    return BY_CODE.get(code)


def signal_for_code(code: int, *, openssl_major: int = 3) -> Signal:
    """The signal of a verify code; a code this table does not know (a newer OpenSSL) is
    still a certificate rejection, so it is ``invalid_certificate`` for the chain to decide."""
    entry = lookup(code, openssl_major=openssl_major)
    if entry is None:
        return Signal(
            R.INVALID_CERTIFICATE, f"X509_V_ERR {code}", verify_code=code, certificate_invalid=True
        )
    return entry.signal()


def lookup_name(name: str) -> VerifyCode | None:
    """By name, with or without the ``X509_V_ERR_`` prefix (Node's err.code drops it)."""
    key = name.strip().upper()
    key = key.removeprefix("X509_V_ERR_")
    if key == "X509_V_OK":
        key = "OK"
    return BY_NAME.get(key)


def lookup_text(text: str) -> VerifyCode | None:
    """By the library's exact verify-error string (a constant, compared whole)."""
    return BY_TEXT.get(text.strip())
