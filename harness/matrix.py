"""One matrix run: targets x clients -> RunResult. The CLI, the lab and the demo all
come through here, so trust selection and result assembly live in one place."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from clients.base import Client, Observation, Target, Trust
from harness.results import RunResult, environment, find_divergences, now_iso
from harness.runner import Probe, collect_infos, run_probes


@dataclass(frozen=True)
class TrustPlan:
    """Who trusts what: one bundle for all (--ca-file), per-client bundles (--trust),
    everyone else their native store."""

    ca_file: str | None = None
    per_client: Mapping[str, str] = field(default_factory=dict)

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
) -> RunResult:
    trust = trust or TrustPlan()
    infos = collect_infos(clients)
    probes = [Probe(t, c, trust.for_client(c.name)) for t in targets for c in clients]
    observed = run_probes(
        probes, timeout=timeout, jobs=jobs, infos=infos, progress=progress, stop=stop
    )
    results = tuple(o for o in observed if o is not None)
    return RunResult(
        results=results,
        clients=tuple(infos[c.name] for c in clients),
        environment=environment(),
        generated_at=now_iso(),
        divergences=find_divergences(results),
        partial=len(results) < len(probes),
    )
