"""`inspect`'s issues and fix advice decided by the path graph, and `fix-chain` agreeing
with it: a bad leaf signature, a malformed non-SAN extension, a root whose
authorityKeyIdentifier names another key, gaps in the middle of a deep chain, a store that
holds only the intermediate, and fix-chain's own verification naming the rule broken."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID
from tlsmatrix.chain.aia import AIAFetcher
from tlsmatrix.chain.analysis import analyse_chain
from tlsmatrix.chain.diagnosis import build_graph
from tlsmatrix.chain.fix import FixChainError, build_chain
from tlsmatrix.chain.inspection import apply_graph
from tlsmatrix.explain.explanations import fix_advice
from tlsmatrix.lab.aia import AIAServer
from tlsmatrix.lab.corpus.certs import corrupt

from tests.chains import NOW, Files, Node, make, raw_root, subject_name


def inspect(sent: list[bytes], store: str, fetcher: AIAFetcher | None = None):
    report = analyse_chain(sent, "localhost")
    return apply_graph(report, build_graph(sent, [store], fetcher))


def codes(report) -> list[str]:
    return [i.code for i in report.issues]


def leaf_with(
    issuer: Node,
    *,
    extra: x509.ExtensionType | None = None,
    usage: x509.KeyUsage | None = None,
) -> x509.Certificate:
    """A server leaf for localhost under ``issuer``, with one more extension or another
    keyUsage than make() gives it."""
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject_name("localhost"))
        .issuer_name(issuer.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            usage or x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        )
    )
    if extra is not None:
        builder = builder.add_extension(extra, critical=False)
    return builder.sign(issuer.key, hashes.SHA256())


def der(cert: x509.Certificate) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding

    return cert.public_bytes(Encoding.DER)


# --- 1. a leaf whose signature does not verify with the sent issuer's key --------------


def test_bad_leaf_signature_is_named_and_the_sent_issuer_is_not_unrelated(tmp_path):
    root = make("Badsig Root")
    inter = make("Badsig Inter", root)
    leaf = make("localhost", inter, ca=False)
    broken = corrupt(leaf.der)  # a flipped bit in the signature value
    store = Files(str(tmp_path)).write("roots.pem", root)
    report = inspect([broken, inter.der], store)
    assert codes(report)[0] == "bad_signature", report.issues
    assert "unknown_issuer" not in codes(report) and "extra_certs" not in codes(report)
    assert "'Badsig Inter'" in report.issues[0].message
    with pytest.raises(FixChainError, match=r"does not verify with the key of its issuer 'Badsig"):
        build_chain([x509.load_der_x509_certificate(broken), inter.cert], [root.cert], "localhost")


# --- 2. an undecodable AIA: the SAN still names the host ------------------------------


def test_a_malformed_aia_is_malformed_certificate_not_a_name_mismatch(tmp_path):
    root = make("BadAIA Root")
    inter = make("BadAIA Inter", root)
    bad_aia = x509.UnrecognizedExtension(
        ExtensionOID.AUTHORITY_INFORMATION_ACCESS, b"\x30\x05\x06\x03\xff\xff"
    )
    leaf = leaf_with(inter, extra=bad_aia)
    store = Files(str(tmp_path)).write("roots.pem", root)
    report = inspect([der(leaf), inter.der], store)
    assert "hostname_mismatch" not in codes(report), report.issues
    assert report.leaf is not None and report.leaf.sans == ("localhost",)
    [malformed] = report.issues_with("malformed_certificate")
    assert "authorityInfoAccess" in malformed.message
    assert "names this host" not in fix_advice(report)
    with pytest.raises(FixChainError, match=r"authorityInfoAccess .*\(malformed_certificate\)"):
        build_chain([leaf, inter.cert], [root.cert], "localhost")


# --- 3. a trusted root whose authorityKeyIdentifier names another key -----------------


def test_a_root_whose_aki_names_another_key_is_never_advised_to_be_served(tmp_path):
    root = raw_root(subject_name("AKI Root"), "AKI Root", aki=b"\x11" * 20)
    inter = make("AKI Inter", root)
    leaf = make("localhost", inter, ca=False)
    store = Files(str(tmp_path)).write("roots.pem", root)
    report = inspect([leaf.der, inter.der], store)
    assert "incomplete" not in codes(report), report.issues
    assert codes(report) == ["anchor_aki_mismatch"]
    advice = fix_advice(report)
    assert "serve the intermediate" not in advice and "reissue the root" in advice
    assert report.expected_anchor == root.cert.subject.rfc4514_string()
    fixed = build_chain([leaf.cert, inter.cert], [root.cert], "localhost")
    assert fixed.certificates == (leaf.cert, inter.cert)
    assert any("authorityKeyIdentifier" in note for note in fixed.notes)


# --- 4 and 5. gaps in the middle of root -> A -> B -> C -> leaf -----------------------


def test_a_sent_upper_half_is_on_the_path_and_the_gap_below_it_is_inferred(tmp_path):
    root = make("Gap Root")
    a = make("Gap A", root)
    b = make("Gap B", a)
    c = make("Gap C", b)
    leaf = make("localhost", c, ca=False)
    store = Files(str(tmp_path)).write("roots.pem", root)
    report = inspect([leaf.der, c.der, a.der], store)
    assert codes(report) == ["incomplete"], report.issues
    assert "(inferred)" in report.issues[0].message
    assert report.missing is not None and not report.missing.supplied
    assert report.missing_issuer == b.cert.subject.rfc4514_string()
    advice = fix_advice(report)
    assert "'Gap B' between 'Gap C' and 'Gap A'" in advice and "from your CA" in advice


def test_every_missing_link_is_named_in_serving_order(tmp_path):
    root = make("Order Root")
    store = Files(str(tmp_path)).write("roots.pem", root)
    with AIAServer() as aia:
        a = make("Order A", root)
        b = make("Order B", a, aia=aia.url + "a.der")
        c = make("Order C", b, aia=aia.url + "b.der")
        leaf = make("localhost", c, ca=False)
        aia.publish("/a.der", a.der, "application/pkix-cert")
        aia.publish("/b.der", b.der, "application/pkix-cert")
        upper_sent = inspect([leaf.der, c.der, a.der], store, AIAFetcher())
        both_missing = inspect([leaf.der, c.der], store, AIAFetcher())
    assert "extra_certs" not in codes(upper_sent), upper_sent.issues
    assert "'Order B' between 'Order C' and 'Order A'" in fix_advice(upper_sent)
    assert both_missing.missing is not None
    subjects = (b.cert.subject.rfc4514_string(), a.cert.subject.rfc4514_string())
    assert both_missing.missing.names == subjects
    assert "'Order B', then 'Order A' after 'Order C'" in fix_advice(both_missing)


# --- 6. a trust bundle that holds only the intermediate -------------------------------


@pytest.mark.parametrize("send_intermediate", [False, True], ids=["leaf-only", "leaf+inter"])
def test_fix_chain_keeps_an_intermediate_the_bundle_holds(tmp_path, send_intermediate):
    root = make("Partial Root")
    inter = make("Partial Inter", root)
    leaf = make("localhost", inter, ca=False)
    sent = [leaf.cert, inter.cert] if send_intermediate else [leaf.cert]
    fixed = build_chain(sent, [inter.cert], "localhost")
    assert fixed.certificates == (leaf.cert, inter.cert)
    # and a bundle with the root as well still gets the intermediate, never the root
    fixed = build_chain(sent, [root.cert, inter.cert], "localhost")
    assert fixed.certificates == (leaf.cert, inter.cert)
    if not send_intermediate:
        store = Files(str(tmp_path)).write("inter.pem", inter)
        report = inspect([leaf.der], store)
        assert report.missing is not None and report.missing.names == (
            inter.cert.subject.rfc4514_string(),
        )


# --- 7. fix-chain's verification names the rule ---------------------------------------


def test_fix_chain_refuses_a_leaf_key_usage_without_digital_signature():
    root = make("Usage Root")
    inter = make("Usage Inter", root)
    data_only = x509.KeyUsage(False, False, False, True, False, False, False, False, False)
    leaf = leaf_with(inter, usage=data_only)
    with pytest.raises(FixChainError, match=r"keyUsage without digitalSignature \(wrong_usage\)"):
        build_chain([leaf, inter.cert], [root.cert], "localhost")


def test_fix_chain_names_a_sha1_signature_as_weak_signature():
    from tlsmatrix.lab.corpus.certs import resign_sha1

    root = make("SHA1 Root")
    inter = make("SHA1 Inter", root)
    leaf = make("localhost", inter, ca=False)
    sha1_leaf = x509.load_der_x509_certificate(resign_sha1(leaf.der, inter.key))
    with pytest.raises(FixChainError, match=r"ecdsa-with-SHA1.*\(weak_signature\)"):
        build_chain([sha1_leaf, inter.cert], [root.cert], "localhost")


def empty_subject_root() -> Node:
    return raw_root(x509.Name([]))


def test_fix_chain_builds_to_an_empty_subject_root_with_a_note():
    root = empty_subject_root()
    inter = make("Empty Root Inter", root)
    leaf = make("localhost", inter, ca=False)
    fixed = build_chain([leaf.cert, inter.cert], [root.cert], "localhost")
    assert fixed.certificates == (leaf.cert, inter.cert)
    assert any("empty subject" in note and "SHA-256" in note for note in fixed.notes)


def test_inspect_names_an_empty_subject_root_by_its_fingerprint(tmp_path):
    from types import SimpleNamespace

    from tlsmatrix.commands.inspect import path_lines, store_verdicts

    root = empty_subject_root()
    inter = make("Empty Root Inter", root)
    leaf = make("localhost", inter, ca=False)
    store = Files(str(tmp_path)).write("roots.pem", root)
    sent = [leaf.der, inter.der]
    inspection = SimpleNamespace(graph=build_graph(sent, [store]), report=inspect(sent, store))
    stores = [{"store": store, "origin": "--ca-file", "clients": [], "partial": []}]
    store_verdicts(inspection, stores)
    text = "\n".join(path_lines(inspection)) + stores[0]["detail"]
    assert "(empty subject, SHA-256 " in text and "'?'" not in text and "? [" not in text
