"""Serving the user's own files on 127.0.0.1 and running the matrix against them.

The files are written only into a private temporary directory (mode 0700, files 0600)
that is removed when serving ends, whatever happens. Each name to check becomes a target
``https://NAME:PORT`` that connects to 127.0.0.1 (the ``--resolve`` mechanism), so every
client sends SNI for NAME and checks NAME, as it will once the files are deployed."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tlsmatrix.clients.base import Client, ClientInfo, Observation, Target
from tlsmatrix.errors import UsageError
from tlsmatrix.preflight.inputs import Material
from tlsmatrix.results.model import RunResult
from tlsmatrix.runner.matrix import TrustPlan, run_matrix
from tlsmatrix.runner.pool import BrokenClient, collect_infos
from tlsmatrix.runner.targets import apply_resolve, parse_target

LOOPBACK = "127.0.0.1"
SERVERS = ("python", "nginx")


@contextlib.contextmanager
def private_dir() -> Iterator[Path]:
    """A directory only this user can enter, removed with everything in it afterwards."""
    path = Path(tempfile.mkdtemp(prefix="tlsmatrix-preflight-"))
    try:
        os.chmod(path, 0o700)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def write_private(path: Path, data: bytes) -> str:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return str(path)


@contextlib.contextmanager
def serving(material: Material, directory: Path, server: str = "python") -> Iterator[int]:
    """Serve ``material`` (body, then chain, with its key) on 127.0.0.1; yields the port.
    Raises UsageError when the server cannot load the files or nginx cannot start."""
    chain = write_private(directory / "fullchain.pem", material.chain_pem())
    key = write_private(directory / "key.pem", material.key_pem())
    if server == "nginx":
        from tlsmatrix.lab.nginx import NginxError, NginxServer

        place = directory / "nginx"
        place.mkdir(mode=0o700)
        nginx = NginxServer([("preflight", chain, key)], place, host=LOOPBACK)
        try:
            nginx.start()
        except NginxError as exc:
            raise UsageError(f"--server nginx: {' '.join(str(exc).split())[:300]}") from None
        try:
            yield nginx.ports["preflight"]
        finally:
            nginx.stop()
        return
    import ssl

    from tlsmatrix.lab.tlsserver import TLSServer

    try:
        python = TLSServer(chain, key, host=LOOPBACK)
    except (ssl.SSLError, OSError) as exc:
        raise UsageError(f"the files cannot be served: {exc}") from None
    with python:
        yield python.port


def targets_for(names: Sequence[str], port: int) -> list[Target]:
    """``https://NAME:PORT`` for each name, connecting to 127.0.0.1."""
    targets = []
    for name in names:
        target = parse_target(f"[{name}]:{port}" if ":" in name else f"{name}:{port}")
        targets += apply_resolve([target], [(target.host, port, LOOPBACK)])
    return targets


class HeldBack(BrokenClient):
    """A client that would download a missing issuer from the internet (AIA), kept from
    doing so offline: its row says why it was not run (as a BrokenClient's does) instead
    of a verdict it would reach only with the network. Its info is the real client's."""

    def __init__(self, client: Client, detail: str) -> None:
        super().__init__(client.name, detail)
        self._client = client

    def info(self) -> ClientInfo:
        return self._client.info()


def offline_aia_note(urls: Sequence[str]) -> str | None:
    """Why an AIA-fetching client is not run, or None when its downloads would stay on
    this machine (no URL, or only loopback URLs)."""
    remote = [u for u in urls if (urlsplit(u).hostname or "") not in ("127.0.0.1", "::1")]
    if not remote:
        return None
    return (
        f"AIA needs the network: this client would download the missing issuer from "
        f"{remote[0]}; not fetched offline (--allow-network lets it)"
    )


def hold_back_aia(
    clients: Sequence[Client], infos: dict[str, ClientInfo], note: str | None
) -> list[Any]:
    """The clients, with those that fetch AIA replaced by :class:`HeldBack` when ``note``
    says their fetch would leave the machine."""
    if note is None:
        return list(clients)
    return [
        HeldBack(c, note) if infos.get(c.name) and infos[c.name].fetches_aia else c for c in clients
    ]


def run_served(
    material: Material,
    names: Sequence[str],
    clients: Sequence[Client],
    *,
    trust: TrustPlan,
    server: str = "python",
    timeout: float = 10.0,
    jobs: int = 8,
    aia_urls: Sequence[str] = (),
    allow_network: bool = False,
    progress: Callable[[int, int, Observation], None] | None = None,
) -> RunResult:
    """Serve the files from a private directory and run every client against each name."""
    note = None if allow_network else offline_aia_note(aia_urls)
    if note is not None:
        clients = hold_back_aia(clients, collect_infos(clients), note)
    with private_dir() as directory, serving(material, directory, server) as port:
        return run_matrix(
            targets_for(names, port),
            clients,
            trust=trust,
            timeout=timeout,
            jobs=jobs,
            progress=progress,
            # tlsmatrix's own AIA downloads (for the diagnosis) stay offline too, unless
            # every URL is on this machine or the user allowed the network.
            fetch_aia=note is None,
            # CRL and OCSP URLs name the CA's servers: offline, tlsmatrix asks none of them.
            fetch_revocation=allow_network,
        )
