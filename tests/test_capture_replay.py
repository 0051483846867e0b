"""Capture -> replay equivalence on servers tlsmatrix did not build: chains made here with
cryptography directly, served by TLSServer on 127.0.0.1, captured, written to disk, read
back, replayed on the twin PKI; the replayed matrix must equal the live one cell by cell
(verdict and reason)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from tlsmatrix.clients.base import Target, Verdict
from tlsmatrix.lab.aia import AIAServer
from tlsmatrix.lab.certbuilder import Issued, ca_issuers, key_usage, name
from tlsmatrix.lab.tlsserver import TLSServer
from tlsmatrix.replay.capture import capture_case, issued_by
from tlsmatrix.replay.case import load_case
from tlsmatrix.replay.serve import Replay, compare_with_capture, run_replay
from tlsmatrix.results.model import to_dict
from tlsmatrix.runner.matrix import TrustPlan, run_matrix
from tlsmatrix.runner.pool import load_clients

from tests.conftest import needs_binary

FAST = ("stdlib", "requests", "httpx", "curl", "openssl", "node", "gnutls")
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
DAY = dt.timedelta(days=1)
HOST = "shop.example.invalid"


def _name(cn: str) -> x509.Name:
    return name(cn, organization="elsewhere")


def issue(
    cn: str,
    issuer: Issued | None,
    *,
    ca: bool = True,
    key: object | None = None,
    days: tuple[int, int] = (-1, 365),
    aia: str | None = None,
    issuer_name: x509.Name | None = None,
    digest: hashes.HashAlgorithm | None = None,
) -> Issued:
    """One certificate; self-signed when ``issuer`` is None."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    public = key.public_key()  # type: ignore[attr-defined]
    signer = issuer.key if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn) if ca else x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .issuer_name(issuer_name or (issuer.cert.subject if issuer else _name(cn)))
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW + days[0] * DAY)
        .not_valid_after(NOW + days[1] * DAY)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),  # type: ignore[attr-defined]
            critical=False,
        )
    encipherment = not ca and isinstance(key, rsa.RSAPrivateKey)
    usage = key_usage(
        digital_signature=True, key_encipherment=encipherment, key_cert_sign=ca, crl_sign=ca
    )
    builder = builder.add_extension(usage, critical=True)
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(cn)]), critical=False
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    if aia:
        builder = builder.add_extension(ca_issuers(aia), critical=False)
    cert = builder.sign(signer, digest or hashes.SHA256())  # type: ignore[arg-type]
    return Issued(cert, key)


def pem(*certs: Issued) -> bytes:
    return b"".join(c.pem for c in certs)


def key_pem(issued: Issued) -> bytes:
    return issued.key_pem


@dataclass
class Built:
    sent: list[Issued]
    trust: list[Issued]
    host: str = HOST  # the name the client checks (a --resolve entry names it)


def build(kind: str, aia_url: str, publish) -> Built:  # noqa: ANN001
    root = issue("Elsewhere Root", None, key=rsa.generate_private_key(65537, 2048))
    if kind == "leaf_only":
        inter = issue("Elsewhere CA", root, aia=aia_url + "root.der")
        publish("/inter.der", inter.cert.public_bytes(serialization.Encoding.DER))
        leaf = issue(HOST, inter, ca=False, days=(-1, 90), aia=aia_url + "inter.der")
        return Built([leaf], [root])
    if kind in ("deep_missing_middle", "out_of_order"):
        a = issue("Elsewhere A", root, digest=hashes.SHA384())
        b = issue("Elsewhere B", a, key=ec.generate_private_key(ec.SECP384R1()))
        leaf = issue(HOST, b, ca=False, key=rsa.generate_private_key(65537, 2048))
        return Built([leaf, b] if kind == "deep_missing_middle" else [leaf, a, b], [root])
    if kind == "expired_intermediate":
        inter = issue("Elsewhere Expired CA", root, days=(-400, -30))
        leaf = issue(HOST, inter, ca=False)
        return Built([leaf, inter], [root])
    if kind == "cross_signed_expired":
        old = issue("Elsewhere Old Root", None, days=(-4000, -365))
        root_key = ec.generate_private_key(ec.SECP256R1())
        new_root = issue("Elsewhere New Root", None, key=root_key)
        cross = issue("Elsewhere New Root", old, key=root_key, days=(-1000, 200))
        inter = issue("Elsewhere CA", new_root)
        leaf = issue(HOST, inter, ca=False)
        publish("/old.der", old.cert.public_bytes(serialization.Encoding.DER))
        return Built([leaf, inter, cross], [new_root])
    if kind == "wrong_host":
        inter = issue("Elsewhere CA", root)
        leaf = issue(HOST, inter, ca=False)
        return Built([leaf, inter], [root], host="other.example.invalid")
    raise AssertionError(kind)


KINDS = (
    "leaf_only",
    "deep_missing_middle",
    "out_of_order",
    "expired_intermediate",
    "cross_signed_expired",
    "wrong_host",
)


@pytest.fixture(scope="module")
def aia() -> Iterator[AIAServer]:
    with AIAServer() as server:
        yield server


@pytest.fixture(scope="module")
def fast_clients():
    loaded = load_clients(list(FAST))
    yield loaded
    for client in loaded:
        close = getattr(client, "close", None)
        if close:
            close()


def cells(run, target: str) -> dict[str, tuple[str, str]]:  # noqa: ANN001
    return {o.client: (o.verdict.value, o.reason.value) for o in run.results if o.target == target}


def live_capture_replay(kind: str, clients, aia: AIAServer, tmp: Path):  # noqa: ANN001
    built = build(
        kind, aia.url, lambda path, body: aia.publish(path, body, "application/pkix-cert")
    )
    chain = tmp / "chain.pem"
    chain.write_bytes(pem(*built.sent))
    key = tmp / "key.pem"
    key.write_bytes(key_pem(built.sent[0]))
    trust = tmp / "trust.pem"
    trust.write_bytes(pem(*built.trust))
    with TLSServer(str(chain), str(key)) as server:
        target = Target(host=built.host, port=server.port, connect_to="127.0.0.1")
        live = run_matrix([target], clients, trust=TrustPlan(str(trust)), timeout=8, jobs=7)
        case = capture_case(target, timeout=5, ca_file=str(trust), results=to_dict(live))
    # Through the file, as a user would carry it: the server is gone from here on.
    (tmp / "case.json").write_text(json.dumps(case.to_dict()))
    loaded = load_case(tmp / "case.json")
    with Replay([(str(tmp / "case.json"), loaded)]) as replay:
        replayed = run_replay(replay, clients, timeout=8, jobs=7)
        differences = compare_with_capture(replay, replayed)
        replay_target = replay.cases[0].target
    return built, loaded, cells(live, target.name), cells(replayed, replay_target.name), differences


@pytest.mark.parametrize("kind", KINDS)
def test_replay_equals_live(kind, fast_clients, aia, tmp_path):
    built, case, live, replayed, differences = live_capture_replay(
        kind, fast_clients, aia, tmp_path
    )
    assert replayed == live
    assert differences == []
    available = [c for c, (verdict, _) in live.items() if verdict != Verdict.SKIPPED.value]
    assert available, "no client ran: nothing was compared"
    assert len(case.presented) == len(built.sent)
    if kind == "wrong_host":
        assert {r for _, r in live.values()} == {"hostname_mismatch"}


def test_capture_records_what_was_sent_and_fetched(fast_clients, aia, tmp_path):
    built, case, live, _, _ = live_capture_replay(
        "cross_signed_expired", fast_clients[:1], aia, tmp_path
    )
    sent = [c.cert.public_bytes(serialization.Encoding.PEM).decode() for c in built.sent]
    assert [c.pem for c in case.presented] == sent
    assert case.target.sni == HOST and case.tls_version == "TLSv1.3"
    assert [c.pem for c in case.anchors] == [pem(built.trust[0]).decode()]
    assert case.results is not None and case.results["schema"] == "tlsmatrix/2"
    assert "PRIVATE KEY" not in (tmp_path / "case.json").read_text()


def test_leaf_only_replay_serves_the_twin_intermediate(fast_clients, aia, tmp_path):
    built, case, _, _, _ = live_capture_replay("leaf_only", fast_clients[:1], aia, tmp_path)
    fetched = [f for f in case.aia if f.outcome == "ok"]
    assert [f.url.rsplit("/", 1)[1] for f in fetched] == ["inter.der"]
    assert any(f.url.endswith("root.der") and f.outcome == "not_found" for f in case.aia)
    with Replay([("case.json", case)]) as replay:
        twin_leaf = replay.pki.twin(case.presented[0].sha256).certificate
        url = twin_leaf.extensions.get_extension_for_class(x509.AuthorityInformationAccess)
        location = url.value[0].access_location.value
        assert location.startswith(replay.aia.url)
        from tlsmatrix.chain.aia import fetch_issuer

        (twin_inter,) = fetch_issuer(location, 5).certificates
        assert issued_by(twin_leaf, twin_inter)
        assert twin_inter.subject == fetched[0].certificates[0].certificate().subject
        assert twin_inter.public_key() != fetched[0].certificates[0].certificate().public_key()


@needs_binary("java")
def test_replay_equals_live_with_java(aia, tmp_path):
    clients = load_clients(["java", "java-aia", "stdlib"])
    try:
        _, _, live, replayed, differences = live_capture_replay("leaf_only", clients, aia, tmp_path)
    finally:
        for client in clients:
            close = getattr(client, "close", None)
            if close:
                close()
    assert live["java"][0] != Verdict.SKIPPED.value
    assert replayed == live and differences == []
    # java-aia downloads the intermediate: live from the capture's server, replayed
    # from the twin served by the replay's own AIA server.
    assert live["java-aia"][0] == "accept" and live["java"][0] == "reject"


def test_wrong_host_twin_keeps_the_name_and_ip_san(tmp_path):
    root = issue("Elsewhere Root", None)
    leaf = issue(HOST, root, ca=False)
    (tmp_path / "c.pem").write_bytes(pem(leaf, root))
    (tmp_path / "k.pem").write_bytes(key_pem(leaf))
    (tmp_path / "t.pem").write_bytes(pem(root))
    with TLSServer(str(tmp_path / "c.pem"), str(tmp_path / "k.pem")) as server:
        case = capture_case(
            Target(HOST, server.port, connect_to="127.0.0.1"),
            timeout=5,
            ca_file=str(tmp_path / "t.pem"),
        )
    with Replay([("c", case)]) as replay:
        twin = replay.pki.twin(case.presented[0].sha256).certificate
        assert (
            twin.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            == leaf.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        )
        assert replay.cases[0].target.host == HOST
        assert replay.cases[0].target.connect_to == "127.0.0.1"
