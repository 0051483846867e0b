"""What is particular to truststore, aiohttp and pycurl (the scenarios every in-process
client shares run in tests/test_adapters.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from tlsmatrix import clients
from tlsmatrix.clients.base import Trust, Verdict
from tlsmatrix.runner.targets import parse_target

from tests.conftest import loaded_adapters

MORE = ["truststore", "aiohttp", "pycurl"]


@pytest.fixture(scope="module")
def adapters() -> Iterator[dict[str, clients.Client]]:
    with loaded_adapters(MORE, required=True) as loaded:
        yield loaded


def test_truststore_native_trust_is_the_system_store_it_loads(adapters, monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    native = adapters["truststore"].info().native_trust
    assert native is not None and native.path is not None and os.path.exists(native.path)


def test_truststore_bundle_keeps_the_system_store(adapters, servers, pki, monkeypatch):
    """truststore's real behaviour on Linux: the bundle is added to the system store.
    Point the system store (SSL_CERT_FILE) at the test root and give a bundle that does
    not contain it: the server is still trusted, and the reported trust says why."""
    monkeypatch.setenv("SSL_CERT_FILE", pki.root_pem)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    other = adapters["truststore"]
    target = parse_target(f"localhost:{servers['good'].port}")
    unrelated = servers_self_signed_bundle(pki)
    obs = other.probe(target, Trust.bundle(unrelated), 10)
    assert obs.verdict is Verdict.ACCEPT, obs.detail
    assert obs.trust is not None and "OS trust store" in obs.trust.origin
    # the other two use only the bundle: the same probe is refused
    for name in ("aiohttp", "pycurl"):
        obs = adapters[name].probe(target, Trust.bundle(unrelated), 10)
        assert obs.verdict is Verdict.REJECT, (name, obs.detail)


def servers_self_signed_bundle(pki) -> str:
    """A PEM bundle holding only the self-signed scenario's certificate (not the root)."""
    return pki.chains["self_signed"].chain


def test_pycurl_info_is_truthful(adapters):
    import pycurl

    info = adapters["pycurl"].info()
    assert info.tls_library and info.tls_library in pycurl.version
    assert info.version and pycurl.version_info()[1] in info.version
    assert info.env_vars == ()


def test_pycurl_ignores_curl_ca_bundle(adapters, servers, pki, monkeypatch):
    """libcurl (unlike the curl tool) does not read CURL_CA_BUNDLE or SSL_CERT_FILE."""
    monkeypatch.setenv("CURL_CA_BUNDLE", pki.root_pem)
    monkeypatch.setenv("SSL_CERT_FILE", pki.root_pem)
    obs = adapters["pycurl"].probe(
        parse_target(f"localhost:{servers['good'].port}"), Trust.native(), 10
    )
    assert obs.verdict is not Verdict.ACCEPT, obs.detail


@pytest.mark.parametrize("client", MORE)
def test_info_names_version_and_trust(adapters, client):
    info = adapters[client].info()
    assert info.version and info.tls_library == "OpenSSL" and info.tls_library_version
    assert info.native_trust is not None and info.native_trust.kind == "native"
    assert not info.fetches_aia and info.kind == "in-process"


def test_pycurl_native_trust_is_the_ca_file_libcurl_loads(adapters, servers):
    """libcurl's own verbose output names the CA file: it must be the one info() reports."""
    import pycurl

    seen: list[bytes] = []
    curl = pycurl.Curl()
    curl.setopt(pycurl.URL, f"https://localhost:{servers['good'].port}/")
    curl.setopt(pycurl.VERBOSE, 1)
    curl.setopt(pycurl.DEBUGFUNCTION, lambda kind, data: seen.append(data) if kind == 0 else None)
    curl.setopt(pycurl.WRITEFUNCTION, lambda chunk: None)
    with pytest.raises(pycurl.error):  # the system store does not know the test root
        curl.perform()
    curl.close()
    native = adapters["pycurl"].info().native_trust
    assert native is not None and native.path is not None
    assert any(f"CAfile: {native.path}".encode() in line for line in seen), seen
