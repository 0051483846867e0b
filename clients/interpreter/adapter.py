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
import re
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tlsmatrix.clients._common import Outcome, observe, observe_outcome
from tlsmatrix.clients._subprocess import run_json_program
from tlsmatrix.clients._trust import explicit_trust, trust_from_env
from tlsmatrix.clients.base import ClientInfo, Observation, Reason, Target, Trust, TrustUsed
from tlsmatrix.clients.interpreter import provision
from tlsmatrix.clients.interpreter.discovery import Interpreter, InterpreterNotFound, resolve
from tlsmatrix.clients.interpreter.outcome import interpret
from tlsmatrix.clients.process import child_env, run_command

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

    @classmethod
    def under_running_python(cls, adapter: str) -> InterpreterClient:
        """``adapter`` as a script under the Python running tlsmatrix, with the libraries
        tlsmatrix itself imports (no venv): the in-process client, in a process of its own
        (``--at`` moves that process's clock)."""
        client = cls(adapter, adapter, sys.executable)
        client._python = sys.executable
        client._prepared = True
        return client

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
                    if ready is None:  # a probe before load(): say so, install later
                        self._unavailable = "its venv is not provisioned yet (load() does it)"
                        return
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
        default_file = payload.get("default_cert_file")
        fallback = payload.get("ca_file_candidates")
        if isinstance(default_file, str) and not os.path.exists(default_file) and not fallback:
            notes.append(
                f"its OpenSSL's default CA file {default_file} does not exist here: native "
                "trust is empty unless SSL_CERT_FILE or SSL_CERT_DIR is set"
            )
    policy = key_policy(payload.get("security_level"), tls_library)
    if not policy:
        notes.append(
            "OpenSSL security level not readable: the RSA/SHA-1 policy shown is tlsmatrix's "
            "default (OpenSSL 3, level 2), not measured"
        )
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
        **policy,
    )


# OpenSSL security level -> the smallest RSA key it accepts.
LEVEL_RSA_BITS = {0: 0, 1: 1024, 2: 2048, 3: 3072, 4: 7680, 5: 15360}


def key_policy(level: object, library: str) -> dict[str, Any]:
    """min_rsa_bits/rejects_sha1 from the context's measured security level. OpenSSL 3
    counts SHA-1 as under 80 bits (refused from level 1); 1.1 refuses it from level 2."""
    if not isinstance(level, int) or level not in LEVEL_RSA_BITS:
        return {}
    match = re.search(r"OpenSSL (\d+)\.", library)
    major = int(match.group(1)) if match else 3
    return {
        "min_rsa_bits": LEVEL_RSA_BITS[level],
        "rejects_sha1": level >= 2 or (level >= 1 and major >= 3),
    }


def native_trust(adapter: str, payload: Mapping[str, Any], env: Mapping[str, str]) -> TrustUsed:
    """What ``adapter`` trusts by default under that interpreter, given ``env``."""
    if adapter in ("requests", "httpx"):
        default = TrustUsed("native", "certifi", payload.get("certifi"))
        return trust_from_env(env, ENV_VARS[adapter], default)
    if adapter == "pyopenssl":
        where = payload.get("default_cert_file")
        origin = "set_default_verify_paths (its OpenSSL's default)"
        candidates = payload.get("ca_file_candidates") or ()
        if not (isinstance(where, str) and os.path.exists(where)):
            found = next((c for c in candidates if isinstance(c, str) and os.path.exists(c)), None)
            if found:
                where, origin = found, "set_default_verify_paths (system CA file fallback)"
        return trust_from_env(env, ENV_VARS[adapter], TrustUsed("native", origin, where))
    paths = payload.get("default_paths") or {}
    for var_key in ("cafile_env", "capath_env"):
        var = paths.get(var_key)
        if isinstance(var, str) and env.get(var):
            return TrustUsed("native", var, env[var])
    where = paths.get("cafile") or paths.get("capath") or paths.get("openssl_cafile")
    return TrustUsed("native", "OpenSSL default paths", where)


def _last_json(text: str) -> dict[str, Any] | None:
    from tlsmatrix.clients.process import last_json_line

    return last_json_line(text)


def _error_line(payload: Mapping[str, Any]) -> str:
    errors = payload.get("errors") or [{}]
    first = errors[0] if isinstance(errors[0], Mapping) else {}
    return f"{first.get('class', 'error')}: {first.get('message', '')}".strip()
