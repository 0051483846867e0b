"""Fresh keys like the originals', and signing or verifying the way an original was
signed (its hash and padding). Verification is done by hand rather than with
``verify_directly_issued_by``, which refuses SHA-1 and other old algorithms that real
chains still carry."""

from __future__ import annotations

from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
from cryptography.x509.oid import NameOID, SignatureAlgorithmOID
from tlsmatrix.replay import der

PrivateKey = Any  # rsa/ec/dsa/ed25519/ed448 private keys
RSA_MIN_BITS = 1024  # cryptography refuses to generate smaller RSA keys
_RSA_SIGS = {"1.2.840.113549.1.1." + n for n in ("4", "5", "10", "11", "12", "13", "14")}
_RSA_SIGS |= {"2.16.840.1.101.3.4.3." + n for n in ("13", "14", "15", "16")}
_DSA_SIGS = {"1.2.840.10040.4.3", "2.16.840.1.101.3.4.3.1", "2.16.840.1.101.3.4.3.2"}


def signed_by(signed: Any, data: bytes, public: Any) -> bool:
    """True when ``public`` verifies ``signed``'s signature over ``data`` (``signed`` is a
    certificate or a CRL; ``data`` its to-be-signed bytes)."""
    try:
        if isinstance(public, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            public.verify(signed.signature, data)
            return True
        algorithm = signed.signature_hash_algorithm
        if algorithm is None:
            return False
        if isinstance(public, rsa.RSAPublicKey):
            params = signed.signature_algorithm_parameters
            pad = (
                params if isinstance(params, padding.PSS | padding.PKCS1v15) else padding.PKCS1v15()
            )
            public.verify(signed.signature, data, pad, algorithm)
        elif isinstance(public, ec.EllipticCurvePublicKey):
            public.verify(signed.signature, data, ec.ECDSA(algorithm))
        elif isinstance(public, dsa.DSAPublicKey):
            public.verify(signed.signature, data, algorithm)
        else:
            return False
    except Exception:  # noqa: BLE001 - bad signature, wrong key type, unsupported algorithm
        return False
    return True


def twin_key(public: Any) -> tuple[PrivateKey, tuple[str, ...]]:
    """A fresh private key of the same type and size as ``public``, and what differs."""
    if isinstance(public, rsa.RSAPublicKey):
        bits = public.key_size
        exponent = public.public_numbers().e
        notes = []
        if exponent not in (3, 65537):
            notes.append(f"RSA exponent {exponent} cannot be generated here: the twin uses 65537")
            exponent = 65537
        if bits < RSA_MIN_BITS:
            notes.append(
                f"RSA-{bits} cannot be generated here (minimum {RSA_MIN_BITS}): "
                f"the twin key has {RSA_MIN_BITS} bits"
            )
            bits = RSA_MIN_BITS
        return rsa.generate_private_key(public_exponent=exponent, key_size=bits), tuple(notes)
    if isinstance(public, ec.EllipticCurvePublicKey):
        return ec.generate_private_key(type(public.curve)()), ()
    if isinstance(public, ed25519.Ed25519PublicKey):
        return ed25519.Ed25519PrivateKey.generate(), ()
    if isinstance(public, ed448.Ed448PublicKey):
        return ed448.Ed448PrivateKey.generate(), ()
    if isinstance(public, dsa.DSAPublicKey):
        return dsa.generate_private_key(public.key_size), ()
    return ec.generate_private_key(ec.SECP256R1()), (
        f"key type {type(public).__name__} cannot be generated here: the twin has EC P-256",
    )


def key_for_algorithm(cert: Any) -> PrivateKey:
    oid = cert.signature_algorithm_oid
    if oid.dotted_string in _RSA_SIGS:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if oid == SignatureAlgorithmOID.ED25519:
        return ed25519.Ed25519PrivateKey.generate()
    if oid == SignatureAlgorithmOID.ED448:
        return ed448.Ed448PrivateKey.generate()
    if oid.dotted_string in _DSA_SIGS:
        return dsa.generate_private_key(2048)
    curve = {
        SignatureAlgorithmOID.ECDSA_WITH_SHA384: ec.SECP384R1(),
        SignatureAlgorithmOID.ECDSA_WITH_SHA512: ec.SECP521R1(),
    }.get(oid, ec.SECP256R1())
    return ec.generate_private_key(curve)


def sign_like(
    key: PrivateKey,
    data: bytes,
    cert: Any,
    hash_override: hashes.HashAlgorithm | None = None,
) -> bytes:
    """Sign ``data`` as ``cert`` (a certificate or a CRL) was signed (its hash and
    padding), or with
    ``hash_override`` and the key's default scheme."""
    if isinstance(key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
        return key.sign(data)
    algorithm = hash_override or (cert.signature_hash_algorithm if cert is not None else None)
    if algorithm is None:
        raise ValueError("no hash algorithm known for this signature")
    params = (
        cert.signature_algorithm_parameters if cert is not None and hash_override is None else None
    )
    if isinstance(key, rsa.RSAPrivateKey):
        pad = params if isinstance(params, padding.PSS | padding.PKCS1v15) else padding.PKCS1v15()
        return key.sign(data, pad, algorithm)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(algorithm))
    if isinstance(key, dsa.DSAPrivateKey):
        return key.sign(data, algorithm)
    raise TypeError(f"cannot sign with {type(key).__name__}")


def algorithm_id(key: PrivateKey, algorithm: hashes.HashAlgorithm) -> bytes:
    """The AlgorithmIdentifier element cryptography writes for ``key`` with ``algorithm``
    (taken from a throwaway self-signed certificate)."""
    import datetime as dt

    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "algorithm probe")])
    now = dt.datetime.now(dt.UTC)
    probe = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
    )
    signed = probe.sign(
        key,
        None if isinstance(key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey) else algorithm,
    )
    _, algorithm_element, _ = der.split_signed(signed.public_bytes(serialization.Encoding.DER))
    return algorithm_element
