"""``tlsmatrix demo``: the incident in one command, on the local lab, no arguments."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("demo", help="replay the missing-intermediate incident on the lab")
    parser.add_argument(
        "--client",
        action="append",
        default=[],
        metavar="NAME",
        help="only these clients (default: all)",
    )
    parser.set_defaults(func=command_demo)


def command_demo(args: argparse.Namespace) -> int:
    from tlsmatrix.inputs import check_clients
    from tlsmatrix.lab.demo import run_demo
    from tlsmatrix.runner.pool import load_clients

    clients = load_clients(check_clients(args.client))

    def write(text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    run_demo(clients, write)
    return 0
