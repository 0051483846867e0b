"""The ``gnutls-cli`` adapter: GnuTLS's own command-line client.

gnutls-cli verifies the chain against the GnuTLS system trust (a file compiled into the
library: /etc/ssl/certs/ca-certificates.crt on Debian) unless ``--x509cafile`` is given, in
which case it loads *only* that file (it prints "Processed N CA certificate(s)", which the
tests check). It has no handshake timeout and waits on stdin after the handshake, so it
runs with stdin closed and is killed at the deadline.

The GnuTLS verification texts are shared with wget (built with GnuTLS on Debian), so the
mapping lives here as :func:`reason_for_gnutls_text`.
"""

from __future__ import annotations

import re
from dataclasses import replace

from tlsmatrix.clients._common import Outcome, after_handshake, tls_version_name
from tlsmatrix.clients._subprocess import SubprocessAdapter
from tlsmatrix.clients.base import ClientInfo, Reason, Target, Trust, TrustUsed
from tlsmatrix.clients.process import CommandResult, first_line

# Where Debian's GnuTLS finds its system trust (configure --with-default-trust-store-file).
GNUTLS_SYSTEM_TRUST = "/etc/ssl/certs/ca-certificates.crt"

# GnuTLS (and wget's) certificate-status texts, in the order a chain is judged: a chain
# problem is named before a name problem, as OpenSSL does. Each maps to (reason,
# issuer_unknown). GnuTLS says "issuer unknown" for a missing intermediate, an untrusted
# root and a self-signed leaf alike: the harness tells them apart from the captured chain.
_CERT_TEXTS: tuple[tuple[str, Reason, bool], ...] = (
    ("issuer is unknown", Reason.INCOMPLETE_CHAIN, True),
    ("doesn't have a known issuer", Reason.INCOMPLETE_CHAIN, True),
    ("signer not found", Reason.INCOMPLETE_CHAIN, True),
    ("has been revoked", Reason.REVOKED, False),
    ("was revoked", Reason.REVOKED, False),
    ("insecure algorithm", Reason.WEAK_SIGNATURE, False),
    ("algorithm is insecure", Reason.WEAK_SIGNATURE, False),
    ("uses expired certificate", Reason.EXPIRED, False),
    ("has expired", Reason.EXPIRED, False),
    ("not yet valid", Reason.NOT_YET_VALID, False),
    ("not yet activated", Reason.NOT_YET_VALID, False),
    ("does not match the expected", Reason.HOSTNAME_MISMATCH, False),
    ("owner does not match", Reason.HOSTNAME_MISMATCH, False),
    ("no subject alternative name", Reason.HOSTNAME_MISMATCH, False),
)

# Texts about the connection or the handshake rather than the certificate.
_LINK_TEXTS: tuple[tuple[str, Reason], ...] = (
    ("connection refused", Reason.CONNECTION_REFUSED),
    ("cannot resolve", Reason.DNS_FAILURE),
    ("name or service not known", Reason.DNS_FAILURE),
    ("temporary failure in name resolution", Reason.DNS_FAILURE),
    ("unable to resolve", Reason.DNS_FAILURE),
    ("unexpected tls packet", Reason.NOT_TLS),
    ("unknown type", Reason.NOT_TLS),
    ("record packet of unknown type", Reason.NOT_TLS),
    ("unexpected length packet", Reason.NOT_TLS),
    ("protocol version", Reason.PROTOCOL_VERSION),
    ("unsupported version", Reason.PROTOCOL_VERSION),
    ("no supported protocol", Reason.PROTOCOL_VERSION),
    ("connection timed out", Reason.TIMEOUT),
    ("handshake failed", Reason.HANDSHAKE_FAILURE),
    ("fatal alert", Reason.HANDSHAKE_FAILURE),
    ("non-properly terminated", Reason.HANDSHAKE_FAILURE),
    ("connection reset", Reason.HANDSHAKE_FAILURE),
    ("error in the pull function", Reason.HANDSHAKE_FAILURE),
    ("error in the push function", Reason.HANDSHAKE_FAILURE),
    ("key usage violation", Reason.HANDSHAKE_FAILURE),
    ("unable to establish ssl connection", Reason.HANDSHAKE_FAILURE),
    ("handshake data size is too large", Reason.HANDSHAKE_FAILURE),  # a 1 MB certificate
    ("constraint limits were reached", Reason.HANDSHAKE_FAILURE),  # a chain too deep
    ("error in the certificate", Reason.HANDSHAKE_FAILURE),
    ("session has been invalidated", Reason.HANDSHAKE_FAILURE),  # an alert while writing
)


def reason_for_gnutls_text(text: str) -> tuple[Reason, bool] | None:
    """(reason, issuer_unknown) for a GnuTLS/wget error text, or None if it names none.

    Certificate statuses win over connection texts: when verification failed, the
    "fatal error" that follows is its consequence, not the cause."""
    low = text.lower()
    for needle, reason, unknown in _CERT_TEXTS:
        if needle in low:
            return reason, unknown
    for needle, reason in _LINK_TEXTS:
        if needle in low:
            return reason, False
    return None


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
    return "- handshake was completed" in text.lower()


def interpret(res: CommandResult) -> Outcome:
    """Map one gnutls-cli run (its status line, errors and exit code) to an Outcome (pure)."""
    text = res.stdout + "\n" + res.stderr
    status = _STATUS.search(res.stdout)
    status_text = status.group(1).strip() if status else ""
    if res.timed_out:
        return Outcome(
            Reason.TIMEOUT,
            "gnutls-cli killed at the deadline" + (f" ({status_text})" if status_text else ""),
        )
    if status_text and "certificate is trusted" in status_text.lower() and res.returncode == 0:
        return Outcome(Reason.OK, status_text)
    found = reason_for_gnutls_text(status_text) if status_text else None
    if found is None:
        found = reason_for_gnutls_text(text)
    errors = [
        line.strip()
        for line in text.splitlines()
        if "error" in line.lower() or "could not" in line.lower() or "cannot" in line.lower()
    ]
    detail = "; ".join([s for s in (status_text, *errors[:3]) if s]) or first_line(res.stderr)
    if found is not None and found[0] is not Reason.TIMEOUT and _completed(text):
        # the certificate was accepted; a reset or EOF afterwards does not change that,
        # but an alert is still the server refusing the handshake (TLS 1.3 client auth)
        late = after_handshake(Outcome(found[0], detail))
        return late
    if found is not None:
        return Outcome(found[0], detail, issuer_unknown=found[1])
    if res.returncode == 0 and "handshake was completed" in text.lower():
        return Outcome(Reason.OK, detail or "handshake was completed")
    return Outcome(Reason.CLIENT_ERROR, detail or f"gnutls-cli exited {res.returncode}")


__all__ = [
    "GNUTLS_SYSTEM_TRUST",
    "GnuTLSClient",
    "ca_certificates_loaded",
    "interpret",
    "reason_for_gnutls_text",
    "tls_version_from_description",
]
