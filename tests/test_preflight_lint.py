"""preflight's inputs and lints on real certificate files made here with cryptography
(no tlsmatrix lab scenario): each layout a user holds, and each problem named with its fix."""

from __future__ import annotations

import base64
import datetime as dt
import os
from dataclasses import dataclass

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from tlsmatrix.errors import UsageError
from tlsmatrix.lab.certbuilder import ca_issuers, key_usage
from tlsmatrix.lab.certbuilder import key_pem as _key_pem
from tlsmatrix.preflight import inputs
from tlsmatrix.preflight.lint import ERROR, WARNING, aia_needed, leaf_names, lint
from tlsmatrix.trust.bundle import TrustBundle

NAME = "app.preflight.invalid"
AIA_URL = "http://pki.invalid/intermediate.crt"
INTERMEDIATE = "Preflight Intermediate CA"


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _cert(
    subject: str,
    key: object,
    issuer: str,
    issuer_key: object,
    *,
    ca: bool,
    sans: tuple[str, ...] = (),
    aia: str | None = None,
    days: int = 90,
    digest: hashes.HashAlgorithm | None = None,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())  # type: ignore[attr-defined]
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        usage = key_usage(key_cert_sign=True, crl_sign=True)
        builder = builder.add_extension(usage, critical=True)
    else:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
    if sans:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in sans]), critical=False
        )
    if aia:
        builder = builder.add_extension(ca_issuers(aia), critical=False)
    builder = builder.add_extension(
        x509.SubjectKeyIdentifier.from_public_key(key.public_key()),  # type: ignore[attr-defined]
        critical=False,
    ).add_extension(
        x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),  # type: ignore[attr-defined]
        critical=False,
    )
    return builder.sign(issuer_key, digest or hashes.SHA256())  # type: ignore[arg-type]


@dataclass(frozen=True)
class Files:
    """A customer's PKI as files on disk: root, intermediate, leaf, the leaf's key."""

    directory: str
    root: str
    intermediate: str
    leaf: str
    key: str
    leaf_cert: x509.Certificate
    intermediate_cert: x509.Certificate
    leaf_key: object

    def write(self, name: str, data: bytes) -> str:
        path = os.path.join(self.directory, name)
        with open(path, "wb") as handle:
            handle.write(data)
        return path

    def read(self, path: str) -> bytes:
        with open(path, "rb") as handle:
            return handle.read()


def make_files(directory: str, *, leaf_days: int = 90, aia: str = AIA_URL) -> Files:
    root_key = ec.generate_private_key(ec.SECP256R1())
    int_key = ec.generate_private_key(ec.SECP256R1())
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    root = _cert("Preflight Root CA", root_key, "Preflight Root CA", root_key, ca=True, days=3650)
    intermediate = _cert(INTERMEDIATE, int_key, "Preflight Root CA", root_key, ca=True, days=1825)
    leaf = _cert(
        NAME, leaf_key, INTERMEDIATE, int_key, ca=False, sans=(NAME,), aia=aia, days=leaf_days
    )
    files = Files(directory, "", "", "", "", leaf, intermediate, leaf_key)
    return Files(
        directory,
        files.write("root.pem", _pem(root)),
        files.write("intermediate.pem", _pem(intermediate)),
        files.write("leaf.pem", _pem(leaf)),
        files.write("leaf.key", _key_pem(leaf_key)),
        leaf,
        intermediate,
        leaf_key,
    )


@pytest.fixture
def files(tmp_path: object) -> Files:
    return make_files(str(tmp_path))


def _codes(material: inputs.Material, roots: TrustBundle | None, names=(NAME,)) -> dict:
    return {i.code: i for i in lint(material, list(names), roots)}


def test_leaf_alone_names_the_missing_intermediate_and_its_aia_url(files: Files) -> None:
    material = inputs.read_fields(files.leaf, None, files.key, None)
    issues = _codes(material, TrustBundle.load(files.root))
    missing = issues["missing_intermediate"]
    assert missing.severity == ERROR
    assert f"'{INTERMEDIATE}'" in missing.problem and AIA_URL in missing.problem
    assert missing.file.startswith(f"--cert {files.leaf}")
    assert "add" in missing.fix
    assert aia_needed(material, TrustBundle.load(files.root)) == [AIA_URL]


def test_intermediate_in_the_store_is_named_as_found_there(files: Files) -> None:
    store = files.write("workstation.pem", files.read(files.root) + files.read(files.intermediate))
    material = inputs.read_fields(files.leaf, None, files.key, None)
    missing = _codes(material, TrustBundle.load(store))["missing_intermediate"]
    assert "workstation.pem holds it" in missing.problem
    assert aia_needed(material, TrustBundle.load(store)) == []


def test_swapped_fields_are_named_as_a_swap(files: Files) -> None:
    material = inputs.read_fields(files.intermediate, files.leaf, files.key, None)
    swap = _codes(material, TrustBundle.load(files.root))["swapped_fields"]
    assert swap.line() == (
        f"error: --cert {files.intermediate}, --chain {files.leaf}: the certificate body holds "
        f"'{INTERMEDIATE}', and the chain holds the leaf: swap them"
    )


def test_good_files_have_no_lint(files: Files) -> None:
    material = inputs.read_fields(files.leaf, files.intermediate, files.key, None)
    assert lint(material, [NAME], TrustBundle.load(files.root)) == []
    assert aia_needed(material, TrustBundle.load(files.root)) == []


def test_body_with_the_whole_chain_and_a_root_in_the_chain(files: Files) -> None:
    body = files.write("body.pem", files.read(files.leaf) + files.read(files.intermediate))
    material = inputs.read_fields(body, files.root, files.key, None)
    issues = _codes(material, TrustBundle.load(files.root))
    assert issues["body_holds_chain"].severity == ERROR
    assert "move the other 1 into the certificate chain" in issues["body_holds_chain"].fix
    assert issues["root_in_chain"].severity == WARNING
    assert issues["root_in_chain"].file == f"--chain {files.root}"


def test_chain_out_of_order_and_leaf_repeated(tmp_path: object, files: Files) -> None:
    # A second intermediate level: leaf <- Sub CA <- Preflight Intermediate CA <- root.
    sub_key = ec.generate_private_key(ec.SECP256R1())
    int_key = ec.generate_private_key(ec.SECP256R1())
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = _cert("R", root_key, "R", root_key, ca=True)
    mid = _cert("Mid CA", int_key, "R", root_key, ca=True)
    sub = _cert("Sub CA", sub_key, "Mid CA", int_key, ca=True)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = _cert(NAME, leaf_key, "Sub CA", sub_key, ca=False, sans=(NAME,))
    cert = files.write("l.pem", _pem(leaf))
    key = files.write("l.key", _key_pem(leaf_key))
    chain = files.write("c.pem", _pem(mid) + _pem(sub) + _pem(leaf))
    roots = TrustBundle.load(files.write("r.pem", _pem(root)))
    issues = _codes(inputs.read_fields(cert, chain, key, None), roots)
    assert (
        issues["chain_out_of_order"].fix
        == "order it from the leaf's issuer up: 'Sub CA' -> 'Mid CA'"
    )
    assert issues["leaf_in_chain"].problem == f"the chain holds the leaf '{NAME}' again"


def test_names_validity_and_strength(files: Files) -> None:
    weak_key = rsa.generate_private_key(65537, 1024)
    int_key = ec.generate_private_key(ec.SECP256R1())
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = _cert("R2", root_key, "R2", root_key, ca=True)
    mid = _cert("Mid2", int_key, "R2", root_key, ca=True)
    leaf = _cert(NAME, weak_key, "Mid2", int_key, ca=False, sans=(NAME,), days=5)
    full = files.write("full.pem", _pem(leaf) + _pem(mid))
    key = files.write("weak.key", _key_pem(weak_key))
    material = inputs.read_fullchain(full, key, None)
    roots = TrustBundle.load(files.write("r2.pem", _pem(root)))
    issues = _codes(material, roots, names=(NAME, "other.invalid"))
    assert issues["expires_soon"].severity == WARNING
    assert "1024-bit RSA" in issues["weak_key"].problem
    assert "'other.invalid'" in issues["name_not_covered"].problem
    assert issues["name_not_covered"].file == f"--fullchain {full}"


def test_fullchain_that_does_not_start_with_the_leaf(files: Files) -> None:
    full = files.write("full.pem", files.read(files.intermediate) + files.read(files.leaf))
    material = inputs.read_fullchain(full, files.key, None)
    assert material.key_cert == 1
    assert "leaf_not_first" in _codes(material, TrustBundle.load(files.root))


def test_key_that_matches_nothing_is_bad_input(files: Files) -> None:
    other = files.write("other.key", _key_pem(ec.generate_private_key(ec.SECP256R1())))
    with pytest.raises(UsageError, match="does not match the certificate"):
        inputs.read_fields(files.leaf, files.intermediate, other, None)


def test_pfx_with_password_and_wrong_password(files: Files) -> None:
    data = pkcs12.serialize_key_and_certificates(
        b"web",
        files.leaf_key,  # type: ignore[arg-type]
        files.leaf_cert,
        [files.intermediate_cert],
        serialization.BestAvailableEncryption(b"s3cret"),
    )
    pfx = files.write("web.pfx", data)
    good = files.write("good.txt", b"s3cret\n")
    bad = files.write("bad.txt", b"nope\n")
    material = inputs.read_pfx(pfx, inputs.read_password(good))
    assert material.key_cert == 0 and len(material.chain) == 1
    with pytest.raises(UsageError, match="wrong password"):
        inputs.read_pfx(pfx, inputs.read_password(bad))
    with pytest.raises(UsageError, match="--password-file"):
        inputs.read_pfx(pfx, None)


def test_k8s_secret_data_and_string_data(files: Files) -> None:
    crt = files.read(files.leaf) + files.read(files.intermediate)
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    data_yaml = files.write(
        "secret.yaml",
        (
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: web-tls\ntype: kubernetes.io/tls\n"
            f"data:\n  tls.crt: {b64(crt)}\n  tls.key: {b64(files.read(files.key))}\n"
        ).encode(),
    )
    indent = lambda b: "".join(f"    {line}\n" for line in b.decode().splitlines())  # noqa: E731
    string_yaml = files.write(
        "secret2.yaml",
        (
            "# hand-written\napiVersion: v1\nkind: Secret\ntype: kubernetes.io/tls\n"
            f'stringData:\n  tls.crt: |\n{indent(crt)}  "tls.key": |-\n'
            f"{indent(files.read(files.key))}metadata:\n  name: web\n"
        ).encode(),
    )
    for path in (data_yaml, string_yaml):
        material = inputs.read_k8s_secret(path)
        assert material.body == (files.leaf_cert,) and material.chain == (files.intermediate_cert,)
        assert lint(material, [NAME], TrustBundle.load(files.root)) == []
    broken = files.write("broken.yaml", b"data:\n  tls.crt: !!!notbase64\n  tls.key: x\n")
    with pytest.raises(UsageError, match="not valid base64"):
        inputs.read_k8s_secret(broken)


def test_unreadable_and_empty_files_are_bad_input(files: Files) -> None:
    with pytest.raises(UsageError, match="cannot read"):
        inputs.read_fields(os.path.join(files.directory, "missing.pem"), None, files.key, None)
    empty = files.write("empty.pem", b"")
    with pytest.raises(UsageError, match="holds no PEM certificate"):
        inputs.read_fields(empty, None, files.key, None)
    with pytest.raises(UsageError, match="holds no PEM private key"):
        inputs.read_fields(files.leaf, None, files.leaf, None)


def test_default_names_come_from_the_leaf(files: Files) -> None:
    assert leaf_names(files.leaf_cert) == [NAME]


def test_chain_ending_at_a_ca_outside_the_store_is_a_warning_on_its_file(files: Files) -> None:
    stranger_key = ec.generate_private_key(ec.SECP256R1())
    stranger = _cert("Stranger Root", stranger_key, "Stranger Root", stranger_key, ca=True)
    roots = TrustBundle.load(files.write("stranger.pem", _pem(stranger)))
    material = inputs.read_fields(files.leaf, files.intermediate, files.key, None)
    [issue] = lint(material, [NAME], roots)
    assert (issue.code, issue.severity, issue.file) == (
        "unknown_issuer",
        WARNING,
        f"--chain {files.intermediate}",
    )
    assert "'Preflight Root CA' is not in" in issue.problem


def test_encrypted_key_and_der_certificate(files: Files) -> None:
    encrypted = files.leaf_key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"k3y"),
    )
    key = files.write("enc.key", encrypted)
    der = files.write("leaf.der", files.leaf_cert.public_bytes(serialization.Encoding.DER))
    material = inputs.read_fields(der, files.intermediate, key, b"k3y")
    assert material.body == (files.leaf_cert,)
    with pytest.raises(UsageError, match="is encrypted: give its password with --password-file"):
        inputs.read_fields(der, files.intermediate, key, None)
    with pytest.raises(UsageError, match="wrong password"):
        inputs.read_fields(der, files.intermediate, key, b"nope")


def test_default_name_for_a_wildcard_is_one_name_under_it(files: Files) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = _cert("w", key, "w", key, ca=False, sans=("*.shop.invalid", "shop.invalid"))
    assert leaf_names(leaf) == ["preflight.shop.invalid", "shop.invalid"]
