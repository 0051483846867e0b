"""Revocation, checked by tlsmatrix itself: for the leaf and each intermediate on the built
path, the CRL from its distribution point (signature verified with the issuer from that
path), else OCSP where the certificate names a responder (the response's signature
verified too). Downloads are bounded like AIA's (tlsmatrix.chain.aia): http(s) only, a
size cap, no redirect to another host, a deadline per request and for the whole check,
no proxy.

The answer is one of "revoked", "good" (not revoked) or "unknown" with the reason, and
names the CRL or OCSP URL it came from."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtensionOID
from tlsmatrix.chain.aia import ALLOWED_SCHEMES, AIAFetchError, _opener

MAX_CRL_BYTES = 10_000_000  # large public CRLs run to a few MB
MAX_OCSP_BYTES = 100_000
PER_URL_SECONDS = 5.0
TOTAL_SECONDS = 12.0
USER_AGENT = "tlsmatrix-revocation"

REVOKED = "revoked"
GOOD = "good"
UNKNOWN = "unknown"


@dataclass(frozen=True)
class RevocationStatus:
    """One certificate's revocation status and where it came from."""

    subject: str
    status: str  # REVOKED, GOOD or UNKNOWN
    method: str = ""  # "CRL" or "OCSP" when a source answered
    url: str | None = None
    revoked_at: str | None = None  # ISO 8601, for a revoked certificate
    why: str = ""  # for UNKNOWN: one line on why it could not be told

    def text(self) -> str:
        """'revoked (CRL http://…, at 2026-…)', 'not revoked (CRL …)' or 'unknown (why)'."""
        source = f"{self.method} {self.url}" if self.url else self.method
        if self.status == REVOKED:
            return f"revoked ({source}, at {self.revoked_at})"
        if self.status == GOOD:
            return f"not revoked ({source})"
        return f"unknown ({self.why})"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RevocationReport:
    """The leaf's status first, then each intermediate's, along the built path."""

    checked: tuple[RevocationStatus, ...]

    @property
    def leaf(self) -> RevocationStatus | None:
        return self.checked[0] if self.checked else None

    @property
    def revoked(self) -> RevocationStatus | None:
        return next((c for c in self.checked if c.status == REVOKED), None)

    def to_dict(self) -> dict[str, Any]:
        leaf = self.leaf
        return {
            "status": leaf.status if leaf else UNKNOWN,
            "text": leaf.text() if leaf else "unknown (no certificate)",
            "certificates": [c.to_dict() for c in self.checked],
        }


class _Budget:
    """The check's total time: every download takes its deadline from what is left. The
    ``cache`` (URL -> CRL body) may be shared by the checks of one run: a CA's CRL is
    downloaded once."""

    def __init__(self, total: float, cache: dict[str, bytes] | None = None) -> None:
        self.ends = time.monotonic() + total
        self.cache = cache if cache is not None else {}

    def left(self) -> float:
        return min(PER_URL_SECONDS, self.ends - time.monotonic())


def check_path(
    certs: Sequence[x509.Certificate],
    *,
    total_seconds: float = TOTAL_SECONDS,
    now: datetime | None = None,
    cache: dict[str, bytes] | None = None,
) -> RevocationReport:
    """The status of each certificate in ``certs`` (a path, leaf first, each issued by the
    next) except the top, which has no issuer on the path to verify its CRL with."""
    budget = _Budget(total_seconds, cache)
    when = now or datetime.now(UTC)
    checked = []
    for cert, issuer in zip(certs, certs[1:], strict=False):
        checked.append(check_one(cert, issuer, budget, when))
    if len(certs) == 1:
        checked.append(_unknown(certs[0], "no issuer on the path to verify a CRL or OCSP answer"))
    return RevocationReport(tuple(checked))


def check_one(
    cert: x509.Certificate, issuer: x509.Certificate, budget: _Budget, now: datetime
) -> RevocationStatus:
    """CRL first (every http(s) distribution point until one answers), then OCSP."""
    crl_urls, ocsp_urls = crl_urls_of(cert), ocsp_urls_of(cert)
    if not crl_urls and not ocsp_urls:
        return _unknown(cert, "the certificate names no CRL distribution point or OCSP responder")
    problems = []
    for url in crl_urls:
        try:
            return _from_crl(cert, issuer, url, budget, now)
        except RevocationError as exc:
            problems.append(str(exc))
    for url in ocsp_urls:
        try:
            return _from_ocsp(cert, issuer, url, budget)
        except RevocationError as exc:
            problems.append(str(exc))
    return _unknown(cert, "; ".join(problems))


class RevocationError(Exception):
    """One line: why a CRL or OCSP source gave no usable answer."""


def crl_urls_of(cert: x509.Certificate) -> list[str]:
    try:
        points = cert.extensions.get_extension_for_oid(ExtensionOID.CRL_DISTRIBUTION_POINTS).value
    except (x509.ExtensionNotFound, x509.DuplicateExtension, ValueError):
        return []
    return [
        name.value
        for point in points
        for name in point.full_name or ()
        if isinstance(name, x509.UniformResourceIdentifier)
        and urlsplit(name.value).scheme.lower() in ALLOWED_SCHEMES
    ]


def ocsp_urls_of(cert: x509.Certificate) -> list[str]:
    try:
        access = cert.extensions.get_extension_for_oid(
            ExtensionOID.AUTHORITY_INFORMATION_ACCESS
        ).value
    except (x509.ExtensionNotFound, x509.DuplicateExtension, ValueError):
        return []
    return [
        d.access_location.value
        for d in access
        if d.access_method == AuthorityInformationAccessOID.OCSP
        and isinstance(d.access_location, x509.UniformResourceIdentifier)
        and urlsplit(d.access_location.value).scheme.lower() in ALLOWED_SCHEMES
    ]


def _from_crl(
    cert: x509.Certificate, issuer: x509.Certificate, url: str, budget: _Budget, now: datetime
) -> RevocationStatus:
    body = _download(url, budget, MAX_CRL_BYTES, "CRL")
    try:
        crl = x509.load_der_x509_crl(body)
    except ValueError:
        try:
            crl = x509.load_pem_x509_crl(body)
        except ValueError:
            raise RevocationError(f"CRL {url} is not a CRL (DER or PEM)") from None
    if crl.issuer != issuer.subject:
        raise RevocationError(f"CRL {url} is issued by someone else than the certificate's issuer")
    if not crl.is_signature_valid(issuer.public_key()):  # type: ignore[arg-type]
        raise RevocationError(f"CRL {url} has a signature its issuer did not make")
    entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
    name = cert.subject.rfc4514_string()
    if entry is not None:
        return RevocationStatus(name, REVOKED, "CRL", url, _iso(entry.revocation_date_utc))
    if crl.next_update_utc is not None and crl.next_update_utc < now:
        raise RevocationError(f"CRL {url} is stale (next update was {_iso(crl.next_update_utc)})")
    return RevocationStatus(name, GOOD, "CRL", url)


def _from_ocsp(
    cert: x509.Certificate, issuer: x509.Certificate, url: str, budget: _Budget
) -> RevocationStatus:
    request = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1()).build()
    body = _download(
        url,
        budget,
        MAX_OCSP_BYTES,
        "OCSP",
        data=request.public_bytes(serialization.Encoding.DER),
    )
    try:
        answer = ocsp.load_der_ocsp_response(body)
    except ValueError:
        raise RevocationError(f"OCSP {url} answered something that is not OCSP") from None
    if answer.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
        raise RevocationError(f"OCSP {url} answered {answer.response_status.name.lower()}")
    if answer.serial_number != cert.serial_number:
        raise RevocationError(f"OCSP {url} answered about another certificate")
    _check_ocsp_signature(answer, issuer, url)
    name = cert.subject.rfc4514_string()
    if answer.certificate_status is ocsp.OCSPCertStatus.REVOKED:
        at = answer.revocation_time_utc
        return RevocationStatus(name, REVOKED, "OCSP", url, _iso(at) if at else None)
    if answer.certificate_status is ocsp.OCSPCertStatus.GOOD:
        return RevocationStatus(name, GOOD, "OCSP", url)
    raise RevocationError(f"OCSP {url} does not know the certificate")


def _check_ocsp_signature(answer: ocsp.OCSPResponse, issuer: x509.Certificate, url: str) -> None:
    """Signed by the issuer itself, or by a responder certificate the issuer signed."""
    signer = issuer
    for delegate in answer.certificates:
        if delegate.issuer == issuer.subject and _signed_by(delegate, issuer):
            signer = delegate
            break
    if not _verify(signer.public_key(), answer.signature, answer.tbs_response_bytes, answer):
        raise RevocationError(f"OCSP {url} has a signature the issuer did not make")


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _verify(key: Any, signature: bytes, data: bytes, answer: ocsp.OCSPResponse) -> bool:
    algorithm = answer.signature_hash_algorithm
    try:
        if isinstance(key, rsa.RSAPublicKey) and algorithm is not None:
            key.verify(signature, data, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey) and algorithm is not None:
            key.verify(signature, data, ec.ECDSA(algorithm))
        elif isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            key.verify(signature, data)
        else:
            return False
    except InvalidSignature:
        return False
    return True


def _download(url: str, budget: _Budget, limit: int, what: str, data: bytes | None = None) -> bytes:
    if data is None and url in budget.cache:
        return budget.cache[url]
    timeout = budget.left()
    if timeout <= 0:
        raise RevocationError(f"{what} {url} not downloaded: the check's time is spent")
    headers = {"User-Agent": USER_AGENT}
    if data is not None:
        headers["Content-Type"] = "application/ocsp-request"
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with _opener().open(request, timeout=timeout) as response:
            body = response.read(limit + 1)
    except AIAFetchError as exc:  # a refused redirect (another host, another scheme)
        raise RevocationError(f"{what} {url}: {str(exc).split(': ', 1)[-1]}") from None
    except urllib.error.HTTPError as exc:
        raise RevocationError(f"{what} {url} failed: HTTP {exc.code}") from None
    except (TimeoutError, OSError, urllib.error.URLError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, TimeoutError):
            raise RevocationError(f"{what} {url} timed out after {timeout:.1f}s") from None
        raise RevocationError(f"{what} {url} failed: {reason}") from None
    if len(body) > limit:
        raise RevocationError(f"{what} {url} is larger than {limit} bytes")
    if data is None:
        budget.cache[url] = body
    return body


def _unknown(cert: x509.Certificate, why: str) -> RevocationStatus:
    return RevocationStatus(cert.subject.rfc4514_string(), UNKNOWN, why=why)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def path_certificates(graph: Any) -> list[x509.Certificate]:
    """The certificates of the path the diagnosis found best (leaf first): the complete
    one as sent, else the first candidate."""
    if graph is None or not graph.paths:
        return []
    finding = graph.sent_finding()
    path = finding.path or graph.paths[0]
    return [link.cert for link in path.links]


def revocation_explanation(status: RevocationStatus, checks_revocation: bool) -> str:
    """Why a client accepted a leaf that tlsmatrix found revoked (from the client's
    measured ClientInfo.checks_revocation, never its name)."""
    source = f"{status.method} {status.url}"
    if not checks_revocation:
        return f"accepted although revoked ({source}): this client does not check revocation"
    return (
        f"accepted although revoked ({source}): this client checks revocation, but not for "
        "this connection (no CRL or OCSP configured, or a soft failure)"
    )
