"""Terminal colour for the table reports: verdicts and disagreements, only for a person.

On with ``--color always``; with ``auto`` (the default) only when the report goes to a
terminal and ``NO_COLOR`` is unset (any value, even empty, turns it off: no-color.org);
never with ``--color never``."""

from __future__ import annotations

import os
import sys

MODES = ("auto", "always", "never")

_CODES = {
    "accept": "32",  # green
    "reject": "31",  # red
    "error": "33",  # yellow
    "timeout": "33",
    "skipped": "2",  # dim
    "disagreement": "1;33",  # bold yellow
    "bold": "1",
}


def use_colour(mode: str | None, output: str | None) -> bool:
    """Whether a table written to ``output`` (None or '-' for stdout) gets colour."""
    if mode == "always":
        return True
    if mode == "never":
        return False
    if output not in (None, "-"):
        return False
    if "NO_COLOR" in os.environ:
        return False
    return sys.stdout.isatty()


def paint(text: str, style: str, on: bool) -> str:
    """``text`` in the colour for ``style`` (a verdict value, 'disagreement', 'bold')."""
    code = _CODES.get(style)
    if not on or code is None or not text:
        return text
    return f"\x1b[{code}m{text}\x1b[0m"
