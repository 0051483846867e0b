"""Report renderers. Each takes a RunResult and returns text; none of them probes."""

from __future__ import annotations

from collections.abc import Callable

from harness.results import RunResult

FORMATS = ("table", "json")


def render(run: RunResult, fmt: str) -> str:
    return _renderer(fmt)(run)


def _renderer(fmt: str) -> Callable[[RunResult], str]:
    if fmt == "table":
        from harness.reports.table import render_table

        return render_table
    if fmt == "json":
        from harness.reports.json_report import render_json

        return render_json
    raise ValueError(f"unknown format {fmt!r}")
