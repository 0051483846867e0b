"""The runner's promises: never raises, hard deadline, order kept, skipped clients shown."""

from __future__ import annotations

import threading
import time

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
