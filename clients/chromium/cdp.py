"""A tiny Chrome DevTools Protocol client over ``--remote-debugging-pipe``.

Chromium reads commands from fd 3 and writes replies and events to fd 4, each message a
JSON object terminated by a NUL byte. :class:`BrowserProcess` starts the browser with those
two descriptors in place (via ``posix_spawn``: ``preexec_fn`` is unsafe with threads) in a
new session, so the whole process tree can be killed as one group.

:class:`CDPConnection` is synchronous for its callers and safe to share between threads:
one reader thread files replies by ``id`` and events by ``sessionId``; every wait has a
deadline, so a hung browser can stall a caller no longer than the caller allows.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

JSON = dict[str, Any]


class CDPError(Exception):
    """The browser answered a command with an error."""


class CDPTimeout(Exception):
    """No answer before the deadline."""


class CDPClosed(Exception):
    """The pipe closed: the browser exited or was killed."""


class CDPConnection:
    """Send commands, wait for their results, collect events per session."""

    def __init__(self, write_fd: int, read_fd: int) -> None:
        self._write_fd = write_fd
        self._read_fd = read_fd
        self._cond = threading.Condition()
        self._write_lock = threading.Lock()
        self._next_id = 0
        self._results: dict[int, JSON] = {}
        self._events: dict[str, list[JSON]] = {}  # sessionId -> events, for subscribers only
        self._closed = False
        self._reader = threading.Thread(target=self._read_loop, name="cdp-reader", daemon=True)
        self._reader.start()

    @property
    def closed(self) -> bool:
        return self._closed

    # --- sending -------------------------------------------------------------------

    def send(
        self,
        method: str,
        params: Mapping[str, Any] | None = None,
        *,
        session_id: str | None = None,
        deadline: float,
    ) -> JSON:
        """Run one command and return its ``result``.

        Raises CDPError (error reply), CDPTimeout (no reply by ``deadline``, a
        ``time.monotonic()`` value) or CDPClosed."""
        msg_id = self.post(method, params, session_id=session_id, deadline=deadline)
        return self.result(msg_id, deadline=deadline)

    def post(
        self,
        method: str,
        params: Mapping[str, Any] | None = None,
        *,
        session_id: str | None = None,
        deadline: float,
    ) -> int:
        """Send a command without waiting for its reply; return its id for :meth:`result`."""
        with self._cond:
            if self._closed:
                raise CDPClosed("browser pipe closed")
            self._next_id += 1
            msg_id = self._next_id
        message: JSON = {"id": msg_id, "method": method, "params": dict(params or {})}
        if session_id is not None:
            message["sessionId"] = session_id
        data = json.dumps(message).encode() + b"\0"
        with self._write_lock:
            if self._write_fd < 0:
                raise CDPClosed("browser pipe closed")
            self._write_all(data, deadline)
        return msg_id

    def _write_all(self, data: bytes, deadline: float) -> None:
        view = memoryview(data)
        while view:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CDPTimeout("browser does not read its pipe")
            try:
                _, writable, _ = select.select([], [self._write_fd], [], remaining)
                if writable:
                    view = view[os.write(self._write_fd, view) :]
            except OSError as exc:  # EPIPE, EBADF: the browser is gone
                self._mark_closed()
                raise CDPClosed(str(exc)) from exc

    # --- receiving -----------------------------------------------------------------

    def result(self, msg_id: int, *, deadline: float) -> JSON:
        """Wait for the reply to ``msg_id``; see :meth:`send` for what it raises."""
        with self._cond:
            while msg_id not in self._results:
                if self._closed:
                    raise CDPClosed("browser pipe closed")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise CDPTimeout(f"no reply to command {msg_id}")
                self._cond.wait(remaining)
            reply = self._results.pop(msg_id)
        if "error" in reply:
            error = reply["error"]
            raise CDPError(f"{error.get('message', error)} ({error.get('code')})")
        return reply.get("result", {})

    def subscribe(self, session_id: str) -> None:
        """Start keeping the events of ``session_id`` (others are dropped)."""
        with self._cond:
            self._events.setdefault(session_id, [])

    def unsubscribe(self, session_id: str) -> None:
        with self._cond:
            self._events.pop(session_id, None)

    def wait_events(self, session_id: str, *, deadline: float) -> list[JSON]:
        """Return (and forget) the events of ``session_id`` received so far, waiting until
        at least one arrived, the deadline passed or the pipe closed (then maybe empty)."""
        with self._cond:
            while not self._events.get(session_id) and not self._closed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            events = self._events.get(session_id, [])
            if session_id in self._events:
                self._events[session_id] = []
            return events

    def wait_any(self, session_id: str, msg_ids: Sequence[int], *, deadline: float) -> None:
        """Block until an event for ``session_id`` or a reply to one of ``msg_ids`` is
        waiting, the deadline passed, or the pipe closed."""
        with self._cond:
            while not self._closed:
                if self._events.get(session_id) or any(i in self._results for i in msg_ids):
                    return
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                self._cond.wait(remaining)

    def has_result(self, msg_id: int) -> bool:
        with self._cond:
            return msg_id in self._results

    def _read_loop(self) -> None:
        buffer = b""
        try:
            while True:
                chunk = os.read(self._read_fd, 65536)
                if not chunk:
                    break
                buffer += chunk
                *messages, buffer = buffer.split(b"\0")
                for raw in messages:
                    self._dispatch(raw)
        except OSError:
            pass
        finally:
            self._mark_closed()
            with contextlib.suppress(OSError):
                os.close(self._read_fd)  # only this thread reads it, so only it closes it

    def _dispatch(self, raw: bytes) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            return
        with self._cond:
            if "id" in message:
                self._results[message["id"]] = message
            else:
                events = self._events.get(message.get("sessionId", ""))
                if events is None:
                    return
                events.append(message)
            self._cond.notify_all()

    def _mark_closed(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def close(self) -> None:
        """Stop sending; the reader closes its end when the browser's side closes."""
        self._mark_closed()
        with self._write_lock:
            if self._write_fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(self._write_fd)
                self._write_fd = -1


def _high_cloexec(fd: int) -> int:
    """A close-on-exec copy of ``fd`` numbered 10 or above (so it can never already be 3
    or 4, which ``posix_spawn``'s dup2 would then leave close-on-exec); ``fd`` is closed."""
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


class BrowserProcess:
    """A browser started with the DevTools pipe on fds 3/4, in its own session.

    ``log_path`` receives the browser's stdout and stderr. Raises OSError when the binary
    cannot be started."""

    def __init__(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        log_path: str,
    ) -> None:
        cmd_read, cmd_write = (_high_cloexec(fd) for fd in os.pipe())
        out_read, out_write = (_high_cloexec(fd) for fd in os.pipe())
        log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        null_fd = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        try:
            self.pid = os.posix_spawn(
                argv[0],
                list(argv),
                dict(env),
                file_actions=[
                    (os.POSIX_SPAWN_DUP2, null_fd, 0),
                    (os.POSIX_SPAWN_DUP2, log_fd, 1),
                    (os.POSIX_SPAWN_DUP2, log_fd, 2),
                    (os.POSIX_SPAWN_DUP2, cmd_read, 3),
                    (os.POSIX_SPAWN_DUP2, out_write, 4),
                ],
                setsid=True,
            )
        except BaseException:
            for fd in (cmd_write, out_read):
                os.close(fd)
            raise
        finally:
            for fd in (cmd_read, out_write, log_fd, null_fd):
                os.close(fd)
        self.connection = CDPConnection(cmd_write, out_read)
        self._reaped: int | None = None
        self._lock = threading.Lock()

    def alive(self) -> bool:
        with self._lock:
            if self._reaped is not None:
                return False
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                self._reaped = -1
                return False
            if pid == 0:
                return not self.connection.closed
            self._reaped = status
            return False

    def exit_description(self) -> str:
        """How it ended, once reaped: "exit status N" or "killed by signal N"."""
        with self._lock:
            status = self._reaped
        if status is None or status < 0:
            return "exit status unknown"
        code = os.waitstatus_to_exitcode(status)
        return f"killed by signal {-code}" if code < 0 else f"exit status {code}"

    def kill(self) -> None:
        """Kill the whole process group (browser, zygote, renderers, utilities) and reap."""
        self.connection.close()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        with self._lock:
            if self._reaped is None:
                try:
                    _, status = os.waitpid(self.pid, 0)
                    self._reaped = status
                except ChildProcessError:
                    self._reaped = -1


def wait_for(predicate: Callable[[], bool], deadline: float, step: float = 0.02) -> bool:
    """Poll ``predicate`` until it holds or ``deadline`` passes; return its last value."""
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(step)
