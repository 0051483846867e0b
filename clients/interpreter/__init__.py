"""``NAME@INTERPRETER``: run a Python client (stdlib, requests, urllib3, httpx, pyopenssl)
under another Python interpreter, in a private cached venv pinned to what it supports.

probe.py is the script that runs under that interpreter (Python 3.6+, no tlsmatrix import);
adapter.py drives it; discovery.py finds interpreters; provision.py builds the venvs;
outcome.py maps the probe's structured fields to reasons.
"""

from __future__ import annotations

from tlsmatrix.clients.interpreter.adapter import ADAPTERS, InterpreterClient
from tlsmatrix.clients.interpreter.discovery import (
    Interpreter,
    InterpreterNotFound,
    discover,
    resolve,
)


def split_name(name: str) -> tuple[str, str] | None:
    """``("requests", "3.6")`` for ``requests@3.6``; None when ``name`` has no ``@``."""
    adapter, sep, spec = name.partition("@")
    return (adapter, spec) if sep else None


def check_name(name: str) -> str | None:
    """None when ``name`` is a usable ``NAME@INTERPRETER``, else a one-line reason.

    The interpreter must exist; whether it is recent enough for the library is not a
    usage error: the client is then listed as unavailable, saying why."""
    parts = split_name(name)
    if parts is None:
        return f"{name!r} is not NAME@INTERPRETER"
    adapter, spec = parts
    if adapter not in ADAPTERS:
        return f"{adapter!r} cannot run under another Python (choose from {', '.join(ADAPTERS)})"
    try:
        resolve(spec)
    except InterpreterNotFound as exc:
        return str(exc)
    return None


def load(name: str) -> InterpreterClient:
    """The client for ``NAME@INTERPRETER``, prepared: its venv provisioned if needed (a
    failure is kept and shown by info() as unavailable, never raised)."""
    parts = split_name(name)
    if parts is None or parts[0] not in ADAPTERS:
        raise KeyError(name)
    client = InterpreterClient(name, parts[0], parts[1])
    client.prepare()
    return client


__all__ = [
    "ADAPTERS",
    "Interpreter",
    "InterpreterClient",
    "InterpreterNotFound",
    "check_name",
    "discover",
    "load",
    "resolve",
    "split_name",
]
