"""The data a chain analysis produces: each sent certificate described, the issues of
the list as a whole, and the path from the leaf. Plain frozen dataclasses, JSON-ready."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# The issue codes, stable for JSON and the explainer.
INCOMPLETE = "incomplete"
WRONG_ORDER = "wrong_order"
CONTAINS_ANCHOR = "contains_anchor"
EXTRA_CERTS = "extra_certs"
EXPIRED_IN_CHAIN = "expired_in_chain"
NOT_YET_VALID_IN_CHAIN = "not_yet_valid_in_chain"
HOSTNAME_MISMATCH = "hostname_mismatch"
WEAK_KEY = "weak_key"
WEAK_SIGNATURE = "weak_signature"
UNPARSEABLE = "unparseable"
# The issuer at the top of the sent path is in no store and no AIA download: a missing
# intermediate and an unknown root cannot be told apart (set by the path diagnosis only).
UNKNOWN_ISSUER = "unknown_issuer"
# The anchor the path ends at signs itself, but its authorityKeyIdentifier names another
# key: verifiers that match key identifiers take it for an intermediate (path diagnosis).
ANCHOR_AKI_MISMATCH = "anchor_aki_mismatch"
# Certificate rules (tlsmatrix.chain.rules), named by their reason.
RULE_CODES = frozenset(
    {
        "bad_signature",
        "malformed_certificate",
        "not_a_ca",
        "path_length",
        "name_constraints",
        "critical_extension",
        "wrong_usage",
    }
)

ISSUE_CODES = frozenset(
    {
        INCOMPLETE,
        WRONG_ORDER,
        CONTAINS_ANCHOR,
        EXTRA_CERTS,
        EXPIRED_IN_CHAIN,
        NOT_YET_VALID_IN_CHAIN,
        HOSTNAME_MISMATCH,
        WEAK_KEY,
        WEAK_SIGNATURE,
        UNPARSEABLE,
        UNKNOWN_ISSUER,
        ANCHOR_AKI_MISMATCH,
        *RULE_CODES,
    }
)


@dataclass(frozen=True)
class CertInfo:
    """One sent certificate, described. Times are ISO 8601 UTC; ``serial`` is hex.

    ``error`` is set when the certificate (or part of it) could not be decoded; the
    fields that could not be read are then empty/None. ``sha256`` is always the
    fingerprint of the bytes as sent."""

    index: int
    sha256: str
    subject: str = ""
    issuer: str = ""
    common_name: str | None = None
    sans: tuple[str, ...] = ()
    not_before: str | None = None
    not_after: str | None = None
    serial: str | None = None
    key_type: str | None = None
    key_bits: int | None = None
    signature_algorithm: str | None = None
    signature_hash: str | None = None
    is_ca: bool = False
    self_signed: bool = False
    aia_ca_issuers: tuple[str, ...] = ()
    aia_ocsp: tuple[str, ...] = ()
    crl_urls: tuple[str, ...] = ()
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for key, value in d.items():
            if isinstance(value, tuple):
                d[key] = list(value)
        return d


@dataclass(frozen=True)
class ChainIssue:
    """One problem with the presented list: a stable ``code`` and a plain-English
    ``message``. ``index`` points at the certificate concerned, when there is one."""

    code: str
    message: str
    index: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "index": self.index}


@dataclass(frozen=True)
class MissingLinks:
    """The intermediates the server should add, as subjects in the order to serve them,
    and where they go: after the sent certificate ``after`` and, for a gap in the middle,
    before the sent ``before``. ``supplied`` is False when no store or AIA download holds
    them (the gap is inferred from a sent upper half; only the CA can provide them)."""

    names: tuple[str, ...]
    after: str
    before: str | None = None
    supplied: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "names": list(self.names)}


@dataclass(frozen=True)
class ChainReport:
    """The analysis of one presented certificate list.

    ``path`` lists the indices (into ``certificates``) of the certificates that form the
    path from the leaf, in path order, as far as the sent certificates reach.
    ``expected_anchor`` is the name (RFC 4514) of the issuer the client must supply from
    its store to finish that path (None when it ends in a self-signed certificate): for a
    complete chain that is the root. ``missing_issuer`` is set, to the same name, only when
    the chain is ``incomplete``: the path stops at the leaf, so an intermediate is missing
    and the client must have it in its store or fetch it via AIA. (Whether a CA the path
    ends at is itself issued by a root cannot be told from the chain alone: compare
    ``expected_anchor`` with the client's trust store for that.)

    Once the paths over trust stores and AIA downloads are known
    (:func:`tlsmatrix.chain.inspection.with_paths`), they decide instead: ``missing_issuer``
    names the first intermediate the server does not send, at any depth; a leaf issued
    directly by a root is complete; ``graph`` holds the paths, the stores read and the AIA
    downloads (JSON-ready)."""

    certificates: tuple[CertInfo, ...]
    issues: tuple[ChainIssue, ...]
    path: tuple[int, ...] = ()
    missing_issuer: str | None = None
    expected_anchor: str | None = None
    hostname: str | None = None
    checked_at: str = ""
    graph: dict[str, Any] | None = field(default=None, compare=False)
    missing: MissingLinks | None = None

    @property
    def issue_codes(self) -> frozenset[str]:
        return frozenset(issue.code for issue in self.issues)

    @property
    def leaf(self) -> CertInfo | None:
        return self.certificates[0] if self.certificates else None

    def issues_with(self, code: str) -> tuple[ChainIssue, ...]:
        return tuple(issue for issue in self.issues if issue.code == code)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (lists, strings, numbers, None only)."""
        return {
            "hostname": self.hostname,
            "checked_at": self.checked_at,
            "certificates": [c.to_dict() for c in self.certificates],
            "path": list(self.path),
            "missing_issuer": self.missing_issuer,
            "expected_anchor": self.expected_anchor,
            "missing_chain": self.missing.to_dict() if self.missing else None,
            "issues": [i.to_dict() for i in self.issues],
            **(self.graph or {}),
        }


def path_from_leaf(report: ChainReport) -> tuple[CertInfo, ...]:
    """The sent certificates that form the path from the leaf, in path order."""
    return tuple(report.certificates[i] for i in report.path)
