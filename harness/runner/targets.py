"""Parsing and validating targets and ``--resolve`` entries.

A target is ``https://host[:port][/path]`` or ``host[:port]`` (port 443). Everything a user
types is checked here, once, so adapters can trust the Target they are given.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import replace
from urllib.parse import urlsplit

from tlsmatrix.clients.base import Target
from tlsmatrix.errors import UsageError

# A DNS label as written: letters (any script, for IDN), digits, hyphen, underscore.
_LABEL = re.compile(r"^(?!-)[\w-]{1,63}(?<!-)$", re.UNICODE)


def parse_target(text: str) -> Target:
    """Parse one target. Raises UsageError with a one-line reason."""
    raw = text
    if not text or not text.strip():
        raise UsageError("empty target")
    if any(ord(c) < 32 or ord(c) == 127 for c in text) or any(c.isspace() for c in text):
        raise UsageError(f"target contains spaces or control characters: {raw!r}")
    if text.startswith("-"):
        raise UsageError(f"target may not start with '-': {raw!r}")
    if "://" in text:
        scheme = text.split("://", 1)[0].lower()
        if scheme != "https":
            raise UsageError(f"only https:// targets can be checked, not {scheme}://: {raw!r}")
    else:
        text = "https://" + text
    netloc = text.split("://", 1)[1].split("/", 1)[0]
    if netloc.count(":") > 1 and "[" not in netloc:
        raise UsageError(f"IPv6 addresses must be in brackets, e.g. https://[::1]:8443/: {raw!r}")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        if "port" in str(exc).lower():
            raise UsageError(f"port out of range 1-65535 or not a number in {raw!r}") from None
        raise UsageError(f"malformed target {raw!r}: {_plain(exc)}") from None
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise UsageError(f"target may not contain user info: {raw!r}")
    host = parts.hostname or ""
    if not host:
        raise UsageError(f"target has no host: {raw!r}")
    host = _check_host(host, raw)
    if port is None:
        if parts.netloc.endswith(":"):
            raise UsageError(f"target has an empty port: {raw!r}")
        port = 443
    _check_port(port, raw)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(host=host, port=port, path=path)


def _check_host(host: str, raw: str) -> str:
    host = host.lower()
    if host.startswith("-"):
        raise UsageError(f"host may not start with '-': {raw!r}")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if ":" in host:
        raise UsageError(f"IPv6 addresses must be in brackets, e.g. https://[::1]:8443/: {raw!r}")
    labels = host[:-1].split(".") if host.endswith(".") else host.split(".")
    if len(host) > 253 or not all(_LABEL.match(label) for label in labels):
        raise UsageError(f"not a valid host name: {host!r}")
    try:
        (host[:-1] if host.endswith(".") else host).encode("idna")
    except UnicodeError:
        raise UsageError(f"host name cannot be encoded for DNS (IDNA): {host!r}") from None
    return host


def _check_port(port: int, raw: str) -> None:
    if not 1 <= port <= 65535:
        raise UsageError(f"port out of range 1-65535 in {raw!r}")


def _plain(exc: Exception) -> str:
    return str(exc).rstrip(".")


def parse_resolve(text: str) -> tuple[str, int, str]:
    """``HOST:PORT:ADDR`` as curl's --resolve: connect to ADDR for HOST:PORT."""
    host, sep1, rest = text.partition(":")
    port_text, sep2, addr = rest.partition(":")
    if not (sep1 and sep2 and host and port_text and addr):
        raise UsageError(f"--resolve wants HOST:PORT:ADDR, got {text!r}")
    if not (port_text.isascii() and port_text.isdigit()):  # "²".isdigit() is True
        raise UsageError(f"--resolve port is not a number: {text!r}")
    port = int(port_text)
    _check_port(port, text)
    host = _check_host(host, text)
    addr = addr.strip("[]")
    try:
        addr = str(ipaddress.ip_address(addr))
    except ValueError:
        raise UsageError(f"--resolve address must be an IP address: {text!r}") from None
    return host, port, addr


def apply_resolve(
    targets: Iterable[Target], entries: Iterable[tuple[str, int, str]]
) -> list[Target]:
    """Targets with ``connect_to`` set where a --resolve entry names their host and port."""
    table = {(h, p): a for h, p, a in entries}
    return [
        replace(t, connect_to=table[(t.host, t.port)]) if (t.host, t.port) in table else t
        for t in targets
    ]


def read_hosts_file(path: str) -> list[str]:
    """One target per line; blank lines and ``#`` comments are skipped. ``-`` is stdin."""
    try:
        if path == "-":
            import sys

            data = sys.stdin.buffer.read(10_000_000)
            path = "(stdin)"
        else:
            with open(path, "rb") as handle:
                data = handle.read(10_000_000)
    except OSError as exc:
        raise UsageError(f"cannot read hosts file {path}: {exc.strerror or exc}") from None
    if b"\0" in data:
        raise UsageError(f"hosts file {path} is binary, not a list of targets")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"hosts file {path} is not UTF-8 text") from None
    lines = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    entries = [line for line in lines if line]
    if not entries:
        raise UsageError(f"hosts file {path} names no targets")
    return entries
