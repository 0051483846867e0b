"""Unit tests of the certificate rules (tlsmatrix.chain.rules) on built certificates."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier
from tlsmatrix.chain.analysis import analyse_chain
from tlsmatrix.chain.diagnosis import build_graph
from tlsmatrix.chain.rules import check_path
from tlsmatrix.clients.base import Observation, Reason, ReasonSource, Verdict
from tlsmatrix.explain.refine import refine_reason
from tlsmatrix.lab import certbuilder as cb

from tests.chains import built_ca


def _leaf(parent: cb.Issued, names: tuple[str, ...] = ("localhost",), **kw: object) -> cb.Issued:
    key = kw.pop("key", None) or cb.ec_key()
    start = cb.now()
    cert = cb.build(
        subject=cb.name(names[0]), key=key, issuer_cert=parent.cert, issuer_key=parent.key,
        not_before=start - cb.DAY, not_after=start + 30 * cb.DAY, ca=False, sans=names,
        **kw,  # type: ignore[arg-type]
    )  # fmt: skip
    return cb.Issued(cert, key)


def _hand_built(
    cn: str, parent: cb.Issued, serial: int, *extensions: tuple[x509.ExtensionType, bool]
) -> cb.Issued:
    """A certificate with only ``extensions`` (each with its criticality), valid a day
    either side of now: what cb.build() will not make, since it always adds a well-formed
    basicConstraints and, on a leaf, serverAuth."""
    key = cb.ec_key()
    start = cb.now()
    builder = (
        x509.CertificateBuilder().subject_name(cb.name(cn))
        .issuer_name(parent.cert.subject).public_key(key.public_key()).serial_number(serial)
        .not_valid_before(start - cb.DAY).not_valid_after(start + cb.DAY)
    )  # fmt: skip
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return cb.Issued(builder.sign(parent.key, hashes.SHA256()), key)


def _client_leaf(parent: cb.Issued) -> cb.Issued:
    """A leaf whose extendedKeyUsage is clientAuth only."""
    return _hand_built(
        "localhost",
        parent,
        4,
        (x509.BasicConstraints(ca=False, path_length=None), True),
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False),
        (x509.SubjectAlternativeName([x509.DNSName("localhost")]), False),
    )


def findings(*chain: cb.Issued) -> list[tuple[Reason, str]]:
    graph = build_graph([c.der for c in chain])
    return [(f.reason, f.evidence) for f in check_path(graph.paths[0], graph)]


def reasons(*chain: cb.Issued) -> list[Reason]:
    return [r for r, _ in findings(*chain)]


ROOT = built_ca("Rules Root")


def test_a_good_chain_breaks_no_rule() -> None:
    inter = built_ca("Rules I1", ROOT)
    assert findings(_leaf(inter), inter, ROOT) == []


def test_path_length_counts_intermediates_below_the_constrained_ca() -> None:
    i1 = built_ca("Rules I1", ROOT, pathlen=0)
    i2 = built_ca("Rules I2", i1)
    found = findings(_leaf(i2), i2, i1, ROOT)
    assert found == [
        (Reason.PATH_LENGTH, "'Rules I1' has pathLenConstraint 0 and 1 intermediate below it")
    ]
    # The anchor's own constraint is applied too (as OpenSSL and GnuTLS do).
    root0 = built_ca("Rules Root0", pathlen=0)
    j1 = built_ca("Rules J1", root0)
    assert reasons(_leaf(j1), j1, root0) == [Reason.PATH_LENGTH]
    # pathLen 0 with the leaf directly below is fine.
    assert reasons(_leaf(i1), i1, ROOT) == []


def test_issuer_not_a_ca_and_without_cert_sign() -> None:
    fake = built_ca("Rules NotCA", ROOT, ca=False, key_usage=cb.key_usage(digital_signature=True))
    found = reasons(_leaf(fake), fake, ROOT)
    assert found[0] is Reason.NOT_A_CA and Reason.WRONG_USAGE in found
    no_sign = built_ca("Rules NoSign", ROOT, key_usage=cb.key_usage(crl_sign=True))
    assert reasons(_leaf(no_sign), no_sign, ROOT) == [Reason.WRONG_USAGE]


def test_name_constraints_permitted_excluded_and_ip() -> None:
    permitted = x509.NameConstraints([x509.DNSName("example.invalid")], None)
    ca = built_ca("Rules NC", ROOT, name_constraints=permitted)
    assert reasons(_leaf(ca, ("www.example.invalid",)), ca, ROOT) == []
    found = findings(_leaf(ca, ("localhost",)), ca, ROOT)
    assert [r for r, _ in found] == [Reason.NAME_CONSTRAINTS]
    assert "'localhost'" in found[0][1]
    excluded = x509.NameConstraints(None, [x509.DNSName(".example.invalid")])
    ex = built_ca("Rules NX", ROOT, name_constraints=excluded)
    assert reasons(_leaf(ex, ("a.example.invalid",)), ex, ROOT) == [Reason.NAME_CONSTRAINTS]
    assert reasons(_leaf(ex, ("example.invalid",)), ex, ROOT) == []
    net = x509.NameConstraints([x509.IPAddress(ipaddress.ip_network("10.0.0.0/8"))], None)
    ipca = built_ca("Rules NIP", ROOT, name_constraints=net)
    assert reasons(_leaf(ipca, ("127.0.0.1",)), ipca, ROOT) == [Reason.NAME_CONSTRAINTS]


def test_unknown_critical_extension() -> None:
    odd = x509.UnrecognizedExtension(ObjectIdentifier("1.3.6.1.4.1.55555.1"), b"\x05\x00")
    key = cb.ec_key()
    start = cb.now()
    cert = (
        x509.CertificateBuilder().subject_name(cb.name("Rules Crit")).issuer_name(ROOT.cert.subject)
        .public_key(key.public_key()).serial_number(1).not_valid_before(start - cb.DAY)
        .not_valid_after(start + cb.DAY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(odd, critical=True)
        .sign(ROOT.key, hashes.SHA256())
    )  # fmt: skip
    found = findings(cb.Issued(cert, key), ROOT)
    assert found == [
        (
            Reason.CRITICAL_EXTENSION,
            "'Rules Crit' has the unhandled critical extension 1.3.6.1.4.1.55555.1",
        )
    ]


def test_leaf_usages() -> None:
    inter = built_ca("Rules I1", ROOT)
    assert reasons(_client_leaf(inter), inter, ROOT) == [Reason.WRONG_USAGE]
    ku = cb.key_usage(key_encipherment=True)
    assert reasons(_leaf(inter, key_usage=ku), inter, ROOT) == [Reason.WRONG_USAGE]
    # RSA: keyEncipherment alone is enough.
    rsa_leaf = _leaf(inter, key_usage=ku, key=cb.rsa_key())
    assert reasons(rsa_leaf, inter, ROOT) == []


def test_bad_signature_on_a_link_and_on_a_stopped_path() -> None:
    inter = built_ca("Rules I1", ROOT)
    impostor = cb.Issued(inter.cert, cb.ec_key())  # the same name, another key
    forged = _leaf(impostor)
    found = findings(forged, inter, ROOT)
    assert [r for r, _ in found] == [Reason.BAD_SIGNATURE]
    assert "'localhost'" in found[0][1] and "'Rules I1'" in found[0][1]


def _ed(cn: str, issuer: x509.Name | None, signer: ed25519.Ed25519PrivateKey, ca: bool):
    key = ed25519.Ed25519PrivateKey.generate()
    start = cb.now()
    builder = (
        x509.CertificateBuilder().subject_name(cb.name(cn)).issuer_name(issuer or cb.name(cn))
        .public_key(key.public_key()).serial_number(3).not_valid_before(start - cb.DAY)
        .not_valid_after(start + cb.DAY)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )  # fmt: skip
    if not ca:
        names = x509.SubjectAlternativeName([x509.DNSName("localhost")])
        builder = builder.add_extension(names, critical=False)
    return cb.Issued(builder.sign(signer if issuer else key, None), key)


def test_ed25519_and_rsa_links() -> None:
    root_key = ed25519.Ed25519PrivateKey.generate()
    root = _ed("Rules Ed", None, root_key, True)
    root = cb.Issued(root.cert, root.key)
    leaf = _ed("localhost", root.cert.subject, root.key, False)  # type: ignore[arg-type]
    assert reasons(leaf, root) == []
    other = _ed("localhost", root.cert.subject, ed25519.Ed25519PrivateKey.generate(), False)
    assert reasons(other, root) == [Reason.BAD_SIGNATURE]
    rsa_key = cb.rsa_key()
    start = cb.now()
    rsa_root = cb.build(subject=cb.name("Rules RSA"), key=rsa_key, issuer_cert=None,
                        issuer_key=rsa_key, not_before=start - cb.DAY,
                        not_after=start + cb.DAY, ca=True)  # fmt: skip
    rsa_ca = cb.Issued(rsa_root, rsa_key)
    assert reasons(_leaf(rsa_ca), rsa_ca) == []


def test_undecodable_extension_is_malformed() -> None:
    bad = x509.UnrecognizedExtension(x509.oid.ExtensionOID.SUBJECT_ALTERNATIVE_NAME, b"\x04\x01")
    key = cb.ec_key()
    start = cb.now()
    cert = (
        x509.CertificateBuilder().subject_name(cb.name("Rules Bad")).issuer_name(ROOT.cert.subject)
        .public_key(key.public_key()).serial_number(2).not_valid_before(start - cb.DAY)
        .not_valid_after(start + cb.DAY).add_extension(bad, critical=False)
        .sign(ROOT.key, hashes.SHA256())
    )  # fmt: skip
    assert reasons(cb.Issued(cert, key), ROOT) == [Reason.MALFORMED_CERTIFICATE]


def _vague(
    reason: Reason, store: Path, code: int | None = None, invalid: bool = True
) -> Observation:
    return Observation(
        client="x", target="https://localhost:1", verdict=Verdict.REJECT, reason=reason,
        verify_code=code, certificate_invalid=invalid,
    )  # fmt: skip


def test_refine_uses_the_rules_for_invalid_and_for_code_26(tmp_path: Path) -> None:
    i1 = built_ca("Rules I1", ROOT, pathlen=0)
    i2 = built_ca("Rules I2", i1)
    chain = [_leaf(i2).der, i2.der, i1.der, ROOT.der]
    graph = build_graph(chain)
    report = analyse_chain(chain, "localhost")
    obs = _vague(Reason.INVALID_CERTIFICATE, tmp_path)
    refined = refine_reason(obs, report, graph)
    assert (refined.reason, refined.reason_source) == (Reason.PATH_LENGTH, ReasonSource.CHAIN)
    fake = built_ca("Rules NotCA", ROOT, ca=False)
    chain = [_leaf(fake).der, fake.der, ROOT.der]
    code26 = _vague(Reason.WRONG_USAGE, tmp_path, code=26, invalid=False)
    refined = refine_reason(code26, analyse_chain(chain, "localhost"), build_graph(chain))
    assert (refined.reason, refined.reason_source) == (Reason.NOT_A_CA, ReasonSource.CHAIN)
    assert refined.verify_code == 26
    # A leaf without serverAuth: code 26 is about the leaf, and stays wrong_usage.
    chain = [_client_leaf(fake).der, fake.der, ROOT.der]
    kept = refine_reason(code26, analyse_chain(chain, "localhost"), build_graph(chain))
    assert kept.reason is Reason.WRONG_USAGE


def test_refine_an_undecodable_ca_extension_is_malformed() -> None:
    bad_bc = x509.UnrecognizedExtension(x509.oid.ExtensionOID.BASIC_CONSTRAINTS, b"\x04\x01")
    inter = _hand_built("Rules BadBC", ROOT, 5, (bad_bc, True))
    chain = [_leaf(inter).der, inter.der, ROOT.der]
    report, graph = analyse_chain(chain, "localhost"), build_graph(chain)
    for said, code in ((Reason.NOT_A_CA, None), (Reason.WRONG_USAGE, 26)):
        client_said = Observation(
            client="x", target="t", verdict=Verdict.REJECT, reason=said, verify_code=code
        )
        refined = refine_reason(client_said, report, graph)
        assert refined.reason is Reason.MALFORMED_CERTIFICATE
        assert refined.reason_source is ReasonSource.CHAIN
    # A usage problem the client named itself (another code) is left alone.
    other = Observation(client="x", target="t", verdict=Verdict.REJECT, reason=Reason.WRONG_USAGE,
                        verify_code=32)  # fmt: skip
    assert refine_reason(other, report, graph).reason is Reason.WRONG_USAGE


def test_refine_an_issuer_unknown_over_a_broken_signature_is_bad_signature() -> None:
    """Chromium says ERR_CERT_AUTHORITY_INVALID (issuer unknown) for a leaf its issuer's key
    does not verify: the chain shows the broken signature, not a missing issuer."""
    inter = built_ca("Rules I1", ROOT)
    forged = _leaf(cb.Issued(inter.cert, cb.ec_key()))  # the issuer's name, another key
    chain = [forged.der, inter.der, ROOT.der]
    said = Observation(
        client="x", target="https://localhost:1", verdict=Verdict.REJECT,
        reason=Reason.UNKNOWN_ISSUER, issuer_unknown=True,
    )  # fmt: skip
    refined = refine_reason(said, analyse_chain(chain, "localhost"), build_graph(chain))
    assert (refined.reason, refined.reason_source) == (Reason.BAD_SIGNATURE, ReasonSource.CHAIN)
    # The same signal over an intact chain whose issuer is merely absent stays a chain cause.
    good = _leaf(inter)
    chain = [good.der]
    kept = refine_reason(said, analyse_chain(chain, "localhost"), build_graph(chain))
    assert kept.reason is not Reason.BAD_SIGNATURE
