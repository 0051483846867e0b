"""Report renderers. Each takes a RunResult and returns text; none of them probes.

``render(run, fmt, expectations=..., shard=...)`` is the one entry point: the optional
expectation result (``run --expect``) and shard (``run --shard``) are shown by the formats
that have a place for them (JSON keys ``expectations`` and ``shard``; JUnit failures;
markdown, CSV and HTML columns/sections)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # only annotations: `tlsmatrix --help` must not load ssl and results
    from tlsmatrix.clients.base import Observation
    from tlsmatrix.results.expectations import ExpectationResult
    from tlsmatrix.results.model import RunResult
    from tlsmatrix.runner.shard import Shard

FORMATS = ("table", "json", "markdown", "junit", "csv", "html")


def render(
    run: RunResult,
    fmt: str,
    *,
    expectations: ExpectationResult | None = None,
    shard: Shard | None = None,
    colour: bool = False,
    wide: bool = False,
) -> str:
    """The report of ``run`` in format ``fmt`` (one of FORMATS). ``colour`` and ``wide``
    change the table only. Raises ValueError for an unknown format."""
    if fmt == "json":
        import json

        return json.dumps(document(run, expectations, shard), indent=2, ensure_ascii=False) + "\n"
    if fmt == "table":
        from tlsmatrix.reports.table import render_table

        return render_table(run, colour=colour, wide=wide) + _violations_text(expectations)
    return _renderer(fmt)(run, expectations)


def document(
    run: RunResult,
    expectations: ExpectationResult | None = None,
    shard: Shard | None = None,
) -> dict[str, Any]:
    """The tlsmatrix/2 JSON document: the run, plus ``shard`` and ``expectations`` when
    given (see ``tlsmatrix schema``)."""
    from tlsmatrix.results.model import to_dict

    data = to_dict(run)
    if shard is not None:
        data["shard"] = shard.to_dict()
    if expectations is not None:
        data["expectations"] = expectations.to_dict()
    return data


def _renderer(fmt: str) -> Callable[[RunResult, ExpectationResult | None], str]:
    if fmt == "table":
        from tlsmatrix.reports.table import render_table

        return lambda run, expectations: render_table(run) + _violations_text(expectations)
    if fmt == "markdown":
        from tlsmatrix.reports.markdown import render_markdown

        return render_markdown
    if fmt == "junit":
        from tlsmatrix.reports.junit import render_junit

        return render_junit
    if fmt == "csv":
        from tlsmatrix.reports.csv_report import render_csv

        return render_csv
    if fmt == "html":
        from tlsmatrix.reports.html import render_html

        return render_html
    raise ValueError(f"unknown format {fmt!r}")


def grid(run: RunResult) -> tuple[list[str], list[str], dict[tuple[str, str], Observation]]:
    """Targets (rows, in run order), clients (columns: the run's client order, then any
    that only appear in results) and the cells keyed by (target, client)."""
    clients = list(dict.fromkeys([c.name for c in run.clients] + run.client_names()))
    cells = {(o.target, o.client): o for o in run.results}
    return run.targets(), clients, cells


def _violations_text(expectations: ExpectationResult | None) -> str:
    if expectations is None:
        return ""
    if expectations.passed:
        return f"\nExpectations ({expectations.source}): all met.\n"
    lines = [f"\nExpectations ({expectations.source}): {len(expectations.violations)} violated"]
    lines += [f"  - {v.message()}" for v in expectations.violations]
    return "\n".join(lines) + "\n"
