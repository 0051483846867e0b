"""Path building, the core of the diagnosis: every way the leaf could chain to an anchor.

A :class:`CertPool` holds every certificate that could be an issuer, each tagged with
where it came from: ``sent`` (the server), ``store:<path>`` (a trust store: the bundle a
client was given, or a native store, PEM or Java keystore) and ``aia:<url>`` (downloaded
by tlsmatrix from an AIA caIssuers URL). :func:`build_paths` walks from the leaf over
that pool. A parent is an issuer when its subject equals the child's issuer name, its
subject key identifier matches the child's authority key identifier when both are present,
and its key verifies the child's signature (when the signature cannot be checked, name and
key identifiers decide). Cross-signs are followed as separate paths. Work is bounded:
depth, number of paths and signature checks.

Whether a path is good *for one client* depends on that client: which store it trusts,
whether it takes an intermediate in that store as an anchor (``partial_chain``) and
whether it downloads missing issuers itself. :func:`judge` answers that for one path and
:func:`best_verdict` for all of them.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtensionOID
from tlsmatrix.chain.certfacts import _CA_ISSUERS, _aia, _is_ca, signature_verifies

SENT = "sent"
STORE_PREFIX = "store:"
AIA_PREFIX = "aia:"

MAX_DEPTH = 8
MAX_PATHS = 32
MAX_LINK_CHECKS = 4096
MAX_POOL = 20_000


def store_source(path: str) -> str:
    return STORE_PREFIX + path


def aia_source(url: str) -> str:
    return AIA_PREFIX + url


@dataclass(frozen=True)
class PoolCert:
    """One certificate the path builder may use, and everywhere it was found."""

    cert: x509.Certificate = field(repr=False, compare=False)
    sha256: str
    subject: str
    issuer: str
    self_signed: bool
    is_ca: bool
    aia_urls: tuple[str, ...]
    sources: frozenset[str]
    # Its names match and its own key verifies its signature. Every self-signed one does;
    # one that is not ``self_signed`` has an authorityKeyIdentifier naming another key, so
    # verifiers that match key identifiers (OpenSSL) handle it as an intermediate.
    signs_itself: bool = False

    @property
    def kind(self) -> str:
        """How to name it: "intermediate", or why a self-signed one is handled as one."""
        if self.signs_itself and not self.self_signed:
            return "self-signed certificate (its authorityKeyIdentifier names another key)"
        return "intermediate"

    @property
    def sent(self) -> bool:
        return SENT in self.sources

    def stores(self) -> tuple[str, ...]:
        return tuple(
            sorted(s[len(STORE_PREFIX) :] for s in self.sources if s.startswith(STORE_PREFIX))
        )

    def aia_urls_fetched(self) -> tuple[str, ...]:
        return tuple(sorted(s[len(AIA_PREFIX) :] for s in self.sources if s.startswith(AIA_PREFIX)))

    def to_dict(self) -> dict[str, Any]:
        return {
            "sha256": self.sha256,
            "subject": self.subject,
            "issuer": self.issuer,
            "self_signed": self.self_signed,
            "signs_itself": self.signs_itself,
            "is_ca": self.is_ca,
            "sent": self.sent,
            "stores": list(self.stores()),
            "aia": list(self.aia_urls_fetched()),
        }


class CertPool:
    """Certificates by content, merged across sources, indexed by subject.

    Trust stores are added as *candidates* (:meth:`add_candidates`): indexed by subject
    only, and read in full (key identifiers, self-signature) when a path asks for an
    issuer of that name or a certificate of the same subject is added. A run loads its
    stores into one pool once and each target builds on a :meth:`copy`, so a system store
    of a few hundred roots costs a dictionary per target, not a signature check per root."""

    def __init__(self) -> None:
        self._by_hash: dict[str, PoolCert] = {}
        self._by_subject: dict[x509.Name, list[str]] = {}
        self._candidates: dict[x509.Name, list[tuple[x509.Certificate, str]]] = {}
        self._links: dict[tuple[str, str], bool] = {}
        self.checks = 0

    def copy(self) -> CertPool:
        """A pool with the same certificates and candidates that can grow on its own
        (the link-check budget starts afresh: it bounds one graph's work)."""
        twin = CertPool()
        twin._by_hash = dict(self._by_hash)
        twin._by_subject = {k: list(v) for k, v in self._by_subject.items()}
        twin._candidates = dict(self._candidates)  # lists are replaced, never mutated
        twin._links = dict(self._links)
        return twin

    def add_candidates(self, certs: Iterable[x509.Certificate], source: str) -> None:
        """Index ``certs`` (from ``source``) by subject, to be read when needed."""
        for cert in certs:
            try:
                subject = cert.subject
            except Exception:  # noqa: BLE001 - a certificate we cannot read links to nothing
                continue
            self._candidates[subject] = [*self._candidates.get(subject, ()), (cert, source)]

    def _materialize(self, subject: x509.Name) -> None:
        for cert, source in self._candidates.pop(subject, ()):
            self.add(cert, source)

    def __len__(self) -> int:
        return len(self._by_hash)

    def __iter__(self) -> Any:
        return iter(self._by_hash.values())

    def add(self, cert: x509.Certificate, source: str) -> PoolCert | None:
        """Add ``cert`` as found at ``source``; None when it cannot be indexed. Candidates
        of the same subject are read too, so a sent certificate that a store also holds
        carries both sources."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # old roots with a non-positive serial
            entry = self._add(cert, source)
        if entry is not None and self._candidates:
            self._materialize(entry.cert.subject)
            entry = self._by_hash.get(entry.sha256, entry)
        return entry

    def _add(self, cert: x509.Certificate, source: str) -> PoolCert | None:
        try:
            der = cert.public_bytes(Encoding.DER)
            digest = hashlib.sha256(der).hexdigest()
            known = self._by_hash.get(digest)
            if known is not None:
                merged = _with_source(known, source)
                self._by_hash[digest] = merged
                return merged
            if len(self._by_hash) >= MAX_POOL:
                return None
            subject = cert.subject
            entry = PoolCert(
                cert=cert,
                sha256=digest,
                subject=subject.rfc4514_string(),
                issuer=cert.issuer.rfc4514_string(),
                self_signed=False,
                is_ca=_safe(lambda: _is_ca(cert.extensions), False),
                aia_urls=_safe(lambda: _aia(cert.extensions, _CA_ISSUERS), ()),
                sources=frozenset({source}),
            )
        except Exception:  # noqa: BLE001 - a certificate we cannot read links to nothing
            return None
        self_signed = self._linked(entry, entry)
        signs_itself = self_signed or (
            cert.issuer == subject and _safe(lambda: signature_verifies(cert, cert), False) is True
        )
        entry = replace(entry, self_signed=self_signed, signs_itself=signs_itself)
        self._by_hash[digest] = entry
        self._by_subject.setdefault(subject, []).append(digest)
        return entry

    def add_all(self, certs: Iterable[x509.Certificate], source: str) -> None:
        for cert in certs:
            self.add(cert, source)

    def get(self, sha256: str) -> PoolCert | None:
        return self._by_hash.get(sha256)

    def issuers_of(self, child: PoolCert) -> list[PoolCert]:
        """Every pool certificate that issued ``child`` (name, key identifier, signature),
        sent ones first, then stored, then downloaded."""
        try:
            self._materialize(child.cert.issuer)
            named = self._by_subject.get(child.cert.issuer, [])
        except Exception:  # noqa: BLE001
            return []
        found = [self._by_hash[h] for h in named if h != child.sha256]
        found = [p for p in found if self._linked(child, p)]
        return sorted(found, key=lambda p: (not p.sent, not p.stores(), p.subject, p.sha256))

    def _linked(self, child: PoolCert, parent: PoolCert) -> bool:
        key = (child.sha256, parent.sha256)
        if key not in self._links:
            self._links[key] = self._decide(child.cert, parent.cert)
        return self._links[key]

    def _decide(self, child: x509.Certificate, parent: x509.Certificate) -> bool:
        try:
            if child.issuer != parent.subject:
                return False
        except Exception:  # noqa: BLE001
            return False
        aki, ski = _authority_key_id(child), _subject_key_id(parent)
        if aki is not None and ski is not None and aki != ski:
            return False
        if self.checks >= MAX_LINK_CHECKS:
            return aki is not None and aki == ski
        self.checks += 1
        verified = signature_verifies(child, parent)
        return True if verified is None else verified


def _with_source(entry: PoolCert, source: str) -> PoolCert:
    return entry if source in entry.sources else replace(entry, sources=entry.sources | {source})


def _safe(get: Any, default: Any) -> Any:
    try:
        return get()
    except Exception:  # noqa: BLE001 - malformed extensions read as absent
        return default


def _authority_key_id(cert: x509.Certificate) -> bytes | None:
    try:
        ext = cert.extensions.get_extension_for_oid(ExtensionOID.AUTHORITY_KEY_IDENTIFIER)
        return ext.value.key_identifier  # type: ignore[attr-defined,no-any-return]
    except Exception:  # noqa: BLE001 - absent or malformed
        return None


def _subject_key_id(cert: x509.Certificate) -> bytes | None:
    try:
        ext = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_KEY_IDENTIFIER)
        return ext.value.digest  # type: ignore[attr-defined,no-any-return]
    except Exception:  # noqa: BLE001
        return None


# --- paths ------------------------------------------------------------------------------

ROOT = "root"  # ends at a self-signed certificate
NO_ISSUER = "no_issuer"  # the last certificate's issuer is nowhere in the pool
LOOP = "loop"  # the only issuers left are already on the path
TOO_DEEP = "too_deep"


@dataclass(frozen=True)
class CandidatePath:
    """One chain from the leaf upwards (leaf first) and how it ends."""

    links: tuple[PoolCert, ...]
    ends: str

    @property
    def top(self) -> PoolCert:
        return self.links[-1]

    @property
    def missing_issuer(self) -> str | None:
        """The issuer name nobody supplies, when the path ends for want of it."""
        return self.top.issuer if self.ends in (NO_ISSUER, LOOP) else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "links": [link.to_dict() for link in self.links],
            "ends": self.ends,
            "missing_issuer": self.missing_issuer,
        }


def build_paths(
    leaf: PoolCert, pool: CertPool, max_depth: int = MAX_DEPTH, max_paths: int = MAX_PATHS
) -> tuple[CandidatePath, ...]:
    """Every path from ``leaf`` (depth-first, sent issuers first), bounded."""
    found: list[CandidatePath] = []

    def walk(path: list[PoolCert]) -> None:
        if len(found) >= max_paths:
            return
        top = path[-1]
        if top.self_signed:
            found.append(CandidatePath(tuple(path), ROOT))
            return
        if len(path) >= max_depth:
            found.append(CandidatePath(tuple(path), TOO_DEEP))
            return
        on_path = {p.sha256 for p in path}
        issuers = pool.issuers_of(top)
        fresh = [p for p in issuers if p.sha256 not in on_path]
        if not fresh:
            found.append(CandidatePath(tuple(path), LOOP if issuers else NO_ISSUER))
            return
        for parent in fresh:
            walk([*path, parent])

    walk([leaf])
    return tuple(found)


def unresolved_aia_urls(paths: Sequence[CandidatePath]) -> list[str]:
    """AIA URLs worth downloading: those of each certificate whose issuer is nowhere in
    the pool, or is an intermediate the server did not send (a client that fetches may have
    got it that way). A root that is simply not sent is not fetched: that is normal."""
    urls: list[str] = []
    for path in paths:
        for i, link in enumerate(path.links):
            if link.self_signed:
                continue
            nxt = path.links[i + 1] if i + 1 < len(path.links) else None
            if nxt is None or not (nxt.sent or nxt.self_signed):
                urls.extend(u for u in link.aia_urls if u not in urls)
    return urls
