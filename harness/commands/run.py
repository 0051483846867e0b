"""``tlsmatrix run``: probe targets with the chosen clients and report."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from tlsmatrix.commands import _options
from tlsmatrix.errors import UsageError
from tlsmatrix.inputs import check_ca_file, check_clients, choose_format, parse_trust_options
from tlsmatrix.reports import FORMATS
from tlsmatrix.runner.targets import apply_resolve, parse_resolve, parse_target, read_hosts_file

if TYPE_CHECKING:
    from tlsmatrix.results.expectations import ExpectationResult
    from tlsmatrix.results.model import RunResult


def register(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser(
        "run",
        help="probe targets with every client and compare",
        description="Probe each target with every client (or those chosen) and show who "
        "accepts the certificate chain, who rejects it, and why.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument(
        "targets", nargs="*", metavar="TARGET", help="https://host[:port][/path] or host[:port]"
    )
    _options.add_clients(run)
    _options.add_trust_bundles(run)
    _options.add_resolve(run)
    run.add_argument(
        "--hosts-file", metavar="FILE", help="more targets, one per line ('-' reads stdin)"
    )
    _options.add_limits(run)
    _options.add_at(run, "the chains, with every client's clock moved there (libfaketime)")
    _options.add_report(run)
    _options.add_fail_on(run)
    _options.add_expect(run)
    run.add_argument(
        "--shard",
        metavar="K/N",
        help="run only slice K of N of the targets (stable: by a hash of each target's name)",
    )
    run.set_defaults(func=command_run)


EXAMPLES = """examples:
  tlsmatrix run https://shop.example.invalid/
  tlsmatrix run new-backend.example.invalid --resolve new-backend.example.invalid:443:127.0.0.1
  tlsmatrix run host.example.invalid -c curl,requests,node --ca-file roots.pem
  tlsmatrix run --hosts-file fleet.txt --fail-on disagreement -o report.html
  tlsmatrix run shop.example.invalid --at +30d --fail-on reject   # what breaks in 30 days
"""


def command_run(args: argparse.Namespace) -> int:
    from tlsmatrix.results.fail_on import parse_fail_on

    fmt = choose_format(args.format, args.output, FORMATS)
    fail_on = parse_fail_on(args.fail_on)
    texts = list(args.targets)
    if args.hosts_file:
        texts += read_hosts_file(args.hosts_file)
    if not texts:
        raise UsageError("no targets: give TARGET arguments or --hosts-file")
    at = _options.parse_at(args.at)
    targets = [parse_target(t) for t in texts]
    targets = apply_resolve(targets, [parse_resolve(r) for r in args.resolve])
    targets = list(dict.fromkeys(targets))
    chosen = check_clients(args.client)
    ca_file = check_ca_file(args.ca_file) if args.ca_file else None
    per_client = parse_trust_options(args.trust, chosen)
    _check_output(args.output)
    spec = _options.load_expect(args.expect)
    shard = None
    if args.shard:
        from tlsmatrix.runner.shard import parse_shard, select

        shard = parse_shard(args.shard)
        targets = select(targets, shard)
        if not targets:
            print(f"tlsmatrix: note: shard {shard} has none of the targets", file=sys.stderr)

    from tlsmatrix.reports import render
    from tlsmatrix.reports.output import write_text
    from tlsmatrix.runner.matrix import TrustPlan, run_matrix
    from tlsmatrix.runner.pool import load_clients, terminal_progress

    try:
        clients = load_clients(chosen)
        run = run_matrix(
            targets,
            clients,
            trust=TrustPlan(ca_file, per_client),
            timeout=args.timeout,
            jobs=args.jobs,
            progress=terminal_progress,
            at=at,
        )
    except KeyboardInterrupt:
        # Interrupted before the matrix could collect anything: still write the (empty,
        # partial) report, so a CI step that expects the file finds one.
        write_text(render(empty_partial_run(), fmt, shard=shard), args.output)
        print("tlsmatrix: interrupted: partial results written", file=sys.stderr)
        return 130
    expectations = None
    if spec is not None:
        from tlsmatrix.results.expectations import evaluate

        # A shard holds only some targets: sections for the others are not violations.
        expectations = evaluate(run, spec, strict=shard is None)
    from tlsmatrix.reports.colour import use_colour

    colour = use_colour(args.color, args.output)
    text = render(run, fmt, expectations=expectations, shard=shard, colour=colour, wide=args.wide)
    write_text(text, args.output)
    if run.partial:
        print("tlsmatrix: interrupted: partial results written", file=sys.stderr)
        return 130
    failed = False
    if expectations is not None and not expectations.passed:
        report_violations(expectations)
        failed = True
    return 1 if report_fail_on(run, fail_on) or failed else 0


def report_fail_on(run: RunResult, conditions: tuple[str, ...]) -> bool:
    """Print each ``--fail-on`` condition that holds; True when any does."""
    from tlsmatrix.results.fail_on import failures

    lines = failures(run, conditions)
    for line in lines:
        print(f"tlsmatrix: --fail-on: {line}", file=sys.stderr)
    return bool(lines)


def empty_partial_run() -> RunResult:
    """A run with no results yet, marked partial."""
    from tlsmatrix.results.model import RunResult, environment, now_iso

    return RunResult((), (), environment(), now_iso(), partial=True)


def report_violations(expectations: ExpectationResult) -> None:
    """The unmet expectations on stderr, one per line, after a count."""
    n = len(expectations.violations)
    print(f"tlsmatrix: {n} expectation{'s' * (n != 1)} not met:", file=sys.stderr)
    for violation in expectations.violations:
        print(f"  {violation.message()}", file=sys.stderr)


def _check_output(path: str | None) -> None:
    """Fail before probing, not after, when the report cannot be written there."""
    if path is None or path == "-":
        return
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise UsageError(f"-o {path} is a directory")
    if not os.path.isdir(directory):
        raise UsageError(f"cannot write {path}: directory {directory} does not exist")
