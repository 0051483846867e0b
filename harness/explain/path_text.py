"""Sentences from the path graph: why one client accepted or rejected, citing what the
graph rests on (the trust store's contents, the AIA downloads, the client's anchor rule).
Used by :mod:`tlsmatrix.explain.explanations` when a graph was built for the target."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tlsmatrix.clients.base import ClientInfo, Observation
from tlsmatrix.explain.names import cert_name, short_name

if TYPE_CHECKING:
    from tlsmatrix.chain.diagnosis import ChainGraph, ClientView, PathVerdict
    from tlsmatrix.chain.paths import PoolCert

UNEXPLAINED = "unexplained"
ANCHOR_RULE_STRICT = (
    "this client does not take an intermediate in its store as an anchor "
    "(OpenSSL default, no X509_V_FLAG_PARTIAL_CHAIN)"
)
ANCHOR_RULE_PARTIAL = "this client takes an intermediate in its store as an anchor (partial chain)"
# A log entry a little outside the probe's window still belongs to it (clock granularity).
WINDOW_SLACK_S = 0.5


def anchor_rule(info: ClientInfo | None) -> str:
    return ANCHOR_RULE_PARTIAL if info is not None and info.partial_chain else ANCHOR_RULE_STRICT


def log_entries_for(
    obs: Observation, info: ClientInfo | None, urls: Sequence[str], log: Sequence[Any]
) -> list[Any]:
    """AIA server log entries this probe made: a path of ``urls``, the client's AIA
    User-Agent (a measured ClientInfo property), inside the probe's time window."""
    from urllib.parse import urlsplit

    agent = info.aia_user_agent if info is not None else None
    if not agent or obs.started_at is None or obs.finished_at is None or not urls:
        return []
    paths = {urlsplit(u).path or "/" for u in urls}
    start, end = obs.started_at - WINDOW_SLACK_S, obs.finished_at + WINDOW_SLACK_S
    return [
        e
        for e in log
        if e.path in paths and agent in (e.user_agent or "") and start <= e.time <= end
    ]


def _when(moment: float) -> str:
    return dt.datetime.fromtimestamp(moment, dt.UTC).strftime("%H:%M:%S")


def own_fetch_text(graph: ChainGraph, url: str) -> str:
    """What tlsmatrix's own download of ``url`` showed."""
    for fetch in graph.fetches:
        if fetch.url == url:
            if fetch.ok:
                return (
                    f"tlsmatrix downloaded it from {url} at {_when(fetch.started_at)} "
                    f"({len(fetch.certificates)} certificate(s))"
                )
            return f"tlsmatrix's download of {url} failed ({fetch.error})"
    return f"tlsmatrix did not download {url}"


def _aia_supply(
    link: PoolCert, obs: Observation, info: ClientInfo | None, graph: ChainGraph, log: Sequence[Any]
) -> str:
    urls = link.aia_urls_fetched()
    entries = log_entries_for(obs, info, urls, log)
    if entries:
        e = entries[0]
        return (
            f"it fetched it via AIA (AIA log: GET {e.path} at {_when(e.time)} with "
            f"User-Agent {e.user_agent}, status {e.status}, during this probe)"
        )
    return f"it fetches missing issuers via AIA, and {own_fetch_text(graph, urls[0])}"


def accept_text(
    obs: Observation,
    info: ClientInfo | None,
    graph: ChainGraph,
    verdict: PathVerdict | None,
    trust: str,
    log: Sequence[Any],
) -> str:
    """Why an acceptance happened, from the path this client could build."""
    from tlsmatrix.chain.diagnosis import INTERMEDIATE_REFUSED, VERIFIED

    if verdict is not None and verdict.kind == INTERMEDIATE_REFUSED:
        # The acceptance itself shows the anchor rule: nothing above the intermediate is
        # available to this client.
        return (
            f"accepted by anchoring at the {verdict.at.kind} '{_n(verdict.at)}' in "
            f"{trust}; the store holds no root for it, so {ANCHOR_RULE_PARTIAL}, which its "
            "recorded policy (partial_chain) does not say."
        )
    if verdict is None or verdict.kind != VERIFIED:
        if verdict is not None and not graph.store_readable(obs.trust.path if obs.trust else None):
            fetched = [
                f"the server does not send '{_n(link)}': "
                + _aia_supply(link, obs, info, graph, log)
                for link in verdict.path.links[1:]
                if not link.sent and link.aia_urls_fetched() and info and info.fetches_aia
            ]
            head = "accepted: " + "; ".join(fetched) + "; " if fetched else "accepted: "
            return f"{head}the chain verified against {trust} (contents not inspectable)."
        what = _verdict_phrase(verdict)
        return f"accepted although {what} over what was sent and {trust}: {UNEXPLAINED}."
    notes: list[str] = []
    links = verdict.path.links
    for link in links[1 : links.index(verdict.at)]:
        if link.sent:
            continue
        missing = f"the server does not send '{_n(link)}': "
        if _in_store(obs, link):
            notes.append(missing + f"{trust} contains it")
        elif link.aia_urls_fetched():
            notes.append(missing + _aia_supply(link, obs, info, graph, log))
    anchor = verdict.at
    if anchor.self_signed:
        notes.append(f"the chain leads to '{_n(anchor)}', which {trust} contains")
    else:
        above = [later for later in links[links.index(anchor) + 1 :] if _in_store(obs, later)]
        if above:
            # The store holds the root too: the intermediate it also holds is what made the
            # difference, whichever of the two this client stopped at.
            if not anchor.sent:
                notes.append(f"the server does not send '{_n(anchor)}': {trust} contains it")
            notes.append(f"the chain leads to '{_n(above[-1])}', which {trust} contains")
        else:
            notes.append(
                f"accepted by anchoring at the {anchor.kind} '{_n(anchor)}' in "
                f"{trust} ({ANCHOR_RULE_PARTIAL}); the store holds no root for it"
            )
    text = "; ".join(notes)
    return (text if text.startswith("accepted") else "accepted: " + text) + "."


def reject_text(
    obs: Observation,
    info: ClientInfo | None,
    graph: ChainGraph,
    verdict: PathVerdict | None,
    trust: str,
) -> str | None:
    """Why a chain-building rejection happened; None when the graph says nothing."""
    from tlsmatrix.chain import diagnosis as d

    if verdict is None:
        return None
    at = verdict.at
    name = _n(at)
    if verdict.kind == d.MISSING_LINK:
        child = verdict.path.links[verdict.path.links.index(at) - 1]
        held = "does not contain it" if graph.store_readable(_store(obs)) else "(not inspectable)"
        how = (
            "the client does not fetch intermediates via AIA"
            if not (info and info.fetches_aia)
            else "its AIA download did not supply it"
        )
        text = (
            f"rejected: the server does not send the intermediate '{name}' (issuer of "
            f"'{_n(child)}'), {trust} {held}, and {how}; "
            f"it is held by {d.supplied_by(at)}"
        )
        return text + _even_with_it(verdict, obs, info, graph) + "."
    if verdict.kind == d.INTERMEDIATE_REFUSED:
        return (
            f"rejected: {trust} holds the {at.kind} '{name}' but no root it chains to, "
            f"and {ANCHOR_RULE_STRICT if not (info and info.partial_chain) else anchor_rule(info)}."
        )
    if verdict.kind == d.UNTRUSTED_ROOT:
        where = "sent by the server" if at.sent else f"held by {d.supplied_by(at)}"
        held = (
            "does not contain" if graph.store_readable(_store(obs)) else "is not known to contain"
        )
        return f"rejected: the chain ends at the root '{name}' ({where}), which {trust} {held}."
    if verdict.kind == d.SELF_SIGNED:
        return f"rejected: the leaf '{name}' is self-signed and not in {trust}."
    if verdict.kind == d.UNKNOWN_ISSUER:
        above = graph.sent_above_gap(_view(obs, info))
        if above is not None:
            return (
                f"rejected: the issuer of '{name}', '{short_name(at.issuer)}', is neither sent "
                f"nor in {trust}; the server does send '{_n(above.path.links[0])}'"
                f", which chains to '{_n(above.at)}' in {trust}, so an "
                "intermediate between them is probably missing (inferred: no store or AIA "
                "download tlsmatrix can see holds it)."
            )
        return (
            f"rejected: the issuer of '{name}', '{short_name(at.issuer)}', is neither sent nor "
            f"in {trust}, and no store or AIA download tlsmatrix can see holds it, so a missing "
            "intermediate cannot be told from an unknown root."
        )
    # VERIFIED: the client could have built a path, yet said "issuer unknown".
    return (
        f"rejected as issuer unknown although a path to '{name}' exists over what was sent "
        f"and {trust}: {UNEXPLAINED}."
    )


def _even_with_it(
    verdict: PathVerdict, obs: Observation, info: ClientInfo | None, graph: ChainGraph
) -> str:
    """The cause behind the first one, when the path would still fail past the missing
    certificate ("...and even with it, 'Root X' is not in this store")."""
    from tlsmatrix.chain import diagnosis as d

    view = d.ClientView(_store(obs), bool(info and info.partial_chain), False)
    if not graph.store_readable(view.store) or d.beyond_is_trusted(verdict, view):
        return ""
    top = verdict.path.top
    if verdict.path.ends == "root":
        return f"; and even with it, '{_n(top)}' is not in this store"
    return (
        f"; and even with it, the issuer of '{_n(top)}', "
        f"'{short_name(top.issuer)}', is in no store tlsmatrix can see"
    )


def _view(obs: Observation, info: ClientInfo | None) -> ClientView:
    from tlsmatrix.explain.refine import client_view

    return client_view(obs, info)


def _store(obs: Observation) -> str | None:
    return obs.trust.path if obs.trust is not None else None


def _in_store(obs: Observation, link: PoolCert) -> bool:
    store = _store(obs)
    return store is not None and store in link.stores()


def _verdict_phrase(verdict: PathVerdict | None) -> str:
    from tlsmatrix.chain import diagnosis as d

    if verdict is None:
        return "no path could be built"
    name = _n(verdict.at)
    return {
        d.MISSING_LINK: f"the intermediate '{name}' is missing",
        d.INTERMEDIATE_REFUSED: f"only the intermediate '{name}' is trusted",
        d.UNTRUSTED_ROOT: f"the chain ends at the untrusted root '{name}'",
        d.UNKNOWN_ISSUER: f"the issuer of '{name}' is nowhere",
        d.SELF_SIGNED: f"the leaf '{name}' is self-signed",
    }.get(verdict.kind, "no path could be built")


def _n(cert: PoolCert) -> str:
    """A path certificate's name for a sentence (never '?': an empty subject is named by
    its fingerprint)."""
    return cert_name(cert.subject, cert.sha256)
