"""Running a program the way tlsmatrix runs every client: argv list (never a shell), stdin
closed, output captured, a hard deadline that kills the whole process group. Public: the
adapters use it, and so do the harness (lab, nginx, runner) and the tests."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tlsmatrix.clients.base import PROXY_ENV_VARS, TRUST_ENV_VARS, Trust
from tlsmatrix.clients.clock import moved_env

# Kept even for an explicit bundle: they carry a client's whole start-up configuration, and
# the adapter overrides the trust on the command line itself (wget --no-config, Java's
# in-memory KeyStore).
_KEPT_WITH_BUNDLE = frozenset({"WGETRC", "JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS"})


def child_env(trust: Trust, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a client subprocess: unchanged for native trust (that is what
    the user's machine does), without trust and proxy redirections for an explicit bundle,
    and never with a proxy (probes talk to the target itself)."""
    env = dict(os.environ if base is None else base)
    for var in PROXY_ENV_VARS:
        env.pop(var, None)
    if not trust.is_native:
        for var in TRUST_ENV_VARS:
            if var not in _KEPT_WITH_BUNDLE:
                env.pop(var, None)
    env.update(moved_env(env))  # a probe of a run judged at another date (--at)
    return env


@dataclass(frozen=True)
class CommandResult:
    returncode: int | None  # None when killed at the deadline
    stdout: str
    stderr: str
    timed_out: bool


# Client processes running right now, so an interrupted run can stop every one of them.
_LIVE: set[subprocess.Popen[bytes]] = set()
_LIVE_LOCK = threading.Lock()
_STOPPING = threading.Event()  # set once the process is shutting down after an interrupt


def kill_all_children() -> None:
    """Kill the process group of every client process still running, and any started
    from now on (a probe may be spawning one at this very moment). Used on Ctrl-C/SIGTERM,
    after which the process only writes its partial results and exits."""
    with _LIVE_LOCK:
        _STOPPING.set()
        live = list(_LIVE)
    for proc in live:
        _kill_group(proc)


def run_command(
    argv: Sequence[str], timeout: float, env: Mapping[str, str] | None = None
) -> CommandResult:
    """Run argv (never a shell) with stdin closed; kill its whole process group at the
    deadline, since openssl, gnutls-cli and friends have no handshake timeout of their own."""
    proc = subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(env) if env is not None else None,
        start_new_session=True,
    )
    with _LIVE_LOCK:
        _LIVE.add(proc)
        if _STOPPING.is_set():
            _kill_group(proc)
    try:
        out, err = proc.communicate(timeout=max(timeout, 0.01))
        timed_out = False
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        out, err = proc.communicate()
        timed_out = True
    finally:
        _kill_group(proc)  # grandchildren left behind by a finished parent
        with _LIVE_LOCK:
            _LIVE.discard(proc)
    return CommandResult(
        None if timed_out else proc.returncode,
        out.decode("utf-8", "replace"),
        err.decode("utf-8", "replace"),
        timed_out,
    )


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def run_version(
    binary: str, args: Sequence[str], package: str, timeout: float = 10
) -> CommandResult | str:
    """Find ``binary`` on PATH and run it with ``args`` (e.g. --version) under a short
    deadline and without proxies: its output, or the one-line reason it is unavailable."""
    path = shutil.which(binary)
    if path is None:
        return f"{binary} not found on PATH (Debian package {package})"
    shown = " ".join([path, *args])
    try:
        result = run_command([path, *args], timeout=timeout, env=child_env(Trust.native()))
    except OSError as exc:
        return f"{shown} failed: {exc}"
    if result.timed_out:
        return f"{shown} did not answer within {timeout:g} s"
    return result


def first_line(text: str) -> str:
    """The first non-blank line of ``text``, stripped ("" when there is none)."""
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def last_json_line(text: str) -> dict[str, object] | None:
    """The last line of ``text`` that is a JSON object."""
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                return value
    return None


__all__ = [
    "CommandResult",
    "child_env",
    "first_line",
    "kill_all_children",
    "last_json_line",
    "run_command",
    "run_version",
]
