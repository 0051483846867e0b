"""The Node.js adapter: Node's own ``tls`` module (its bundled OpenSSL) in a subprocess.

The JavaScript lives in ``clients/node/probe.js``. One long-lived ``node probe.js --serve``
per environment serves the probes over JSON lines (clients/worker.py), each probe a fresh
``tls.connect`` (its own SecureContext and ``ca``, no session reuse); ``one_shot`` runs a
process per probe instead (arguments as one JSON object in argv, one JSON line out).
Trust: Node's bundled Mozilla store, extended by
``NODE_EXTRA_CA_CERTS`` (and replaced by OpenSSL's default paths under
``NODE_OPTIONS=--use-openssl-ca``); an explicit bundle is passed as the ``ca`` option,
which replaces the bundled store.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import weakref
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from tlsmatrix.clients._common import Outcome, late_outcome, outcome_for_signal, tls_version_name
from tlsmatrix.clients._subprocess import SubprocessAdapter, run_json_program, run_on_worker
from tlsmatrix.clients.base import ClientInfo, Reason, Target, Trust, TrustUsed
from tlsmatrix.clients.process import CommandResult, child_env
from tlsmatrix.clients.signals import node as node_signals
from tlsmatrix.clients.startup import heavy_share
from tlsmatrix.clients.worker import JsonLineWorker, WorkerFailed, WorkerPool

SCRIPT = Path(__file__).with_name("node") / "probe.js"

# Versions, plus whether this build uses OpenSSL's default CA store instead of the bundle.
VERSION_SCRIPT = (
    "JSON.stringify(Object.assign({}, process.versions, "
    "{openssl_use_def_ca_store: !!process.config.variables.openssl_use_def_ca_store}))"
)


def interpret(payload: Mapping[str, object]) -> Outcome:
    """Map the probe script's JSON line to an Outcome (pure; unit-tested): Node's
    ``err.code`` (and ``reason``/``library``, the verify constant in ``message`` for
    UNSPECIFIED) through signals/node.py."""
    protocol = payload.get("protocol")
    tls_version = tls_version_name(protocol) if isinstance(protocol, str) else None
    if payload.get("ok"):
        status = payload.get("status") or payload.get("message") or "handshake completed"
        return Outcome(Reason.OK, str(status), tls_version=tls_version)
    code = _text(payload.get("code"))
    message = _text(payload.get("message"))
    signal = node_signals.signal_for_node_error(
        code,
        message,
        reason=_text(payload.get("reason")),
        library=_text(payload.get("library")),
    )
    detail = f"{code}: {message}" if code else (message or "")
    if payload.get("secured"):
        return late_outcome(signal, detail, tls_version=tls_version)
    return outcome_for_signal(signal, detail, tls_version=tls_version)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


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

    def __init__(self, binary: str | None = None, *, one_shot: bool = False) -> None:
        super().__init__(binary)
        self.one_shot = one_shot
        self._workers = WorkerPool()
        ref = weakref.ref(self)  # the exit hook keeps no client alive
        atexit.register(lambda: (c := ref()) is not None and c.close())

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
            # tls.connect sets no X509_V_FLAG_PARTIAL_CHAIN (OpenSSL's default): an
            # anchor must be self-signed (tests/test_partial_chain.py measures it).
            partial_chain=False,
            tls_library="OpenSSL",
            # One long-lived worker serves the probes concurrently; a probe costs a few
            # milliseconds of its single thread, so its share of --jobs stays bounded.
            max_parallel=heavy_share(2.0),
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
        """One probe on the long-lived worker for this environment (``one_shot``: a
        process of its own, as before)."""
        env = child_env(trust)
        args = self.arguments(target, trust, timeout)
        if self.one_shot:
            argv = [path, str(SCRIPT), json.dumps(args)]
            return run_json_program(argv, timeout, env, interpret)
        return run_on_worker(self._worker(path, env), args, timeout, interpret)

    def warm(self, target: Target, trust: Trust) -> None:
        """Start the node worker that the first probe with ``trust`` will use, now (the
        runner's warm-up). A failure is the probe's to report."""
        path = self.path()
        if self.one_shot or path is None or not self.info().available:
            return
        with contextlib.suppress(WorkerFailed, OSError):
            self._worker(path, child_env(trust)).start()

    def _worker(self, path: str, env: dict[str, str]) -> JsonLineWorker:
        """The node process serving probes in ``env``."""
        argv = [path, str(SCRIPT), "--serve"]
        return self._workers.get(path, env, lambda: JsonLineWorker("node", argv, env))

    def close(self) -> None:
        self._workers.close()


__all__ = ["NodeClient", "interpret", "native_trust"]
