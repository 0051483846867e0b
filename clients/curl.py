"""The ``curl`` command line tool (with whatever TLS library it was built with)."""

from __future__ import annotations

import os
import re
from dataclasses import replace

from tlsmatrix.clients._common import (
    Outcome,
    is_alert,
    late_outcome,
    outcome_for_signal,
    tls_version_name,
)
from tlsmatrix.clients._subprocess import SubprocessAdapter
from tlsmatrix.clients._trust import empty_ca_dir, first_existing, trust_from_env
from tlsmatrix.clients.base import ClientInfo, Reason, Target, Trust, TrustUsed
from tlsmatrix.clients.process import CommandResult, first_line
from tlsmatrix.clients.signals import curl as curl_signals
from tlsmatrix.clients.signals import openssl_reasons

# curl's tool reads these, in this order, when no --cacert is given.
ENV_VARS = ("CURL_CA_BUNDLE", "SSL_CERT_DIR", "SSL_CERT_FILE")
_DEFAULT_BUNDLES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt")

_MARK = "TLSMATRIX:"
# What --verbose prints once the handshake has verified the peer (OpenSSL builds).
_VERIFIED = "SSL certificate verify ok."


class CurlClient(SubprocessAdapter):
    name = "curl"
    default_binary = "curl"
    package = "curl"
    env_vars = ENV_VARS

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
            # libcurl sets X509_V_FLAG_PARTIAL_CHAIN unless CURLSSLOPT_NO_PARTIALCHAIN
            # (7.68+): an intermediate in the bundle is an anchor. Measured on a
            # handshake by tests/test_partial_chain.py.
            partial_chain=True,
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
            # an empty CA path: curl must not also read its build-time one
            argv += ["--cacert", trust.path, "--capath", empty_ca_dir()]
        return [*argv, "--", target.url]

    def run(self, path: str, target: Target, trust: Trust, timeout: float) -> Outcome:
        return interpret(self.execute(self.argv(target, trust, timeout), timeout, trust))


def interpret(result: CommandResult) -> Outcome:
    """Map one curl run to an Outcome (pure): its exit code, ``%{ssl_verify_result}`` and
    the packed OpenSSL code in its stderr, through signals/curl.py."""
    version = _tls_version(result.stderr)
    if result.timed_out:
        return Outcome(Reason.TIMEOUT, "killed at the deadline", None, version)
    http_code, verify_result = _write_out(result.stdout)
    if result.returncode == 0:
        return Outcome(Reason.OK, f"HTTP {http_code}", None, version)
    detail = f"exit {result.returncode}: {_error_line(result.stderr)}"
    # curl reports the verify result of its last handshake even when it failed for
    # another reason: only exit 60 (verification failed) reads it.
    code = verify_result if result.returncode == 60 else None
    signal = curl_signals.signal_for_curl(result.returncode, code, result.stderr)
    if _VERIFIED in result.stderr and result.returncode != 60:
        # an alert read after the handshake (TLS 1.3 client authentication) still
        # refuses: curl prints its packed code whatever the exit code
        packed = openssl_reasons.signal_for_packed_text(result.stderr)
        if packed is not None and is_alert(packed):
            signal = packed
        return late_outcome(signal, detail, tls_version=version)
    return outcome_for_signal(signal, detail, tls_version=version)


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
