"""Helpers every adapter shares: OpenSSL code mapping, exception classification,
trust resolution from the environment, and a subprocess runner with a hard deadline."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from tlsmatrix.clients.base import (
    ClientInfo,
    Observation,
    Reason,
    Target,
    Trust,
    TrustUsed,
    Verdict,
    verdict_for,
)

T = TypeVar("T")

# OpenSSL X509_V_ERR_* codes -> our reasons. Codes not listed are certificate problems we
# have no finer name for; they still reject, as handshake failures with the code kept.
OPENSSL_CODES: dict[int, Reason] = {
    2: Reason.INCOMPLETE_CHAIN,  # unable to get issuer certificate
    9: Reason.NOT_YET_VALID,
    10: Reason.EXPIRED,
    13: Reason.NOT_YET_VALID,  # format error in notBefore
    14: Reason.EXPIRED,  # format error in notAfter
    18: Reason.SELF_SIGNED,  # self-signed leaf
    19: Reason.UNTRUSTED_ROOT,  # self-signed certificate in chain
    20: Reason.INCOMPLETE_CHAIN,  # unable to get local issuer certificate
    21: Reason.INCOMPLETE_CHAIN,  # unable to verify the first certificate
    23: Reason.REVOKED,
    62: Reason.HOSTNAME_MISMATCH,
    64: Reason.HOSTNAME_MISMATCH,  # IP address mismatch
    66: Reason.WEAK_KEY,  # EE key too small
    67: Reason.WEAK_KEY,  # CA key too small
    68: Reason.WEAK_SIGNATURE,  # CA md too weak
}


# Codes that say only "the issuer was not found": see Observation.issuer_unknown.
ISSUER_UNKNOWN_CODES = frozenset({2, 20, 21})


def reason_for_openssl_code(code: int | None) -> Reason:
    if code is None:
        return Reason.HANDSHAKE_FAILURE
    return OPENSSL_CODES.get(code, Reason.HANDSHAKE_FAILURE)


def observe(
    target: Target,
    client: str,
    reason: Reason,
    *,
    detail: str = "",
    verify_code: int | None = None,
    tls_version: str | None = None,
    started: float,
    trust: TrustUsed | None,
    issuer_unknown: bool | None = None,
    certificate_invalid: bool = False,
) -> Observation:
    """Build an Observation whose verdict always follows from its reason.

    ``issuer_unknown`` defaults to True for OpenSSL's "issuer not found" codes."""
    if issuer_unknown is None:
        issuer_unknown = verify_code in ISSUER_UNKNOWN_CODES
    return Observation(
        target=target.name,
        client=client,
        verdict=verdict_for(reason),
        reason=reason,
        detail=" ".join(detail.split())[:2000],
        verify_code=verify_code,
        tls_version=tls_version,
        elapsed_ms=round((time.monotonic() - started) * 1000, 1),
        trust=trust,
        issuer_unknown=issuer_unknown,
        certificate_invalid=certificate_invalid,
    )


# --- exceptions (Python clients) ------------------------------------------------------

# Substrings of OpenSSL/Python error texts, most specific first.
_TEXT_REASONS: tuple[tuple[str, Reason], ...] = (
    ("wrong_version_number", Reason.NOT_TLS),
    ("wrong version number", Reason.NOT_TLS),
    ("packet length too long", Reason.NOT_TLS),
    ("record layer failure", Reason.NOT_TLS),
    ("http request", Reason.NOT_TLS),
    ("unsupported protocol", Reason.PROTOCOL_VERSION),
    ("protocol version", Reason.PROTOCOL_VERSION),
    ("protocol_version", Reason.PROTOCOL_VERSION),
    ("no protocols available", Reason.PROTOCOL_VERSION),
    ("md too weak", Reason.WEAK_SIGNATURE),
    ("digest algorithm too weak", Reason.WEAK_SIGNATURE),
    ("key too small", Reason.WEAK_KEY),
    ("hostname mismatch", Reason.HOSTNAME_MISMATCH),
    ("doesn't match", Reason.HOSTNAME_MISMATCH),
    ("certificate has expired", Reason.EXPIRED),
    ("not yet valid", Reason.NOT_YET_VALID),
    ("timed out", Reason.TIMEOUT),
    ("timeout", Reason.TIMEOUT),
    ("connection refused", Reason.CONNECTION_REFUSED),
    ("name or service not known", Reason.DNS_FAILURE),
    ("nodename nor servname", Reason.DNS_FAILURE),
    ("temporary failure in name resolution", Reason.DNS_FAILURE),
    ("getaddrinfo failed", Reason.DNS_FAILURE),
    ("excessive message size", Reason.HANDSHAKE_FAILURE),  # e.g. a 1 MB certificate
    ("certificate chain too long", Reason.HANDSHAKE_FAILURE),
    ("unexpected eof", Reason.HANDSHAKE_FAILURE),
    ("eof occurred", Reason.HANDSHAKE_FAILURE),
    ("connection reset", Reason.HANDSHAKE_FAILURE),
    ("econnreset", Reason.HANDSHAKE_FAILURE),  # pyOpenSSL's SysCallError(104, 'ECONNRESET')
    ("broken pipe", Reason.HANDSHAKE_FAILURE),
    ("epipe", Reason.HANDSHAKE_FAILURE),
    ("handshake failure", Reason.HANDSHAKE_FAILURE),
    ("sslv3 alert", Reason.HANDSHAKE_FAILURE),
    ("tlsv1 alert", Reason.HANDSHAKE_FAILURE),
    ("tlsv13 alert", Reason.HANDSHAKE_FAILURE),
    ("certificate required", Reason.HANDSHAKE_FAILURE),
)


def reason_for_text(text: str) -> Reason | None:
    """The reason a raw error text names, or None when it names none we know."""
    low = text.lower()
    for needle, reason in _TEXT_REASONS:
        if needle in low:
            return reason
    return None


def exception_chain(exc: BaseException) -> list[BaseException]:
    """The exception and everything it wraps (__cause__, __context__, .reason, args)."""
    seen: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo and len(seen) < 32:
        cur = todo.pop(0)
        if any(cur is s for s in seen):
            continue
        seen.append(cur)
        for nxt in (cur.__cause__, cur.__context__, getattr(cur, "reason", None)):
            if isinstance(nxt, BaseException):
                todo.append(nxt)
        todo.extend(a for a in getattr(cur, "args", ()) if isinstance(a, BaseException))
    return seen


@dataclass(frozen=True)
class Outcome:
    """What a client's signals say, before it becomes an Observation: every adapter's
    mapping (an exception, an exit code and its text, a JSON line) produces one."""

    reason: Reason
    detail: str = ""
    verify_code: int | None = None
    tls_version: str | None = None
    issuer_unknown: bool | None = None  # None: decided from verify_code (see observe)
    certificate_invalid: bool = False


def observe_outcome(
    target: Target, client: str, outcome: Outcome, *, started: float, trust: TrustUsed | None
) -> Observation:
    """The Observation for one probe's Outcome."""
    return observe(
        target,
        client,
        outcome.reason,
        detail=outcome.detail,
        verify_code=outcome.verify_code,
        tls_version=outcome.tls_version,
        started=started,
        trust=trust,
        issuer_unknown=outcome.issuer_unknown,
        certificate_invalid=outcome.certificate_invalid,
    )


def classify_exception(exc: BaseException) -> Outcome:
    """Map any exception a Python TLS client raised to a reason.

    The most specific signal wins: an OpenSSL verify code, then OS-level errors
    (refused, DNS, timeout), then known texts. Unknown -> client_error, text kept.
    """
    chain = exception_chain(exc)
    detail = "; ".join(_describe(e) for e in chain[:3])
    for e in chain:
        if isinstance(e, ssl.SSLCertVerificationError):
            code = getattr(e, "verify_code", None)
            message = getattr(e, "verify_message", "") or str(e)
            return Outcome(reason_for_openssl_code(code), message, code)
    for e in chain:
        if isinstance(e, ConnectionRefusedError):
            return Outcome(Reason.CONNECTION_REFUSED, detail)
        if isinstance(e, socket.gaierror):
            return Outcome(Reason.DNS_FAILURE, detail)
        if isinstance(e, (TimeoutError, socket.timeout)):
            return Outcome(Reason.TIMEOUT, detail)
    for e in chain:
        found = reason_for_text(_describe(e))
        if found is not None:
            return Outcome(found, detail)
    for e in chain:
        if isinstance(e, ssl.SSLError):
            return Outcome(Reason.HANDSHAKE_FAILURE, detail)
        if isinstance(e, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)):
            return Outcome(Reason.HANDSHAKE_FAILURE, detail)
    return Outcome(Reason.CLIENT_ERROR, detail)


def is_alert_text(text: str) -> bool:
    """True when an error text says the peer sent a TLS alert."""
    return "alert" in text.lower()


def fetch_outcome(
    fetch: Callable[[], int],
    versions: list[str | None],
    after_connect: Callable[[Exception], bool] | None = None,
) -> Outcome:
    """Run an in-process client's request (``fetch`` returns the HTTP status; each
    completed handshake appends its TLS version to ``versions``) and map what happened.
    A failure once a handshake completed is read with after_handshake(); a library that
    cannot report handshakes says so through ``after_connect(exc)``."""
    try:
        status = fetch()
    except Exception as exc:  # every failure becomes an outcome
        outcome = classify_exception(exc)
        if versions or (after_connect is not None and after_connect(exc)):
            outcome = after_handshake(outcome)
    else:
        outcome = Outcome(Reason.OK, f"HTTP {status}")
    version = tls_version_name(versions[-1]) if versions else None
    return replace(outcome, tls_version=version)


def after_handshake(classified: Outcome) -> Outcome:
    """Re-read a failure that happened after the client completed the handshake, i.e.
    after it had verified and accepted the certificate.

    A TLS alert still means the server refused the handshake (TLS 1.3 client
    authentication fails after the client's Finished), and a timeout stays a timeout;
    anything else (a reset, an EOF, a malformed HTTP answer) does not change the TLS
    verdict: accept, with what broke in the detail."""
    if classified.reason is Reason.TIMEOUT:
        return classified
    if is_alert_text(classified.detail):
        return Outcome(Reason.HANDSHAKE_FAILURE, classified.detail, classified.verify_code)
    return Outcome(Reason.OK, f"certificate accepted; then {classified.detail}")


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def python_ssl_info(
    name: str,
    version: str,
    native_trust: TrustUsed,
    env_vars: tuple[str, ...],
    notes: tuple[str, ...] = (),
) -> ClientInfo:
    """The ClientInfo of an available in-process client built on Python's ssl module."""
    return ClientInfo(
        name=name,
        available=True,
        version=version,
        tls_library="OpenSSL",
        tls_library_version=ssl.OPENSSL_VERSION,
        native_trust=native_trust,
        env_vars=env_vars,
        fetches_aia=False,
        notes=notes,
    )


# --- trust ----------------------------------------------------------------------------


_CONTEXTS = threading.local()


def shared_context(kind: str, cafile: str | None, build: Callable[[], T]) -> T:
    """A TLS context built once per thread for (kind, trust file, trust environment) and
    reused, so a run parses each trust bundle once per worker rather than per probe.

    Per thread, because urllib3 and httpcore set ALPN on the context for each connection.
    It only carries trust and settings: no session is resumed, every probe verifies in
    full. A bundle file that changes (mtime, size) gets a new context."""
    env_file, env_dir = os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")
    key = (kind, cafile, _stamp(cafile), env_file, _stamp(env_file), env_dir)
    cache: dict[tuple[object, ...], object] | None = getattr(_CONTEXTS, "cache", None)
    if cache is None:
        cache = _CONTEXTS.cache = {}
    if key not in cache:
        if len(cache) > 32:  # many bundles in one run: keep the cache small
            cache.clear()
        cache[key] = build()
    return cache[key]  # type: ignore[return-value]


def _stamp(path: str | None) -> tuple[int, int] | None:
    if not path:
        return None
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_mtime_ns, info.st_size)


def explicit_trust(trust: Trust) -> TrustUsed:
    assert trust.path is not None
    return TrustUsed("bundle", "explicit bundle", trust.path)


def trust_from_env(
    env: Mapping[str, str], variables: Sequence[str], default: TrustUsed
) -> TrustUsed:
    """The first of ``variables`` that is set (and non-empty) wins over ``default``."""
    for var in variables:
        value = env.get(var)
        if value:
            return TrustUsed("native", var, value)
    return default


def openssl_default_trust(env: Mapping[str, str]) -> TrustUsed:
    """OpenSSL's default verify paths as this process's OpenSSL sees them."""
    paths = ssl.get_default_verify_paths()
    if env.get(paths.openssl_cafile_env):
        return TrustUsed("native", paths.openssl_cafile_env, env[paths.openssl_cafile_env])
    if env.get(paths.openssl_capath_env):
        return TrustUsed("native", paths.openssl_capath_env, env[paths.openssl_capath_env])
    path = paths.cafile or paths.capath or paths.openssl_cafile
    return TrustUsed("native", "OpenSSL default paths", path)


def tls_version_name(version: str | None) -> str | None:
    """'TLSv1.3' -> 'TLS 1.3' so every client's version reads the same."""
    if not version:
        return None
    v = version.replace("TLSv", "TLS ").replace("_", ".").strip()
    return v


# --- subprocesses ---------------------------------------------------------------------

# Variables that redirect a TLS client's trust. Cleared for explicit-bundle probes so that
# "trust this file" means exactly that file.
TRUST_ENV_VARS = (
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "CURL_CA_BUNDLE",
    "REQUESTS_CA_BUNDLE",
    "NODE_EXTRA_CA_CERTS",
    "NODE_OPTIONS",
    "GIT_SSL_CAINFO",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
)


def child_env(trust: Trust, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a client subprocess: unchanged for native trust (that is what
    the user's machine does), without trust and proxy redirections for an explicit bundle."""
    env = dict(os.environ if base is None else base)
    for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        env.pop(var, None)  # probes talk to the target itself, never through a proxy
    if not trust.is_native:
        for var in TRUST_ENV_VARS:
            env.pop(var, None)
    return env


@dataclass(frozen=True)
class CommandResult:
    returncode: int | None  # None when killed at the deadline
    stdout: str
    stderr: str
    timed_out: bool


# Client processes running right now, so an interrupted run can stop every one of them.
_LIVE: set[subprocess.Popen[bytes]] = set()
_LIVE_LOCK = threading.Lock()
_STOPPING = threading.Event()  # set once the process is shutting down after an interrupt


def kill_all_children() -> None:
    """Kill the process group of every client process still running, and any started
    from now on (a probe may be spawning one at this very moment). Used on Ctrl-C/SIGTERM,
    after which the process only writes its partial results and exits."""
    with _LIVE_LOCK:
        _STOPPING.set()
        live = list(_LIVE)
    for proc in live:
        _kill_group(proc)


def run_command(
    argv: Sequence[str], timeout: float, env: Mapping[str, str] | None = None
) -> CommandResult:
    """Run argv (never a shell) with stdin closed; kill its whole process group at the
    deadline, since openssl, gnutls-cli and friends have no handshake timeout of their own."""
    proc = subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(env) if env is not None else None,
        start_new_session=True,
    )
    with _LIVE_LOCK:
        _LIVE.add(proc)
        if _STOPPING.is_set():
            _kill_group(proc)
    try:
        out, err = proc.communicate(timeout=max(timeout, 0.01))
        timed_out = False
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        out, err = proc.communicate()
        timed_out = True
    finally:
        _kill_group(proc)  # grandchildren left behind by a finished parent
        with _LIVE_LOCK:
            _LIVE.discard(proc)
    return CommandResult(
        None if timed_out else proc.returncode,
        out.decode("utf-8", "replace"),
        err.decode("utf-8", "replace"),
        timed_out,
    )


def run_json_program(
    argv: Sequence[str],
    timeout: float,
    env: Mapping[str, str] | None,
    interpret: Callable[[Mapping[str, object]], Outcome],
) -> Outcome:
    """Run a probe program that prints its result as one JSON object (our node script,
    our Java program) and map it with ``interpret``; a program that cannot start, is
    killed at the deadline or prints no result gets an Outcome saying so."""
    program = os.path.basename(argv[0])
    try:
        res = run_command(argv, timeout, env=env)
    except OSError as exc:
        return Outcome(Reason.CLIENT_ERROR, f"cannot run {argv[0]}: {exc}")
    if res.timed_out:
        return Outcome(Reason.TIMEOUT, f"{program} killed at the deadline")
    payload = last_json_line(res.stdout)
    if payload is None:
        detail = first_line(res.stderr) or f"{program} exited {res.returncode} without a result"
        return Outcome(Reason.CLIENT_ERROR, detail)
    return interpret(payload)


def last_json_line(text: str) -> dict[str, object] | None:
    """The last line of ``text`` that is a JSON object."""
    import json

    for line in reversed(text.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                return value
    return None


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def run_version(binary: str, args: Sequence[str], package: str) -> CommandResult | str:
    """Find ``binary`` on PATH and run it with ``args`` (e.g. --version) under a short
    deadline: its output, or the one-line reason the client is unavailable."""
    import shutil

    path = shutil.which(binary)
    if path is None:
        return f"{binary} not found on PATH (Debian package {package})"
    try:
        result = run_command([path, *args], timeout=10)
    except OSError as exc:
        return f"{path} {' '.join(args)} failed: {exc}"
    if result.timed_out:
        return f"{path} {' '.join(args)} did not answer within 10 s"
    return result


def first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


__all__ = [
    "CommandResult",
    "Outcome",
    "OPENSSL_CODES",
    "after_handshake",
    "is_alert_text",
    "Verdict",
    "child_env",
    "classify_exception",
    "explicit_trust",
    "first_line",
    "observe",
    "openssl_default_trust",
    "reason_for_openssl_code",
    "reason_for_text",
    "run_command",
    "tls_version_name",
    "trust_from_env",
]
