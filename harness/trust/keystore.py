"""Reading the certificates of a Java keystore (JKS, JCEKS or PKCS#12), such as the JVM's
``cacerts``, without a JVM: a trust store holds certificates only, and those are stored in
the clear in JKS; PKCS#12 is opened with the JDK's well-known store password."""

from __future__ import annotations

import struct
import warnings

from cryptography import x509

JKS_MAGIC = 0xFEEDFEED
JCEKS_MAGIC = 0xCECECECE
# The JDK ships cacerts with this password; a trust store's certificates are public.
DEFAULT_PASSWORDS = (b"changeit", b"")
MAX_ENTRIES = 10_000


class KeystoreError(ValueError):
    """The data is not a keystore this module can read; one line."""


def is_keystore(data: bytes) -> bool:
    """Whether ``data`` starts like a JKS/JCEKS store or a DER PKCS#12 file."""
    if len(data) >= 4 and struct.unpack(">I", data[:4])[0] in (JKS_MAGIC, JCEKS_MAGIC):
        return True
    return data[:1] == b"\x30" and b"-----BEGIN" not in data[:64]


def keystore_kind(data: bytes) -> str:
    if len(data) >= 4 and struct.unpack(">I", data[:4])[0] == JKS_MAGIC:
        return "JKS"
    if len(data) >= 4 and struct.unpack(">I", data[:4])[0] == JCEKS_MAGIC:
        return "JCEKS"
    return "PKCS#12"


def read_keystore(data: bytes) -> tuple[list[x509.Certificate], int]:
    """The certificates in a keystore and how many entries could not be read.
    Raises KeystoreError when ``data`` is not a readable keystore."""
    if keystore_kind(data) in ("JKS", "JCEKS"):
        return _read_jks(data)
    return _read_pkcs12(data)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.at + n > len(self.data):
            raise KeystoreError("truncated keystore")
        chunk = self.data[self.at : self.at + n]
        self.at += n
        return chunk

    def u16(self) -> int:
        return int(struct.unpack(">H", self.take(2))[0])

    def u32(self) -> int:
        return int(struct.unpack(">I", self.take(4))[0])

    def utf(self) -> str:
        return self.take(self.u16()).decode("utf-8", "replace")


def _read_jks(data: bytes) -> tuple[list[x509.Certificate], int]:
    """JKS layout: magic, version (1 or 2), entry count, then per entry a tag
    (1 private key with its chain, 2 trusted certificate, 3 JCEKS secret key), an alias
    and a timestamp. Certificates are stored as (type, length, DER) in the clear."""
    r = _Reader(data)
    r.u32()
    version = r.u32()
    if version not in (1, 2):
        raise KeystoreError(f"unsupported JKS version {version}")
    count = r.u32()
    if count > MAX_ENTRIES:
        raise KeystoreError(f"{count} entries is more than the {MAX_ENTRIES} read")
    certs: list[x509.Certificate] = []
    bad = 0

    def cert() -> None:
        nonlocal bad
        if version == 2:
            r.utf()  # certificate type, "X.509"
        der = r.take(r.u32())
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # old roots with a non-positive serial
                certs.append(x509.load_der_x509_certificate(der))
        except ValueError:
            bad += 1

    for _ in range(count):
        tag = r.u32()
        r.utf()  # alias
        r.take(8)  # timestamp
        if tag == 2:
            cert()
        elif tag == 1:
            r.take(r.u32())  # the protected key, not needed
            for _ in range(r.u32()):
                cert()
        else:
            # A JCEKS secret key is a serialized Java object of unknown length: stop here
            # with what was read rather than guess.
            bad += 1
            break
    return certs, bad


def _read_pkcs12(data: bytes) -> tuple[list[x509.Certificate], int]:
    from cryptography.hazmat.primitives.serialization import pkcs12

    last: Exception | None = None
    for password in DEFAULT_PASSWORDS:
        try:
            loaded = pkcs12.load_pkcs12(data, password or None)
        except Exception as exc:  # noqa: BLE001 - wrong password or not PKCS#12 at all
            last = exc
            continue
        certs = [c.certificate for c in loaded.additional_certs]
        if loaded.cert is not None:
            certs.insert(0, loaded.cert.certificate)
        return certs, 0
    reason = " ".join(str(last).split())[:120] if last else "unreadable"
    raise KeystoreError(f"not a readable PKCS#12 keystore ({reason})")


__all__ = ["KeystoreError", "is_keystore", "keystore_kind", "read_keystore"]
