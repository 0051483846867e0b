"""Chain capture and analysis against real loopback TLS servers.

Each scenario serves a chain built here with cryptography (leaf first, as servers must),
captures what arrives over a real handshake, and checks the analysis names exactly the
expected issues. Private keys live in pytest's temporary directories only.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID
from tlsmatrix.chain.inspection import (
    CapturedChain,
    analyse_chain,
    capture_chain,
    inspect_chain,
    leaf_matches_hostname,
    path_from_leaf,
)
from tlsmatrix.clients.base import Target
from tlsmatrix.lab import certbuilder
from tlsmatrix.lab.certbuilder import general_names
from tlsmatrix.lab.corpus.certs import resign_sha1
from tlsmatrix.lab.tlsserver import TLSServer

from tests._pki_moreclients import closed_port, plain_http_server
from tests.chains import subject_name

NOW = datetime.now(UTC)
DER = serialization.Encoding.DER


# --- a small PKI --------------------------------------------------------------------------


class Issued(certbuilder.Issued):
    @property
    def subject(self) -> str:
        return self.cert.subject.rfc4514_string()


def make_cert(
    cn: str,
    issuer: Issued | None = None,
    *,
    ca: bool = False,
    sans: tuple[str, ...] = (),
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | None = None,
    subject: x509.Name | None = None,
    issuer_name: x509.Name | None = None,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    aia: tuple[str, str] | None = None,
    crl: str | None = None,
) -> Issued:
    """A certificate for ``cn`` issued by ``issuer`` (self-signed when None)."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    subject = subject or subject_name(cn)
    signer_key = issuer.key if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name or (issuer.cert.subject if issuer else subject))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or NOW - timedelta(days=365))
        .not_valid_after(not_after or NOW + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if sans:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(general_names(sans)), critical=False
        )
    if aia:
        builder = builder.add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.CA_ISSUERS,
                        x509.UniformResourceIdentifier(aia[0]),
                    ),
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(aia[1])
                    ),
                ]
            ),
            critical=False,
        )
    if crl:
        builder = builder.add_extension(
            x509.CRLDistributionPoints(
                [x509.DistributionPoint([x509.UniformResourceIdentifier(crl)], None, None, None)]
            ),
            critical=False,
        )
    return Issued(builder.sign(signer_key, hashes.SHA256()), key)


def resign_with_sha1(issued: Issued, issuer_key: rsa.RSAPrivateKey) -> Issued:
    """The same certificate signed with sha1WithRSAEncryption (cryptography no longer signs
    with SHA-1; the corpus's resign_sha1 splices the DER and signs with the raw key)."""
    resigned = resign_sha1(issued.der, issuer_key)
    return Issued(x509.load_der_x509_certificate(resigned), issued.key)


@dataclass
class PKI:
    root: Issued
    inter: Issued
    leaf: Issued


@pytest.fixture(scope="module")
def pki() -> PKI:
    root = make_cert("Test Root", ca=True)
    inter = make_cert("Test Intermediate", root, ca=True)
    leaf = make_cert("localhost", inter, sans=("localhost", "127.0.0.1"))
    return PKI(root, inter, leaf)


# --- servers ------------------------------------------------------------------------------


def _write_chain(tmp: Path, chain: list[Issued]) -> tuple[str, str]:
    chain_path, key_path = tmp / "chain.pem", tmp / "key.pem"
    chain_path.write_bytes(b"".join(c.pem for c in chain))
    key_path.write_bytes(chain[0].key_pem)
    return str(chain_path), str(key_path)


def serve_and_capture(
    tmp: Path, chain: list[Issued], host: str = "localhost", timeout: float = 5.0
) -> CapturedChain:
    chain_file, key_file = _write_chain(tmp, chain)
    with TLSServer(chain_file, key_file) as server:
        target = Target(host, server.port, connect_to=None if host == "127.0.0.1" else "127.0.0.1")
        return capture_chain(target, timeout)


# --- capture ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "order",
    [["leaf"], ["leaf", "inter"], ["leaf", "inter", "root"], ["leaf", "root", "inter"]],
    ids=lambda o: "+".join(o),
)
def test_capture_returns_exactly_the_sent_chain(pki: PKI, tmp_path: Path, order: list[str]):
    chain = [getattr(pki, name) for name in order]
    captured = serve_and_capture(tmp_path, chain)
    assert captured.error is None
    assert captured.ok
    assert captured.certificates == tuple(c.der for c in chain)
    assert captured.tls_version == "TLSv1.3"
    assert captured.target.startswith("https://localhost:")


def test_capture_of_a_silent_server_ends_at_the_deadline(silent_server):
    started = time.monotonic()
    captured = capture_chain(Target("127.0.0.1", silent_server.port), timeout=1.0)
    elapsed = time.monotonic() - started
    assert elapsed < 2.0
    assert elapsed >= 0.9  # it did wait for the server, not give up at once
    assert captured.error is not None and captured.error.startswith("timeout")
    assert captured.certificates == ()
    assert not captured.ok


def test_capture_of_a_closed_port_reports_refused():
    with closed_port() as port:
        captured = capture_chain(Target("127.0.0.1", port), timeout=2.0)
    assert captured.error is not None and captured.error.startswith("connection refused")
    assert captured.certificates == ()


def test_capture_of_a_plain_http_server_reports_an_error_without_certificates():
    with plain_http_server() as port:
        captured = capture_chain(Target("127.0.0.1", port), timeout=3.0)
    assert captured.error is not None
    assert not captured.error.startswith("timeout")
    assert captured.certificates == ()


def test_capture_sends_sni_for_names_and_none_for_ip_literals(pki: PKI, tmp_path: Path):
    chain_file, key_file = _write_chain(tmp_path, [pki.leaf, pki.inter])
    seen: list[str | None] = []
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(chain_file, key_file)
    ctx.sni_callback = lambda _sock, name, _ctx: seen.append(name)  # type: ignore[assignment,misc,func-returns-value]
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve(count: int) -> None:
        for _ in range(count):
            conn, _ = listener.accept()
            try:
                with ctx.wrap_socket(conn, server_side=True):
                    pass
            except (OSError, ssl.SSLError):
                pass

    thread = threading.Thread(target=serve, args=(2,), daemon=True)
    thread.start()
    try:
        by_name = capture_chain(Target("localhost", port, connect_to="127.0.0.1"), 3.0)
        by_ip = capture_chain(Target("127.0.0.1", port), 3.0)
    finally:
        thread.join(timeout=5)
        listener.close()
    assert by_name.certificates and by_ip.certificates
    assert seen == ["localhost", None]


# --- analysis of real captures ------------------------------------------------------------


def _codes_for(tmp: Path, chain: list[Issued], host: str = "localhost") -> frozenset[str]:
    captured = serve_and_capture(tmp, chain, host="127.0.0.1" if host == "127.0.0.1" else host)
    assert captured.error is None, captured.error
    return analyse_chain(captured.certificates, host).issue_codes


def test_full_chain_has_no_issues(pki: PKI, tmp_path: Path):
    captured = serve_and_capture(tmp_path, [pki.leaf, pki.inter])
    report = analyse_chain(captured.certificates, "localhost")
    assert report.issues == ()
    assert report.path == (0, 1)
    assert report.missing_issuer is None
    assert report.expected_anchor == pki.root.subject  # the client must hold the root


def test_leaf_only_is_incomplete_and_names_the_intermediate(pki: PKI, tmp_path: Path):
    captured = serve_and_capture(tmp_path, [pki.leaf])
    report = analyse_chain(captured.certificates, "localhost")
    assert report.issue_codes == {"incomplete"}
    assert report.missing_issuer == pki.inter.subject
    (issue,) = report.issues
    assert pki.inter.subject in issue.message and issue.index == 0


def test_sending_the_root_is_contains_anchor(pki: PKI, tmp_path: Path):
    captured = serve_and_capture(tmp_path, [pki.leaf, pki.inter, pki.root])
    report = analyse_chain(captured.certificates, "localhost")
    assert report.issue_codes == {"contains_anchor"}
    assert report.issues[0].index == 2
    assert report.path == (0, 1, 2)
    assert report.expected_anchor is None
    assert report.certificates[2].self_signed


def test_wrong_order_is_reported_with_the_anchor(pki: PKI, tmp_path: Path):
    captured = serve_and_capture(tmp_path, [pki.leaf, pki.root, pki.inter])
    report = analyse_chain(captured.certificates, "localhost")
    assert report.issue_codes == {"wrong_order", "contains_anchor"}
    assert report.path == (0, 2, 1)
    assert [c.subject for c in path_from_leaf(report)] == [
        pki.leaf.subject,
        pki.inter.subject,
        pki.root.subject,
    ]


def test_expired_leaf(pki: PKI, tmp_path: Path):
    leaf = make_cert(
        "localhost",
        pki.inter,
        sans=("localhost",),
        not_before=NOW - timedelta(days=30),
        not_after=NOW - timedelta(days=1),
    )
    captured = serve_and_capture(tmp_path, [leaf, pki.inter])
    report = analyse_chain(captured.certificates, "localhost")
    assert report.issue_codes == {"expired_in_chain"}
    assert "expired on" in report.issues[0].message and report.issues[0].index == 0
    # The same certificates judged at a time inside the validity window are fine.
    assert analyse_chain(captured.certificates, "localhost", NOW - timedelta(days=5)).issues == ()


def test_not_yet_valid_leaf(pki: PKI, tmp_path: Path):
    leaf = make_cert(
        "localhost",
        pki.inter,
        sans=("localhost",),
        not_before=NOW + timedelta(days=1),
        not_after=NOW + timedelta(days=30),
    )
    report = analyse_chain(serve_and_capture(tmp_path, [leaf, pki.inter]).certificates, "localhost")
    assert report.issue_codes == {"not_yet_valid_in_chain"}
    assert "not valid yet" in report.issues[0].message


def test_expired_intermediate_is_named(pki: PKI, tmp_path: Path):
    inter = make_cert(
        "Old Intermediate", pki.root, ca=True, not_before=NOW - timedelta(days=9),
        not_after=NOW - timedelta(days=2),
    )  # fmt: skip
    leaf = make_cert("localhost", inter, sans=("localhost",))
    report = analyse_chain(serve_and_capture(tmp_path, [leaf, inter]).certificates, "localhost")
    assert report.issue_codes == {"expired_in_chain"}
    assert report.issues[0].index == 1 and "Old Intermediate" in report.issues[0].message


def test_wrong_host(pki: PKI, tmp_path: Path):
    captured = serve_and_capture(tmp_path, [pki.leaf, pki.inter], host="other.test")
    report = analyse_chain(captured.certificates, "other.test")
    assert report.issue_codes == {"hostname_mismatch"}
    assert "other.test" in report.issues[0].message and "localhost" in report.issues[0].message


def test_self_signed_leaf(tmp_path: Path):
    leaf = make_cert("localhost", sans=("localhost",))
    report = analyse_chain(serve_and_capture(tmp_path, [leaf]).certificates, "localhost")
    assert report.issues == ()
    assert report.certificates[0].self_signed
    assert report.missing_issuer is None and report.expected_anchor is None


def test_rsa_1024_leaf_is_a_weak_key(pki: PKI, tmp_path: Path):
    leaf = make_cert(
        "localhost", pki.inter, sans=("localhost",), key=rsa.generate_private_key(65537, 1024)
    )
    report = analyse_chain(serve_and_capture(tmp_path, [leaf, pki.inter]).certificates, "localhost")
    assert report.issue_codes == {"weak_key"}
    assert report.certificates[0].key_type == "RSA" and report.certificates[0].key_bits == 1024


def test_sha1_signed_intermediate_is_a_weak_signature(tmp_path: Path):
    root_key = rsa.generate_private_key(65537, 2048)
    root = make_cert("SHA-1 Root", ca=True, key=root_key)
    inter = resign_with_sha1(make_cert("SHA-1 Intermediate", root, ca=True), root_key)
    leaf = make_cert("localhost", inter, sans=("localhost",))
    # The SHA-1 self-signature of a root does not count: nobody checks it.
    sha1_root = resign_with_sha1(root, root_key)
    captured = serve_and_capture(tmp_path, [leaf, inter, sha1_root])
    report = analyse_chain(captured.certificates, "localhost")
    assert report.issue_codes == {"weak_signature", "contains_anchor"}
    (weak,) = report.issues_with("weak_signature")
    assert weak.index == 1 and "sha1WithRSAEncryption" in weak.message
    assert report.certificates[1].signature_algorithm == "sha1WithRSAEncryption"
    assert report.path == (0, 1, 2)  # SHA-1 signatures still link


def test_unrelated_certificate_is_extra(pki: PKI, tmp_path: Path):
    stranger = make_cert("Stranger CA", ca=True)
    captured = serve_and_capture(tmp_path, [pki.leaf, pki.inter, stranger])
    report = analyse_chain(captured.certificates, "localhost")
    assert report.issue_codes == {"extra_certs"}
    assert report.issues[0].index == 2 and "unrelated" in report.issues[0].message


def test_duplicate_certificate_is_extra(pki: PKI, tmp_path: Path):
    captured = serve_and_capture(tmp_path, [pki.leaf, pki.inter, pki.inter])
    assert len(captured.certificates) == 3
    report = analyse_chain(captured.certificates, "localhost")
    assert report.issue_codes == {"extra_certs"}
    assert "duplicate of certificate 1" in report.issues[0].message


def test_ip_target_matches_ip_san_only(pki: PKI, tmp_path: Path):
    assert _codes_for(tmp_path, [pki.leaf, pki.inter], host="127.0.0.1") == frozenset()
    dns_only = make_cert("localhost", pki.inter, sans=("localhost",))
    assert _codes_for(tmp_path, [dns_only, pki.inter], host="127.0.0.1") == {"hostname_mismatch"}
    wrong_ip = make_cert("localhost", pki.inter, sans=("127.0.0.2",))
    assert _codes_for(tmp_path, [wrong_ip, pki.inter], host="127.0.0.1") == {"hostname_mismatch"}


def test_inspect_chain_captures_and_analyses_against_the_target_host(pki: PKI, tmp_path: Path):
    chain_file, key_file = _write_chain(tmp_path, [pki.leaf])
    with TLSServer(chain_file, key_file) as server:
        inspection = inspect_chain(Target("localhost", server.port, connect_to="127.0.0.1"), 5.0)
    assert inspection.report is not None
    assert inspection.report.issue_codes == {"incomplete"}
    data = json.loads(json.dumps(inspection.to_dict()))
    assert data["tls_version"] == "TLSv1.3" and data["error"] is None
    assert data["issues"][0]["code"] == "incomplete"
    assert data["certificates"][0]["sans"] == ["localhost", "127.0.0.1"]


# --- pure analysis ------------------------------------------------------------------------


def test_certificate_fields(pki: PKI):
    leaf = make_cert(
        "www.example.test",
        pki.inter,
        sans=("www.example.test", "192.0.2.7"),
        aia=("http://aia.test/inter.der", "http://ocsp.test/"),
        crl="http://crl.test/inter.crl",
    )
    report = analyse_chain([leaf.der, pki.inter.der], None)
    info = report.certificates[0]
    assert info.subject == "CN=www.example.test,O=tlsmatrix tests"
    assert info.issuer == pki.inter.subject
    assert info.common_name == "www.example.test"
    assert info.sans == ("www.example.test", "192.0.2.7")
    assert info.serial == format(leaf.cert.serial_number, "x")
    assert info.key_type == "EC" and info.key_bits == 256
    assert info.signature_algorithm == "ecdsa-with-SHA256" and info.signature_hash == "sha256"
    assert info.aia_ca_issuers == ("http://aia.test/inter.der",)
    assert info.aia_ocsp == ("http://ocsp.test/",)
    assert info.crl_urls == ("http://crl.test/inter.crl",)
    assert info.not_after == leaf.cert.not_valid_after_utc.isoformat().replace("+00:00", "Z")
    assert info.sha256 == leaf.cert.fingerprint(hashes.SHA256()).hex()
    assert not info.is_ca and not info.self_signed and info.error is None
    assert report.certificates[1].is_ca
    assert report.hostname is None and report.issues == ()


def test_same_named_impostor_is_not_taken_for_the_issuer(pki: PKI):
    impostor = make_cert("Test Intermediate", pki.root, ca=True)  # same name, other key
    report = analyse_chain([pki.leaf.der, impostor.der, pki.inter.der], "localhost")
    assert report.path == (0, 2)
    assert report.issue_codes == {"extra_certs"}
    assert report.issues[0].index == 1


def test_cross_signed_root_links_by_signature(pki: PKI):
    old_root = make_cert("Old Root", ca=True)
    # The new root's key and name, signed by the old root: a cross-sign.
    cross = make_cert(
        "Test Root", old_root, ca=True, key=pki.root.key, subject=pki.root.cert.subject
    )
    report = analyse_chain([pki.leaf.der, pki.inter.der, cross.der], "localhost")
    assert report.path == (0, 1, 2)
    assert report.issues == ()
    assert report.expected_anchor == old_root.subject
    # Sent with the self-signed root as well, the path ends at whichever follows first.
    both = analyse_chain([pki.leaf.der, pki.inter.der, pki.root.der, cross.der], "localhost")
    assert both.path == (0, 1, 2)
    assert both.issue_codes == {"contains_anchor", "extra_certs"}


def test_hostname_rules(pki: PKI):
    wild = make_cert("wild", pki.inter, sans=("*.example.test", "xn--bcher-kva.example")).cert
    assert leaf_matches_hostname(wild, "a.example.test")[0]
    assert leaf_matches_hostname(wild, "A.Example.Test.")[0]  # case and trailing dot
    assert not leaf_matches_hostname(wild, "a.b.example.test")[0]
    assert not leaf_matches_hostname(wild, "example.test")[0]
    assert leaf_matches_hostname(wild, "bücher.example")[0]  # IDN compared in punycode
    assert not leaf_matches_hostname(wild, "bucher.example")[0]
    ipv6 = make_cert("v6", pki.inter, sans=("::1",)).cert
    assert leaf_matches_hostname(ipv6, "::1")[0] and leaf_matches_hostname(ipv6, "[::1]")[0]
    assert not leaf_matches_hostname(ipv6, "127.0.0.1")[0]


def test_common_name_alone_does_not_match(pki: PKI):
    cn_only = make_cert("localhost", pki.inter)
    report = analyse_chain([cn_only.der, pki.inter.der], "localhost")
    assert report.issue_codes == {"hostname_mismatch"}
    assert "no subjectAltName" in report.issues[0].message


def test_unparseable_certificate_is_reported_and_analysis_continues(pki: PKI):
    report = analyse_chain([pki.leaf.der, b"\x30\x03\x02\x01\x01", pki.inter.der], "localhost")
    assert report.certificates[1].error
    assert report.certificates[1].subject == ""
    assert report.path == (0, 2)
    assert report.issue_codes == {"unparseable"}
    garbage_leaf = analyse_chain([b"not a certificate"], "localhost")
    assert garbage_leaf.issue_codes == {"unparseable"} and garbage_leaf.path == ()


def test_loop_of_certificates_is_incomplete():
    key_a, key_b = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    a_signer, b_signer = Issued(None, key_a), Issued(None, key_b)  # type: ignore[arg-type]
    # A is issued (named and signed) by B, and B by A.
    a = make_cert("A", b_signer, ca=True, key=key_a, issuer_name=subject_name("B"))
    b = make_cert("B", a_signer, ca=True, key=key_b, issuer_name=subject_name("A"))
    report = analyse_chain([a.der, b.der], None)
    assert report.path == (0, 1)
    assert report.issue_codes == {"incomplete"}
    assert "loop" in report.issues[0].message


def test_report_to_dict_is_json(pki: PKI):
    report = analyse_chain([pki.leaf.der], "localhost", NOW)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["missing_issuer"] == pki.inter.subject
    assert data["path"] == [0]
    assert data["issues"] == [
        {"code": "incomplete", "message": report.issues[0].message, "index": 0}
    ]
    assert data["checked_at"].endswith("Z")
