"""Facts read from one certificate, each read defensively: signature linkage (with the
SHA-1/MD5 signatures cryptography refuses), key and signature algorithm, names and
extensions. Shared by the chain analysis, the path builder and the trust stores."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtensionOID, NameOID

# Signature algorithms with a broken hash, by OID (covers ones cryptography cannot name).
_WEAK_SIGNATURE_OIDS = {
    "1.2.840.113549.1.1.2": "md2WithRSAEncryption",
    "1.2.840.113549.1.1.3": "md4WithRSAEncryption",
    "1.2.840.113549.1.1.4": "md5WithRSAEncryption",
    "1.2.840.113549.1.1.5": "sha1WithRSAEncryption",
    "1.3.14.3.2.29": "sha1WithRSASignature",
    "1.2.840.10045.4.1": "ecdsa-with-SHA1",
    "1.2.840.10040.4.3": "dsa-with-sha1",
}
_WEAK_HASHES = frozenset({"sha1", "md5"})


def signature_verifies(child: x509.Certificate, parent: x509.Certificate) -> bool | None:
    """Whether ``parent``'s key verifies ``child``'s signature: True, False, or None when
    it cannot be checked (a key type or algorithm cryptography does not support).

    cryptography's ``verify_directly_issued_by`` refuses SHA-1 and MD5 signatures; those
    are checked here with the raw public-key primitives, which still allow them, because
    legacy chains must still be linked correctly to be reported."""
    try:
        child.verify_directly_issued_by(parent)
        return True
    except InvalidSignature:
        return False
    except (ValueError, TypeError, UnsupportedAlgorithm):
        pass  # name mismatch (excluded by callers), unsupported algorithm or key
    except Exception:  # noqa: BLE001 - a hostile certificate must not crash the caller
        return False
    try:
        return _verify_legacy(child, parent)
    except InvalidSignature:
        return False
    except Exception:  # noqa: BLE001 - unsupported here as well
        return None


_LEGACY_HASHES: dict[str, tuple[str, type[hashes.HashAlgorithm]]] = {
    "1.2.840.113549.1.1.4": ("rsa", hashes.MD5),
    "1.2.840.113549.1.1.5": ("rsa", hashes.SHA1),
    "1.3.14.3.2.29": ("rsa", hashes.SHA1),
    "1.2.840.10045.4.1": ("ecdsa", hashes.SHA1),
    "1.2.840.10040.4.3": ("dsa", hashes.SHA1),
}


def _verify_legacy(child: x509.Certificate, parent: x509.Certificate) -> bool | None:
    """Verify a SHA-1/MD5 signature; None when the algorithm is not one of those."""
    entry = _LEGACY_HASHES.get(child.signature_algorithm_oid.dotted_string)
    if entry is None:
        return None
    kind, hash_type = entry
    key = parent.public_key()
    data, signature = child.tbs_certificate_bytes, child.signature
    if kind == "rsa" and isinstance(key, rsa.RSAPublicKey):
        key.verify(signature, data, padding.PKCS1v15(), hash_type())
    elif kind == "ecdsa" and isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(signature, data, ec.ECDSA(hash_type()))
    elif kind == "dsa" and isinstance(key, dsa.DSAPublicKey):
        key.verify(signature, data, hash_type())
    else:
        return False  # the algorithm does not fit the issuer's key type
    return True


# --- field extraction -------------------------------------------------------------------

_CA_ISSUERS = AuthorityInformationAccessOID.CA_ISSUERS
_OCSP = AuthorityInformationAccessOID.OCSP


def _key_facts(cert: x509.Certificate) -> tuple[str | None, int | None]:
    try:
        key = cert.public_key()
    except (UnsupportedAlgorithm, ValueError):
        try:
            return f"unsupported ({cert.public_key_algorithm_oid.dotted_string})", None
        except Exception:  # noqa: BLE001
            return "unsupported", None
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC", key.curve.key_size
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", 456
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size
    return type(key).__name__, None


def _signature_facts(cert: x509.Certificate) -> tuple[str, str | None]:
    oid = cert.signature_algorithm_oid
    name = getattr(oid, "_name", None)
    if not name or name == "Unknown OID":
        name = _WEAK_SIGNATURE_OIDS.get(oid.dotted_string, oid.dotted_string)
    try:
        hash_algorithm = cert.signature_hash_algorithm
    except UnsupportedAlgorithm:
        hash_algorithm = None
    return name, hash_algorithm.name if hash_algorithm is not None else None


def _common_name(name: x509.Name) -> str | None:
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not values:
        return None
    value = values[0].value
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def _extension(extensions: x509.Extensions | None, oid: x509.ObjectIdentifier) -> Any:
    if extensions is None:
        return None
    try:
        return extensions.get_extension_for_oid(oid).value
    except x509.ExtensionNotFound:
        return None


def _sans(
    extensions: x509.Extensions | None, cert: x509.Certificate | None = None
) -> tuple[str, ...]:
    """The DNS and IP names; with ``cert`` and an extension list cryptography refused,
    the subjectAltName read on its own (another extension may be the bad one)."""
    if extensions is None and cert is not None:
        value = raw_san(cert)
    else:
        value = _extension(extensions, ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    if value is None:
        return ()
    dns = value.get_values_for_type(x509.DNSName)
    ips = [str(ip) for ip in value.get_values_for_type(x509.IPAddress)]
    return tuple(dns + ips)


def _is_ca(extensions: x509.Extensions | None) -> bool:
    value = _extension(extensions, ExtensionOID.BASIC_CONSTRAINTS)
    return bool(value is not None and value.ca)


def _aia(extensions: x509.Extensions | None, method: x509.ObjectIdentifier) -> tuple[str, ...]:
    value = _extension(extensions, ExtensionOID.AUTHORITY_INFORMATION_ACCESS)
    if value is None:
        return ()
    return tuple(
        d.access_location.value
        for d in value
        if d.access_method == method
        and isinstance(d.access_location, x509.UniformResourceIdentifier)
    )


def _crl_urls(extensions: x509.Extensions | None) -> tuple[str, ...]:
    value = _extension(extensions, ExtensionOID.CRL_DISTRIBUTION_POINTS)
    if value is None:
        return ()
    urls: list[str] = []
    for point in value:
        for name in point.full_name or ():
            if isinstance(name, x509.UniformResourceIdentifier):
                urls.append(name.value)
    return tuple(urls)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _iso(moment: datetime) -> str:
    return _utc(moment).isoformat().replace("+00:00", "Z")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]


def raw_extensions(cert: x509.Certificate) -> tuple[tuple[str, bytes], ...] | None:
    """Each extension as (dotted OID, extnValue bytes), read from the raw TBSCertificate:
    cryptography refuses the whole extension list when one extension is bad, so this is
    how the others are still read. None when the certificate's own structure is not DER."""
    from cryptography.hazmat.primitives.serialization import Encoding
    from tlsmatrix.replay import der  # only asked when cryptography refused the list

    try:
        tbs, _, _ = der.split_signed(cert.public_bytes(Encoding.DER))
        fields = der.children(der.read_tlv(tbs)[0].body)
        wrapper = next((f for f in fields if f.tag == der.EXTENSIONS), None)
        if wrapper is None:
            return ()
        (extensions,) = der.children(wrapper.body)
        out = []
        for ext in der.children(extensions.body):
            parts = der.children(ext.body)
            oid = x509.ObjectIdentifier(_dotted(parts[0].body))
            out.append((oid.dotted_string, parts[-1].body))
        return tuple(out)
    except (ValueError, IndexError):  # DERError is a ValueError
        return None


@functools.lru_cache(maxsize=1024)  # asked for every link each time the rules run
def signature_algorithm_mismatch(cert: x509.Certificate) -> tuple[str, str] | None:
    """(inside, outside) when the signature AlgorithmIdentifier inside the TBSCertificate
    differs from the certificate's outer one (RFC 5280 4.1.1.2 requires them equal);
    None when they match or the DER cannot be read."""
    from cryptography.hazmat.primitives.serialization import Encoding
    from tlsmatrix.replay import der

    try:
        tbs, outer, _ = der.split_signed(cert.public_bytes(Encoding.DER))
        fields = der.children(der.read_tlv(tbs)[0].body)
        # [0] version (optional), serialNumber, signature AlgorithmIdentifier, ...
        inner = fields[2] if fields[0].tag == 0xA0 else fields[1]
        if inner.raw == outer:
            return None
        inside, outside = (_algorithm_name(a) for a in (inner.raw, outer))
        return inside, outside
    except (ValueError, IndexError):
        return None


def _algorithm_name(algorithm_identifier: bytes) -> str:
    from tlsmatrix.replay import der

    dotted = _dotted(der.children(der.read_tlv(algorithm_identifier)[0].body)[0].body)
    return getattr(x509.ObjectIdentifier(dotted), "_name", dotted)


def _dotted(body: bytes) -> str:
    """An OID's contents octets as a dotted string."""
    arcs, value = [], 0
    for octet in body:
        value = (value << 7) | (octet & 0x7F)
        if not octet & 0x80:
            arcs.append(value)
            value = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(str(a) for a in [first, arcs[0] - 40 * first, *arcs[1:]])


def san_undecodable(cert: x509.Certificate) -> bool:
    """Whether ``cert`` carries a subjectAltName whose value is not DER GeneralNames (read
    from the raw TBSCertificate: cryptography refuses the whole extension list then, so it
    cannot say which extension is at fault)."""
    from tlsmatrix.replay import der

    for oid, value in raw_extensions(cert) or ():
        if oid == ExtensionOID.SUBJECT_ALTERNATIVE_NAME.dotted_string:
            return not der.is_general_names(value)
    return False


def raw_san(cert: x509.Certificate) -> x509.SubjectAlternativeName | None:
    """The subjectAltName decoded on its own, for a certificate whose extension list
    cryptography refuses because of *another* extension; None when there is none.
    Raises ValueError when the subjectAltName itself does not decode."""
    for oid, value in raw_extensions(cert) or ():
        if oid == ExtensionOID.SUBJECT_ALTERNATIVE_NAME.dotted_string:
            decoded = _decode_alone(oid, value)
            if not isinstance(decoded, x509.SubjectAlternativeName):
                raise ValueError("not a subjectAltName")
            return decoded
    return None


def undecodable_extensions(cert: x509.Certificate) -> tuple[str, ...]:
    """The names of the extensions cryptography cannot decode, each tried on its own."""
    bad = []
    for oid, value in raw_extensions(cert) or ():
        try:
            _decode_alone(oid, value)
        except ValueError:
            bad.append(extension_name(oid))
    return tuple(bad)


def extension_name(dotted: str) -> str:
    """'authorityInfoAccess' for its OID; the dotted OID for one cryptography cannot name."""
    name = getattr(x509.ObjectIdentifier(dotted), "_name", "Unknown OID")
    return dotted if name == "Unknown OID" else name


def _decode_alone(oid: str, value: bytes) -> x509.ExtensionType:
    """Decode one extension value with cryptography's own parser: a throwaway
    certificate carrying only that extension, read back. Raises ValueError."""
    import datetime as dt

    key = ed25519.Ed25519PrivateKey.generate()
    empty = x509.Name([])
    throwaway = (
        x509.CertificateBuilder()
        .subject_name(empty)
        .issuer_name(empty)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(dt.datetime(2000, 1, 1))
        .not_valid_after(dt.datetime(2000, 1, 2))
        .add_extension(x509.UnrecognizedExtension(x509.ObjectIdentifier(oid), value), False)
        .sign(key, None)
    )
    try:
        return throwaway.extensions[0].value
    except ValueError:
        raise
    except Exception as exc:  # noqa: BLE001 - the parser's own errors, whatever their type
        raise ValueError(str(exc)) from exc
