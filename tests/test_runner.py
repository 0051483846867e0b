"""The runner's promises: never raises, hard deadline, order kept, skipped clients shown."""

from __future__ import annotations

import itertools
import threading
import time

from tlsmatrix.clients._inprocess import InProcessAdapter
from tlsmatrix.clients.base import ClientInfo, Observation, Reason, Target, Trust, Verdict
from tlsmatrix.runner.pool import Probe, guarded_probe, load_clients, run_probes

TARGET = Target("localhost", 443)


class Crashing:
    """A broken adapter (a test double for the runner's crash guard, not a client)."""

    name = "crashing"

    def info(self) -> ClientInfo:
        return ClientInfo(self.name, True)

    def probe(self, target: Target, trust: Trust, timeout: float) -> Observation:
        raise RuntimeError("adapter bug")


class Hanging:
    """An adapter that ignores its timeout (a test double for the deadline guard)."""

    name = "hanging"

    def __init__(self) -> None:
        self.release = threading.Event()

    def info(self) -> ClientInfo:
        return ClientInfo(self.name, True)

    def probe(self, target: Target, trust: Trust, timeout: float) -> Observation:
        self.release.wait(30)
        raise AssertionError("should have been abandoned")


def test_crash_becomes_client_error_row():
    obs = guarded_probe(Probe(TARGET, Crashing(), Trust.native()), timeout=1)
    assert (obs.verdict, obs.reason) == (Verdict.ERROR, Reason.CLIENT_ERROR)
    assert "RuntimeError: adapter bug" in obs.detail


def test_hang_is_cut_at_the_deadline():
    hanging = Hanging()
    started = time.monotonic()
    obs = guarded_probe(Probe(TARGET, hanging, Trust.native()), timeout=0.3)
    hanging.release.set()
    assert time.monotonic() - started < 1.3
    assert (obs.verdict, obs.reason) == (Verdict.TIMEOUT, Reason.TIMEOUT)


def test_unavailable_client_is_skipped_with_reason_and_order_is_kept():
    crashing = Crashing()
    probes = [Probe(Target(f"h{i}.example", 443), crashing, Trust.native()) for i in range(5)]
    infos = {"crashing": ClientInfo("crashing", False, "binary missing")}
    results = run_probes(probes, timeout=1, jobs=3, infos=infos)
    assert [o.target for o in results] == [p.target.name for p in probes]
    assert all(o.verdict is Verdict.SKIPPED and o.detail == "binary missing" for o in results)


def test_unknown_plugin_failure_becomes_broken_client(monkeypatch):
    from tlsmatrix import clients

    monkeypatch.setitem(clients.BUILTIN, "ghost", "no_such_module_xyz:Ghost")
    [ghost] = load_clients(["ghost"])
    info = ghost.info()
    assert not info.available and "failed to load" in (info.unavailable_reason or "")


class SlowInfo:
    """An adapter whose info() takes a while, like a heavy library's import (a test
    double for the runner's info scheduling)."""

    def __init__(self, name: str, info_s: float, available: bool = True) -> None:
        self.name = name
        self.info_s = info_s
        self.available = available
        self.probed_at: list[float] = []

    def info(self) -> ClientInfo:
        time.sleep(self.info_s)
        return ClientInfo(self.name, self.available, None if self.available else "gone")

    def probe(self, target: Target, trust: Trust, timeout: float) -> Observation:
        self.probed_at.append(time.monotonic())
        return Observation(target.name, self.name, Verdict.ACCEPT, Reason.OK, "ok")


def test_a_quick_client_probes_while_a_slow_one_still_loads():
    from tlsmatrix.runner.pool import PendingInfos

    quick, slow = SlowInfo("quick", 0.0), SlowInfo("slow", 1.0)
    started = time.monotonic()
    probes = [Probe(TARGET, c, Trust.native()) for c in (slow, quick)]
    # A probe timeout shorter than the slow info: waiting for it is not the probe's time.
    results = run_probes(probes, timeout=0.3, jobs=4, infos=PendingInfos([slow, quick]))
    assert [o.verdict for o in results] == [Verdict.ACCEPT, Verdict.ACCEPT]
    assert quick.probed_at[0] - started < 0.9  # did not wait for the slow client's info
    assert slow.probed_at[0] - started >= 0.9


def test_an_info_that_never_comes_makes_the_client_unavailable_within_its_bound():
    from tlsmatrix.runner.pool import PendingInfos

    stuck = SlowInfo("stuck", 30.0)
    started = time.monotonic()
    infos = PendingInfos([stuck], timeout=0.5)
    [obs] = run_probes([Probe(TARGET, stuck, Trust.native())], timeout=5, jobs=2, infos=infos)
    assert time.monotonic() - started < 3
    assert obs.verdict is Verdict.SKIPPED and "did not answer" in obs.detail
    assert not stuck.probed_at
    assert not infos.all(wait=False)["stuck"].available


def test_an_unavailable_client_found_late_is_skipped_with_its_reason():
    from tlsmatrix.runner.pool import PendingInfos

    gone = SlowInfo("gone", 0.2, available=False)
    [obs] = run_probes([Probe(TARGET, gone, Trust.native())], timeout=1, jobs=2,
                       infos=PendingInfos([gone]))  # fmt: skip
    assert obs.verdict is Verdict.SKIPPED and obs.detail == "gone"


def test_a_slow_info_holds_later_targets_not_the_clients_already_in():
    """Targets keep their order: while one client of the first target still loads, the
    other clients probe that target, and no later target starts before it can."""
    from tlsmatrix.runner.pool import PendingInfos

    quick, slow = SlowInfo("quick", 0.0), SlowInfo("slow", 0.8)
    first, second = Target("first.example", 443), Target("second.example", 443)
    started = time.monotonic()
    probes = [Probe(t, c, Trust.native()) for t in (first, second) for c in (slow, quick)]
    results = run_probes(probes, timeout=2, jobs=4, infos=PendingInfos([slow, quick]))
    assert all(o.verdict is Verdict.ACCEPT for o in results)
    assert quick.probed_at[0] - started < 0.6  # the first target, at once
    assert quick.probed_at[1] - started >= 0.7  # the second, only once 'slow' is in


class InProcessInfo(InProcessAdapter):
    """An in-process client whose info() is an import: it records when it ran, and the
    one called ``hung`` waits until released."""

    def __init__(self, name: str, log: list[tuple[str, float, float]], hold: threading.Event):
        self.name = name  # type: ignore[misc]
        self.log = log
        self.hold = hold

    def info(self) -> ClientInfo:
        began = time.monotonic()
        if self.name == "hung":
            self.hold.wait(10)
        else:
            time.sleep(0.1)
        self.log.append((self.name, began, time.monotonic()))
        return ClientInfo(self.name, True)


def test_in_process_infos_take_turns_and_a_hung_one_holds_no_one_up(monkeypatch):
    """Their imports run one at a time (concurrent imports cost ~1.5x the CPU), but a
    turn that lasts past IMPORT_TURN_S lets the others go on."""
    from tlsmatrix.runner import pool

    log: list[tuple[str, float, float]] = []
    hold = threading.Event()
    quick = [InProcessInfo(f"lib{i}", log, hold) for i in range(3)]
    infos = pool.PendingInfos(quick)
    assert all(infos.get(c.name).available for c in quick)
    spans = sorted((began, ended) for _, began, ended in log)
    assert all(prev[1] <= nxt[0] for prev, nxt in itertools.pairwise(spans)), spans

    monkeypatch.setattr(pool, "IMPORT_TURN_S", 0.3)
    log.clear()
    hung = InProcessInfo("hung", log, hold)
    infos = pool.PendingInfos([hung, *quick])
    try:
        started = time.monotonic()
        assert all(infos.get(c.name).available for c in quick)
        assert time.monotonic() - started < 5  # not the 10 s of the hung import
        assert not infos.is_ready("hung")
    finally:
        hold.set()
    assert infos.get("hung").available


class Warmable:
    """A client with a runtime to warm: it records each warm-up; ``fails`` raises."""

    def __init__(self, name: str, fails: bool = False) -> None:
        self.name = name
        self.fails = fails
        self.warmed: list[tuple[Target, Trust]] = []
        self.done = threading.Event()

    def warm(self, target: Target, trust: Trust) -> None:
        self.warmed.append((target, trust))
        self.done.set()
        if self.fails:
            raise RuntimeError("could not start")

    def info(self) -> ClientInfo:
        return ClientInfo(self.name, True)

    def probe(self, target: Target, trust: Trust, timeout: float) -> Observation:
        return Observation(target.name, self.name, Verdict.ACCEPT, Reason.OK, "ok")


def test_warm_up_starts_each_runtime_once_for_its_first_probe():
    from tlsmatrix.runner.pool import warm_up

    jvm, browser, plain = Warmable("jvm"), Warmable("browser", fails=True), SlowInfo("x", 0)
    first, second = Target("first.example", 443), Target("second.example", 443)
    trust = Trust.bundle("/nonexistent/roots.pem")
    probes = [Probe(t, c, trust) for t in (first, second) for c in (jvm, browser, plain)]
    warm_up(probes)
    assert jvm.done.wait(5) and browser.done.wait(5)
    time.sleep(0.1)  # no second warm-up comes
    assert jvm.warmed == [(first, trust)] and browser.warmed == [(first, trust)]
    # a warm-up that raised decided nothing: the probes run as ever
    from tlsmatrix.runner.pool import PendingInfos

    infos = PendingInfos([jvm, browser, plain])
    results = run_probes(probes, timeout=2, jobs=4, infos=infos)
    assert [o.verdict for o in results] == [Verdict.ACCEPT] * 6


def test_a_matrix_run_warms_its_clients_first():
    """run_matrix itself calls warm_up: a client's runtime is warmed for its first target
    with the trust its probes get."""
    from tlsmatrix.runner.matrix import TrustPlan, run_matrix

    jvm = Warmable("jvm")
    first, second = Target("first.example", 443), Target("second.example", 443)
    run = run_matrix([first, second], [jvm], trust=TrustPlan(), capture_chains=False)
    assert jvm.done.wait(5)
    assert jvm.warmed == [(first, Trust.native())]
    assert [o.verdict for o in run.results] == [Verdict.ACCEPT, Verdict.ACCEPT]
