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
    exception_detail,
    late_outcome,
    outcome_for_signal,
    tls_version_name,
)
from tlsmatrix.clients._inprocess import InProcessAdapter
from tlsmatrix.clients._trust import first_existing, shared_context, trust_from_env
from tlsmatrix.clients.base import ClientInfo, Reason, Target, Trust, TrustUsed
from tlsmatrix.clients.signals import openssl, python_ssl
from tlsmatrix.clients.signals._signal import Signal

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
            # _context() sets no X509 verify flag: OpenSSL's default, an anchor must be
            # self-signed (tests/test_partial_chain.py measures it on a handshake).
            partial_chain=False,
            strict_x509=False,
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
    """A failure after the handshake and the name check passed (see late_outcome)."""
    return late_outcome(signal_for(exc), _detail(exc), tls_version=tls_version_name(version))


def failure(exc: Exception, errors: list[tuple[int, int]]) -> Outcome:
    """A failure before the certificate was accepted: the first verify error the callback
    saw, the name check, the deadline, or the error itself."""
    if errors and not isinstance(exc, _NameCheckFailed):
        code, depth = errors[0]
        signal = signal_for(exc, code)
        return outcome_for_signal(signal, f"{_detail(exc)} (depth {depth})")
    return outcome_for_signal(signal_for(exc), _detail(exc))


def signal_for(exc: BaseException, verify_code: int | None = None) -> Signal:
    """The signal of one pyOpenSSL probe's exception: OpenSSL's error queue tuples with the
    callback's first code, the name check's own exception type, an errno, a deadline."""
    from OpenSSL import SSL

    if isinstance(exc, _NameCheckFailed):
        return exc.signal
    if isinstance(exc, _Deadline):
        return Signal(Reason.TIMEOUT, "deadline")
    if isinstance(exc, SSL.SysCallError):
        # (errno, text): -1 is an EOF in the handshake
        number = exc.args[0] if exc.args and isinstance(exc.args[0], int) else -1
        if number > 0:
            return python_ssl.signal_for_exception(OSError(number, "SysCallError"))
        return Signal(Reason.HANDSHAKE_FAILURE, "SysCallError EOF")
    if isinstance(exc, SSL.Error):
        queue = exc.args[0] if exc.args and isinstance(exc.args[0], list) else []
        tuples = [tuple(str(part) for part in entry) for entry in queue if len(entry) == 3]
        if tuples:
            return python_ssl.signal_for_pyopenssl_error(tuples, verify_code)  # type: ignore[arg-type]
    if verify_code is not None:
        return openssl.signal_for_code(verify_code)
    return python_ssl.signal_for_exception(exc)


def _detail(exc: BaseException) -> str:
    if isinstance(exc, _NameCheckFailed):
        return str(exc)
    return exception_detail(exc)


def _context(cafile: str | None) -> object:
    from OpenSSL import SSL

    ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
    ctx.set_verify(SSL.VERIFY_PEER)
    if cafile:
        ctx.load_verify_locations(cafile)
    else:
        ctx.set_default_verify_paths()
    return ctx


class _NameCheckFailed(Exception):
    """service-identity refused the certificate; ``signal`` says whether it was the name."""

    def __init__(self, signal: Signal, text: str) -> None:
        super().__init__(text)
        self.signal = signal


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
    """The name check, as service-identity does it. Only its name verdicts are a name
    mismatch: VerificationError (no pattern matched) and a CertificateError of its own
    (no subjectAltName). A CertificateError caused by undecodable content, or any other
    exception (cryptography failing to decode an extension, e.g. a garbage AIA), means the
    certificate did not decode: malformed_certificate."""
    from service_identity import CertificateError, VerificationError
    from service_identity.pyopenssl import verify_hostname, verify_ip_address

    try:
        if target.is_ip:
            verify_ip_address(conn, target.ascii_host)
        else:
            verify_hostname(conn, target.ascii_host.rstrip("."))
    except VerificationError as exc:
        signal = Signal(Reason.HOSTNAME_MISMATCH, "service_identity.VerificationError")
        raise _NameCheckFailed(signal, f"VerificationError: {exc}") from exc
    except CertificateError as exc:
        if exc.__cause__ is None:
            signal = Signal(Reason.HOSTNAME_MISMATCH, "service_identity.CertificateError")
        else:
            signal = Signal(Reason.MALFORMED_CERTIFICATE, "service_identity.CertificateError")
        raise _NameCheckFailed(signal, f"CertificateError: {exc}") from exc
    except Exception as exc:
        signal = Signal(Reason.MALFORMED_CERTIFICATE, type(exc).__name__)
        raise _NameCheckFailed(signal, f"{type(exc).__name__}: {exc}") from exc
