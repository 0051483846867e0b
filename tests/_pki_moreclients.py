"""A small PKI for the node/java/gnutls/wget adapter tests, made with the lab's certificate
builder (:mod:`tlsmatrix.lab.certbuilder`): ECDSA P-256 keys, a root, an intermediate and
leaves for ``localhost`` and ``127.0.0.1``, some with an AIA caIssuers URL. Everything is
written to a directory as PEM so real clients (subprocesses) can read it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.server
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tlsmatrix.clients.base import Client, Observation, Reason, Target, Trust, Verdict
from tlsmatrix.lab.certbuilder import DAY, Issued, issue_ca, issue_leaf

from tests.hostile_servers import Silent

NOW = dt.datetime.now(dt.UTC)
ORGANIZATION = "tlsmatrix tests"


def make_ca(cn: str, parent: Issued | None = None) -> Issued:
    """A CA certificate: self-signed root when ``parent`` is None, else an intermediate."""
    return issue_ca(cn, parent, organization=ORGANIZATION)


def make_leaf(
    issuer: Issued | None,
    names: tuple[str, ...] = ("localhost", "127.0.0.1"),
    *,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    aia_url: str | None = None,
) -> Issued:
    """A server certificate for ``names`` signed by ``issuer`` (self-signed when None)."""
    return issue_leaf(
        issuer,
        names,
        organization=ORGANIZATION,
        not_before=not_before,
        not_after=not_after,
        aia=aia_url,
    )


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
    with Silent() as server:
        yield server.port


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


@contextlib.contextmanager
def http_server() -> Iterator[tuple[str, dict]]:
    """A loopback HTTP server and its routes (filled in after the URLs are known): path ->
    bytes, or a callable(request body) -> (status, headers, bytes)."""
    routes: dict = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self, body: bytes) -> None:
            route = routes.get(self.path)
            if route is None:
                self.send_response(404)
                self.end_headers()
                return
            status, headers, data = route(body) if callable(route) else (200, {}, route)
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self._answer(b"")

        def do_POST(self) -> None:  # noqa: N802
            self._answer(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", routes
    finally:
        server.shutdown()
        server.server_close()


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


# --- what every subprocess client must report -----------------------------------------


def assert_ip_and_resolve(client: Client, lab: Lab, timeout: float) -> None:
    """An IP target is checked against the IP SANs, and ``connect_to`` is honoured: the
    ``resolve`` server listens on 127.0.0.2 only, so without it the connection is refused."""
    trust = Trust.bundle(lab.root_pem)
    good = client.probe(Target("127.0.0.1", lab.port("good")), trust, timeout)
    assert good.reason is Reason.OK, good.detail
    wrong = client.probe(Target("127.0.0.1", lab.port("wrong_host")), trust, timeout)
    assert wrong.reason is Reason.HOSTNAME_MISMATCH, wrong.detail
    port = lab.port("resolve")
    direct = client.probe(Target("localhost", port), trust, timeout)
    assert direct.reason is Reason.CONNECTION_REFUSED, direct.detail
    resolved = client.probe(Target("localhost", port, connect_to="127.0.0.2"), trust, timeout)
    assert resolved.reason is Reason.OK, resolved.detail


def assert_unreachable_reasons(client: Client, timeout: float) -> None:
    """No TLS server to judge: a refused port, a plain-HTTP answer (not_tls), and a silent
    server that makes the probe end at its 2-second deadline (timeout)."""
    trust = Trust.native()
    with closed_port() as port:
        refused = client.probe(Target("127.0.0.1", port), trust, timeout)
        assert refused.reason is Reason.CONNECTION_REFUSED, refused.detail
    with plain_http_server() as port:
        plain = client.probe(Target("127.0.0.1", port), trust, timeout)
        assert plain.reason is Reason.NOT_TLS, plain.detail
    with silent_server() as port:
        started = time.monotonic()
        obs = client.probe(Target("127.0.0.1", port), trust, 2)
        assert time.monotonic() - started < 3
    assert obs.reason is Reason.TIMEOUT and obs.verdict is Verdict.TIMEOUT, obs.detail


# --- what a long-lived worker (JVM, node, browser) must not change -------------------------


def probe_across_aia_withdrawal(client: Client, pki: PKI) -> tuple[Observation, Observation, int]:
    """Probe one leaf-only target twice: the lab's AIA server serves the intermediate for
    the first probe and answers 404 for the second. Returns both observations and how
    often /int.der was fetched; a client that kept the first download fetches once."""
    from tlsmatrix.lab.aia import AIAServer as LabAIAServer
    from tlsmatrix.lab.tlsserver import TLSServer

    with LabAIAServer() as aia:
        aia.publish("/int.der", pki.intermediate.der, "application/pkix-cert")
        with TLSServer(*pki.leaf_only(aia.url + "int.der")) as server:
            target, trust = Target("localhost", server.port), Trust.bundle(pki.root_pem)
            first = client.probe(target, trust, 15)
            aia.withdraw("/int.der")  # 404 from now on
            second = client.probe(target, trust, 15)
        return first, second, len(aia.fetches("/int.der"))


def kill_worker_mid_probe(
    client: Client, target: Target, trust: Trust, timeout: float
) -> tuple[Observation, Any]:
    """Start a probe of ``target`` (a server that never answers), kill the client's worker
    while the probe is in flight on it, and return the probe's observation and the worker."""
    box: list[Observation] = []
    runner = threading.Thread(target=lambda: box.append(client.probe(target, trust, timeout)))
    runner.start()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:  # until the probe is in flight on a worker
        workers = client._workers.values()  # type: ignore[attr-defined]
        if workers and workers[0]._pending:
            break
        time.sleep(0.02)
    assert workers and workers[0]._pending, "the probe never reached a worker"
    workers[0].kill()
    runner.join(timeout)
    (obs,) = box
    return obs, workers[0]
