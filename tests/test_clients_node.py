"""The node adapter against real loopback TLS servers (real Node, real handshakes)."""

from __future__ import annotations

import pytest
from tlsmatrix.clients.base import Reason, Target, Trust, Verdict
from tlsmatrix.clients.node import NodeClient, interpret, native_trust

from tests._pki_moreclients import Lab, assert_ip_and_resolve, assert_unreachable_reasons
from tests.conftest import needs_binary

pytestmark = needs_binary("node")

TRUST_VARS = ("NODE_EXTRA_CA_CERTS", "NODE_OPTIONS", "SSL_CERT_FILE", "SSL_CERT_DIR")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory):
    with Lab(tmp_path_factory.mktemp("pki")) as running:
        yield running


@pytest.fixture()
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in TRUST_VARS:
        monkeypatch.delenv(var, raising=False)


# scenario -> (reason, OpenSSL verify code, issuer_unknown) when trusting root A only.
# The code is the one Node named in err.code; its name check (checkServerIdentity) has none.
EXPECTED = {
    "good": (Reason.OK, None, False),
    "leaf_only": (Reason.UNKNOWN_ISSUER, 21, True),
    "expired": (Reason.EXPIRED, 10, False),
    "not_yet_valid": (Reason.NOT_YET_VALID, 9, False),
    "wrong_host": (Reason.HOSTNAME_MISMATCH, None, False),
    "self_signed": (Reason.SELF_SIGNED, 18, False),
    "untrusted_root": (Reason.UNTRUSTED_ROOT, 19, False),
}


def test_info_reports_node_and_its_openssl() -> None:
    info = NodeClient().info()
    assert info.available, info.unavailable_reason
    assert info.version and info.version[0].isdigit()
    assert info.tls_library == "OpenSSL" and info.tls_library_version
    assert info.kind == "subprocess" and not info.fetches_aia


def test_info_and_probe_when_binary_missing(lab: Lab) -> None:
    client = NodeClient(binary="tlsmatrix-no-such-node")
    info = client.info()
    assert not info.available
    assert "not found on PATH" in (info.unavailable_reason or "")
    obs = client.probe(Target("localhost", lab.port("good")), Trust.native(), 5)
    assert obs.verdict is Verdict.SKIPPED and obs.reason is Reason.CLIENT_UNAVAILABLE


@pytest.mark.parametrize("scenario", list(EXPECTED))
def test_bundle_trust(lab: Lab, scenario: str, clean_env: None) -> None:
    reason, code, unknown = EXPECTED[scenario]
    obs = NodeClient().probe(
        Target("localhost", lab.port(scenario)), Trust.bundle(lab.root_pem), 10
    )
    assert (obs.reason, obs.verify_code, obs.issuer_unknown) == (reason, code, unknown), obs.detail
    assert obs.trust is not None and obs.trust.path == lab.root_pem
    if reason is Reason.OK:
        assert obs.verdict is Verdict.ACCEPT and obs.tls_version in ("TLS 1.2", "TLS 1.3")
        assert "200" in obs.detail
    else:
        assert obs.verdict is Verdict.REJECT


def test_ip_target_and_resolve(lab: Lab, clean_env: None) -> None:
    assert_ip_and_resolve(NodeClient(), lab, 10)


def test_native_trust_is_bundled_store_plus_extra_certs(
    lab: Lab, monkeypatch: pytest.MonkeyPatch, clean_env: None
) -> None:
    target = Target("localhost", lab.port("good"))
    rejected = NodeClient().probe(target, Trust.native(), 10)
    assert rejected.reason is Reason.UNKNOWN_ISSUER  # root A is not in Mozilla's store
    assert rejected.trust is not None and rejected.trust == NodeClient().info().native_trust
    monkeypatch.setenv("NODE_EXTRA_CA_CERTS", lab.root_pem)
    accepted = NodeClient().probe(target, Trust.native(), 10)
    assert accepted.reason is Reason.OK, accepted.detail
    assert accepted.trust is not None and accepted.trust.path == lab.root_pem
    # An explicit bundle ignores NODE_EXTRA_CA_CERTS: the ca option replaces the store.
    other = NodeClient().probe(target, Trust.bundle(lab.other.root_pem), 10)
    assert other.reason is Reason.UNKNOWN_ISSUER and other.issuer_unknown


def test_connection_refused_not_tls_and_timeout() -> None:
    assert_unreachable_reasons(NodeClient(), 5)


def test_interpret_maps_codes() -> None:
    assert interpret({"ok": False, "code": "UNABLE_TO_GET_ISSUER_CERT"}).verify_code == 2
    # Node names 28 verify codes; the others are UNSPECIFIED with the library's constant
    weak_md = {
        "ok": False,
        "code": "UNSPECIFIED",
        "message": "CA signature digest algorithm too weak",
    }
    assert interpret(weak_md).reason is Reason.WEAK_SIGNATURE
    weak_key = {"ok": False, "code": "UNSPECIFIED", "message": "EE certificate key too weak"}
    assert interpret(weak_key).reason is Reason.WEAK_KEY
    # an unknown UNSPECIFIED is still a certificate rejection, never an error
    vague = interpret({"ok": False, "code": "UNSPECIFIED", "message": "something new"})
    assert vague.reason is Reason.INVALID_CERTIFICATE and vague.certificate_invalid
    assert interpret({"ok": False, "code": "ENOTFOUND"}).reason is Reason.DNS_FAILURE
    assert interpret({"ok": False, "code": "ECONNRESET"}).reason is Reason.HANDSHAKE_FAILURE
    proto = interpret({"ok": False, "code": "ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION"})
    assert proto.reason is Reason.PROTOCOL_VERSION
    assert interpret({"ok": False, "code": "EWHATEVER"}).reason is Reason.CLIENT_ERROR
    assert interpret({"ok": True, "protocol": "TLSv1.2"}).tls_version == "TLS 1.2"


def test_native_trust_follows_node_options() -> None:
    env = {"NODE_OPTIONS": "--use-openssl-ca", "SSL_CERT_FILE": "/x.pem"}
    assert native_trust(env).path == "/x.pem"
    assert native_trust({}).origin == "bundled Mozilla store"
