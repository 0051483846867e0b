"""``tlsmatrix inspect TARGET``: the chain a server presents, its issues, and the verdict
of each trust store the clients on this machine use."""

from __future__ import annotations

import argparse
import json
from typing import Any

from tlsmatrix.commands import _options


def register(sub: argparse._SubParsersAction) -> None:
    from tlsmatrix.cli import positive_float

    parser = sub.add_parser("inspect", help="show the presented chain, its issues, trust verdicts")
    parser.add_argument("target", metavar="TARGET")
    _options.add_resolve(parser)
    parser.add_argument("--ca-file", metavar="PEM", help="also judge the chain against this")
    parser.add_argument("--timeout", type=positive_float, default=10.0, metavar="S")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    _options.add_at(parser, "the chain's validity")
    parser.set_defaults(func=command_inspect)


def command_inspect(args: argparse.Namespace) -> int:
    from tlsmatrix.inputs import check_ca_file
    from tlsmatrix.runner.targets import apply_resolve, parse_resolve, parse_target

    target = parse_target(args.target)
    [target] = apply_resolve([target], [parse_resolve(r) for r in args.resolve])
    ca_file = check_ca_file(args.ca_file) if args.ca_file else None
    at = _options.parse_at(args.at)

    from tlsmatrix.chain.aia import AIAFetcher
    from tlsmatrix.chain.inspection import inspect_chain, with_revocation

    stores = known_stores(ca_file)
    paths = [s["store"] for s in stores if s["store"]]
    inspection = inspect_chain(target, args.timeout, at, stores=paths, fetcher=AIAFetcher())
    inspection = with_revocation(inspection, now=at)
    store_verdicts(inspection, stores)
    if args.format == "json":
        from tlsmatrix.explain.explanations import fix_advice

        doc = {**inspection.to_dict(), "trust_stores": stores, "fix": fix_advice(inspection.report)}
        print(json.dumps(doc, indent=2))
    else:
        if at is not None:
            print(f"judged at {report_date(inspection)}")
        print(render(inspection, stores))
    return 0 if inspection.report is not None else 1


def known_stores(ca_file: str | None) -> list[dict[str, Any]]:
    """Each distinct trust store: --ca-file and the native store of every client here,
    with the clients that use it and whether any of them anchors at an intermediate."""
    from tlsmatrix.runner.pool import collect_infos, load_clients

    stores: dict[str, dict[str, Any]] = {}
    if ca_file:
        stores[ca_file] = {"store": ca_file, "origin": "--ca-file", "clients": [], "partial": []}
    for info in collect_infos(load_clients(None)).values():
        trust = info.native_trust
        if not info.available or trust is None:
            continue
        key = trust.path or f"({trust.origin})"
        entry = stores.setdefault(
            key, {"store": trust.path, "origin": trust.origin, "clients": [], "partial": []}
        )
        entry["clients"].append(info.name)
        if info.partial_chain:
            entry["partial"].append(info.name)
    return list(stores.values())


def store_verdicts(inspection: Any, stores: list[dict[str, Any]]) -> None:
    """Judge the paths for each store, in place: ``verdict`` (accept/reject/unknown/error),
    ``detail`` saying what the path lacks in plain words, and ``path`` (subjects, leaf
    first). A store whose clients anchor at an intermediate gets ``partial_chain_verdict``
    when that changes the answer."""
    from tlsmatrix.chain.diagnosis import VERIFIED, ClientView

    graph = inspection.graph
    errors = dict(graph.store_errors) if graph is not None else {}
    for entry in stores:
        entry.pop("partial_chain_verdict", None)
        if inspection.report is None or graph is None:
            entry.update(verdict="error", detail="no certificate captured", path=[])
            continue
        if not entry["store"]:
            entry.update(verdict="unknown", detail="built-in store, contents not inspectable")
            entry["path"] = []
            continue
        if entry["store"] in errors:
            entry.update(verdict="error", detail=errors[entry["store"]], path=[])
            continue
        view = ClientView(entry["store"], partial_chain=False)
        strict = graph.verdict_for(view)
        entry.update(
            verdict="accept" if strict is not None and strict.kind == VERIFIED else "reject",
            detail=path_detail(strict, graph, view),
            path=[link.subject for link in strict.path.links] if strict else [],
            form=dict(graph.store_forms).get(entry["store"], ""),
        )
        if entry.get("partial"):
            view = ClientView(entry["store"], partial_chain=True)
            loose = graph.verdict_for(view)
            if loose is not None and strict is not None and loose.kind != strict.kind:
                entry["partial_chain_verdict"] = {
                    "clients": entry["partial"],
                    "verdict": "accept" if loose.kind == VERIFIED else "reject",
                    "detail": path_detail(loose, graph, view),
                }


def path_detail(verdict: Any, graph: Any = None, view: Any = None) -> str:
    """One plain sentence on a store's best path: never a verifier library's internals.
    With the ``graph`` (and the store's ``view``), a path that stops is told apart: an
    issuer whose key fails the signature, or a gap below a sent upper half."""
    from tlsmatrix.chain import diagnosis as d
    from tlsmatrix.explain.names import cert_name, short_name

    if verdict is None:
        return "no path could be built from the leaf"
    at = verdict.at
    name = cert_name(at.subject, at.sha256)
    if verdict.kind == d.VERIFIED:
        kind = "self-signed root" if at.self_signed else f"{at.kind} (partial chain)"
        return f"path ends at the {kind} '{name}' in this store"
    if verdict.kind == d.MISSING_LINK:
        child = verdict.path.links[verdict.path.links.index(at) - 1]
        return (
            f"no path: the intermediate '{name}' (issuer of '{short_name(child.subject)}') is "
            f"neither sent nor in this store; held by {d.supplied_by(at)}"
        )
    if verdict.kind == d.INTERMEDIATE_REFUSED:
        return (
            f"this store holds the {at.kind} '{name}' but no root for it: only clients that "
            "take an intermediate in the store as an anchor accept (not OpenSSL's default)"
        )
    if verdict.kind == d.UNTRUSTED_ROOT:
        return f"no path: the chain ends at the root '{name}', which this store does not contain"
    if verdict.kind == d.SELF_SIGNED:
        return f"the leaf '{name}' is self-signed and not in this store"
    stopped = _stopped_detail(verdict, graph, view) if graph is not None else None
    if stopped:
        return stopped
    return (
        f"no path: the issuer of '{name}', '{short_name(at.issuer)}', is neither sent nor in "
        "this store, and nothing tlsmatrix can see supplies it"
    )


def _stopped_detail(verdict: Any, graph: Any, view: Any) -> str | None:
    from tlsmatrix.chain.rules import bad_issuer_signature
    from tlsmatrix.explain.names import short_name

    bad = bad_issuer_signature(verdict.at, graph)
    if bad:
        return f"no path: {bad[0].evidence}"
    above = graph.sent_above_gap(view) if view is not None else None
    if above is None:
        return None
    return (
        f"no path: the issuer of '{short_name(verdict.at.subject)}', "
        f"'{short_name(verdict.at.issuer)}', is neither sent nor in this store; the server "
        f"sends '{short_name(above.path.links[0].subject)}', which chains to "
        f"'{short_name(above.at.subject)}' in this store, so an intermediate between them is "
        "probably missing (inferred)"
    )


def path_lines(inspection: Any) -> list[str]:
    """The candidate paths, one line each: every link and where it came from."""
    from tlsmatrix.explain.names import cert_name, short_name

    graph = inspection.graph
    if graph is None or not graph.paths:
        return []
    out = ["Paths from the leaf:"]
    for n, path in enumerate(graph.paths, 1):
        parts = [f"{cert_name(link.subject, link.sha256)} [{_where(link)}]" for link in path.links]
        end = {
            "root": "ends at a self-signed root",
            "no_issuer": f"issuer '{short_name(path.top.issuer)}' not found anywhere",
            "loop": "loops",
            "too_deep": "too deep, stopped",
        }[path.ends]
        if path.ends != "root" and path.top.signs_itself:
            end = "ends at one that signs itself, its authorityKeyIdentifier naming another key"
        out.append(f"  {n}. " + " <- ".join(parts) + f"  ({end})")
    for path in graph.orphans:
        # the upper half of a chain whose middle is missing
        parts = [f"{cert_name(link.subject, link.sha256)} [{_where(link)}]" for link in path.links]
        out.append("  sent, not reached from the leaf: " + " <- ".join(parts))
    for fetch in graph.fetches:
        got = f"{len(fetch.certificates)} certificate(s), {fetch.form}" if fetch.ok else fetch.error
        out.append(f"  AIA download {fetch.url}: {got}")
    return out


def _where(link: Any) -> str:
    where = ["sent"] if link.sent else []
    where += [f"store {s}" for s in link.stores()]
    where += [f"AIA {u}" for u in link.aia_urls_fetched()]
    return ", ".join(where) or "?"


def report_date(inspection: Any) -> str:
    report = inspection.report
    return (report.checked_at if report is not None else "") or "?"


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
        if c.error and not c.subject:
            rows.append((c.index, f"unparseable: {c.error}", "", "", "", "", "", ""))
            continue
        # partly readable (an extension that does not decode): the issues name the part
        rows.append(
            (
                c.index,
                short_name(c.subject),
                short_name(c.issuer),
                (c.not_after or "?")[:10],
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
    issues = [f"  {i.code}: {i.message}" for i in report.issues]
    revocation = inspection.revocation
    revoked = revocation.revoked if revocation is not None else None
    if revoked is not None:
        issues.append(f"  revoked: '{short_name(revoked.subject)}' is {revoked.text()}")
    if issues:
        out.append("Issues:")
        out.extend(issues)
    else:
        out.append("Issues: none")
    if revocation is not None:
        out.append("Revocation:")
        out.extend(f"  {short_name(c.subject)}: {c.text()}" for c in revocation.checked)
    lines = path_lines(inspection)
    if lines:
        out.append("")
        out.extend(lines)
    out.append("")
    out.append("Trust stores:")
    for s in stores:
        who = f" (used by {', '.join(s['clients'])})" if s["clients"] else ""
        name = s["store"] or s["origin"]
        form = f", {s['form']}" if s.get("form") and s["form"] != "PEM" else ""
        out.append(f"  {s['verdict'].upper():7} {name} [{s['origin']}{form}]{who}")
        out.append(f"          {s['detail']}")
        partial = s.get("partial_chain_verdict")
        if partial:
            out.append(
                f"          for {', '.join(partial['clients'])} (partial chain): "
                f"{partial['verdict'].upper()}: {partial['detail']}"
            )
    fix = fix_advice(report)
    if fix:
        out.append("")
        out.append(fix)
    return "\n".join(out)
