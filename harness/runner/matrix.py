"""One matrix run: targets x clients -> RunResult. The CLI, the lab and the demo all
come through here, so trust selection, chain capture, reason refinement and
explanations live in one place."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tlsmatrix.clients.base import Client, Observation, Target, Trust
from tlsmatrix.results.model import RunResult, environment, find_divergences, now_iso
from tlsmatrix.runner.pool import PendingInfos, Probe, run_probes, warm_up


@dataclass(frozen=True)
class TrustPlan:
    """Who trusts what: one bundle for all (--ca-file), per-client bundles (--trust),
    everyone else their native store."""

    ca_file: str | None = None
    per_client: Mapping[str, str] = field(default_factory=dict)
    # Further stores tlsmatrix may read to build paths, though no client uses them here
    # (the lab's other trust profiles): they can show that a missing issuer is an
    # intermediate, where the stores in use alone leave it unknown_issuer.
    known_stores: tuple[str, ...] = ()

    def for_client(self, name: str) -> Trust:
        path = self.per_client.get(name) or self.ca_file
        return Trust.bundle(path) if path else Trust.native()


def run_matrix(
    targets: Sequence[Target],
    clients: Sequence[Client],
    *,
    trust: TrustPlan | None = None,
    timeout: float = 10.0,
    jobs: int = 8,
    progress: Callable[[int, int, Observation], None] | None = None,
    stop: threading.Event | None = None,
    capture_chains: bool = True,
    aia_log: Callable[[], Sequence[Any]] | None = None,
    fetch_aia: bool = True,
    fetch_revocation: bool | None = None,
    at: datetime | None = None,
) -> RunResult:
    """Probe every target with every client. With ``capture_chains`` the chain each target
    presents is captured alongside (one extra unverified handshake per target) to refine
    "issuer unknown" signals and to explain every row: the paths from each leaf are built
    over what was sent, every trust store the run used and (with ``fetch_aia``) the issuers
    that AIA URLs serve, downloaded by tlsmatrix within fixed bounds. ``aia_log`` (the
    lab's) lets the explanations cite the clients' own AIA downloads.

    ``at`` judges the run at another date: the chain analysis checks validity then, and
    each client runs with its clock moved there (tlsmatrix.clients.clock), or is skipped
    saying why it cannot be moved."""
    trust = trust or TrustPlan()
    if at is not None:
        from tlsmatrix.clients.clock import move

        clients = [move(c, at) for c in clients]
    probes = [Probe(t, c, trust.for_client(c.name)) for t in targets for c in clients]
    warm_up(probes)  # JVMs, Node, the browser: started now, beside the rest of our start
    captures = ChainCaptures(targets, timeout, now=at) if capture_chains and targets else None
    pending = PendingInfos(clients)  # probes start as each client's own info comes in
    observed = run_probes(
        probes, timeout=timeout, jobs=jobs, infos=pending, progress=progress, stop=stop
    )
    results = tuple(o for o in observed if o is not None)
    partial = len(results) < len(probes)
    infos = pending.all(wait=not partial)
    # An interrupted run does not wait for captures still under way.
    inspections = captures.collect(wait=not partial) if captures else {}
    divergences = find_divergences(results)
    if inspections:
        from tlsmatrix.chain.aia import AIAFetcher
        from tlsmatrix.chain.diagnosis import load_stores
        from tlsmatrix.chain.inspection import with_paths
        from tlsmatrix.explain.explanations import Evidence, explain_results
        from tlsmatrix.explain.refine import refine_reason

        stores = load_stores(run_stores(results, infos, trust))  # once for every target
        fetcher = AIAFetcher(enabled=fetch_aia and not partial)  # an interrupt waits for none
        inspections = {
            n: _guarded(n, "chain analysis", lambda i=i: with_paths(i, stores, fetcher), i)
            for n, i in inspections.items()
        }
        revocation = fetch_aia if fetch_revocation is None else fetch_revocation
        if revocation and not partial:
            inspections = check_revocations(inspections, now=at)
        reports = {name: i.report for name, i in inspections.items()}
        graphs = {name: i.graph for name, i in inspections.items() if i.graph is not None}
        results = tuple(
            _guarded(
                o.target,
                "reason refinement",
                lambda o=o: refine_reason(
                    o, reports.get(o.target), graphs.get(o.target), infos.get(o.client)
                ),
                o,
            )
            for o in results
        )
        divergences = find_divergences(results)
        evidence = Evidence(
            infos=infos,
            reports=reports,
            aia_log=tuple(aia_log()) if aia_log else (),
            graphs=graphs,
        )
        results, divergences = _guarded(
            "the run",
            "explanations",
            lambda: explain_results(results, divergences, evidence),
            (results, divergences),
        )
        results = explain_revoked(results, inspections, infos)
    return RunResult(
        results=results,
        clients=tuple(infos[c.name] for c in clients),
        environment=environment(),
        generated_at=now_iso(),
        divergences=divergences,
        chains={name: _chain_entry(i) for name, i in inspections.items()},
        partial=partial,
        at=_iso(at),
    )


def _guarded(where: str, step: str, work: Callable[[], Any], fallback: Any) -> Any:
    """``work()``, or ``fallback`` with one line on stderr when it raises: a certificate
    the analysis cannot cope with must cost its evidence, never the run's results."""
    try:
        return work()
    except Exception as exc:  # noqa: BLE001 - any bug in the analysis, on any input
        import sys

        from tlsmatrix.errors import one_line

        print(
            f"tlsmatrix: {step} failed for {where} ({one_line(exc, 200)}); "
            "the results are kept without it",
            file=sys.stderr,
        )
        return fallback


def _iso(at: datetime | None) -> str | None:
    from tlsmatrix.clients.clock import iso

    return iso(at) if at is not None else None


def check_revocations(
    inspections: Mapping[str, Any], parallel: int = 4, now: datetime | None = None
) -> dict[str, Any]:
    """Each inspection with its revocation status; a few targets at a time, each CRL
    downloaded once per run."""
    from concurrent.futures import ThreadPoolExecutor

    from tlsmatrix.chain.inspection import with_revocation

    cache: dict[str, bytes] = {}
    with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="revocation") as pool:
        done = pool.map(
            lambda item: _guarded(
                item[0], "revocation check", lambda: with_revocation(item[1], cache, now), item[1]
            ),
            inspections.items(),
        )
        return dict(zip(inspections, done, strict=True))


def explain_revoked(
    results: Sequence[Observation], inspections: Mapping[str, Any], infos: Mapping[str, Any]
) -> tuple[Observation, ...]:
    """An accept of a leaf tlsmatrix found revoked is explained from the client's measured
    ``checks_revocation``."""
    from dataclasses import replace

    from tlsmatrix.chain.revocation import REVOKED, revocation_explanation
    from tlsmatrix.clients.base import Verdict

    out = []
    for o in results:
        report = getattr(inspections.get(o.target), "revocation", None)
        leaf = report.leaf if report is not None else None
        if o.verdict is Verdict.ACCEPT and leaf is not None and leaf.status == REVOKED:
            info = infos.get(o.client)
            text = revocation_explanation(leaf, bool(getattr(info, "checks_revocation", False)))
            o = replace(o, explanation=f"{text}. {o.explanation}" if o.explanation else text)
        out.append(o)
    return tuple(out)


def run_stores(
    results: Sequence[Observation], infos: Mapping[str, Any], trust: TrustPlan
) -> list[str]:
    """Every trust store this run touched, readable or not: the bundles given, the stores
    each probe reported using, and each client's native store."""
    found: list[str] = []
    found += [p for p in (trust.ca_file, *trust.per_client.values(), *trust.known_stores) if p]
    found += [o.trust.path for o in results if o.trust is not None and o.trust.path]
    for info in infos.values():
        native = getattr(info, "native_trust", None)
        if native is not None and native.path:
            found.append(native.path)
    return list(dict.fromkeys(found))


def _chain_entry(inspection: Any) -> dict[str, Any]:
    """The JSON ``chains`` entry: what was presented, its issues, and the server fix."""
    from tlsmatrix.explain.explanations import fix_advice

    return {**inspection.to_dict(), "fix": fix_advice(inspection.report)}


class ChainCaptures:
    """Captures the chain of every target in the background: a few daemon worker threads
    take targets from a queue, so an interrupted run never waits for them."""

    def __init__(
        self,
        targets: Sequence[Target],
        timeout: float,
        parallel: int = 4,
        now: datetime | None = None,
    ) -> None:
        import queue

        from tlsmatrix.chain.inspection import inspect_chain

        self._results: dict[str, Any] = {}
        todo: queue.SimpleQueue[Target] = queue.SimpleQueue()
        unique = list(dict.fromkeys(targets))
        for target in unique:
            todo.put(target)

        def work() -> None:
            while True:
                try:
                    target = todo.get_nowait()
                except queue.Empty:
                    return
                self._results[target.name] = inspect_chain(target, timeout, now)

        self._threads = [
            threading.Thread(target=work, name="chain", daemon=True)
            for _ in range(min(parallel, len(unique)))
        ]
        for thread in self._threads:
            thread.start()

    def collect(self, wait: bool = True) -> dict[str, Any]:
        """The inspections finished so far (all of them when ``wait``; each capture has
        its own deadline, so waiting is bounded)."""
        if wait:
            for thread in self._threads:
                thread.join()
        return dict(self._results)
