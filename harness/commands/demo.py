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
        help="only these clients (default: all; for partial-chain: curl, stdlib, "
        "stdlib@3.11, stdlib@3.13)",
    )
    parser.add_argument(
        "--story",
        choices=STORIES,
        default=STORIES[0],
        help="missing-intermediate (default): the incident; partial-chain: a store holding "
        "the intermediate only, curl vs Python 3.11 vs Python 3.13",
    )
    parser.set_defaults(func=command_demo)


STORIES = ("missing-intermediate", "partial-chain")


def command_demo(args: argparse.Namespace) -> int:
    from tlsmatrix.inputs import check_clients
    from tlsmatrix.lab.demo import run_demo
    from tlsmatrix.runner.pool import load_clients

    def write(text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    if getattr(args, "story", STORIES[0]) == "partial-chain":
        from tlsmatrix.lab.demo_partial_chain import (
            STORY_CLIENTS,
            load_story_clients,
            run_partial_chain_story,
        )

        chosen, notes = load_story_clients(check_clients(args.client) or STORY_CLIENTS)
        run_partial_chain_story(chosen, write, notes=notes)
        return 0
    clients = load_clients(check_clients(args.client))
    run_demo(clients, write)
    return 0
