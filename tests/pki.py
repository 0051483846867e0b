"""Test PKIs and servers for the core tests: trustme for the ordinary certificates,
cryptography for the ones trustme cannot make (a self-signed leaf)."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

NAMES = ("localhost", "127.0.0.1", "::1", "backend.invalid")


@dataclass(frozen=True)
class Served:
    """What one test server presents: PEM chain file (leaf first) and key file."""

    chain: str
    key: str


@dataclass(frozen=True)
class CorePKI:
    directory: str
    root_pem: str  # Test Root only (like certifi: roots only)
    root_and_intermediate_pem: str  # like a workstation that cached the intermediate
    other_root_pem: str
    chains: dict[str, Served]


def _write(path: str, data: bytes) -> str:
    with open(path, "wb") as handle:
        handle.write(data)
    return path


def _self_signed_leaf(name: str) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    import ipaddress

    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(name), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def make_pki(directory: str) -> CorePKI:
    root = trustme.CA(organization_name="Test Root")
    intermediate = root.create_child_ca()
    other_root = trustme.CA(organization_name="Other Root")
    other_intermediate = other_root.create_child_ca()
    now = dt.datetime.now(dt.UTC)

    def serve(
        name: str, leaf: trustme.LeafCert, parts: int | None = None, extra: bytes = b""
    ) -> Served:
        pems = [b.bytes() for b in leaf.cert_chain_pems]
        chain = b"".join(pems[:parts] if parts else pems) + extra
        return Served(
            _write(os.path.join(directory, f"{name}.chain.pem"), chain),
            _write(os.path.join(directory, f"{name}.key.pem"), leaf.private_key_pem.bytes()),
        )

    good = intermediate.issue_cert(*NAMES)
    expired = intermediate.issue_cert(
        *NAMES, not_before=now - dt.timedelta(days=60), not_after=now - dt.timedelta(days=30)
    )
    wrong = intermediate.issue_cert("wrong.host.example")
    untrusted = other_intermediate.issue_cert(*NAMES)
    self_cert, self_key = _self_signed_leaf("localhost")
    chains = {
        "good": serve("good", good),
        "leaf_only": serve("leaf_only", good, parts=1),
        "expired": serve("expired", expired),
        "wrong_host": serve("wrong_host", wrong),
        "untrusted_root": serve("untrusted_root", untrusted, extra=other_root.cert_pem.bytes()),
        "self_signed": Served(
            _write(os.path.join(directory, "self_signed.chain.pem"), self_cert),
            _write(os.path.join(directory, "self_signed.key.pem"), self_key),
        ),
    }
    return CorePKI(
        directory=directory,
        root_pem=_write(os.path.join(directory, "root.pem"), root.cert_pem.bytes()),
        root_and_intermediate_pem=_write(
            os.path.join(directory, "root+intermediate.pem"),
            root.cert_pem.bytes() + intermediate.cert_pem.bytes(),
        ),
        other_root_pem=_write(
            os.path.join(directory, "other_root.pem"), other_root.cert_pem.bytes()
        ),
        chains=chains,
    )
