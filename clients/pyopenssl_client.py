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
    explicit_trust,
    observe,
    reason_for_openssl_code,
    reason_for_text,
    shared_context,
    tls_version_name,
    trust_from_env,
)
from tlsmatrix.clients.base import ClientInfo, Observation, Reason, Target, Trust, TrustUsed

ENV_VARS = ("SSL_CERT_FILE", "SSL_CERT_DIR")
# Where pyOpenSSL looks when the wheel's own OpenSSL directory has no certificates.
_FALLBACK_FILES = (
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
)


class PyOpenSSLClient:
    name = "pyopenssl"

    def info(self) -> ClientInfo:
        try:
            import OpenSSL
            from OpenSSL import SSL
        except ImportError as exc:
            return ClientInfo(self.name, False, unavailable_reason=f"cannot import: {exc}")
        import cryptography

        library = SSL.SSLeay_version(SSL.SSLEAY_VERSION).decode()
        return ClientInfo(
            name=self.name,
            available=True,
            version=f"pyOpenSSL {OpenSSL.__version__} (cryptography {cryptography.__version__})",
            tls_library=library.split()[0],
            tls_library_version=library,
            native_trust=self.native_trust(),
            env_vars=ENV_VARS,
            fetches_aia=False,
            notes=("no host name check of its own: tlsmatrix checks it with service-identity",),
        )

    def native_trust(self) -> TrustUsed:
        fallback = next((p for p in _FALLBACK_FILES if os.path.exists(p)), None)
        default = TrustUsed(
            "native", "set_default_verify_paths (system CA file fallback)", fallback
        )
        return trust_from_env(os.environ, ENV_VARS, default)

    def probe(self, target: Target, trust: Trust, timeout: float) -> Observation:
        started = time.monotonic()
        deadline = started + timeout
        used = self.native_trust() if trust.is_native else explicit_trust(trust)
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
                return self._late_failure(target, exc, accepted[0], started, used)
            return self._failure(target, exc, errors, started, used)
        status = head.split(b" ", 2)[1].decode(errors="replace") if head.count(b" ") >= 1 else "?"
        return observe(
            target,
            self.name,
            Reason.OK,
            detail=f"HTTP {status}",
            tls_version=tls_version_name(version),
            started=started,
            trust=used,
        )

    def _late_failure(
        self, target: Target, exc: Exception, version: str | None, started: float, used: TrustUsed
    ) -> Observation:
        """A failure after the handshake and the name check passed (see after_handshake)."""
        c = classify_exception(exc)
        if isinstance(exc, _Deadline):
            c = Outcome(Reason.TIMEOUT, str(exc))
        elif c.reason is Reason.CLIENT_ERROR:  # pyOpenSSL's Error carries only a list
            c = Outcome(Reason.CLIENT_ERROR, _openssl_error_text(exc) or c.detail)
        c = after_handshake(c)
        return observe(
            target,
            self.name,
            c.reason,
            detail=c.detail,
            tls_version=tls_version_name(version),
            started=started,
            trust=used,
        )

    def _failure(
        self,
        target: Target,
        exc: Exception,
        errors: list[tuple[int, int]],
        started: float,
        used: TrustUsed,
    ) -> Observation:
        if isinstance(exc, _NameMismatch):
            return observe(
                target,
                self.name,
                Reason.HOSTNAME_MISMATCH,
                detail=str(exc),
                verify_code=62,
                started=started,
                trust=used,
            )
        if errors:
            code, depth = errors[0]
            text = _verify_message(code)
            return observe(
                target,
                self.name,
                reason_for_openssl_code(code),
                detail=f"{text} (depth {depth})",
                verify_code=code,
                started=started,
                trust=used,
            )
        if isinstance(exc, _Deadline):
            return observe(
                target, self.name, Reason.TIMEOUT, detail=str(exc), started=started, trust=used
            )
        c = classify_exception(exc)
        reason = c.reason
        if reason is Reason.CLIENT_ERROR:
            reason = reason_for_text(c.detail) or _openssl_error_reason(exc) or reason
        return observe(target, self.name, reason, detail=c.detail, started=started, trust=used)


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
