"""The one list of trust-related environment variables (clients.base.TRUST_ENV_VARS):
every adapter's variables are in it, and the subprocess environment follows it."""

from __future__ import annotations

import importlib

import pytest
from tlsmatrix import clients
from tlsmatrix.clients.base import PROXY_ENV_VARS, TRUST_ENV_VARS, Trust
from tlsmatrix.clients.process import child_env


def _adapter_class(name: str) -> type:
    module, _, attr = clients.BUILTIN[name].partition(":")
    return getattr(importlib.import_module(module), attr)


@pytest.mark.parametrize("name", list(clients.BUILTIN))
def test_every_adapters_env_vars_are_in_the_one_list(name: str) -> None:
    declared = getattr(_adapter_class(name), "env_vars", ())
    reported = clients.load(name).info().env_vars
    assert set(declared) <= set(TRUST_ENV_VARS), name
    assert set(reported) <= set(TRUST_ENV_VARS), name


def test_the_list_names_what_the_reports_must_show() -> None:
    assert len(set(TRUST_ENV_VARS)) == len(TRUST_ENV_VARS)
    for var in (
        "GIT_SSL_CAINFO",
        "JDK_JAVA_OPTIONS",
        "JAVA_TOOL_OPTIONS",
        "WGETRC",
        "NODE_OPTIONS",
        "NODE_EXTRA_CA_CERTS",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        *PROXY_ENV_VARS,
    ):
        assert var in TRUST_ENV_VARS, var


def test_child_env_follows_the_list() -> None:
    base = {var: "/somewhere.invalid" for var in TRUST_ENV_VARS} | {"PATH": "/usr/bin"}
    native = child_env(Trust.native(), base)
    bundle = child_env(Trust.bundle("/ca.pem"), base)
    for env in (native, bundle):
        assert env["PATH"] == "/usr/bin"
        assert not set(PROXY_ENV_VARS) & set(env)  # probes never go through a proxy
    assert native["SSL_CERT_FILE"] == native["NODE_EXTRA_CA_CERTS"] == "/somewhere.invalid"
    # an explicit bundle means that file: what redirects trust is gone, whole option sets
    # stay (the adapters override trust on the command line: wget --no-config, Java)
    assert set(bundle) == {"PATH", "WGETRC", "JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS"}
