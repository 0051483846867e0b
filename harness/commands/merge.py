"""``tlsmatrix merge PART.json... -o ALL.json``: join the JSON reports of a sharded run
(``run --shard K/N``) into one, as if it had been one run."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from harness.errors import UsageError
from harness.reports import FORMATS


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("merge", help="join the JSON reports of a sharded run")
    parser.add_argument("parts", nargs="+", metavar="PART.json", help="JSON reports to join")
    parser.add_argument("-o", "--output", metavar="FILE", help="write the merged report here")
    parser.add_argument("--format", default="json", choices=FORMATS)
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
    from harness.output import write_text
    from harness.reports import render
    from harness.shard import load_part, merge

    if len(set(args.parts)) != len(args.parts):
        raise UsageError("the same part is named twice")
    parts = [load_part(path, read_report(path)) for path in args.parts]
    merged, notes = merge(parts)
    for note in notes:
        print(f"tlsmatrix: note: {note}", file=sys.stderr)
    write_text(render(merged, args.format), args.output)
    return 0
