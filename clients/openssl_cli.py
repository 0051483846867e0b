"""``openssl s_client``, run the way people check a server by hand; the verdict is read
from its final ``Verify return code:`` line (it exits 0 even when verification fails)."""

from __future__ import annotations

import os
import re
from dataclasses import replace

from tlsmatrix.clients._common import Outcome, outcome_for_signal, tls_version_name
from tlsmatrix.clients._subprocess import SubprocessAdapter
from tlsmatrix.clients._trust import trust_from_env
from tlsmatrix.clients.base import ClientInfo, Reason, Target, Trust, TrustUsed
from tlsmatrix.clients.process import CommandResult, first_line
from tlsmatrix.clients.signals import openssl, openssl_reasons, python_ssl
from tlsmatrix.clients.signals._signal import Signal

ENV_VARS = ("SSL_CERT_FILE", "SSL_CERT_DIR")
_VERIFY = re.compile(r"Verify return code: (\d+) \(([^)]*)\)")
_NO_PEER_CERT = "no peer certificate available"


class OpenSSLClient(SubprocessAdapter):
    name = "openssl"
    default_binary = "openssl"
    package = "openssl"
    version_args = ("version", "-v", "-d")
    env_vars = ENV_VARS

    def read_version(self, result: CommandResult, info: ClientInfo) -> ClientInfo:
        version, _ = _version_and_dir(result.stdout)
        parts = version.split()
        return replace(
            info,
            available=True,
            version=f"openssl {parts[1]}" if len(parts) > 1 else version,
            tls_library=parts[0] if parts else "OpenSSL",
            tls_library_version=version,
            notes=("s_client -verify_hostname; verdict from 'Verify return code:'",),
            # s_client sets no -partial_chain: OpenSSL's default, anchors are self-signed
            # (tests/test_partial_chain.py measures it on a handshake).
            partial_chain=False,
        )

    def native_trust(self) -> TrustUsed:
        result = self.version_output()
        directory = "" if isinstance(result, str) else _version_and_dir(result.stdout)[1]
        default_file = os.path.join(directory, "cert.pem") if directory else None
        default = TrustUsed("native", "OpenSSL default paths", default_file)
        return trust_from_env(os.environ, ENV_VARS, default)

    def argv(self, target: Target, trust: Trust) -> list[str]:
        address = target.address
        connect = f"[{address}]:{target.port}" if ":" in address else f"{address}:{target.port}"
        argv = [self.path() or self.binary, "s_client", "-connect", connect]
        if target.is_ip:
            argv += ["-verify_ip", target.ascii_host]
        else:
            argv += ["-servername", target.ascii_host, "-verify_hostname", target.ascii_host]
        if trust.path:
            argv += ["-CAfile", trust.path, "-no-CApath", "-no-CAstore"]
        return argv

    def run(self, path: str, target: Target, trust: Trust, timeout: float) -> Outcome:
        # stdin is closed, so s_client ends right after the handshake.
        return interpret(self.execute(self.argv(target, trust), timeout, trust))


def _version_and_dir(stdout: str) -> tuple[str, str]:
    """(version line, OPENSSLDIR) from ``openssl version -v -d``."""
    lines = stdout.splitlines()
    version = lines[0].strip() if lines else ""
    directory = ""
    if len(lines) > 1:
        match = re.search(r'OPENSSLDIR: "([^"]*)"', lines[1])
        directory = match.group(1) if match else ""
    return version, directory


def interpret(result: CommandResult) -> Outcome:
    """Map one s_client run to an Outcome (pure): the verify code of its session printout,
    else the packed OpenSSL codes and the errno it printed."""
    version = _tls_version(result.stdout)
    match = _VERIFY.search(result.stdout)
    # s_client prints "Verify return code: 0 (ok)" even when the handshake failed
    # before any certificate was checked (e.g. a 1 MB certificate: "excessive message
    # size"); without a peer certificate there was nothing to accept.
    if match and version and _NO_PEER_CERT not in result.stdout:
        signal = openssl.signal_for_code(int(match.group(1)))
        return outcome_for_signal(signal, match.group(0), tls_version=version)
    if result.timed_out:
        return Outcome(Reason.TIMEOUT, "killed at the deadline")
    return outcome_for_signal(failure_signal(result.stderr), _error_text(result.stderr))


_PACKED = re.compile(r"\berror:([0-9A-Fa-f]{8}):")
_CONNECT_ERRNO = re.compile(r"^connect:errno=(\d+)\s*$", re.M)
_ERR_LIB_SYS = 2
_ERR_LIB_BIO = 32
_ERR_R_SYS_LIB = 0x80002  # ERR_RFLAG_COMMON | ERR_R_SYS_LIB


def failure_signal(stderr: str) -> Signal:
    """The signal of an s_client run that ended without a session: an SSL-library code
    first, then a system errno, then BIO's name lookup failing (a system-library error
    with no errno: getaddrinfo)."""
    found = openssl_reasons.signal_for_packed_text(stderr)
    if found is not None:
        return found
    codes = [int(m.group(1), 16) for m in _PACKED.finditer(stderr)]
    errnos = [n for lib, n in map(openssl_reasons.parse_packed, codes) if lib == _ERR_LIB_SYS]
    errnos += [int(m.group(1)) for m in _CONNECT_ERRNO.finditer(stderr)]
    for number in errnos:
        if number > 0:
            return python_ssl.signal_for_exception(OSError(number, "s_client"))
    if any(openssl_reasons.parse_packed(c) == (_ERR_LIB_BIO, _ERR_R_SYS_LIB) for c in codes):
        return Signal(Reason.DNS_FAILURE, "BIO_lookup_ex: system lib")
    return Signal(Reason.HANDSHAKE_FAILURE, "no session")


def _tls_version(stdout: str) -> str | None:
    match = re.search(r"^\s*Protocol\s*:\s*(\S+)", stdout, re.M) or re.search(
        r"New, (TLSv[\d.]+|SSLv3)", stdout
    )
    return tls_version_name(match.group(1)) if match else None


def _error_text(stderr: str) -> str:
    interesting = [
        ln.strip()
        for ln in stderr.splitlines()
        if "error" in ln.lower() or "errno" in ln.lower() or "alert" in ln.lower()
    ]
    return " | ".join(interesting[:3]) or first_line(stderr)
