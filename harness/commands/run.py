"""``tlsmatrix run``: probe targets with the chosen clients and report."""

from __future__ import annotations

import argparse

from harness.errors import UsageError
from harness.inputs import check_ca_file, check_clients, parse_trust_options
from harness.targets import apply_resolve, parse_resolve, parse_target, read_hosts_file


def command_run(args: argparse.Namespace) -> int:
    texts = list(args.targets)
    if args.hosts_file:
        texts += read_hosts_file(args.hosts_file)
    if not texts:
        raise UsageError("no targets: give TARGET arguments or --hosts-file")
    targets = [parse_target(t) for t in texts]
    targets = apply_resolve(targets, [parse_resolve(r) for r in args.resolve])
    targets = list(dict.fromkeys(targets))
    chosen = check_clients(args.client)
    ca_file = check_ca_file(args.ca_file) if args.ca_file else None
    per_client = parse_trust_options(args.trust, chosen)

    from harness.matrix import TrustPlan, run_matrix
    from harness.output import write_text
    from harness.reports import render
    from harness.runner import load_clients, terminal_progress

    clients = load_clients(chosen)
    run = run_matrix(
        targets,
        clients,
        trust=TrustPlan(ca_file, per_client),
        timeout=args.timeout,
        jobs=args.jobs,
        progress=terminal_progress,
    )
    write_text(render(run, args.format), args.output)
    return 0
