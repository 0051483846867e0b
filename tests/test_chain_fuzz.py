"""Property tests: whatever a server sends, the analysis neither raises nor stalls, and a
trust bundle of any bytes loads or raises TrustBundleError, nothing else."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tlsmatrix.chain.analysis import ISSUE_CODES, ChainReport, analyse_chain
from tlsmatrix.trust.bundle import TrustBundle, TrustBundleError

NOW = datetime.now(UTC)
DER = serialization.Encoding.DER
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(
    cn: str,
    issuer_cn: str,
    key: ec.EllipticCurvePrivateKey,
    signer: ec.EllipticCurvePrivateKey,
    extensions: list[x509.ExtensionType] = (),  # type: ignore[assignment]
) -> bytes:
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(issuer_cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    )
    for extension in extensions:
        builder = builder.add_extension(extension, critical=False)
    return builder.sign(signer, hashes.SHA256()).public_bytes(DER)


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


_KEYS = [_key() for _ in range(3)]
# A real three-certificate chain (leaf, intermediate, root) to mutate.
_LEAF_SAN = x509.SubjectAlternativeName([x509.DNSName("leaf.test")])
REAL_CHAIN = [
    _cert("leaf.test", "Inter", _KEYS[0], _KEYS[1], [_LEAF_SAN]),
    _cert("Inter", "Root", _KEYS[1], _KEYS[2]),
    _cert("Root", "Root", _KEYS[2], _KEYS[2]),
]


def _check(report: ChainReport, sent: int) -> None:
    assert len(report.certificates) == min(sent, 256)
    assert report.issue_codes <= ISSUE_CODES
    assert all(0 <= i < len(report.certificates) for i in report.path)
    assert len(set(report.path)) == len(report.path)
    report.to_dict()


@FUZZ
@given(st.lists(st.binary(max_size=600), max_size=6), st.sampled_from([None, "leaf.test", "::1"]))
def test_arbitrary_bytes_never_raise(blobs: list[bytes], hostname: str | None):
    report = analyse_chain(blobs, hostname)
    _check(report, len(blobs))
    for info in report.certificates:
        assert info.error or info.subject is not None


@FUZZ
@given(st.integers(0, 2), st.data())
def test_truncated_and_corrupted_real_certificates(which: int, data: st.DataObject):
    der = REAL_CHAIN[which]
    cut = data.draw(st.integers(0, len(der) - 1))
    flip_at = data.draw(st.integers(0, len(der) - 1))
    flipped = bytearray(der)
    flipped[flip_at] ^= data.draw(st.integers(1, 255))
    chain = list(REAL_CHAIN)
    chain[which] = der[:cut]
    report = analyse_chain(chain, "leaf.test")
    _check(report, 3)
    assert report.certificates[which].error
    assert "unparseable" in report.issue_codes
    chain[which] = bytes(flipped)
    _check(analyse_chain(chain, "leaf.test"), 3)


def test_intact_real_chain_is_clean():
    # The mutation tests above start from a chain whose only issue is the sent root.
    assert analyse_chain(REAL_CHAIN, "leaf.test").issue_codes == {"contains_anchor"}


def test_two_hundred_certificate_chain_is_quick():
    keys = [_key() for _ in range(200)]
    chain = [
        _cert(f"cert {i}", f"cert {min(i + 1, 199)}", keys[i], keys[min(i + 1, 199)])
        for i in range(200)
    ]
    started = time.monotonic()
    report = analyse_chain(chain, None)
    assert time.monotonic() - started < 10
    assert report.path == tuple(range(200))
    assert report.certificates[199].self_signed
    assert report.issue_codes == {"contains_anchor"}
    reversed_report = analyse_chain([chain[0], *reversed(chain[1:])], None)
    assert reversed_report.path == (0, *range(199, 0, -1))
    assert "wrong_order" in reversed_report.issue_codes


def test_many_same_named_certificates_are_bounded():
    # 256 certificates with one name, each signed by the next one's key (the last by the
    # first's): every one is a name candidate for every other, so unbounded pairwise
    # signature checks would be tens of thousands. Leaf first and the rest reversed
    # makes the search work hardest.
    n = 256
    keys = [_key() for _ in range(n)]
    chain = [_cert("same", "same", keys[i], keys[(i + 1) % n]) for i in range(n)]
    for order in (chain, [chain[0], *reversed(chain[1:])]):
        started = time.monotonic()
        report = analyse_chain(order, None)
        assert time.monotonic() - started < 10
        assert not any(c.self_signed for c in report.certificates)
        assert len(report.path) > 1
        assert report.issue_codes <= {"incomplete", "wrong_order", "extra_certs"}


def test_more_than_256_certificates_are_cut_and_said_so():
    chain = REAL_CHAIN[:2] + [REAL_CHAIN[1]] * 298
    report = analyse_chain(chain, "leaf.test")
    assert len(report.certificates) == 256
    assert any("only the first 256" in i.message for i in report.issues_with("extra_certs"))


@pytest.mark.parametrize("kind", ["sans", "unrecognized"])
def test_huge_extension_is_handled(kind: str):
    if kind == "sans":
        names = [x509.DNSName(f"host-{i:06d}.example.test") for i in range(8000)]  # ~200 KB
        extension: x509.ExtensionType = x509.SubjectAlternativeName(names)
    else:
        extension = x509.UnrecognizedExtension(
            x509.ObjectIdentifier("1.3.6.1.4.1.55555.1"), b"\x04\x83\x03\x0d\x40" + b"x" * 200_000
        )
    der = _cert("big", "Inter", _KEYS[0], _KEYS[1], [extension])
    assert len(der) > 200_000
    started = time.monotonic()
    report = analyse_chain([der, REAL_CHAIN[1]], "host-007999.example.test")
    assert time.monotonic() - started < 5
    if kind == "sans":
        assert len(report.certificates[0].sans) == 8000
        assert report.issues == ()
    else:
        assert report.issue_codes == {"hostname_mismatch"}
        assert "no subjectAltName" in report.issues[0].message


def test_issuer_cycle_terminates():
    a_key, b_key = _key(), _key()
    a = _cert("A", "B", a_key, b_key)
    b = _cert("B", "A", b_key, a_key)
    for chain in ([a, b], [a, b, a, b], [b, a, a]):
        report = analyse_chain(chain, None)
        assert report.issue_codes == (
            {"incomplete"} if len(chain) == 2 else {"incomplete", "extra_certs"}
        )
        assert report.path == (0, 1)


@FUZZ
@given(st.binary(max_size=4000))
def test_trust_bundle_from_random_bytes_raises_only_its_error(data: bytes):
    try:
        bundle = TrustBundle.from_pem(data)
    except TrustBundleError as exc:
        assert "\n" not in str(exc)
    else:
        assert len(bundle) > 0


@FUZZ
@given(st.binary(max_size=3000), st.booleans())
def test_trust_bundle_from_random_pem_blocks(body: bytes, with_real: bool):

    pem = (
        b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(body) + b"-----END CERTIFICATE-----\n"
    )
    if with_real:
        real = x509.load_der_x509_certificate(REAL_CHAIN[2]).public_bytes(
            serialization.Encoding.PEM
        )
        pem = body + pem + real
    try:
        bundle = TrustBundle.from_pem(pem)
    except TrustBundleError:
        assert not with_real
    else:
        assert len(bundle) >= 1
        if with_real:
            assert bundle.contains_subject("CN=Root")
