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
from tlsmatrix.chain.report import INCOMPLETE, UNKNOWN_ISSUER, ChainIssue, ChainReport
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
    """``report`` with its ``incomplete``/``unknown_issuer`` issues, ``missing_issuer`` and
    ``expected_anchor`` taken from the paths rather than from the sent list alone."""
    from tlsmatrix.chain import diagnosis as d
    from tlsmatrix.explain.names import short_name

    finding = graph.sent_finding()
    issues = [i for i in report.issues if i.code not in (INCOMPLETE, UNKNOWN_ISSUER)]
    by_hash = {c.sha256: c.index for c in report.certificates}
    missing: str | None = None
    anchor: str | None = None
    path = finding.path
    if finding.status == d.INCOMPLETE and finding.missing is not None and path is not None:
        at = path.links.index(finding.missing)
        child = path.links[at - 1]
        missing = finding.missing.subject
        anchor = path.top.subject if path.ends == "root" else None
        issues.insert(
            0,
            ChainIssue(
                INCOMPLETE,
                f"The chain is incomplete: '{short_name(missing)}', the issuer of "
                f"'{short_name(child.subject)}', is an intermediate the server does not send "
                f"(held by {d.supplied_by(finding.missing)}); a client must find it in its "
                "store or fetch it via AIA.",
                by_hash.get(child.sha256),
            ),
        )
    elif finding.status == d.COMPLETE and path is not None:
        anchor = path.top.subject
    elif finding.status == d.UNKNOWN and path is not None and finding.missing_issuer:
        anchor = finding.missing_issuer
        issues.insert(
            0,
            ChainIssue(
                UNKNOWN_ISSUER,
                f"The issuer of '{short_name(path.top.subject)}', "
                f"'{short_name(finding.missing_issuer)}', was not sent and no trust store or "
                "AIA download tlsmatrix can see holds it: either an intermediate is missing or "
                "the chain ends at a root unknown here.",
                by_hash.get(path.top.sha256),
            ),
        )
    elif finding.status == d.LEAF_SELF_SIGNED:
        anchor = None
    return replace(
        report,
        issues=tuple(issues),
        missing_issuer=missing,
        expected_anchor=anchor,
        graph=graph.to_dict(),
    )


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
