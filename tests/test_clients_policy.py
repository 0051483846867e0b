"""ClientInfo.checks_leaf_usage against real handshakes: a leaf whose extendedKeyUsage is
clientAuth only, and one whose keyUsage allows no TLS server (the corpus's own cases, served
on 127.0.0.1), are rejected exactly by the clients whose info says they check the leaf's
purpose, and accepted by the others."""

from __future__ import annotations

import pytest
from tlsmatrix.clients.base import Trust, Verdict
from tlsmatrix.lab.corpus import build_corpus, serve_corpus
from tlsmatrix.runner.pool import load_clients

from tests.conftest import require_binary

CASES = ("usage/leaf-eku-client-auth", "usage/leaf-ku-non-repudiation")
# wget does not check the leaf's purpose; the others stand for the ones that do, in process
# (OpenSSL through Python) and as programs (OpenSSL, GnuTLS).
CLIENTS = {"wget": "wget", "gnutls": "gnutls-cli", "curl": "curl", "stdlib": None}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    corpus = build_corpus().select(("usage",))
    with serve_corpus(corpus, tmp_path_factory.mktemp("usage")) as cases:
        yield {s.case.id: s for s in cases}


@pytest.mark.parametrize("case_id", CASES)
@pytest.mark.parametrize("name", list(CLIENTS))
def test_checks_leaf_usage_is_what_the_handshake_shows(served, name, case_id):
    if CLIENTS[name]:
        require_binary(CLIENTS[name])
    [client] = load_clients([name])
    info = client.info()
    assert info.available, info.unavailable_reason
    case = served[case_id]
    assert case.target is not None, case.unservable
    obs = client.probe(case.target, Trust.bundle(case.trust_file), 10)
    assert obs.verdict in (Verdict.ACCEPT, Verdict.REJECT), obs
    assert info.checks_leaf_usage is (obs.verdict is Verdict.REJECT), obs
