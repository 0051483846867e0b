"""Chains of any shape for the diagnosis tests: named CAs, intermediates at any depth,
cross-signs and AIA URLs, built with cryptography (EC P-256, the extensions real CAs set)."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID
from tlsmatrix.lab.certbuilder import DAY, Issued, build, ec_key, general_names, name, now

NOW = dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Node(Issued):
    """A certificate and its key (``pem``, ``der``, ``key_pem``), with the name tests use."""

    name: str


def subject_name(cn: str) -> x509.Name:
    """The subject tests give a certificate for ``cn``."""
    return name(cn, "tlsmatrix tests")


def make(
    cn: str,
    issuer: Node | None = None,
    *,
    ca: bool = True,
    aia: str | None = None,
    key: ec.EllipticCurvePrivateKey | None = None,
    hosts: tuple[str, ...] = ("localhost", "127.0.0.1"),
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
) -> Node:
    """A CA (self-signed without ``issuer``) or, with ``ca=False``, a server leaf for
    ``hosts``. Valid from yesterday for 60 days unless ``not_before``/``not_after`` say."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    signer_key = issuer.key if issuer else key
    issuer_name = issuer.cert.subject if issuer else subject_name(cn)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject_name(cn))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or NOW - dt.timedelta(days=1))
        .not_valid_after(not_after or NOW + dt.timedelta(days=60))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_key.public_key()),
            critical=False,
        )
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
    else:
        builder = (
            builder.add_extension(x509.SubjectAlternativeName(general_names(hosts)), critical=False)
            .add_extension(
                x509.KeyUsage(True, False, False, False, False, False, False, False, False),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        )
    if aia:
        builder = builder.add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.CA_ISSUERS,
                        x509.UniformResourceIdentifier(aia),
                    )
                ]
            ),
            critical=False,
        )
    return Node(builder.sign(signer_key, hashes.SHA256()), key, cn)


def built_ca(cn: str, parent: Issued | None = None, **options: Any) -> Issued:
    """A CA made by the lab's certificate builder, valid from yesterday for 100 days; a
    root without ``parent``. ``options`` go to certbuilder.build() (pathlen, key_usage,
    name_constraints, or ca=False for an issuer that is no CA), for the rule tests."""
    key = ec_key()
    start = now()
    options.setdefault("ca", True)
    cert = build(
        subject=name(cn),
        key=key,
        issuer_cert=parent.cert if parent else None,
        issuer_key=parent.key if parent else key,
        not_before=start - DAY,
        not_after=start + 100 * DAY,
        **options,
    )
    return Issued(cert, key)


@dataclass
class Files:
    directory: str
    written: dict[str, str] = field(default_factory=dict)

    def write(self, name: str, *nodes: Node, key: Node | None = None) -> str:
        path = os.path.join(self.directory, name)
        with open(path, "wb") as handle:
            handle.write(b"".join(n.pem for n in nodes))
        if key is not None:
            with open(path + ".key", "wb") as handle:
                handle.write(key.key_pem)
        self.written[name] = path
        return path


def signed_der(tbs: bytes, issuer: Node) -> bytes:
    """A certificate from raw TBSCertificate bytes (edited on purpose), signed by the
    EC ``issuer`` with ecdsa-with-SHA256 as its outer algorithm."""
    from tlsmatrix.replay import der

    signature = issuer.key.sign(tbs, ec.ECDSA(hashes.SHA256()))
    algorithm = der.encode(der.SEQUENCE, der.encode(0x06, bytes.fromhex("2a8648ce3d040302")))
    return der.join_signed(tbs, algorithm, signature)


def raw_root(subject: x509.Name, cn: str = "", *, aki: bytes | None = None) -> Node:
    """A self-signed CA the way ``make`` cannot build it: any ``subject`` (an empty one
    too), and an authorityKeyIdentifier naming ``aki`` instead of its own key."""
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=60))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    )
    if aki is not None:
        builder = builder.add_extension(x509.AuthorityKeyIdentifier(aki, None, None), False)
    return Node(builder.sign(key, hashes.SHA256()), key, cn)
