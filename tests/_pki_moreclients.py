"""A small PKI for the node/java/gnutls/wget adapter tests, built with cryptography.

trustme cannot put an AIA caIssuers URL in a leaf nor make a self-signed leaf, so these
tests build their certificates directly: ECDSA P-256 keys (fast to generate), a root, an
intermediate and leaves for ``localhost`` and ``127.0.0.1``. Everything is written to a
directory as PEM so real clients (subprocesses) can read it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.server
import ipaddress
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

NOW = dt.datetime.now(dt.UTC)
DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Issued:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tlsmatrix tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def make_ca(cn: str, parent: Issued | None = None) -> Issued:
    """A CA certificate: self-signed root when ``parent`` is None, else an intermediate."""
    key = ec.generate_private_key(ec.SECP256R1())
    issuer_name = parent.cert.subject if parent else _name(cn)
    signing_key = parent.key if parent else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - DAY)
        .not_valid_after(NOW + 3650 * DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    )
    if parent:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(parent.key.public_key()), False
        )
    return Issued(builder.sign(signing_key, hashes.SHA256()), key)


def make_leaf(
    issuer: Issued | None,
    names: tuple[str, ...] = ("localhost", "127.0.0.1"),
    *,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    aia_url: str | None = None,
) -> Issued:
    """A server certificate for ``names`` signed by ``issuer`` (self-signed when None)."""
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = []
    for n in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            sans.append(x509.DNSName(n))
    subject = _name(names[0])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or NOW - DAY)
        .not_valid_after(not_after or NOW + 90 * DAY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.SERVER_AUTH]), False)
    )
    if issuer:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), False
        )
    if aia_url:
        builder = builder.add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.CA_ISSUERS,
                        x509.UniformResourceIdentifier(aia_url),
                    )
                ]
            ),
            critical=False,
        )
    return Issued(builder.sign(issuer.key if issuer else key, hashes.SHA256()), key)


class PKI:
    """Root -> intermediate -> leaves, written under ``directory``.

    ``chain(name)`` writes a served chain (leaf first) and returns (chain_path, key_path).
    """

    def __init__(self, directory: Path, label: str = "A") -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.root = make_ca(f"tlsmatrix test root {label}")
        self.intermediate = make_ca(f"tlsmatrix test intermediate {label}", self.root)
        self.root_pem = self.write(f"root-{label}.pem", self.root.pem)

    def write(self, name: str, data: bytes) -> str:
        path = self.dir / name
        path.write_bytes(data)
        return str(path)

    def serve_files(self, name: str, leaf: Issued, *extra: Issued) -> tuple[str, str]:
        chain = self.write(f"{name}.chain.pem", b"".join(c.pem for c in (leaf, *extra)))
        key = self.write(f"{name}.key.pem", leaf.key_pem)
        return chain, key

    def good(self) -> tuple[str, str]:
        return self.serve_files("good", make_leaf(self.intermediate), self.intermediate)

    def leaf_only(self, aia_url: str | None = None) -> tuple[str, str]:
        return self.serve_files("leafonly", make_leaf(self.intermediate, aia_url=aia_url))

    def expired(self) -> tuple[str, str]:
        leaf = make_leaf(self.intermediate, not_before=NOW - 30 * DAY, not_after=NOW - 2 * DAY)
        return self.serve_files("expired", leaf, self.intermediate)

    def not_yet_valid(self) -> tuple[str, str]:
        leaf = make_leaf(self.intermediate, not_before=NOW + 2 * DAY, not_after=NOW + 30 * DAY)
        return self.serve_files("notyet", leaf, self.intermediate)

    def wrong_host(self) -> tuple[str, str]:
        leaf = make_leaf(self.intermediate, ("wrong.example",))
        return self.serve_files("wronghost", leaf, self.intermediate)

    def self_signed(self) -> tuple[str, str]:
        return self.serve_files("selfsigned", make_leaf(None))

    def full_with_root(self) -> tuple[str, str]:
        """Leaf + intermediate + root: an 'untrusted root' chain to anyone not trusting it."""
        leaf = make_leaf(self.intermediate)
        return self.serve_files("withroot", leaf, self.intermediate, self.root)


@contextlib.contextmanager
def closed_port() -> Iterator[int]:
    """A loopback port with nothing listening (bound, never listened: connect is refused)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    try:
        yield s.getsockname()[1]
    finally:
        s.close()


@contextlib.contextmanager
def silent_server() -> Iterator[int]:
    """A port that accepts TCP connections and never says a word (handshake stalls)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    try:
        yield s.getsockname()[1]
    finally:
        s.close()


@contextlib.contextmanager
def plain_http_server() -> Iterator[int]:
    """A port that answers anything with plain HTTP (not TLS)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = s.accept()
            except OSError:
                return
            with contextlib.suppress(OSError):
                conn.settimeout(2)
                conn.recv(4096)
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            conn.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        yield s.getsockname()[1]
    finally:
        stop.set()
        s.close()


class AIAServer:
    """A loopback HTTP server serving one DER file at /int.der and logging each fetch."""

    def __init__(self, der: bytes) -> None:
        self.fetches: list[str] = []
        log = self.fetches

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                log.append(self.path)
                if self.path == "/int.der":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/pkix-cert")
                    self.send_header("Content-Length", str(len(der)))
                    self.end_headers()
                    self.wfile.write(der)
                else:
                    self.send_error(404)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/int.der"

    def __enter__(self) -> AIAServer:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# --- a module-scoped lab of running servers --------------------------------------------

SCENARIOS = ("good", "leaf_only", "expired", "not_yet_valid", "wrong_host", "self_signed")


class Lab:
    """One TLSServer per scenario (PKI A), plus ``untrusted_root``: a full chain with its
    root from PKI B. ``resolve_port`` serves the good chain on 127.0.0.2 only, so a client
    that ignores ``connect_to`` and resolves ``localhost`` (127.0.0.1) is refused."""

    def __init__(self, directory: Path) -> None:
        from tlsmatrix.lab.tlsserver import TLSServer

        self.pki = PKI(directory, "A")
        self.other = PKI(directory, "B")
        self.root_pem = self.pki.root_pem
        self.servers = {name: TLSServer(*getattr(self.pki, name)()) for name in SCENARIOS}
        self.servers["untrusted_root"] = TLSServer(*self.other.full_with_root())
        self.servers["resolve"] = TLSServer(*self.pki.good(), host="127.0.0.2")

    def port(self, scenario: str) -> int:
        return self.servers[scenario].port

    def __enter__(self) -> Lab:
        for s in self.servers.values():
            s.start()
        return self

    def __exit__(self, *exc: object) -> None:
        # Stop in parallel: each stop may wait for its accept thread.
        threads = [threading.Thread(target=s.stop) for s in self.servers.values()]
        for t in threads:
            t.start()
        for t in threads:
            t.join()


# What a client that says only "issuer unknown" (Java, GnuTLS, wget) reports, per scenario,
# when it trusts root A only: (reason, issuer_unknown).
ISSUER_UNKNOWN_FAMILY = {
    "good": ("ok", False),
    "leaf_only": ("unknown_issuer", True),
    "expired": ("expired", False),
    "not_yet_valid": ("not_yet_valid", False),
    "wrong_host": ("hostname_mismatch", False),
    "self_signed": ("unknown_issuer", True),
    "untrusted_root": ("unknown_issuer", True),
}
