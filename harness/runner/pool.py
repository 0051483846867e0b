"""The runner: targets x clients, concurrently, each probe under a hard deadline.

It never raises for anything a server or an adapter does: every outcome, even an adapter
crash or a hang that ignores its timeout, becomes an Observation.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from tlsmatrix.clients import startup
from tlsmatrix.clients.base import (
    Client,
    ClientInfo,
    Observation,
    Reason,
    Target,
    Trust,
    verdict_for,
)
from tlsmatrix.clients.startup import STARTUP_LIMIT_S

# How long past its timeout a probe may run before the runner gives up on it. Subprocess
# adapters kill their process at the timeout; in-process libraries bound each socket
# operation (CPython bounds a whole handshake) but may spend a little before it, e.g.
# truststore loads the OS store on every handshake. The promise is timeout + 1 s.
GRACE_S = 0.8


@dataclass(frozen=True)
class Probe:
    target: Target
    client: Client
    trust: Trust


class BrokenClient:
    """Stands in for a client that is not run: every probe is a skipped row saying
    ``reason``. Used for an adapter that could not even be loaded, so it shows in the
    matrix instead of disappearing (and by preflight for clients it holds back)."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason

    def info(self) -> ClientInfo:
        return ClientInfo(self.name, False, unavailable_reason=self.reason)

    def probe(self, target: Target, trust: Trust, timeout: float) -> Observation:
        return _observation(target, self.name, Reason.CLIENT_UNAVAILABLE, self.reason, 0.0)


def load_clients(names: Sequence[str] | None) -> list[Client]:
    """Load adapters by name (all registered ones when ``names`` is empty). A name that is
    registered but fails to import becomes a BrokenClient; unknown names raise
    clients.UnknownClient (the CLI rejects them before this)."""
    from tlsmatrix import clients

    chosen = list(names) if names else clients.names()
    loaded: list[Client] = []
    for name in chosen:
        if not clients.is_known(name):
            raise clients.UnknownClient(name)
        try:
            loaded.append(clients.load(name))
        except Exception as exc:  # a plugin's import error must not hide the rest
            loaded.append(BrokenClient(name, f"adapter failed to load: {exc}"))
    return loaded


def warm_up(probes: Sequence[Probe]) -> None:
    """Start, in the background, the long-lived runtime (a JVM, Node, the browser) of each
    client that has one (``warm(target, trust)``), for its first probe: its start then
    overlaps tlsmatrix's own start and the other clients' infos, instead of waiting for
    that probe. The probe finds it running, or starting, and waits as it would have. A
    start that fails is the probe's to report."""
    seen: set[str] = set()
    for probe in probes:
        warm = getattr(probe.client, "warm", None)
        if warm is None or probe.client.name in seen:
            continue
        seen.add(probe.client.name)
        threading.Thread(target=_warm, args=(warm, probe), daemon=True).start()


def _warm(warm: Callable[[Target, Trust], None], probe: Probe) -> None:
    with contextlib.suppress(Exception):  # a warm-up never decides anything
        warm(probe.target, probe.trust)


INFO_LIMIT_S = 15.0  # how long a client's info() (its library's import) may take
IMPORT_TURN_S = 2.0  # how long one in-process client's info() holds the others back


class PendingInfos:
    """Every client's info(), collected in the background. A client's probes start as soon
    as its own info is in, so curl is already probing while an in-process client still
    imports its library. A crash makes the client unavailable, and so does a hang past the
    shared deadline: never the run stuck.

    The in-process clients' infos take turns: each imports its library, and Python
    imports in several threads at once cost ~1.5x the CPU of the same imports in a row
    (measured: the GIL and the module locks hand over all the time). A turn that lasts
    past IMPORT_TURN_S lets the next one start anyway, so a hung import holds no one up.
    Every other client's info (mostly waiting for a ``--version``) runs freely."""

    def __init__(self, clients: Sequence[Client], timeout: float = INFO_LIMIT_S) -> None:
        # An in-process client's class has loaded its module; without one, no import here.
        inprocess = sys.modules.get("tlsmatrix.clients._inprocess")
        self._names = [c.name for c in clients]
        self._results: dict[str, ClientInfo] = {}
        self._done = {c.name: threading.Event() for c in clients}
        self._deadline = time.monotonic() + timeout
        self._listeners: list[Callable[[], None]] = []
        self._turn = threading.Lock()
        for client in clients:
            turns = inprocess is not None and isinstance(client, inprocess.InProcessAdapter)
            threading.Thread(target=self._one, args=(client, turns), daemon=True).start()

    def _one(self, client: Client, turns: bool = False) -> None:
        mine = turns and self._turn.acquire(timeout=IMPORT_TURN_S)
        try:
            info = client.info()
        except Exception as exc:
            info = ClientInfo(client.name, False, f"info() failed: {exc}")
        finally:
            if mine:
                self._turn.release()
        self._results[client.name] = info
        self._done[client.name].set()
        for listener in list(self._listeners):
            listener()

    def listen(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (from a collecting thread) whenever an info comes in."""
        self._listeners.append(callback)

    def is_ready(self, name: str) -> bool:
        """Whether ``name``'s info is in, or will never be (the deadline passed)."""
        return self._done[name].is_set() or time.monotonic() >= self._deadline

    def known(self, name: str) -> ClientInfo:
        """The info of a client that :meth:`is_ready` (unavailable when it never came)."""
        late = "info() did not answer in time"
        return self._results.get(name) or ClientInfo(name, False, late)

    def get(self, name: str) -> ClientInfo:
        """The info, waiting for it until the shared deadline."""
        self._done[name].wait(max(self._deadline - time.monotonic(), 0))
        return self.known(name)

    def all(self, wait: bool = True) -> dict[str, ClientInfo]:
        """Every client's info; without ``wait`` (an interrupted run) those not in yet
        read as unavailable."""
        if wait:
            return {name: self.get(name) for name in self._names}
        late = "info() did not answer before the run was interrupted"
        return {
            n: self.known(n) if self._done[n].is_set() else ClientInfo(n, False, late)
            for n in self._names
        }


class _KnownInfos:
    """A plain mapping of infos behind PendingInfos' questions: all of them are in."""

    def __init__(self, infos: Mapping[str, ClientInfo]) -> None:
        self.known = infos.get

    def is_ready(self, name: str) -> bool:
        return True

    def listen(self, callback: Callable[[], None]) -> None:
        pass


def collect_infos(
    clients: Sequence[Client], timeout: float = INFO_LIMIT_S
) -> dict[str, ClientInfo]:
    """Every client's info(), concurrently; a crash or hang makes the client unavailable."""
    return PendingInfos(clients, timeout).all()


def guarded_probe(
    probe: Probe, timeout: float, stop: threading.Event | None = None
) -> Observation | None:
    """Run one probe with a hard deadline of ``timeout`` + GRACE_S, whatever the adapter does.
    Returns None only when ``stop`` is set before the probe finishes (an interrupted run)."""
    return run_probes([probe], timeout=timeout, jobs=1, infos={}, stop=stop)[0]


def _run_one(probe: Probe, info: ClientInfo | None, timeout: float) -> Observation:
    """One probe in the calling thread, stamped with its wall-clock window (to tie AIA
    log entries to it); never raises (an adapter bug becomes a row)."""
    began = time.time()
    obs = _run_unstamped(probe, info, timeout)
    return dataclasses.replace(obs, started_at=began, finished_at=time.time())


def _run_unstamped(probe: Probe, info: ClientInfo | None, timeout: float) -> Observation:
    started = time.monotonic()
    if info is not None and not info.available:
        return _observation(
            probe.target,
            probe.client.name,
            Reason.CLIENT_UNAVAILABLE,
            info.unavailable_reason or "client unavailable",
            0.0,
        )
    try:
        return probe.client.probe(probe.target, probe.trust, timeout)
    except BaseException as exc:  # noqa: BLE001 - an adapter bug becomes a row
        frame = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
        where = f" at {frame[0].filename}:{frame[0].lineno}" if frame else ""
        return _observation(
            probe.target,
            probe.client.name,
            Reason.CLIENT_ERROR,
            f"adapter raised {type(exc).__name__}: {exc}{where}",
            time.monotonic() - started,
        )


def _observation(
    target: Target, client: str, reason: Reason, detail: str, elapsed_s: float
) -> Observation:
    return Observation(
        target=target.name,
        client=client,
        verdict=verdict_for(reason),
        reason=reason,
        detail=detail,
        elapsed_ms=round(elapsed_s * 1000, 1),
    )


class _Worker:
    """One probing thread's state, read and written only under the run's lock."""

    __slots__ = ("abandoned", "deadline", "index", "started", "starting")

    def __init__(self) -> None:
        self.index: int | None = None  # the probe it runs now
        self.started = 0.0
        self.deadline = 0.0
        self.abandoned = False  # gave up on by the watchdog: it must record nothing more
        self.starting = False  # its client is starting a runtime: the probe's clock waits


def client_cap(info: ClientInfo | None, jobs: int) -> int:
    """How many probes of one client may run at once: ``jobs``, or for a client with a
    ClientInfo.max_parallel the smaller of that and half of ``jobs`` (at least one), so
    heavy runtimes leave room for the rest of the matrix."""
    limit = info.max_parallel if info is not None else None
    return jobs if limit is None else max(1, min(limit, jobs // 2))


def run_probes(
    probes: Sequence[Probe],
    *,
    timeout: float,
    jobs: int,
    infos: Mapping[str, ClientInfo] | PendingInfos,
    progress: Callable[[int, int, Observation], None] | None = None,
    stop: threading.Event | None = None,
) -> list[Observation | None]:
    """Run ``probes`` with at most ``jobs`` at once; results keep the order of ``probes``.

    Each probe gets a hard deadline of ``timeout`` + GRACE_S: past it the probe is
    recorded as a timeout and its thread abandoned (a fresh one takes its place).
    Unavailable clients are not probed: they get a skipped row with the reason. On
    KeyboardInterrupt (or when ``stop`` is set) probes not finished are left as None and
    the caller marks the run partial. ``progress`` is called in the calling thread.

    With :class:`PendingInfos` a client's probes start once its own info is in (or its
    deadline passed); waiting for it takes no worker and no probe's time. Targets keep
    their order: a later target waits until every client of an earlier one can start.

    ``jobs`` long-lived worker threads run the probes themselves while the calling thread
    watches their deadlines, so a probe costs no thread of its own (see benchmarks/)."""
    total = len(probes)
    results: list[Observation | None] = [None] * total
    if total == 0:
        return results
    jobs = max(1, jobs)
    stop = stop or threading.Event()
    lock = threading.Condition()
    board = infos if isinstance(infos, PendingInfos) else _KnownInfos(infos)
    caps: dict[str, int] = {}  # per client, once its info is in

    def wake() -> None:  # an info came in: a worker may now take that client's probes
        with lock:
            lock.notify_all()

    board.listen(wake)

    # Shared state, guarded by ``lock``.
    state = {"closed": False}
    pending = list(range(total))  # not yet started, in order
    running = {p.client.name: 0 for p in probes}  # probes in flight per client
    busy: set[_Worker] = set()
    finished: list[Observation] = []  # recorded, not yet shown to ``progress``

    def record(index: int, obs: Observation) -> None:  # with ``lock`` held
        results[index] = obs
        finished.append(obs)
        lock.notify_all()

    def take() -> int | None:  # with ``lock`` held: the first probe whose client has room
        waiting = None  # the first target with a probe whose client's info is not in yet
        for at, index in enumerate(pending):
            probe = probes[index]
            if waiting is not None and probe.target != waiting:
                break  # targets keep their order: none starts before an earlier one can
            name = probe.client.name
            if not board.is_ready(name):
                waiting = probe.target  # no worker waits for an info: skip it for now
                continue
            if name not in caps:
                caps[name] = client_cap(board.known(name), jobs)
            if running[name] < caps[name]:
                running[name] += 1
                del pending[at]
                return index
        return None

    def hooks(me: _Worker) -> None:
        def begin() -> None:  # the start-up gets its own bound, not the probe's
            with lock:
                if me.index is not None and not me.abandoned:
                    me.starting = True
                    me.deadline = time.monotonic() + STARTUP_LIMIT_S + GRACE_S
                    lock.notify_all()

        def end() -> None:  # the probe's clock starts now
            with lock:
                if me.index is not None and not me.abandoned:
                    me.starting = False
                    me.started = time.monotonic()
                    me.deadline = me.started + timeout + GRACE_S
                    lock.notify_all()

        startup.install(begin, end)

    def work(me: _Worker) -> None:
        hooks(me)
        while True:
            with lock:
                index = None
                while index is None:
                    if me.abandoned or state["closed"] or stop.is_set() or not pending:
                        busy.discard(me)
                        return
                    index = take()
                    if index is None:
                        lock.wait(0.1)  # every client with work left is at its cap
                probe = probes[index]
                info = board.known(probe.client.name)
                me.index = index
                me.started = time.monotonic()
                me.deadline = me.started + timeout + GRACE_S
                busy.add(me)
            obs = _run_one(probe, info, timeout)
            with lock:
                if me.abandoned or state["closed"]:
                    return  # the watchdog wrote this probe's row, or the run is over
                running[probe.client.name] -= 1
                me.index = None
                busy.discard(me)
                record(index, obs)

    def spawn() -> None:
        me = _Worker()
        threading.Thread(target=work, args=(me,), name="matrix", daemon=True).start()

    done = 0
    try:
        for _ in range(min(jobs, total)):
            spawn()
        while done < total:
            with lock:
                now = time.monotonic()
                for worker in [w for w in busy if w.deadline <= now]:
                    assert worker.index is not None
                    running[probes[worker.index].client.name] -= 1
                    _give_up(worker, probes, timeout, now, record)
                    busy.discard(worker)
                    if pending:
                        spawn()  # keep ``jobs`` probes running
                if not finished and not stop.is_set():
                    nearest = min((w.deadline for w in busy), default=now + 0.1)
                    # Wake for a result, a deadline, or every 0.1 s to notice ``stop``.
                    lock.wait(min(max(nearest - now, 0.0), 0.1))
                if stop.is_set():
                    break
                shown, finished[:] = list(finished), []
            for obs in shown:
                done += 1
                if progress is not None:
                    progress(done, total, obs)
    except KeyboardInterrupt:
        # Ctrl-C or SIGTERM: start nothing new, kill client processes, keep what we have.
        stop.set()
        from tlsmatrix.clients.process import kill_all_children

        kill_all_children()
    finally:
        with lock:
            state["closed"] = True  # late answers must not change what we return
    return results


def _give_up(
    worker: _Worker,
    probes: Sequence[Probe],
    timeout: float,
    now: float,
    record: Callable[[int, Observation], None],
) -> None:
    """Record a timeout for the probe ``worker`` is stuck in and abandon that thread."""
    assert worker.index is not None
    probe = probes[worker.index]
    worker.abandoned = True
    if worker.starting:  # the client's own start hung: not the server's fault
        reason = Reason.CLIENT_ERROR
        detail = f"{probe.client.name} did not start within {STARTUP_LIMIT_S:g}s"
    else:
        reason = Reason.TIMEOUT
        detail = f"no answer within {timeout:g}s (stopped waiting)"
    obs = _observation(probe.target, probe.client.name, reason, detail, now - worker.started)
    wall = time.time()
    stamped = dataclasses.replace(obs, started_at=wall - (now - worker.started), finished_at=wall)
    record(worker.index, stamped)


class Progress:
    """Progress on stderr, each target named by its label (a lab scenario's name). On a
    terminal: one self-overwriting line. Piped (a CI log) and ``every`` set: a plain line
    at most every ``every`` seconds and at the end, so a long run is not silent."""

    def __init__(self, labels: Mapping[str, str] | None = None, every: float | None = None) -> None:
        self.labels = dict(labels or {})
        self.every = every
        self._last = time.monotonic()

    def __call__(self, done: int, total: int, obs: Observation) -> None:
        name = self.labels.get(obs.target, obs.target)
        line = f"[{done}/{total}] {obs.client} {name}: {obs.verdict.value}"
        if sys.stderr.isatty():
            end = "\n" if done == total else ""
            sys.stderr.write(f"\r\x1b[K{line}{end}")
        elif self.every is not None:
            now = time.monotonic()
            if done != total and now - self._last < self.every:
                return
            self._last = now
            sys.stderr.write(f"tlsmatrix: {line}\n")
        else:
            return
        sys.stderr.flush()


def terminal_progress(done: int, total: int, obs: Observation) -> None:
    """One self-overwriting progress line on stderr, only when stderr is a terminal."""
    Progress()(done, total, obs)
