from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator

import pytest
from tlsmatrix.clients.base import TRUST_ENV_VARS
from tlsmatrix.lab.tlsserver import TLSServer

from tests.pki import CorePKI, make_pki

# Variables that redirect some client's trust or route (the one list, in clients.base).
# This machine sets several of them; every test starts without them and sets what it
# means to test.
CLEARED_ENV = TRUST_ENV_VARS


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CLEARED_ENV:
        monkeypatch.delenv(name, raising=False)


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


class SilentServer:
    """Accepts TCP connections and never says a word (until stopped)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    def close(self) -> None:
        self._stop.set()
        self.sock.close()
        for conn in self.conns:
            conn.close()


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()
