"""One clean sentence where a library's internals used to show: fix-chain on a
self-signed or unverifiable chain, inspect on a plain-HTTP port, the weak-key
explanation's library name, and the demo's step numbers."""

from __future__ import annotations

import http.server
import re
import threading

import pytest
from tlsmatrix.clients.base import ClientInfo
from tlsmatrix.explain.explanations import _library

from tests._cli import tlsmatrix

INTERNALS = re.compile(r"<Certificate\(|2\.5\.29\.|candidates exhausted|Recording\w+\(|Error\(")


@pytest.fixture(scope="module")
def lab():
    from tlsmatrix.lab.lab import Lab

    with Lab(["self_signed", "leaf_only", "expired_leaf"]) as running:
        yield running


@pytest.mark.parametrize("ca", [False, True])
def test_fix_chain_self_signed_is_one_sentence(lab, ca):
    extra = ["--ca-file", lab.trust_profiles["certifi-like"]] if ca else []
    result = tlsmatrix("fix-chain", lab.scenario("self_signed").url, *extra)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and not INTERNALS.search(lines[0]), lines
    assert "is self-signed: there is no chain to complete" in lines[0]


def test_fix_chain_leaf_only_default_store_and_unverifiable_chain(lab):
    leaf_only = tlsmatrix("fix-chain", lab.scenario("leaf_only").url)
    assert leaf_only.returncode == 1
    assert len(leaf_only.stderr.strip().splitlines()) == 1
    assert not INTERNALS.search(leaf_only.stderr)
    assert "which the trust bundle does not contain" in leaf_only.stderr
    # a chain that builds but does not verify (an expired leaf): our words, not the verifier's
    expired = tlsmatrix(
        "fix-chain",
        lab.scenario("expired_leaf").url,
        "--ca-file",
        lab.trust_profiles["workstation"],
    )
    assert expired.returncode == 1
    assert not INTERNALS.search(expired.stderr), expired.stderr
    assert re.search(r"does not verify: 'localhost' expired on \d{4}-\d\d-\d\d", expired.stderr)


def test_inspect_on_plain_http_says_not_tls():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        result = tlsmatrix("inspect", f"https://127.0.0.1:{server.server_address[1]}/")
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 1
    assert "no certificate received (not_tls:" in result.stdout, result.stdout


def test_weak_key_explanation_names_the_library():
    def info(library, version):
        return ClientInfo(
            name="x", available=True, tls_library=library, tls_library_version=version
        )

    assert _library(info("OpenSSL", "3.0.19")) == "OpenSSL 3.0.19"
    assert _library(info("OpenSSL", "OpenSSL 3.0.22 25 Aug 2026")) == "OpenSSL 3.0.22 25 Aug 2026"
    assert _library(info("GnuTLS", None)) == "GnuTLS"


def test_demo_numbers_the_steps_it_runs():
    result = tlsmatrix("demo", "--client", "openssl")
    assert result.returncode == 0, result.stderr
    steps = re.findall(r"^(\d)\. ", result.stdout, re.M)
    assert steps == ["1", "2", "3"], result.stdout


def test_details_name_no_internal_class():
    """urllib3 writes its pool's class name into the error text; ours is a subclass that
    records the TLS version, and its name must not leak into a row's detail."""
    from tlsmatrix.clients.base import Target, Trust
    from tlsmatrix.runner.pool import load_clients

    from tests._pki_moreclients import closed_port

    with closed_port() as port:
        for client in load_clients(["requests", "urllib3", "truststore", "aiohttp"]):
            obs = client.probe(Target("127.0.0.1", port), Trust.native(), 5)
            assert obs.reason.value == "connection_refused", (client.name, obs.detail)
            assert "Recording" not in obs.detail, (client.name, obs.detail)
            assert " object at 0x" not in obs.detail, (client.name, obs.detail)
