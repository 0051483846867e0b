"""Writing reports: to stdout, or atomically to a file (a killed run never leaves a
half-written report). Files get the mode a plain ``open()`` would give them (0666 less the
umask), so CI artifacts stay readable; only ``private=True`` (keys) forces 0600."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile

from tlsmatrix.errors import UsageError


def current_umask() -> int:
    """The process umask, read without changing it (os.umask can only be read by setting
    it, which would race with other threads creating files)."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


def write_text(text: str, path: str | None, *, private: bool = False) -> None:
    """Write ``text`` to stdout (path None or "-") or atomically to ``path``."""
    if path is None or path == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise UsageError(f"cannot write {path}: directory {directory} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=".tlsmatrix-", suffix=".tmp", dir=directory)
    try:
        os.fchmod(fd, 0o600 if private else 0o666 & ~current_umask())
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
