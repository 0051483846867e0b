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
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from tlsmatrix.chain.certfacts import (
    _CA_ISSUERS,
    _OCSP,
    _WEAK_HASHES,
    _WEAK_SIGNATURE_OIDS,
    _aia,
    _common_name,
    _crl_urls,
    _is_ca,
    _iso,
    _key_facts,
    _one_line,
    _sans,
    _signature_facts,
    _utc,
    signature_verifies,
)
from tlsmatrix.chain.hostname import leaf_matches_hostname
from tlsmatrix.chain.report import (
    CONTAINS_ANCHOR,
    EXPIRED_IN_CHAIN,
    EXTRA_CERTS,
    HOSTNAME_MISMATCH,
    INCOMPLETE,
    ISSUE_CODES,
    NOT_YET_VALID_IN_CHAIN,
    UNPARSEABLE,
    WEAK_KEY,
    WEAK_SIGNATURE,
    WRONG_ORDER,
    CertInfo,
    ChainIssue,
    ChainReport,
    path_from_leaf,
)

# Bounds: a server may send anything; the analysis must stay quick whatever it sends.
MAX_CERTIFICATES = 256
MAX_SIGNATURE_CHECKS = 2048

# Minimum key sizes below which OpenSSL's default security level (2) refuses a key.
MIN_RSA_BITS = 2048
MIN_DSA_BITS = 2048
MIN_EC_BITS = 224

# Signature algorithms with a broken hash, by OID (covers ones cryptography cannot name).

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
        sans=read("subjectAltName", lambda: _sans(extensions, cert), ()),
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
                    NOT_YET_VALID_IN_CHAIN,
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


__all__ = [
    "CONTAINS_ANCHOR",
    "CertInfo",
    "ChainIssue",
    "ChainReport",
    "EXPIRED_IN_CHAIN",
    "EXTRA_CERTS",
    "HOSTNAME_MISMATCH",
    "INCOMPLETE",
    "ISSUE_CODES",
    "NOT_YET_VALID_IN_CHAIN",
    "UNPARSEABLE",
    "WEAK_KEY",
    "WEAK_SIGNATURE",
    "WRONG_ORDER",
    "analyse_chain",
    "leaf_matches_hostname",
    "path_from_leaf",
    "signature_verifies",
]
