"""Chain capture and analysis: what a server presents, and what is wrong with it.

The work lives in :mod:`tlsmatrix.chain.capture` (network, pyOpenSSL) and
:mod:`tlsmatrix.chain.analysis` (pure, cryptography); this module joins them. Code that
needs only the report's data or issue codes imports :mod:`tlsmatrix.chain.report` (light).
This module imports pyOpenSSL and cryptography, so command-line code should import it
inside the commands that need it, keeping ``--help`` light.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tlsmatrix.chain.analysis import analyse_chain, leaf_matches_hostname, path_from_leaf
from tlsmatrix.chain.capture import CapturedChain, capture_chain
from tlsmatrix.chain.report import (
    ANCHOR_AKI_MISMATCH,
    CONTAINS_ANCHOR,
    EXTRA_CERTS,
    INCOMPLETE,
    UNKNOWN_ISSUER,
    ChainIssue,
    ChainReport,
    MissingLinks,
)
from tlsmatrix.clients.base import Target

if TYPE_CHECKING:
    from tlsmatrix.chain.aia import AIAFetcher
    from tlsmatrix.chain.diagnosis import ChainGraph, LoadedStores
    from tlsmatrix.chain.revocation import RevocationReport


@dataclass(frozen=True)
class ChainInspection:
    """A capture and, when anything was captured, its analysis."""

    captured: CapturedChain
    report: ChainReport | None
    graph: ChainGraph | None = None
    revocation: RevocationReport | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the ``chains`` entry for one target."""
        data = {
            "target": self.captured.target,
            "tls_version": self.captured.tls_version,
            "error": self.captured.error,
            "truncated": self.captured.truncated,
            **(self.report.to_dict() if self.report is not None else {"certificates": []}),
        }
        if self.revocation is not None:
            data["revocation"] = self.revocation.to_dict()
        return data


def inspect_chain(
    target: Target,
    timeout: float,
    now: datetime | None = None,
    *,
    stores: Sequence[str] | None = None,
    fetcher: AIAFetcher | None = None,
) -> ChainInspection:
    """Capture what ``target`` presents and analyse it against ``target.host``. With
    ``stores`` (trust store paths) the paths over them and over AIA downloads (with a
    ``fetcher``) decide what the chain lacks (:func:`with_paths`).

    Never raises for anything the server does; ``report`` is None only when no
    certificate was received."""
    captured = capture_chain(target, timeout)
    if not captured.certificates:
        return ChainInspection(captured, None)
    inspection = ChainInspection(captured, analyse_chain(captured.certificates, target.host, now))
    return inspection if stores is None else with_paths(inspection, stores, fetcher)


def with_paths(
    inspection: ChainInspection,
    stores: Sequence[str] | LoadedStores,
    fetcher: AIAFetcher | None = None,
) -> ChainInspection:
    """The inspection with its graph built over ``stores`` and AIA downloads, and the
    report's completeness decided by that graph: which intermediate is missing at any
    depth (and who supplies it), complete when the path reaches a root that was rightly
    not sent, unknown when nobody supplies the top's issuer."""
    from tlsmatrix.chain.diagnosis import build_graph

    if inspection.report is None:
        return inspection
    graph = build_graph(inspection.captured.certificates, stores, fetcher)
    return replace(inspection, report=apply_graph(inspection.report, graph), graph=graph)


def with_revocation(
    inspection: ChainInspection,
    cache: dict[str, bytes] | None = None,
    now: datetime | None = None,
) -> ChainInspection:
    """The inspection with the revocation status of the leaf and intermediates on its
    best path (tlsmatrix.chain.revocation: bounded CRL/OCSP downloads)."""
    from tlsmatrix.chain.revocation import check_path, path_certificates

    certs = path_certificates(inspection.graph)
    if not certs:
        return inspection
    return replace(inspection, revocation=check_path(certs, cache=cache, now=now))


def apply_graph(report: ChainReport, graph: ChainGraph) -> ChainReport:
    """``report`` with its path issues decided by the graph rather than by the sent list
    alone: every missing intermediate (and where it goes), a gap inferred from a sent
    upper half, the certificate rules the path breaks (a bad signature included, which
    otherwise reads as an unknown issuer), an anchor whose key identifier misleads
    verifiers, and no "unrelated" verdict on a sent certificate the paths place."""
    from tlsmatrix.chain import diagnosis as d

    finding = graph.sent_finding()
    rules = graph.rule_findings()
    by_hash = {c.sha256: c.index for c in report.certificates}
    placed = _placed_by_graph(graph, rules)
    issues = [
        i if not _is_placed(i, report, placed) else _sent_root(report, i)
        for i in report.issues
        if i.code not in (INCOMPLETE, UNKNOWN_ISSUER)
    ]
    issues = [i for i in issues if i is not None]
    front: list[ChainIssue] = []
    missing: MissingLinks | None = None
    anchor: str | None = None
    path = finding.path
    if finding.status == d.INCOMPLETE and path is not None:
        missing, issue = _gaps_issue(finding, by_hash)
        front.append(issue)
    elif finding.status == d.UNKNOWN and path is not None and finding.missing_issuer:
        if any(f.cert.sha256 == path.top.sha256 and f.issuer is not None for f in rules):
            pass  # its issuer is there but its key fails the signature: a rule issue below
        elif (above := _sent_above_gap(graph)) is not None:
            missing, issue = _inferred_gap_issue(path, above, finding.missing_issuer, by_hash)
            anchor = above.path.top.subject
            front.append(issue)
        else:
            anchor = finding.missing_issuer
            front.append(_unknown_issue(path, finding.missing_issuer, by_hash))
    if finding.anchor is not None:
        anchor = finding.anchor.subject
        if finding.anchor.signs_itself and not finding.anchor.self_signed:
            front.append(_aki_issue(finding.anchor))
    front += [_rule_issue(f, by_hash) for f in rules]
    return replace(
        report,
        issues=(*front, *issues),
        missing_issuer=missing.names[0] if missing else None,
        expected_anchor=anchor,
        graph=graph.to_dict(),
        missing=missing,
    )


def _gaps_issue(finding: Any, by_hash: dict[str, int]) -> tuple[MissingLinks, ChainIssue]:
    from tlsmatrix.chain.diagnosis import supplied_by
    from tlsmatrix.explain.names import short_name

    links = finding.path.links
    gaps = finding.gaps
    first, last = links.index(gaps[0]), links.index(gaps[-1])
    after = links[first - 1]
    before = next((c for c in links[last + 1 :] if c.sent), None)
    parts = []
    for gap in gaps:
        child = links[links.index(gap) - 1]
        parts.append(
            f"'{short_name(gap.subject)}', the issuer of '{short_name(child.subject)}' "
            f"(held by {supplied_by(gap)})"
        )
    noun = "an intermediate" if len(gaps) == 1 else "intermediates"
    message = (
        f"The chain is incomplete: {' and '.join(parts)}, "
        f"{'is' if len(gaps) == 1 else 'are'} {noun} the server does not send; a client must "
        f"find {'it' if len(gaps) == 1 else 'them'} in its store or fetch "
        f"{'it' if len(gaps) == 1 else 'them'} via AIA."
    )
    missing = MissingLinks(
        tuple(g.subject for g in gaps), after.subject, before.subject if before else None
    )
    return missing, ChainIssue(INCOMPLETE, message, by_hash.get(after.sha256))


def _sent_above_gap(graph: ChainGraph) -> Any:
    """A sent CA certificate, not reached from the leaf, whose own path some store
    verifies (strictly, else as a partial-chain anchor): the upper half of the chain."""
    from tlsmatrix.chain.diagnosis import ClientView

    for partial in (False, True):
        for store in graph.stores:
            above = graph.sent_above_gap(ClientView(store, partial_chain=partial))
            if above is not None:
                return above
    return None


def _inferred_gap_issue(
    path: Any, above: Any, missing: str, by_hash: dict[str, int]
) -> tuple[MissingLinks, ChainIssue]:
    from tlsmatrix.explain.names import short_name

    top, upper = path.top, above.path.links[0]
    stores = ", ".join(above.at.stores())
    message = (
        f"The chain is incomplete (inferred): the issuer of '{short_name(top.subject)}', "
        f"'{short_name(missing)}', is neither sent nor held by any store or AIA download "
        f"tlsmatrix can see, but the server does send '{short_name(upper.subject)}', which "
        f"chains to '{short_name(above.at.subject)}' in the store {stores}: an intermediate "
        f"between '{short_name(top.subject)}' and '{short_name(upper.subject)}' is most "
        "likely missing."
    )
    missing_links = MissingLinks((missing,), top.subject, upper.subject, supplied=False)
    return missing_links, ChainIssue(INCOMPLETE, message, by_hash.get(top.sha256))


def _unknown_issue(path: Any, missing: str, by_hash: dict[str, int]) -> ChainIssue:
    from tlsmatrix.explain.names import short_name

    return ChainIssue(
        UNKNOWN_ISSUER,
        f"The issuer of '{short_name(path.top.subject)}', '{short_name(missing)}', was not "
        "sent and no trust store or AIA download tlsmatrix can see holds it: either an "
        "intermediate is missing or the chain ends at a root unknown here.",
        by_hash.get(path.top.sha256),
    )


def _aki_issue(root: Any) -> ChainIssue:
    from tlsmatrix.chain.diagnosis import supplied_by
    from tlsmatrix.explain.names import short_name

    where = "sent by the server" if root.sent else f"held by {supplied_by(root)}"
    return ChainIssue(
        ANCHOR_AKI_MISMATCH,
        f"The root '{short_name(root.subject)}' ({where}) signs itself, but its "
        "authorityKeyIdentifier names another key: verifiers that match key identifiers "
        "(OpenSSL and its users) take it for an intermediate and look for its issuer, so "
        "clients without partial-chain trust reject the chain. Serving it does not help.",
    )


def _rule_issue(finding: Any, by_hash: dict[str, int]) -> ChainIssue:
    evidence = finding.evidence[0].upper() + finding.evidence[1:]
    issuer = finding.issuer
    if issuer is not None and issuer.sent:
        evidence += f" (the issuer was sent as certificate {by_hash.get(issuer.sha256)})"
    return ChainIssue(finding.reason.value, evidence + ".", by_hash.get(finding.cert.sha256))


def _placed_by_graph(graph: ChainGraph, rules: Sequence[Any]) -> frozenset[str]:
    """The certificates the graph puts in the chain: on a path from the leaf, the issuer a
    bad signature names, or above a gap (a sent CA whose own path some store verifies)."""
    from tlsmatrix.chain.diagnosis import VERIFIED, ClientView, judge

    placed = {link.sha256 for path in graph.paths for link in path.links}
    placed |= {f.issuer.sha256 for f in rules if f.issuer is not None}
    views = [ClientView(s, partial_chain=p) for s in graph.stores for p in (False, True)]
    for path in graph.orphans:
        if any(judge(path, view).kind == VERIFIED for view in views):
            placed |= {link.sha256 for link in path.links}
    return frozenset(placed)


def _sent_root(report: ChainReport, issue: ChainIssue) -> ChainIssue | None:
    """A placed certificate is not unrelated; a placed root above a gap is still sent in
    vain (the same issue as a root on a complete chain)."""
    assert issue.index is not None
    info = report.certificates[issue.index]
    if not info.self_signed:
        return None
    return ChainIssue(
        CONTAINS_ANCHOR,
        f"Certificate {issue.index} is a self-signed root ('{info.subject}'); sending it is "
        "useless (clients must already trust it) and clients that do not trust it report "
        "it as an untrusted root.",
        issue.index,
    )


def _is_placed(issue: ChainIssue, report: ChainReport, placed: frozenset[str]) -> bool:
    """An "unrelated certificate" issue about a certificate the graph places (a duplicate
    stays reported: its first copy is the one on the path)."""
    if issue.code != EXTRA_CERTS or issue.index is None:
        return False
    sha = report.certificates[issue.index].sha256
    first = next(c.index for c in report.certificates if c.sha256 == sha)
    return first == issue.index and sha in placed


__all__ = [
    "CapturedChain",
    "ChainInspection",
    "ChainIssue",
    "ChainReport",
    "analyse_chain",
    "apply_graph",
    "capture_chain",
    "inspect_chain",
    "leaf_matches_hostname",
    "path_from_leaf",
    "with_paths",
    "with_revocation",
]
