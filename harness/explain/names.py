"""How certificates are named in sentences."""

from __future__ import annotations


def short_name(name: str | None) -> str:
    """'CN=Lab Intermediate CA,O=Lab' -> 'Lab Intermediate CA' (else the first value)."""
    if not name:
        return "?"
    parts = [p.partition("=") for p in name.split(",")]
    for key, _, value in parts:
        if key.strip().upper() == "CN" and value:
            return value.strip()
    first = parts[0][2].strip()
    return first or name
