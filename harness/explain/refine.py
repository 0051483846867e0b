"""Refining a client's "issuer unknown" or "invalid" into the reason the evidence shows.

Java, GnuTLS, wget and Chromium say the same thing for a missing intermediate, an
untrusted root and a self-signed leaf; OpenSSL's codes 2/20/21 cover the first two. The
paths over what the server sent, this client's trust store and the issuers AIA serves
(:mod:`tlsmatrix.chain.diagnosis`) tell them apart. A reason the graph decides gets
``reason_source=chain``; one it cannot decide stays provisional with ``inferred`` (and
"issuer unknown" then becomes ``unknown_issuer``, never a guess between the two).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from tlsmatrix.chain.analysis import (
    CONTAINS_ANCHOR,
    HOSTNAME_MISMATCH,
    WEAK_KEY,
    WEAK_SIGNATURE,
    ChainReport,
)
from tlsmatrix.clients.base import ClientInfo, Observation, Reason, ReasonSource, Verdict

if TYPE_CHECKING:
    from cryptography import x509
    from tlsmatrix.chain.diagnosis import ChainGraph, ClientView, PathVerdict
    from tlsmatrix.chain.paths import PoolCert
    from tlsmatrix.chain.rules import RuleFinding

_REFINABLE = frozenset(
    {Reason.INCOMPLETE_CHAIN, Reason.UNTRUSTED_ROOT, Reason.SELF_SIGNED, Reason.UNKNOWN_ISSUER}
)


def refine_reason(
    obs: Observation,
    report: ChainReport | None,
    graph: ChainGraph | None = None,
    info: ClientInfo | None = None,
) -> Observation:
    """The observation with its reason decided by the evidence when the client's own
    signal was only "issuer unknown" or "certificate invalid", and ``reason_source`` set
    to say how. Anything else is returned unchanged."""
    if obs.verdict is not Verdict.REJECT:
        return obs
    if obs.reason is Reason.HOSTNAME_MISMATCH and _leaf_san_undecodable(graph):
        # No name in a SAN that does not decode can match: the certificate is the fault.
        return replace(obs, reason=Reason.MALFORMED_CERTIFICATE, reason_source=ReasonSource.CHAIN)
    if obs.reason is Reason.BAD_SIGNATURE and _algorithms_differ(obs, graph, info):
        # The signature verifies under the outer algorithm; what fails is that the signed
        # part names another one (OpenSSL reports it as a signature failure).
        return replace(obs, reason=Reason.MALFORMED_CERTIFICATE, reason_source=ReasonSource.CHAIN)
    if _malformed_issuer(obs, graph, info):
        return replace(obs, reason=Reason.MALFORMED_CERTIFICATE, reason_source=ReasonSource.CHAIN)
    if obs.reason is Reason.WRONG_USAGE and obs.verify_code == X509_V_ERR_INVALID_PURPOSE:
        if _issuer_not_a_ca(obs, graph, info):
            return replace(obs, reason=Reason.NOT_A_CA, reason_source=ReasonSource.CHAIN)
        return obs
    if obs.reason is Reason.NOT_A_CA and _ca_usage_not_ca(obs, graph, info):
        # OpenSSL's INVALID_CA also covers a CA whose keyUsage lacks keyCertSign; the
        # chain shows basicConstraints are fine and names the usage.
        return replace(obs, reason=Reason.WRONG_USAGE, reason_source=ReasonSource.CHAIN)
    if obs.certificate_invalid:
        verdict = path_verdict(obs, graph, info)
        finding = rule_finding(report, graph, verdict)
        if finding is not None:
            return replace(obs, reason=finding.reason, reason_source=ReasonSource.CHAIN)
        above = _unsent_links(verdict.path.links) if verdict is not None else ()
        reason = invalid_reason(report, obs.reason, above) if report is not None else None
        if reason is None:
            return replace(obs, reason_source=ReasonSource.INFERRED)
        return replace(obs, reason=reason, reason_source=ReasonSource.CHAIN)
    if not obs.issuer_unknown or obs.reason not in _REFINABLE:
        return obs
    if report is None:
        return replace(obs, reason=Reason.UNKNOWN_ISSUER, reason_source=ReasonSource.INFERRED)
    verdict = path_verdict(obs, graph, info)
    if graph is not None and _bad_signature_below(graph, verdict):
        # An issuer whose key does not verify its child cannot be linked: the client's
        # "issuer unknown" is that broken signature, which the chain shows.
        return replace(obs, reason=Reason.BAD_SIGNATURE, reason_source=ReasonSource.CHAIN)
    reason, decisive = chain_reason(report, verdict)
    # The server sends the upper part of a chain this client trusts: the gap is most
    # likely a missing intermediate. Likely, not proven: it stays marked inferred.
    if (
        reason is Reason.UNKNOWN_ISSUER
        and graph is not None
        and graph.sent_above_gap(client_view(obs, info)) is not None
    ):
        reason = Reason.INCOMPLETE_CHAIN
    source = ReasonSource.CHAIN if decisive else ReasonSource.INFERRED
    return replace(obs, reason=reason, reason_source=source)


def _leaf_san_undecodable(graph: ChainGraph | None) -> bool:
    from tlsmatrix.chain.certfacts import san_undecodable

    return graph is not None and graph.leaf is not None and san_undecodable(graph.leaf.cert)


# OpenSSL's code for "unsuitable certificate purpose": it also reports a non-CA issuer.
X509_V_ERR_INVALID_PURPOSE = 26


def _bad_signature_below(graph: ChainGraph, verdict: PathVerdict | None) -> bool:
    """True when this client's own path stops at a link whose issuer's key fails it."""
    from tlsmatrix.chain.rules import check_path

    if verdict is None:
        return False
    return any(f.reason is Reason.BAD_SIGNATURE for f in check_path(verdict.path, graph))


def rule_finding(
    report: ChainReport | None, graph: ChainGraph | None, verdict: PathVerdict | None
) -> RuleFinding | None:
    """The most specific certificate rule the chain breaks, on the client's verified or
    best path (``verdict``) first (:mod:`tlsmatrix.chain.rules`); a certificate the
    analysis could not parse is malformed. None when the chain breaks no rule."""
    from tlsmatrix.chain.rules import path_findings

    if graph is not None:
        found = path_findings(graph, verdict.path if verdict else None)
        if found:
            return found[0]
    if report is not None and any(c.error for c in report.certificates) and graph is not None:
        from tlsmatrix.chain.rules import RuleFinding

        bad = next(c for c in report.certificates if c.error)
        if graph.leaf is not None:
            text = f"a certificate sent cannot be parsed ({bad.error})"
            return RuleFinding(graph.leaf, Reason.MALFORMED_CERTIFICATE, text)
    return None


# What a verifier reports when it cannot read a CA's extensions (basicConstraints: "not
# a CA" / "invalid purpose") or a certificate at all ("issuer unknown").
_MALFORMED_LOOKS_LIKE = frozenset({Reason.NOT_A_CA, Reason.WRONG_USAGE, Reason.UNKNOWN_ISSUER})


def _malformed_issuer(obs: Observation, graph: ChainGraph | None, info: ClientInfo | None) -> bool:
    """Whether this "not a CA" / "invalid purpose" / "issuer unknown" is a certificate on
    the path that cannot be decoded: the rules find an undecodable extension on a CA the
    path needs and no other broken rule, and (for "issuer unknown") the client could have
    built the path otherwise."""
    from tlsmatrix.chain import diagnosis as d
    from tlsmatrix.chain.rules import path_findings

    unknown = obs.issuer_unknown or obs.reason is Reason.UNKNOWN_ISSUER
    if graph is None or (obs.reason not in _MALFORMED_LOOKS_LIKE and not unknown):
        return False
    # A usage refusal from the TLS layer (no verify code: OpenSSL's "ecc cert not for
    # signing") reads the leaf's key usage; a leaf whose extensions do not decode has none.
    tls_layer_usage = obs.reason is Reason.WRONG_USAGE and obs.verify_code is None
    if (
        obs.reason is Reason.WRONG_USAGE
        and obs.verify_code != X509_V_ERR_INVALID_PURPOSE
        and not tls_layer_usage
    ):
        return False
    verdict = path_verdict(obs, graph, info)
    if unknown and (verdict is None or verdict.kind != d.VERIFIED):
        return False
    found = path_findings(graph, verdict.path if verdict else None)
    return (
        bool(found)
        and all(f.reason is Reason.MALFORMED_CERTIFICATE for f in found)
        and (unknown or tls_layer_usage or any(not f.on_leaf for f in found))
    )


def _client_findings(
    obs: Observation, graph: ChainGraph | None, info: ClientInfo | None
) -> tuple[RuleFinding, ...]:
    """The rules broken on this client's verified or best path (none without a graph)."""
    from tlsmatrix.chain.rules import path_findings

    if graph is None:
        return ()
    verdict = path_verdict(obs, graph, info)
    return tuple(path_findings(graph, verdict.path if verdict else None))


def _issuer_not_a_ca(obs: Observation, graph: ChainGraph | None, info: ClientInfo | None) -> bool:
    """Whether OpenSSL's "invalid purpose" is about a non-CA issuer: the rules find one
    and find nothing wrong with the leaf's own usages."""
    found = _client_findings(obs, graph, info)
    leaf_usage = any(f.reason is Reason.WRONG_USAGE and f.on_leaf for f in found)
    return not leaf_usage and any(f.reason is Reason.NOT_A_CA for f in found)


def _ca_usage_not_ca(obs: Observation, graph: ChainGraph | None, info: ClientInfo | None) -> bool:
    """Whether a "not a CA" is about an issuer's keyUsage: the rules find an issuer whose
    keyUsage lacks keyCertSign and no issuer without CA basicConstraints."""
    found = _client_findings(obs, graph, info)
    issuer_usage = any(f.reason is Reason.WRONG_USAGE and not f.on_leaf for f in found)
    return issuer_usage and not any(f.reason is Reason.NOT_A_CA for f in found)


def _algorithms_differ(obs: Observation, graph: ChainGraph | None, info: ClientInfo | None) -> bool:
    """Whether the client's path has a certificate whose inner and outer signature
    algorithms differ, and no signature that fails its issuer's key."""
    from tlsmatrix.chain.certfacts import signature_algorithm_mismatch

    verdict = path_verdict(obs, graph, info)
    if verdict is None:
        return False
    if any(f.reason is Reason.BAD_SIGNATURE for f in _client_findings(obs, graph, info)):
        return False
    return any(signature_algorithm_mismatch(link.cert) for link in verdict.path.links)


def client_view(obs: Observation, info: ClientInfo | None) -> ClientView:
    """The path-building facts of the client behind ``obs``: the store it used (when one
    can be read), its anchor rule and whether it downloads issuers itself."""
    from tlsmatrix.chain.diagnosis import ClientView

    store = obs.trust.path if obs.trust is not None else None
    return ClientView(
        store,
        partial_chain=bool(info and info.partial_chain),
        fetches_aia=bool(info and info.fetches_aia),
    )


def path_verdict(
    obs: Observation, graph: ChainGraph | None, info: ClientInfo | None
) -> PathVerdict | None:
    if graph is None:
        return None
    return graph.verdict_for(client_view(obs, info))


def chain_reason(report: ChainReport, verdict: PathVerdict | None = None) -> tuple[Reason, bool]:
    """Which "issuer unknown" this is, and whether the evidence decides it: a self-signed
    leaf, a missing intermediate (at any depth), a path ending at an anchor the client does
    not take, or (undecided) ``unknown_issuer``."""
    from tlsmatrix.chain import diagnosis as d

    leaf = report.leaf
    if leaf is not None and not leaf.error and leaf.self_signed:
        return Reason.SELF_SIGNED, True
    if verdict is None:
        # Only the sent list: it decides nothing but a sent root the client refused.
        if CONTAINS_ANCHOR in report.issue_codes:
            return Reason.UNTRUSTED_ROOT, True
        return Reason.UNKNOWN_ISSUER, False
    decided = {
        d.MISSING_LINK: Reason.INCOMPLETE_CHAIN,
        d.INTERMEDIATE_REFUSED: Reason.UNTRUSTED_ROOT,
        d.UNTRUSTED_ROOT: Reason.UNTRUSTED_ROOT,
        d.SELF_SIGNED: Reason.SELF_SIGNED,
    }
    if verdict.kind in decided:
        return decided[verdict.kind], True
    # unknown_issuer, or a path this client could have built (then its refusal is not
    # about the issuer at all, and the evidence does not say what it was about)
    return Reason.UNKNOWN_ISSUER, False


# Chain issues that make a verifier call a certificate invalid, most specific first.
_INVALID_BECAUSE = (
    (WEAK_SIGNATURE, Reason.WEAK_SIGNATURE),
    (WEAK_KEY, Reason.WEAK_KEY),
    (HOSTNAME_MISMATCH, Reason.HOSTNAME_MISMATCH),
)
_DATE_REASONS = frozenset({Reason.EXPIRED, Reason.NOT_YET_VALID})


def _unsent_links(links: Sequence[PoolCert]) -> tuple[x509.Certificate, ...]:
    """The certificates of a client's path that the server did not send (its anchor and
    any issuer from its store or AIA): their dates count too."""
    return tuple(link.cert for link in links if not link.sent)


def invalid_reason(
    report: ChainReport,
    provisional: Reason | None = None,
    above: Sequence[x509.Certificate] = (),
) -> Reason | None:
    """The one chain issue that explains a vague "certificate invalid" (or, for a vague
    date error, whether a certificate expired or is not valid yet); None when the chain
    shows none, or several that could. ``above`` are the certificates of the client's
    path the server did not send (an expired root in its store)."""
    dates = _date_reasons(report) | _path_date_reasons(report, above)
    if provisional in _DATE_REASONS:
        return next(iter(dates)) if len(dates) == 1 else None
    found = [reason for code, reason in _INVALID_BECAUSE if code in report.issue_codes]
    found += sorted(dates)
    return found[0] if len(found) == 1 else None


def _date_reasons(report: ChainReport) -> set[Reason]:
    """Expired / not yet valid among the certificates sent (as the analysis read them)."""
    windows = [
        (_parse(c.not_before), _parse(c.not_after)) for c in report.certificates if not c.error
    ]
    return _out_of_window(report, windows)


def _path_date_reasons(report: ChainReport, certs: Sequence[x509.Certificate]) -> set[Reason]:
    """The same for certificates of the client's path that were not sent."""
    windows = []
    for cert in certs:
        try:
            windows.append((cert.not_valid_before_utc, cert.not_valid_after_utc))
        except Exception:  # noqa: BLE001 - dates cryptography cannot read say nothing
            continue
    return _out_of_window(report, windows)


def path_date_reason(report: ChainReport, cert: x509.Certificate) -> Reason | None:
    """EXPIRED / NOT_YET_VALID for one certificate at the report's date, else None."""
    found = _path_date_reasons(report, [cert])
    return next(iter(found)) if len(found) == 1 else None


def _out_of_window(
    report: ChainReport, windows: Sequence[tuple[datetime | None, datetime | None]]
) -> set[Reason]:
    now = _parse(report.checked_at)
    found: set[Reason] = set()
    for start, end in windows:
        if now is None or start is None or end is None:
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
