"""Certificate-building primitives: keys, names, one X.509 certificate or CRL with the
extensions a real CA sets, and private files. The lab's PKI (:mod:`tlsmatrix.lab.pki`) is
made with them, and so is every certificate the tests build.

:func:`build` is the one place a certificate is assembled; :func:`issue_ca` and
:func:`issue_leaf` wrap it for the common shapes and return an :class:`Issued` (the
certificate with its key, PEM/DER at hand).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

LAB_HOSTNAME = "localhost"
# What a leaf names unless told otherwise: the lab host name and both loopback addresses.
LOOPBACK_NAMES = (LAB_HOSTNAME, "127.0.0.1", "::1")
LAB_ORGANIZATION = "tlsmatrix lab"
DAY = dt.timedelta(days=1)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def ec_key() -> ec.EllipticCurvePrivateKey:
    """A P-256 key: fast to make, accepted by every client."""
    return ec.generate_private_key(ec.SECP256R1())


def rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def name(cn: str, organization: str = LAB_ORGANIZATION) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def general_names(names: Sequence[str]) -> list[x509.GeneralName]:
    """SAN entries: an IP address where the text is one, else a DNS name."""
    result: list[x509.GeneralName] = []
    for text in names:
        try:
            result.append(x509.IPAddress(ipaddress.ip_address(text)))
        except ValueError:
            result.append(x509.DNSName(text))
    return result


def _key_usage(*, signs_certs: bool, key_encipherment: bool = False) -> x509.KeyUsage:
    return key_usage(
        digital_signature=True,
        key_encipherment=key_encipherment,
        key_cert_sign=signs_certs,
        crl_sign=signs_certs,
    )


def key_usage(**set_bits: bool) -> x509.KeyUsage:
    """A KeyUsage with only the named bits set."""
    bits = dict.fromkeys(
        (
            "digital_signature",
            "content_commitment",
            "key_encipherment",
            "data_encipherment",
            "key_agreement",
            "key_cert_sign",
            "crl_sign",
        ),
        False,
    )
    bits.update(set_bits)
    return x509.KeyUsage(**bits, encipher_only=False, decipher_only=False)


def ca_issuers(url: str) -> x509.AuthorityInformationAccess:
    """An AIA extension with one caIssuers URL (where a client may fetch the issuer)."""
    access = x509.AccessDescription(
        AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(url)
    )
    return x509.AuthorityInformationAccess([access])


def build(
    *,
    subject: x509.Name,
    key: PrivateKey,
    issuer_cert: x509.Certificate | None,
    issuer_key: PrivateKey,
    not_before: dt.datetime,
    not_after: dt.datetime,
    ca: bool,
    pathlen: int | None = None,
    aia: str | None = None,
    crl: str | None = None,
    sans: Sequence[str] = (),
    extensions: Sequence[x509.ExtensionType] = (),
    with_san: bool = True,
    bc_critical: bool = True,
    with_aki: bool = True,
    key_usage: x509.KeyUsage | None = None,
    name_constraints: x509.NameConstraints | None = None,
) -> x509.Certificate:
    """One certificate, signed with SHA-256; self-signed when ``issuer_cert`` is None.

    A CA gets basicConstraints (with ``pathlen``), keyCertSign and cRLSign; a leaf gets
    serverAuth and the ``sans`` (``LOOPBACK_NAMES`` when empty) and, unless self-signed,
    a digitalSignature key usage. ``aia`` is a caIssuers URL, ``crl`` a distribution
    point; ``extensions`` are added as they are (non-critical).

    The incident scenarios bend the template: ``with_san=False`` leaves the subject CN as
    the only name, ``bc_critical=False`` marks basicConstraints non-critical and
    ``with_aki=False`` omits the authority key identifier (what Python 3.13's
    VERIFY_X509_STRICT refuses), ``key_usage`` replaces the usual key usage, and
    ``name_constraints`` are added critical, as RFC 5280 requires."""
    public = key.public_key()
    issuer_name = issuer_cert.subject if issuer_cert is not None else subject
    issuer_public = issuer_cert.public_key() if issuer_cert is not None else public
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=pathlen), critical=bc_critical)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
    )
    if with_aki and (issuer_cert is not None or ca):
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_public),  # type: ignore[arg-type]
            critical=False,
        )
    if key_usage is not None:
        builder = builder.add_extension(key_usage, critical=True)
    elif ca:
        builder = builder.add_extension(_key_usage(signs_certs=True), critical=True)
    elif issuer_cert is not None:
        # No KeyUsage on a self-signed leaf: with one lacking keyCertSign, OpenSSL would
        # not see it as self-signed and would report "issuer unknown" instead of code 18.
        usage = _key_usage(signs_certs=False, key_encipherment=isinstance(key, rsa.RSAPrivateKey))
        builder = builder.add_extension(usage, critical=True)
    if not ca:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        if with_san:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(general_names(sans or LOOPBACK_NAMES)), critical=False
            )
    if name_constraints is not None:
        builder = builder.add_extension(name_constraints, critical=True)
    if aia:
        access = x509.AccessDescription(
            AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(aia)
        )
        builder = builder.add_extension(x509.AuthorityInformationAccess([access]), critical=False)
    if crl:
        point = x509.DistributionPoint(
            full_name=[x509.UniformResourceIdentifier(crl)],
            relative_name=None,
            reasons=None,
            crl_issuer=None,
        )
        builder = builder.add_extension(x509.CRLDistributionPoints([point]), critical=False)
    for extension in extensions:
        builder = builder.add_extension(extension, critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def build_crl(
    issuer: x509.Certificate,
    key: PrivateKey,
    revoked: Sequence[x509.Certificate],
    at: dt.datetime,
) -> x509.CertificateRevocationList:
    """A CRL by ``issuer`` listing ``revoked`` (key compromise), valid for a week."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.subject)
        .last_update(at - dt.timedelta(hours=1))
        .next_update(at + dt.timedelta(days=7))
        .add_extension(x509.CRLNumber(1), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
    )
    for cert in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(cert.serial_number)
            .revocation_date(at - dt.timedelta(hours=1))
            .add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise), critical=False)
            .build()
        )
    return builder.sign(key, hashes.SHA256())


# --- issued certificates ----------------------------------------------------------------


def key_pem(key: PrivateKey) -> bytes:
    """The key as unencrypted PKCS#8 PEM (what servers load)."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@dataclass(frozen=True)
class Issued:
    """A certificate and its private key."""

    cert: x509.Certificate
    key: PrivateKey

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def key_pem(self) -> bytes:
        return key_pem(self.key)


def _issue(
    subject: x509.Name,
    parent: Issued | None,
    key: PrivateKey | None,
    not_before: dt.datetime | None,
    not_after: dt.datetime | None,
    days: int,
    **extensions: object,
) -> Issued:
    """Sign ``subject`` by ``parent`` (self-signed without one), valid from yesterday for
    ``days`` unless told otherwise; ``extensions`` are :func:`build`'s own arguments."""
    key = key or ec_key()
    start = now()
    cert = build(
        subject=subject,
        key=key,
        issuer_cert=parent.cert if parent else None,
        issuer_key=parent.key if parent else key,
        not_before=not_before or start - DAY,
        not_after=not_after or start + days * DAY,
        **extensions,  # type: ignore[arg-type]
    )
    return Issued(cert, key)


def issue_ca(
    cn: str,
    parent: Issued | None = None,
    *,
    organization: str = LAB_ORGANIZATION,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    pathlen: int | None = None,
    aia: str | None = None,
    key: PrivateKey | None = None,
) -> Issued:
    """A CA: a self-signed root without ``parent``, else an intermediate it signs.
    Valid from yesterday for ten years unless told otherwise."""
    subject = name(cn, organization)
    return _issue(subject, parent, key, not_before, not_after, 3650, ca=True, pathlen=pathlen,
                  aia=aia)  # fmt: skip


def issue_leaf(
    parent: Issued | None,
    names: Sequence[str] = LOOPBACK_NAMES,
    *,
    organization: str = LAB_ORGANIZATION,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    aia: str | None = None,
    crl: str | None = None,
    key: PrivateKey | None = None,
    extensions: Sequence[x509.ExtensionType] = (),
) -> Issued:
    """A server certificate for ``names`` (the first is its CN) signed by ``parent``, or
    self-signed without one. Valid from yesterday for 90 days unless told otherwise."""
    subject = name(names[0], organization)
    return _issue(subject, parent, key, not_before, not_after, 90, ca=False, aia=aia, crl=crl,
                  sans=names, extensions=extensions)  # fmt: skip


def write_private(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to a new file readable by its owner only; returns its path."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, 0o600)  # O_CREAT's mode is masked by the umask, and ignored if it existed
    return Path(path)
