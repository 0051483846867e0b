"""Every core adapter against real local servers: the right verdict, reason and code."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tlsmatrix import clients
from tlsmatrix.clients.base import Reason, Trust, Verdict
from tlsmatrix.runner.targets import parse_target

from tests.conftest import loaded_adapters

CORE = [
    "curl",
    "openssl",
    "requests",
    "httpx",
    "urllib3",
    "stdlib",
    "pyopenssl",
    "truststore",
    "aiohttp",
    "pycurl",
]

# scenario -> (verdict, reason, OpenSSL code as the OpenSSL family reports it). The client
# says only "unable to get local issuer certificate" for a leaf-only chain: unknown_issuer,
# flagged issuer_unknown; the harness names incomplete_chain from the captured chain.
EXPECTED = {
    "good": (Verdict.ACCEPT, Reason.OK, None),
    "leaf_only": (Verdict.REJECT, Reason.UNKNOWN_ISSUER, 20),
    "expired": (Verdict.REJECT, Reason.EXPIRED, 10),
    "wrong_host": (Verdict.REJECT, Reason.HOSTNAME_MISMATCH, 62),
    "self_signed": (Verdict.REJECT, Reason.SELF_SIGNED, 18),
    "untrusted_root": (Verdict.REJECT, Reason.UNTRUSTED_ROOT, 19),
}


# Clients whose name check is not OpenSSL's (libcurl's own, service-identity) report no
# code for a name mismatch: none is invented.
OWN_NAME_CHECK = {"curl", "pycurl", "pyopenssl"}


def expected_code(client: str, scenario: str) -> int | None:
    code = EXPECTED[scenario][2]
    if client == "openssl":  # s_client without -verify_return_error: 21 for the same thing
        return 21 if scenario == "leaf_only" else (0 if code is None else code)
    if scenario == "wrong_host" and client in OWN_NAME_CHECK:
        return None
    return code


@pytest.fixture(scope="module")
def adapters() -> Iterator[dict[str, clients.Client]]:
    with loaded_adapters(CORE, required=True) as loaded:
        yield loaded


@pytest.mark.parametrize("scenario", list(EXPECTED))
@pytest.mark.parametrize("client", CORE)
def test_verdict_and_reason(adapters, servers, pki, client, scenario):
    target = parse_target(f"https://localhost:{servers[scenario].port}/")
    obs = adapters[client].probe(target, Trust.bundle(pki.root_pem), timeout=10)
    verdict, reason, _ = EXPECTED[scenario]
    assert (obs.verdict, obs.reason) == (verdict, reason), obs.detail
    assert obs.verify_code == expected_code(client, scenario)
    assert obs.issuer_unknown is (scenario == "leaf_only")
    assert obs.client == client and obs.target == target.name
    assert obs.trust is not None and obs.trust.path == pki.root_pem
    if verdict is Verdict.ACCEPT:
        assert obs.tls_version in ("TLS 1.2", "TLS 1.3")
        assert "200" in obs.detail or client == "openssl"  # s_client sends no request


@pytest.mark.parametrize("client", CORE)
def test_intermediate_in_trust_completes_leaf_only(adapters, servers, pki, client):
    """Partial-chain: an intermediate in the trust bundle acts as an anchor."""
    target = parse_target(f"localhost:{servers['leaf_only'].port}")
    obs = adapters[client].probe(target, Trust.bundle(pki.root_and_intermediate_pem), 10)
    assert obs.verdict is Verdict.ACCEPT, obs.detail


@pytest.mark.parametrize("client", CORE)
def test_ip_address_target_checked_against_ip_san(adapters, servers, pki, client):
    target = parse_target(f"https://127.0.0.1:{servers['good'].port}/")
    obs = adapters[client].probe(target, Trust.bundle(pki.root_pem), 10)
    assert obs.verdict is Verdict.ACCEPT, obs.detail


@pytest.mark.parametrize("client", CORE)
def test_resolve_sends_name_but_connects_to_address(adapters, servers, pki, client):
    from dataclasses import replace

    port = servers["good"].port
    good = replace(parse_target(f"backend.invalid:{port}"), connect_to="127.0.0.1")
    obs = adapters[client].probe(good, Trust.bundle(pki.root_pem), 10)
    assert obs.verdict is Verdict.ACCEPT, obs.detail
    wrong = replace(parse_target(f"other.invalid:{port}"), connect_to="127.0.0.1")
    obs = adapters[client].probe(wrong, Trust.bundle(pki.root_pem), 10)
    assert obs.reason is Reason.HOSTNAME_MISMATCH, obs.detail


@pytest.mark.parametrize("client", CORE)
def test_connection_refused(adapters, client):
    import socket

    with socket.socket() as s:  # a port that was free a moment ago and now has no listener
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    obs = adapters[client].probe(parse_target(f"127.0.0.1:{port}"), Trust.native(), 5)
    assert (obs.verdict, obs.reason) == (Verdict.ERROR, Reason.CONNECTION_REFUSED), obs.detail


@pytest.mark.parametrize("client", CORE)
def test_native_trust_does_not_know_the_test_root(adapters, servers, client):
    obs = adapters[client].probe(
        parse_target(f"localhost:{servers['good'].port}"), Trust.native(), 10
    )
    assert obs.verdict is Verdict.REJECT, obs.detail
    assert obs.trust is not None and obs.trust.kind == "native"


@pytest.mark.parametrize("client", CORE)
def test_silent_server_times_out_within_deadline(adapters, silent_server, client):
    import time

    started = time.monotonic()
    obs = adapters[client].probe(
        parse_target(f"127.0.0.1:{silent_server.port}"), Trust.native(), timeout=1.0
    )
    assert time.monotonic() - started < 2.0
    assert obs.verdict is Verdict.TIMEOUT, obs.detail
