"""``tlsmatrix diff BEFORE.json AFTER.json``: which cells (target x client) changed
verdict or reason, appeared or disappeared. Exit 1 when any verdict changed."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # only annotations: `tlsmatrix --help` must not load ssl and results
    from tlsmatrix.clients.base import Observation
    from tlsmatrix.results.model import RunResult

ChangeKind = Literal["verdict", "reason", "added", "removed"]


@dataclass(frozen=True)
class CellChange:
    target: str
    client: str
    change: ChangeKind
    before: Observation | None
    after: Observation | None

    def to_dict(self) -> dict[str, Any]:
        def side(o: Observation | None) -> dict[str, Any] | None:
            if o is None:
                return None
            return {"verdict": o.verdict.value, "reason": o.reason.value, "detail": o.detail}

        return {
            "target": self.target,
            "client": self.client,
            "change": self.change,
            "before": side(self.before),
            "after": side(self.after),
        }


def diff_runs(before: RunResult, after: RunResult) -> tuple[CellChange, ...]:
    """Every cell whose verdict or reason differs, or that is only on one side; in the
    order of AFTER's cells, then the removed ones in BEFORE's order. A lab cell is keyed
    by its scenario's name, not its URL: the lab's ports change on every run."""
    old = {(before.target_label(o.target), o.client): o for o in before.results}
    new = {(after.target_label(o.target), o.client): o for o in after.results}
    changes: list[CellChange] = []
    for key, b in new.items():
        a = old.get(key)
        if a is None:
            changes.append(CellChange(*key, "added", None, b))
        elif a.verdict is not b.verdict:
            changes.append(CellChange(*key, "verdict", a, b))
        elif a.reason is not b.reason:
            changes.append(CellChange(*key, "reason", a, b))
    changes += [CellChange(*key, "removed", a, None) for key, a in old.items() if key not in new]
    return tuple(changes)


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "diff", help="compare two JSON reports cell by cell (exit 1 if a verdict changed)"
    )
    parser.add_argument("before", metavar="BEFORE.json")
    parser.add_argument("after", metavar="AFTER.json")
    parser.add_argument("--format", default="table", choices=("table", "json"))
    parser.add_argument("-o", "--output", metavar="FILE", help="write the diff here")
    parser.set_defaults(func=command_diff)


def _load(path: str) -> RunResult:
    from tlsmatrix.commands.merge import read_report
    from tlsmatrix.runner.shard import load_part

    return load_part(path, read_report(path)).run


def _cell(o: Observation | None) -> str:
    if o is None:
        return "-"
    return o.verdict.value if o.reason.value == "ok" else f"{o.verdict.value} ({o.reason.value})"


def render_diff(changes: Sequence[CellChange], before: str, after: str) -> str:
    if not changes:
        return f"No cell changed between {before} and {after}.\n"
    from tabulate import tabulate
    from tlsmatrix.reports.table import short

    rows = [
        (
            c.target,
            c.client,
            c.change,
            _cell(c.before),
            _cell(c.after),
            short(c.after.detail, 50) if c.after else "",
        )
        for c in changes
    ]
    n = sum(c.change == "verdict" for c in changes)
    table = tabulate(rows, headers=("target", "client", "change", "before", "after", "detail"))
    cells = len(changes)
    return (
        f"{table}\n\n{n} verdict change{'s' * (n != 1)}, "
        f"{cells} changed cell{'s' * (cells != 1)}.\n"
    )


def command_diff(args: argparse.Namespace) -> int:
    from tlsmatrix.reports.output import write_text

    changes = diff_runs(_load(args.before), _load(args.after))
    if args.format == "json":
        text = (
            json.dumps(
                {
                    "before": args.before,
                    "after": args.after,
                    "verdict_changes": sum(c.change == "verdict" for c in changes),
                    "changes": [c.to_dict() for c in changes],
                },
                indent=2,
                ensure_ascii=False,
            )
            + "\n"
        )
    else:
        text = render_diff(changes, args.before, args.after)
    write_text(text, args.output)
    return 1 if any(c.change == "verdict" for c in changes) else 0
