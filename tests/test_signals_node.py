"""Node's error codes: the table is consistent with OpenSSL's, and the real Node probe's
signals on real handshakes map to the cause each certificate was built with."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from tlsmatrix.clients.base import Reason
from tlsmatrix.clients.signals import node, openssl
from tlsmatrix.clients.signals._signal import Signal

from tests._signal_pki import (
    every_cause_but,
    plain_http_peer,
    refused_port,
    serve_scenarios,
    tls_1_1_server,
)
from tests.conftest import require_binary

PROBE = os.path.join(os.path.dirname(node.__file__), os.pardir, "node", "probe.js")


def test_every_node_verify_name_is_an_openssl_code() -> None:
    for name in node.NODE_VERIFY_NAMES:
        assert openssl.lookup_name(name) is not None, name
    assert openssl.lookup_name("INVALID_CA").code == 79  # OpenSSL 3 numbering


@pytest.mark.parametrize(
    ("code", "message", "reason"),
    [
        ("CERT_HAS_EXPIRED", "certificate has expired", Reason.EXPIRED),
        ("UNABLE_TO_VERIFY_LEAF_SIGNATURE", "", Reason.UNKNOWN_ISSUER),
        ("DEPTH_ZERO_SELF_SIGNED_CERT", "", Reason.SELF_SIGNED),
        ("SELF_SIGNED_CERT_IN_CHAIN", "", Reason.UNTRUSTED_ROOT),
        ("INVALID_PURPOSE", "", Reason.WRONG_USAGE),
        ("PATH_LENGTH_EXCEEDED", "", Reason.PATH_LENGTH),
        ("CERT_SIGNATURE_FAILURE", "", Reason.BAD_SIGNATURE),
        ("INVALID_CA", "", Reason.NOT_A_CA),
        ("UNSPECIFIED", "CA signature digest algorithm too weak", Reason.WEAK_SIGNATURE),
        ("UNSPECIFIED", "unhandled critical extension", Reason.CRITICAL_EXTENSION),
        ("UNSPECIFIED", "something for host.invalid", Reason.INVALID_CERTIFICATE),
        ("ERR_TLS_CERT_ALTNAME_INVALID", "", Reason.HOSTNAME_MISMATCH),
        ("ERR_SSL_WRONG_VERSION_NUMBER", "", Reason.NOT_TLS),
        ("ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION", "", Reason.PROTOCOL_VERSION),
        ("ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE", "", Reason.HANDSHAKE_FAILURE),
        ("ECONNREFUSED", "", Reason.CONNECTION_REFUSED),
        ("ENOTFOUND", "", Reason.DNS_FAILURE),
        ("ETIMEDOUT", "", Reason.TIMEOUT),
        ("ECONNRESET", "", Reason.HANDSHAKE_FAILURE),
    ],
)
def test_node_decisions(code: str, message: str, reason: Reason) -> None:
    assert node.signal_for_node_error(code, message).reason is reason


def test_unspecified_is_vague_unless_the_constant_names_the_code() -> None:
    assert node.signal_for_node_error("UNSPECIFIED", "x").certificate_invalid
    named = node.signal_for_node_error("UNSPECIFIED", "permitted subtree violation")
    assert (named.reason, named.verify_code) == (Reason.NAME_CONSTRAINTS, 47)


def _probe(port: int, ca: str | None, host: str = "localhost") -> dict:
    args = {
        "address": "127.0.0.1",
        "port": port,
        "host": host,
        "servername": host,
        "path": "/",
        "ca": ca,
        "timeout_ms": 10000,
    }
    done = subprocess.run(
        [require_binary("node"), PROBE, json.dumps(args)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _signal(out: dict) -> Signal:
    return node.signal_for_node_error(
        out.get("code"), out.get("message"), reason=out.get("reason"), library=out.get("library")
    )


# weak_key: Node 20 accepts it (below). weak_signature: code UNSPECIFIED; the message is the
# library constant for 68 (CA_MD_TOO_WEAK).
CAUSES = every_cause_but(
    "weak_key",
    # Measured: Node 20's OpenSSL checks the issuer's purpose before its CA flag and says
    # INVALID_PURPOSE (26) for a non-CA issuer, where Python's ssl says INVALID_CA (79).
    not_a_ca=Reason.WRONG_USAGE,
)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    yield from serve_scenarios(str(tmp_path_factory.mktemp("signals-node")))


def test_node_accepts_the_good_chain_and_an_rsa_1024_leaf(served) -> None:
    root, servers = served
    assert _probe(servers["ok"].port, root)["ok"] is True
    # Node 20 runs OpenSSL at security level 1 (CLIENT-FACTS): RSA-1024 passes.
    assert _probe(servers["weak_key"].port, root)["ok"] is True


@pytest.mark.parametrize("cause", sorted(CAUSES))
def test_node_real_signal_maps_to_the_built_cause(served, cause: str) -> None:
    root, servers = served
    out = _probe(servers[cause].port, root)
    assert out["ok"] is False
    assert _signal(out).reason is CAUSES[cause], out


def test_node_refused_and_not_tls() -> None:
    out = _probe(refused_port(), None)
    assert node.signal_for_node_error(out.get("code")).reason is Reason.CONNECTION_REFUSED
    with plain_http_peer() as port:
        out = _probe(port, None)
    assert _signal(out).reason is Reason.NOT_TLS, out


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_node_against_a_tls_1_1_server_is_a_protocol_version(served) -> None:
    root, _servers = served
    with tls_1_1_server(root) as server:
        out = _probe(server.port, root)
    assert _signal(out).reason is Reason.PROTOCOL_VERSION, out
