"""A small threaded HTTPS server for the lab and the tests.

It serves exactly the chain it is given (leaf first), answers every request with a short
200 response and closes. It binds loopback by default and never follows anything.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from dataclasses import dataclass
from typing import Self

RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n"
    b"Connection: close\r\n\r\nok\n"
)


@dataclass(frozen=True)
class ServerOptions:
    min_version: ssl.TLSVersion | None = None
    max_version: ssl.TLSVersion | None = None
    require_client_cert: bool = False
    handshake_timeout: float = 10.0


class ThreadedListener:
    """A listening socket on host:port (0 = any) whose accept loop runs on its own thread
    and hands every connection to :meth:`_handle` on a thread of its own.

    Use as a context manager, or call start()/stop(); ``port`` is known once constructed.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self._sock.listen(128)
        self.port: int = self._sock.getsockname()[1]
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        name = f"{type(self).__name__}-{self.port}"
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
        with contextlib.suppress(OSError):
            self._sock.close()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self._accepted(conn)
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _accepted(self, conn: socket.socket) -> None:
        """Called on the accept thread before ``conn`` gets its own (a hook; does nothing)."""

    def _handle(self, conn: socket.socket) -> None:
        raise NotImplementedError


class TLSServer(ThreadedListener):
    """Serve ``chain_file`` (PEM, leaf first) with ``key_file`` on host:port (0 = any).

    Use as a context manager, or call start()/stop(). ``port`` is known after start().
    """

    def __init__(
        self,
        chain_file: str,
        key_file: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        options: ServerOptions | None = None,
    ) -> None:
        self.options = options or ServerOptions()
        self._context = self._make_context(chain_file, key_file)
        super().__init__(host, port)

    def _make_context(self, chain_file: str, key_file: str) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        # The lab serves deliberately weak certificates (RSA-1024, SHA-1); the server side
        # must load them, so it runs at security level 0. Clients keep their own policy.
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        ctx.load_cert_chain(chain_file, key_file)
        if self.options.min_version is not None:
            ctx.minimum_version = self.options.min_version
        if self.options.max_version is not None:
            ctx.maximum_version = self.options.max_version
        if self.options.require_client_cert:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(cadata=_any_ca_pem())
        return ctx

    def url(self, name: str | None = None) -> str:
        host = name or self.host
        if ":" in host:
            host = f"[{host}]"
        return f"https://{host}:{self.port}/"

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(self.options.handshake_timeout)
        try:
            tls = self._context.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
        except (OSError, ValueError):
            conn.close()
            return
        try:
            tls.do_handshake()
            _read_request(tls)
            tls.sendall(RESPONSE)
        except (OSError, ssl.SSLError, ValueError):
            # Clients that reject the certificate abort the handshake: expected. Close as
            # nginx does, so an alert we sent is not destroyed by a reset: stop sending,
            # drain what the client still sends (briefly), then close.
            _linger(tls)
        finally:
            tls.close()


def _linger(conn: socket.socket, seconds: float = 1.0, limit: int = 65536) -> None:
    with contextlib.suppress(OSError):
        conn.shutdown(socket.SHUT_WR)
        conn.settimeout(seconds)
        received = 0
        while received < limit:
            chunk = conn.recv(4096)
            if not chunk:
                break
            received += len(chunk)


def _read_request(tls: ssl.SSLSocket, limit: int = 65536) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data and len(data) < limit:
        chunk = tls.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def _any_ca_pem() -> str:
    """A throwaway CA so 'require a client certificate' can be configured: no client
    has a certificate from it, which is the point."""
    from tlsmatrix.lab.certbuilder import issue_ca

    return issue_ca("tlsmatrix client-auth CA").pem.decode()
