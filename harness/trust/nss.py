"""Reading the certificates of an NSS database (``cert9.db``, the SQLite format Firefox,
Chromium on Linux and ``certutil -d sql:DIR`` use) without NSS: certificate objects are
rows of ``nssPublic`` whose CKA_CLASS column (``a0``) is CKO_CERTIFICATE and whose
CKA_VALUE column (``a11``) is the DER. Trust flags are not read: every certificate in the
database counts as in the store, as for a PEM bundle."""

from __future__ import annotations

import os
import sqlite3
import warnings

from cryptography import x509

NSS_FILE = "cert9.db"
CKO_CERTIFICATE = (1).to_bytes(4, "big")
MAX_ROWS = 20_000


class NSSError(ValueError):
    """The database cannot be read; one line."""


def is_nss_dir(path: str) -> bool:
    return os.path.isfile(os.path.join(path, NSS_FILE))


def read_nss(path: str) -> tuple[list[x509.Certificate], int]:
    """The certificates in the NSS database directory ``path`` and how many rows failed.
    Opened read-only: a browser using the database at the same time is not disturbed."""
    db = os.path.join(path, NSS_FILE)
    try:
        uri = "file:" + os.path.abspath(db) + "?mode=ro"
        with sqlite3.connect(uri, uri=True, timeout=2) as conn:
            rows = conn.execute("SELECT a0, a11 FROM nssPublic LIMIT ?", (MAX_ROWS,)).fetchall()
    except sqlite3.Error as exc:
        raise NSSError(f"NSS database {db}: {' '.join(str(exc).split())}") from None
    certs: list[x509.Certificate] = []
    bad = 0
    for kind, value in rows:
        if kind != CKO_CERTIFICATE or not value:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # old roots with a non-positive serial
                certs.append(x509.load_der_x509_certificate(bytes(value)))
        except ValueError:
            bad += 1
    return certs, bad


__all__ = ["NSSError", "is_nss_dir", "read_nss"]
