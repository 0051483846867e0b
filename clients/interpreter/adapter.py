"""``NAME@INTERPRETER``: a Python client library run under another Python, as a subprocess.

``prepare()`` (called by ``tlsmatrix.clients.load``) finds the interpreter and provisions
the adapter's private venv, outside any probe's deadline. ``info()`` asks the probe script
what it runs on: Python and OpenSSL versions and the verify flags of the context the
library really builds, from which ``partial_chain``/``strict_x509`` are set (measured, not
derived from a version number). ``probe()`` runs probe.py once and maps its JSON line.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tlsmatrix.clients._common import (
    Outcome,
    child_env,
    explicit_trust,
    observe,
    observe_outcome,
    run_command,
    run_json_program,
    trust_from_env,
)
from tlsmatrix.clients.base import ClientInfo, Observation, Reason, Target, Trust, TrustUsed
from tlsmatrix.clients.interpreter import provision
from tlsmatrix.clients.interpreter.discovery import Interpreter, InterpreterNotFound, resolve
from tlsmatrix.clients.interpreter.outcome import interpret

SCRIPT = Path(__file__).with_name("probe.py")
X509_STRICT = 0x20
PARTIAL_CHAIN = 0x80000
INFO_TIMEOUT_S = 30.0

# adapter -> variables that redirect its native trust, in precedence order.
ENV_VARS: dict[str, tuple[str, ...]] = {
    "stdlib": ("SSL_CERT_FILE", "SSL_CERT_DIR"),
    "urllib3": ("SSL_CERT_FILE", "SSL_CERT_DIR"),
    "requests": ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"),
    "httpx": ("SSL_CERT_FILE", "SSL_CERT_DIR"),
    "pyopenssl": ("SSL_CERT_FILE", "SSL_CERT_DIR"),
}
ADAPTERS = tuple(ENV_VARS)


class InterpreterClient:
    """``adapter`` (stdlib, requests, urllib3, httpx, pyopenssl) under the Python that
    ``spec`` names; ``name`` is the full ``NAME@INTERPRETER`` as the user typed it."""

    kind = "subprocess"

    def __init__(self, name: str, adapter: str, spec: str, cache: Path | None = None) -> None:
        self.name = name
        self.adapter = adapter
        self.spec = spec
        self.cache = cache
        self._lock = threading.Lock()
        self._prepared = False
        self._python: str | None = None  # what runs probe.py: the venv's or the interpreter
        self._interpreter: Interpreter | None = None
        self._unavailable: str | None = None
        self._info: ClientInfo | None = None
        self._payload: dict[str, Any] = {}
        self.provisioned: provision.Provisioned | None = None

    # --- preparing (once, outside any probe) ---------------------------------------------

    def prepare(self, install: bool = True) -> None:
        """Find the interpreter and the venv; with ``install``, build the venv if missing."""
        with self._lock:
            if self._prepared:
                return
            try:
                self._interpreter = resolve(self.spec)
                req = provision.requirements_for(self.adapter, self._interpreter)
                if isinstance(req, str):
                    self._unavailable = req
                elif not req.needs_venv:
                    self._python = self._interpreter.path
                else:
                    if install:
                        ready = provision.provision(self._interpreter, req, self.cache)
                    else:
                        ready = provision.find_ready(self._interpreter, req, self.cache)
                    if ready is None:
                        self._unavailable = "its venv is not provisioned yet"
                    else:
                        self.provisioned = ready
                        self._python = ready.python
            except (InterpreterNotFound, provision.ProvisionError) as exc:
                self._unavailable = str(exc)
            self._prepared = True

    # --- info ------------------------------------------------------------------------------

    def info(self) -> ClientInfo:
        if self._info is None:
            self.prepare()
            self._info = self._build_info()
        return self._info

    def _base(self) -> dict[str, Any]:
        return {"name": self.name, "kind": "subprocess", "env_vars": ENV_VARS[self.adapter]}

    def _build_info(self) -> ClientInfo:
        if self._python is None:
            return ClientInfo(
                available=False,
                unavailable_reason=self._unavailable or "not prepared",
                **self._base(),
            )
        argv = [
            self._python,
            "-I",
            str(SCRIPT),
            json.dumps({"mode": "info", "adapter": self.adapter}),
        ]
        try:
            res = run_command(argv, INFO_TIMEOUT_S, env=child_env(Trust()))
        except OSError as exc:
            return ClientInfo(
                available=False, unavailable_reason=f"cannot run: {exc}", **self._base()
            )
        payload = _last_json(res.stdout)
        if payload is None or "errors" in payload:
            why = (
                _error_line(payload) if payload else (res.stderr.strip().splitlines() or ["?"])[-1]
            )
            return ClientInfo(
                available=False,
                unavailable_reason=f"{self.adapter} does not load under {self._python}: {why}",
                **self._base(),
            )
        self._payload = payload
        return info_from_payload(self.name, self.adapter, payload, os.environ)

    # --- probing ---------------------------------------------------------------------------

    def native_trust(self, env: Mapping[str, str]) -> TrustUsed:
        return native_trust(self.adapter, self._payload, env)

    def arguments(self, target: Target, trust: Trust, timeout: float) -> dict[str, Any]:
        """The JSON object handed to probe.py (public so tests can read it)."""
        return {
            "adapter": self.adapter,
            "address": target.address,
            "port": target.port,
            "host": target.ascii_host,
            "is_ip": target.is_ip,
            "host_header": target.host_header,
            "path": target.path,
            "connect_url": target.connect_url,
            "cafile": None if trust.is_native else trust.path,
            # Leave the script time to report before the outer deadline kills it.
            "timeout": max(0.1, timeout * 0.9 - 0.1),
        }

    def probe(self, target: Target, trust: Trust, timeout: float) -> Observation:
        started = time.monotonic()
        env = child_env(trust)
        self.prepare(install=False)  # never installs: load() did, or it is unavailable
        if trust.is_native and self._python is not None and not self._payload:
            self.info()
        used = self.native_trust(env) if trust.is_native else explicit_trust(trust)
        if self._python is None:
            return observe(
                target,
                self.name,
                Reason.CLIENT_UNAVAILABLE,
                detail=self._unavailable or "not prepared",
                started=started,
                trust=used,
            )
        argv = [
            self._python,
            "-I",  # no script directory, user site or PYTHON* variables on sys.path
            str(SCRIPT),
            json.dumps(self.arguments(target, trust, timeout)),
        ]
        outcome: Outcome = run_json_program(argv, timeout, env, interpret)
        return observe_outcome(target, self.name, outcome, started=started, trust=used)


def info_from_payload(
    name: str, adapter: str, payload: Mapping[str, Any], env: Mapping[str, str]
) -> ClientInfo:
    """ClientInfo from the probe's info line: versions, and the policy its MEASURED verify
    flags imply (pure; unit-tested)."""
    python = f"{payload.get('implementation') or 'Python'} {payload.get('python')}"
    python = python.replace("CPython", "Python")
    library = payload.get("library_version")
    version = f"{python}, {library}" if library else python
    tls_library = str(payload.get("tls_library_version") or payload.get("ssl_openssl") or "")
    flags = payload.get("verify_flags")
    measured = isinstance(flags, int)
    notes = [f"runs under {payload.get('executable')}"]
    notes.append(
        f"verify flags 0x{flags:x} (measured)" if measured else "verify flags not readable"
    )
    if adapter == "pyopenssl":
        notes.append("no host name check of its own: service-identity checks it")
    return ClientInfo(
        name=name,
        available=True,
        version=version,
        tls_library=tls_library.split()[0] if tls_library else None,
        tls_library_version=tls_library or None,
        native_trust=native_trust(adapter, payload, env),
        env_vars=ENV_VARS[adapter],
        fetches_aia=False,
        kind="subprocess",
        notes=tuple(notes),
        partial_chain=measured and bool(flags & PARTIAL_CHAIN),
        strict_x509=measured and bool(flags & X509_STRICT),
    )


def native_trust(adapter: str, payload: Mapping[str, Any], env: Mapping[str, str]) -> TrustUsed:
    """What ``adapter`` trusts by default under that interpreter, given ``env``."""
    if adapter in ("requests", "httpx"):
        default = TrustUsed("native", "certifi", payload.get("certifi"))
        return trust_from_env(env, ENV_VARS[adapter], default)
    if adapter == "pyopenssl":
        default = TrustUsed(
            "native",
            "set_default_verify_paths (its OpenSSL's default)",
            payload.get("default_cert_file"),
        )
        return trust_from_env(env, ENV_VARS[adapter], default)
    paths = payload.get("default_paths") or {}
    for var_key in ("cafile_env", "capath_env"):
        var = paths.get(var_key)
        if isinstance(var, str) and env.get(var):
            return TrustUsed("native", var, env[var])
    where = paths.get("cafile") or paths.get("capath") or paths.get("openssl_cafile")
    return TrustUsed("native", "OpenSSL default paths", where)


def _last_json(text: str) -> dict[str, Any] | None:
    from tlsmatrix.clients._common import last_json_line

    return last_json_line(text)


def _error_line(payload: Mapping[str, Any]) -> str:
    errors = payload.get("errors") or [{}]
    first = errors[0] if isinstance(errors[0], Mapping) else {}
    return f"{first.get('class', 'error')}: {first.get('message', '')}".strip()
