"""The Node.js adapter: Node's own ``tls`` module (its bundled OpenSSL) in a subprocess.

The JavaScript lives in ``clients/node/probe.js``; it gets its arguments as one JSON object
in argv and prints one JSON line. Trust: Node's bundled Mozilla store, extended by
``NODE_EXTRA_CA_CERTS`` (and replaced by OpenSSL's default paths under
``NODE_OPTIONS=--use-openssl-ca``); an explicit bundle is passed as the ``ca`` option,
which replaces the bundled store.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from tlsmatrix.clients._common import Outcome, reason_for_text, tls_version_name
from tlsmatrix.clients._subprocess import SubprocessAdapter, run_json_program
from tlsmatrix.clients.base import ClientInfo, Reason, Target, Trust, TrustUsed
from tlsmatrix.clients.process import CommandResult, child_env

SCRIPT = Path(__file__).with_name("node") / "probe.js"

# Node's err.code for certificate failures is OpenSSL's X509_V_ERR name: keep the number.
# (reason, OpenSSL verify code)
NODE_CERT_CODES: dict[str, tuple[Reason, int]] = {
    "UNABLE_TO_GET_ISSUER_CERT": (Reason.INCOMPLETE_CHAIN, 2),
    "UNABLE_TO_GET_ISSUER_CERT_LOCALLY": (Reason.INCOMPLETE_CHAIN, 20),
    "UNABLE_TO_VERIFY_LEAF_SIGNATURE": (Reason.INCOMPLETE_CHAIN, 21),
    "CERT_NOT_YET_VALID": (Reason.NOT_YET_VALID, 9),
    "CERT_HAS_EXPIRED": (Reason.EXPIRED, 10),
    "DEPTH_ZERO_SELF_SIGNED_CERT": (Reason.SELF_SIGNED, 18),
    "SELF_SIGNED_CERT_IN_CHAIN": (Reason.UNTRUSTED_ROOT, 19),
    "CERT_REVOKED": (Reason.REVOKED, 23),
    "HOSTNAME_MISMATCH": (Reason.HOSTNAME_MISMATCH, 62),
    "ERR_TLS_CERT_ALTNAME_INVALID": (Reason.HOSTNAME_MISMATCH, 62),
    "IP_ADDRESS_MISMATCH": (Reason.HOSTNAME_MISMATCH, 64),
    "EE_KEY_TOO_SMALL": (Reason.WEAK_KEY, 66),
    "CA_KEY_TOO_SMALL": (Reason.WEAK_KEY, 67),
    "CA_MD_TOO_WEAK": (Reason.WEAK_SIGNATURE, 68),
}

# Everything else Node says (system errors and OpenSSL error names).
NODE_OTHER_CODES: dict[str, Reason] = {
    "ECONNREFUSED": Reason.CONNECTION_REFUSED,
    "ENOTFOUND": Reason.DNS_FAILURE,
    "EAI_AGAIN": Reason.DNS_FAILURE,
    "EAI_FAIL": Reason.DNS_FAILURE,
    "ETIMEDOUT": Reason.TIMEOUT,
    "ERR_SSL_WRONG_VERSION_NUMBER": Reason.NOT_TLS,
    "ERR_SSL_PACKET_LENGTH_TOO_LONG": Reason.NOT_TLS,
    "ERR_SSL_RECORD_LAYER_FAILURE": Reason.NOT_TLS,
    "ERR_SSL_HTTP_REQUEST": Reason.NOT_TLS,
    "ERR_SSL_UNSUPPORTED_PROTOCOL": Reason.PROTOCOL_VERSION,
    "ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION": Reason.PROTOCOL_VERSION,
    "ERR_SSL_NO_PROTOCOLS_AVAILABLE": Reason.PROTOCOL_VERSION,
    "ECONNRESET": Reason.HANDSHAKE_FAILURE,
    "EPIPE": Reason.HANDSHAKE_FAILURE,
}


# Versions, plus whether this build uses OpenSSL's default CA store instead of the bundle.
VERSION_SCRIPT = (
    "JSON.stringify(Object.assign({}, process.versions, "
    "{openssl_use_def_ca_store: !!process.config.variables.openssl_use_def_ca_store}))"
)


def interpret(payload: Mapping[str, object]) -> Outcome:
    """Map the probe script's JSON line to a reason (pure; unit-tested)."""
    protocol = payload.get("protocol")
    tls_version = tls_version_name(protocol) if isinstance(protocol, str) else None
    if payload.get("ok"):
        status = payload.get("status") or payload.get("message") or "handshake completed"
        return Outcome(Reason.OK, str(status), tls_version=tls_version)
    code = str(payload.get("code") or "")
    message = str(payload.get("message") or "")
    detail = f"{code}: {message}" if code else message
    if code in NODE_CERT_CODES:
        reason, number = NODE_CERT_CODES[code]
        return Outcome(reason, detail, number, tls_version)
    if code in NODE_OTHER_CODES:
        return Outcome(NODE_OTHER_CODES[code], detail, tls_version=tls_version)
    if code == "EPROTO" or code.startswith("ERR_SSL_"):
        found = reason_for_text(message)
        return Outcome(found or Reason.HANDSHAKE_FAILURE, detail, tls_version=tls_version)
    found = reason_for_text(message)
    return Outcome(found or Reason.CLIENT_ERROR, detail, tls_version=tls_version)


def native_trust(env: Mapping[str, str], openssl_ca_by_default: bool = False) -> TrustUsed:
    """What Node trusts by default given ``env`` (and how this node was built: some
    distributions build it with --openssl-use-def-ca-store)."""
    options = env.get("NODE_OPTIONS", "").split()
    where = env.get("SSL_CERT_FILE") or env.get("SSL_CERT_DIR")
    if "--use-openssl-ca" in options:
        return TrustUsed("native", "NODE_OPTIONS=--use-openssl-ca (OpenSSL default paths)", where)
    if openssl_ca_by_default and "--use-bundled-ca" not in options:
        return TrustUsed("native", "OpenSSL default paths (node built to use them)", where)
    extra = env.get("NODE_EXTRA_CA_CERTS")
    if extra:
        return TrustUsed("native", "bundled Mozilla store + NODE_EXTRA_CA_CERTS", extra)
    return TrustUsed("native", "bundled Mozilla store", None)


class NodeClient(SubprocessAdapter):
    """Node's tls module as a subprocess. ``binary`` overrides the name looked up on PATH."""

    name = "node"
    default_binary = "node"
    package = "nodejs"
    version_args = ("-p", VERSION_SCRIPT)
    env_vars = ("NODE_EXTRA_CA_CERTS", "NODE_OPTIONS")

    def _versions(self) -> dict[str, object] | None:
        """What ``node -p VERSION_SCRIPT`` printed, or None."""
        result = self.version_output()
        if isinstance(result, str):
            return None
        try:
            versions = json.loads(result.stdout)
        except ValueError:
            return None
        return versions if isinstance(versions, dict) else None

    def native_trust(self) -> TrustUsed:
        # some distributions build node to use OpenSSL's store instead of the bundled one
        openssl_ca = bool((self._versions() or {}).get("openssl_use_def_ca_store"))
        return native_trust(os.environ, openssl_ca)

    def describe(self) -> ClientInfo:
        return replace(
            super().describe(),
            # Node runs OpenSSL at security level 1: RSA-1024 passes, SHA-1 does not.
            min_rsa_bits=1024,
            tls_library="OpenSSL",
        )

    def missing(self) -> str | None:
        return None if SCRIPT.is_file() else f"probe script missing: {SCRIPT}"

    def read_version(self, result: CommandResult, info: ClientInfo) -> ClientInfo:
        versions = self._versions()
        if versions is None:
            return self.version_failed(info, result)
        node, openssl = versions.get("node"), versions.get("openssl")
        return replace(
            info,
            available=True,
            version=node if isinstance(node, str) else None,
            tls_library_version=openssl if isinstance(openssl, str) else None,
            notes=("the ca option (explicit bundle) replaces the bundled store",),
        )

    def arguments(self, target: Target, trust: Trust, timeout: float) -> dict[str, object]:
        """The JSON object handed to probe.js (public so tests can read it)."""
        return {
            "address": target.address,
            "port": target.port,
            "host": target.ascii_host,
            "servername": None if target.is_ip else target.ascii_host,  # no IP in SNI
            "path": target.path,
            "ca": None if trust.is_native else trust.path,
            # Leave the script time to report before the outer deadline kills it.
            "timeout_ms": max(100, int(timeout * 1000 * 0.9) - 100),
        }

    def run(self, path: str, target: Target, trust: Trust, timeout: float) -> Outcome:
        argv = [path, str(SCRIPT), json.dumps(self.arguments(target, trust, timeout))]
        return run_json_program(argv, timeout, child_env(trust), interpret)


__all__ = ["NODE_CERT_CODES", "NODE_OTHER_CODES", "NodeClient", "interpret", "native_trust"]
