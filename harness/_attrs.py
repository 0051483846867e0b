"""Small helper for the ``to_dict`` methods of result records."""

from __future__ import annotations

from typing import Any


def pick(obj: object, *names: str) -> dict[str, Any]:
    """The named attributes of ``obj``, keyed by name, in the order given (the JSON key order)."""
    return {name: getattr(obj, name) for name in names}
