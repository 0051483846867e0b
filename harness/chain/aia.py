"""Downloading issuer certificates from AIA caIssuers URLs, within hard bounds: http(s)
only, a size cap, few redirects (each checked again), a deadline per request, no proxy."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs7

MAX_BYTES = 1_000_000
MAX_REDIRECTS = 3
ALLOWED_SCHEMES = ("http", "https")


class AIAFetchError(Exception):
    """One line saying what went wrong with which URL."""


@dataclass(frozen=True)
class Fetched:
    url: str
    certificates: tuple[x509.Certificate, ...]


class _Redirects(urllib.request.HTTPRedirectHandler):
    max_redirections = MAX_REDIRECTS

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        if urlsplit(newurl).scheme not in ALLOWED_SCHEMES:
            raise AIAFetchError(f"{req.full_url} redirects to a non-http(s) URL: {newurl}")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _opener() -> urllib.request.OpenerDirector:
    # ProxyHandler({}): the download goes to the URL itself, never through a proxy.
    return urllib.request.build_opener(urllib.request.ProxyHandler({}), _Redirects())


def fetch_issuer(url: str, timeout: float) -> Fetched:
    """Download ``url`` and parse it as DER, PEM or PKCS#7 (certs-only).

    Raises AIAFetchError (one line) for a bad scheme, an HTTP error, a timeout, an
    oversized answer or content that holds no certificate."""
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise AIAFetchError(f"refusing to fetch {url}: only http and https AIA URLs are followed")
    started = time.monotonic()
    request = urllib.request.Request(url, headers={"User-Agent": "tlsmatrix fix-chain"})
    try:
        with _opener().open(request, timeout=timeout) as response:
            body = response.read(MAX_BYTES + 1)
    except AIAFetchError:
        raise
    except urllib.error.HTTPError as exc:
        if 300 <= exc.code < 400:  # urllib refused the redirect (scheme, loop or count)
            raise AIAFetchError(f"AIA download {url}: redirect refused ({exc.reason})") from None
        raise AIAFetchError(f"AIA download {url} failed: HTTP {exc.code}") from None
    except (TimeoutError, OSError, urllib.error.URLError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, TimeoutError) or "timed out" in str(reason):
            waited = time.monotonic() - started
            raise AIAFetchError(f"AIA download {url} timed out after {waited:.1f}s") from None
        raise AIAFetchError(f"AIA download {url} failed: {reason}") from None
    if len(body) > MAX_BYTES:
        raise AIAFetchError(f"AIA download {url} is larger than {MAX_BYTES} bytes")
    certificates = parse_certificates(body)
    if not certificates:
        raise AIAFetchError(f"AIA download {url} holds no certificate (DER, PEM or PKCS#7)")
    return Fetched(url, certificates)


def parse_certificates(body: bytes) -> tuple[x509.Certificate, ...]:
    """Certificates in DER, PEM or PKCS#7 form; empty when none parses."""
    parsers = (
        lambda b: [x509.load_der_x509_certificate(b)],
        x509.load_pem_x509_certificates,
        pkcs7.load_der_pkcs7_certificates,
        pkcs7.load_pem_pkcs7_certificates,
    )
    for parse in parsers:
        try:
            found = parse(body)
        except Exception:  # noqa: BLE001 - try the next form
            continue
        if found:
            return tuple(found)
    return ()
