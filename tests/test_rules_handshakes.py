"""Certificate-rule reasons on real handshakes: chains built here, served by TLSServer on
127.0.0.1, judged by gnutls-cli and wget (which say only "invalid": the rules decide) and
by openssl s_client and node (OpenSSL's code 26 for a non-CA issuer becomes not_a_ca)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from tlsmatrix.clients.base import Reason, ReasonSource, Target, Verdict
from tlsmatrix.lab import certbuilder as cb
from tlsmatrix.lab.tlsserver import TLSServer
from tlsmatrix.results.model import to_dict
from tlsmatrix.results.schema import validate
from tlsmatrix.runner.matrix import TrustPlan, run_matrix
from tlsmatrix.runner.pool import collect_infos, load_clients

from tests.chains import built_ca

CLIENTS = ("gnutls", "wget", "openssl", "node")
RULE_JSON: dict[str, list[dict[str, str]]] = {}


@pytest.fixture(scope="module")
def clients():
    chosen = load_clients(list(CLIENTS))
    missing = [n for n, i in collect_infos(chosen).items() if not i.available]
    assert not missing, f"clients not available: {missing}"  # CI must fail, not skip
    return {c.name: c for c in chosen}


@pytest.fixture(autouse=True)
def empty_wgetrc(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    rc = tmp_path / "empty-wgetrc"
    rc.write_text("")
    monkeypatch.setenv("WGETRC", str(rc))


def _leaf(parent: cb.Issued, signer: object = None) -> cb.Issued:
    key = cb.ec_key()
    start = cb.now()
    cert = cb.build(
        subject=cb.name("localhost"), key=key, issuer_cert=parent.cert,
        issuer_key=signer or parent.key, not_before=start - cb.DAY,
        not_after=start + 30 * cb.DAY, ca=False,
    )  # fmt: skip
    return cb.Issued(cert, key)


def run(tmp_path: Path, name: str, leaf: cb.Issued, chain: list[cb.Issued], root, clients):
    pem = tmp_path / f"{name}.pem"
    pem.write_bytes(b"".join(c.pem for c in [leaf, *chain]))
    (tmp_path / f"{name}.key").write_bytes(leaf.key_pem)
    trust = tmp_path / f"{name}-root.pem"
    trust.write_bytes(root.pem)
    with TLSServer(str(pem), str(tmp_path / f"{name}.key")) as server:
        target = Target("localhost", server.port, "/", "127.0.0.1")
        result = run_matrix([target], clients, trust=TrustPlan(str(trust)), timeout=20, jobs=2)
    # The chain's rule findings are in the JSON, which stays valid against its schema.
    data = to_dict(result)
    assert validate(data) == []
    [chain_json] = data["chains"].values()
    RULE_JSON[name] = chain_json["rule_findings"]
    return {o.client: o for o in result.results}


def _pathlen(root: cb.Issued) -> tuple[cb.Issued, list[cb.Issued]]:
    i1 = built_ca("Rules I1", root, pathlen=0)
    i2 = built_ca("Rules I2", i1)
    return _leaf(i2), [i2, i1]


def _name_constraints(root: cb.Issued) -> tuple[cb.Issued, list[cb.Issued]]:
    only = x509.NameConstraints([x509.DNSName("example.invalid")], None)
    ca = built_ca("Rules NC", root, name_constraints=only)
    return _leaf(ca), [ca]


def _bad_signature(root: cb.Issued) -> tuple[cb.Issued, list[cb.Issued]]:
    inter = built_ca("Rules I1", root)
    return _leaf(inter, signer=cb.ec_key()), [inter]


@pytest.mark.parametrize(
    ("build", "reason"),
    [
        (_pathlen, Reason.PATH_LENGTH),
        (_name_constraints, Reason.NAME_CONSTRAINTS),
        (_bad_signature, Reason.BAD_SIGNATURE),
    ],
    ids=["path_length", "name_constraints", "bad_signature"],
)
def test_gnutls_and_wget_invalid_gets_the_rule(clients, tmp_path, build, reason) -> None:
    root = built_ca("Rules Root")
    leaf, chain = build(root)
    rows = run(tmp_path, reason.value, leaf, chain, root, [clients["gnutls"], clients["wget"]])
    for name, obs in rows.items():
        assert obs.verdict is Verdict.REJECT, (name, obs.detail)
        assert obs.reason is reason, (name, obs)
        # GnuTLS names a bad signature itself; otherwise it said only "invalid".
        assert obs.reason_source is (
            ReasonSource.CLIENT
            if obs.verify_code is None and not obs.certificate_invalid
            else ReasonSource.CHAIN
        ), (name, obs)
        assert "the chain shows" in obs.explanation, obs.explanation
    assert RULE_JSON[reason.value][0]["reason"] == reason.value


def test_openssl_and_node_non_ca_issuer_is_not_a_ca(clients, tmp_path) -> None:
    root = built_ca("Rules Root")
    # CA:FALSE but keyCertSign: OpenSSL's only complaint is the purpose check (code 26).
    signs = cb.key_usage(key_cert_sign=True, digital_signature=True)
    fake = built_ca("Rules NotCA", root, ca=False, key_usage=signs)
    rows = run(
        tmp_path, "not-a-ca", _leaf(fake), [fake], root, [clients["openssl"], clients["node"]]
    )
    for name, obs in rows.items():
        assert obs.verdict is Verdict.REJECT, (name, obs.detail)
        assert (obs.reason, obs.reason_source) == (Reason.NOT_A_CA, ReasonSource.CHAIN), (name, obs)
        assert obs.verify_code == 26, (name, obs)
        assert "CA:FALSE" in obs.explanation, obs.explanation
