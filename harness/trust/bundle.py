"""A read-only index of a trust bundle: which certificates a client would trust.

:meth:`TrustBundle.load` reads a PEM bundle file, a directory of PEM files (such as
``/etc/ssl/certs`` with its hashed links) or a Java keystore (JKS or PKCS#12, such as the
JVM's ``cacerts``; :mod:`tlsmatrix.trust.keystore`) or an NSS database directory (``cert9.db``;
:mod:`tlsmatrix.trust.nss`), once per run: results are cached by
(real path, mtime, size). Lookups answer the explainer's questions: does this store hold
the issuer the server did not send, and which certificate is it?
"""

from __future__ import annotations

import base64
import binascii
import functools
import os
import re
import stat
import threading
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from cryptography import x509
from tlsmatrix.chain.analysis import signature_verifies

# Bounds: a trust directory is not supposed to be huge; stop reading rather than stall.
MAX_FILES = 5000
MAX_FILE_BYTES = 32 * 1024 * 1024
MAX_TOTAL_BYTES = 256 * 1024 * 1024

_PEM_BLOCK = re.compile(
    rb"-----BEGIN (TRUSTED |X509 )?CERTIFICATE-----(.*?)-----END \1?CERTIFICATE-----", re.S
)
_HASH_NAME = re.compile(r"^[0-9a-f]{8}\.[0-9]+$")
_PEM_SUFFIXES = (".pem", ".crt", ".cer")


class TrustBundleError(ValueError):
    """A trust bundle could not be used; the message is one line and names the path."""


@dataclass(frozen=True)
class TrustBundle:
    """The certificates of one bundle, indexed by subject. Build with :meth:`load` or
    :meth:`from_pem`. ``skipped`` counts PEM blocks (or files) that held no usable
    certificate."""

    source: str
    certificates: tuple[x509.Certificate, ...]
    skipped: int = 0
    form: str = "PEM"  # "PEM", "PEM directory", "JKS keystore", "PKCS#12 keystore"
    _by_subject: dict[x509.Name, list[x509.Certificate]] = field(
        default_factory=dict, repr=False, compare=False
    )
    _fingerprints: frozenset[bytes] = field(default=frozenset(), repr=False, compare=False)

    # --- construction ---------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, use_cache: bool = True) -> TrustBundle:
        """Parse the PEM file or directory at ``path`` (cached per run).

        Raises :class:`TrustBundleError` when the path is missing or unreadable, or holds
        no certificate at all."""
        shown = os.fspath(path)
        try:
            real = os.path.realpath(shown)
            info = os.stat(real)
        except (OSError, ValueError) as exc:
            raise TrustBundleError(f"trust bundle {shown}: {_os_reason(exc)}") from None
        key = (real, info.st_mtime_ns, info.st_size)
        if use_cache:
            with _CACHE_LOCK:
                cached = _CACHE.get(key)
            if cached is not None:
                return cached
        if stat.S_ISDIR(info.st_mode):
            from tlsmatrix.trust.nss import NSSError, is_nss_dir, read_nss

            if is_nss_dir(real):
                bundle = cls._from_store(shown, lambda: read_nss(real), NSSError, "NSS database")
            else:
                bundle = cls._load_directory(shown, real)
        else:
            bundle = cls.from_bytes(_read_file(shown, real), source=shown)
        if use_cache:
            with _CACHE_LOCK:
                _CACHE[key] = bundle
        return bundle

    @classmethod
    def from_bytes(cls, data: bytes, *, source: str = "<memory>") -> TrustBundle:
        """Index PEM ``data``, or a Java keystore (JKS/PKCS#12, e.g. the JVM's cacerts)."""
        from tlsmatrix.trust.keystore import (
            KeystoreError,
            is_keystore,
            keystore_kind,
            read_keystore,
        )

        if b"-----BEGIN" in data or not is_keystore(data):
            return cls.from_pem(data, source=source)
        form = f"{keystore_kind(data)} keystore"
        return cls._from_store(source, lambda: read_keystore(data), KeystoreError, form)

    @classmethod
    def from_pem(cls, data: bytes, *, source: str = "<memory>") -> TrustBundle:
        """Index the certificates in PEM ``data``. Raises :class:`TrustBundleError` when
        there is none."""
        certs, skipped = _parse_pem(data)
        if not certs:
            what = "no usable certificate" if skipped else "not a PEM bundle: no certificate"
            raise TrustBundleError(f"trust bundle {source}: {what} found")
        return cls._build(source, certs, skipped)

    @classmethod
    def _load_directory(cls, shown: str, real: str) -> TrustBundle:
        certs: list[x509.Certificate] = []
        skipped = 0
        total = 0
        seen: set[str] = set()
        try:
            names = sorted(os.listdir(real))
        except OSError as exc:
            raise TrustBundleError(f"trust bundle {shown}: {_os_reason(exc)}") from None
        files = [n for n in names if n.endswith(_PEM_SUFFIXES) or _HASH_NAME.match(n)]
        for name in files[:MAX_FILES]:
            target = os.path.realpath(os.path.join(real, name))
            if target in seen:
                continue  # hash links point at files already read
            seen.add(target)
            try:
                if not os.path.isfile(target):
                    continue
                size = os.path.getsize(target)
                if size > MAX_FILE_BYTES or total + size > MAX_TOTAL_BYTES:
                    skipped += 1
                    continue
                data = Path(target).read_bytes()
            except OSError:
                skipped += 1
                continue
            total += len(data)
            found, bad = _parse_pem(data)
            certs.extend(found)
            skipped += bad + (0 if found or bad else 1)
        if not certs:
            raise TrustBundleError(
                f"trust bundle {shown}: directory holds no PEM certificate "
                f"({len(files)} candidate files)"
            )
        return replace(cls._build(shown, certs, skipped), form="PEM directory")

    @classmethod
    def _from_store(
        cls,
        source: str,
        read: Callable[[], tuple[list[x509.Certificate], int]],
        error: type[Exception],
        form: str,
    ) -> TrustBundle:
        """The bundle of a binary store (NSS database, Java keystore): ``read`` gives its
        certificates and how many it skipped; its ``error`` or no certificate is one line."""
        try:
            certs, skipped = read()
        except error as exc:
            raise TrustBundleError(f"trust store {source}: {exc}") from None
        if not certs:
            raise TrustBundleError(f"trust store {source}: {form} holds no certificate")
        return replace(cls._build(source, certs, skipped), form=form)

    @classmethod
    def _build(cls, source: str, certs: list[x509.Certificate], skipped: int) -> TrustBundle:
        from cryptography.hazmat.primitives.serialization import Encoding

        unique: list[x509.Certificate] = []
        fingerprints: set[bytes] = set()
        by_subject: dict[x509.Name, list[x509.Certificate]] = {}
        for cert in certs:
            try:
                der = cert.public_bytes(Encoding.DER)
                subject = cert.subject
            except Exception:  # noqa: BLE001 - a certificate we cannot index is skipped
                skipped += 1
                continue
            if der in fingerprints:
                continue
            fingerprints.add(der)
            unique.append(cert)
            by_subject.setdefault(subject, []).append(cert)
        return cls(
            source,
            tuple(unique),
            skipped,
            _by_subject=by_subject,
            _fingerprints=frozenset(fingerprints),
        )

    # --- lookups --------------------------------------------------------------------------

    @functools.cached_property
    def _by_text(self) -> dict[str, list[x509.Certificate]]:
        """Subjects as normalised RFC 4514 text, indexed on first use: most runs never ask,
        and writing out a few hundred names costs more than parsing the bundle."""
        index: dict[str, list[x509.Certificate]] = {}
        for cert in self.certificates:
            try:
                text = _normal(cert.subject.rfc4514_string())
            except Exception:  # noqa: BLE001 - a name we cannot write out matches no text
                continue
            index.setdefault(text, []).append(cert)
        return index

    def __len__(self) -> int:
        return len(self.certificates)

    def __iter__(self) -> Iterator[x509.Certificate]:
        return iter(self.certificates)

    def subjects(self) -> tuple[str, ...]:
        """Subjects (RFC 4514), in bundle order, one per certificate."""
        return tuple(c.subject.rfc4514_string() for c in self.certificates)

    def contains_subject(self, name: x509.Name | str) -> bool:
        """Whether a certificate with this subject is in the bundle. A string is compared
        as an RFC 4514 name, ignoring case and spaces around separators."""
        if isinstance(name, x509.Name):
            return name in self._by_subject
        return _normal(name) in self._by_text

    def contains(self, cert: x509.Certificate | bytes) -> bool:
        """Whether exactly this certificate (DER-identical) is in the bundle."""
        from cryptography.hazmat.primitives.serialization import Encoding

        der = cert if isinstance(cert, bytes) else cert.public_bytes(Encoding.DER)
        return der in self._fingerprints

    def find_issuer(self, cert: x509.Certificate | bytes) -> x509.Certificate | None:
        """A bundle certificate that issued ``cert``: subject equals its issuer and the
        signature verifies. When no candidate's signature can be checked (unsupported key
        or algorithm) a name match is returned; a failing signature never is."""
        if isinstance(cert, bytes):
            try:
                cert = x509.load_der_x509_certificate(cert)
            except ValueError:
                return None
        try:
            candidates = self._by_subject.get(cert.issuer, [])
        except Exception:  # noqa: BLE001 - an undecodable issuer name matches nothing
            return None
        unverifiable: x509.Certificate | None = None
        for candidate in candidates:
            verified = signature_verifies(cert, candidate)
            if verified:
                return candidate
            if verified is None and unverifiable is None:
                unverifiable = candidate
        return unverifiable


_CACHE: dict[tuple[str, int, int], TrustBundle] = {}
_CACHE_LOCK = threading.Lock()


def clear_cache() -> None:
    """Forget every loaded bundle (tests; long-running processes)."""
    with _CACHE_LOCK:
        _CACHE.clear()


def _read_file(shown: str, real: str) -> bytes:
    try:
        size = os.path.getsize(real)
        if size > MAX_FILE_BYTES:
            raise TrustBundleError(
                f"trust bundle {shown}: {size} bytes is more than the {MAX_FILE_BYTES} allowed"
            )
        return Path(real).read_bytes()
    except OSError as exc:
        raise TrustBundleError(f"trust bundle {shown}: {_os_reason(exc)}") from None


def _parse_pem(data: bytes) -> tuple[list[x509.Certificate], int]:
    """Certificates in ``data`` and the number of CERTIFICATE blocks that failed."""
    certs: list[x509.Certificate] = []
    bad = 0
    for match in _PEM_BLOCK.finditer(data):
        try:
            der = base64.b64decode(b"".join(match.group(2).split()), validate=True)
            if match.group(1) == b"TRUSTED ":
                der = _first_tlv(der)  # OpenSSL's trusted form appends trust settings
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # old roots with a non-positive serial
                certs.append(x509.load_der_x509_certificate(der))
        except (ValueError, binascii.Error):
            bad += 1
    return certs, bad


def _first_tlv(der: bytes) -> bytes:
    """The first DER element of ``der`` (definite lengths only)."""
    if len(der) < 2:
        raise ValueError("truncated DER")
    first = der[1]
    if first < 0x80:
        return der[: 2 + first]
    count = first & 0x7F
    if count == 0 or count > 4 or len(der) < 2 + count:
        raise ValueError("unsupported DER length")
    length = int.from_bytes(der[2 : 2 + count], "big")
    return der[: 2 + count + length]


def _normal(name: str) -> str:
    return re.sub(r"\s*([,+=])\s*", r"\1", name.strip()).casefold()


def _os_reason(exc: BaseException) -> str:
    if isinstance(exc, FileNotFoundError):
        return "no such file or directory"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return " ".join(str(exc).split()) or type(exc).__name__


__all__ = ["TrustBundle", "TrustBundleError", "clear_cache"]
