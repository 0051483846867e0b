"""A certificate whose extensions cryptography refuses as a whole (an extension twice):
the run keeps every result and names it malformed_certificate, with real clients and a
real server; GnuTLS's parsing errors are certificate rules, never TLS failures."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from tlsmatrix.chain.revocation import crl_urls_of, ocsp_urls_of
from tlsmatrix.clients.base import Reason, Verdict
from tlsmatrix.lab.corpus.rawserver import RawTLSServer
from tlsmatrix.lab.tlsserver import TLSServer
from tlsmatrix.runner.matrix import TrustPlan, run_matrix
from tlsmatrix.runner.targets import parse_target

from tests.chains import Node, make, signed_der, subject_name
from tests.conftest import loaded_adapters

SAN_OID = bytes.fromhex("0603551d11")  # OBJECT IDENTIFIER 2.5.29.17
PLACEHOLDER_OID = bytes.fromhex("0603551d63")  # 2.5.29.99: unknown, same encoded length


def leaf_with_two_sans(issuer: Node) -> tuple[bytes, ec.EllipticCurvePrivateKey]:
    """A leaf for localhost with its subjectAltName twice: built with a placeholder OID
    of the same length, renamed in the TBSCertificate, and signed again."""
    key = ec.generate_private_key(ec.SECP256R1())
    base = make("localhost", issuer, ca=False, key=key)
    second = x509.UnrecognizedExtension(
        x509.ObjectIdentifier("2.5.29.99"),
        x509.SubjectAlternativeName([x509.DNSName("other.invalid")]).public_bytes(),
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject_name("localhost"))
        .issuer_name(issuer.cert.subject)
        .public_key(key.public_key())
        .serial_number(base.cert.serial_number)
        .not_valid_before(base.cert.not_valid_before_utc)
        .not_valid_after(base.cert.not_valid_after_utc)
    )
    for ext in base.cert.extensions:
        builder = builder.add_extension(ext.value, ext.critical)
    cert = builder.add_extension(second, critical=False).sign(issuer.key, hashes.SHA256())
    tbs = cert.tbs_certificate_bytes
    assert tbs.count(PLACEHOLDER_OID) == 1
    tbs = tbs.replace(PLACEHOLDER_OID, SAN_OID)
    return signed_der(tbs, issuer), key


def stdlib_run(server_port: int, roots: Path):  # noqa: ANN201
    """One target on ``server_port`` probed by stdlib, trusting ``roots``."""
    with loaded_adapters(["stdlib"], required=True) as adapters:
        return run_matrix(
            [parse_target(f"https://localhost:{server_port}/")],
            list(adapters.values()),
            trust=TrustPlan(ca_file=str(roots)),
            timeout=10,
        )


def test_an_extension_twice_is_malformed_for_every_client_and_no_result_is_lost(
    tmp_path: Path,
) -> None:
    root = make("dup root")
    inter = make("dup intermediate", root)
    der, key = leaf_with_two_sans(inter)
    with pytest.raises(x509.DuplicateExtension):
        _ = x509.load_der_x509_certificate(der).extensions
    cert = x509.load_der_x509_certificate(der)
    assert crl_urls_of(cert) == [] and ocsp_urls_of(cert) == []  # read as absent
    roots = tmp_path / "roots.pem"
    roots.write_bytes(root.pem)
    with (
        RawTLSServer([der, inter.der], key) as server,  # OpenSSL refuses to serve it
        loaded_adapters(["stdlib", "gnutls", "wget"]) as adapters,
    ):
        good = TLSServer(*_good_files(tmp_path, root, inter))
        with good:
            urls = [f"https://localhost:{p}/" for p in (server.port, good.port)]
            result = run_matrix(
                [parse_target(u) for u in urls],
                list(adapters.values()),
                trust=TrustPlan(ca_file=str(roots)),
                timeout=10,
                jobs=3,
            )
    assert set(adapters) == {"stdlib", "gnutls", "wget"}, "a client is missing here"
    by = {(r.target.split(":")[-1].rstrip("/"), r.client): r for r in result.results}
    assert len(by) == 6  # both targets, every client: nothing lost to the bad one
    for name in adapters:
        bad = by[(str(server.port), name)]
        assert (bad.verdict, bad.reason) == (Verdict.REJECT, Reason.MALFORMED_CERTIFICATE), bad
        assert by[(str(good.port), name)].verdict is Verdict.ACCEPT


def _good_files(tmp_path: Path, root: Node, inter: Node) -> tuple[str, str]:
    leaf = make("localhost", inter, ca=False)
    chain = tmp_path / "good.pem"
    chain.write_bytes(leaf.pem + inter.pem)
    key = tmp_path / "good.key"
    key.write_bytes(leaf.key_pem)
    return str(chain), str(key)


ECDSA_SHA256 = bytes.fromhex("06082a8648ce3d040302")
ECDSA_SHA384 = bytes.fromhex("06082a8648ce3d040303")


def test_inner_and_outer_signature_algorithms_that_differ_are_malformed(tmp_path: Path) -> None:
    """The signed part names ecdsa-with-SHA384, the outer one ecdsa-with-SHA256 (which
    the signature really uses): OpenSSL calls it a signature failure, the chain shows the
    signature verifies and the certificate is malformed."""
    from tlsmatrix.chain.certfacts import signature_algorithm_mismatch

    root = make("alg root")
    inter = make("alg intermediate", root)
    key = ec.generate_private_key(ec.SECP256R1())
    tbs = make("localhost", inter, ca=False, key=key).cert.tbs_certificate_bytes
    assert tbs.count(ECDSA_SHA256) == 1
    der = signed_der(tbs.replace(ECDSA_SHA256, ECDSA_SHA384), inter)
    leaf = x509.load_der_x509_certificate(der)
    assert signature_algorithm_mismatch(leaf) == ("ecdsa-with-SHA384", "ecdsa-with-SHA256")
    assert signature_algorithm_mismatch(inter.cert) is None
    roots = tmp_path / "roots.pem"
    roots.write_bytes(root.pem)
    with RawTLSServer([der, inter.der], key) as server:
        (row,) = stdlib_run(server.port, roots).results
    assert row.verify_code == 7  # OpenSSL's own signal: certificate signature failure
    assert (row.reason, row.reason_source.value) == (Reason.MALFORMED_CERTIFICATE, "chain")
    assert "ecdsa-with-SHA384 inside its signed part" in row.explanation, row.explanation


def test_a_failing_analysis_step_costs_its_evidence_not_the_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Fault injection: whatever certificate breaks the analysis next, the run keeps every
    row (the client's own reason) and says in one line what was lost."""
    import tlsmatrix.chain.inspection as inspection

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("an input nobody foresaw")

    monkeypatch.setattr(inspection, "with_paths", broken)
    root = make("guard root")
    chain, key = _good_files(tmp_path, root, make("guard intermediate", root))
    roots = tmp_path / "roots.pem"
    roots.write_bytes(root.pem)
    with TLSServer(chain, key) as server:
        (row,) = stdlib_run(server.port, roots).results
    assert row.verdict is Verdict.ACCEPT
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "chain analysis failed" in err[0] and "RuntimeError" in err[0], err


def test_a_bug_on_the_command_line_is_one_line_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import tlsmatrix.commands.clients as clients_command
    from tlsmatrix.cli import main

    def broken(_args: object) -> int:
        raise KeyError("nobody foresaw this")

    monkeypatch.setattr(clients_command, "command_clients", broken)
    monkeypatch.delenv("TLSMATRIX_DEBUG", raising=False)
    assert main(["clients"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error (KeyError" in err and "Traceback" not in err
