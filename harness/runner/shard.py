"""Sharding a run across CI jobs, and joining the parts again.

A target belongs to shard ``K/N`` when the SHA-256 of its name, taken as a number, is
``K-1`` modulo ``N``: the slice depends only on the target itself, not on the order or on
the other targets, so a CI matrix gives every job the same targets on every run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from tlsmatrix.clients.base import Target
from tlsmatrix.errors import UsageError
from tlsmatrix.results.model import (
    Divergence,
    RunResult,
    find_divergences,
    from_dict,
    merge_clients,
)

T = TypeVar("T", str, Target)


@dataclass(frozen=True)
class Shard:
    index: int  # 1-based K
    count: int  # N

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def to_dict(self) -> dict[str, int]:
        return {"index": self.index, "count": self.count}


def parse_shard(text: str) -> Shard:
    """``K/N`` with 1 <= K <= N. Raises UsageError."""
    k, sep, n = text.partition("/")
    if not sep or not k.isdigit() or not n.isdigit():
        raise UsageError(f"--shard wants K/N, e.g. 1/3, got {text!r}")
    shard = Shard(int(k), int(n))
    if shard.count < 1 or not 1 <= shard.index <= shard.count:
        raise UsageError(f"--shard {text}: K must be between 1 and N (N >= 1)")
    return shard


def shard_of(name: str, count: int) -> int:
    """The 1-based shard that the target called ``name`` belongs to, out of ``count``."""
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def select(targets: Iterable[T], shard: Shard) -> list[T]:
    """The targets of ``shard``, in their given order (keyed by Target.name)."""
    return [
        t
        for t in targets
        if shard_of(t.name if isinstance(t, Target) else t, shard.count) == shard.index
    ]


# --- merge ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """One loaded JSON report, with the shard it says it is (if any)."""

    source: str
    run: RunResult
    shard: Shard | None = None


def load_part(source: str, data: Mapping[str, Any]) -> Part:
    """A part from a parsed JSON document. Raises UsageError for a non-tlsmatrix/1 one."""
    try:
        run = from_dict(data)
    except (KeyError, ValueError, TypeError) as exc:
        raise UsageError(f"{source}: not a tlsmatrix/1 report ({_plain(exc)})") from None
    shard = None
    raw = data.get("shard")
    if isinstance(raw, Mapping):
        try:
            shard = Shard(int(raw["index"]), int(raw["count"]))
        except (KeyError, ValueError, TypeError):
            raise UsageError(f"{source}: malformed 'shard' entry {raw!r}") from None
    return Part(source, run, shard)


def merge(parts: Sequence[Part]) -> tuple[RunResult, list[str]]:
    """Join the parts into one run, plus notes for the user.

    Results come sorted by target name, then by client in the order the parts list the
    clients; divergences are recomputed (keeping an explanation a part already had); the
    environment is the first part's, ``generated_at`` the latest; the run is partial when
    a part is, or when the parts are shards of one split with a shard missing.
    Raises UsageError when two parts hold the same cell, or come from different splits
    or from clients of different versions."""
    if not parts:
        raise UsageError("merge needs at least one part")
    notes: list[str] = []
    _check_shards(parts, notes)
    _check_client_versions(parts)

    owner: dict[tuple[str, str], str] = {}
    for part in parts:
        for obs in part.run.results:
            key = (obs.target, obs.client)
            if key in owner:
                raise UsageError(
                    f"parts overlap: {obs.target} / {obs.client} is in both {owner[key]} "
                    f"and {part.source}"
                )
            owner[key] = part.source

    clients = merge_clients([c for p in parts for c in p.run.clients])
    client_order = {name: i for i, name in enumerate(c.name for c in clients)}
    for part in parts:  # clients that have results but no info still get a place
        for name in part.run.client_names():
            client_order.setdefault(name, len(client_order))
    results = tuple(
        sorted(
            (o for p in parts for o in p.run.results),
            key=lambda o: (o.target, client_order[o.client]),
        )
    )
    known = {(d.target, d.groups): d.explanation for p in parts for d in p.run.divergences}
    divergences = tuple(
        Divergence(d.target, d.groups, known.get((d.target, d.groups), ""))
        for d in find_divergences(results)
    )
    chains: dict[str, Any] = {}
    for part in parts:
        for target, chain in part.run.chains.items():
            chains.setdefault(target, chain)
    shards = [p.shard for p in parts]
    missing_shard = False
    if shards and all(s is not None for s in shards):
        count = shards[0].count  # type: ignore[union-attr]
        have = {s.index for s in shards if s is not None}
        lacking = sorted(set(range(1, count + 1)) - have)
        if lacking:
            missing_shard = True
            notes.append(
                f"shard{'s' if len(lacking) > 1 else ''} "
                f"{', '.join(f'{k}/{count}' for k in lacking)} missing: "
                "the merged result is marked partial"
            )
    dates = sorted({p.run.at or "the time of the run" for p in parts})
    if len(dates) > 1:
        notes.append(f"the runs were judged at different dates ({', '.join(dates)})")
    merged = RunResult(
        results=results,
        clients=clients,
        environment=parts[0].run.environment,
        generated_at=max(p.run.generated_at for p in parts),
        divergences=divergences,
        chains=chains,
        partial=any(p.run.partial for p in parts) or missing_shard,
        at=parts[0].run.at if len(dates) == 1 else None,
        extra=_merge_extra([p.run.extra for p in parts]),
    )
    return merged, notes


# Sections that describe one part, not the joined run: a merge (re)computes them.
_PER_PART = frozenset({"shard", "expectations"})


def _merge_extra(extras: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Other sections of the parts (the lab's, say) joined one level deep: mappings are
    united, lists concatenated; anything else comes from the first part that has it."""
    merged: dict[str, Any] = {}
    for extra in extras:
        for key, value in extra.items():
            if key in _PER_PART:
                continue
            if key not in merged:
                merged[key] = dict(value) if isinstance(value, Mapping) else value
                continue
            have = merged[key]
            if isinstance(have, dict) and isinstance(value, Mapping):
                for sub, item in value.items():
                    old = have.get(sub)
                    if isinstance(old, dict) and isinstance(item, Mapping):
                        have[sub] = {**old, **item}
                    elif isinstance(old, list) and isinstance(item, list):
                        have[sub] = old + item
                    else:
                        have.setdefault(sub, item)
    return merged


def _check_shards(parts: Sequence[Part], notes: list[str]) -> None:
    sharded = [p for p in parts if p.shard is not None]
    if not sharded:
        return
    if len(sharded) != len(parts):
        plain = next(p for p in parts if p.shard is None)
        raise UsageError(
            f"mismatched parts: {sharded[0].source} is shard {sharded[0].shard} but "
            f"{plain.source} is not a shard"
        )
    first = sharded[0]
    assert first.shard is not None
    seen: dict[int, str] = {}
    for part in sharded:
        assert part.shard is not None
        if part.shard.count != first.shard.count:
            raise UsageError(
                f"mismatched parts: {first.source} is shard {first.shard} but "
                f"{part.source} is shard {part.shard}"
            )
        if part.shard.index in seen:
            raise UsageError(
                f"parts overlap: {seen[part.shard.index]} and {part.source} are both "
                f"shard {part.shard}"
            )
        seen[part.shard.index] = part.source


def _check_client_versions(parts: Sequence[Part]) -> None:
    first: dict[str, tuple[str, tuple[str | None, str | None]]] = {}
    for part in parts:
        for info in part.run.clients:
            if not info.available:
                continue
            version = (info.version, info.tls_library_version)
            if info.name not in first:
                first[info.name] = (part.source, version)
            elif first[info.name][1] != version:
                source, other = first[info.name]
                raise UsageError(
                    f"mismatched parts: client {info.name} is {_version(other)} in {source} "
                    f"but {_version(version)} in {part.source}"
                )


def _version(pair: tuple[str | None, str | None]) -> str:
    version, lib = pair
    return f"{version or '?'} ({lib or '?'})"


def _plain(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return f"missing key {exc.args[0]!r}"
    return str(exc)
