"""What a server's certificate list says, read without trusting it.

:func:`analyse_chain` is pure: it takes the DER certificates exactly as sent (leaf first),
describes each one and names what is wrong with the list as a whole. It never raises for
anything in the certificates: an unparseable one becomes a :class:`CertInfo` with ``error``
set and the analysis goes on with the rest. Work is bounded (certificates analysed,
signature checks per run) so a hostile list of hundreds of same-named certificates still
finishes quickly.

Issuer linkage compares names *and* checks the signature (``verify_directly_issued_by``),
so a cross-signed root, or a certificate that merely shares its issuer's name, is placed
correctly. Where the signature cannot be checked (unsupported key or algorithm) the name
match alone decides.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtensionOID, NameOID

# Bounds: a server may send anything; the analysis must stay quick whatever it sends.
MAX_CERTIFICATES = 256
MAX_SIGNATURE_CHECKS = 2048

# The issue codes, stable for JSON and the explainer.
INCOMPLETE = "incomplete"
WRONG_ORDER = "wrong_order"
CONTAINS_ANCHOR = "contains_anchor"
EXTRA_CERTS = "extra_certs"
EXPIRED_IN_CHAIN = "expired_in_chain"
HOSTNAME_MISMATCH = "hostname_mismatch"
WEAK_KEY = "weak_key"
WEAK_SIGNATURE = "weak_signature"
UNPARSEABLE = "unparseable"  # a sent certificate could not be decoded at all

ISSUE_CODES = frozenset(
    {
        INCOMPLETE,
        WRONG_ORDER,
        CONTAINS_ANCHOR,
        EXTRA_CERTS,
        EXPIRED_IN_CHAIN,
        HOSTNAME_MISMATCH,
        WEAK_KEY,
        WEAK_SIGNATURE,
        UNPARSEABLE,
    }
)

# Minimum key sizes below which OpenSSL's default security level (2) refuses a key.
MIN_RSA_BITS = 2048
MIN_DSA_BITS = 2048
MIN_EC_BITS = 224

# Signature algorithms with a broken hash, by OID (covers ones cryptography cannot name).
_WEAK_SIGNATURE_OIDS = {
    "1.2.840.113549.1.1.2": "md2WithRSAEncryption",
    "1.2.840.113549.1.1.3": "md4WithRSAEncryption",
    "1.2.840.113549.1.1.4": "md5WithRSAEncryption",
    "1.2.840.113549.1.1.5": "sha1WithRSAEncryption",
    "1.3.14.3.2.29": "sha1WithRSASignature",
    "1.2.840.10045.4.1": "ecdsa-with-SHA1",
    "1.2.840.10040.4.3": "dsa-with-sha1",
}
_WEAK_HASHES = frozenset({"sha1", "md5"})


@dataclass(frozen=True)
class CertInfo:
    """One sent certificate, described. Times are ISO 8601 UTC; ``serial`` is hex.

    ``error`` is set when the certificate (or part of it) could not be decoded; the
    fields that could not be read are then empty/None. ``sha256`` is always the
    fingerprint of the bytes as sent."""

    index: int
    sha256: str
    subject: str = ""
    issuer: str = ""
    common_name: str | None = None
    sans: tuple[str, ...] = ()
    not_before: str | None = None
    not_after: str | None = None
    serial: str | None = None
    key_type: str | None = None
    key_bits: int | None = None
    signature_algorithm: str | None = None
    signature_hash: str | None = None
    is_ca: bool = False
    self_signed: bool = False
    aia_ca_issuers: tuple[str, ...] = ()
    aia_ocsp: tuple[str, ...] = ()
    crl_urls: tuple[str, ...] = ()
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for key, value in d.items():
            if isinstance(value, tuple):
                d[key] = list(value)
        return d


@dataclass(frozen=True)
class ChainIssue:
    """One problem with the presented list: a stable ``code`` and a plain-English
    ``message``. ``index`` points at the certificate concerned, when there is one."""

    code: str
    message: str
    index: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "index": self.index}


@dataclass(frozen=True)
class ChainReport:
    """The analysis of one presented certificate list.

    ``path`` lists the indices (into ``certificates``) of the certificates that form the
    path from the leaf, in path order, as far as the sent certificates reach.
    ``expected_anchor`` is the name (RFC 4514) of the issuer the client must supply from
    its store to finish that path (None when it ends in a self-signed certificate): for a
    complete chain that is the root. ``missing_issuer`` is set, to the same name, only when
    the chain is ``incomplete``: the path stops at the leaf, so an intermediate is missing
    and the client must have it in its store or fetch it via AIA. (Whether a CA the path
    ends at is itself issued by a root cannot be told from the chain alone: compare
    ``expected_anchor`` with the client's trust store for that.)"""

    certificates: tuple[CertInfo, ...]
    issues: tuple[ChainIssue, ...]
    path: tuple[int, ...] = ()
    missing_issuer: str | None = None
    expected_anchor: str | None = None
    hostname: str | None = None
    checked_at: str = ""

    @property
    def issue_codes(self) -> frozenset[str]:
        return frozenset(issue.code for issue in self.issues)

    @property
    def leaf(self) -> CertInfo | None:
        return self.certificates[0] if self.certificates else None

    def issues_with(self, code: str) -> tuple[ChainIssue, ...]:
        return tuple(issue for issue in self.issues if issue.code == code)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (lists, strings, numbers, None only)."""
        return {
            "hostname": self.hostname,
            "checked_at": self.checked_at,
            "certificates": [c.to_dict() for c in self.certificates],
            "path": list(self.path),
            "missing_issuer": self.missing_issuer,
            "expected_anchor": self.expected_anchor,
            "issues": [i.to_dict() for i in self.issues],
        }


def path_from_leaf(report: ChainReport) -> tuple[CertInfo, ...]:
    """The sent certificates that form the path from the leaf, in path order."""
    return tuple(report.certificates[i] for i in report.path)


# --- analysis ---------------------------------------------------------------------------


def analyse_chain(
    certs: Sequence[bytes], hostname: str | None, now: datetime | None = None
) -> ChainReport:
    """Describe ``certs`` (DER, in the order sent, leaf first) and list their issues.

    ``hostname`` is the name (or IP literal) the client checks; None skips that check.
    ``now`` defaults to the current time (naive datetimes are taken as UTC). Never raises
    for anything in ``certs``."""
    now = _utc(now or datetime.now(UTC))
    issues: list[ChainIssue] = []
    sent = list(certs)
    if len(sent) > MAX_CERTIFICATES:
        issues.append(
            ChainIssue(
                EXTRA_CERTS,
                f"The server sent {len(sent)} certificates; only the first "
                f"{MAX_CERTIFICATES} were analysed and no real chain needs that many.",
            )
        )
        sent = sent[:MAX_CERTIFICATES]

    linker = _Linker()
    parsed: list[x509.Certificate | None] = []
    infos: list[CertInfo] = []
    for index, der in enumerate(sent):
        cert, info = _describe(index, bytes(der), linker)
        parsed.append(cert)
        infos.append(info)

    for info in infos:
        if parsed[info.index] is None:
            issues.append(
                ChainIssue(
                    UNPARSEABLE,
                    f"Certificate {info.index} could not be decoded ({info.error}); "
                    "clients abort the handshake on it.",
                    info.index,
                )
            )

    path, needed, cycle = _build_path(parsed, infos, linker)
    # Incomplete: the path stops at the leaf (or at any non-CA certificate, which cannot
    # be issued by a root the client trusts), or it loops without reaching a root.
    stops_early = len(path) == 1 or (bool(path) and not infos[path[-1]].is_ca)
    missing = needed if needed and (cycle or stops_early) else None
    issues.extend(_path_issues(parsed, infos, path, missing, cycle))
    issues.extend(_validity_issues(parsed, infos, now))
    if hostname and parsed and parsed[0] is not None:
        issues.extend(_hostname_issues(parsed[0], hostname))
    issues.extend(_strength_issues(parsed, infos))

    return ChainReport(
        certificates=tuple(infos),
        issues=tuple(issues),
        path=tuple(path),
        missing_issuer=missing,
        expected_anchor=needed,
        hostname=hostname,
        checked_at=_iso(now),
    )


class _Linker:
    """Decides "child was issued by parent": names equal and the signature verifies.

    Results are memoised and the number of signature checks is bounded; past the
    bound (or when a signature cannot be checked at all) the name match decides."""

    def __init__(self) -> None:
        self._memo: dict[tuple[int, int], bool] = {}
        self.checks = 0

    def issued_by(self, child: x509.Certificate, parent: x509.Certificate) -> bool:
        key = (id(child), id(parent))
        if key not in self._memo:
            self._memo[key] = self._decide(child, parent)
        return self._memo[key]

    def _decide(self, child: x509.Certificate, parent: x509.Certificate) -> bool:
        try:
            if child.issuer != parent.subject:
                return False
        except Exception:  # noqa: BLE001 - an undecodable name links to nothing
            return False
        if self.checks >= MAX_SIGNATURE_CHECKS:
            return True
        self.checks += 1
        verified = signature_verifies(child, parent)
        return True if verified is None else verified  # unknown: the names decide


def signature_verifies(child: x509.Certificate, parent: x509.Certificate) -> bool | None:
    """Whether ``parent``'s key verifies ``child``'s signature: True, False, or None when
    it cannot be checked (a key type or algorithm cryptography does not support).

    cryptography's ``verify_directly_issued_by`` refuses SHA-1 and MD5 signatures; those
    are checked here with the raw public-key primitives, which still allow them, because
    legacy chains must still be linked correctly to be reported."""
    try:
        child.verify_directly_issued_by(parent)
        return True
    except InvalidSignature:
        return False
    except (ValueError, TypeError, UnsupportedAlgorithm):
        pass  # name mismatch (excluded by callers), unsupported algorithm or key
    except Exception:  # noqa: BLE001 - a hostile certificate must not crash the caller
        return False
    try:
        return _verify_legacy(child, parent)
    except InvalidSignature:
        return False
    except Exception:  # noqa: BLE001 - unsupported here as well
        return None


_LEGACY_HASHES: dict[str, tuple[str, type[hashes.HashAlgorithm]]] = {
    "1.2.840.113549.1.1.4": ("rsa", hashes.MD5),
    "1.2.840.113549.1.1.5": ("rsa", hashes.SHA1),
    "1.3.14.3.2.29": ("rsa", hashes.SHA1),
    "1.2.840.10045.4.1": ("ecdsa", hashes.SHA1),
    "1.2.840.10040.4.3": ("dsa", hashes.SHA1),
}


def _verify_legacy(child: x509.Certificate, parent: x509.Certificate) -> bool | None:
    """Verify a SHA-1/MD5 signature; None when the algorithm is not one of those."""
    entry = _LEGACY_HASHES.get(child.signature_algorithm_oid.dotted_string)
    if entry is None:
        return None
    kind, hash_type = entry
    key = parent.public_key()
    data, signature = child.tbs_certificate_bytes, child.signature
    if kind == "rsa" and isinstance(key, rsa.RSAPublicKey):
        key.verify(signature, data, padding.PKCS1v15(), hash_type())
    elif kind == "ecdsa" and isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(signature, data, ec.ECDSA(hash_type()))
    elif kind == "dsa" and isinstance(key, dsa.DSAPublicKey):
        key.verify(signature, data, hash_type())
    else:
        return False  # the algorithm does not fit the issuer's key type
    return True


def _describe(index: int, der: bytes, linker: _Linker) -> tuple[x509.Certificate | None, CertInfo]:
    fingerprint = hashlib.sha256(der).hexdigest()
    try:
        cert = x509.load_der_x509_certificate(der)
    except Exception as exc:  # noqa: BLE001 - any decoding failure is reported, not raised
        return None, CertInfo(index=index, sha256=fingerprint, error=_one_line(exc))

    errors: list[str] = []

    def read(what: str, get: Any, default: Any) -> Any:
        try:
            return get()
        except Exception as exc:  # noqa: BLE001 - lazily parsed fields may be malformed
            errors.append(f"{what}: {_one_line(exc)}")
            return default

    subject = read("subject", lambda: cert.subject.rfc4514_string(), "")
    issuer = read("issuer", lambda: cert.issuer.rfc4514_string(), "")
    key_type, key_bits = read("public key", lambda: _key_facts(cert), (None, None))
    sig_name, sig_hash = read("signature algorithm", lambda: _signature_facts(cert), (None, None))
    extensions = read("extensions", lambda: cert.extensions, None)
    info = CertInfo(
        index=index,
        sha256=fingerprint,
        subject=subject,
        issuer=issuer,
        common_name=read("common name", lambda: _common_name(cert.subject), None),
        sans=read("subjectAltName", lambda: _sans(extensions), ()),
        not_before=read("notBefore", lambda: _iso(cert.not_valid_before_utc), None),
        not_after=read("notAfter", lambda: _iso(cert.not_valid_after_utc), None),
        serial=read("serial", lambda: format(cert.serial_number, "x"), None),
        key_type=key_type,
        key_bits=key_bits,
        signature_algorithm=sig_name,
        signature_hash=sig_hash,
        is_ca=read("basicConstraints", lambda: _is_ca(extensions), False),
        self_signed=read("self-signature", lambda: linker.issued_by(cert, cert), False),
        aia_ca_issuers=read("AIA", lambda: _aia(extensions, _CA_ISSUERS), ()),
        aia_ocsp=read("AIA", lambda: _aia(extensions, _OCSP), ()),
        crl_urls=read("CRL distribution points", lambda: _crl_urls(extensions), ()),
        error="; ".join(dict.fromkeys(errors)) or None,
    )
    return cert, info


def _build_path(
    parsed: list[x509.Certificate | None], infos: list[CertInfo], linker: _Linker
) -> tuple[list[int], str | None, bool]:
    """Follow issuers from the leaf through the sent certificates.

    Returns (path indices, the issuer name the client must supply or None when the path
    ends in a self-signed certificate, whether the path loops back on itself). Among
    several sent candidates the next one in sent order wins, then any later one, then an
    earlier one: that is the order a client would reasonably try."""
    if not parsed or parsed[0] is None:
        return [], None, False
    by_subject: dict[x509.Name, list[int]] = {}
    for i, candidate in enumerate(parsed):
        try:
            if candidate is not None:
                by_subject.setdefault(candidate.subject, []).append(i)
        except Exception:  # noqa: BLE001 - an undecodable name links to nothing
            continue
    path = [0]
    used = {infos[0].sha256}  # by content: a duplicate is not a second link
    while True:
        current = path[-1]
        cert = parsed[current]
        assert cert is not None
        if infos[current].self_signed:
            return path, None, False
        try:
            named = by_subject.get(cert.issuer, [])
        except Exception:  # noqa: BLE001
            named = []
        # Next in sent order first, then later ones, then earlier ones.
        order = sorted(named, key=lambda i, c=current: (i < c, i))
        nxt = next(
            (
                i
                for i in order
                if infos[i].sha256 not in used and linker.issued_by(cert, _present(parsed[i]))
            ),
            None,
        )
        if nxt is None:
            loops = any(linker.issued_by(cert, _present(parsed[i])) for i in order)
            return path, infos[current].issuer, loops
        path.append(nxt)
        used.add(infos[nxt].sha256)


def _present(cert: x509.Certificate | None) -> x509.Certificate:
    assert cert is not None
    return cert


def _path_issues(
    parsed: list[x509.Certificate | None],
    infos: list[CertInfo],
    path: list[int],
    missing: str | None,
    cycle: bool,
) -> list[ChainIssue]:
    issues: list[ChainIssue] = []
    if not path:
        return issues
    last = path[-1]
    if missing is not None:
        where = f"the leaf (certificate {last})" if last == 0 else f"certificate {last}"
        if cycle:
            message = (
                f"The chain never reaches a root: the sent certificates issue each other in a "
                f"loop ending at {where}, issued by '{missing}'; a client must find a trust "
                "anchor for it in its store."
            )
        else:
            message = (
                f"The chain is incomplete: the issuer of {where}, '{missing}', was not sent; "
                "a client must find it in its trust store or fetch it via AIA."
            )
        issues.append(ChainIssue(INCOMPLETE, message, last))
    for before, after in zip(path, path[1:], strict=False):
        if after < before:
            issues.append(
                ChainIssue(
                    WRONG_ORDER,
                    f"Certificate {before} ('{infos[before].subject}') is issued by "
                    f"certificate {after}, which was sent before it; TLS 1.2 requires each "
                    "certificate to be followed by its issuer.",
                    after,
                )
            )
    for i in path[1:]:
        if infos[i].self_signed:
            issues.append(
                ChainIssue(
                    CONTAINS_ANCHOR,
                    f"Certificate {i} is a self-signed root ('{infos[i].subject}'); "
                    "sending it is useless (clients must already trust it) and clients "
                    "that do not trust it report it as an untrusted root.",
                    i,
                )
            )
    on_path = set(path)
    first_of: dict[str, int] = {}
    for info in infos:
        first_of.setdefault(info.sha256, info.index)
    for info in infos:
        i = info.index
        if i in on_path or parsed[i] is None:
            continue
        original = first_of[info.sha256]
        if original != i:
            message = f"Certificate {i} is a duplicate of certificate {original}."
        else:
            kind = "self-signed certificate" if info.self_signed else "certificate"
            message = (
                f"Certificate {i} ('{info.subject}') is an unrelated {kind}: it is not "
                "on the path from the leaf."
            )
        issues.append(ChainIssue(EXTRA_CERTS, message, i))
    return issues


def _validity_issues(
    parsed: list[x509.Certificate | None], infos: list[CertInfo], now: datetime
) -> list[ChainIssue]:
    issues = []
    for cert, info in zip(parsed, infos, strict=True):
        if cert is None:
            continue
        try:
            start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
        except Exception:  # noqa: BLE001 - reported in CertInfo.error already
            continue
        what = "the leaf" if info.index == 0 else f"certificate {info.index}"
        if now > end:
            issues.append(
                ChainIssue(
                    EXPIRED_IN_CHAIN,
                    f"{what.capitalize()} ('{info.subject}') expired on {_iso(end)}.",
                    info.index,
                )
            )
        elif now < start:
            issues.append(
                ChainIssue(
                    EXPIRED_IN_CHAIN,
                    f"{what.capitalize()} ('{info.subject}') is not valid yet: "
                    f"not before {_iso(start)}.",
                    info.index,
                )
            )
    return issues


def _hostname_issues(leaf: x509.Certificate, hostname: str) -> list[ChainIssue]:
    matched, why = leaf_matches_hostname(leaf, hostname)
    if matched:
        return []
    return [
        ChainIssue(
            HOSTNAME_MISMATCH, f"The leaf certificate is not valid for '{hostname}': {why}.", 0
        )
    ]


def leaf_matches_hostname(leaf: x509.Certificate, hostname: str) -> tuple[bool, str]:
    """Whether ``leaf`` covers ``hostname`` as modern clients decide it (RFC 6125 via
    service_identity): DNS SANs with wildcards for names, IP SANs for IP literals, the
    common name ignored, a trailing dot ignored, IDN compared in punycode.

    Returns (matched, why-not)."""
    from service_identity.exceptions import CertificateError
    from service_identity.hazmat import DNS_ID, DNSPattern, IPAddress_ID, IPAddressPattern

    host = hostname.strip().strip("[]").rstrip(".")
    try:
        sans = leaf.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
        general_names: x509.SubjectAlternativeName | None = sans.value  # type: ignore[assignment]
    except x509.ExtensionNotFound:
        general_names = None
    except Exception as exc:  # noqa: BLE001 - malformed extension
        return False, f"its subjectAltName cannot be decoded ({_one_line(exc)})"
    if general_names is None:
        cn = _common_name(leaf.subject)
        extra = f" (its common name '{cn}' is ignored by modern clients)" if cn else ""
        return False, f"it has no subjectAltName{extra}"

    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if ip is not None:
        ips = general_names.get_values_for_type(x509.IPAddress)
        service_id = IPAddress_ID(ip)
        if any(service_id.verify(IPAddressPattern(pattern=address)) for address in ips):
            return True, ""
        shown = ", ".join(str(a) for a in ips) or "none"
        return False, f"no IP address SAN matches (IP SANs: {shown})"

    try:
        wire = host.encode("idna").decode("ascii") if not host.isascii() else host
        service_id = DNS_ID(wire)
    except (UnicodeError, ValueError) as exc:
        return False, f"'{hostname}' is not a valid DNS name ({_one_line(exc)})"
    names = general_names.get_values_for_type(x509.DNSName)
    for name in names:
        try:
            pattern = DNSPattern.from_bytes(name.encode("utf-8"))
        except (CertificateError, UnicodeError, ValueError):
            continue  # an invalid pattern matches nothing
        if service_id.verify(pattern):
            return True, ""
    shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
    return False, f"no DNS SAN matches (DNS SANs: {shown or 'none'})"


def _strength_issues(
    parsed: list[x509.Certificate | None], infos: list[CertInfo]
) -> list[ChainIssue]:
    issues = []
    for cert, info in zip(parsed, infos, strict=True):
        if cert is None:
            continue
        what = "The leaf" if info.index == 0 else f"Certificate {info.index}"
        minimum = {"RSA": MIN_RSA_BITS, "DSA": MIN_DSA_BITS, "EC": MIN_EC_BITS}.get(
            info.key_type or ""
        )
        if minimum and info.key_bits is not None and info.key_bits < minimum:
            issues.append(
                ChainIssue(
                    WEAK_KEY,
                    f"{what} ('{info.subject}') has a {info.key_bits}-bit {info.key_type} key; "
                    f"OpenSSL's default security level needs at least {minimum} bits.",
                    info.index,
                )
            )
        if not info.self_signed and _weak_signature(cert, info):
            issues.append(
                ChainIssue(
                    WEAK_SIGNATURE,
                    f"{what} ('{info.subject}') is signed with "
                    f"{info.signature_algorithm or info.signature_hash}, a broken hash that "
                    "current clients refuse.",
                    info.index,
                )
            )
    return issues


def _weak_signature(cert: x509.Certificate, info: CertInfo) -> bool:
    try:
        oid = cert.signature_algorithm_oid.dotted_string
    except Exception:  # noqa: BLE001
        oid = ""
    return oid in _WEAK_SIGNATURE_OIDS or (info.signature_hash or "") in _WEAK_HASHES


# --- field extraction -------------------------------------------------------------------

_CA_ISSUERS = AuthorityInformationAccessOID.CA_ISSUERS
_OCSP = AuthorityInformationAccessOID.OCSP


def _key_facts(cert: x509.Certificate) -> tuple[str | None, int | None]:
    try:
        key = cert.public_key()
    except (UnsupportedAlgorithm, ValueError):
        try:
            return f"unsupported ({cert.public_key_algorithm_oid.dotted_string})", None
        except Exception:  # noqa: BLE001
            return "unsupported", None
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC", key.curve.key_size
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", 456
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size
    return type(key).__name__, None


def _signature_facts(cert: x509.Certificate) -> tuple[str, str | None]:
    oid = cert.signature_algorithm_oid
    name = getattr(oid, "_name", None)
    if not name or name == "Unknown OID":
        name = _WEAK_SIGNATURE_OIDS.get(oid.dotted_string, oid.dotted_string)
    try:
        hash_algorithm = cert.signature_hash_algorithm
    except UnsupportedAlgorithm:
        hash_algorithm = None
    return name, hash_algorithm.name if hash_algorithm is not None else None


def _common_name(name: x509.Name) -> str | None:
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not values:
        return None
    value = values[0].value
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def _extension(extensions: x509.Extensions | None, oid: x509.ObjectIdentifier) -> Any:
    if extensions is None:
        return None
    try:
        return extensions.get_extension_for_oid(oid).value
    except x509.ExtensionNotFound:
        return None


def _sans(extensions: x509.Extensions | None) -> tuple[str, ...]:
    value = _extension(extensions, ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    if value is None:
        return ()
    dns = value.get_values_for_type(x509.DNSName)
    ips = [str(ip) for ip in value.get_values_for_type(x509.IPAddress)]
    return tuple(dns + ips)


def _is_ca(extensions: x509.Extensions | None) -> bool:
    value = _extension(extensions, ExtensionOID.BASIC_CONSTRAINTS)
    return bool(value is not None and value.ca)


def _aia(extensions: x509.Extensions | None, method: x509.ObjectIdentifier) -> tuple[str, ...]:
    value = _extension(extensions, ExtensionOID.AUTHORITY_INFORMATION_ACCESS)
    if value is None:
        return ()
    return tuple(
        d.access_location.value
        for d in value
        if d.access_method == method
        and isinstance(d.access_location, x509.UniformResourceIdentifier)
    )


def _crl_urls(extensions: x509.Extensions | None) -> tuple[str, ...]:
    value = _extension(extensions, ExtensionOID.CRL_DISTRIBUTION_POINTS)
    if value is None:
        return ()
    urls: list[str] = []
    for point in value:
        for name in point.full_name or ():
            if isinstance(name, x509.UniformResourceIdentifier):
                urls.append(name.value)
    return tuple(urls)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _iso(moment: datetime) -> str:
    return _utc(moment).isoformat().replace("+00:00", "Z")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]


__all__ = [
    "CONTAINS_ANCHOR",
    "EXPIRED_IN_CHAIN",
    "EXTRA_CERTS",
    "HOSTNAME_MISMATCH",
    "INCOMPLETE",
    "ISSUE_CODES",
    "UNPARSEABLE",
    "WEAK_KEY",
    "WEAK_SIGNATURE",
    "WRONG_ORDER",
    "CertInfo",
    "ChainIssue",
    "ChainReport",
    "analyse_chain",
    "leaf_matches_hostname",
    "path_from_leaf",
    "signature_verifies",
]
