"""Refining a client's "issuer unknown" into the reason the captured chain shows.

Java, GnuTLS, wget and Chromium say the same thing for a missing intermediate, an
untrusted root and a self-signed leaf; OpenSSL's codes 2/20/21 cover the first two.
What the server actually sent tells them apart.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from tlsmatrix.chain.analysis import (
    CONTAINS_ANCHOR,
    HOSTNAME_MISMATCH,
    INCOMPLETE,
    WEAK_KEY,
    WEAK_SIGNATURE,
    ChainReport,
)
from tlsmatrix.clients.base import Observation, Reason, Verdict

_REFINABLE = frozenset({Reason.INCOMPLETE_CHAIN, Reason.UNTRUSTED_ROOT, Reason.SELF_SIGNED})


def refine_reason(obs: Observation, report: ChainReport | None) -> Observation:
    """The observation with its reason decided by the chain, when the client's own
    signal was only "issuer unknown" or "certificate invalid". Anything else is returned
    unchanged."""
    if obs.verdict is not Verdict.REJECT or report is None:
        return obs
    if obs.certificate_invalid:
        reason = invalid_reason(report, obs.reason)
        return obs if reason is None else replace(obs, reason=reason)
    if not obs.issuer_unknown:
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


# Chain issues that make a verifier call a certificate invalid, most specific first.
_INVALID_BECAUSE = (
    (WEAK_SIGNATURE, Reason.WEAK_SIGNATURE),
    (WEAK_KEY, Reason.WEAK_KEY),
    (HOSTNAME_MISMATCH, Reason.HOSTNAME_MISMATCH),
)
_DATE_REASONS = frozenset({Reason.EXPIRED, Reason.NOT_YET_VALID})


def invalid_reason(report: ChainReport, provisional: Reason | None = None) -> Reason | None:
    """The one chain issue that explains a vague "certificate invalid" (or, for a vague
    date error, whether a certificate expired or is not valid yet); None when the chain
    shows none, or several that could."""
    dates = _date_reasons(report)
    if provisional in _DATE_REASONS:
        return next(iter(dates)) if len(dates) == 1 else None
    found = [reason for code, reason in _INVALID_BECAUSE if code in report.issue_codes]
    found += sorted(dates)
    return found[0] if len(found) == 1 else None


def _date_reasons(report: ChainReport) -> set[Reason]:
    now = _parse(report.checked_at)
    found: set[Reason] = set()
    for cert in report.certificates:
        start, end = _parse(cert.not_before), _parse(cert.not_after)
        if now is None or cert.error or start is None or end is None:
            continue
        if now > end:
            found.add(Reason.EXPIRED)
        elif now < start:
            found.add(Reason.NOT_YET_VALID)
    return found


def _parse(text: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None
