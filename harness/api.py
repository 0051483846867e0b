"""The Python API: :func:`run` and :func:`inspect`, the same work as ``tlsmatrix run`` and
``tlsmatrix inspect`` without the command line.

Input is checked first, the way the CLI checks it: a bad target, client name, trust file,
``resolve`` entry, timeout or job count raises :class:`tlsmatrix.UsageError` (a ValueError)
with one plain sentence, before any probe starts. Client libraries, pyOpenSSL and
cryptography are imported inside the functions, so ``import tlsmatrix`` stays cheap.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from tlsmatrix.errors import UsageError

if TYPE_CHECKING:
    from datetime import datetime

    from tlsmatrix.chain.inspection import ChainInspection
    from tlsmatrix.clients.base import Target
    from tlsmatrix.results.model import RunResult

PathLike = str | os.PathLike[str]


def run(
    targets: str | Iterable[str],
    clients: str | Iterable[str] | None = None,
    ca_file: PathLike | None = None,
    trust: Mapping[str, PathLike] | None = None,
    resolve: str | Iterable[str] = (),
    timeout: float = 10,
    jobs: int = 8,
) -> RunResult:
    """Probe every target with every chosen client and explain each verdict.

    ``targets``: ``https://host[:port][/path]`` or ``host[:port]`` (one string or several).
    ``clients``: adapter names (see ``tlsmatrix clients``); None means every registered one.
    ``ca_file``: a PEM bundle every client trusts instead of its own store.
    ``trust``: ``{client: PEM}``, one client's bundle (wins over ``ca_file``).
    ``resolve``: ``"HOST:PORT:ADDR"`` entries: connect to ADDR, still sending SNI for HOST.
    ``timeout``: hard deadline per probe in seconds; ``jobs``: probes run at once.

    Returns a :class:`tlsmatrix.RunResult`: ``.results`` holds one row per target and
    client (``.client``, ``.verdict``, ``.reason``, ``.explanation``, ...) and
    ``.to_json()`` the document ``tlsmatrix run --format json`` writes.
    Raises :class:`tlsmatrix.UsageError` for bad input; never for what a server or a
    client does (that becomes a row)."""
    from tlsmatrix.inputs import check_ca_file, check_clients

    parsed = _targets(targets, resolve)
    chosen = check_clients(_strings(clients, "clients")) if clients is not None else []
    if clients is not None and not chosen:
        raise UsageError("clients is empty: name at least one client, or pass None for all")
    bundle = check_ca_file(_path(ca_file, "ca_file"), "ca_file") if ca_file is not None else None
    per_client = _trust(trust, chosen)
    seconds = _timeout(timeout)
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise UsageError(f"jobs must be a whole number of at least 1, not {jobs!r}")

    from tlsmatrix.runner.matrix import TrustPlan, run_matrix
    from tlsmatrix.runner.pool import load_clients

    return run_matrix(
        parsed,
        load_clients(chosen),
        trust=TrustPlan(bundle, per_client),
        timeout=seconds,
        jobs=jobs,
    )


def inspect(
    target: str,
    resolve: str | Iterable[str] = (),
    timeout: float = 10,
    at: datetime | None = None,
) -> ChainInspection:
    """Capture the chain ``target`` presents (without verifying it) and analyse it.

    Returns a :class:`tlsmatrix.ChainInspection`: ``.captured`` (the certificates as sent,
    the TLS version or the connection error) and ``.report`` (each certificate, the issues
    such as a missing intermediate, the path; None when nothing was received);
    ``.to_dict()`` is the ``chains`` entry of the JSON report. ``at`` judges validity at
    that time instead of now. Raises :class:`tlsmatrix.UsageError` for bad input."""
    if not isinstance(target, str):
        raise UsageError(f"target must be one string, not {type(target).__name__}")
    [parsed] = _targets([target], resolve)
    seconds = _timeout(timeout)
    from tlsmatrix.chain.inspection import inspect_chain

    return inspect_chain(parsed, seconds, at)


# --- input checks ---------------------------------------------------------------------


def _strings(value: str | Iterable[str], what: str) -> list[str]:
    """One string or an iterable of strings -> a list; anything else is a UsageError."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, bytes | Mapping) or not isinstance(value, Iterable):
        raise UsageError(f"{what} must be a string or a list of strings, not {value!r}")
    items = list(value)
    for item in items:
        if not isinstance(item, str):
            raise UsageError(f"{what} must hold strings only, not {item!r}")
    return items


def _targets(targets: str | Iterable[str], resolve: str | Iterable[str]) -> list[Target]:
    from tlsmatrix.runner.targets import apply_resolve, parse_resolve, parse_target

    texts = _strings(targets, "targets")
    if not texts:
        raise UsageError("no targets: give at least one https://host[:port]/ URL")
    parsed = [parse_target(t) for t in texts]
    parsed = apply_resolve(parsed, [parse_resolve(r) for r in _strings(resolve, "resolve")])
    return list(dict.fromkeys(parsed))


def _path(value: object, what: str) -> str:
    if isinstance(value, str | os.PathLike):
        return os.fspath(value)  # type: ignore[return-value]
    raise UsageError(f"{what} must be a path to a PEM file, not {value!r}")


def _trust(trust: Mapping[str, PathLike] | None, chosen: Sequence[str]) -> dict[str, str]:
    """``{client: PEM}`` -> {client: absolute path}, every name known and in this run."""
    if trust is None:
        return {}
    if not isinstance(trust, Mapping):
        raise UsageError(f"trust must be a mapping {{client: PEM file}}, not {trust!r}")
    from tlsmatrix import clients
    from tlsmatrix.inputs import check_ca_file

    known = clients.names()
    result: dict[str, str] = {}
    for name, path in trust.items():
        if name not in known:
            raise UsageError(f"trust names unknown client {name!r}; known: {', '.join(known)}")
        if chosen and name not in chosen:
            raise UsageError(f"trust names client {name!r}, which this run does not include")
        result[name] = check_ca_file(_path(path, f"trust[{name!r}]"), f"trust[{name!r}]")
    return result


def _timeout(timeout: float) -> float:
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise UsageError(f"timeout must be a number of seconds, not {timeout!r}")
    if not timeout > 0 or not math.isfinite(timeout):
        raise UsageError(f"timeout must be a positive number of seconds, not {timeout!r}")
    return float(timeout)
