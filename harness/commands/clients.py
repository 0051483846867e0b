"""``tlsmatrix clients``: every registered client, available or not, and how it behaves."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("clients", help="list the clients and how each behaves")
    parser.add_argument("--format", default="table", choices=("table", "json"))
    parser.set_defaults(func=command_clients)


def command_clients(args: argparse.Namespace) -> int:
    from tabulate import tabulate
    from tlsmatrix.reports.table import trust_label
    from tlsmatrix.results.model import client_info_to_dict
    from tlsmatrix.runner.pool import collect_infos, load_clients

    infos = list(collect_infos(load_clients(None)).values())
    if args.format == "json":
        print(json.dumps([client_info_to_dict(i) for i in infos], indent=2))
        return 0
    rows = [
        (
            i.name,
            "yes" if i.available else f"no: {i.unavailable_reason}",
            i.version or "-",
            " ".join(filter(None, [i.tls_library, _short_lib(i.tls_library_version)])) or "-",
            trust_label(i.native_trust) if i.available else "-",
            ", ".join(i.env_vars) or "-",
            "yes" if i.fetches_aia else "no",
        )
        for i in infos
    ]
    headers = ("client", "available", "version", "TLS library", "native trust", "env vars", "AIA")
    print(tabulate(rows, headers=headers, tablefmt="simple"))
    return 0


def _short_lib(version: str | None) -> str:
    if not version:
        return ""
    parts = version.split()
    return parts[1] if len(parts) > 1 and parts[0].lower() in ("openssl", "libressl") else ""
