"""Reading the files a user is about to deploy, in the shapes they come in.

Every problem that makes the files unusable as input (unreadable, no certificate, no key,
a wrong password, a key that belongs to none of the certificates) is a UsageError with one
line naming the file. Problems a deployment would *survive* long enough to hurt (a field
swap, a missing intermediate) are not raised here: :mod:`tlsmatrix.preflight.lint` names
them."""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from tlsmatrix.errors import UsageError

MAX_FILE_BYTES = 5_000_000
_PEM_CERT = b"-----BEGIN CERTIFICATE-----"
_PEM_KEY = b"PRIVATE KEY-----"

# The layouts, named as the user's tooling names them.
FIELDS = "fields"  # --cert / --chain / --key: a cloud console's three import fields
FULLCHAIN = "fullchain"  # one PEM, leaf first, + --key
PFX = "pfx"  # PKCS#12
K8S = "k8s-secret"  # kubernetes.io/tls Secret


@dataclass(frozen=True)
class Material:
    """The certificates and key as the user would upload them.

    ``body`` is what goes into the "certificate body" (for a fullchain, a PKCS#12 or a
    secret: the first certificate), ``chain`` the rest, in the order given. ``body_file``
    and ``chain_file`` name where each came from, as lint messages should name them;
    ``key_cert`` is the index (into ``served``) of the certificate the key belongs to."""

    layout: str
    body: tuple[x509.Certificate, ...]
    chain: tuple[x509.Certificate, ...]
    key: Any  # a cryptography private key
    body_file: str
    chain_file: str | None
    key_file: str
    key_cert: int

    @property
    def served(self) -> tuple[x509.Certificate, ...]:
        """What a server sends once these files are installed: body, then chain."""
        return self.body + self.chain

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def chain_pem(self) -> bytes:
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in self.served)


def read_bytes(path: str, option: str) -> bytes:
    if os.path.isdir(path):
        raise UsageError(f"{option} {path} is a directory, not a file")
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"{option} {path}: cannot read ({exc.strerror or exc})") from None
    if len(data) > MAX_FILE_BYTES:
        raise UsageError(f"{option} {path} is larger than {MAX_FILE_BYTES} bytes")
    return data


def read_password(path: str | None) -> bytes | None:
    """The password in ``path`` (its first line, without the line break)."""
    if path is None:
        return None
    data = read_bytes(path, "--password-file")
    return data.splitlines()[0] if data.strip() else b""


def parse_certificates(data: bytes, where: str, *, allow_empty: bool = False) -> tuple:
    """The PEM certificates in ``data`` (DER: one certificate)."""
    if _PEM_CERT not in data:
        if data[:1] == b"\x30":
            try:
                return (x509.load_der_x509_certificate(data),)
            except ValueError:
                pass
        if allow_empty and not data.strip():
            return ()
        raise UsageError(f"{where} holds no PEM certificate")
    try:
        return tuple(x509.load_pem_x509_certificates(data))
    except ValueError as exc:
        raise UsageError(f"{where} has a malformed PEM certificate: {exc}") from None


def parse_key(data: bytes, where: str, password: bytes | None) -> Any:
    if _PEM_KEY not in data and data[:1] != b"\x30":
        raise UsageError(f"{where} holds no PEM private key")
    load = (
        serialization.load_pem_private_key
        if _PEM_KEY in data
        else serialization.load_der_private_key
    )
    try:
        return load(data, password=password or None)
    except TypeError:
        if password:
            raise UsageError(f"{where} is not encrypted: drop --password-file") from None
        raise UsageError(f"{where} is encrypted: give its password with --password-file") from None
    except ValueError:
        if password:
            raise UsageError(f"{where}: wrong password in --password-file") from None
        raise UsageError(f"{where} holds a private key that cannot be read") from None


def read_fields(cert: str, chain: str | None, key: str | None, password: bytes | None) -> Material:
    """The three fields of a cloud import: body, chain (optional), private key."""
    if key is None:
        raise UsageError("--cert needs --key: the private key the certificate was issued for")
    body_file = f"--cert {cert}"
    chain_file = f"--chain {chain}" if chain else None
    body = parse_certificates(read_bytes(cert, "--cert"), body_file)
    rest = (
        parse_certificates(read_bytes(chain, "--chain"), chain_file or "", allow_empty=True)
        if chain
        else ()
    )
    private = parse_key(read_bytes(key, "--key"), f"--key {key}", password)
    return _material(FIELDS, body, rest, private, body_file, chain_file, f"--key {key}")


def read_fullchain(path: str, key: str | None, password: bytes | None) -> Material:
    if key is None:
        raise UsageError("--fullchain needs --key: the private key of its leaf")
    where = f"--fullchain {path}"
    certs = parse_certificates(read_bytes(path, "--fullchain"), where)
    private = parse_key(read_bytes(key, "--key"), f"--key {key}", password)
    return _material(FULLCHAIN, certs[:1], certs[1:], private, where, where, f"--key {key}")


def read_pfx(path: str, password: bytes | None) -> Material:
    where = f"--pfx {path}"
    data = read_bytes(path, "--pfx")
    try:
        private, leaf, extra = pkcs12.load_key_and_certificates(data, password)
    except ValueError:
        if password is None:
            raise UsageError(
                f"{where} cannot be opened without a password: give --password-file"
            ) from None
        raise UsageError(f"{where}: wrong password in --password-file, or not PKCS#12") from None
    if private is None:
        raise UsageError(f"{where} holds no private key")
    if leaf is None:
        raise UsageError(f"{where} holds no certificate for its key")
    return _material(PFX, (leaf,), tuple(extra), private, where, where, where)


def read_k8s_secret(path: str) -> Material:
    """A kubernetes.io/tls Secret (YAML or JSON): ``tls.crt`` and ``tls.key``, base64
    under ``data`` or plain under ``stringData``."""
    option = f"--k8s-secret {path}"
    text = read_bytes(path, "--k8s-secret").decode("utf-8", "replace")
    fields = secret_fields(text, option)
    crt_where, key_where = f"{option} tls.crt", f"{option} tls.key"
    if "tls.crt" not in fields:
        raise UsageError(f"{option} has no tls.crt under data or stringData")
    if "tls.key" not in fields:
        raise UsageError(f"{option} has no tls.key under data or stringData")
    certs = parse_certificates(fields["tls.crt"], crt_where)
    private = parse_key(fields["tls.key"], key_where, None)
    return _material(K8S, certs[:1], certs[1:], private, crt_where, crt_where, key_where)


def secret_fields(text: str, option: str) -> dict[str, bytes]:
    """tls.crt / tls.key of a Secret, decoded. ``data`` values are base64."""
    if text.lstrip().startswith("{"):
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{option} is not valid JSON: {exc.msg}") from None
        sections = {k: doc.get(k) for k in ("data", "stringData")} if isinstance(doc, dict) else {}
    else:
        sections = _yaml_sections(text)
    found: dict[str, bytes] = {}
    for name in ("tls.crt", "tls.key"):
        plain = (sections.get("stringData") or {}).get(name)
        encoded = (sections.get("data") or {}).get(name)
        if isinstance(plain, str) and plain.strip():
            found[name] = plain.encode()
        elif isinstance(encoded, str) and encoded.strip():
            try:
                found[name] = base64.b64decode("".join(encoded.split()), validate=True)
            except (binascii.Error, ValueError):
                raise UsageError(f"{option}: data.{name} is not valid base64") from None
    return found


def _yaml_sections(text: str) -> dict[str, dict[str, str]]:
    """The ``data`` and ``stringData`` mappings of a Secret manifest: the subset of YAML
    kubectl writes and people hand-write for Secrets (plain or quoted scalars, ``|``
    block scalars). The first document holding either section wins."""
    sections: dict[str, dict[str, str]] = {}
    section: str | None = None
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].rstrip()
        i += 1
        if line == "---":
            if sections:
                break
            section = None
            continue
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip(" "))
        key, sep, value = line.strip().partition(":")
        key, value = key.strip().strip("'\""), value.strip()
        if indent == 0:
            section = key if sep and key in ("data", "stringData") else None
            if section:
                sections.setdefault(section, {})
            continue
        if section is None or not sep:
            continue
        if value[:1] not in ("|", ">"):
            sections[section][key] = value.strip("'\"")
            continue
        block: list[str] = []
        block_indent: int | None = None
        while i < len(lines):
            inner = lines[i].rstrip()
            inner_indent = len(inner) - len(inner.lstrip(" "))
            if inner.strip() and inner_indent <= indent:
                break
            if inner.strip() and block_indent is None:
                block_indent = inner_indent
            block.append(inner[block_indent or 0 :])
            i += 1
        sections[section][key] = "\n".join(block).strip("\n") + "\n"
    return sections


def _public(key: Any) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _material(
    layout: str,
    body: tuple,
    chain: tuple,
    key: Any,
    body_file: str,
    chain_file: str | None,
    key_file: str,
) -> Material:
    """Ties the key to its certificate; a key that belongs to none of them is bad input."""
    if not hasattr(key, "public_key"):
        raise UsageError(f"{key_file} holds a key type that cannot serve TLS")
    served = body + chain
    mine = _public(key.public_key())
    for index, cert in enumerate(served):
        try:
            if _public(cert.public_key()) == mine:
                return Material(layout, body, chain, key, body_file, chain_file, key_file, index)
        except ValueError:
            continue
    leaf = served[0].subject.rfc4514_string() if served else "?"
    raise UsageError(
        f"{key_file} does not match the certificate '{leaf}' in {body_file} (nor any other "
        "certificate given): use the private key this certificate was issued for"
    )
