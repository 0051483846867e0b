"""Options that several commands share, defined once so their names, defaults and help
read the same everywhere (run, lab run, lab replay, preflight, capture, inspect, fix-chain,
merge)."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tlsmatrix.results.expectations import ExpectationSpec


def add_clients(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-c",
        "--client",
        action="append",
        default=[],
        metavar="NAME[,NAME]",
        help="only these clients (repeatable, or a comma list); see 'tlsmatrix clients'",
    )


def add_trust_bundles(parser: argparse.ArgumentParser) -> None:
    """--ca-file for every client and --trust for one, instead of their own stores."""
    parser.add_argument(
        "--ca-file",
        metavar="PEM",
        help="give every client this trust bundle instead of its own store",
    )
    repeatable(parser, "--trust", "CLIENT=PEM", "give one client this trust bundle (repeatable)")


def repeatable(parser: argparse.ArgumentParser, flag: str, metavar: str, text: str) -> None:
    """An option that may be given many times, collected into a list (empty by default)."""
    parser.add_argument(flag, action="append", default=[], metavar=metavar, help=text)


def add_resolve(parser: argparse.ArgumentParser) -> None:
    text = "connect to ADDR for HOST:PORT, still sending SNI and checking HOST"
    repeatable(parser, "--resolve", "HOST:PORT:ADDR", text)


def add_scenarios(parser: argparse.ArgumentParser) -> None:
    text = "only these scenarios (repeatable, or a comma list); default all"
    repeatable(parser, "--scenario", "NAME[,NAME]", text)


def add_limits(parser: argparse.ArgumentParser) -> None:
    from tlsmatrix.cli import positive_float, positive_int

    parser.add_argument(
        "--timeout",
        type=positive_float,
        default=10.0,
        metavar="S",
        help="hard deadline per probe in seconds (default 10)",
    )
    parser.add_argument(
        "--jobs", type=positive_int, default=8, metavar="N", help="probes run at once (default 8)"
    )


def add_report(parser: argparse.ArgumentParser, default: str = "table") -> None:
    from tlsmatrix.reports import FORMATS

    parser.add_argument(
        "--format",
        metavar="FORMAT",
        help=f"{', '.join(FORMATS)} (default: from -o's extension, else {default})",
    )
    parser.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="write the report here (atomically; .json .md .xml .csv .html pick the format)",
    )
    parser.add_argument(
        "--color",
        "--colour",
        dest="color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour the table's verdicts: auto (default: only on a terminal, and not "
        "when NO_COLOR is set), always or never",
    )
    parser.add_argument(
        "--wide",
        action="store_true",
        help="table: every column in full (full detail and trust store path)",
    )


def add_fail_on(parser: argparse.ArgumentParser, default: str | None = None) -> None:
    after = f" (default here: {default})" if default else ""
    parser.add_argument(
        "--fail-on",
        action="append",
        default=[],
        metavar="WHAT",
        help="exit 1 when clients disagree (disagreement), any rejects (reject) or any probe "
        f"ends without a TLS verdict (error); repeatable, or a comma list{after}",
    )


def add_at(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--at",
        metavar="DATE",
        help=f"judge {what} at DATE: 2040-01-01, 2040-01-01T12:00:00Z (UTC unless a zone is "
        "given) or relative to now: +30d, -2d, +12h",
    )


def parse_at(text: str | None) -> datetime | None:
    """The ``--at`` value as a UTC datetime (None when not given); UsageError when bad."""
    if text is None:
        return None
    from tlsmatrix.clients.clock import BadDate
    from tlsmatrix.clients.clock import parse_at as parse
    from tlsmatrix.errors import UsageError

    try:
        return parse(text)
    except BadDate as exc:
        raise UsageError(str(exc)) from None


def add_expect(parser: argparse.ArgumentParser, results: str = "the results") -> None:
    parser.add_argument(
        "--expect",
        metavar="FILE",
        help=f"check {results} against this TOML file: exit 1 if any expectation fails",
    )


def load_expect(path: str | None) -> ExpectationSpec | None:
    """The ``--expect`` file, read and validated before any probe runs (None when not
    given); ExpectationError when it is bad."""
    if not path:
        return None
    from tlsmatrix.results.expectations import load_expectations

    return load_expectations(path)


def add_server(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--server",
        choices=("python", "nginx"),
        default="python",
        help="serve with Python's ssl (default) or real nginx",
    )
