"""The ``curl`` command line tool (with whatever TLS library it was built with)."""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
from dataclasses import replace
from functools import cached_property

from tlsmatrix.clients._common import (
    Outcome,
    after_handshake,
    reason_for_openssl_code,
    reason_for_text,
    tls_version_name,
)
from tlsmatrix.clients._subprocess import SubprocessAdapter
from tlsmatrix.clients._trust import first_existing, trust_from_env
from tlsmatrix.clients.base import ClientInfo, Reason, Target, Trust, TrustUsed
from tlsmatrix.clients.process import CommandResult, first_line

# curl's tool reads these, in this order, when no --cacert is given.
ENV_VARS = ("CURL_CA_BUNDLE", "SSL_CERT_DIR", "SSL_CERT_FILE")
_DEFAULT_BUNDLES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt")

# curl exit codes that decide the reason by themselves.
_EXIT_REASONS = {
    6: Reason.DNS_FAILURE,
    7: Reason.CONNECTION_REFUSED,
    28: Reason.TIMEOUT,
    52: Reason.NOT_TLS,  # empty reply
}
_MARK = "TLSMATRIX:"
# What --verbose prints once the handshake has verified the peer (OpenSSL builds).
_VERIFIED = "SSL certificate verify ok."


class CurlClient(SubprocessAdapter):
    name = "curl"
    default_binary = "curl"
    package = "curl"
    env_vars = ENV_VARS

    @cached_property
    def _empty_capath(self) -> str:
        # An empty CA directory: with an explicit bundle curl must not also read its
        # build-time CA path.
        path = tempfile.mkdtemp(prefix="tlsmatrix-curl-")
        atexit.register(shutil.rmtree, path, True)
        return path

    def read_version(self, result: CommandResult, info: ClientInfo) -> ClientInfo:
        line = first_line(result.stdout)
        match = re.search(
            r"curl (\S+).*?\b(OpenSSL|GnuTLS|wolfSSL|BoringSSL|LibreSSL|mbedTLS|"
            r"NSS|rustls|Schannel|SecureTransport)/(\S+)",
            line,
        )
        return replace(
            info,
            available=True,
            version=f"curl {match.group(1)}" if match else line,
            tls_library=match.group(2) if match else None,
            tls_library_version=match.group(3) if match else None,
        )

    def native_trust(self) -> TrustUsed:
        default = TrustUsed("native", "built-in CA bundle", first_existing(_DEFAULT_BUNDLES))
        return trust_from_env(os.environ, ENV_VARS, default)

    def argv(self, target: Target, trust: Trust, timeout: float) -> list[str]:
        argv = [
            self.path() or self.binary,
            "--silent",
            "--show-error",
            "--verbose",
            "--output",
            os.devnull,
            "--write-out",
            f"{_MARK}%{{http_code}} %{{ssl_verify_result}}\\n",
            "--max-time",
            f"{max(timeout, 0.1):.3f}",
            "--connect-timeout",
            f"{max(timeout, 0.1):.3f}",
            "--proto",
            "=https",
            "--noproxy",
            "*",
            "--max-redirs",
            "0",
            "--globoff",  # a path with [] or {} is a path, not a URL pattern to expand
        ]
        if target.connect_to:
            address = f"[{target.connect_to}]" if ":" in target.connect_to else target.connect_to
            argv += ["--resolve", f"{target.ascii_host}:{target.port}:{address}"]
        if trust.path:
            argv += ["--cacert", trust.path, "--capath", self._empty_capath]
        return [*argv, "--", target.url]

    def run(self, path: str, target: Target, trust: Trust, timeout: float) -> Outcome:
        return interpret(self.execute(self.argv(target, trust, timeout), timeout, trust))


def interpret(result: CommandResult) -> Outcome:
    """Map one curl run (exit code, --write-out line, --verbose stderr) to a reason (pure)."""
    version = _tls_version(result.stderr)
    if result.timed_out:
        return Outcome(Reason.TIMEOUT, "killed at the deadline", None, version)
    http_code, verify_result = _write_out(result.stdout)
    error = _error_line(result.stderr)
    if result.returncode == 0:
        return Outcome(Reason.OK, f"HTTP {http_code}", None, version)
    detail = f"exit {result.returncode}: {error}"
    if result.returncode == 60 and verify_result:  # peer certificate failed verification
        reason = reason_for_openssl_code(verify_result)
        if "subject name" in error or "does not match" in error:
            reason, verify_result = Reason.HOSTNAME_MISMATCH, 62
        return Outcome(reason, detail, verify_result, version)
    reason = _EXIT_REASONS.get(result.returncode or -1) or reason_for_text(error)
    if reason is None:
        reason = (
            Reason.HANDSHAKE_FAILURE if result.returncode in (35, 56, 60) else Reason.CLIENT_ERROR
        )
    if _VERIFIED in result.stderr:  # failed after accepting the certificate
        late = after_handshake(Outcome(reason, detail))
        reason, detail = late.reason, late.detail
    return Outcome(reason, detail, None, version)


def _write_out(stdout: str) -> tuple[str, int | None]:
    for line in stdout.splitlines():
        if line.startswith(_MARK):
            parts = line[len(_MARK) :].split()
            code = parts[0] if parts else "000"
            # isdigit() alone admits "²", which int() refuses
            verify = (
                int(parts[1])
                if len(parts) > 1 and parts[1].isascii() and parts[1].isdigit()
                else None
            )
            return code, verify
    return "000", None


def _error_line(stderr: str) -> str:
    for line in reversed(stderr.splitlines()):
        if line.startswith("curl: ("):
            return line
    return first_line(stderr)


def _tls_version(stderr: str) -> str | None:
    match = re.search(r"SSL connection using (TLSv[\d.]+)", stderr)
    return tls_version_name(match.group(1)) if match else None
