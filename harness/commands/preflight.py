"""``tlsmatrix preflight``: check certificate files before you deploy them.

First the files are linted (each problem one line on stderr, naming the file and the
fix); then they are served on 127.0.0.1 from a private temporary directory and every
client judges them, with SNI and name checks for each name, and the report is the one
``run`` writes. Exit 0 clean, 1 a lint error or a ``--fail-on`` condition, 2 bad input."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from tlsmatrix.commands import _options
from tlsmatrix.errors import UsageError
from tlsmatrix.reports import FORMATS

if TYPE_CHECKING:
    from tlsmatrix.preflight.inputs import Material
    from tlsmatrix.results.model import RunResult
    from tlsmatrix.trust.bundle import TrustBundle


def register(sub: argparse._SubParsersAction) -> None:

    parser = sub.add_parser(
        "preflight",
        help="check certificate files before you deploy them: lint, then every client",
        description="Lint the certificate, chain and key you are about to install, then "
        "serve them on 127.0.0.1 and show what every client will do with them.",
    )
    files = parser.add_argument_group("the files (one of --cert, --fullchain, --pfx, --k8s-secret)")
    files.add_argument("--cert", metavar="PEM", help='the "certificate body": the leaf alone')
    files.add_argument("--chain", metavar="PEM", help='the "certificate chain": intermediates')
    files.add_argument("--key", metavar="PEM", help="the private key of the leaf")
    files.add_argument("--fullchain", metavar="PEM", help="leaf, then intermediates (+ --key)")
    files.add_argument("--pfx", metavar="FILE", help="a PKCS#12 bundle (.pfx/.p12)")
    files.add_argument(
        "--password-file", metavar="FILE", help="the password of --pfx or of an encrypted --key"
    )
    files.add_argument("--k8s-secret", metavar="YAML", help="a kubernetes.io/tls Secret")
    parser.add_argument(
        "--name",
        action="append",
        default=[],
        metavar="HOST",
        help="the name clients will use (repeatable; default: the leaf's first DNS name)",
    )
    _options.add_clients(parser)
    _options.add_trust_bundles(parser)
    _options.add_server(parser)
    parser.add_argument(
        "--allow-network",
        action="store_true",
        help="let clients that fetch missing intermediates (AIA) download them",
    )
    _options.add_fail_on(parser, default="reject")
    parser.add_argument(
        "--lint-only", action="store_true", help="only lint the files; start no server"
    )
    _options.add_limits(parser)
    _options.add_report(parser)
    parser.set_defaults(func=command_preflight)


def read_material(args: argparse.Namespace) -> Material:
    """The files, as the options name them; UsageError for a bad combination or file."""
    from tlsmatrix.preflight import inputs

    given = [o for o in ("cert", "fullchain", "pfx", "k8s_secret") if getattr(args, o)]
    if len(given) != 1:
        raise UsageError(
            "give exactly one of --cert (with --chain, --key), --fullchain (with --key), "
            "--pfx or --k8s-secret"
        )
    if args.chain and not args.cert:
        raise UsageError("--chain goes with --cert (a --fullchain holds its chain already)")
    if args.key and (args.pfx or args.k8s_secret):
        raise UsageError("--key goes with --cert or --fullchain (PKCS#12 and secrets hold theirs)")
    password = inputs.read_password(args.password_file)
    if args.cert:
        return inputs.read_fields(args.cert, args.chain, args.key, password)
    if args.fullchain:
        return inputs.read_fullchain(args.fullchain, args.key, password)
    if args.pfx:
        return inputs.read_pfx(args.pfx, password)
    return inputs.read_k8s_secret(args.k8s_secret)


def command_preflight(args: argparse.Namespace) -> int:
    from tlsmatrix.commands.run import _check_output
    from tlsmatrix.inputs import check_ca_file, check_clients, choose_format, parse_trust_options
    from tlsmatrix.results.fail_on import parse_fail_on
    from tlsmatrix.runner.targets import parse_target

    fmt = choose_format(args.format, args.output, FORMATS)
    material = read_material(args)
    from tlsmatrix.preflight.lint import leaf_names, lint, name_of

    leaf = material.served[material.key_cert]
    names = list(dict.fromkeys(args.name)) or leaf_names(leaf)
    if not names:
        raise UsageError("the leaf names no DNS name or IP address: give --name HOST")
    for name in names:
        parse_target(f"[{name}]" if ":" in name else name)  # one line if it is not a host
    chosen = check_clients(args.client)
    ca_file = check_ca_file(args.ca_file) if args.ca_file else None
    per_client = parse_trust_options(args.trust, chosen)
    _check_output(args.output)
    fail_on = parse_fail_on(args.fail_on) or ("reject",)

    roots = _lint_store(ca_file)
    issues = lint(material, names, roots)
    for issue in issues:
        print(issue.line(), file=sys.stderr)
    errors = sum(issue.severity == "error" for issue in issues)
    if args.lint_only:
        return _finish(errors, None, fail_on)
    if material.key_cert != 0:
        print(
            f"tlsmatrix: not served: a server refuses these files as given ({material.key_file} "
            f"belongs to '{name_of(leaf)}', which is not the first certificate); "
            "fix the errors above first",
            file=sys.stderr,
        )
        return 1

    from tlsmatrix.preflight.lint import aia_needed
    from tlsmatrix.preflight.serve import run_served
    from tlsmatrix.reports import render
    from tlsmatrix.reports.output import write_text
    from tlsmatrix.runner.matrix import TrustPlan
    from tlsmatrix.runner.pool import load_clients, terminal_progress

    run = run_served(
        material,
        list(dict.fromkeys(args.name)) or names[:1],
        load_clients(chosen),
        trust=TrustPlan(ca_file, per_client),
        server=args.server,
        timeout=args.timeout,
        jobs=args.jobs,
        aia_urls=aia_needed(material, roots),
        allow_network=args.allow_network,
        progress=terminal_progress,
    )
    from tlsmatrix.reports.colour import use_colour

    colour = use_colour(args.color, args.output)
    write_text(render(run, fmt, colour=colour, wide=args.wide), args.output)
    if run.partial:
        print("tlsmatrix: interrupted: partial results written", file=sys.stderr)
        return 130
    return _finish(errors, run, fail_on)


def _finish(errors: int, run: RunResult | None, fail_on: tuple[str, ...]) -> int:
    """Exit 1 when a lint error or a --fail-on condition holds, each said on stderr."""
    from tlsmatrix.commands.run import report_fail_on

    lines = report_fail_on(run, fail_on) if run is not None else False
    if errors:
        s = "s" * (errors != 1)
        print(f"tlsmatrix: preflight: {errors} lint error{s} in the files", file=sys.stderr)
    return 1 if errors or lines else 0


def _lint_store(ca_file: str | None) -> TrustBundle:
    """The store a missing intermediate is looked up in: --ca-file, else certifi's
    roots (what requests and most containers trust)."""
    from tlsmatrix.trust.bundle import TrustBundle, TrustBundleError

    if ca_file is None:
        import certifi

        ca_file = certifi.where()
    try:
        return TrustBundle.load(ca_file)
    except TrustBundleError as exc:
        raise UsageError(str(exc)) from None
