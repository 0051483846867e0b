from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import pytest
from tlsmatrix.clients.base import TRUST_ENV_VARS
from tlsmatrix.lab.tlsserver import TLSServer

from tests.hostile_servers import Silent
from tests.pki import CorePKI, make_pki

if TYPE_CHECKING:
    from tlsmatrix.clients.base import Client

# Variables that redirect some client's trust or route (the one list, in clients.base).
# This machine sets several of them; every test starts without them and sets what it
# means to test.
CLEARED_ENV = TRUST_ENV_VARS


def in_ci() -> bool:
    """True under CI (``CI=true``), where every client-specific test must run."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def missing(reason: str) -> None:
    """Something a client-specific test needs is not here: skip locally, FAIL under CI, so a
    CI image without the client cannot pass by skipping."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: client-specific tests may not skip)", pytrace=False)
    pytest.skip(reason)


def require_binary(name: str) -> str:
    """The path of ``name`` on PATH; when it is absent the test skips (fails under CI)."""
    path = shutil.which(name)
    if path is None:
        missing(f"{name} is not installed")
    return path  # type: ignore[return-value]


def needs(available: bool, reason: str) -> pytest.MarkDecorator:
    """A mark (for ``pytestmark`` or a decorator): without ``available`` the test skips
    with ``reason`` locally and fails under CI (checked at setup, see the hook below)."""
    return pytest.mark.tlsmatrix_needs(available=available, reason=reason)


def needs_binary(name: str) -> pytest.MarkDecorator:
    return needs(shutil.which(name) is not None, f"{name} is not installed")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "tlsmatrix_needs(available, reason): skip locally / fail under CI"
    )


def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers("tlsmatrix_needs"):
        if not mark.kwargs["available"]:
            missing(mark.kwargs["reason"])


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CLEARED_ENV:
        monkeypatch.delenv(name, raising=False)


@contextlib.contextmanager
def loaded_adapters(names: Iterable[str], required: bool = False) -> Iterator[dict[str, Client]]:
    """The named adapters whose client is available here; each is closed at the end.
    With ``required`` every one must be available (the Python clients ship with tlsmatrix)."""
    from tlsmatrix import clients

    loaded = {name: clients.load(name) for name in names}
    try:
        infos = {name: a.info() for name, a in loaded.items()}
        if required:
            missing = {n: i.unavailable_reason for n, i in infos.items() if not i.available}
            assert not missing, f"unavailable: {missing}"
        yield {name: a for name, a in loaded.items() if infos[name].available}
    finally:
        for adapter in loaded.values():
            close = getattr(adapter, "close", None)
            if callable(close):
                close()


def clean_environ(**extra: str) -> dict[str, str]:
    """os.environ without the trust/proxy variables, plus ``extra``: for subprocesses."""
    env = {k: v for k, v in os.environ.items() if k not in CLEARED_ENV}
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> CorePKI:
    return make_pki(str(tmp_path_factory.mktemp("pki")))


@pytest.fixture(scope="session")
def servers(pki: CorePKI) -> Iterator[dict[str, TLSServer]]:
    """One running server per test chain, on 127.0.0.1, for the whole session."""
    running = {name: TLSServer(s.chain, s.key).start() for name, s in pki.chains.items()}
    yield running
    for server in running.values():
        server.stop()


@pytest.fixture
def silent_server() -> Iterator[Silent]:
    """A loopback port that accepts TCP connections and never says a word."""
    with Silent() as server:
        yield server
