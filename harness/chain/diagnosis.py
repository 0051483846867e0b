"""From candidate paths to causes: what the server's chain lacks, and why one client could
or could not build a path.

:func:`build_graph` puts the sent certificates, every trust store known to the run and
the issuers tlsmatrix itself downloads from AIA URLs into one pool and builds every path
from the leaf. :meth:`ChainGraph.sent_finding` says whether the chain *as sent* is
complete, lacks an intermediate (and which, and who supplies it) or cannot be judged
(its top's issuer is nowhere). :meth:`ChainGraph.verdict_for` judges the paths for one
client: its store, its anchor rule (``partial_chain``) and whether it fetches via AIA.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from tlsmatrix.chain.aia import AIAFetch, AIAFetcher, TargetFetcher
from tlsmatrix.chain.paths import (
    AIA_PREFIX,
    ROOT,
    SENT,
    CandidatePath,
    CertPool,
    PoolCert,
    aia_source,
    build_paths,
    store_source,
    unresolved_aia_urls,
)

AIA_ROUNDS = 4  # a downloaded issuer may itself name the next one

# Per-client verdict kinds.
VERIFIED = "verified"  # a path reaches an anchor this client takes
MISSING_LINK = "missing_link"  # an intermediate the client has no way to get
INTERMEDIATE_REFUSED = "intermediate_anchor_refused"  # in its store, but not an anchor for it
UNTRUSTED_ROOT = "untrusted_root"  # ends at a self-signed root its store lacks
UNKNOWN_ISSUER = "unknown_issuer"  # an issuer nobody supplies: intermediate or root, unknown
SELF_SIGNED = "self_signed"  # the leaf is its own issuer and not trusted

_PREFERENCE = (
    VERIFIED,
    MISSING_LINK,
    INTERMEDIATE_REFUSED,
    UNTRUSTED_ROOT,
    UNKNOWN_ISSUER,
    SELF_SIGNED,
)

# Chain-as-sent statuses.
COMPLETE = "complete"
INCOMPLETE = "incomplete"
UNKNOWN = "unknown"
LEAF_SELF_SIGNED = "self_signed"


@dataclass(frozen=True)
class ClientView:
    """What decides a path for one client. ``store`` is the store path it trusts, None
    when its store cannot be read (then only sent and downloaded certificates count)."""

    store: str | None
    partial_chain: bool = False
    fetches_aia: bool = False


@dataclass(frozen=True)
class PathVerdict:
    """One client's verdict on one path; ``at`` is the certificate it turns on: the anchor
    (verified), the missing intermediate, the store intermediate it would not anchor at,
    the untrusted root, or the top whose issuer is unknown."""

    kind: str
    path: CandidatePath
    at: PoolCert
    aia_used: tuple[str, ...] = ()  # URLs of downloaded links the path needs

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "at": self.at.subject,
            "path": [link.subject for link in self.path.links],
            "aia_used": list(self.aia_used),
        }


def judge(path: CandidatePath, view: ClientView) -> PathVerdict:
    """Whether ``view``'s client can build ``path``, and if not, why."""
    store = store_source(view.store) if view.store else None
    refused: PoolCert | None = None
    aia_used: list[str] = []
    for i, link in enumerate(path.links):
        trusted = store is not None and store in link.sources
        if i > 0 and not (link.sent or trusted):
            fetched = link.aia_urls_fetched()
            if view.fetches_aia and fetched:
                aia_used.append(fetched[0])
            elif link.self_signed:
                return PathVerdict(
                    INTERMEDIATE_REFUSED if refused else UNTRUSTED_ROOT, path, refused or link
                )
            else:
                return PathVerdict(MISSING_LINK, path, link)
        if trusted:
            if link.self_signed or view.partial_chain:
                return PathVerdict(VERIFIED, path, link, tuple(aia_used))
            refused = refused or link
    top = path.top
    if refused is not None:
        return PathVerdict(INTERMEDIATE_REFUSED, path, refused)
    if path.ends == ROOT:
        return PathVerdict(SELF_SIGNED if len(path.links) == 1 else UNTRUSTED_ROOT, path, top)
    return PathVerdict(UNKNOWN_ISSUER, path, top)


def best_verdict(paths: Sequence[CandidatePath], view: ClientView) -> PathVerdict | None:
    """The most favourable verdict over all paths (a client that can build any path
    should accept); among failures, the most specific cause."""
    verdicts = [judge(p, view) for p in paths]
    if not verdicts:
        return None
    return min(
        verdicts,
        key=lambda v: (
            _PREFERENCE.index(v.kind),
            not beyond_is_trusted(v, view),  # a gap before this client's own anchor first
            len(v.aia_used),
            len(v.path.links),
        ),
    )


def beyond_is_trusted(verdict: PathVerdict, view: ClientView) -> bool:
    """Whether the path, past the certificate the verdict turns on, reaches an anchor this
    client takes (so that certificate is the only thing in the way)."""
    if view.store is None:
        return False
    store = store_source(view.store)
    links = verdict.path.links
    return any(
        store in link.sources and (link.self_signed or view.partial_chain)
        for link in links[links.index(verdict.at) + 1 :]
    )


@dataclass(frozen=True)
class SentFinding:
    """The chain as the server sent it. ``missing`` is the first intermediate not sent
    (incomplete); ``path`` the path that decided it; ``missing_issuer`` the issuer name
    nobody supplies (unknown)."""

    status: str
    path: CandidatePath | None = None
    missing: PoolCert | None = None
    missing_issuer: str | None = None

    @property
    def anchor(self) -> PoolCert | None:
        return self.path.top if self.path is not None and _ends_at_anchor(self.path) else None

    @property
    def gaps(self) -> tuple[PoolCert, ...]:
        """Every intermediate on ``path`` the server does not send, in path order (the
        order to serve them in): not only the first one."""
        if self.path is None or self.status != INCOMPLETE:
            return ()
        return tuple(c for c in self.path.links[1:] if _gap(c))

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "missing": self.missing.to_dict() if self.missing else None,
            "missing_issuer": self.missing_issuer,
            "anchor": self.anchor.subject if self.anchor else None,
        }


def _gap(link: PoolCert) -> bool:
    """A certificate the server should send but does not. Never one that signs itself,
    even when its authorityKeyIdentifier keeps it from counting as self-signed: serving
    an anchor adds nothing."""
    return not link.sent and not link.signs_itself


def _ends_at_anchor(path: CandidatePath) -> bool:
    """The path ends at a certificate that signs itself: a root, or one whose
    authorityKeyIdentifier names another key (its issuer is then searched for in vain)."""
    return path.top.signs_itself


@dataclass(frozen=True)
class ChainGraph:
    """Every path from the leaf, over what was sent, the stores and AIA downloads."""

    leaf: PoolCert | None
    paths: tuple[CandidatePath, ...]
    stores: tuple[str, ...] = ()
    store_errors: tuple[tuple[str, str], ...] = ()
    fetches: tuple[AIAFetch, ...] = ()
    store_forms: tuple[tuple[str, str], ...] = field(default=())
    # Paths upwards from the CA certificates the server sent that no path from the leaf
    # reaches: the upper half of a chain whose middle is missing.
    orphans: tuple[CandidatePath, ...] = field(default=())
    # Every certificate the paths were built over (the rule checks look for an issuer
    # whose signature failed, which no path contains).
    pool: tuple[PoolCert, ...] = field(default=(), repr=False, compare=False)

    def verdict_for(self, view: ClientView) -> PathVerdict | None:
        return best_verdict(self.paths, self._readable(view))

    def _readable(self, view: ClientView) -> ClientView:
        if view.store is not None and view.store not in self.stores:
            return ClientView(None, view.partial_chain, view.fetches_aia)
        return view

    def sent_above_gap(self, view: ClientView) -> PathVerdict | None:
        """A sent CA certificate, unreachable from the leaf, whose own path this client
        can verify: evidence that what is missing is an intermediate between the leaf's
        path and that certificate, not an unknown root. None when there is none."""
        view = self._readable(view)
        for path in self.orphans:
            verdict = judge(path, view)
            if verdict.kind == VERIFIED:
                return verdict
        return None

    def store_readable(self, path: str | None) -> bool:
        return path is not None and path in self.stores

    def sent_finding(self) -> SentFinding:
        if self.leaf is None or not self.paths:
            return SentFinding(UNKNOWN)
        if self.leaf.self_signed:
            return SentFinding(LEAF_SELF_SIGNED, self.paths[0])
        incomplete: list[tuple[CandidatePath, PoolCert]] = []
        unknown: CandidatePath | None = None
        for path in self.paths:
            gap = next((c for c in path.links[1:] if _gap(c)), None)
            if gap is not None:
                incomplete.append((path, gap))
            elif _ends_at_anchor(path):
                return SentFinding(COMPLETE, path)
            elif unknown is None:
                unknown = path
        if incomplete:
            # Prefer a gap on a path that reaches a root: that is the chain to serve.
            path, gap = min(
                incomplete, key=lambda pg: (not _ends_at_anchor(pg[0]), len(pg[0].links))
            )
            return SentFinding(INCOMPLETE, path, gap)
        assert unknown is not None
        return SentFinding(UNKNOWN, unknown, missing_issuer=unknown.top.issuer)

    def to_dict(self) -> dict[str, Any]:
        return {
            "paths": [p.to_dict() for p in self.paths],
            "stores": list(self.stores),
            "store_errors": {k: v for k, v in self.store_errors},
            "aia_fetches": [f.to_dict() for f in self.fetches],
            "sent": self.sent_finding().to_dict(),
            "rule_findings": [f.to_dict() for f in self.rule_findings()],
        }

    def rule_findings(self) -> tuple[Any, ...]:
        """The certificate rules the chain breaks (:mod:`tlsmatrix.chain.rules`), on the
        path that decided the chain as sent, else on the first path that breaks any."""
        from tlsmatrix.chain.rules import path_findings

        return path_findings(self, self.sent_finding().path) if self.paths else ()


@dataclass(frozen=True)
class LoadedStores:
    """Trust stores read once for a whole run: their certificates as path candidates,
    and which stores loaded (in which form) or failed."""

    pool: CertPool = field(repr=False, compare=False)
    loaded: tuple[str, ...] = ()
    errors: tuple[tuple[str, str], ...] = ()
    forms: tuple[tuple[str, str], ...] = ()


def load_stores(stores: Sequence[str]) -> LoadedStores:
    """Read every store (PEM files or directories, Java keystores) once; a store that
    cannot be read is recorded, not raised."""
    from tlsmatrix.trust.bundle import TrustBundle, TrustBundleError

    pool = CertPool()
    loaded: list[str] = []
    errors: list[tuple[str, str]] = []
    forms: list[tuple[str, str]] = []
    for path in dict.fromkeys(stores):
        try:
            bundle = TrustBundle.load(path)
        except TrustBundleError as exc:
            errors.append((path, str(exc)))
            continue
        pool.add_candidates(bundle.certificates, store_source(path))
        loaded.append(path)
        forms.append((path, bundle.form))
    return LoadedStores(pool, tuple(loaded), tuple(errors), tuple(forms))


def build_graph(
    sent: Sequence[bytes],
    stores: Sequence[str] | LoadedStores = (),
    fetcher: AIAFetcher | TargetFetcher | None = None,
) -> ChainGraph:
    """The graph for one server: ``sent`` (DER, leaf first), the trust ``stores`` (paths,
    or stores a run loaded once with :func:`load_stores`) and, with a ``fetcher``, the
    issuers that the AIA URLs on the paths serve (within one target's bounds of a run's
    fetcher). Never raises for anything in the certificates."""
    if isinstance(fetcher, AIAFetcher):
        fetcher = fetcher.for_target()
    base = stores if isinstance(stores, LoadedStores) else load_stores(stores)
    pool = base.pool.copy()
    loaded, errors, forms = base.loaded, base.errors, base.forms
    leaf: PoolCert | None = None
    for i, der in enumerate(sent):
        try:
            cert = x509.load_der_x509_certificate(bytes(der))
        except Exception:  # noqa: BLE001 - the analysis reports unparseable certificates
            continue
        entry = pool.add(cert, SENT)
        if i == 0:
            leaf = entry
    if leaf is None:
        return ChainGraph(None, (), loaded, errors, (), forms)
    leaf = pool.get(leaf.sha256) or leaf
    paths = build_paths(leaf, pool)
    fetches: list[AIAFetch] = []
    if fetcher is not None:
        tried: set[str] = set()
        for _ in range(AIA_ROUNDS):
            urls = [u for u in unresolved_aia_urls(paths) if u not in tried]
            if not urls:
                break
            grew = False
            for url in urls:
                tried.add(url)
                fetched = fetcher.fetch(url)
                fetches.append(fetched)
                for der in fetched.certificates:
                    try:
                        cert = x509.load_der_x509_certificate(der)
                    except ValueError:
                        continue
                    before = len(pool)
                    entry = pool.add(cert, aia_source(url))
                    grew = grew or (entry is not None and len(pool) > before)
            if not grew:
                break
            paths = build_paths(pool.get(leaf.sha256) or leaf, pool)
        paths = build_paths(pool.get(leaf.sha256) or leaf, pool)
    reached = {link.sha256 for path in paths for link in path.links}
    orphans = tuple(
        path
        for entry in list(pool)  # building paths may read more store candidates
        if entry.sent and entry.is_ca and entry.sha256 not in reached
        for path in build_paths(entry, pool)
    )
    return ChainGraph(leaf, paths, loaded, errors, tuple(fetches), forms, orphans, tuple(pool))


def supplied_by(cert: PoolCert) -> str:
    """Who, other than the server, holds ``cert``: 'AIA (url)', 'the store X', or 'nothing
    tlsmatrix can see'."""
    parts = [f"its AIA URL {u}" for u in cert.aia_urls_fetched()]
    parts += [f"the store {s}" for s in cert.stores()]
    return ", ".join(parts) if parts else "nothing tlsmatrix can see"


__all__ = [
    "AIA_PREFIX",
    "COMPLETE",
    "ChainGraph",
    "ClientView",
    "INCOMPLETE",
    "INTERMEDIATE_REFUSED",
    "LEAF_SELF_SIGNED",
    "LoadedStores",
    "MISSING_LINK",
    "PathVerdict",
    "SELF_SIGNED",
    "SentFinding",
    "UNKNOWN",
    "UNKNOWN_ISSUER",
    "UNTRUSTED_ROOT",
    "VERIFIED",
    "best_verdict",
    "beyond_is_trusted",
    "build_graph",
    "judge",
    "load_stores",
    "supplied_by",
]
