"""The matrix stays correct on a busy machine: heavy runtimes get a bounded share of
--jobs (ClientInfo.max_parallel), starting a runtime is the client's cost (never the
server's timeout), and a silent server is reported within --timeout + 1 s.

The first tests use runner doubles (the scheduling is under test); the last ones run every
real client against local TLSServers while busy loops keep the cores saturated."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest
from tlsmatrix import clients
from tlsmatrix.clients import startup
from tlsmatrix.clients.base import ClientInfo, Observation, Reason, Target, Trust, Verdict
from tlsmatrix.lab.tlsserver import TLSServer
from tlsmatrix.runner import pool
from tlsmatrix.runner.matrix import TrustPlan, run_matrix
from tlsmatrix.runner.pool import Probe, client_cap, run_probes
from tlsmatrix.runner.targets import parse_target

from tests.conftest import loaded_adapters
from tests.pki import CorePKI


class Counting:
    """Accepts after ``hold`` seconds and records the most probes in flight at once."""

    def __init__(self, name: str, max_parallel: int | None, hold: float = 0.05) -> None:
        self.name = name
        self.max_parallel = max_parallel
        self.hold = hold
        self.running = 0
        self.most = 0
        self.lock = threading.Lock()

    def info(self) -> ClientInfo:
        return ClientInfo(self.name, True, max_parallel=self.max_parallel)

    def probe(self, target: Target, trust: Trust, timeout: float) -> Observation:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(self.hold)
        with self.lock:
            self.running -= 1
        return Observation(target.name, self.name, Verdict.ACCEPT, Reason.OK, "fine")


class SlowStart:
    """Spends ``start`` seconds starting its runtime (inside startup.starting()), then
    answers at once: the start must not count against the probe's deadline."""

    name = "slow-start"

    def __init__(self, start: float) -> None:
        self.start = start

    def info(self) -> ClientInfo:
        return ClientInfo(self.name, True)

    def probe(self, target: Target, trust: Trust, timeout: float) -> Observation:
        with startup.starting():
            time.sleep(self.start)
        return Observation(target.name, self.name, Verdict.ACCEPT, Reason.OK, "fine")


def targets(n: int) -> list[Target]:
    return [Target(f"h{i}.example", 443) for i in range(n)]


def test_caps_are_a_bounded_share_of_jobs():
    heavy, light = Counting("heavy", 3), Counting("light", None)
    probes = [Probe(t, c, Trust.native()) for t in targets(2) for c in (heavy, light)]
    infos = {c.name: c.info() for c in (heavy, light)}

    def caps(jobs: int) -> dict[str, int]:
        return {p.client.name: client_cap(infos[p.client.name], jobs) for p in probes}

    assert caps(8) == {"heavy": 3, "light": 8}
    assert caps(4) == {"heavy": 2, "light": 4}  # half of --jobs
    assert caps(1) == {"heavy": 1, "light": 1}


def test_a_capped_client_never_exceeds_its_share_and_others_fill_the_jobs():
    heavy, light = Counting("heavy", 2), Counting("light", None)
    probes = [Probe(t, c, Trust.native()) for t in targets(24) for c in (heavy, light)]
    infos = {c.name: c.info() for c in (heavy, light)}
    results = run_probes(probes, timeout=5, jobs=8, infos=infos)
    assert all(o is not None and o.verdict is Verdict.ACCEPT for o in results)
    assert heavy.most == 2
    assert light.most > 2  # the light client used the jobs the heavy one could not


def test_start_up_does_not_count_against_the_probe_deadline():
    client = SlowStart(start=1.5)
    probes = [Probe(t, client, Trust.native()) for t in targets(2)]
    results = run_probes(probes, timeout=0.3, jobs=2, infos={})
    assert [(o.verdict, o.detail) for o in results] == [(Verdict.ACCEPT, "fine")] * 2


def test_a_hung_start_is_the_clients_error_not_a_timeout(monkeypatch):
    monkeypatch.setattr(pool, "STARTUP_LIMIT_S", 0.5)
    client = SlowStart(start=5.0)
    started = time.monotonic()
    (obs,) = run_probes(
        [Probe(targets(1)[0], client, Trust.native())], timeout=0.2, jobs=1, infos={}
    )
    assert time.monotonic() - started < 2.5
    assert (obs.verdict, obs.reason) == (Verdict.ERROR, Reason.CLIENT_ERROR), obs
    assert obs.detail == "slow-start did not start within 0.5s"


# --- every real client, cores busy ------------------------------------------------------

BUSY_LOOPS = 3
BUSY_BOUND_S = 240  # each loop ends on its own even if the test is killed


@contextlib.contextmanager
def busy_cores(n: int = BUSY_LOOPS) -> Iterator[None]:
    code = (
        f"import time\nend = time.monotonic() + {BUSY_BOUND_S}\nwhile time.monotonic() < end: pass"
    )
    loops = [
        subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.DEVNULL) for _ in range(n)
    ]
    try:
        yield
    finally:
        for proc in loops:
            proc.kill()
            proc.wait(10)


@pytest.fixture(scope="module")
def every_client() -> Iterator[dict[str, clients.Client]]:
    with loaded_adapters(list(clients.BUILTIN)) as available:
        yield available


def test_full_matrix_on_busy_cores_has_no_client_caused_timeout(every_client, pki: CorePKI):
    good = pki.chains["good"]
    with contextlib.ExitStack() as stack:
        servers = [stack.enter_context(TLSServer(good.chain, good.key)) for _ in range(3)]
        stack.enter_context(busy_cores())
        result = run_matrix(
            [parse_target(f"https://localhost:{s.port}/") for s in servers],
            list(every_client.values()),
            trust=TrustPlan(ca_file=pki.root_pem),
            timeout=10.0,
            jobs=8,
            capture_chains=False,
        )
    assert len(result.results) == 3 * len(every_client)
    wrong = [
        (o.client, o.reason.value, o.detail) for o in result.results if o.reason is not Reason.OK
    ]
    assert not wrong, wrong  # a good server: every cell is an accept


def test_a_silent_server_is_reported_within_timeout_plus_one_second(every_client, silent_server):
    timeout = 2.0
    with busy_cores():
        result = run_matrix(
            [parse_target(f"https://localhost:{silent_server.port}/")],
            list(every_client.values()),
            timeout=timeout,
            jobs=8,
            capture_chains=False,
        )
    for obs in result.results:
        assert obs.reason is Reason.TIMEOUT, obs
        assert obs.elapsed_ms <= (timeout + 1.0) * 1000, obs
