"""The wget adapter (GNU Wget; Debian builds it with GnuTLS, ``wget --version`` says
``+ssl/gnutls``).

Trust: natively the GnuTLS system trust, plus any ``ca_certificate`` from the wgetrc files
(/etc/wgetrc, then ``$WGETRC`` or ~/.wgetrc). wget with GnuTLS ignores ``SSL_CERT_FILE`` and
``SSL_CERT_DIR``. An explicit bundle runs with ``--no-config``, ``--ca-certificate=FILE``
and ``--ca-directory`` set to an empty private directory: given a directory, wget does not
load the system trust, so the bundle is all it trusts.

``--resolve``: wget has no such option. A target with ``connect_to`` is reached through a
one-shot loopback CONNECT proxy that this adapter runs for the probe and that connects to
the given address whatever name wget asked for; wget still sends SNI for, and checks, the
name. wget never resolves the name itself in that case.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import shutil
import socket
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from tlsmatrix.clients._common import Outcome, late_outcome, outcome_for_signal
from tlsmatrix.clients._subprocess import SubprocessAdapter
from tlsmatrix.clients.base import ClientInfo, Reason, Target, Trust, TrustUsed
from tlsmatrix.clients.gnutls import GNUTLS_SYSTEM_TRUST
from tlsmatrix.clients.process import CommandResult, child_env, run_command
from tlsmatrix.clients.signals import gnutls as gnutls_signals
from tlsmatrix.clients.signals import python_ssl
from tlsmatrix.clients.signals._signal import Signal

# wget's exit statuses (man wget, "EXIT STATUS").
EXIT_OK = 0
EXIT_NETWORK = 4
EXIT_SSL_VERIFY = 5
EXIT_SERVER_ERROR = 8

# "HTTP request sent, awaiting response... 404 Not Found" means TLS was accepted.
_RESPONSE = re.compile(r"request sent, awaiting response\.\.\.\s*(\d{3})?")


def wgetrc_files(env: dict[str, str] | os._Environ[str]) -> list[Path]:
    """The configuration files wget reads, in order (later settings win)."""
    files = [Path("/etc/wgetrc")]
    home = env.get("HOME")
    user = env.get("WGETRC") or (str(Path(home) / ".wgetrc") if home else "")
    if user:
        files.append(Path(user))
    return files


def configured_ca_certificate(env: dict[str, str] | os._Environ[str]) -> tuple[str, str] | None:
    """(file, rcfile) when a wgetrc sets ``ca_certificate`` (the last one wins)."""
    found: tuple[str, str] | None = None
    for rc in wgetrc_files(env):
        try:
            lines = rc.read_text(errors="replace").splitlines()
        except OSError:
            continue
        for line in lines:
            key, sep, value = line.partition("=")
            if sep and key.strip().lower().replace("_", "") == "cacertificate":
                found = (value.strip(), str(rc))
    return found


class WgetClient(SubprocessAdapter):
    """wget as a subprocess. ``binary`` overrides the name looked up on PATH."""

    name = "wget"
    default_binary = "wget"
    package = "wget"
    env_vars = ("WGETRC",)

    def __init__(self, binary: str | None = None) -> None:
        super().__init__(binary)
        self._empty_dir: str | None = None
        self._lock = threading.Lock()

    def native_trust(self) -> TrustUsed:
        configured = configured_ca_certificate(os.environ)
        if configured:
            cafile, rc = configured
            return TrustUsed("native", f"GnuTLS system trust + ca_certificate from {rc}", cafile)
        return TrustUsed("native", "GnuTLS system trust", GNUTLS_SYSTEM_TRUST)

    def describe(self) -> ClientInfo:
        # wget uses GnuTLS's default verification profile: RSA-1024 passes, and a path
        # ends at any certificate of the trust list (tests/test_partial_chain.py).
        # Measured: wget accepts a leaf whose EKU is clientAuth only, or whose keyUsage
        # allows no TLS server (tests/test_clients_policy.py).
        return replace(
            super().describe(), min_rsa_bits=1024, partial_chain=True, checks_leaf_usage=False
        )

    def read_version(self, result: CommandResult, info: ClientInfo) -> ClientInfo:
        m = re.search(r"GNU Wget\s+(\S+)", result.stdout)
        if m is None:  # e.g. WGETRC names a missing file: wget refuses to start at all
            return self.version_failed(info, result)
        library, library_version = _tls_library(result.stdout)
        notes = ["ignores SSL_CERT_FILE/SSL_CERT_DIR; --resolve is done with a local CONNECT proxy"]
        if library != "GnuTLS":
            notes.append("this wget is not built with GnuTLS: messages are mapped as OpenSSL's")
        return replace(
            info,
            available=True,
            version=m.group(1),
            tls_library=library,
            tls_library_version=library_version,
            notes=tuple(notes),
        )

    def _empty_ca_dir(self) -> str:
        """A private empty directory: wget loads no system trust when given a directory."""
        with self._lock:
            if self._empty_dir is None or not os.path.isdir(self._empty_dir):
                self._empty_dir = tempfile.mkdtemp(prefix="tlsmatrix-wget-empty-")
                weakref.finalize(self, shutil.rmtree, self._empty_dir, True)
            return self._empty_dir

    def argv(
        self, path: str, target: Target, trust: Trust, timeout: float, proxy: str | None
    ) -> list[str]:
        """The wget command line for one probe (public so tests can read it)."""
        argv = [
            path,
            "--output-document=/dev/null",
            "--tries=1",
            "--max-redirect=0",
            # Past our own deadline on purpose: when wget's timer fires first it prints only
            # "Unable to establish SSL connection", indistinguishable from a failed
            # handshake; killed at the deadline, the probe is a clear timeout.
            f"--timeout={max(1, math.ceil(timeout)) + 1}",
        ]
        if not trust.is_native:
            assert trust.path is not None
            argv += [
                "--no-config",
                f"--ca-certificate={trust.path}",
                f"--ca-directory={self._empty_ca_dir()}",
            ]
        if proxy:
            argv += ["-e", "use_proxy=on", "-e", f"https_proxy={proxy}"]
        else:
            argv.append("--no-proxy")
        argv.append(target.url)
        return argv

    def run(self, path: str, target: Target, trust: Trust, timeout: float) -> Outcome:
        # The environment has no NO_PROXY (child_env): with --resolve the name must go
        # through our proxy.
        resolve = target.connect_to is not None and target.connect_to != target.ascii_host
        upstream_errors: list[OSError] = []  # what our proxy's connect to the address met
        with contextlib.ExitStack() as stack:
            proxy = None
            if resolve:
                assert target.connect_to is not None
                proxy = stack.enter_context(
                    _connect_proxy(target.connect_to, timeout, upstream_errors)
                )
            # LC_ALL=C: wget's messages are read as its C-locale templates
            env = {**child_env(trust), "LC_ALL": "C", "LANGUAGE": "C"}
            res = run_command(self.argv(path, target, trust, timeout, proxy), timeout, env)
        if upstream_errors and not res.timed_out and res.returncode != EXIT_OK:
            # wget only saw our proxy refuse the tunnel; the proxy's own connect says why
            error = upstream_errors[0]
            signal = python_ssl.signal_for_exception(error)
            return outcome_for_signal(signal, f"connect to {target.connect_to}: {error}")
        return interpret(res)


def _tls_library(version_text: str) -> tuple[str | None, str | None]:
    if "+ssl/gnutls" in version_text:
        return "GnuTLS", _linked_gnutls_version()
    if "+ssl/openssl" in version_text:
        return "OpenSSL", None
    return None, None


def _linked_gnutls_version() -> str | None:
    """The GnuTLS version wget links (the shared library's own version, via ctypes)."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("gnutls")
    if not name:
        return None
    try:
        lib = ctypes.CDLL(name)
        lib.gnutls_check_version.restype = ctypes.c_char_p
        lib.gnutls_check_version.argtypes = [ctypes.c_char_p]
        value = lib.gnutls_check_version(None)
    except (OSError, AttributeError):
        return None
    return value.decode() if value else None


_GNUTLS_ERROR = re.compile(r"^GnuTLS: (.*?)\s*$", re.M)
# wget's own report of a failed read of the response, with gnutls_strerror() in brackets:
# "HTTP request sent, awaiting response... Read error (<strerror>) in headers." (http.c).
_READ_ERROR = re.compile(r"\bRead error \(([^()]*)\) in headers\.")


def interpret(res: CommandResult) -> Outcome:
    """Map one wget run (exit status and C-locale messages) to an Outcome (pure), through
    signals/gnutls.py: the certificate templates, "failed: <strerror>.", and the
    gnutls_strerror() constant after "GnuTLS: "."""
    text = res.stderr + "\n" + res.stdout
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    interesting = [
        ln
        for ln in lines
        if ln.startswith(("ERROR", "GnuTLS", "Unable", "The certificate"))
        or "failed" in ln
        or "awaiting response" in ln
        or "redirections exceeded" in ln
    ]
    detail = "; ".join(interesting[:4]) or (lines[-1] if lines else "")
    if res.timed_out:
        return Outcome(
            Reason.TIMEOUT,
            "wget killed at the deadline" + (f" ({detail})" if detail else ""),
        )
    responded = _RESPONSE.search(text)
    if res.returncode == EXIT_OK or (responded and responded.group(1)):
        return Outcome(Reason.OK, detail)  # any HTTP status means the handshake passed
    signal = gnutls_signals.signal_for_wget(res.returncode, text)
    if signal.token.startswith("wget exit"):
        signal = _gnutls_error(text) or signal
    if responded:
        # The request went out, so the certificate had been accepted; a reset or EOF
        # while reading the headers does not change that, an alert still refuses.
        return late_outcome(signal, detail)
    return outcome_for_signal(signal, detail)


_GNUTLS_ALERT = re.compile(r"^GnuTLS: received alert \[(\d+)\]", re.M)


def _gnutls_error(text: str) -> Signal | None:
    """The alert number wget printed ("GnuTLS: received alert [70]: ..."), else the
    gnutls_strerror() constant after "GnuTLS: " or in "Read error (...) in headers",
    when it is one (a TLS 1.3 server's alert can arrive only once the request is out)."""
    alert = _GNUTLS_ALERT.search(text)
    if alert is not None:
        number = int(alert.group(1))
        protocol = number == gnutls_signals.ALERT_PROTOCOL_VERSION
        reason = Reason.PROTOCOL_VERSION if protocol else Reason.HANDSHAKE_FAILURE
        return Signal(reason, f"TLS_ALERT_{number}")
    matches = [*_GNUTLS_ERROR.finditer(text), *_READ_ERROR.finditer(text)]
    for match in matches:
        entry = gnutls_signals.FATAL_ERRORS.get(match.group(1))
        if entry is not None:
            name, reason = entry
            token = f"GNUTLS_E_{name}"
            return Signal(reason, token, certificate_invalid=reason is Reason.INVALID_CERTIFICATE)
    return None


# --- a one-shot CONNECT proxy for --resolve -------------------------------------------


@contextlib.contextmanager
def _connect_proxy(address: str, timeout: float, errors: list[OSError]) -> Iterator[str]:
    """Serve CONNECT on 127.0.0.1:<any> for the duration of a probe, sending every tunnel to
    ``address`` on the requested port; a failed connect is appended to ``errors``.
    Yields the proxy URL."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    listener.settimeout(0.2)
    stop = threading.Event()
    deadline = time.monotonic() + timeout + 1

    def accept_loop() -> None:
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(
                target=_tunnel, args=(conn, address, deadline, stop, errors), daemon=True
            ).start()

    thread = threading.Thread(target=accept_loop, name="wget-resolve-proxy", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/"
    finally:
        stop.set()
        listener.close()
        thread.join(timeout=1)


def _tunnel(
    client: socket.socket,
    address: str,
    deadline: float,
    stop: threading.Event,
    errors: list[OSError],
) -> None:
    upstream: socket.socket | None = None
    try:
        client.settimeout(max(0.1, deadline - time.monotonic()))
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 8192:
            chunk = client.recv(4096)
            if not chunk:
                return
            head += chunk
        request = head.split(b"\r\n", 1)[0].decode("latin-1").split()
        if len(request) < 2 or request[0].upper() != "CONNECT":
            client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            return
        port = int(request[1].rsplit(":", 1)[1])
        try:
            upstream = socket.create_connection(
                (address, port), timeout=max(0.1, deadline - time.monotonic())
            )
        except OSError as exc:
            errors.append(exc)
            status = (
                "502 Connection refused"
                if isinstance(exc, ConnectionRefusedError)
                else ("504 Gateway Timeout" if isinstance(exc, TimeoutError) else "502 Bad Gateway")
            )
            client.sendall(f"HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n".encode())
            return
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        _pipe(client, upstream, deadline, stop)
    except (OSError, ValueError, IndexError):
        return
    finally:
        client.close()
        if upstream is not None:
            upstream.close()


def _pipe(a: socket.socket, b: socket.socket, deadline: float, stop: threading.Event) -> None:
    import selectors

    sel = selectors.DefaultSelector()
    sel.register(a, selectors.EVENT_READ, b)
    sel.register(b, selectors.EVENT_READ, a)
    try:
        while not stop.is_set() and time.monotonic() < deadline:
            for key, _ in sel.select(timeout=0.2):
                src: socket.socket = key.fileobj  # type: ignore[assignment]
                data = src.recv(65536)
                if not data:
                    return
                key.data.sendall(data)
    finally:
        sel.close()


__all__ = ["WgetClient", "configured_ca_certificate", "interpret", "wgetrc_files"]
