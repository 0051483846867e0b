"""``tlsmatrix lab replay CASE.json|DIR``: serve captured cases on a twin PKI and run the
matrix on them (registered by :mod:`tlsmatrix.commands.lab`)."""

from __future__ import annotations

import argparse
import sys

from tlsmatrix.errors import UsageError
from tlsmatrix.reports import FORMATS


def command_replay(args: argparse.Namespace) -> int:
    from tlsmatrix.inputs import check_clients, choose_format
    from tlsmatrix.replay.case import CaseError, load_cases
    from tlsmatrix.results.fail_on import parse_fail_on

    fmt = choose_format(args.format, args.output, FORMATS)
    fail_on = parse_fail_on(args.fail_on)
    chosen = check_clients(args.client)
    try:
        cases = load_cases(args.cases)
    except CaseError as exc:
        raise UsageError(str(exc)) from None

    from tlsmatrix.commands.run import report_fail_on
    from tlsmatrix.lab.nginx import NginxError
    from tlsmatrix.replay.serve import Replay, compare_with_capture, run_replay
    from tlsmatrix.replay.twin import TwinError
    from tlsmatrix.reports import render
    from tlsmatrix.reports.output import write_text
    from tlsmatrix.runner.pool import load_clients, terminal_progress

    clients = load_clients(chosen)
    try:
        replay = Replay(cases, server=args.server).start()
    except NginxError as exc:
        raise UsageError(f"cannot serve the replay: {exc}") from None
    except TwinError as exc:
        raise UsageError(f"cannot replay {args.cases}: {exc}") from None
    except OSError as exc:
        raise UsageError(f"cannot serve the replay: {exc.strerror or exc}") from None
    try:
        for rc in replay.cases:
            for subject, note in rc.notes:
                print(f"tlsmatrix: replay {rc.name}: {subject}: {note}", file=sys.stderr)
        run = run_replay(
            replay, clients, timeout=args.timeout, jobs=args.jobs, progress=terminal_progress
        )
        differences = compare_with_capture(replay, run)
    finally:
        replay.close()
    from tlsmatrix.reports.colour import use_colour

    colour = use_colour(args.color, args.output)
    write_text(render(run, fmt, colour=colour, wide=args.wide), args.output)
    compared = [rc for rc in cases if rc[1].results]
    if differences:
        print(
            f"tlsmatrix: replay differs from the live capture in {len(differences)} cell(s):",
            file=sys.stderr,
        )
        for line in differences:
            print(f"  {line}", file=sys.stderr)
    elif compared:
        print(
            f"tlsmatrix: replay matches the live results of {len(compared)} case(s) cell by cell",
            file=sys.stderr,
        )
    return 1 if report_fail_on(run, fail_on) else 0
