"""``tlsmatrix inspect TARGET``: the chain a server presents, its issues, and the verdict
of each trust store the clients on this machine use."""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:
    from tlsmatrix.cli import positive_float

    parser = sub.add_parser("inspect", help="show the presented chain, its issues, trust verdicts")
    parser.add_argument("target", metavar="TARGET")
    parser.add_argument("--resolve", action="append", default=[], metavar="HOST:PORT:ADDR")
    parser.add_argument("--ca-file", metavar="PEM", help="also judge the chain against this")
    parser.add_argument("--timeout", type=positive_float, default=10.0, metavar="S")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.set_defaults(func=command_inspect)


def command_inspect(args: argparse.Namespace) -> int:
    from tlsmatrix.inputs import check_ca_file
    from tlsmatrix.runner.targets import apply_resolve, parse_resolve, parse_target

    target = parse_target(args.target)
    [target] = apply_resolve([target], [parse_resolve(r) for r in args.resolve])
    ca_file = check_ca_file(args.ca_file) if args.ca_file else None

    from tlsmatrix.chain.inspection import inspect_chain

    inspection = inspect_chain(target, args.timeout)
    stores = store_verdicts(inspection, target.host, ca_file)
    if args.format == "json":
        from tlsmatrix.explain.explanations import fix_advice

        doc = {**inspection.to_dict(), "trust_stores": stores, "fix": fix_advice(inspection.report)}
        print(json.dumps(doc, indent=2))
    else:
        print(render(inspection, stores))
    return 0 if inspection.report is not None else 1


def store_verdicts(inspection: Any, hostname: str, ca_file: str | None) -> list[dict[str, Any]]:
    """Each distinct trust store (the clients' native ones and --ca-file) and whether the
    presented chain verifies against it."""
    from cryptography import x509
    from tlsmatrix.chain.verify import verify_against
    from tlsmatrix.explain.explanations import short_name
    from tlsmatrix.runner.pool import collect_infos, load_clients
    from tlsmatrix.trust.bundle import TrustBundle, TrustBundleError

    stores: dict[str, dict[str, Any]] = {}
    if ca_file:
        stores[ca_file] = {"store": ca_file, "origin": "--ca-file", "clients": []}
    for info in collect_infos(load_clients(None)).values():
        trust = info.native_trust
        if not info.available or trust is None:
            continue
        key = trust.path or f"({trust.origin})"
        entry = stores.setdefault(key, {"store": trust.path, "origin": trust.origin, "clients": []})
        entry["clients"].append(info.name)
    certs = []
    for der in inspection.captured.certificates:
        try:
            certs.append(x509.load_der_x509_certificate(der))
        except ValueError:
            continue
    for entry in stores.values():
        if not certs:
            entry.update(verdict="error", detail="no certificate captured")
            continue
        if not entry["store"]:
            entry.update(verdict="unknown", detail="built-in store, contents not inspectable")
            continue
        try:
            roots = TrustBundle.load(entry["store"]).certificates
        except TrustBundleError as exc:
            entry.update(verdict="error", detail=str(exc))
            continue
        result = verify_against(certs[0], certs[1:], roots, hostname)
        detail = result.detail
        missing = inspection.report.missing_issuer if inspection.report else None
        if (
            not result.ok
            and missing
            and not TrustBundle.load(entry["store"]).contains_subject(missing)
        ):
            detail = f"no path: '{short_name(missing)}' is neither sent nor in this store"
        entry.update(
            verdict="accept" if result.ok else "reject", detail=detail, path=list(result.path)
        )
    return list(stores.values())


def render(inspection: Any, stores: list[dict[str, Any]]) -> str:
    from tabulate import tabulate
    from tlsmatrix.explain.explanations import fix_advice, short_name

    captured, report = inspection.captured, inspection.report
    if report is None:
        return f"{captured.target}: no certificate received ({captured.error})"
    out = [
        f"{captured.target}: {len(report.certificates)} certificate(s) sent "
        f"({captured.tls_version or 'TLS version unknown'})"
    ]
    rows = []
    for c in report.certificates:
        if c.error:
            rows.append((c.index, f"unparseable: {c.error}", "", "", "", "", "", ""))
            continue
        rows.append(
            (
                c.index,
                short_name(c.subject),
                short_name(c.issuer),
                c.not_after[:10],
                f"{c.key_type} {c.key_bits}",
                c.signature_algorithm,
                "yes" if c.is_ca else "no",
                "yes" if c.self_signed else "no",
            )
        )
    out.append(
        tabulate(
            rows,
            headers=(
                "#",
                "subject",
                "issuer",
                "valid until",
                "key",
                "signature",
                "CA",
                "self-signed",
            ),
            tablefmt="simple",
        )
    )
    leaf = report.leaf
    if leaf and not leaf.error:
        out.append(f"leaf names: {', '.join(leaf.sans) or '(no SANs)'}")
        if leaf.aia_ca_issuers:
            out.append(f"leaf AIA caIssuers: {', '.join(leaf.aia_ca_issuers)}")
        if leaf.crl_urls:
            out.append(f"leaf CRL: {', '.join(leaf.crl_urls)}")
    out.append("")
    if report.issues:
        out.append("Issues:")
        out.extend(f"  {i.code}: {i.message}" for i in report.issues)
    else:
        out.append("Issues: none")
    out.append("")
    out.append("Trust stores:")
    for s in stores:
        who = f" (used by {', '.join(s['clients'])})" if s["clients"] else ""
        name = s["store"] or s["origin"]
        out.append(f"  {s['verdict'].upper():7} {name} [{s['origin']}]{who}")
        if s["verdict"] != "accept":
            out.append(f"          {s['detail']}")
    fix = fix_advice(report)
    if fix:
        out.append("")
        out.append(fix)
    return "\n".join(out)
