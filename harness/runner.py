"""The runner: targets x clients, concurrently, each probe under a hard deadline.

It never raises for anything a server or an adapter does: every outcome, even an adapter
crash or a hang that ignores its timeout, becomes an Observation.
"""

from __future__ import annotations

import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from clients.base import Client, ClientInfo, Observation, Reason, Target, Trust, verdict_for

# How long past its timeout a probe may run before the runner gives up on it. Subprocess
# adapters kill their process at the timeout; this guards in-process ones and bugs.
GRACE_S = 0.5


@dataclass(frozen=True)
class Probe:
    target: Target
    client: Client
    trust: Trust


class BrokenClient:
    """Stands in for an adapter that could not even be loaded, so it shows as skipped
    with the reason instead of disappearing from the matrix."""

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
    import clients

    chosen = list(names) if names else clients.names()
    loaded: list[Client] = []
    for name in chosen:
        if name not in clients.registry():
            raise clients.UnknownClient(name)
        try:
            loaded.append(clients.load(name))
        except Exception as exc:  # a plugin's import error must not hide the rest
            loaded.append(BrokenClient(name, f"adapter failed to load: {exc}"))
    return loaded


def collect_infos(clients: Sequence[Client], timeout: float = 15.0) -> dict[str, ClientInfo]:
    """Every client's info(), concurrently; a crash or hang makes the client unavailable."""
    results: dict[str, ClientInfo] = {}

    def one(client: Client) -> None:
        try:
            results[client.name] = client.info()
        except Exception as exc:
            results[client.name] = ClientInfo(client.name, False, f"info() failed: {exc}")

    threads = [threading.Thread(target=one, args=(c,), daemon=True) for c in clients]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(deadline - time.monotonic(), 0))
    return {
        c.name: results.get(c.name) or ClientInfo(c.name, False, "info() did not answer in time")
        for c in clients
    }


def guarded_probe(
    probe: Probe, timeout: float, stop: threading.Event | None = None
) -> Observation | None:
    """Run one probe with a hard deadline of ``timeout`` + GRACE_S, whatever the adapter does.
    Returns None only when ``stop`` is set before the probe finishes (an interrupted run)."""
    box: list[Observation] = []
    started = time.monotonic()

    def work() -> None:
        try:
            box.append(probe.client.probe(probe.target, probe.trust, timeout))
        except BaseException as exc:  # noqa: BLE001 - an adapter bug becomes a row
            frame = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
            where = f" at {frame[0].filename}:{frame[0].lineno}" if frame else ""
            box.append(
                _observation(
                    probe.target,
                    probe.client.name,
                    Reason.CLIENT_ERROR,
                    f"adapter raised {type(exc).__name__}: {exc}{where}",
                    time.monotonic() - started,
                )
            )

    worker = threading.Thread(target=work, name=f"probe-{probe.client.name}", daemon=True)
    worker.start()
    deadline = started + timeout + GRACE_S
    while not box and (remaining := deadline - time.monotonic()) > 0:
        if stop is not None and stop.is_set():
            return None
        worker.join(min(remaining, 0.1))
    if box:
        return box[0]
    return _observation(
        probe.target,
        probe.client.name,
        Reason.TIMEOUT,
        f"no answer within {timeout:g}s (stopped waiting)",
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


def run_probes(
    probes: Sequence[Probe],
    *,
    timeout: float,
    jobs: int,
    infos: dict[str, ClientInfo],
    progress: Callable[[int, int, Observation], None] | None = None,
    stop: threading.Event | None = None,
) -> list[Observation | None]:
    """Run ``probes`` with at most ``jobs`` at once; results keep the order of ``probes``.

    Unavailable clients are not probed: they get a skipped row with the reason. On
    KeyboardInterrupt (or when ``stop`` is set) probes not finished are left as None and
    the caller marks the run partial."""
    results: list[Observation | None] = [None] * len(probes)
    done = 0
    lock = threading.Lock()

    def one(index: int) -> None:
        nonlocal done
        if stop is not None and stop.is_set():
            return
        probe = probes[index]
        info = infos.get(probe.client.name)
        if info is not None and not info.available:
            obs = _observation(
                probe.target,
                probe.client.name,
                Reason.CLIENT_UNAVAILABLE,
                info.unavailable_reason or "client unavailable",
                0.0,
            )
        else:
            obs = guarded_probe(probe, timeout, stop)
        if obs is None:
            return
        results[index] = obs
        with lock:
            done += 1
            if progress is not None:
                progress(done, len(probes), obs)

    stop = stop or threading.Event()
    pool = ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="matrix")
    try:
        for future in [pool.submit(one, i) for i in range(len(probes))]:
            future.result()
    except KeyboardInterrupt:
        # Ctrl-C or SIGTERM: start nothing new, kill client processes, keep what we have.
        stop.set()
        from clients._common import kill_all_children

        kill_all_children()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return results


def terminal_progress(done: int, total: int, obs: Observation) -> None:
    """One self-overwriting progress line on stderr, only when stderr is a terminal."""
    if not sys.stderr.isatty():
        return
    end = "\n" if done == total else ""
    sys.stderr.write(f"\r\x1b[K[{done}/{total}] {obs.client} {obs.target}: {obs.verdict}{end}")
    sys.stderr.flush()
