"""Certificates built to fail one rule each, for the signal-table tests: every client's real
signal on a real handshake is checked against the cause the certificate was built with."""

from __future__ import annotations

import datetime as dt
import os
import re
import socket
import ssl
import threading
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier
from tlsmatrix.clients.base import Reason
from tlsmatrix.lab.certbuilder import general_names, key_pem, key_usage
from tlsmatrix.lab.pki import _sign_sha1_intermediate
from tlsmatrix.lab.tlsserver import ServerOptions, TLSServer

from tests.conftest import missing

NOW = dt.datetime.now(dt.UTC)
DAY = dt.timedelta(days=1)

# The reason each failing scenario of scenarios() was built to produce.
BUILT_FOR: dict[str, Reason] = {
    "expired": Reason.EXPIRED,
    "not_yet_valid": Reason.NOT_YET_VALID,
    "hostname_mismatch": Reason.HOSTNAME_MISMATCH,
    "wrong_usage": Reason.WRONG_USAGE,
    "critical_extension": Reason.CRITICAL_EXTENSION,
    "incomplete_chain": Reason.UNKNOWN_ISSUER,
    "self_signed": Reason.SELF_SIGNED,
    "path_length": Reason.PATH_LENGTH,
    "not_a_ca": Reason.NOT_A_CA,
    "name_constraints": Reason.NAME_CONSTRAINTS,
    "weak_key": Reason.WEAK_KEY,
    "weak_signature": Reason.WEAK_SIGNATURE,
}


def causes(labels: Iterable[str], **instead: Reason) -> dict[str, Reason]:
    """{scenario: expected reason}: ``labels`` with what each was built for, and the
    scenarios in ``instead`` with what a client measurably names (say why where it is used)."""
    assert set(instead) <= set(BUILT_FOR), set(instead) - set(BUILT_FOR)
    return {**{label: BUILT_FOR[label] for label in labels}, **instead}


def every_cause_but(*left_out: str, **instead: Reason) -> dict[str, Reason]:
    """:func:`causes` for every failing scenario but ``left_out``."""
    return causes([label for label in BUILT_FOR if label not in left_out], **instead)


@dataclass(frozen=True)
class Issued:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def issue(
    cn: str,
    issuer: Issued | None,
    *,
    ca: bool = False,
    pathlen: int | None = None,
    basic_constraints: bool = True,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    san: tuple[str, ...] = ("localhost",),
    eku: tuple[ObjectIdentifier, ...] | None = (ExtendedKeyUsageOID.SERVER_AUTH,),
    permitted: tuple[str, ...] = (),
    unknown_critical: bool = False,
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | None = None,
) -> Issued:
    key = key or ec.generate_private_key(ec.SECP256R1())
    signer = issuer.key if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(issuer.cert.subject if issuer else _name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or NOW - DAY)
        .not_valid_after(not_after or NOW + 30 * DAY)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), False
        )
    if basic_constraints:
        builder = builder.add_extension(x509.BasicConstraints(ca, pathlen), critical=True)
    if ca:
        usage = key_usage(key_cert_sign=True, crl_sign=True)
        builder = builder.add_extension(usage, critical=True)
        if permitted:
            builder = builder.add_extension(
                x509.NameConstraints([x509.DNSName(p) for p in permitted], None), critical=True
            )
    else:
        names = general_names(san)
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        if eku is not None:
            builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
    if unknown_critical:
        builder = builder.add_extension(
            x509.UnrecognizedExtension(ObjectIdentifier("1.3.6.1.4.1.55555.1"), b"\x05\x00"),
            critical=True,
        )
    return Issued(builder.sign(signer, hashes.SHA256()), key)


def write_served(directory: str, label: str, chain: list[Issued]) -> tuple[str, str]:
    """(chain PEM path, key PEM path) for TLSServer: leaf first."""
    chain_path = os.path.join(directory, f"{label}.chain.pem")
    key_path = os.path.join(directory, f"{label}.key.pem")
    with open(chain_path, "wb") as out:
        for item in chain:
            out.write(item.cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as out:
        out.write(key_pem(chain[0].key))
    return chain_path, key_path


def write_pem(directory: str, label: str, item: Issued) -> str:
    path = os.path.join(directory, f"{label}.pem")
    with open(path, "wb") as out:
        out.write(item.cert.public_bytes(serialization.Encoding.PEM))
    return path


def scenarios(directory: str) -> tuple[str, dict[str, tuple[str, str]]]:
    """(root PEM path, {cause: (chain path, key path)}) for the causes the tests check."""
    root = issue("Signals Root", None, ca=True)
    inter = issue("Signals Intermediate", root, ca=True, pathlen=0)
    inter_open = issue("Signals Intermediate Open", root, ca=True)
    served: dict[str, list[Issued]] = {
        "ok": [issue("localhost", inter), inter],
        "expired": [
            issue("localhost", inter, not_before=NOW - 60 * DAY, not_after=NOW - 30 * DAY),
            inter,
        ],
        "not_yet_valid": [
            issue("localhost", inter, not_before=NOW + 30 * DAY, not_after=NOW + 60 * DAY),
            inter,
        ],
        "hostname_mismatch": [issue("elsewhere.invalid", inter, san=("elsewhere.invalid",)), inter],
        "wrong_usage": [issue("localhost", inter, eku=(ExtendedKeyUsageOID.CLIENT_AUTH,)), inter],
        "critical_extension": [issue("localhost", inter, unknown_critical=True), inter],
        "incomplete_chain": [issue("localhost", inter)],
        "self_signed": [issue("localhost", None)],
    }
    # pathlen 0 on the intermediate, yet it issues another CA.
    sub = issue("Signals Sub CA", inter, ca=True)
    served["path_length"] = [issue("localhost", sub), sub, inter]
    # An "intermediate" that is not a CA (basicConstraints CA=false) issues the leaf.
    not_ca = issue("Signals Not A CA", inter_open, ca=False, san=("notaca.invalid",), eku=None)
    served["not_a_ca"] = [issue("localhost", not_ca), not_ca, inter_open]
    # Name constraints permit only example.invalid; the leaf is for localhost.
    constrained = issue("Signals Constrained", root, ca=True, permitted=("example.invalid",))
    served["name_constraints"] = [issue("localhost", constrained), constrained]
    # RSA-1024 leaf: under OpenSSL's security level 2.
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    served["weak_key"] = [issue("localhost", inter, key=weak), inter]
    # An intermediate signed with SHA-1: refused at OpenSSL's security level 2 and by GnuTLS.
    # (cryptography refuses SHA-1, so the lab's openssl-based signer makes it.)
    os.makedirs(directory, exist_ok=True)
    sha1_key = ec.generate_private_key(ec.SECP256R1())
    sha1_cert = _sign_sha1_intermediate(
        directory,
        cn="Signals SHA-1 Intermediate",
        key=sha1_key,
        issuer_cert=root.cert,
        issuer_key=root.key,
        aia="http://aia.invalid/unused.der",
    )
    sha1 = Issued(sha1_cert, sha1_key)
    served["weak_signature"] = [issue("localhost", sha1), sha1]
    paths = {label: write_served(directory, label, chain) for label, chain in served.items()}
    return write_pem(directory, "root", root), paths


def header_matches(path: str, pattern: str, package: str) -> list[tuple[str, str]]:
    """Every (name, number) ``pattern`` finds in the C header at ``path``; without the
    header (its ``package`` is not installed) the test skips, and fails under CI."""
    if not os.path.exists(path):
        missing(f"{package} not installed")
    with open(path) as handle:
        return re.findall(pattern, handle.read())


def serve_scenarios(
    directory: str, only: Collection[str] | None = None
) -> Iterator[tuple[str, dict[str, TLSServer]]]:
    """The body of a module-scoped ``served`` fixture: (root PEM path, {cause: running
    TLSServer}) for the causes in ``only`` (all when None); the servers stop afterwards."""
    root, paths = scenarios(directory)
    servers = {
        label: TLSServer(*pair).start()
        for label, pair in paths.items()
        if only is None or label in only
    }
    try:
        yield root, servers
    finally:
        for server in servers.values():
            server.stop()


def refused_port() -> int:
    """A loopback port nothing listens on (bound once, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def plain_http_peer() -> Iterator[int]:
    """The port of a loopback peer that answers the first bytes it reads with HTTP text."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def answer() -> None:
        conn, _ = listener.accept()
        conn.recv(4096)
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        conn.close()

    threading.Thread(target=answer, daemon=True).start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


@contextmanager
def tls_1_1_server(root: str) -> Iterator[TLSServer]:
    """The good chain written beside ``root`` by scenarios(), served on TLS 1.1 only."""
    old = ServerOptions(min_version=ssl.TLSVersion.TLSv1_1, max_version=ssl.TLSVersion.TLSv1_1)
    directory = os.path.dirname(root)
    chain_file = os.path.join(directory, "ok.chain.pem")
    key_file = os.path.join(directory, "ok.key.pem")
    with TLSServer(chain_file, key_file, options=old) as server:
        yield server
