"""The ``tlsmatrix`` command line. Imports stay inside the commands so ``--help`` and
``--version`` load no client library."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from harness import __version__
from harness.errors import UsageError

EXIT_OK, EXIT_VIOLATED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line and exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds: {text!r}")
    return value


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1: {text!r}")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="tlsmatrix",
        description="Run many real TLS clients against one endpoint and show who accepts "
        "the certificate chain, who rejects it, and why.",
    )
    parser.add_argument("--version", action="version", version=f"tlsmatrix {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    run = sub.add_parser("run", help="probe targets with every client and compare")
    run.add_argument(
        "targets", nargs="*", metavar="TARGET", help="https://host[:port][/path] or host[:port]"
    )
    run.add_argument(
        "--client",
        action="append",
        default=[],
        metavar="NAME",
        help="only this client (repeatable); see 'tlsmatrix clients'",
    )
    run.add_argument(
        "--ca-file",
        metavar="PEM",
        help="give every client this trust bundle instead of its own store",
    )
    run.add_argument(
        "--trust",
        action="append",
        default=[],
        metavar="CLIENT=PEM",
        help="give one client this trust bundle (repeatable)",
    )
    run.add_argument(
        "--resolve",
        action="append",
        default=[],
        metavar="HOST:PORT:ADDR",
        help="connect to ADDR for HOST:PORT, still sending SNI and checking HOST",
    )
    run.add_argument("--hosts-file", metavar="FILE", help="more targets, one per line")
    run.add_argument(
        "--timeout",
        type=_positive_float,
        default=10.0,
        metavar="S",
        help="hard deadline per probe in seconds (default 10)",
    )
    run.add_argument(
        "--jobs", type=_positive_int, default=8, metavar="N", help="probes run at once (default 8)"
    )
    run.add_argument("--format", default="table", choices=("table", "json"))
    run.add_argument("-o", "--output", metavar="FILE", help="write the report here")

    clients_cmd = sub.add_parser("clients", help="list the clients and how each behaves")
    clients_cmd.add_argument("--format", default="table", choices=("table", "json"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return EXIT_USAGE
        if args.command == "run":
            from harness.commands.run import command_run

            return command_run(args)
        if args.command == "clients":
            from harness.commands.clients import command_clients

            return command_clients(args)
    except UsageError as exc:
        print(f"tlsmatrix: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("tlsmatrix: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
    raise AssertionError(f"unhandled command {args.command}")
