"""Downloading issuer certificates from AIA caIssuers URLs, within hard bounds: http(s)
only, a size cap, few redirects and never off the URL's own host, a deadline per request,
no proxy. :class:`AIAFetcher` adds the bounds of a whole run (count, total time) and keeps
a record of every download, which the diagnosis cites as evidence."""

from __future__ import annotations

import socket
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs7

MAX_BYTES = 1_000_000
MAX_REDIRECTS = 3
ALLOWED_SCHEMES = ("http", "https")
USER_AGENT = "tlsmatrix-aia"  # how tlsmatrix's own downloads show up in an AIA server log
# Bounds of the downloads for one target's chain (AIAFetcher.for_target): how many URLs
# and how long in total; and of a whole run, which may hold thousands of targets.
MAX_FETCHES = 8
TOTAL_SECONDS = 15.0
PER_URL_SECONDS = 5.0
RUN_MAX_FETCHES = 1000
RUN_SECONDS = 120.0


class AIAFetchError(Exception):
    """One line saying what went wrong with which URL; ``host_unreachable`` when the
    host itself cannot be reached (connection refused, no such name), not just this URL."""

    def __init__(self, message: str, *, host_unreachable: bool = False) -> None:
        super().__init__(message)
        self.host_unreachable = host_unreachable


@dataclass(frozen=True)
class Fetched:
    url: str
    certificates: tuple[x509.Certificate, ...]
    form: str = ""  # "DER", "PEM", "PKCS#7 DER" or "PKCS#7 PEM"


class _Redirects(urllib.request.HTTPRedirectHandler):
    max_redirections = MAX_REDIRECTS

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        if urlsplit(newurl).scheme not in ALLOWED_SCHEMES:
            raise AIAFetchError(f"{req.full_url} redirects to a non-http(s) URL: {newurl}")
        if _origin(newurl) != _origin(req.full_url):
            # An AIA URL is the CA's own; a hop to another host is not followed (it could
            # point anywhere, including this machine's private services).
            raise AIAFetchError(
                f"AIA download {req.full_url}: redirect refused (to another host: {newurl})"
            )
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _origin(url: str) -> tuple[str, int | None]:
    parts = urlsplit(url)
    default = 443 if parts.scheme.lower() == "https" else 80
    try:
        port = parts.port or default
    except ValueError:
        port = None
    return (parts.hostname or "").lower(), port


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
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
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
            # Not the host's fault for sure: one slow URL on a live server (a lab's hung
            # path) must not cost the other URLs it serves.
            raise AIAFetchError(f"AIA download {url} timed out after {waited:.1f}s") from None
        unreachable = isinstance(reason, (ConnectionRefusedError, socket.gaierror))
        raise AIAFetchError(
            f"AIA download {url} failed: {reason}", host_unreachable=unreachable
        ) from None
    if len(body) > MAX_BYTES:
        raise AIAFetchError(f"AIA download {url} is larger than {MAX_BYTES} bytes")
    certificates, form = parse_with_form(body)
    if not certificates:
        raise AIAFetchError(f"AIA download {url} holds no certificate (DER, PEM or PKCS#7)")
    return Fetched(url, certificates, form or "")


def parse_certificates(body: bytes) -> tuple[x509.Certificate, ...]:
    """Certificates in DER, PEM or PKCS#7 form; empty when none parses."""
    return parse_with_form(body)[0]


def parse_with_form(body: bytes) -> tuple[tuple[x509.Certificate, ...], str | None]:
    """The certificates in ``body`` and the form they came in ("DER", "PEM", "PKCS#7 DER",
    "PKCS#7 PEM"); ((), None) when none parses."""
    parsers = (
        ("DER", lambda b: [x509.load_der_x509_certificate(b)]),
        ("PEM", x509.load_pem_x509_certificates),
        ("PKCS#7 DER", pkcs7.load_der_pkcs7_certificates),
        ("PKCS#7 PEM", pkcs7.load_pem_pkcs7_certificates),
    )
    for form, parse in parsers:
        try:
            found = parse(body)
        except Exception:  # noqa: BLE001 - try the next form
            continue
        if found:
            return tuple(found), form
    return (), None


@dataclass(frozen=True)
class AIAFetch:
    """One download tlsmatrix made: what it asked for and what it got. ``certificates``
    are DER; ``error`` is one line when the download failed or was not attempted."""

    url: str
    started_at: float  # time.time()
    elapsed_ms: float
    certificates: tuple[bytes, ...] = ()
    error: str | None = None
    form: str = ""  # how the answer was encoded, when it held certificates

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, object]:
        import hashlib

        return {
            "url": self.url,
            "started_at": self.started_at,
            "elapsed_ms": self.elapsed_ms,
            "certificates": [hashlib.sha256(d).hexdigest() for d in self.certificates],
            "form": self.form,
            "error": self.error,
        }


@dataclass
class AIAFetcher:
    """Downloads for one run, each URL once, within ``max_fetches`` and ``total_seconds``
    for the run; :meth:`for_target` adds the bounds of one target's chain. A host that
    cannot be reached (refused connection, no such name) is not asked again in the run, so
    a fleet whose chains share a dead AIA host tries it once; a timeout is one URL's.
    Thread-safe; ``record`` lists every attempt in order."""

    max_fetches: int = RUN_MAX_FETCHES
    total_seconds: float = RUN_SECONDS
    per_url_seconds: float = PER_URL_SECONDS
    enabled: bool = True
    _done: dict[str, AIAFetch] = field(default_factory=dict)
    _dead_hosts: dict[tuple[str, int | None], str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _spent: float = 0.0

    @property
    def record(self) -> tuple[AIAFetch, ...]:
        with self._lock:
            return tuple(self._done.values())

    def for_target(
        self, max_fetches: int = MAX_FETCHES, total_seconds: float = TOTAL_SECONDS
    ) -> TargetFetcher:
        """A view for one target's chain: at most ``max_fetches`` URLs and
        ``total_seconds`` of waiting, on top of the run's bounds and cache."""
        return TargetFetcher(self, max_fetches, total_seconds)

    def fetch(self, url: str, budget: float | None = None) -> AIAFetch:
        """The download of ``url`` (cached); a refused or failed one has ``error`` set.
        ``budget`` caps this download's wait below ``per_url_seconds``."""
        with self._lock:
            if url in self._done:
                return self._done[url]
            refusal = None
            dead = self._dead_hosts.get(_origin(url))
            if not self.enabled:
                refusal = "AIA downloads are turned off"
            elif dead is not None:
                refusal = f"not downloaded: its host was unreachable earlier in this run ({dead})"
            elif len(self._done) >= self.max_fetches:
                refusal = f"not downloaded: the run's limit of {self.max_fetches} AIA URLs"
            elif self._spent >= self.total_seconds:
                refusal = (
                    f"not downloaded: the run's {self.total_seconds:.0f}s of AIA time is spent"
                )
            if refusal is not None:
                return self._refuse(url, refusal)
            wait = self.per_url_seconds if budget is None else min(budget, self.per_url_seconds)
            budget = min(wait, self.total_seconds - self._spent)
        started, clock = time.time(), time.monotonic()
        host_dead = None
        try:
            got = fetch_issuer(url, timeout=max(budget, 0.1))
            from cryptography.hazmat.primitives.serialization import Encoding

            ders = tuple(c.public_bytes(Encoding.DER) for c in got.certificates)
            result = AIAFetch(url, started, _ms(clock), certificates=ders, form=got.form)
        except AIAFetchError as exc:
            result = AIAFetch(url, started, _ms(clock), error=str(exc))
            host_dead = exc.host_unreachable
        with self._lock:
            self._spent += time.monotonic() - clock
            if host_dead:
                self._dead_hosts.setdefault(_origin(url), result.error or "")
            return self._done.setdefault(url, result)

    def _refuse(self, url: str, why: str) -> AIAFetch:
        result = AIAFetch(url, time.time(), 0.0, error=why)
        self._done[url] = result
        return result


@dataclass
class TargetFetcher:
    """One target's share of a run's :class:`AIAFetcher` (see ``for_target``)."""

    run: AIAFetcher
    max_fetches: int
    total_seconds: float
    _asked: set[str] = field(default_factory=set)
    _spent: float = 0.0

    def fetch(self, url: str) -> AIAFetch:
        if url not in self._asked:
            if len(self._asked) >= self.max_fetches:
                why = f"not downloaded: this chain's limit of {self.max_fetches} AIA URLs"
                return AIAFetch(url, time.time(), 0.0, error=why)
            if self._spent >= self.total_seconds:
                why = f"not downloaded: this chain's {self.total_seconds:g}s of AIA time is spent"
                return AIAFetch(url, time.time(), 0.0, error=why)
        self._asked.add(url)
        clock = time.monotonic()
        result = self.run.fetch(url, budget=self.total_seconds - self._spent)
        self._spent += time.monotonic() - clock
        return result


def _ms(since: float) -> float:
    return round((time.monotonic() - since) * 1000, 1)
