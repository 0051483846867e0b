"""``--fail-on``: the CI policies that need no expectations file.

``disagreement``: clients that ran reached different verdicts or reasons on a target;
``reject``: any client rejected a target; ``error``: any probe ended without a TLS verdict
(error or timeout). Skipped clients count for none of them."""

from __future__ import annotations

from collections.abc import Iterable

from tlsmatrix.clients.base import Verdict
from tlsmatrix.results.model import RunResult

CONDITIONS = ("disagreement", "reject", "error")


def parse_fail_on(values: Iterable[str]) -> tuple[str, ...]:
    """Repeated ``--fail-on`` values and comma lists, checked; order kept, no repeats."""
    from tlsmatrix.inputs import split_names, unknown_name

    chosen = split_names(list(values))
    for name in chosen:
        if name not in CONDITIONS:
            raise unknown_name("--fail-on condition", name, CONDITIONS)
    return tuple(dict.fromkeys(chosen))


def failures(run: RunResult, conditions: Iterable[str]) -> list[str]:
    """One line per condition that holds, naming where: empty when the run passes."""
    wanted = set(conditions)
    lines: list[str] = []
    if "disagreement" in wanted:
        for div in run.divergences:
            lines.append(f"disagreement on {div.target}: {div.summary()}")
    if "reject" in wanted:
        lines += _cells(run, (Verdict.REJECT,), "rejected")
    if "error" in wanted:
        lines += _cells(run, (Verdict.ERROR, Verdict.TIMEOUT), "no verdict")
    return lines


def _cells(run: RunResult, verdicts: tuple[Verdict, ...], what: str) -> list[str]:
    by_target: dict[str, list[str]] = {}
    for obs in run.results:
        if obs.verdict in verdicts:
            by_target.setdefault(obs.target, []).append(f"{obs.client} ({obs.reason.value})")
    return [f"{what} on {target}: {', '.join(names)}" for target, names in by_target.items()]
