"""Fetch the certificates a server presents, exactly as sent, without verifying anything.

pyOpenSSL is used because it hands back the peer's list as sent (``SSL_get_peer_cert_chain``),
where the stdlib only exposes the leaf (or the chain it built itself). The capture context
runs at OpenSSL security level 0 so weak keys and SHA-1 signatures still come through: the
analysis, not the handshake, judges them.
"""

from __future__ import annotations

import contextlib
import ipaddress
import select
import socket
import threading
import time
from dataclasses import dataclass

from tlsmatrix.clients.base import Target

MAX_CERTIFICATES = 256
MAX_TOTAL_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class CapturedChain:
    """What one server presented. ``certificates`` are DER, in the order sent (leaf first).

    ``error`` says why the capture failed or stopped early (connection refused, timeout,
    not TLS ...); certificates received before a failure are still kept. ``truncated``
    is True when the server sent more than the caps (:data:`MAX_CERTIFICATES`,
    :data:`MAX_TOTAL_BYTES`) and the rest was dropped."""

    target: str
    certificates: tuple[bytes, ...] = ()
    tls_version: str | None = None
    error: str | None = None
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.certificates)


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + max(0.0, seconds)

    def remaining(self) -> float:
        return self.end - time.monotonic()


class _CaptureError(Exception):
    """Internal: a failure already phrased for CapturedChain.error."""


def capture_chain(target: Target, timeout: float) -> CapturedChain:
    """Connect to ``target.address``:``target.port``, send SNI ``target.ascii_host`` (none
    for IP literals), complete a handshake without verification and return the
    certificates the server sent.

    Never raises for anything the network or the server does; returns within about
    ``timeout`` seconds (one deadline covers name resolution, connect and handshake)."""
    deadline = _Deadline(timeout)
    name = target.name
    try:
        sock = _connect(target, deadline, timeout)
    except _CaptureError as exc:
        return CapturedChain(target=name, error=str(exc))
    try:
        return _handshake(sock, target, deadline, timeout)
    except _CaptureError as exc:
        return CapturedChain(target=name, error=str(exc))
    except Exception as exc:  # noqa: BLE001 - the capture never raises, it records
        return CapturedChain(target=name, error=f"capture failed: {_one_line(exc)}")
    finally:
        with contextlib.suppress(OSError):
            sock.close()


def _resolve(host: str, port: int, deadline: _Deadline, timeout: float) -> list[tuple]:
    """getaddrinfo has no timeout of its own: run it in a daemon thread and stop waiting
    at the deadline (the thread finishes on its own; it holds nothing)."""
    if _is_ip_literal(host):  # numeric: no lookup, no thread needed
        try:
            return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise _CaptureError(f"connection failed: {host}: {_one_line(exc)}") from None
    result: list[object] = []

    def work() -> None:
        try:
            result.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except OSError as exc:
            result.append(exc)

    thread = threading.Thread(target=work, name=f"resolve-{host}", daemon=True)
    thread.start()
    thread.join(max(0.0, deadline.remaining()))
    if not result:
        raise _CaptureError(f"timeout: resolving {host} took longer than {timeout:g}s")
    outcome = result[0]
    if isinstance(outcome, OSError):
        raise _CaptureError(f"dns failure: cannot resolve {host}: {_one_line(outcome)}")
    return outcome  # type: ignore[return-value]


def _connect(target: Target, deadline: _Deadline, timeout: float) -> socket.socket:
    host = target.address.strip("[]")
    addresses = _resolve(host, target.port, deadline, timeout)
    last: str = f"connection failed: no address for {host}"
    too_slow = f"timeout: no connection to {host}:{target.port} within {timeout:g}s"
    for family, kind, proto, _, sockaddr in addresses:
        remaining = deadline.remaining()
        if remaining <= 0:
            raise _CaptureError(
                f"timeout: no connection to {host}:{target.port} within {timeout:g}s"
            )
        sock = socket.socket(family, kind, proto)
        sock.settimeout(remaining)
        try:
            sock.connect(sockaddr)
        except TimeoutError:
            sock.close()
            raise _CaptureError(too_slow) from None
        except ConnectionRefusedError as exc:
            sock.close()
            last = f"connection refused: {host}:{target.port}: {_one_line(exc)}"
            continue
        except OSError as exc:
            sock.close()
            last = f"connection failed: {host}:{target.port}: {_one_line(exc)}"
            continue
        return sock
    raise _CaptureError(last)


def _handshake(
    sock: socket.socket, target: Target, deadline: _Deadline, timeout: float
) -> CapturedChain:
    from OpenSSL import SSL

    ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
    ctx.set_verify(SSL.VERIFY_NONE)
    # Level 0: let weak keys and signatures through so they can be reported.
    ctx.set_cipher_list(b"DEFAULT:@SECLEVEL=0")
    conn = SSL.Connection(ctx, sock)
    if not target.is_ip:
        conn.set_tlsext_host_name(target.ascii_host.rstrip(".").encode("ascii", "replace"))
    conn.set_connect_state()
    sock.setblocking(False)

    error: str | None = None
    while True:
        remaining = deadline.remaining()
        if remaining <= 0:
            error = f"timeout: no TLS handshake within {timeout:g}s"
            break
        try:
            conn.do_handshake()
            break
        except SSL.WantReadError:
            select.select([sock], [], [], remaining)
        except SSL.WantWriteError:
            select.select([], [sock], [], remaining)
        except SSL.SysCallError as exc:
            error = _syscall_error(exc)
            break
        except SSL.ZeroReturnError:
            error = "not tls: the server closed the connection during the handshake"
            break
        except SSL.Error as exc:
            error = _tls_error(exc)
            break

    certificates, truncated = _peer_chain(conn)
    version = None
    if error is None:
        with contextlib.suppress(Exception):
            version = conn.get_protocol_version_name()
        with contextlib.suppress(Exception):
            conn.shutdown()  # best effort, non-blocking close_notify
    if error is None and not certificates:
        error = "tls error: the server sent no certificate"
    return CapturedChain(
        target=target.name,
        certificates=certificates,
        tls_version=version if version and version != "Unknown" else None,
        error=error,
        truncated=truncated,
    )


def _peer_chain(conn: object) -> tuple[tuple[bytes, ...], bool]:
    """The peer's certificates as DER, capped in number and total size.

    OpenSSL's own encoder is used rather than cryptography's: OpenSSL accepted these
    certificates in the handshake, cryptography's stricter parser might not."""
    from OpenSSL import crypto

    try:
        chain = conn.get_peer_cert_chain()  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - nothing received is a valid outcome here
        return (), False
    if not chain:
        return (), False
    kept: list[bytes] = []
    total = 0
    for cert in chain:
        if len(kept) >= MAX_CERTIFICATES:
            return tuple(kept), True
        try:
            der = crypto.dump_certificate(crypto.FILETYPE_ASN1, cert)
        except Exception:  # noqa: BLE001 - keep what could be encoded
            continue
        if total + len(der) > MAX_TOTAL_BYTES:
            return tuple(kept), True
        kept.append(der)
        total += len(der)
    return tuple(kept), False


def _syscall_error(exc: Exception) -> str:
    args = getattr(exc, "args", ())
    if args and args[0] == -1:
        return "not tls: the server closed the connection during the handshake"
    if len(args) >= 2 and isinstance(args[1], str):
        return f"connection error: {args[1]}"
    return f"connection error: {_one_line(exc)}"


# OpenSSL's reason strings (its fixed table, the third field of each error-queue entry)
# when the peer's bytes are not a TLS record: what `run` calls not_tls.
_NOT_TLS_REASONS = frozenset(
    {"wrong version number", "packet length too long", "record layer failure", "http request"}
)


def _tls_error(exc: Exception) -> str:
    reasons = [
        str(entry[2]).lower()
        for entry in (exc.args[0] if exc.args and isinstance(exc.args[0], list) else ())
        if isinstance(entry, tuple) and len(entry) == 3
    ]
    if any(r in _NOT_TLS_REASONS for r in reasons):
        return f"not_tls: the server does not answer in TLS (OpenSSL: {'; '.join(reasons)})"
    return f"tls error: {_ssl_error(exc)}"


def _ssl_error(exc: Exception) -> str:
    """OpenSSL's error queue as one line: 'reason (lib)' for each entry."""
    parts = []
    for entry in exc.args[0] if exc.args and isinstance(exc.args[0], list) else ():
        if isinstance(entry, tuple) and len(entry) == 3:
            parts.append(str(entry[2]))
    return "; ".join(parts) or _one_line(exc)


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _one_line(exc: BaseException) -> str:
    return (" ".join(str(exc).split()) or type(exc).__name__)[:300]


__all__ = [
    "CapturedChain",
    "MAX_CERTIFICATES",
    "MAX_TOTAL_BYTES",
    "capture_chain",
]
