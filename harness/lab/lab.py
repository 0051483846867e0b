"""The running lab: AIA server, generated PKI and one HTTPS server per scenario.

``with Lab() as lab:`` starts the AIA server on loopback, generates the PKI naming its URL,
writes the trust profiles and starts one server per scenario on 127.0.0.1 (Python's
:class:`tlsmatrix.lab.tlsserver.TLSServer`, or real nginx with ``server="nginx"``). On exit
everything is stopped and the private directory (keys included) removed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from tlsmatrix.clients.base import Target
from tlsmatrix.lab.scenarios import CATALOGUE, Catalogue, ClientProps, Expectation, Scenario

if TYPE_CHECKING:
    from tlsmatrix.lab.aia import AIAServer
    from tlsmatrix.lab.nginx import NginxServer
    from tlsmatrix.lab.pki import PKI
    from tlsmatrix.lab.tlsserver import TLSServer

ServerKind = Literal["python", "nginx"]
LAB_HOST = "localhost"  # resolves to loopback by itself
SERVER_KINDS: tuple[ServerKind, ...] = ("python", "nginx")


def lab_target(host: str, port: int) -> Target:
    """Where a scenario is reached: served on loopback, also when it is named for another
    host (partial_wildcard), in process and under compose (which shares nginx's loopback)."""
    connect_to = None if host == LAB_HOST else "127.0.0.1"
    return Target(host=host, port=port, connect_to=connect_to)


@dataclass(frozen=True)
class RunningScenario:
    """A scenario being served: ``url`` is ``https://localhost:PORT/``; ``chain_file`` and
    ``key_file`` are what the server was given; ``fingerprints`` the SHA-256 (hex) of each
    certificate it sends, in order."""

    name: str
    url: str
    host: str
    port: int
    scenario: Scenario
    chain_file: str
    key_file: str
    fingerprints: tuple[str, ...]

    @property
    def target(self) -> Target:
        return lab_target(self.host, self.port)

    def expect(self, props: ClientProps) -> Expectation:
        return self.scenario.expect(props)


class Lab:
    """The broken-chain lab. ``scenarios`` selects scenario ids (all when None); ``server``
    is "python" or "nginx"; ``aia_log_file`` also writes the AIA log as JSON lines;
    ``max_hang`` bounds how long the hung AIA path holds a connection; ``first_port``
    serves scenario i (catalogue order) on ``first_port + i`` instead of free ports.

    Raises KeyError for an unknown scenario, ValueError for an unknown server kind and
    :class:`tlsmatrix.lab.nginx.NginxError` when nginx cannot run."""

    def __init__(
        self,
        scenarios: Sequence[str] | None = None,
        *,
        server: ServerKind = "python",
        aia_log_file: str | Path | None = None,
        max_hang: float = 60.0,
        catalogue: Catalogue = CATALOGUE,
        first_port: int | None = None,
    ) -> None:
        if server not in SERVER_KINDS:
            raise ValueError(f"unknown server kind {server!r}; one of {SERVER_KINDS}")
        self.server_kind: ServerKind = server
        self._selected: list[Scenario] = catalogue.select(scenarios)
        self._aia_log_file = aia_log_file
        self._max_hang = max_hang
        self._first_port = first_port
        self._stack = contextlib.ExitStack()
        self._running: list[RunningScenario] = []
        # Set by start(); a Lab is used inside ``with`` only.
        self.aia: AIAServer = None  # type: ignore[assignment]
        self.pki: PKI = None  # type: ignore[assignment]
        self.nginx: NginxServer | None = None
        self.started = False

    # --- public view ------------------------------------------------------------------

    @property
    def scenarios(self) -> list[RunningScenario]:
        """The running scenarios, in catalogue order."""
        return list(self._running)

    def scenario(self, name: str) -> RunningScenario:
        for running in self._running:
            if running.name == name:
                return running
        raise KeyError(f"scenario {name!r} is not running in this lab")

    @property
    def trust_profiles(self) -> dict[str, str]:
        """{"certifi-like": path, "workstation": path, "intermediate-only": path}: the two
        lab-run profiles and the partial-chain story's store (see tlsmatrix.lab.pki)."""
        self._require_started()
        return {k: str(v) for k, v in self.pki.trust_profiles.items()}

    @property
    def directory(self) -> Path:
        self._require_started()
        return self.pki.directory

    def _require_started(self) -> None:
        if not self.started:
            raise RuntimeError("the lab is not running (use it as a context manager)")

    # --- life -------------------------------------------------------------------------

    def start(self) -> Lab:
        from tlsmatrix.lab.aia import AIAServer
        from tlsmatrix.lab.pki import PKI

        try:
            self.aia = AIAServer(max_hang=self._max_hang, log_file=self._aia_log_file)
            self._stack.callback(self.aia.stop)
            self.aia.start()
            self.pki = PKI(self.aia.url)
            self._stack.callback(self.pki.close)
            self.aia.publish_all(self.pki.material.http_files())
            if self.server_kind == "nginx":
                self._start_nginx()
            else:
                self._start_python()
        except BaseException:
            self._stack.close()
            raise
        self.started = True
        return self

    def _files(self, sc: Scenario) -> tuple[str, str]:
        chain = self.pki.chain_path(sc.chain, label=f"scenario-{sc.name}")
        return str(chain), str(self.pki.key_path(sc.key))

    def _record(self, sc: Scenario, port: int, chain: str, key: str) -> RunningScenario:
        return RunningScenario(
            name=sc.name,
            url=f"https://{sc.hostname}:{port}/",
            host=sc.hostname,
            port=port,
            scenario=sc,
            chain_file=chain,
            key_file=key,
            fingerprints=tuple(self.pki.fingerprint(n) for n in sc.chain),
        )

    def _start_python(self) -> None:
        from tlsmatrix.lab.tlsserver import TLSServer

        for i, sc in enumerate(self._selected):
            chain, key = self._files(sc)
            port = 0 if self._first_port is None else self._first_port + i
            server = TLSServer(chain, key, host="127.0.0.1", port=port)
            self._stack.callback(_stop_tls_server, server)
            server.start()
            self._running.append(self._record(sc, server.port, chain, key))

    def _start_nginx(self) -> None:
        from tlsmatrix.lab.nginx import NginxServer

        files = {sc.name: self._files(sc) for sc in self._selected}
        work = self.pki.directory / "nginx"
        work.mkdir(mode=0o700)
        sites = [(n, c, k) for n, (c, k) in files.items()]
        nginx = NginxServer(sites, work, first_port=self._first_port)
        self._stack.callback(nginx.stop)
        nginx.start()
        self.nginx = nginx
        for sc in self._selected:
            chain, key = files[sc.name]
            self._running.append(self._record(sc, nginx.ports[sc.name], chain, key))

    def close(self) -> None:
        """Stop every server and remove the private directory; idempotent."""
        self._running = []
        self.started = False
        self._stack.close()

    def __enter__(self) -> Lab:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def _stop_tls_server(server: TLSServer) -> None:
    """Stop a TLSServer at once. Closing a listening socket does not wake a thread blocked
    in accept() on Linux, so TLSServer.stop() alone waits out its 2 s join; shutting the
    socket down first wakes it. (TLSServer.stop could do this itself.)"""
    import socket

    with contextlib.suppress(OSError):
        server._sock.shutdown(socket.SHUT_RDWR)
    server.stop()
