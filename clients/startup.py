"""Start-up is not the server's fault: the bound on starting a client's runtime.

Starting a browser (or, later, a long-lived worker) is the client's cost, not the
target's. An adapter wraps that start in ``starting()``; the runner then holds the
probe's deadline until the start is over (bounding the start on its own by
STARTUP_LIMIT_S) and a start that hangs is reported as the client's error, never as a
timeout of the server. Outside the runner ``starting()`` only measures nothing and costs
nothing."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

# How long a runtime may take to start, on its own clock. A headless Chromium on a
# 2-core machine at load average 20 took up to ~12 s to answer its first DevTools call.
STARTUP_LIMIT_S = 30.0

_local = threading.local()


@contextmanager
def starting() -> Iterator[None]:
    """Mark the calling thread as starting its client's runtime (not probing the target)."""
    hooks: tuple[Callable[[], None], Callable[[], None]] | None = getattr(_local, "hooks", None)
    if hooks is not None:
        hooks[0]()
    try:
        yield
    finally:
        if hooks is not None:
            hooks[1]()


def install(begin: Callable[[], None], end: Callable[[], None]) -> None:
    """The runner's hooks for this thread: ``begin`` and ``end`` of a start-up."""
    _local.hooks = (begin, end)


def heavy_share(per_core: float) -> int:
    """A heavy runtime's concurrency cap on this machine: ``per_core`` probes at once per
    core (at least one). Feeds ClientInfo.max_parallel."""
    return max(1, int((os.cpu_count() or 1) * per_core))


__all__ = ["STARTUP_LIMIT_S", "heavy_share", "install", "starting"]
