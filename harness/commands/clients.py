"""``tlsmatrix clients``: every registered client, available or not, and how it behaves."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tlsmatrix.clients.base import ClientInfo


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "clients",
        help="list the clients and how each behaves",
        description="Every client tlsmatrix can drive: whether it is installed here, its "
        "version and TLS library, and the measured policy that makes verdicts differ.",
    )
    parser.add_argument(
        "--format",
        default="table",
        choices=("table", "json"),
        help="json holds every field, policy and notes included",
    )
    parser.add_argument(
        "--wide",
        action="store_true",
        help="also show the native trust store, the environment variables and notes",
    )
    parser.add_argument(
        "--python",
        action="store_true",
        help="list the Python interpreters found (PATH, pyenv) for NAME@INTERPRETER clients",
    )
    parser.set_defaults(func=command_clients)


def command_clients(args: argparse.Namespace) -> int:
    from tabulate import tabulate
    from tlsmatrix.reports.table import trust_label
    from tlsmatrix.results.model import client_info_to_dict
    from tlsmatrix.runner.pool import collect_infos, load_clients

    if args.python:
        return list_interpreters(args.format)
    infos = list(collect_infos(load_clients(None)).values())
    if args.format == "json":
        print(json.dumps([client_info_to_dict(i) for i in infos], indent=2))
        return 0
    headers = ["client", "version", "TLS library", "policy"]
    rows = []
    for i in infos:
        if not i.available:
            rows.append([i.name, f"unavailable: {i.unavailable_reason}", "-", "-"])
            continue
        library = " ".join(filter(None, [i.tls_library, _short_lib(i.tls_library_version)]))
        rows.append([i.name, _short_version(i), library or "-", policy_label(i)])
    if args.wide:
        headers += ["native trust", "env vars", "notes"]
        for row, i in zip(rows, infos, strict=True):
            row += [
                trust_label(i.native_trust) if i.available else "-",
                ", ".join(i.env_vars) or "-",
                "; ".join(i.notes) or "-",
            ]
    print(tabulate(rows, headers=headers, tablefmt="simple"))
    if not args.wide:
        print("\n(--wide adds native trust, environment variables and notes)")
    return 0


def list_interpreters(fmt: str) -> int:
    """The interpreters NAME@INTERPRETER can name: path, version, OpenSSL version."""
    from tabulate import tabulate
    from tlsmatrix.clients.interpreter import ADAPTERS, Interpreter, discover
    from tlsmatrix.clients.interpreter.provision import requirements_for

    found = discover()

    def runs(interp: Interpreter) -> list[str]:
        return [a for a in ADAPTERS if not isinstance(requirements_for(a, interp), str)]

    if fmt == "json":
        rows = [
            {
                "path": i.path,
                "version": i.version,
                "implementation": i.implementation,
                "openssl": i.openssl,
                "adapters": runs(i),
            }
            for i in found
        ]
        print(json.dumps(rows, indent=2))
        return 0
    table = [
        [i.path, f"{i.implementation} {i.version}", i.openssl or "-", ", ".join(runs(i)) or "-"]
        for i in found
    ]
    headers = ["interpreter", "version", "OpenSSL", "NAME@ it can run"]
    print(tabulate(table, headers=headers, tablefmt="simple"))
    print(
        f"\n(use NAME@INTERPRETER, NAME one of {', '.join(ADAPTERS)}; INTERPRETER a path, "
        "a name on PATH or a pyenv version such as 3.12)"
    )
    return 0


def policy_label(info: ClientInfo) -> str:
    """The measured properties that decide verdicts, in a few words."""
    parts = [
        "AIA" if info.fetches_aia else "no AIA",
        f"RSA>={info.min_rsa_bits}",
        "no SHA-1" if info.rejects_sha1 else "SHA-1 ok",
    ]
    if info.partial_chain:
        parts.append("partial chain")
    if info.strict_x509:
        parts.append("strict X.509")
    if info.checks_revocation:
        parts.append("revocation")
    if not info.checks_leaf_usage:
        parts.append("no EKU/KU check")
    return ", ".join(parts)


def _short_version(info: ClientInfo) -> str:
    """The version without the client's own name repeated in front of it."""
    version = info.version or "-"
    first, _, rest = version.partition(" ")
    return rest if rest and first.lower() == info.name.split("-")[0].lower() else version


def _short_lib(version: str | None) -> str:
    if not version:
        return ""
    parts = version.split()
    return parts[1] if len(parts) > 1 and parts[0].lower() in ("openssl", "libressl") else ""
