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


def cert_name(subject: str | None, sha256: str) -> str:
    """short_name, or for a certificate with an empty subject its SHA-256 prefix, so a
    sentence never names it '?'."""
    return short_name(subject) if subject else f"(empty subject, SHA-256 {sha256[:16]})"
