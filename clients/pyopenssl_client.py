"""``pyOpenSSL``: the OpenSSL inside the cryptography wheel. It checks no host name by
itself and says only "certificate verify failed", so the verify callback collects the
OpenSSL codes and service-identity checks the name."""

from __future__ import annotations

import os
import select
import socket
import time

from tlsmatrix.clients._common import (
    Outcome,
    after_handshake,
    classify_exception,
    reason_for_openssl_code,
    reason_for_text,
    tls_version_name,
)
from tlsmatrix.clients._inprocess import InProcessAdapter
from tlsmatrix.clients._trust import first_existing, shared_context, trust_from_env
from tlsmatrix.clients.base import ClientInfo, Reason, Target, Trust, TrustUsed

ENV_VARS = ("SSL_CERT_FILE", "SSL_CERT_DIR")
# Where pyOpenSSL looks when the wheel's own OpenSSL directory has no certificates.
_FALLBACK_FILES = (
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
)


class PyOpenSSLClient(InProcessAdapter):
    name = "pyopenssl"
    env_vars = ENV_VARS
    notes = ("no host name check of its own: tlsmatrix checks it with service-identity",)

    def version(self) -> str:
        import cryptography
        import OpenSSL

        return f"pyOpenSSL {OpenSSL.__version__} (cryptography {cryptography.__version__})"

    def describe(self) -> ClientInfo:
        from OpenSSL import SSL

        library = SSL.SSLeay_version(SSL.SSLEAY_VERSION).decode()
        return ClientInfo(
            name=self.name,
            available=True,
            version=self.version(),
            tls_library=library.split()[0],
            tls_library_version=library,
            native_trust=self.native_trust(),
            env_vars=self.env_vars,
            fetches_aia=False,
            notes=self.notes,
        )

    def native_trust(self) -> TrustUsed:
        default = TrustUsed(
            "native",
            "set_default_verify_paths (system CA file fallback)",
            first_existing(_FALLBACK_FILES),
        )
        return trust_from_env(os.environ, ENV_VARS, default)

    def outcome(self, target: Target, trust: Trust, timeout: float) -> Outcome:
        deadline = time.monotonic() + timeout
        errors: list[tuple[int, int]] = []  # (OpenSSL code, depth), in the order found
        accepted: list[str | None] = []  # the TLS version, once the certificate passed
        try:
            from OpenSSL import SSL

            def remember(_conn: object, _cert: object, errnum: int, depth: int, ok: int) -> bool:
                if not ok:
                    errors.append((errnum, depth))
                return bool(ok)

            ctx = shared_context("pyopenssl", trust.path, lambda: _context(trust.path))
            sock = socket.create_connection((target.address, target.port), timeout=timeout)
            conn = SSL.Connection(ctx, sock)
            conn.set_verify(SSL.VERIFY_PEER, remember)  # per connection: the context is shared
            try:
                if not target.is_ip:
                    conn.set_tlsext_host_name(target.ascii_host.encode())
                conn.set_connect_state()
                _until_done(conn.do_handshake, sock, deadline)
                _check_name(conn, target)
                accepted.append(conn.get_protocol_version_name())
                request = f"GET {target.path} HTTP/1.1\r\nHost: {target.ascii_host}\r\n"
                _until_done(
                    lambda: conn.sendall((request + "Connection: close\r\n\r\n").encode()),
                    sock,
                    deadline,
                )
                head = _until_done(lambda: conn.recv(1024), sock, deadline)
                version = conn.get_protocol_version_name()
            finally:
                sock.close()
        except Exception as exc:
            if accepted:
                return late_failure(exc, accepted[0])
            return failure(exc, errors)
        status = head.split(b" ", 2)[1].decode(errors="replace") if head.count(b" ") >= 1 else "?"
        return Outcome(Reason.OK, f"HTTP {status}", tls_version=tls_version_name(version))


# --- the signal mapper: what went wrong, from the verify callback's codes and the error


def late_failure(exc: Exception, version: str | None) -> Outcome:
    """A failure after the handshake and the name check passed (see after_handshake)."""
    c = classify_exception(exc)
    if isinstance(exc, _Deadline):
        c = Outcome(Reason.TIMEOUT, str(exc))
    elif c.reason is Reason.CLIENT_ERROR:  # pyOpenSSL's Error carries only a list
        c = Outcome(Reason.CLIENT_ERROR, _openssl_error_text(exc) or c.detail)
    c = after_handshake(c)
    return Outcome(c.reason, c.detail, tls_version=tls_version_name(version))


def failure(exc: Exception, errors: list[tuple[int, int]]) -> Outcome:
    """A failure before the certificate was accepted: the first verify error the callback
    saw wins, then a name mismatch, the deadline, and the exception itself."""
    if isinstance(exc, _NameMismatch):
        return Outcome(Reason.HOSTNAME_MISMATCH, str(exc), 62)
    if errors:
        code, depth = errors[0]
        text = _verify_message(code)
        return Outcome(reason_for_openssl_code(code), f"{text} (depth {depth})", code)
    if isinstance(exc, _Deadline):
        return Outcome(Reason.TIMEOUT, str(exc))
    c = classify_exception(exc)
    reason = c.reason
    if reason is Reason.CLIENT_ERROR:
        reason = reason_for_text(c.detail) or _openssl_error_reason(exc) or reason
    return Outcome(reason, c.detail)


def _context(cafile: str | None) -> object:
    from OpenSSL import SSL

    ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
    ctx.set_verify(SSL.VERIFY_PEER)
    if cafile:
        ctx.load_verify_locations(cafile)
    else:
        ctx.set_default_verify_paths()
    return ctx


class _NameMismatch(Exception):
    pass


class _Deadline(TimeoutError):
    pass


def _until_done(step, sock: socket.socket, deadline: float):  # type: ignore[no-untyped-def]
    """Run a pyOpenSSL step on a socket with a timeout (non-blocking underneath), waiting
    with select() on WantRead/WantWrite until the step completes or the deadline passes."""
    from OpenSSL import SSL

    while True:
        try:
            return step()
        except SSL.WantReadError:
            want_read = True
        except SSL.WantWriteError:
            want_read = False
        except SSL.ZeroReturnError:
            return b""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _Deadline("handshake did not complete before the deadline")
        r, w, _ = select.select(
            [sock] if want_read else [], [] if want_read else [sock], [], remaining
        )
        if not r and not w:
            raise _Deadline("timed out waiting for the server")


def _check_name(conn: object, target: Target) -> None:
    from service_identity import VerificationError
    from service_identity.pyopenssl import verify_hostname, verify_ip_address

    try:
        if target.is_ip:
            verify_ip_address(conn, target.ascii_host)
        else:
            verify_hostname(conn, target.ascii_host.rstrip("."))
    except VerificationError as exc:
        raise _NameMismatch(f"Hostname mismatch: {exc}") from exc
    except Exception as exc:  # e.g. a certificate without SANs
        raise _NameMismatch(f"Hostname mismatch: {exc}") from exc


def _verify_message(code: int) -> str:
    try:
        from OpenSSL._util import ffi, lib

        return ffi.string(lib.X509_verify_cert_error_string(code)).decode()
    except Exception:
        return f"verify error {code}"


def _openssl_error_text(exc: Exception) -> str:
    return repr(getattr(exc, "args", exc)).lower().replace("_", " ")


def _openssl_error_reason(exc: Exception) -> Reason | None:
    return reason_for_text(_openssl_error_text(exc))
