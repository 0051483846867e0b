"""Serving the corpus on loopback and running clients over it.

Every case gets its own :class:`tlsmatrix.lab.tlsserver.TLSServer` on 127.0.0.1. Cases are
run through :func:`tlsmatrix.runner.matrix.run_matrix` (so chain capture, reason refinement
and explanations are the product's own), one matrix per distinct trust bundle, since a
TrustPlan gives one bundle per client and the corpus needs one per case.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tlsmatrix.clients.base import Client, Observation, Target
from tlsmatrix.lab.corpus.model import Case, Corpus
from tlsmatrix.lab.corpus.score import CorpusCell, CorpusRun, Mismatch, score_cells
from tlsmatrix.results.model import RunResult

__all__ = ["CorpusCell", "CorpusRun", "Mismatch", "ServedCase", "run_corpus", "serve_corpus"]


@dataclass(frozen=True)
class ServedCase:
    """A case on loopback: ``target`` is where clients go (None with ``unservable`` set
    when no server could send the case's certificates, and why). ``server`` says which
    served it: "python-ssl" (TLSServer) or "raw-tls12" (RawTLSServer, for a leaf that
    OpenSSL refuses to load)."""

    case: Case
    target: Target | None
    chain_file: str
    key_file: str
    trust_file: str
    unservable: str | None = None
    server: str = "python-ssl"


def _slug(case_id: str) -> str:
    return case_id.replace("/", "__")


def write_case(case: Case, directory: Path) -> tuple[str, str, str]:
    """Write the case's chain (as served), key (0600) and trust bundle; returns their
    paths. Identical bundles get one file, named by its content, so cases that share a
    trust share a matrix."""
    from tlsmatrix.lab.corpus.certs import to_pem

    here = directory / _slug(case.id)
    here.mkdir(parents=True, exist_ok=True)
    chain = here / "chain.pem"
    chain.write_bytes(b"".join(to_pem(der) for der in case.chain_der))
    key = here / "key.pem"
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(case.key_pem)
    bundle = b"".join(to_pem(der) for der in case.trust_der)
    trust = directory / f"trust-{hashlib.sha256(bundle).hexdigest()[:16]}.pem"
    if not trust.exists():
        trust.write_bytes(bundle)
    return str(chain), str(key), str(trust)


@contextlib.contextmanager
def serve_corpus(corpus: Corpus, directory: str | os.PathLike[str]) -> Iterator[list[ServedCase]]:
    """Serve every case of ``corpus`` on 127.0.0.1 (files under ``directory``, which the
    caller owns); stops every server on exit. A case whose leaf Python's ssl refuses to
    load is served by RawTLSServer (TLS 1.2, bytes as they are); one that neither can
    serve is yielded with ``unservable`` set, never dropped."""
    import ssl

    from cryptography.hazmat.primitives.serialization import load_pem_private_key
    from tlsmatrix.lab.corpus.rawserver import RawTLSServer
    from tlsmatrix.lab.tlsserver import TLSServer

    root = Path(directory)
    served: list[ServedCase] = []
    servers: list[TLSServer | RawTLSServer] = []
    try:
        for case in corpus.cases:
            chain, key, trust = write_case(case, root)
            kind = "python-ssl"
            try:
                server: TLSServer | RawTLSServer = TLSServer(chain, key, host="127.0.0.1")
            except (ssl.SSLError, OSError, ValueError) as exc:
                refused = f"TLSServer (Python ssl) refused the chain or key: {exc}"
                try:
                    private = load_pem_private_key(case.key_pem, None)
                    server = RawTLSServer(case.chain_der, private)  # type: ignore[arg-type]
                except (ValueError, OSError) as raw_exc:
                    why = f"{refused}; RawTLSServer: {raw_exc}"
                    served.append(ServedCase(case, None, chain, key, trust, unservable=why))
                    continue
                kind = "raw-tls12"
            servers.append(server.start())
            target = Target(host=case.hostname, port=server.port, connect_to=case.connect_to)
            served.append(ServedCase(case, target, chain, key, trust, server=kind))
        yield served
    finally:
        for server in servers:
            server.stop()


Progress = Callable[[int, int, Observation], None]


def run_corpus(
    served: Sequence[ServedCase],
    clients: Sequence[Client],
    *,
    timeout: float = 10.0,
    jobs: int = 4,
    parallel: int = 2,
    progress: Progress | None = None,
) -> CorpusRun:
    """Run ``clients`` over the ``served`` cases, each case with its own trust bundle, and
    score every cell against the case's expectation for that client's properties.
    ``parallel`` matrices (one per distinct bundle) run at once, each with ``jobs``."""
    from tlsmatrix.runner.matrix import TrustPlan, run_matrix

    runnable = [s for s in served if s.target is not None]
    groups: dict[str, list[ServedCase]] = {}
    for item in runnable:
        groups.setdefault(item.trust_file, []).append(item)
    total = len(runnable) * len(clients)
    lock = threading.Lock()
    done = [0]

    def shown(_done: int, _total: int, obs: Observation) -> None:
        with lock:
            done[0] += 1
            if progress is not None:
                progress(done[0], total, obs)

    def one(trust_file: str, items: list[ServedCase]) -> RunResult:
        targets = [s.target for s in items if s.target is not None]
        return run_matrix(
            targets,
            clients,
            trust=TrustPlan(ca_file=trust_file),
            timeout=timeout,
            jobs=jobs,
            progress=shown,
        )

    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        futures = [pool.submit(one, trust, items) for trust, items in groups.items()]
        runs = [f.result() for f in futures]
    by_target = {s.target.name: s.case for s in runnable if s.target is not None}
    infos = {info.name: info for run in runs for info in run.clients}
    observations = [obs for run in runs for obs in run.results]
    cells = tuple(
        CorpusCell.grade_of(by_target[obs.target], infos[obs.client], obs) for obs in observations
    )
    order = {s.case.id: n for n, s in enumerate(served)}
    cells = tuple(sorted(cells, key=lambda c: (order[c.case], c.client)))
    unservable = tuple((s.case.id, s.unservable) for s in served if s.unservable)
    return CorpusRun(
        cells=cells,
        scores=score_cells(cells, [c.name for c in clients]),
        unservable=unservable,  # type: ignore[arg-type]
        clients=tuple(infos[c.name] for c in clients if c.name in infos),
        runs=tuple(runs),
        raw_served=tuple(s.case.id for s in served if s.server == "raw-tls12"),
    )
