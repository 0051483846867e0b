"""Running clients with their clock moved to another date (``--at``).

Every client that tlsmatrix runs as a program is started with libfaketime preloaded
(Debian package ``faketime``): ``FAKETIME="@DATE"`` starts its wall clock at DATE. The
date reaches the program through :func:`moved_env`, which ``child_env`` adds while a
:class:`MovedClient` probe runs (a context variable: probes run concurrently in threads,
each sets its own). In-process Python clients that the interpreter adapter can also run
as a script (stdlib, requests, urllib3, httpx, pyopenssl) run that way under the running
Python. Any other client cannot be moved and is skipped, saying why: it never runs at
the real date under a false label.
"""

from __future__ import annotations

import contextvars
import os
import re
import sys
import sysconfig
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from tlsmatrix.clients.base import Client, ClientInfo, Observation, Target, Trust

# Where Debian (and most distributions) install libfaketime's preload library.
_LIBRARY_DIRS = (
    f"/usr/lib/{sysconfig.get_config_var('MULTIARCH') or 'x86_64-linux-gnu'}/faketime",
    "/usr/lib/faketime",
    "/usr/lib64/faketime",
    "/usr/local/lib/faketime",
)
LIBRARY_ENV = "TLSMATRIX_LIBFAKETIME"  # an explicit path to libfaketime.so.1


class BadDate(ValueError):
    """An ``--at`` value that is neither an ISO date/datetime nor +Nd/-Nh."""


_RELATIVE = re.compile(r"^([+-])(\d+)([dhm])$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def parse_at(text: str, now: datetime | None = None) -> datetime:
    """``2040-01-01``, ``2040-01-01T12:00``, ``...+02:00`` (UTC when no zone is given), or
    relative to now: ``+30d``, ``-2d``, ``+12h``, ``+90m``. Raises BadDate."""
    text = text.strip()
    match = _RELATIVE.match(text)
    if match:
        sign, count, unit = match.groups()
        delta = timedelta(**{_UNITS[unit]: int(count)})
        base = now or datetime.now(UTC)
        return (base + delta if sign == "+" else base - delta).replace(microsecond=0)
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        raise BadDate(
            f"--at {text!r}: expected an ISO date or datetime (2040-01-01, "
            "2040-01-01T12:00:00Z) or a relative time (+30d, -2d, +12h)"
        ) from None
    if when.year < 1971:
        raise BadDate(f"--at {text!r}: dates before 1971 cannot be set on a client's clock")
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def iso(when: datetime) -> str:
    """``2040-01-01T00:00:00Z``: how reports state the date."""
    return when.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def find_library() -> str | None:
    """The path of libfaketime.so.1, or None when it is not installed."""
    explicit = os.environ.get(LIBRARY_ENV)
    if explicit:
        return explicit if os.path.isfile(explicit) else None
    for directory in _LIBRARY_DIRS:
        path = os.path.join(directory, "libfaketime.so.1")
        if os.path.isfile(path):
            return path
    return None


@dataclass(frozen=True)
class Clock:
    """A client clock moved to ``at`` (UTC) with libfaketime at ``library``."""

    at: datetime
    library: str

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """The variables that start a program's wall clock at ``at``."""
        preload = (base or {}).get("LD_PRELOAD", "")
        stamp = self.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
        return {
            "LD_PRELOAD": f"{self.library}:{preload}" if preload else self.library,
            "FAKETIME": f"@{stamp}",
            "TZ": "UTC",  # FAKETIME's stamp is read in local time
            # Children (java's, chromium's) keep the moved clock instead of starting over.
            "FAKETIME_DONT_RESET": "1",
            # The monotonic clock is moved too: it still counts real seconds from there,
            # and with DONT_FAKE_MONOTONIC=1 a JVM took 11 s instead of 0.5 s (measured).
        }


_MOVED: contextvars.ContextVar[Clock | None] = contextvars.ContextVar("tlsmatrix_clock")


def moved_env(base: dict[str, str]) -> dict[str, str]:
    """What ``child_env`` adds for the probe running in this thread: the faketime
    variables when its clock is moved, else nothing."""
    clock = _MOVED.get(None)
    return clock.env(base) if clock is not None else {}


class MovedClient:
    """``inner`` probed with its programs' clocks at ``clock.at``."""

    def __init__(self, inner: Client, clock: Clock, how: str) -> None:
        self.name = inner.name
        self.inner = inner
        self.clock = clock
        self.how = how

    def info(self) -> ClientInfo:
        info = self.inner.info()
        note = f"clock moved to {iso(self.clock.at)} with libfaketime ({self.how})"
        return replace(info, notes=(*info.notes, note))

    def probe(self, target: Target, trust: Trust, timeout: float) -> Observation:
        token = _MOVED.set(self.clock)
        try:
            return self.inner.probe(target, trust, timeout)
        finally:
            _MOVED.reset(token)


class UnmovedClient:
    """A client whose clock cannot be moved: unavailable for this run, saying why."""

    def __init__(self, inner: Client, why: str) -> None:
        self.name = inner.name
        self.inner = inner
        self.why = why

    def info(self) -> ClientInfo:
        info = self.inner.info()
        return replace(
            info, available=False, unavailable_reason=f"cannot move this client's clock: {self.why}"
        )

    def probe(self, target: Target, trust: Trust, timeout: float) -> Observation:
        from tlsmatrix.clients._common import observe
        from tlsmatrix.clients.base import Reason

        return observe(
            target,
            self.name,
            Reason.CLIENT_UNAVAILABLE,
            detail=f"cannot move this client's clock: {self.why}",
            started=time.monotonic(),
            trust=None,
        )


def move(client: Client, at: datetime, library: str | None = None) -> Client:
    """``client`` for a run judged at ``at``: moved, run as a script under faketime, or
    unmoved (skipped) with the reason."""
    from tlsmatrix.clients._subprocess import SubprocessAdapter
    from tlsmatrix.clients.interpreter import ADAPTERS, InterpreterClient

    library = library or find_library()
    if library is None:
        return UnmovedClient(client, "libfaketime is not installed (Debian package faketime)")
    clock = Clock(at, library)
    if isinstance(client, SubprocessAdapter):  # every one measured to move (README)
        return MovedClient(client, clock, "its program runs under it")
    if isinstance(client, InterpreterClient):
        return MovedClient(client, clock, "its probe script runs under it")
    # Built-in names cannot be shadowed by a plugin: this is the in-process adapter.
    if client.name in ADAPTERS:
        script = InterpreterClient.under_running_python(client.name)
        return MovedClient(script, clock, f"run as a script under {sys.executable}")
    return UnmovedClient(
        client,
        "it runs inside tlsmatrix's own process, not as a program tlsmatrix starts, so "
        "libfaketime cannot be preloaded into it",
    )


__all__ = [
    "BadDate",
    "Clock",
    "LIBRARY_ENV",
    "MovedClient",
    "UnmovedClient",
    "find_library",
    "iso",
    "move",
    "moved_env",
    "parse_at",
]
