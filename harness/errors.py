"""The one exception type that means "the user's input is wrong": the CLI prints its
message as one line on stderr and exits 2."""

from __future__ import annotations


class UsageError(ValueError):
    """Bad input from the user (target, option, file). The message is one plain line."""


def one_line(exc: BaseException, limit: int = 300) -> str:
    """``Type: message`` on one line, cut at ``limit``: how an unforeseen error is told."""
    return f"{type(exc).__name__}: {' '.join(str(exc).split())[:limit]}"
