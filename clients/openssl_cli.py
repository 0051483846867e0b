"""``openssl s_client``, run the way people check a server by hand; the verdict is read
from its final ``Verify return code:`` line (it exits 0 even when verification fails)."""

from __future__ import annotations

import os
import re
import shutil
import time
from functools import cached_property

from tlsmatrix.clients._common import (
    CommandResult,
    Outcome,
    child_env,
    explicit_trust,
    first_line,
    observe,
    observe_outcome,
    reason_for_openssl_code,
    reason_for_text,
    run_command,
    tls_version_name,
    trust_from_env,
)
from tlsmatrix.clients.base import ClientInfo, Observation, Reason, Target, Trust, TrustUsed

ENV_VARS = ("SSL_CERT_FILE", "SSL_CERT_DIR")
_VERIFY = re.compile(r"Verify return code: (\d+) \(([^)]*)\)")
_NO_PEER_CERT = "no peer certificate available"


class OpenSSLClient:
    name = "openssl"

    def __init__(self, binary: str = "openssl") -> None:
        self.binary = binary

    @cached_property
    def _path(self) -> str | None:
        return shutil.which(self.binary)

    @cached_property
    def _version(self) -> tuple[str, str]:
        """(version line, OPENSSLDIR)."""
        if not self._path:
            return "", ""
        result = run_command([self._path, "version", "-v", "-d"], timeout=5)
        lines = result.stdout.splitlines()
        version = lines[0].strip() if lines else ""
        directory = ""
        if len(lines) > 1:
            match = re.search(r'OPENSSLDIR: "([^"]*)"', lines[1])
            directory = match.group(1) if match else ""
        return version, directory

    def info(self) -> ClientInfo:
        if not self._path:
            return ClientInfo(
                self.name, False, f"{self.binary} not found on PATH", kind="subprocess"
            )
        version, _ = self._version
        parts = version.split()
        return ClientInfo(
            name=self.name,
            available=True,
            version=f"openssl {parts[1]}" if len(parts) > 1 else version,
            tls_library=parts[0] if parts else "OpenSSL",
            tls_library_version=version,
            native_trust=self.native_trust(),
            env_vars=ENV_VARS,
            fetches_aia=False,
            kind="subprocess",
            notes=("s_client -verify_hostname; verdict from 'Verify return code:'",),
        )

    def native_trust(self) -> TrustUsed:
        _, directory = self._version
        default_file = os.path.join(directory, "cert.pem") if directory else None
        default = TrustUsed("native", "OpenSSL default paths", default_file)
        return trust_from_env(os.environ, ENV_VARS, default)

    def argv(self, target: Target, trust: Trust) -> list[str]:
        address = target.address
        connect = f"[{address}]:{target.port}" if ":" in address else f"{address}:{target.port}"
        argv = [self._path or self.binary, "s_client", "-connect", connect]
        if target.is_ip:
            argv += ["-verify_ip", target.ascii_host]
        else:
            argv += ["-servername", target.ascii_host, "-verify_hostname", target.ascii_host]
        if trust.path:
            argv += ["-CAfile", trust.path, "-no-CApath", "-no-CAstore"]
        return argv

    def probe(self, target: Target, trust: Trust, timeout: float) -> Observation:
        started = time.monotonic()
        used = self.native_trust() if trust.is_native else explicit_trust(trust)
        if not self._path:
            return observe(
                target,
                self.name,
                Reason.CLIENT_UNAVAILABLE,
                detail=f"{self.binary} not found",
                started=started,
                trust=used,
            )
        # stdin is closed, so s_client ends right after the handshake.
        result = run_command(self.argv(target, trust), timeout, child_env(trust))
        outcome = interpret(result)
        return observe_outcome(target, self.name, outcome, started=started, trust=used)


def interpret(result: CommandResult) -> Outcome:
    """Map one s_client run (its session printout and error lines) to a reason (pure)."""
    version = _tls_version(result.stdout)
    match = _VERIFY.search(result.stdout)
    # s_client prints "Verify return code: 0 (ok)" even when the handshake failed
    # before any certificate was checked (e.g. a 1 MB certificate: "excessive message
    # size"); without a peer certificate there was nothing to accept.
    if match and version and _NO_PEER_CERT not in result.stdout:
        code = int(match.group(1))
        reason = Reason.OK if code == 0 else reason_for_openssl_code(code)
        return Outcome(reason, match.group(0), code, version)
    if result.timed_out:
        return Outcome(Reason.TIMEOUT, "killed at the deadline")
    error = _error_text(result.stderr)
    reason = reason_for_text(error)
    if reason is None:
        reason = _errno_reason(result.stderr) or Reason.HANDSHAKE_FAILURE
    code = int(match.group(1)) if match else None
    return Outcome(reason, error, code or None)


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


def _errno_reason(stderr: str) -> Reason | None:
    if "errno=111" in stderr:
        return Reason.CONNECTION_REFUSED
    if "getaddrinfo" in stderr or "gethostbyname" in stderr:
        return Reason.DNS_FAILURE
    if "errno=104" in stderr or "unexpected eof" in stderr.lower():
        return Reason.HANDSHAKE_FAILURE
    return None
