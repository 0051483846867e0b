"""The lab PKI: structure of the certificates, and chain verdicts from `openssl verify`."""

from __future__ import annotations

import ipaddress
import os
import stat
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtensionOID
from tlsmatrix.clients.process import run_command
from tlsmatrix.lab.pki import PKI, generate, normalize_base_url
from tlsmatrix.lab.pki_incidents import ANCHORS

BASE = "http://127.0.0.1:8999/"
HOST = ("-verify_hostname", "localhost")
LEVEL2 = ("-auth_level", "2")  # OpenSSL security level 2: RSA >= 2048, no SHA-1
LEVEL0 = ("-auth_level", "0")


@pytest.fixture(scope="module")
def pki():
    with PKI(BASE) as p:
        yield p


def _aia(cert: x509.Certificate) -> list[str]:
    try:
        ext = cert.extensions.get_extension_for_oid(ExtensionOID.AUTHORITY_INFORMATION_ACCESS)
    except x509.ExtensionNotFound:
        return []
    return [
        d.access_location.value
        for d in ext.value
        if d.access_method == AuthorityInformationAccessOID.CA_ISSUERS
    ]


def _crl_dp(cert: x509.Certificate) -> list[str]:
    ext = cert.extensions.get_extension_for_oid(ExtensionOID.CRL_DISTRIBUTION_POINTS)
    return [n.value for dp in ext.value for n in dp.full_name]


def _san(cert: x509.Certificate) -> x509.SubjectAlternativeName:
    return cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value


def _cn(name: x509.Name) -> str:
    return name.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value


def test_generation_is_fast(tmp_path):
    started = time.monotonic()
    generate(BASE, tmp_path)
    assert time.monotonic() - started < 2.0


def test_names_and_urls(pki):
    certs = pki.material.certs
    assert _cn(certs["root"].subject) == "Lab Root CA"
    assert _cn(certs["intermediate"].subject) == "Lab Intermediate CA"
    assert _cn(certs["intermediate"].issuer) == "Lab Root CA"
    assert _aia(certs["intermediate"]) == [BASE + "root.der"]
    assert _aia(certs["leaf"]) == [BASE + "intermediate.der"]
    assert _crl_dp(certs["leaf"]) == [BASE + "intermediate.crl"]
    assert _aia(certs["leaf_no_aia"]) == []
    assert _aia(certs["leaf_dead_aia"]) == [BASE + "missing/intermediate.der"]
    assert _aia(certs["leaf_hung_aia"]) == [BASE + "hang/intermediate.der"]
    assert _cn(certs["other_root"].subject) == "Other Root CA"


def test_leaf_names(pki):
    san = _san(pki.material.certs["leaf"])
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert set(san.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    }
    wrong = _san(pki.material.certs["leaf_wrong_host"])
    assert wrong.get_values_for_type(x509.DNSName) == ["wrong.host.example"]
    assert wrong.get_values_for_type(x509.IPAddress) == []


def test_validity_periods(pki):
    certs = pki.material.certs
    now = time.time()
    assert certs["leaf_expired"].not_valid_after_utc.timestamp() < now
    assert certs["leaf_not_yet_valid"].not_valid_before_utc.timestamp() > now
    assert certs["expired_intermediate"].not_valid_after_utc.timestamp() < now
    assert certs["old_root"].not_valid_after_utc.timestamp() < now
    assert (
        certs["leaf"].not_valid_before_utc.timestamp()
        < now
        < (certs["leaf"].not_valid_after_utc.timestamp())
    )


def test_cross_signed_root_and_weak_variants(pki):
    certs = pki.material.certs
    cross = certs["root_cross_signed"]
    assert _cn(cross.subject) == "Lab Root CA" and _cn(cross.issuer) == "Lab Old Root CA"
    assert cross.public_key() == certs["root"].public_key()
    weak = certs["leaf_weak_key"].public_key()
    assert isinstance(weak, rsa.RSAPublicKey) and weak.key_size == 1024
    assert isinstance(certs["sha1_intermediate"].signature_hash_algorithm, hashes.SHA1)
    assert isinstance(certs["intermediate"].signature_hash_algorithm, hashes.SHA256)


def test_http_files(pki):
    files = pki.material.http_files()
    for path in ("/intermediate.der", "/intermediate.pem", "/intermediate.p7c", "/root.der"):
        assert path in files
    assert (
        x509.load_der_x509_certificate(files["/intermediate.der"][0])
        == (pki.material.certs["intermediate"])
    )
    assert pkcs7.load_der_pkcs7_certificates(files["/intermediate.p7c"][0]) == [
        pki.material.certs["intermediate"]
    ]
    crl = x509.load_der_x509_crl(files["/intermediate.crl"][0])
    assert crl.is_signature_valid(pki.material.certs["intermediate"].public_key())
    revoked = pki.material.certs["leaf_revoked"].serial_number
    assert crl.get_revoked_certificate_by_serial_number(revoked) is not None
    good = pki.material.certs["leaf"].serial_number
    assert crl.get_revoked_certificate_by_serial_number(good) is None


def test_base_url_is_a_parameter(tmp_path):
    material = generate("http://aia:8080", tmp_path)
    assert material.base_url == "http://aia:8080/"
    assert _aia(material.certs["leaf"]) == ["http://aia:8080/intermediate.der"]
    with pytest.raises(ValueError):
        normalize_base_url("aia:8080")


def test_trust_profiles(pki):
    certifi = pki.trust_profiles["certifi-like"].read_bytes()
    workstation = pki.trust_profiles["workstation"].read_bytes()
    anchors = [pki.material.certs[n] for n in ANCHORS]
    assert x509.load_pem_x509_certificates(certifi) == [pki.material.certs["root"], *anchors]
    assert x509.load_pem_x509_certificates(workstation) == [
        pki.material.certs["root"],
        pki.material.certs["intermediate"],
        *anchors,
    ]
    only = pki.trust_profiles["intermediate-only"].read_bytes()
    assert x509.load_pem_x509_certificates(only) == [pki.material.certs["intermediate"]]


def test_private_directory_and_removal():
    p = PKI(BASE)
    directory = p.directory
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    files = [f for f in directory.rglob("*") if f.is_file()]
    assert files and all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    assert stat.S_IMODE(os.stat(p.key_path("root")).st_mode) == 0o600
    p.close()
    assert not directory.exists()


def test_given_directory_is_kept(tmp_path):
    target = tmp_path / "pki"
    with PKI(BASE, target) as p:
        assert p.cert_path("leaf").exists()
    assert (target / "certs" / "leaf.pem").exists()
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o700


# --- openssl verify -------------------------------------------------------------------


def _verify(pki: PKI, profile: str, leaf: str, untrusted: list[str], *extra: str):
    argv = ["openssl", "verify", *extra, "-CAfile", str(pki.trust_profiles[profile])]
    if untrusted:
        argv += ["-untrusted", str(pki.chain_path(untrusted))]
    argv.append(str(pki.cert_path(leaf)))
    result = run_command(argv, timeout=20)
    assert not result.timed_out
    return result.returncode, result.stdout + result.stderr


def _code(output: str) -> int | None:
    for line in output.splitlines():
        if line.startswith("error ") and " at " in line:
            return int(line.split()[1])
    return None


@pytest.mark.parametrize(
    ("profile", "leaf", "untrusted", "extra", "code"),
    [
        ("certifi-like", "leaf", ["intermediate"], (), None),  # good
        ("certifi-like", "leaf", [], (), 20),  # leaf_only, roots only
        ("workstation", "leaf", [], (), None),  # leaf_only, intermediate cached
        ("certifi-like", "leaf", ["root"], (), 20),  # leaf_and_root
        ("workstation", "leaf_other", ["other_intermediate", "other_root"], (), 19),
        ("workstation", "leaf_self_signed", [], (), 18),
        ("certifi-like", "leaf_expired", ["intermediate"], (), 10),
        ("certifi-like", "leaf_not_yet_valid", ["intermediate"], (), 9),
        ("certifi-like", "leaf_expired_intermediate", ["expired_intermediate"], (), 10),
        ("certifi-like", "leaf_wrong_host", ["intermediate"], HOST, 62),
        ("certifi-like", "leaf", ["intermediate"], HOST, None),
        ("certifi-like", "leaf_weak_key", ["intermediate"], LEVEL2, 66),
        ("certifi-like", "leaf_weak_key", ["intermediate"], LEVEL0, None),
        ("certifi-like", "leaf_sha1_intermediate", ["sha1_intermediate"], LEVEL2, 68),
        ("certifi-like", "leaf_sha1_intermediate", ["sha1_intermediate"], LEVEL0, None),
        # cross-signed: the path to the trusted, self-signed Lab Root verifies ...
        ("certifi-like", "leaf", ["intermediate", "root_cross_signed"], (), None),
    ],
)
def test_openssl_verify(pki, profile, leaf, untrusted, extra, code):
    rc, output = _verify(pki, profile, leaf, untrusted, *extra)
    if code is None:
        assert rc == 0, output
    else:
        assert rc != 0 and _code(output) == code, output


def test_cross_signed_path_to_old_root_is_expired(pki):
    # ... while the path through the cross-sign to the old root is expired.
    argv = ["openssl", "verify", "-CAfile", str(pki.cert_path("old_root"))]
    argv += ["-untrusted", str(pki.chain_path(["intermediate", "root_cross_signed"]))]
    argv.append(str(pki.cert_path("leaf")))
    result = run_command(argv, timeout=20)
    assert result.returncode != 0 and _code(result.stdout + result.stderr) == 10


def test_revoked_by_crl(pki):
    crl = str(pki.crl_path("intermediate"))
    ws = str(pki.trust_profiles["workstation"])
    for leaf, ok in (("leaf_revoked", False), ("leaf", True)):
        argv = ["openssl", "verify", "-crl_check", "-CRLfile", crl, "-CAfile", ws]
        result = run_command([*argv, str(pki.cert_path(leaf))], timeout=20)
        assert (result.returncode == 0) is ok, result.stdout + result.stderr
        if not ok:
            assert _code(result.stdout + result.stderr) == 23


def test_chain_path_order(pki):
    path = pki.chain_path(["leaf", "root", "intermediate"])
    certs = x509.load_pem_x509_certificates(Path(path).read_bytes())
    assert [c.fingerprint(hashes.SHA256()).hex() for c in certs] == [
        pki.fingerprint("leaf"),
        pki.fingerprint("root"),
        pki.fingerprint("intermediate"),
    ]
