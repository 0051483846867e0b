"""Chain capture and analysis: what a server presents, and what is wrong with it.

The work lives in :mod:`tlsmatrix.chain.capture` (network, pyOpenSSL) and
:mod:`tlsmatrix.chain.analysis` (pure, cryptography); this module is the one place the rest
of the harness imports them from. It imports pyOpenSSL and cryptography, so command-line
code should import it inside the commands that need it, keeping ``--help`` light.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tlsmatrix.chain.analysis import (
    CONTAINS_ANCHOR,
    EXPIRED_IN_CHAIN,
    EXTRA_CERTS,
    HOSTNAME_MISMATCH,
    INCOMPLETE,
    ISSUE_CODES,
    UNPARSEABLE,
    WEAK_KEY,
    WEAK_SIGNATURE,
    WRONG_ORDER,
    CertInfo,
    ChainIssue,
    ChainReport,
    analyse_chain,
    leaf_matches_hostname,
    path_from_leaf,
)
from tlsmatrix.chain.capture import CapturedChain, capture_chain
from tlsmatrix.clients.base import Target


@dataclass(frozen=True)
class ChainInspection:
    """A capture and, when anything was captured, its analysis."""

    captured: CapturedChain
    report: ChainReport | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the ``chains`` entry for one target."""
        return {
            "target": self.captured.target,
            "tls_version": self.captured.tls_version,
            "error": self.captured.error,
            "truncated": self.captured.truncated,
            **(self.report.to_dict() if self.report is not None else {"certificates": []}),
        }


def inspect_chain(target: Target, timeout: float, now: datetime | None = None) -> ChainInspection:
    """Capture what ``target`` presents and analyse it against ``target.host``.

    Never raises for anything the server does; ``report`` is None only when no
    certificate was received."""
    captured = capture_chain(target, timeout)
    if not captured.certificates:
        return ChainInspection(captured, None)
    return ChainInspection(captured, analyse_chain(captured.certificates, target.host, now))


__all__ = [
    "CONTAINS_ANCHOR",
    "EXPIRED_IN_CHAIN",
    "EXTRA_CERTS",
    "HOSTNAME_MISMATCH",
    "INCOMPLETE",
    "ISSUE_CODES",
    "UNPARSEABLE",
    "WEAK_KEY",
    "WEAK_SIGNATURE",
    "WRONG_ORDER",
    "CapturedChain",
    "CertInfo",
    "ChainInspection",
    "ChainIssue",
    "ChainReport",
    "analyse_chain",
    "capture_chain",
    "inspect_chain",
    "leaf_matches_hostname",
    "path_from_leaf",
]
