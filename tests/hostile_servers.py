"""Servers that misbehave on purpose, for the reliability tests.

Each listens on 127.0.0.1 port 0, is a context manager (``with X(...) as s: s.port``),
serves every connection in its own daemon thread, and is bounded: every socket has a
timeout and ``stop()`` closes the listener and every connection it accepted.
"""

from __future__ import annotations

import contextlib
import os
import random
import socket
import ssl
import struct
import threading
import time

from cryptography import x509
from tlsmatrix.lab.certbuilder import issue_ca, issue_leaf
from tlsmatrix.lab.tlsserver import (
    RESPONSE,
    ServerOptions,
    ThreadedListener,
    TLSServer,
    _read_request,
)

# No connection lives longer than this, whatever the client does.
CONNECTION_LIMIT_S = 30.0


class HostileServer(ThreadedListener):
    """A TCP listener that hands each connection to ``handle`` (override it)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        super().__init__(host, 0)
        self.connections = 0  # accepted so far
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    def url(self, host: str | None = None) -> str:
        return f"https://{host or self.host}:{self.port}/"

    def stop(self) -> None:
        super().stop()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.close()

    def _accepted(self, conn: socket.socket) -> None:
        with self._lock:
            self.connections += 1
            self._conns.append(conn)
        conn.settimeout(CONNECTION_LIMIT_S)

    def _handle(self, conn: socket.socket) -> None:
        try:
            self.handle(conn)
        except (OSError, ssl.SSLError, ValueError):
            pass  # the client gave up or we were stopped: both expected
        finally:
            with contextlib.suppress(OSError):
                conn.close()

    def handle(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def wait_stopped(self, seconds: float) -> None:
        """Sleep up to ``seconds``, returning early when the server is stopped."""
        self._stopped.wait(seconds)


class Silent(HostileServer):
    """Accepts TCP and never says a word."""

    def handle(self, conn: socket.socket) -> None:
        self.wait_stopped(CONNECTION_LIMIT_S)


class CloseAfterHello(HostileServer):
    """Reads the ClientHello, then closes the connection without a word."""

    def handle(self, conn: socket.socket) -> None:
        conn.recv(65536)


class RandomBytes(HostileServer):
    """Answers the ClientHello with 64 KiB of (seeded) random bytes, then closes.

    The first byte is forced outside the TLS record types (20-24) so the answer is
    unambiguously not TLS, whatever the seed."""

    def __init__(self, seed: int = 8) -> None:
        super().__init__()
        data = bytearray(random.Random(seed).randbytes(65536))
        data[0] = 0xA7
        self.data = bytes(data)

    def handle(self, conn: socket.socket) -> None:
        conn.recv(65536)
        conn.sendall(self.data)


class PlainHTTP(HostileServer):
    """A plain HTTP server on the port: it answers whatever arrives with a 400."""

    def handle(self, conn: socket.socket) -> None:
        conn.recv(65536)
        conn.sendall(
            b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n"
            b"Connection: close\r\n\r\nbad request\n"
        )
        conn.shutdown(socket.SHUT_WR)
        self.wait_stopped(1.0)


class Trickle(HostileServer):
    """A TCP proxy in front of a real TLS server: client->server bytes pass at once,
    server->client bytes one per ``interval`` seconds. The handshake is valid, just slow."""

    def __init__(self, upstream_port: int, interval: float = 1.0) -> None:
        super().__init__()
        self.upstream_port = upstream_port
        self.interval = interval
        self.sent = 0  # bytes passed to clients so far

    def handle(self, conn: socket.socket) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
        with self._lock:
            self._conns.append(upstream)
        upstream.settimeout(CONNECTION_LIMIT_S)
        threading.Thread(target=self._forward, args=(conn, upstream), daemon=True).start()
        pending = b""
        deadline = time.monotonic() + CONNECTION_LIMIT_S
        while not self._stopped.is_set() and time.monotonic() < deadline:
            if not pending:
                pending = upstream.recv(65536)
                if not pending:
                    return
            conn.sendall(pending[:1])
            pending = pending[1:]
            self.sent += 1
            self.wait_stopped(self.interval)

    def _forward(self, conn: socket.socket, upstream: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while chunk := conn.recv(65536):
                upstream.sendall(chunk)


class _CustomTLSServer(TLSServer):
    """A TLSServer whose per-connection behaviour after the handshake is ``respond``."""

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(self.options.handshake_timeout)
        try:
            tls = self._context.wrap_socket(conn, server_side=True)
            with tls:
                self.respond(tls)
        except (OSError, ssl.SSLError, ValueError):
            pass
        finally:
            with contextlib.suppress(OSError):
                conn.close()

    def respond(self, tls: ssl.SSLSocket) -> None:
        raise NotImplementedError


class Redirect(_CustomTLSServer):
    """A valid HTTPS server that answers 301 to ``location``."""

    def __init__(self, chain: str, key: str, location: str) -> None:
        super().__init__(chain, key)
        self.location = location

    def respond(self, tls: ssl.SSLSocket) -> None:
        _read_request(tls)
        tls.sendall(
            b"HTTP/1.1 301 Moved Permanently\r\nLocation: "
            + self.location.encode()
            + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        with contextlib.suppress(OSError, ssl.SSLError):
            tls.unwrap()


class ResetMidResponse(_CustomTLSServer):
    """A valid handshake, then half the response headers, then a TCP reset (SO_LINGER 0)."""

    def respond(self, tls: ssl.SSLSocket) -> None:
        _read_request(tls)
        tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: te")
        time.sleep(0.05)  # let the half response leave before the reset
        # wrap_socket moved the descriptor into ``tls``; closing it without unwrap()
        # sends no close_notify, and linger 0 turns the close into a RST.
        tls.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        tls.close()


class ClientCertRequired(_CustomTLSServer):
    """Requires a client certificate (no client has one). When the handshake fails it
    closes the way nginx does (lingering close: stop sending, drain what the client still
    sends), so the alert reaches the client instead of being destroyed by a TCP reset."""

    def __init__(self, chain: str, key: str) -> None:
        super().__init__(chain, key, options=ServerOptions(require_client_cert=True))

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(self.options.handshake_timeout)
        tls = self._context.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
        try:
            tls.do_handshake()
            _read_request(tls)
            tls.sendall(RESPONSE)  # never reached: no client sends a certificate
        except (OSError, ssl.SSLError, ValueError):
            with contextlib.suppress(OSError):
                raw = socket.socket(fileno=tls.detach())
                raw.settimeout(1.0)
                raw.shutdown(socket.SHUT_WR)
                deadline = time.monotonic() + 2.0
                while time.monotonic() < deadline and raw.recv(65536):
                    pass
                raw.close()
        finally:
            with contextlib.suppress(OSError):
                tls.close()


class ConnectionCounter(HostileServer):
    """Counts connections (the other end of a redirect) and closes each at once."""

    def handle(self, conn: socket.socket) -> None:
        return


# --- certificates for the oversized cases --------------------------------------------


def long_chain(directory: str, length: int = 150) -> tuple[str, str, str]:
    """A chain of ``length`` certificates (leaf + length-1 CAs, each issuing the next)
    for "localhost"; returns (chain PEM path, key PEM path, root PEM path). The last CA
    is self-signed, so trusting the root file makes the chain complete; it is simply
    deeper than any client allows."""
    cas = [issue_ca("Long Chain CA 0")]
    for depth in range(1, length - 1):
        cas.append(issue_ca(f"Long Chain CA {depth}", cas[-1]))
    leaf = issue_leaf(cas[-1], ("localhost", "127.0.0.1"))
    chain = [leaf, *reversed(cas)]
    assert len(chain) == length
    return (
        _write(os.path.join(directory, "long.chain.pem"), b"".join(c.pem for c in chain)),
        _write(os.path.join(directory, "long.key.pem"), leaf.key_pem),
        _write(os.path.join(directory, "long.root.pem"), cas[0].pem),
    )


def huge_certificate(directory: str, size: int = 1_000_000) -> tuple[str, str, str]:
    """A self-issued root and a "localhost" leaf carrying a ``size``-byte private
    extension; returns (chain PEM path, key PEM path, root PEM path)."""
    root = issue_ca("Huge Cert Root")
    blob = x509.UnrecognizedExtension(
        x509.ObjectIdentifier("1.3.6.1.4.1.55555.1"), b"\x04\x83" + size.to_bytes(3) + bytes(size)
    )
    leaf = issue_leaf(root, ("localhost", "127.0.0.1"), extensions=[blob])
    return (
        _write(os.path.join(directory, "huge.chain.pem"), leaf.pem + root.pem),
        _write(os.path.join(directory, "huge.key.pem"), leaf.key_pem),
        _write(os.path.join(directory, "huge.root.pem"), root.pem),
    )


def _write(path: str, data: bytes) -> str:
    with open(path, "wb") as handle:
        handle.write(data)
    return path
