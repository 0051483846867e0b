"""TrustBundle: PEM files and hashed directories, lookups, the per-run cache, errors."""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from tlsmatrix.trust.bundle import TrustBundle, TrustBundleError, clear_cache

PEM = serialization.Encoding.PEM
DER = serialization.Encoding.DER
BROKEN_BLOCK = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"


@pytest.fixture(autouse=True)
def _fresh_cache():
    clear_cache()
    yield
    clear_cache()


@pytest.fixture(scope="module")
def cas() -> tuple[trustme.CA, trustme.CA, trustme.LeafCert]:
    root = trustme.CA()
    inter = root.create_child_ca()
    leaf = inter.issue_cert("localhost")
    return root, inter, leaf


def _cert(blob: trustme.Blob) -> x509.Certificate:
    return x509.load_pem_x509_certificate(blob.bytes())


def _impostor(name: x509.Name) -> x509.Certificate:
    """A certificate whose issuer is ``name`` but whose signature is by an unrelated key."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "impostor")]))
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )


def test_file_bundle_lookups(cas, tmp_path: Path):
    root, inter, leaf = cas
    bundle_path = tmp_path / "bundle.pem"
    bundle_path.write_bytes(b"junk before\n" + root.cert_pem.bytes() + inter.cert_pem.bytes())
    bundle = TrustBundle.load(bundle_path)
    root_cert, inter_cert = _cert(root.cert_pem), _cert(inter.cert_pem)
    leaf_cert = _cert(leaf.cert_chain_pems[0])

    assert len(bundle) == 2
    assert bundle.source == str(bundle_path)
    assert bundle.subjects() == (
        root_cert.subject.rfc4514_string(),
        inter_cert.subject.rfc4514_string(),
    )
    assert bundle.contains_subject(root_cert.subject)
    assert bundle.contains_subject(inter_cert.subject.rfc4514_string())
    assert bundle.contains_subject(inter_cert.subject.rfc4514_string().upper())
    assert not bundle.contains_subject(leaf_cert.subject)
    assert not bundle.contains_subject("CN=nobody")
    assert bundle.find_issuer(leaf_cert) == inter_cert
    assert bundle.find_issuer(leaf_cert.public_bytes(DER)) == inter_cert
    assert bundle.find_issuer(inter_cert) == root_cert
    assert bundle.find_issuer(root_cert) == root_cert  # self-signed
    assert bundle.contains(root_cert) and not bundle.contains(leaf_cert)


def test_find_issuer_checks_the_signature_not_just_the_name(cas):
    root, inter, _ = cas
    bundle = TrustBundle.from_pem(root.cert_pem.bytes() + inter.cert_pem.bytes())
    impostor = _impostor(_cert(inter.cert_pem).subject)
    assert bundle.contains_subject(impostor.issuer)
    assert bundle.find_issuer(impostor) is None


def test_leaf_only_bundle_does_not_find_an_issuer_for_the_intermediate(cas):
    root, inter, leaf = cas
    bundle = TrustBundle.from_pem(inter.cert_pem.bytes())
    assert bundle.find_issuer(_cert(inter.cert_pem)) is None
    assert bundle.find_issuer(b"not der") is None


def test_hashed_directory_is_read_once_per_certificate(cas, tmp_path: Path):
    root, inter, _ = cas
    certs = tmp_path / "certs"
    certs.mkdir()
    (certs / "root.pem").write_bytes(root.cert_pem.bytes())
    (certs / "inter.crt").write_bytes(inter.cert_pem.bytes())
    os.symlink("root.pem", certs / "0a1b2c3d.0")  # as c_rehash makes them
    (certs / "0a1b2c3d.1").write_bytes(root.cert_pem.bytes())  # same certificate again
    (certs / "README").write_text("not a certificate and not a candidate name\n")
    (certs / "broken.pem").write_bytes(
        b"-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n"
    )
    bundle = TrustBundle.load(certs)
    assert len(bundle) == 2
    assert bundle.skipped == 1  # broken.pem
    assert bundle.contains_subject(_cert(inter.cert_pem).subject)


def test_trusted_certificate_form_is_read(cas):
    root, _, _ = cas
    der = _cert(root.cert_pem).public_bytes(DER) + bytes.fromhex("300a300806062b0601050507")
    body = base64.encodebytes(der)
    pem = b"-----BEGIN TRUSTED CERTIFICATE-----\n" + body + b"-----END TRUSTED CERTIFICATE-----\n"
    assert len(TrustBundle.from_pem(pem)) == 1


def test_loads_are_cached_until_the_file_changes(cas, tmp_path: Path):
    root, inter, _ = cas
    path = tmp_path / "bundle.pem"
    path.write_bytes(root.cert_pem.bytes())
    first = TrustBundle.load(path)
    assert TrustBundle.load(str(path)) is first
    assert TrustBundle.load(path, use_cache=False) is not first
    path.write_bytes(root.cert_pem.bytes() + inter.cert_pem.bytes())
    second = TrustBundle.load(path)
    assert second is not first and len(second) == 2


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing.pem", "no such file or directory"),
        (lambda p: _write(p / "hosts", b"127.0.0.1 localhost\n"), "not a PEM bundle"),
        (lambda p: _write(p / "empty.pem", b""), "not a PEM bundle"),
        (
            lambda p: _write(p / "bad.pem", BROKEN_BLOCK),
            "no usable certificate",
        ),
        (lambda p: _mkdir(p / "emptydir"), "directory holds no PEM certificate"),
        (lambda p: _write(p / "d" / "x.pem", b"nothing").parent, "no PEM certificate"),
    ],
    ids=["missing", "not-pem", "empty", "bad-block", "empty-dir", "dir-without-certs"],
)
def test_errors_are_one_line_trust_bundle_errors(tmp_path: Path, make, message: str):
    path = make(tmp_path)
    with pytest.raises(TrustBundleError) as caught:
        TrustBundle.load(path)
    text = str(caught.value)
    assert message in text and str(path) in text and "\n" not in text
    assert isinstance(caught.value, ValueError)


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


def test_java_keystores_are_read_as_trust_stores(cas, tmp_path: Path):
    import shutil
    import subprocess

    from cryptography.hazmat.primitives.serialization import pkcs12

    root, inter = cas[0], cas[1]
    root_cert, inter_cert = _cert(root.cert_pem), _cert(inter.cert_pem)
    # PKCS#12 with the JDK's store password, as cacerts ships on current JDKs
    p12 = tmp_path / "cacerts.p12"
    p12.write_bytes(
        pkcs12.serialize_java_truststore(
            [
                pkcs12.PKCS12Certificate(root_cert, b"root"),
                pkcs12.PKCS12Certificate(inter_cert, b"inter"),
            ],
            serialization.BestAvailableEncryption(b"changeit"),
        )
    )
    bundle = TrustBundle.load(p12)
    assert bundle.form == "PKCS#12 keystore" and len(bundle) == 2
    assert (
        bundle.contains(root_cert)
        and bundle.find_issuer(_cert(cas[2].cert_chain_pems[0])) is not None
    )
    # JKS, as keytool writes it (and as Debian's JVM cacerts is)
    keytool = shutil.which("keytool")
    assert keytool, "keytool is needed to write a JKS store"
    pem = tmp_path / "root.pem"
    pem.write_bytes(root.cert_pem.bytes())
    jks = tmp_path / "cacerts.jks"
    subprocess.run(
        [
            keytool,
            "-importcert",
            "-noprompt",
            "-storetype",
            "JKS",
            "-keystore",
            str(jks),
            "-storepass",
            "changeit",
            "-alias",
            "root",
            "-file",
            str(pem),
        ],
        check=True,
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    bundle = TrustBundle.load(jks)
    assert bundle.form == "JKS keystore" and bundle.contains(root_cert)
    # a keystore with a wrong password: one line, no traceback
    locked = tmp_path / "locked.p12"
    locked.write_bytes(
        pkcs12.serialize_java_truststore(
            [pkcs12.PKCS12Certificate(root_cert, b"root")],
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    with pytest.raises(TrustBundleError, match="PKCS#12"):
        TrustBundle.load(locked)


def test_nss_database_is_read_as_a_trust_store(cas, tmp_path: Path):
    import shutil
    import subprocess

    certutil = shutil.which("certutil")
    assert certutil, "certutil (libnss3-tools) is needed to write an NSS database"
    db = tmp_path / "nssdb"
    db.mkdir()

    def run(*args: str) -> None:
        subprocess.run(
            [certutil, *args, "-d", f"sql:{db}"],
            check=True,
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=60,
        )

    run("-N", "--empty-password")
    for name, ca in (("root", cas[0]), ("inter", cas[1])):
        pem = tmp_path / f"{name}.pem"
        pem.write_bytes(ca.cert_pem.bytes())
        run("-A", "-n", name, "-t", "C,," if name == "root" else ",,", "-i", str(pem))
    bundle = TrustBundle.load(db)
    assert bundle.form == "NSS database" and len(bundle) == 2
    assert bundle.contains(_cert(cas[0].cert_pem)) and bundle.contains(_cert(cas[1].cert_pem))


@pytest.mark.parametrize(
    "data, message",
    [
        (b"\xfe\xed\xfe\xed\x00\x00\x00\x02\x00\x00\x00\x05\x00\x00", "truncated keystore"),
        (b"\xfe\xed\xfe\xed\x00\x00\x00\x07\x00\x00\x00\x00", "unsupported JKS version"),
        (b"\x30\x03\x02\x01\x00", "PKCS#12"),
    ],
)
def test_broken_keystores_are_one_line_errors(data: bytes, message: str):
    with pytest.raises(TrustBundleError, match=message) as info:
        TrustBundle.from_bytes(data, source="ks")
    assert "\n" not in str(info.value)
