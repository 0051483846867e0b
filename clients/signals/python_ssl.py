"""Python exceptions -> Reason, from their structure only.

``innermost_errors`` walks what an exception wraps (``__cause__``, ``__context__``, urllib3's
``MaxRetryError.reason``, aiohttp's ``certificate_error``/``os_error``, exceptions in
``args``) and ``signal_for_exception`` reads, in order of how much they say:
``ssl.SSLCertVerificationError.verify_code`` (an OpenSSL verify code), ``ssl.SSLError.reason``
/``.library`` (OpenSSL's reason names), the exception type (``socket.gaierror``,
``ConnectionRefusedError``, ``TimeoutError``), ``OSError.errno``, and last the class names of
wrapper exceptions that carry nothing inside. ``str(exc)`` is never read.
"""

from __future__ import annotations

import errno as errno_mod
import socket
import ssl
from collections.abc import Iterator

from tlsmatrix.clients.base import Reason
from tlsmatrix.clients.signals import openssl, openssl_reasons
from tlsmatrix.clients.signals._signal import Signal

R = Reason

# Attributes through which HTTP libraries hold the error they wrap.
_WRAPPED_ATTRS = ("reason", "certificate_error", "os_error", "__cause__", "__context__")


def innermost_errors(exc: BaseException, limit: int = 32) -> list[BaseException]:
    """``exc`` and everything it wraps, outermost first, each once."""
    seen: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo and len(seen) < limit:
        current = todo.pop(0)
        if any(current is s for s in seen):
            continue
        seen.append(current)
        for attr in _WRAPPED_ATTRS:
            inner = getattr(current, attr, None)
            if isinstance(inner, BaseException):
                todo.append(inner)
        todo.extend(a for a in getattr(current, "args", ()) if isinstance(a, BaseException))
    return seen


_ERRNO: dict[int, Reason] = {
    errno_mod.ECONNREFUSED: R.CONNECTION_REFUSED,
    # No route: nothing to talk to, the nearest of the "reaching the server" reasons.
    errno_mod.EHOSTUNREACH: R.CONNECTION_REFUSED,
    errno_mod.ENETUNREACH: R.CONNECTION_REFUSED,
    errno_mod.EADDRNOTAVAIL: R.CONNECTION_REFUSED,
    errno_mod.ETIMEDOUT: R.TIMEOUT,
    # The server dropped the connection mid-handshake (a TLS-level refusal).
    errno_mod.ECONNRESET: R.HANDSHAKE_FAILURE,
    errno_mod.EPIPE: R.HANDSHAKE_FAILURE,
    errno_mod.ECONNABORTED: R.HANDSHAKE_FAILURE,
}

# Wrapper classes (by name: urllib3, httpx/httpcore, aiohttp, requests) that may arrive with
# nothing structured inside, e.g. a timeout raised by the library's own clock.
_CLASS_NAMES: dict[str, Reason] = {
    "NameResolutionError": R.DNS_FAILURE,  # urllib3 2
    "ConnectTimeoutError": R.TIMEOUT,  # urllib3
    "ReadTimeoutError": R.TIMEOUT,
    "ConnectTimeout": R.TIMEOUT,  # httpx, httpcore, requests
    "ReadTimeout": R.TIMEOUT,
    "WriteTimeout": R.TIMEOUT,
    "PoolTimeout": R.TIMEOUT,
    "TimeoutException": R.TIMEOUT,
    "ServerTimeoutError": R.TIMEOUT,  # aiohttp
    "ConnectionTimeoutError": R.TIMEOUT,
    "SocketTimeoutError": R.TIMEOUT,
    "ClientConnectorDNSError": R.DNS_FAILURE,  # aiohttp 3.10+
    "ServerDisconnectedError": R.HANDSHAKE_FAILURE,  # aiohttp: closed before an answer
    # urllib3's own hostname check (CertificateError, a ValueError): no code, but its type
    # says exactly this.
    "CertificateError": R.HOSTNAME_MISMATCH,
}

# Libraries other than SSL whose errors during a handshake mean the peer's certificate
# could not be decoded (Python gives ``library`` as OpenSSL's short name).
_DECODING_LIBRARIES = frozenset({"ASN1", "PEM"})


def signal_for_ssl_error(exc: ssl.SSLError, *, openssl_major: int | None = None) -> Signal:
    major = openssl_major if openssl_major is not None else ssl.OPENSSL_VERSION_INFO[0]
    if isinstance(exc, ssl.SSLCertVerificationError):
        code = getattr(exc, "verify_code", None)
        if isinstance(code, int) and code != 0:
            return openssl.signal_for_code(code, openssl_major=major)
        # verify_code 0 with a verification error: Python's own hostname check
        # (match_hostname in 3.6, before OpenSSL did it) or an unknown verify failure.
        return openssl_reasons.signal_for_reason("CERTIFICATE_VERIFY_FAILED")
    library = getattr(exc, "library", None)
    reason = getattr(exc, "reason", None)
    if isinstance(library, str) and library.upper() in _DECODING_LIBRARIES:
        return Signal(R.MALFORMED_CERTIFICATE, f"{library}:{reason}")
    if isinstance(reason, str) and reason:
        return openssl_reasons.signal_for_reason(reason)
    # No reason: SSLEOFError ("EOF occurred in violation of protocol"), SSLZeroReturnError,
    # SSLSyscallError: the server dropped the handshake.
    return Signal(R.HANDSHAKE_FAILURE, type(exc).__name__)


def _by_type(exc: BaseException) -> Signal | None:
    if isinstance(exc, socket.gaierror):
        return Signal(R.DNS_FAILURE, f"gaierror {exc.errno}")
    if isinstance(exc, ConnectionRefusedError):
        return Signal(R.CONNECTION_REFUSED, "ConnectionRefusedError")
    if isinstance(exc, TimeoutError):  # socket.timeout and asyncio.TimeoutError too
        return Signal(R.TIMEOUT, type(exc).__name__)
    if isinstance(exc, OSError) and exc.errno in _ERRNO:
        return Signal(_ERRNO[exc.errno], errno_mod.errorcode.get(exc.errno, str(exc.errno)))
    # The type without an errno (asyncio raises ConnectionResetError() bare): the server
    # dropped the connection.
    if isinstance(exc, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)):
        return Signal(R.HANDSHAKE_FAILURE, type(exc).__name__)
    return None


def _by_class_name(exc: BaseException) -> Signal | None:
    for klass in type(exc).__mro__:
        reason = _CLASS_NAMES.get(klass.__name__)
        if reason is not None:
            return Signal(reason, klass.__name__)
    return None


def _ssl_rank(exc: ssl.SSLError) -> int:
    # aiohttp's ClientConnectorCertificateError is itself an ssl.CertificateError (so an
    # SSLCertVerificationError) without verify_code: the one it wraps has the code.
    if isinstance(getattr(exc, "verify_code", None), int) and exc.verify_code:
        return 0
    if getattr(exc, "reason", None) or getattr(exc, "library", None):
        return 1
    return 2


def _layers(errors: list[BaseException]) -> Iterator[Signal | None]:
    # Most telling first: a TLS error, then a socket-level fact, then a wrapper's class.
    tls = sorted((e for e in errors if isinstance(e, ssl.SSLError)), key=_ssl_rank)
    yield from (signal_for_ssl_error(e) for e in tls)
    yield from (_by_type(e) for e in errors)
    yield from (_by_class_name(e) for e in errors)


def signal_for_exception(exc: BaseException) -> Signal:
    """The signal an exception carries in its structure; ``client_error`` when none does."""
    errors = innermost_errors(exc)
    for found in _layers(errors):
        if found is not None:
            return found
    return Signal(R.CLIENT_ERROR, type(exc).__name__)


def signal_for_pyopenssl_error(
    errors: list[tuple[str, str, str]], verify_code: int | None = None
) -> Signal:
    """pyOpenSSL's ``OpenSSL.SSL.Error.args[0]``: (library, function, reason) tuples in
    OpenSSL's queue order (innermost first), each reason one of OpenSSL's constant strings.
    A decoding library anywhere means the certificate did not decode; otherwise the last
    SSL-library entry (the outermost) names the failure. ``verify_code``: the first failing
    code the adapter's verify callback saw (pyOpenSSL reports "certificate verify failed"
    only), or None."""
    if any(lib.lower().startswith("asn1") and r.lower() == "evp lib" for lib, _f, r in errors):
        # ASN1_item_verify failed in EVP: the signature did not verify
        return Signal(R.BAD_SIGNATURE, "asn1 encoding routines:EVP lib")
    if any(lib.lower().startswith(("asn1", "pem")) for lib, _f, _r in errors):
        lib, _f, reason = next(e for e in errors if e[0].lower().startswith(("asn1", "pem")))
        return Signal(R.MALFORMED_CERTIFICATE, f"{lib}:{reason}")
    for library, _function, reason in reversed(errors):
        if library.lower().startswith("ssl"):
            return openssl_reasons.signal_for_reason(reason, verify_code)
    return Signal(R.HANDSHAKE_FAILURE, "pyOpenSSL error")
