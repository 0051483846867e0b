"""AIA downloads stay within bounds: http(s) only, few redirects, size cap, deadline."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7
from tlsmatrix.chain.aia import AIAFetcher, AIAFetchError, fetch_issuer

from tests._pki_moreclients import http_server

CA = trustme.CA()
CERT = x509.load_pem_x509_certificate(CA.cert_pem.bytes())


Answer = tuple[int, dict[str, str], bytes]  # a route's (status, headers, body)


def _redirect(location: str) -> Callable[[bytes], Answer]:
    return lambda _body: (302, {"Location": location}, b"")


def _hang(_body: bytes) -> Answer:
    time.sleep(5)  # longer than any fetch's deadline here
    return 404, {}, b""


@pytest.fixture(scope="module")
def server():
    with http_server() as (base, routes):
        routes.update(
            {
                "/der": CERT.public_bytes(Encoding.DER),
                "/pem": CERT.public_bytes(Encoding.PEM),
                "/p7c": pkcs7.serialize_certificates([CERT], Encoding.DER),
                "/big": b"\x30" * 2_000_000,
                "/junk": b"not a certificate",
                "/to-file": _redirect("file:///etc/passwd"),
                "/loop": _redirect(f"{base}/loop"),
                "/hop": _redirect(f"{base}/der"),
                # same address, other host name: a hop off the URL's own host is never followed
                "/off-host": _redirect(base.replace("127.0.0.1", "localhost") + "/der"),
                "/hang": _hang,
            }
        )
        yield base


@pytest.mark.parametrize("path", ["/der", "/pem", "/p7c", "/hop"])
def test_every_form_parses(server, path):
    fetched = fetch_issuer(server + path, timeout=5)
    assert fetched.certificates == (CERT,)
    assert fetched.form == {"/der": "DER", "/pem": "PEM", "/p7c": "PKCS#7 DER", "/hop": "DER"}[path]


@pytest.mark.parametrize(
    "path, needle",
    [
        ("/big", "larger than"),
        ("/junk", "holds no certificate"),
        ("/to-file", "redirect refused"),
        ("/loop", "redirect refused"),
        ("/off-host", "another host"),
        ("/missing", "HTTP 404"),
        ("/hang", "timed out"),
    ],
)
def test_bounds(server, path, needle):
    started = time.monotonic()
    with pytest.raises(AIAFetchError) as info:
        fetch_issuer(server + path, timeout=1)
    assert needle in str(info.value).lower() or needle in str(info.value)
    assert time.monotonic() - started < 3


def test_non_http_schemes_are_refused_before_any_request():
    for url in ("file:///etc/passwd", "ftp://127.0.0.1/x", "ldap://127.0.0.1/x"):
        with pytest.raises(AIAFetchError, match="only http and https"):
            fetch_issuer(url, timeout=1)


def test_fetcher_bounds_the_run_and_records_every_download(server):
    fetcher = AIAFetcher(max_fetches=2, total_seconds=5, per_url_seconds=1)
    first = fetcher.fetch(server + "/der")
    assert first.ok and first.certificates == (CERT.public_bytes(Encoding.DER),)
    assert fetcher.fetch(server + "/der") is first  # each URL once
    failed = fetcher.fetch(server + "/missing")
    assert not failed.ok and "HTTP 404" in (failed.error or "")
    refused = fetcher.fetch(server + "/pem")
    assert not refused.ok and "limit of 2" in (refused.error or "")
    assert [f.url for f in fetcher.record] == [server + p for p in ("/der", "/missing", "/pem")]
    off = AIAFetcher(enabled=False).fetch(server + "/der")
    assert not off.ok and "turned off" in (off.error or "")


def test_each_target_has_its_own_bounds_within_the_runs(server):
    """A fleet run is not starved after a few chains: the count limit is per target's
    chain, the cache and the run's bounds are shared."""
    run = AIAFetcher(per_url_seconds=1)
    first, second = run.for_target(max_fetches=2), run.for_target(max_fetches=2)
    assert first.fetch(server + "/der").ok and first.fetch(server + "/pem").ok
    refused = first.fetch(server + "/p7c")
    assert not refused.ok and "this chain's limit of 2" in (refused.error or "")
    assert second.fetch(server + "/p7c").ok  # another target still downloads
    assert second.fetch(server + "/der") is run.fetch(server + "/der")  # each URL once a run
    assert [f.url for f in run.record] == [server + p for p in ("/der", "/pem", "/p7c")]


def test_a_slow_url_does_not_cost_the_hosts_other_urls(server):
    """A timeout is one URL's: the same server's other URLs are still downloaded (the
    lab serves a hanging path beside good ones)."""
    run = AIAFetcher(per_url_seconds=0.5)
    hung = run.for_target().fetch(server + "/hang")
    assert not hung.ok and "timed out" in (hung.error or "")
    assert run.for_target().fetch(server + "/der").ok
    # An HTTP error is the URL's, not the host's either.
    assert not run.fetch(server + "/missing").ok
    assert run.fetch(server + "/pem").ok


def test_a_refused_connection_marks_the_host(free_tcp_port):
    run = AIAFetcher(per_url_seconds=1)
    first = run.fetch(f"http://127.0.0.1:{free_tcp_port}/a.der")
    assert not first.ok and "unreachable" not in (first.error or "")
    second = run.fetch(f"http://127.0.0.1:{free_tcp_port}/b.der")
    assert not second.ok and "was unreachable earlier in this run" in (second.error or "")


def test_a_chains_time_budget_caps_its_downloads(server):
    run = AIAFetcher(per_url_seconds=1)
    target = run.for_target(total_seconds=0.4)
    started = time.monotonic()
    assert not target.fetch(server + "/hang").ok
    assert time.monotonic() - started < 1.2  # capped by the chain's budget, not per_url
    spent = target.fetch(server + "/der")
    assert not spent.ok and "this chain's 0.4s of AIA time is spent" in (spent.error or "")
