"""``tlsmatrix capture``: record a live server's chain as a replayable case."""

from __future__ import annotations

import argparse
import json
import os
import sys

from tlsmatrix.commands import _options
from tlsmatrix.errors import UsageError

CAPTURE_FORMATS = ("case", "limbo")

EXAMPLES = """examples:
  tlsmatrix capture shop.example.invalid -o shop.json
  tlsmatrix capture new.example.invalid --resolve new.example.invalid:443:127.0.0.1 -o new.json
  tlsmatrix capture shop.example.invalid --ca-file roots.pem --with-results -o shop.json
  tlsmatrix capture shop.example.invalid -o shop.json --format limbo   # also shop.limbo.json
  tlsmatrix lab replay shop.json
"""


def register(sub: argparse._SubParsersAction) -> None:
    from tlsmatrix.cli import positive_float, positive_int

    cap = sub.add_parser(
        "capture",
        help="record a server's chain as a case for 'lab replay' (no private keys)",
        description="Record what TARGET presents (certificates in order, TLS version, SNI), "
        "what its AIA URLs serve, the anchors of the trust given that complete its paths and "
        "its CRL/OCSP URLs, as a tlsmatrix-case/1 file that 'tlsmatrix lab replay' serves "
        "offline on a twin PKI.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cap.add_argument("target", metavar="TARGET", help="https://host[:port][/path] or host[:port]")
    cap.add_argument("-o", "--output", required=True, metavar="FILE", help="write the case here")
    cap.add_argument(
        "--ca-file", metavar="PEM", help="the trust to find anchors in (default: the system bundle)"
    )
    _options.add_resolve(cap)
    cap.add_argument(
        "--timeout",
        type=positive_float,
        default=10.0,
        metavar="S",
        help="deadline for the handshake and each AIA download (default 10)",
    )
    cap.add_argument("--id", metavar="NAME", help="the case's name (default: host-port)")
    cap.add_argument(
        "--with-results",
        action="store_true",
        help="also run the matrix live and keep the report in the case",
    )
    cap.add_argument(
        "-c",
        "--client",
        action="append",
        default=[],
        metavar="NAME[,NAME]",
        help="with --with-results: only these clients",
    )
    cap.add_argument(
        "--jobs", type=positive_int, default=8, metavar="N", help="probes run at once (default 8)"
    )
    cap.add_argument(
        "--format",
        choices=CAPTURE_FORMATS,
        default="case",
        help="limbo also writes FILE's stem + .limbo.json, an x509-limbo testcase",
    )
    cap.set_defaults(func=command_capture)


def command_capture(args: argparse.Namespace) -> int:
    import re

    from tlsmatrix.inputs import check_ca_file, check_clients
    from tlsmatrix.runner.targets import apply_resolve, parse_resolve, parse_target

    target = parse_target(args.target)
    (target,) = apply_resolve([target], [parse_resolve(r) for r in args.resolve])
    ca_file = check_ca_file(args.ca_file) if args.ca_file else None
    chosen = check_clients(args.client)
    if args.client and not args.with_results:
        raise UsageError("-c chooses clients for --with-results; add --with-results")
    if args.id is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}", args.id):
        raise UsageError(f"--id wants letters, digits, '.', '_' and '-': {args.id!r}")
    if args.output == "-" and args.format == "limbo":
        raise UsageError("--format limbo writes FILE.limbo.json beside the case: give -o FILE")
    directory = os.path.dirname(os.path.abspath(args.output))
    if os.path.isdir(args.output) or not os.path.isdir(directory):
        raise UsageError(f"-o {args.output}: not a file in an existing directory")

    from tlsmatrix.replay.capture import capture_case
    from tlsmatrix.replay.case import CaseError, validate
    from tlsmatrix.reports.output import write_text

    results = None
    if args.with_results:
        from tlsmatrix.results.model import to_dict
        from tlsmatrix.runner.matrix import TrustPlan, run_matrix
        from tlsmatrix.runner.pool import load_clients, terminal_progress

        run = run_matrix(
            [target],
            load_clients(chosen),
            trust=TrustPlan(ca_file),
            timeout=args.timeout,
            jobs=args.jobs,
            progress=terminal_progress,
        )
        results = to_dict(run)
    try:
        case = capture_case(
            target, timeout=args.timeout, ca_file=ca_file, case_id=args.id, results=results
        )
    except CaseError as exc:
        print(f"tlsmatrix: capture: {exc}", file=sys.stderr)
        return 1
    document = case.to_dict()
    problems = validate(document)
    if problems:  # a writer bug, not user input: say it plainly
        raise RuntimeError(f"the case does not match its schema: {problems[0]}")
    write_text(json.dumps(document, indent=2) + "\n", args.output)
    written = [args.output]
    if args.format == "limbo":
        from tlsmatrix.replay.limbo import limbo_document

        limbo_path = os.path.splitext(args.output)[0] + ".limbo.json"
        write_text(json.dumps(limbo_document(case), indent=2) + "\n", limbo_path)
        written.append(limbo_path)
    fetched = sum(len(f.certificates) for f in case.aia)
    print(
        f"captured {target.name}: {len(case.presented)} certificate(s) sent"
        f"{' over ' + case.tls_version if case.tls_version else ''}, "
        f"{len(case.aia)} AIA URL(s) followed ({fetched} issuer(s) fetched), "
        f"{len(case.anchors)} anchor(s) from {case.trust.name or case.trust.source}"
        f"{', live results kept' if results else ''} -> {', '.join(written)}",
        file=sys.stderr,
    )
    return 0
