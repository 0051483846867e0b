"""The runner's worker pool: probes run in ``jobs`` reused threads, a hung probe is cut at
its deadline and replaced, late answers never change the returned rows, order is kept.

The adapters here are test doubles for the runner (like those in test_runner.py), not
clients: the runner's scheduling is the thing under test."""

from __future__ import annotations

import threading

from tlsmatrix.clients.base import ClientInfo, Observation, Reason, Target, Trust, Verdict
from tlsmatrix.runner.pool import Probe, run_probes


class Recording:
    """Accepts at once and notes which thread ran it and how many ran at the same time."""

    name = "recording"

    def __init__(self, hold: threading.Event | None = None) -> None:
        self.threads: set[int] = set()
        self.running = 0
        self.most = 0
        self.lock = threading.Lock()
        self.hold = hold

    def info(self) -> ClientInfo:
        return ClientInfo(self.name, True)

    def probe(self, target: Target, trust: Trust, timeout: float) -> Observation:
        with self.lock:
            self.threads.add(threading.get_ident())
            self.running += 1
            self.most = max(self.most, self.running)
        if self.hold is not None:
            self.hold.wait(5)
        with self.lock:
            self.running -= 1
        return Observation(target.name, self.name, Verdict.ACCEPT, Reason.OK, "fine")


class HangsOnce:
    """Hangs (ignoring its timeout) on the target named ``hang``, answers elsewhere; once
    released, the hung call answers too late with a row that must not appear."""

    name = "hangs-once"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.late = threading.Event()

    def info(self) -> ClientInfo:
        return ClientInfo(self.name, True)

    def probe(self, target: Target, trust: Trust, timeout: float) -> Observation:
        if target.host == "hang.example":
            self.release.wait(30)
            self.late.set()
            return Observation(target.name, self.name, Verdict.ACCEPT, Reason.OK, "too late")
        return Observation(target.name, self.name, Verdict.ACCEPT, Reason.OK, "fine")


def targets(n: int) -> list[Target]:
    return [Target(f"h{i}.example", 443) for i in range(n)]


def test_probes_run_in_at_most_jobs_reused_threads():
    client = Recording()
    probes = [Probe(t, client, Trust.native()) for t in targets(60)]
    results = run_probes(probes, timeout=5, jobs=4, infos={})
    assert [o.target for o in results] == [p.target.name for p in probes]
    assert all(o.verdict is Verdict.ACCEPT for o in results)
    # 60 probes, 4 threads at most: no thread is started per probe.
    assert 1 <= len(client.threads) <= 4
    assert threading.get_ident() not in client.threads  # the caller only watches


def test_jobs_probes_run_at_once():
    hold = threading.Event()
    client = Recording(hold)
    probes = [Probe(t, client, Trust.native()) for t in targets(6)]
    box: list[list[Observation | None]] = []
    runner = threading.Thread(
        target=lambda: box.append(run_probes(probes, timeout=10, jobs=3, infos={}))
    )
    runner.start()
    for _ in range(200):
        with client.lock:
            if client.running == 3:
                break
        threading.Event().wait(0.01)
    with client.lock:
        assert client.running == 3
    hold.set()
    runner.join(10)
    assert client.most == 3
    assert [o.verdict for o in box[0]] == [Verdict.ACCEPT] * 6


def test_hung_probe_is_cut_and_the_rest_still_run_and_late_answers_are_ignored():
    client = HangsOnce()
    order = [Target("hang.example", 443), *targets(5)]
    probes = [Probe(t, client, Trust.native()) for t in order]
    results = run_probes(probes, timeout=0.2, jobs=1, infos={})
    assert (results[0].verdict, results[0].reason) == (Verdict.TIMEOUT, Reason.TIMEOUT)
    assert "no answer within 0.2s" in results[0].detail
    # jobs=1 and the only worker hung: a fresh one took over the remaining probes.
    assert [o.detail for o in results[1:]] == ["fine"] * 5
    snapshot = list(results)
    client.release.set()
    assert client.late.wait(5)
    threading.Event().wait(0.05)
    assert results == snapshot  # the abandoned thread's answer changed nothing


def test_stop_leaves_unfinished_probes_none():
    hold = threading.Event()
    client = Recording(hold)
    stop = threading.Event()
    probes = [Probe(t, client, Trust.native()) for t in targets(5)]
    timer = threading.Timer(0.2, stop.set)
    timer.start()
    try:
        results = run_probes(probes, timeout=10, jobs=2, infos={}, stop=stop)
    finally:
        hold.set()
        timer.cancel()
    assert results == [None] * 5


def test_progress_runs_in_the_calling_thread_and_counts_up():
    client = Recording()
    seen: list[tuple[int, int, int]] = []
    probes = [Probe(t, client, Trust.native()) for t in targets(10)]
    run_probes(
        probes,
        timeout=5,
        jobs=3,
        infos={},
        progress=lambda done, total, obs: seen.append((done, total, threading.get_ident())),
    )
    assert [(d, t) for d, t, _ in seen] == [(i, 10) for i in range(1, 11)]
    assert {ident for _, _, ident in seen} == {threading.get_ident()}


def test_no_probes_no_threads():
    assert run_probes([], timeout=1, jobs=4, infos={}) == []
