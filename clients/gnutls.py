"""The ``gnutls-cli`` adapter: GnuTLS's own command-line client.

gnutls-cli verifies the chain against the GnuTLS system trust (a file compiled into the
library: /etc/ssl/certs/ca-certificates.crt on Debian) unless ``--x509cafile`` is given, in
which case it loads *only* that file (it prints "Processed N CA certificate(s)", which the
tests check). It has no handshake timeout and waits on stdin after the handshake, so it
runs with stdin closed and is killed at the deadline.

What it says is mapped by signals/gnutls.py: the status bits its "- Status:" line states
(fixed GnuTLS sentences), the alert number, the fatal-error constant; a connect or name
lookup failure by the strerror/gai_strerror constant after its fixed prefix.
"""

from __future__ import annotations

import re
from dataclasses import replace

from tlsmatrix.clients._common import Outcome, late_outcome, outcome_for_signal, tls_version_name
from tlsmatrix.clients._subprocess import SubprocessAdapter
from tlsmatrix.clients.base import (
    CERTIFICATE_REASONS,
    ClientInfo,
    Reason,
    Target,
    Trust,
    TrustUsed,
)
from tlsmatrix.clients.process import CommandResult, first_line
from tlsmatrix.clients.signals import gnutls as gnutls_signals
from tlsmatrix.clients.signals._signal import Signal

# Where Debian's GnuTLS finds its system trust (configure --with-default-trust-store-file).
GNUTLS_SYSTEM_TRUST = "/etc/ssl/certs/ca-certificates.crt"

_DESCRIPTION = re.compile(r"Description:\s*\((TLS[0-9.]+|SSL[0-9.]+|DTLS[0-9.]+)")
_STATUS = re.compile(r"^- Status: (.*)$", re.MULTILINE)
_PROCESSED = re.compile(r"Processed (\d+) CA certificate")


def tls_version_from_description(text: str) -> str | None:
    """'(TLS1.3-X.509)-...' -> 'TLS 1.3'."""
    m = _DESCRIPTION.search(text)
    if not m:
        return None
    return tls_version_name(m.group(1).replace("TLS", "TLSv", 1))


def ca_certificates_loaded(output: str) -> int | None:
    """How many CA certificates gnutls-cli says it loaded (None if it did not say)."""
    m = _PROCESSED.search(output)
    return int(m.group(1)) if m else None


class GnuTLSClient(SubprocessAdapter):
    """gnutls-cli as a subprocess. ``binary`` overrides the name looked up on PATH."""

    name = "gnutls"
    default_binary = "gnutls-cli"
    package = "gnutls-bin"

    def describe(self) -> ClientInfo:
        return replace(
            super().describe(),
            tls_library="GnuTLS",
            # GnuTLS's default verification profile accepts RSA-1024; SHA-1 is insecure.
            min_rsa_bits=1024,
            # GnuTLS ends a path at any certificate of its trust list, self-signed or not
            # (tests/test_partial_chain.py measures it on a handshake).
            partial_chain=True,
        )

    def read_version(self, result: CommandResult, info: ClientInfo) -> ClientInfo:
        m = re.search(r"gnutls-cli\s+(\S+)", result.stdout)
        version = m.group(1) if m else first_line(result.stdout) or None
        return replace(
            info,
            available=True,
            version=version,
            tls_library_version=version,  # gnutls-cli ships with, and reports, its GnuTLS
            notes=(
                "verifies the handshake only: no HTTP request is sent, so the path is unused",
                "--x509cafile replaces the system trust (only that file is loaded)",
            ),
        )

    def native_trust(self) -> TrustUsed:
        return TrustUsed("native", "GnuTLS system trust", GNUTLS_SYSTEM_TRUST)

    def argv(self, path: str, target: Target, trust: Trust) -> list[str]:
        """The gnutls-cli command line for one probe (public so tests can read it)."""
        argv = [path, "-p", str(target.port), f"--verify-hostname={target.ascii_host}"]
        if target.is_ip:
            argv.append("--disable-sni")  # RFC 6066: no IP addresses in SNI
        else:
            argv.append(f"--sni-hostname={target.ascii_host}")
        if not trust.is_native:
            assert trust.path is not None
            argv.append(f"--x509cafile={trust.path}")
        argv.append(target.address)
        return argv

    def run(self, path: str, target: Target, trust: Trust, timeout: float) -> Outcome:
        res = self.execute(self.argv(path, target, trust), timeout, trust)
        return replace(interpret(res), tls_version=tls_version_from_description(res.stdout))


def _completed(text: str) -> bool:
    """gnutls-cli says so once the handshake (with the certificate check) is over."""
    return "- Handshake was completed" in text


# gnutls-cli's own lines before a handshake: the strerror / gai_strerror constant after
# the last ": " is read, the host in the middle never is.
_CONNECT_FAILED = re.compile(r"^(Could not connect to|Cannot connect to) .*: ([^:]+?)\s*$", re.M)
_RESOLVE_FAILED = re.compile(r"^Cannot resolve .*: ([^:]+?)\s*$", re.M)


def system_signal(stderr: str) -> Signal | None:
    """A connect or name-resolution failure gnutls-cli reported before any TLS."""
    connect = _CONNECT_FAILED.search(stderr)
    if connect is not None:
        error = connect.group(2)
        return Signal(gnutls_signals.SYSTEM_ERRORS.get(error, Reason.CLIENT_ERROR), error)
    resolve = _RESOLVE_FAILED.search(stderr)
    if resolve is not None:
        return Signal(Reason.DNS_FAILURE, resolve.group(1))
    return None


def interpret(res: CommandResult) -> Outcome:
    """Map one gnutls-cli run to an Outcome (pure), through signals/gnutls.py."""
    text = res.stdout + "\n" + res.stderr
    status = _STATUS.search(res.stdout)
    status_text = status.group(1).strip() if status else ""
    if res.timed_out:
        return Outcome(
            Reason.TIMEOUT,
            "gnutls-cli killed at the deadline" + (f" ({status_text})" if status_text else ""),
        )
    errors = [ln.strip() for ln in text.splitlines() if ln.startswith(("***", "Could", "Cannot"))]
    detail = "; ".join([s for s in (status_text, *errors[:3]) if s]) or first_line(res.stderr)
    signal = gnutls_signals.signal_for_gnutls_cli(text) or system_signal(res.stderr)
    if signal is None:
        if res.returncode == 0 and _completed(text):
            return Outcome(Reason.OK, detail or "handshake was completed")
        return Outcome(Reason.CLIENT_ERROR, detail or f"gnutls-cli exited {res.returncode}")
    if signal.reason is Reason.OK:
        return Outcome(Reason.OK, status_text or detail)
    if _completed(text) and signal.reason not in CERTIFICATE_REASONS:
        # the certificate was accepted; a reset or EOF afterwards does not change that,
        # an alert is still the server refusing the handshake (TLS 1.3 client auth)
        return late_outcome(_alert_token(signal), detail)
    return outcome_for_signal(signal, detail)


def _alert_token(signal: Signal) -> Signal:
    """GnuTLS names an alert by number ("TLS alert 116"); late_outcome knows OpenSSL's
    alert constant names, so a received alert is marked as one."""
    if signal.token.startswith("TLS alert") or signal.token == "GNUTLS_E_FATAL_ALERT_RECEIVED":
        return replace(signal, token=f"GNUTLS_ALERT_{signal.token}")
    return signal


__all__ = [
    "GNUTLS_SYSTEM_TRUST",
    "GnuTLSClient",
    "ca_certificates_loaded",
    "interpret",
    "system_signal",
    "tls_version_from_description",
]
