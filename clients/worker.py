"""A long-lived client worker: one process serving many probes over JSON lines.

The process reads one request per stdin line (``{"id", "args"}`` unless ``encode`` says
otherwise) and answers with one
``{"id", "result"}`` line per probe, probes in flight concurrently; it first prints
``{"ready": true}``. Starting it is the client's cost (``startup.starting()``, bounded by
STARTUP_LIMIT_S); a worker that dies fails its probes in flight as client_error with one
line saying so, and the next probe starts a new one. Probes are never lost."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence

from tlsmatrix.clients import process as _process
from tlsmatrix.clients.startup import STARTUP_LIMIT_S, starting


def _json_request(ident: int, args: object) -> bytes:
    return json.dumps({"id": ident, "args": args}).encode() + b"\n"


class WorkerFailed(Exception):
    """The worker did not start or died with this probe in flight (one clean line)."""


class _Pending:
    __slots__ = ("done", "result")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: dict[str, object] | str | None = None  # str: why the worker failed


class JsonLineWorker:
    """One worker process for ``argv`` in ``env``, (re)started on demand."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str] | Callable[[], Sequence[str]],
        env: Mapping[str, str],
        encode: Callable[[int, object], bytes] | None = None,
    ) -> None:
        """``argv`` may be a function, called at each start: preparing the program is then
        part of starting it (``starting()``), not of a probe."""
        self.name = name
        self.encode = encode or _json_request
        self._argv = argv
        self.env = dict(env)
        self.starts = 0
        self._lock = threading.Lock()  # guards _proc, _pending; serialises writes
        self._proc: subprocess.Popen[bytes] | None = None
        self._pending: dict[int, _Pending] = {}
        self._ids = itertools.count(1)

    def start(self) -> None:
        """Start the process now unless it runs (raises WorkerFailed): a warm-up."""
        with starting():
            self._running()

    def call(self, args: object, timeout: float) -> dict[str, object] | None:
        """Run one probe; its result, or None when ``timeout`` passed without one. Raises
        WorkerFailed when the worker cannot start or dies before answering."""
        with starting():
            proc = self._running()
        ident = next(self._ids)
        waiter = _Pending()
        line = self.encode(ident, args)
        with self._lock:
            if proc is not self._proc:  # died between start and now
                raise WorkerFailed(f"{self.name} worker exited before the probe")
            self._pending[ident] = waiter
            try:
                assert proc.stdin is not None
                proc.stdin.write(line)
                proc.stdin.flush()
            except OSError:
                self._pending.pop(ident, None)
                raise WorkerFailed(f"{self.name} worker exited before the probe") from None
        if not waiter.done.wait(max(timeout, 0.0)):
            with self._lock:
                self._pending.pop(ident, None)
            return None
        if isinstance(waiter.result, str):
            raise WorkerFailed(waiter.result)
        return waiter.result

    def _running(self) -> subprocess.Popen[bytes]:
        with self._lock:
            if self._proc is not None and self._proc.poll() is None:
                return self._proc
            argv = self._argv() if callable(self._argv) else self._argv
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.PIPE,  # the request channel
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=self.env,
                start_new_session=True,
            )
            self._track(proc)
            assert proc.stdout is not None
            ready = threading.Event()
            reader = threading.Thread(
                target=self._read, args=(proc, ready), name=f"{self.name}-worker", daemon=True
            )
            reader.start()
            if not ready.wait(STARTUP_LIMIT_S) or proc.poll() is not None:
                self._kill(proc)
                raise WorkerFailed(f"{self.name} worker did not start: {self._ended(proc)}")
            self._proc = proc
            self.starts += 1
            return proc

    def _read(self, proc: subprocess.Popen[bytes], ready: threading.Event) -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            try:
                message = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(message, dict):
                continue
            if message.get("ready"):
                ready.set()
                continue
            with self._lock:
                waiter = self._pending.pop(message.get("id"), None)  # type: ignore[arg-type]
            result = message.get("result")
            if waiter is not None and isinstance(result, dict):
                waiter.result = result
                waiter.done.set()
        # EOF: the worker is gone; fail what it had in flight, never lose a probe.
        ready.set()  # first: a start waiting for it holds the lock
        self._kill(proc)
        why = f"{self.name} worker exited during the probe ({self._ended(proc)})"
        with self._lock:
            if self._proc is proc:
                self._proc = None
            lost, self._pending = self._pending, {}
        for waiter in lost.values():
            waiter.result = why
            waiter.done.set()

    @staticmethod
    def _ended(proc: subprocess.Popen[bytes]) -> str:
        code = proc.poll()
        if code is None:
            return "no answer"
        return f"killed by signal {-code}" if code < 0 else f"exit status {code}"

    @staticmethod
    def _track(proc: subprocess.Popen[bytes]) -> None:
        # Let an interrupted run's kill_all_children() stop the worker too.
        with _process._LIVE_LOCK:
            _process._LIVE.add(proc)

    @staticmethod
    def _kill(proc: subprocess.Popen[bytes]) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)
        with _process._LIVE_LOCK:
            _process._LIVE.discard(proc)

    def kill(self) -> None:
        """Kill the worker now (its probes in flight fail as client_error)."""
        with self._lock:
            proc = self._proc
        if proc is not None:
            self._kill(proc)

    def close(self) -> None:
        self.kill()


class WorkerPool:
    """One worker per (program, environment): trust variables differ between native and
    bundle probes (and --at adds libfaketime's), so each environment gets its own process."""

    def __init__(self) -> None:
        self._workers: dict[tuple[str, tuple[tuple[str, str], ...]], JsonLineWorker] = {}
        self._lock = threading.Lock()

    def get(
        self, program: str, env: Mapping[str, str], make: Callable[[], JsonLineWorker]
    ) -> JsonLineWorker:
        """The worker for ``program`` in ``env``, made by ``make`` the first time."""
        key = (program, tuple(sorted(env.items())))
        with self._lock:
            worker = self._workers.get(key)
            if worker is None:
                worker = self._workers[key] = make()
            return worker

    def values(self) -> list[JsonLineWorker]:
        """The workers started so far (a snapshot)."""
        with self._lock:
            return list(self._workers.values())

    def close(self) -> None:
        with self._lock:
            workers, self._workers = list(self._workers.values()), {}
        for worker in workers:
            worker.close()


__all__ = ["JsonLineWorker", "WorkerFailed", "WorkerPool"]
