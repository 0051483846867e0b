"""Validation of user-supplied files and client names: one clear UsageError each."""

from __future__ import annotations

import os

from tlsmatrix.errors import UsageError

_PEM_CERT = b"-----BEGIN CERTIFICATE-----"


def check_ca_file(path: str, option: str = "--ca-file") -> str:
    """A readable PEM file holding at least one certificate; returns its absolute path."""
    if os.path.isdir(path):
        raise UsageError(f"{option} {path} is a directory, not a PEM file")
    try:
        with open(path, "rb") as handle:
            data = handle.read(50_000_000)
    except OSError as exc:
        raise UsageError(f"{option} {path}: cannot read ({exc.strerror or exc})") from None
    if _PEM_CERT not in data:
        hint = (
            " (looks like DER: convert with 'openssl x509 -inform der')"
            if data[:1] == b"\x30"
            else ""
        )
        raise UsageError(f"{option} {path} holds no PEM certificate{hint}")
    from cryptography import x509

    try:
        x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise UsageError(f"{option} {path} has a malformed PEM certificate: {exc}") from None
    return os.path.abspath(path)


def check_clients(names: list[str]) -> list[str]:
    from tlsmatrix import clients

    known = clients.names()
    for name in names:
        if name not in known:
            raise UsageError(f"unknown client {name!r}; known: {', '.join(known)}")
    return list(dict.fromkeys(names))


def parse_trust_options(items: list[str], chosen: list[str]) -> dict[str, str]:
    """``CLIENT=PEM`` items -> {client: absolute path}."""
    from tlsmatrix import clients

    known = clients.names()
    result: dict[str, str] = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise UsageError(f"--trust wants CLIENT=PEM, got {item!r}")
        if name not in known:
            raise UsageError(f"--trust names unknown client {name!r}; known: {', '.join(known)}")
        if chosen and name not in chosen:
            raise UsageError(f"--trust names client {name!r}, which this run does not include")
        result[name] = check_ca_file(path, f"--trust {name}=")
    return result
