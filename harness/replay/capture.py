"""Recording a case: what a live server presents, what its AIA URLs serve, and which
certificates of the trust given complete its paths. No private key is read or written.

The AIA downloads reuse the bounds of :mod:`tlsmatrix.chain.aia` (http(s) only, size cap,
few redirects, no proxy, a deadline each) and add two: at most :data:`MAX_AIA_FETCHES`
URLs per capture and :data:`MAX_AIA_DEPTH` levels (an issuer's own AIA URL is followed,
its issuer's too, no further). CRLs named by the certificates are downloaded the same way,
at most :data:`MAX_CRL_FETCHES` of at most :data:`MAX_CRL_BYTES` each, so the replay can
serve their twins."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtensionOID
from tlsmatrix.chain.aia import parse_with_form
from tlsmatrix.chain.certfacts import _aia
from tlsmatrix.clients.base import Target
from tlsmatrix.replay.case import (
    AIAFetch,
    Case,
    CaseCert,
    CaseError,
    CaseTarget,
    CRLFetch,
    Revocation,
    TrustSource,
)

MAX_AIA_FETCHES = 8
MAX_AIA_DEPTH = 3
MAX_CRL_FETCHES = 4
MAX_CRL_BYTES = 5_000_000


def capture_case(
    target: Target,
    *,
    timeout: float = 10.0,
    ca_file: str | None = None,
    case_id: str | None = None,
    results: dict[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> Case:
    """Capture ``target`` into a Case. ``ca_file`` is the trust the anchors come from
    (the default bundle when None); ``results`` is a live ``tlsmatrix/1`` report to embed.

    Raises CaseError (one line) when the server presented nothing usable."""
    from tlsmatrix import __version__
    from tlsmatrix.chain.capture import capture_chain

    when = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    captured = capture_chain(target, timeout)
    if not captured.certificates:
        raise CaseError(f"{target.name}: nothing to capture: {captured.error or 'no certificate'}")
    presented = []
    for i, der in enumerate(captured.certificates):
        try:
            presented.append(x509.load_der_x509_certificate(der))
        except ValueError as exc:
            raise CaseError(
                f"{target.name}: certificate #{i} does not parse, so it cannot be twinned: {exc}"
            ) from None
    fetches = follow_aia(presented, timeout)
    fetched = [c.certificate() for f in fetches for c in f.certificates]
    trust, bundle = _trust(ca_file)
    anchors = find_anchors([*presented, *fetched], bundle)
    every = _distinct([*presented, *fetched, *anchors])
    revocation = tuple(r for r in (revocation_urls(c) for c in every) if r.crl_urls or r.ocsp_urls)
    return Case(
        id=case_id or default_id(target),
        captured_at=when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        tool=f"tlsmatrix {__version__}",
        target=CaseTarget(
            host=target.host,
            port=target.port,
            path=target.path,
            connect_to=target.connect_to,
            sni=None if target.is_ip else target.ascii_host.rstrip("."),
        ),
        tls_version=captured.tls_version,
        presented=tuple(CaseCert.from_cert(c) for c in presented),
        aia=tuple(fetches),
        anchors=tuple(CaseCert.from_cert(c) for c in anchors),
        trust=trust,
        revocation=revocation,
        crls=tuple(fetch_crls(revocation, timeout)),
        results=results,
    )


def default_id(target: Target) -> str:
    text = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{target.ascii_host}-{target.port}").strip("-.")
    return (text or "case")[:128]


def _sha(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def _distinct(certs: Sequence[x509.Certificate]) -> list[x509.Certificate]:
    return list({_sha(c): c for c in certs}.values())


# --- AIA --------------------------------------------------------------------------------


def ca_issuer_urls(cert: x509.Certificate) -> list[str]:
    return _aia_urls(cert, AuthorityInformationAccessOID.CA_ISSUERS)


def _aia_urls(cert: x509.Certificate, method: x509.ObjectIdentifier) -> list[str]:
    try:
        extensions = cert.extensions
    except ValueError:
        return []
    return list(_aia(extensions, method))


def follow_aia(presented: Sequence[x509.Certificate], timeout: float) -> list[AIAFetch]:
    """Download every caIssuers URL of the presented certificates, then of what those
    URLs served, breadth first, within MAX_AIA_FETCHES and MAX_AIA_DEPTH. URLs past a
    bound are recorded as ``skipped`` so the replay knows they existed."""
    out: list[AIAFetch] = []
    seen: set[str] = set()
    level = list(presented)
    for _depth in range(MAX_AIA_DEPTH):
        following: list[x509.Certificate] = []
        for cert in level:
            for url in ca_issuer_urls(cert):
                if url in seen:
                    continue
                seen.add(url)
                if len(out) >= MAX_AIA_FETCHES:
                    out.append(AIAFetch(url, _sha(cert), "skipped", "past the fetch limit"))
                    continue
                fetch = fetch_aia(url, _sha(cert), timeout)
                out.append(fetch)
                following += [c.certificate() for c in fetch.certificates]
        level = following
        if not level:
            break
    for cert in level:  # past the depth bound: recorded, not fetched
        for url in ca_issuer_urls(cert):
            if url not in seen:
                seen.add(url)
                out.append(AIAFetch(url, _sha(cert), "skipped", "past the depth limit"))
    return out


class _Failed(Exception):
    def __init__(self, outcome: str, detail: str) -> None:
        super().__init__(detail)
        self.outcome = outcome
        self.detail = detail


def download(url: str, timeout: float, limit: int) -> bytes:
    """One bounded download (the opener of tlsmatrix.chain.aia: http(s) only, few
    redirects, no proxy). Raises _Failed with an outcome taken from the structured
    signal: the scheme, the HTTP status, the timeout exception."""
    from tlsmatrix.chain.aia import ALLOWED_SCHEMES, AIAFetchError, _opener

    if urlsplit(url).scheme.lower() not in ALLOWED_SCHEMES:
        raise _Failed("refused", "only http and https URLs are followed")
    request = urllib.request.Request(url, headers={"User-Agent": "tlsmatrix capture"})
    try:
        with _opener().open(request, timeout=timeout) as response:
            body = response.read(limit + 1)
    except AIAFetchError as exc:
        raise _Failed("failed", str(exc)) from None
    except urllib.error.HTTPError as exc:
        raise _Failed("not_found", f"HTTP {exc.code}") from None
    except TimeoutError:
        raise _Failed("timeout", f"no answer within {timeout:g}s") from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise _Failed("timeout", f"no answer within {timeout:g}s") from None
        raise _Failed("failed", str(exc.reason)[:200]) from None
    except OSError as exc:
        raise _Failed("failed", (str(exc) or type(exc).__name__)[:200]) from None
    if len(body) > limit:
        raise _Failed("failed", f"larger than {limit} bytes")
    return body


def fetch_aia(url: str, owner: str, timeout: float) -> AIAFetch:
    """One caIssuers URL, downloaded within the AIA bounds and classified."""
    from tlsmatrix.chain.aia import MAX_BYTES

    try:
        body = download(url, timeout, MAX_BYTES)
    except _Failed as exc:
        return AIAFetch(url, owner, exc.outcome, exc.detail)
    encoding, certs = parse_issuers(body)
    if not certs:
        return AIAFetch(url, owner, "no_certificate", f"{len(body)} bytes, no certificate")
    return AIAFetch(url, owner, "ok", "", encoding, tuple(CaseCert.from_cert(c) for c in certs))


def fetch_crls(revocations: Sequence[Revocation], timeout: float) -> list[CRLFetch]:
    """Every distinct CRL URL, downloaded within MAX_CRL_FETCHES and MAX_CRL_BYTES; the
    rest are recorded as ``skipped``."""
    out: list[CRLFetch] = []
    for url in dict.fromkeys(u for r in revocations for u in r.crl_urls):
        if len(out) >= MAX_CRL_FETCHES:
            out.append(CRLFetch(url, "skipped", "past the fetch limit"))
            continue
        try:
            body = download(url, timeout, MAX_CRL_BYTES)
        except _Failed as exc:
            out.append(CRLFetch(url, exc.outcome, exc.detail))
            continue
        crl = parse_crl(body)
        if crl is None:
            out.append(CRLFetch(url, "no_certificate", f"{len(body)} bytes, not a CRL"))
            continue
        encoding = "pem" if body.lstrip().startswith(b"-----") else "der"
        pem = crl.public_bytes(serialization.Encoding.PEM).decode("ascii")
        out.append(CRLFetch(url, "ok", "", encoding, pem))
    return out


def parse_crl(body: bytes) -> x509.CertificateRevocationList | None:
    for load in (x509.load_der_x509_crl, x509.load_pem_x509_crl):
        try:
            return load(body)
        except ValueError:
            continue
    return None


# chain.aia names the forms for people; a capture records only the encoding.
_ENCODINGS = {"DER": "der", "PEM": "pem", "PKCS#7 DER": "pkcs7", "PKCS#7 PEM": "pkcs7"}


def parse_issuers(body: bytes) -> tuple[str | None, list[x509.Certificate]]:
    """(encoding, certificates) of an AIA answer: der, pem or pkcs7."""
    found, form = parse_with_form(body)
    return (_ENCODINGS[form] if form else None), list(found)


# --- trust ------------------------------------------------------------------------------


def default_bundle() -> str | None:
    """The bundle a client with no --ca-file most likely used: OpenSSL's default file,
    else certifi's."""
    import ssl

    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile):
        if candidate and os.path.isfile(candidate):
            return candidate
    try:
        import certifi

        return certifi.where()
    except ImportError:
        return None


def _trust(ca_file: str | None) -> tuple[TrustSource, list[x509.Certificate]]:
    from tlsmatrix.trust.bundle import TrustBundle, TrustBundleError

    path = ca_file or default_bundle()
    source = "ca-file" if ca_file else "native"
    if path is None:
        return TrustSource(source, "", None, 0), []
    try:
        bundle = TrustBundle.load(path)
    except TrustBundleError as exc:
        raise CaseError(str(exc)) from None
    digest = None
    if os.path.isfile(path):
        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    certs = list(bundle.certificates)
    return TrustSource(source, os.path.basename(path), digest, len(certs)), certs


def issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """True when ``issuer``'s name matches and its key verifies ``cert``'s signature
    (old algorithms such as SHA-1 included)."""
    from tlsmatrix.replay.keys import signed_by

    return cert.issuer == issuer.subject and signed_by(
        cert, cert.tbs_certificate_bytes, issuer.public_key()
    )


def find_anchors(
    pool: Sequence[x509.Certificate], bundle: Sequence[x509.Certificate]
) -> list[x509.Certificate]:
    """The bundle certificates whose subject names the issuer of a certificate of
    ``pool`` or of another such anchor (so a cached intermediate and the root above it
    both count). A same-name certificate whose key does not sign is kept too: clients try
    it while building paths, and its twin fails them the same way."""
    anchors: dict[str, x509.Certificate] = {}
    frontier = list(pool)
    by_subject: dict[bytes, list[x509.Certificate]] = {}
    for b in bundle:
        by_subject.setdefault(b.subject.public_bytes(), []).append(b)
    while frontier:
        found = []
        for cert in frontier:
            for candidate in by_subject.get(cert.issuer.public_bytes(), ()):
                sha = _sha(candidate)
                if sha not in anchors:
                    anchors[sha] = candidate
                    found.append(candidate)
        frontier = found
    return list(anchors.values())


def revocation_urls(cert: x509.Certificate) -> Revocation:
    crl: list[str] = []
    for oid in (ExtensionOID.CRL_DISTRIBUTION_POINTS, ExtensionOID.FRESHEST_CRL):
        try:
            points = cert.extensions.get_extension_for_oid(oid)
        except (x509.ExtensionNotFound, x509.DuplicateExtension, ValueError):
            continue
        for point in points.value:
            for name in point.full_name or ():
                if isinstance(name, x509.UniformResourceIdentifier):
                    crl.append(name.value)
    ocsp = _aia_urls(cert, AuthorityInformationAccessOID.OCSP)
    return Revocation(_sha(cert), tuple(crl), tuple(ocsp))
