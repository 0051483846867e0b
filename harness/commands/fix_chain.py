"""``tlsmatrix fix-chain TARGET -o FULLCHAIN.pem``: build the chain the server should send."""

from __future__ import annotations

import argparse
import sys

from tlsmatrix.commands import _options
from tlsmatrix.errors import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    from tlsmatrix.cli import positive_float

    parser = sub.add_parser("fix-chain", help="build leaf + intermediates, verified, via AIA")
    parser.add_argument("target", metavar="TARGET")
    parser.add_argument(
        "-o", "--output", metavar="FULLCHAIN.pem", help="write the chain here (default: print it)"
    )
    parser.add_argument(
        "--ca-file",
        metavar="PEM",
        help="trust bundle to verify against (default: certifi, roots only)",
    )
    _options.add_resolve(parser)
    parser.add_argument("--timeout", type=positive_float, default=20.0, metavar="S")
    parser.set_defaults(func=command_fix_chain)


def command_fix_chain(args: argparse.Namespace) -> int:
    from tlsmatrix.inputs import check_ca_file
    from tlsmatrix.runner.targets import apply_resolve, parse_resolve, parse_target

    target = parse_target(args.target)
    [target] = apply_resolve([target], [parse_resolve(r) for r in args.resolve])
    ca_file = check_ca_file(args.ca_file) if args.ca_file else None

    from cryptography import x509
    from tlsmatrix.chain.capture import capture_chain
    from tlsmatrix.chain.fix import INSTALL_HELP, FixChainError, build_chain
    from tlsmatrix.reports.output import write_text
    from tlsmatrix.trust.bundle import TrustBundle, TrustBundleError

    if ca_file is None:
        import certifi

        ca_file = certifi.where()
    try:
        roots = TrustBundle.load(ca_file).certificates
    except TrustBundleError as exc:
        raise UsageError(str(exc)) from None
    captured = capture_chain(target, args.timeout)
    if not captured.certificates:
        print(f"tlsmatrix: cannot read the chain of {target}: {captured.error}", file=sys.stderr)
        return 1
    sent = []
    for der in captured.certificates:
        try:
            sent.append(x509.load_der_x509_certificate(der))
        except ValueError:
            continue
    try:
        fixed = build_chain(sent, roots, target.host, timeout=args.timeout)
    except FixChainError as exc:
        print(f"tlsmatrix: cannot build the chain for {target}: {exc}", file=sys.stderr)
        return 1
    log = sys.stderr if args.output is None else sys.stdout
    how = "verified it against" if fixed.verdict.ok else "checked it against"
    print(f"Built the chain for {target} and {how} {ca_file}:", file=log)
    for step in fixed.steps:
        print(f"  {step}", file=log)
    for note in fixed.notes:
        print(f"Note: {note}.", file=log)
    write_text(fixed.pem(), args.output)
    if args.output:
        print(f"Wrote {len(fixed.certificates)} certificates to {args.output}.", file=log)
        print(INSTALL_HELP.format(path=args.output).replace("TARGET", target.name), file=log)
    return 0
