"""``tlsmatrix schema``: print the JSON Schema of the tlsmatrix/2 report."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("schema", help="print the JSON Schema of the JSON report")
    parser.add_argument("-o", "--output", metavar="FILE", help="write the schema here")
    parser.set_defaults(func=command_schema)


def command_schema(args: argparse.Namespace) -> int:
    from tlsmatrix.reports.output import write_text
    from tlsmatrix.results.schema import schema_text

    write_text(schema_text(), args.output)
    return 0
