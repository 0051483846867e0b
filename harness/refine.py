"""Refining a client's "issuer unknown" into the reason the captured chain shows.

Java, GnuTLS, wget and Chromium say the same thing for a missing intermediate, an
untrusted root and a self-signed leaf; OpenSSL's codes 2/20/21 cover the first two.
What the server actually sent tells them apart.
"""

from __future__ import annotations

from dataclasses import replace

from clients.base import Observation, Reason, Verdict
from harness.chain_analysis import CONTAINS_ANCHOR, INCOMPLETE, ChainReport

_REFINABLE = frozenset({Reason.INCOMPLETE_CHAIN, Reason.UNTRUSTED_ROOT, Reason.SELF_SIGNED})


def refine_reason(obs: Observation, report: ChainReport | None) -> Observation:
    """The observation with its reason decided by the chain, when the client's own
    signal was only "issuer unknown". Anything else is returned unchanged."""
    if not obs.issuer_unknown or obs.verdict is not Verdict.REJECT or report is None:
        return obs
    if obs.reason not in _REFINABLE:
        return obs
    reason = chain_reason(report)
    return obs if reason is None or reason is obs.reason else replace(obs, reason=reason)


def chain_reason(report: ChainReport) -> Reason | None:
    """Which "issuer unknown" this chain produces: a self-signed leaf, a missing
    intermediate, or a path that ends at an anchor the client does not trust."""
    leaf = report.leaf
    if leaf is None or leaf.error:
        return None
    if leaf.self_signed:
        return Reason.SELF_SIGNED
    codes = report.issue_codes
    if INCOMPLETE in codes:
        return Reason.INCOMPLETE_CHAIN
    if CONTAINS_ANCHOR in codes or report.expected_anchor is not None:
        # the sent path reaches a root (sent, or named as the issuer of the last CA sent)
        # that this client does not trust
        return Reason.UNTRUSTED_ROOT
    return None
