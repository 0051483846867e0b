"""``tlsmatrix merge PART.json... -o ALL.json``: join the JSON reports of a sharded run
(``run --shard K/N``) into one, as if it had been one run.

With one part it re-renders a saved report in another format, and with ``--expect`` it
checks the joined run (exit 1 when an expectation fails), so CI probes once and writes
JSON, JUnit and markdown from the same results."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from tlsmatrix.commands import _options
from tlsmatrix.errors import UsageError
from tlsmatrix.reports import FORMATS


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("merge", help="join the JSON reports of a sharded run")
    parser.add_argument("parts", nargs="+", metavar="PART.json", help="JSON reports to join")
    parser.add_argument("-o", "--output", metavar="FILE", help="write the merged report here")
    parser.add_argument("--format", default="json", choices=FORMATS)
    _options.add_expect(parser, "the merged results")
    parser.set_defaults(func=command_merge)


def read_report(path: str) -> dict[str, Any]:
    """A JSON report file as a dict. Raises UsageError for a missing or non-JSON file."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(500_000_000)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path} is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise UsageError(f"{path} is not a tlsmatrix report (top level is not an object)")
    return document


def command_merge(args: argparse.Namespace) -> int:
    from tlsmatrix.reports import render
    from tlsmatrix.reports.output import write_text
    from tlsmatrix.runner.shard import load_part, merge

    if len(set(args.parts)) != len(args.parts):
        raise UsageError("the same part is named twice")
    spec = _options.load_expect(args.expect)
    parts = [load_part(path, read_report(path)) for path in args.parts]
    merged, notes = merge(parts)
    for note in notes:
        print(f"tlsmatrix: note: {note}", file=sys.stderr)
    expectations = None
    if spec is not None:
        from tlsmatrix.results.expectations import evaluate

        expectations = evaluate(merged, spec)
    write_text(render(merged, args.format, expectations=expectations), args.output)
    if expectations is not None and not expectations.passed:
        from tlsmatrix.commands.run import report_violations

        report_violations(expectations)
        return 1
    return 0
