"""Certificates for the conformance corpus, built directly with ``cryptography``.

A :class:`Forge` issues the certificates of one case. Everything but the keys is fixed by
the case id and the reference time: names, serial numbers, validity windows and
extensions, so two builds of the corpus differ only in key material and signatures. Keys
are EC P-256 except where RSA-1024 is the point of a case.

Two things ``cryptography`` will not build are done here on the DER bytes: a SHA-1
signature (it refuses SHA-1 since 45; we re-sign the TBS ourselves) and a corrupted
signature (one bit of the signature value flipped).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from tlsmatrix.lab.certbuilder import key_usage
from tlsmatrix.replay.der import SEQUENCE, children, encode, join_signed, read_tlv, split_signed

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
Role = Literal["root", "ca", "leaf"]
Validity = Literal["valid", "expired", "not_yet_valid"]
KeyKind = Literal["ec", "rsa1024", "rsa2048"]

ORGANIZATION = "tlsmatrix corpus"
DAY = dt.timedelta(days=1)

# Validity windows, in days relative to the reference time, per role. Valid leaves stay
# under 398 days (what browsers accept); an issuer's window covers its children's.
WINDOWS: dict[tuple[Role, Validity], tuple[int, int]] = {
    ("root", "valid"): (-365, 3650),
    ("ca", "valid"): (-180, 1825),
    ("leaf", "valid"): (-30, 335),
    ("root", "expired"): (-3650, -30),
    ("ca", "expired"): (-1825, -30),
    ("leaf", "expired"): (-395, -30),
    ("root", "not_yet_valid"): (30, 3650),
    ("ca", "not_yet_valid"): (30, 1825),
    ("leaf", "not_yet_valid"): (30, 360),
}


@dataclass(frozen=True)
class Issued:
    """One certificate of a case: ``der`` is exactly what is served or trusted (it may be
    deliberately malformed), ``subject`` and ``key`` let it issue children."""

    label: str
    der: bytes
    subject: x509.Name
    key: PrivateKey

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey | rsa.RSAPublicKey:
        return self.key.public_key()

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def new_key(kind: KeyKind) -> PrivateKey:
    if kind == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=int(kind[3:]))


class Forge:
    """Issues the certificates of one case, named after ``case_id``, dated from ``reference``."""

    def __init__(self, case_id: str, reference: dt.datetime) -> None:
        self.case_id = case_id
        self.reference = reference
        self.issued: dict[str, Issued] = {}

    def name(self, label: str) -> x509.Name:
        return x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, self.case_id),
                x509.NameAttribute(NameOID.COMMON_NAME, f"Corpus {label}"),
            ]
        )

    def add(self, issued: Issued) -> Issued:
        """Record a certificate made elsewhere (the shared root) under its label."""
        self.issued[issued.label] = issued
        return issued

    def issue(
        self,
        label: str,
        role: Role,
        issuer: Issued | None = None,
        *,
        key: KeyKind | PrivateKey = "ec",
        subject: x509.Name | None = None,
        validity: Validity = "valid",
        basic_constraints: Literal["ca", "not_ca", "absent"] | None = None,
        path_length: int | None = None,
        key_usage: x509.KeyUsage | None = None,
        eku: Sequence[x509.ObjectIdentifier] | None = None,
        san: Sequence[str] | None = None,
        name_constraints: x509.NameConstraints | None = None,
        extra: Sequence[tuple[x509.ExtensionType, bool]] = (),
        sha1: bool = False,
        corrupt_signature: bool = False,
    ) -> Issued:
        """Issue ``label`` (self-signed when ``issuer`` is None). Defaults follow ``role``:
        a CA gets critical CA:TRUE and keyCertSign, a leaf CA:FALSE, digitalSignature,
        serverAuth and ``san``. ``extra`` adds (extension, critical) pairs as they are;
        an UnrecognizedExtension under a known OID makes that extension undecodable."""
        private = new_key(key) if isinstance(key, str) else key
        subject = subject or self.name(label)
        signer_key = issuer.key if issuer else private
        signer_name = issuer.subject if issuer else subject
        start, end = WINDOWS[(role, validity)]
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(signer_name)
            .public_key(private.public_key())
            .serial_number(_serial(self.case_id, label))
            .not_valid_before(self.reference + start * DAY)
            .not_valid_after(self.reference + end * DAY)
        )
        bc = basic_constraints or ("not_ca" if role == "leaf" else "ca")
        if bc == "ca":
            ext = x509.BasicConstraints(ca=True, path_length=path_length)
            builder = builder.add_extension(ext, critical=True)
        elif bc == "not_ca":
            ext = x509.BasicConstraints(ca=False, path_length=None)
            builder = builder.add_extension(ext, critical=True)
        builder = builder.add_extension(
            key_usage or _default_key_usage(role, private), critical=True
        )
        if role == "leaf" and eku is None:
            eku = (ExtendedKeyUsageOID.SERVER_AUTH,)
        if eku is not None:
            builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
        if san:
            names = [x509.DNSName(n) for n in san]
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        if name_constraints is not None:
            builder = builder.add_extension(name_constraints, critical=True)
        ski = x509.SubjectKeyIdentifier.from_public_key(private.public_key())
        builder = builder.add_extension(ski, critical=False)
        if issuer is not None:
            aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.public_key)
            builder = builder.add_extension(aki, critical=False)
        for extension, critical in extra:
            builder = builder.add_extension(extension, critical=critical)
        der = builder.sign(signer_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
        if sha1:
            der = resign_sha1(der, signer_key)
        if corrupt_signature:
            der = corrupt(der)
        return self.add(Issued(label, der, subject, private))

    def der(self, *labels: str) -> tuple[bytes, ...]:
        return tuple(self.issued[label].der for label in labels)


def _default_key_usage(role: Role, key: PrivateKey) -> x509.KeyUsage:
    ca = role != "leaf"
    # TLS 1.2 RSA key exchange needs keyEncipherment on an RSA leaf
    encipherment = not ca and isinstance(key, rsa.RSAPrivateKey)
    return key_usage(
        digital_signature=True, key_encipherment=encipherment, key_cert_sign=ca, crl_sign=ca
    )


def _serial(case_id: str, label: str) -> int:
    """A positive 63-bit serial fixed by the case and the label."""
    digest = hashlib.sha256(f"{case_id}/{label}".encode()).digest()
    return (int.from_bytes(digest[:8], "big") >> 1) or 1


# --- DER surgery ------------------------------------------------------------------------

_SHA1_ALGORITHMS = {
    "ec": bytes.fromhex("300906072a8648ce3d0401"),  # ecdsa-with-SHA1
    "rsa": bytes.fromhex("300d06092a864886f70d0101050500"),  # sha1WithRSAEncryption, NULL
}


def resign_sha1(der: bytes, key: PrivateKey) -> bytes:
    """``der`` signed again by ``key`` with SHA-1: the algorithm identifier is replaced in
    the TBS and in the outer certificate, and the new TBS is signed."""
    tbs, _, _ = split_signed(der)
    version, serial, _, *rest = children(read_tlv(tbs)[0].body)
    algorithm = _SHA1_ALGORITHMS["ec" if isinstance(key, ec.EllipticCurvePrivateKey) else "rsa"]
    fields = version.raw + serial.raw + algorithm + b"".join(r.raw for r in rest)
    new_tbs = encode(SEQUENCE, fields)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        signature = key.sign(new_tbs, ec.ECDSA(hashes.SHA1()))
    else:
        signature = key.sign(new_tbs, padding.PKCS1v15(), hashes.SHA1())
    return join_signed(new_tbs, algorithm, signature)


def corrupt(der: bytes) -> bytes:
    """``der`` with the last bit of its signature value flipped: still well-formed DER
    (the signature is the certificate's last field), no longer a valid signature."""
    return der[:-1] + bytes([der[-1] ^ 0x01])


def to_pem(der: bytes) -> bytes:
    """PEM of any bytes, parseable or not (a malformed certificate is served as it is)."""
    import base64

    body = base64.b64encode(der)
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return b"-----BEGIN CERTIFICATE-----\n" + b"\n".join(lines) + b"\n-----END CERTIFICATE-----\n"
