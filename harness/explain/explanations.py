"""Explanations grounded in evidence: for every result row and every disagreement,
say what made the client decide as it did — the trust it was given and whether that
holds the certificate the server does not send, AIA fetching (and the lab's AIA log
showing it), environment variables that redirected trust, and crypto policy.

When the evidence does not explain an outcome, the text says "unexplained" rather than
guess.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from tlsmatrix.chain.analysis import (
    EXPIRED_IN_CHAIN,
    HOSTNAME_MISMATCH,
    INCOMPLETE,
    NOT_YET_VALID_IN_CHAIN,
    WEAK_KEY,
    WEAK_SIGNATURE,
    ChainReport,
)
from tlsmatrix.clients.base import ClientInfo, Observation, Reason, ReasonSource, TrustUsed, Verdict
from tlsmatrix.explain.names import cert_name, short_name
from tlsmatrix.results.model import Divergence, grouped

UNEXPLAINED = "unexplained"


class AIALogEntry(Protocol):
    path: str
    time: float
    user_agent: str | None
    status: int | None


@dataclass(frozen=True)
class Evidence:
    """What the explainer may rely on; everything optional is simply not cited."""

    infos: Mapping[str, ClientInfo]
    reports: Mapping[str, ChainReport | None]  # target name -> analysis of what it sent
    aia_log: Sequence[AIALogEntry] = ()
    graphs: Mapping[str, Any] = field(default_factory=dict)  # target -> ChainGraph
    _bundles: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def bundle(self, path: str | None) -> Any:
        """The parsed trust bundle at ``path`` (a TrustBundle), or None when unreadable."""
        if not path:
            return None
        if path not in self._bundles:
            from tlsmatrix.trust.bundle import TrustBundle, TrustBundleError

            try:
                self._bundles[path] = TrustBundle.load(path)
            except TrustBundleError:
                self._bundles[path] = None
        return self._bundles[path]


def trust_phrase(trust: TrustUsed | None) -> str:
    if trust is None:
        return "its trust store"
    if trust.kind == "bundle":
        return f"its trust bundle {trust.path}"
    if trust.origin.isupper() or trust.origin.endswith("_FILE") or trust.origin.endswith("_DIR"):
        return f"its trust store {trust.path} (from ${trust.origin})"
    where = trust.path or "built-in"
    return f"its native store {where} ({trust.origin})"


def env_note(trust: TrustUsed | None) -> str:
    """A sentence when an environment variable chose the client's trust store."""
    if trust is None or trust.kind != "native" or not trust.origin.isupper():
        return ""
    return (
        f" The environment variable {trust.origin}={trust.path} replaced its default trust store."
    )


def _contains(evidence: Evidence, trust: TrustUsed | None, name: str | None) -> bool | None:
    """Whether the store the client used holds a certificate named ``name`` (None: unknown)."""
    if trust is None or name is None:
        return None
    bundle = evidence.bundle(trust.path)
    return None if bundle is None else bool(bundle.contains_subject(name))


def aia_fetches(
    evidence: Evidence, obs: Observation, info: ClientInfo | None, report: ChainReport
) -> list[AIALogEntry]:
    """AIA log entries that show this probe downloading the leaf's issuer: matched by the
    client's measured AIA User-Agent and the probe's time window, never by its name."""
    from tlsmatrix.explain.path_text import log_entries_for

    leaf = report.leaf
    if leaf is None or not leaf.aia_ca_issuers:
        return []
    return log_entries_for(obs, info, leaf.aia_ca_issuers, evidence.aia_log)


def _url_path(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).path or "/"


def user_agent(entry: AIALogEntry) -> str:
    """The product token that names the client ('HeadlessChrome/156.0.0.0', 'Java/17')."""
    tokens = (entry.user_agent or "unknown").split()
    named = [
        t for t in tokens if "/" in t and not t.startswith(("Mozilla/", "AppleWebKit/", "Safari/"))
    ]
    return named[0] if named else tokens[0]


def _when(entry: AIALogEntry) -> str:
    return dt.datetime.fromtimestamp(entry.time, dt.UTC).strftime("%H:%M:%S")


def _first_message(report: ChainReport, code: str) -> str | None:
    issues = report.issues_with(code)
    return issues[0].message if issues else None


def explain_row(obs: Observation, evidence: Evidence) -> str:
    """One or two sentences on why this client decided as it did, from evidence only."""
    info = evidence.infos.get(obs.client)
    report = evidence.reports.get(obs.target)
    if obs.verdict is Verdict.SKIPPED:
        return f"not run: {obs.detail}"
    if obs.verdict is Verdict.TIMEOUT:
        return "no verdict: the server did not complete a handshake before the deadline."
    if obs.verdict is Verdict.ERROR:
        return f"no TLS verdict ({obs.reason.value}): {obs.detail[:160]}"
    if report is None:
        return (
            "no chain could be captured from the server, so the verdict cannot be "
            "checked against what it sends."
        ) + _provisional(obs)
    if obs.verdict is Verdict.ACCEPT:
        return _explain_accept(obs, evidence, info, report)
    text = _explain_reject(obs, evidence, info, report) + env_note(obs.trust)
    return text + _provisional(obs)


def _provisional(obs: Observation) -> str:
    if obs.reason_source is not ReasonSource.INFERRED:
        return ""
    return (
        f" Provisional: '{obs.reason.value}' is inferred; neither the client's own signal "
        "nor the chain decides it."
    )


def _unsent_out_of_date(report: ChainReport, verdict: Any, reason: Reason, trust: str) -> str:
    """The certificate of the client's path the server did not send (its root in the
    store, say) that is outside its validity at the report's date, as a clause; '' when
    none is."""
    from tlsmatrix.explain.refine import path_date_reason

    if verdict is None:
        return ""
    for link in verdict.path.links:
        if link.sent or path_date_reason(report, link.cert) is not reason:
            continue
        cert = link.cert
        where = f"in {trust}" if link.stores() else "not sent by the server"
        if reason is Reason.EXPIRED:
            when = f"expired on {cert.not_valid_after_utc.isoformat()}"
        else:
            when = f"is not valid before {cert.not_valid_before_utc.isoformat()}"
        return (
            f"'{cert_name(link.subject, link.sha256)}' ({where}; the server does not send "
            f"it), on this client's path, {when}"
        )
    return ""


def _verdict(obs: Observation, evidence: Evidence, info: ClientInfo | None) -> Any:
    graph = evidence.graphs.get(obs.target)
    if graph is None:
        return None, None
    from tlsmatrix.explain.refine import path_verdict

    return graph, path_verdict(obs, graph, info)


def _explain_accept(
    obs: Observation, evidence: Evidence, info: ClientInfo | None, report: ChainReport
) -> str:
    codes = report.issue_codes
    notes: list[str] = []
    graph, verdict = _verdict(obs, evidence, info)
    if graph is not None:
        from tlsmatrix.explain.path_text import accept_text

        notes.append(
            accept_text(obs, info, graph, verdict, trust_phrase(obs.trust), evidence.aia_log)
        )
        for reason in (Reason.EXPIRED, Reason.NOT_YET_VALID):
            dated = _unsent_out_of_date(report, verdict, reason, trust_phrase(obs.trust))
            if dated:  # the acceptance itself shows this client skips those dates
                notes.append(f"accepted although {dated}: it does not check those dates.")
    elif INCOMPLETE in codes:
        missing = report.missing_issuer
        holds = _contains(evidence, obs.trust, missing)
        fetched = aia_fetches(evidence, obs, info, report)
        if holds:
            notes.append(
                f"accepted although the server does not send '{short_name(missing)}': "
                f"{trust_phrase(obs.trust)} contains it."
            )
        elif fetched:
            e = fetched[0]
            notes.append(
                f"accepted although the server does not send '{short_name(missing)}': "
                f"it was fetched via AIA (AIA log: GET {e.path} at {_when(e)} "
                f"by {user_agent(e)}, status {e.status})."
            )
        elif info is not None and info.fetches_aia and report.leaf and report.leaf.aia_ca_issuers:
            notes.append(
                f"accepted although the server does not send '{short_name(missing)}': "
                f"the client fetches missing intermediates via AIA "
                f"({report.leaf.aia_ca_issuers[0]})."
            )
        else:
            notes.append(
                f"accepted although the server does not send '{short_name(missing)}' "
                f"and {trust_phrase(obs.trust)} does not contain it: {UNEXPLAINED}."
            )
    for code, what in ((WEAK_KEY, "weak key"), (WEAK_SIGNATURE, "weak signature")):
        message = _first_message(report, code)
        if message:
            library = _library(info)
            notes.append(f"accepted a {what} ({message}): {library} does not refuse it by policy.")
    if not notes:
        anchor = report.expected_anchor
        holds = _contains(evidence, obs.trust, anchor)
        if anchor and holds:
            notes.append(
                f"accepted: the chain leads to '{short_name(anchor)}', which "
                f"{trust_phrase(obs.trust)} contains."
            )
        elif anchor and holds is False:
            notes.append(
                f"accepted although the chain leads to '{short_name(anchor)}', which "
                f"{trust_phrase(obs.trust)} does not contain: {UNEXPLAINED}."
            )
        else:
            notes.append(
                f"accepted: the chain verified against {trust_phrase(obs.trust)} "
                "(contents not inspectable, so the anchor cannot be named)."
            )
    return " ".join(notes) + env_note(obs.trust)


def _explain_reject(
    obs: Observation, evidence: Evidence, info: ClientInfo | None, report: ChainReport
) -> str:
    reason = obs.reason
    leaf = report.leaf
    graph, verdict = _verdict(obs, evidence, info)
    if graph is not None and reason in _PATH_REASONS and _agrees(obs, report, verdict):
        from tlsmatrix.explain.path_text import reject_text

        text = reject_text(obs, info, graph, verdict, trust_phrase(obs.trust))
        if text is not None:
            return text
    if reason is Reason.UNKNOWN_ISSUER:
        return (
            f"rejected: the issuer of '{short_name(_top_subject(report))}' is unknown to the "
            f"client, and the evidence cannot tell a missing intermediate from an untrusted root."
        )
    if reason is Reason.INCOMPLETE_CHAIN:
        missing = report.missing_issuer or report.expected_anchor
        holds = _contains(evidence, obs.trust, missing)
        if holds:
            return (
                f"rejected as incomplete although {trust_phrase(obs.trust)} contains "
                f"'{short_name(missing)}': {UNEXPLAINED}."
            )
        store = trust_phrase(obs.trust) + (
            " does not contain it" if holds is False else " (contents not inspectable)"
        )
        text = (
            f"rejected: the server does not send '{short_name(missing)}' "
            f"(issuer of '{short_name(leaf.subject if leaf else None)}'), {store}"
        )
        return text + ", and " + _aia_clause(obs, evidence, info, report) + "."
    if reason is Reason.UNTRUSTED_ROOT:
        anchor = report.expected_anchor or _top_subject(report)
        holds = _contains(evidence, obs.trust, anchor)
        if holds:
            return (
                f"rejected as untrusted although {trust_phrase(obs.trust)} contains "
                f"'{short_name(anchor)}': {UNEXPLAINED}."
            )
        return (
            f"rejected: the chain ends at '{short_name(anchor)}', which "
            f"{trust_phrase(obs.trust)} does not contain."
        )
    if reason is Reason.SELF_SIGNED:
        return (
            f"rejected: the leaf '{short_name(leaf.subject if leaf else None)}' is "
            f"self-signed and not in {trust_phrase(obs.trust)}."
        )
    if reason in (Reason.EXPIRED, Reason.NOT_YET_VALID):
        code = EXPIRED_IN_CHAIN if reason is Reason.EXPIRED else NOT_YET_VALID_IN_CHAIN
        message = _first_message(report, code)
        if message:
            return f"rejected: {message}"
        unsent = _unsent_out_of_date(report, verdict, reason, trust_phrase(obs.trust))
        return (
            f"rejected: {unsent}."
            if unsent
            else f"rejected as {reason.value}: {UNEXPLAINED} "
            "(every certificate sent is within its validity period)."
        )
    if reason is Reason.HOSTNAME_MISMATCH:
        message = _first_message(report, HOSTNAME_MISMATCH)
        return (
            f"rejected: {message}"
            if message
            else (f"rejected for the host name although the leaf covers it: {UNEXPLAINED}.")
        )
    if reason in (Reason.WEAK_KEY, Reason.WEAK_SIGNATURE):
        code = WEAK_KEY if reason is Reason.WEAK_KEY else WEAK_SIGNATURE
        message = _first_message(report, code)
        if message:
            return f"rejected by policy: {_library(info)} refuses it ({message})."
        return (
            f"rejected as {reason.value}, but the chain shows no weak certificate: {UNEXPLAINED}."
        )
    if reason is Reason.REVOKED:
        urls = ", ".join(leaf.crl_urls) if leaf and leaf.crl_urls else "its CRL"
        return f"rejected: the leaf is listed as revoked ({urls})."
    cited = _rule_evidence(obs, graph, verdict)
    if cited is not None:
        return f"rejected ({reason.value}): the chain shows {cited}."
    if obs.reason_source is ReasonSource.INFERRED:
        # The signal did not decide it (the provisional note says so): only quote it.
        return f"rejected ({reason.value}); the client said: {obs.detail[:160]}"
    return f"rejected ({reason.value}) on the client's own signal: {obs.detail[:160]}"


def _rule_evidence(obs: Observation, graph: Any, verdict: Any) -> str | None:
    """The evidence line of the certificate rule behind this row's reason, if the chain
    breaks it (on the client's path first)."""
    from tlsmatrix.chain.rules import RULE_REASONS, path_findings

    if graph is None or obs.reason not in RULE_REASONS:
        return None
    found = path_findings(graph, verdict.path if verdict is not None else None)
    return next((f.evidence for f in found if f.reason is obs.reason), None)


def _agrees(obs: Observation, report: ChainReport, verdict: Any) -> bool:
    """Whether the path verdict tells the story of this row's reason: always for a reason
    the graph decided; for the client's own precise reason only when the graph names the
    same cause (else the graph would explain a different failure)."""
    if obs.reason_source is not ReasonSource.CLIENT or verdict is None:
        return True
    from tlsmatrix.explain.refine import chain_reason

    return chain_reason(report, verdict)[0] is obs.reason


_PATH_REASONS = frozenset(
    {Reason.INCOMPLETE_CHAIN, Reason.UNTRUSTED_ROOT, Reason.UNKNOWN_ISSUER, Reason.SELF_SIGNED}
)


def _aia_clause(
    obs: Observation, evidence: Evidence, info: ClientInfo | None, report: ChainReport
) -> str:
    leaf = report.leaf
    if info is None or not info.fetches_aia:
        return "the client does not fetch intermediates via AIA"
    if leaf is None or not leaf.aia_ca_issuers:
        return "the leaf names no AIA caIssuers URL to fetch it from"
    fetched = aia_fetches(evidence, obs, info, report)
    if fetched:
        e = fetched[0]
        outcome = f"status {e.status}" if e.status is not None else "no answer"
        return f"its AIA download of {leaf.aia_ca_issuers[0]} failed ({outcome} in the AIA log)"
    return f"its AIA download of {leaf.aia_ca_issuers[0]} did not succeed"


def _library(info: ClientInfo | None) -> str:
    """'OpenSSL 3.0.19': the library's name with its version (a version alone, as some
    adapters report it, says nothing)."""
    if info is None:
        return "this client"
    name, version = info.tls_library, info.tls_library_version
    if name and version:
        return version if version.lower().startswith(name.lower()) else f"{name} {version}"
    return name or version or "its TLS library"


def _top_subject(report: ChainReport) -> str | None:
    if report.path:
        return report.certificates[report.path[-1]].subject
    return report.leaf.subject if report.leaf else None


def explain_divergence(divergence: Divergence, results: Sequence[Observation]) -> str:
    """Why the groups differ, from their rows' explanations; 'unexplained' stays visible."""
    involved = {c for _, clients in divergence.groups for c in clients}
    rows = [o for o in results if o.target == divergence.target and o.client in involved]
    text = " ".join(f"{', '.join(clients)}: {why}" for clients, why in grouped(rows))
    if UNEXPLAINED in text:
        return f"Not fully explained by the evidence. {text}"
    return text


def fix_advice(report: ChainReport | None) -> str:
    """What to change on the server, when the chain itself is the problem."""
    if report is None:
        return ""
    codes = report.issue_codes
    advice = []
    if INCOMPLETE in codes:
        advice.append(_serve_advice(report))
    if "anchor_aki_mismatch" in codes:
        advice.append(
            "reissue the root without an authorityKeyIdentifier (or with its own key's), or "
            "have clients trust it as a partial-chain anchor; serving it does not help"
        )
    if "wrong_order" in codes:
        advice.append("send the chain in order: leaf, then each issuer")
    if "contains_anchor" in codes:
        advice.append("stop sending the root (clients must have it already)")
    if EXPIRED_IN_CHAIN in codes or NOT_YET_VALID_IN_CHAIN in codes:
        advice.append("replace the expired or not-yet-valid certificate")
    if HOSTNAME_MISMATCH in codes:
        advice.append("use a certificate that names this host")
    if WEAK_KEY in codes or WEAK_SIGNATURE in codes:
        advice.append("reissue with a 2048-bit+ RSA or EC key and a SHA-256 signature")
    advice += [text for code, text in _RULE_ADVICE.items() if code in codes]
    return ("Fix: " + "; ".join(advice) + ".") if advice else ""


_RULE_ADVICE = {
    "bad_signature": "reissue the certificate whose signature does not verify with its "
    "issuer's key (or serve the issuer that really signed it)",
    "malformed_certificate": "reissue the certificate with well-formed extensions",
    "not_a_ca": "issue from a CA certificate (basicConstraints CA:TRUE)",
    "path_length": "shorten the chain or reissue the CA with a larger pathLenConstraint",
    "name_constraints": "reissue under a CA whose name constraints allow these names",
    "critical_extension": "reissue without the unhandled critical extension",
    "wrong_usage": "reissue with the key usages a TLS server chain needs",
}


def _serve_advice(report: ChainReport) -> str:
    """Which intermediates to add and where, in serving order (every missing one)."""
    missing = report.missing
    if missing is None:
        return (
            f"serve the intermediate '{short_name(report.missing_issuer)}' after the "
            "leaf (full chain; `tlsmatrix fix-chain` builds it)"
        )
    names = ", then ".join(f"'{short_name(n)}'" for n in missing.names)
    noun = "intermediate" if len(missing.names) == 1 else "intermediates"
    leaf = report.leaf
    after = (
        "the leaf" if leaf and missing.after == leaf.subject else f"'{short_name(missing.after)}'"
    )
    where = f"after {after}"
    if missing.before is not None:
        where = f"between {after} and '{short_name(missing.before)}'"
    how = (
        "full chain; `tlsmatrix fix-chain` builds it"
        if missing.supplied
        else "get it from your CA: no store or AIA URL tlsmatrix can see supplies it"
    )
    return f"serve the {noun} {names} {where} ({how})"


def explain_results(
    results: Sequence[Observation], divergences: Sequence[Divergence], evidence: Evidence
) -> tuple[tuple[Observation, ...], tuple[Divergence, ...]]:
    """Every row and every divergence with its explanation filled in."""
    explained = tuple(replace(o, explanation=explain_row(o, evidence)) for o in results)
    divs = tuple(replace(d, explanation=explain_divergence(d, explained)) for d in divergences)
    return explained, divs
