"""The file lints of ``preflight``: what is wrong with the files, each problem one line
naming the file and the fix.

The chain itself is read by :func:`tlsmatrix.chain.analysis.analyse_chain` (the same
analysis ``run`` uses on a live server); this module adds what only the files can tell:
which field holds what, and where the key belongs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from tlsmatrix._attrs import pick
from tlsmatrix.chain.analysis import (
    CONTAINS_ANCHOR,
    EXTRA_CERTS,
    WEAK_KEY,
    WEAK_SIGNATURE,
    analyse_chain,
    leaf_matches_hostname,
    signature_verifies,
)
from tlsmatrix.explain.explanations import short_name
from tlsmatrix.preflight.inputs import FIELDS, Material
from tlsmatrix.trust.bundle import TrustBundle

ERROR, WARNING = "error", "warning"
EXPIRY_WARNING_DAYS = 30
_REISSUE = "reissue it with a 2048-bit+ RSA or a P-256 key, signed with SHA-256"


@dataclass(frozen=True)
class LintIssue:
    """One problem with the files: ``code`` is stable, ``severity`` is ``error`` (a client
    will reject, or the upload is wrong) or ``warning`` (works, but should change)."""

    code: str
    file: str
    problem: str
    fix: str
    severity: str = ERROR

    def line(self) -> str:
        return f"{self.severity}: {self.file}: {self.problem}: {self.fix}"

    def to_dict(self) -> dict[str, str]:
        return pick(self, "code", "severity", "file", "problem", "fix")


def name_of(cert: x509.Certificate) -> str:
    return short_name(cert.subject.rfc4514_string())


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.DER)


def _self_signed(cert: x509.Certificate) -> bool:
    """Issued by itself (the signature checked, SHA-1 roots included)."""
    return cert.issuer == cert.subject and signature_verifies(cert, cert) is not False


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except (x509.ExtensionNotFound, x509.DuplicateExtension, ValueError):
        return False


def leaf_first(material: Material) -> tuple[x509.Certificate, ...]:
    """The certificates as the user meant them: the key's certificate, then the others
    in the order given (without copies of the leaf)."""
    leaf = material.served[material.key_cert]
    rest = tuple(c for c in material.served if _der(c) != _der(leaf))
    return (leaf, *rest)


def lint(
    material: Material,
    names: Sequence[str],
    roots: TrustBundle | None,
    now: datetime | None = None,
) -> list[LintIssue]:
    """Every problem with ``material``, errors first. ``roots`` is the trust store a
    missing intermediate is looked up in (None: not looked up)."""
    now = now or datetime.now(UTC)
    issues = _placement(material)
    ordered = leaf_first(material)
    report = analyse_chain([_der(c) for c in ordered], None, now)
    issues += _order(material, ordered, report.path)
    issues += _missing(material, ordered, report.path, roots)
    issues += _validity(material, ordered, now)
    issues += _names(material, ordered[0], names)
    for issue in report.issues:
        cert = ordered[issue.index] if issue.index is not None else ordered[0]
        where = _origin(material, cert)
        if issue.code in (WEAK_KEY, WEAK_SIGNATURE):
            problem = issue.message.rstrip(".").split(";")[0]
            issues.append(LintIssue(issue.code, where, problem, _REISSUE))
        elif issue.code == CONTAINS_ANCHOR:
            issues.append(
                LintIssue(
                    "root_in_chain",
                    where,
                    f"the chain includes the root '{name_of(cert)}'",
                    "remove it: clients must already trust it, and those that do not "
                    "report an untrusted root",
                    WARNING,
                )
            )
        elif issue.code == EXTRA_CERTS and issue.index is not None:
            issues.append(
                LintIssue(
                    "unrelated_certificate",
                    where,
                    f"'{name_of(cert)}' is not on the path from the leaf",
                    "remove it",
                    WARNING,
                )
            )
    return sorted(issues, key=lambda i: i.severity != ERROR)


def _origin(material: Material, cert: x509.Certificate) -> str:
    der = _der(cert)
    if any(_der(c) == der for c in material.body):
        return material.body_file
    return material.chain_file or material.body_file


def _chain_label(material: Material) -> str:
    if material.chain_file is None:
        return f"{material.body_file} (no --chain given)"
    return material.chain_file


def _placement(material: Material) -> list[LintIssue]:
    """Which field holds the leaf: the field swap of a cloud import, a leaf that is not
    first, more than the leaf in the body, the leaf again in the chain."""
    body, chain, k = material.body, material.chain, material.key_cert
    leaf = material.served[k]
    issues: list[LintIssue] = []
    if material.layout != FIELDS:
        if k != 0:
            issues.append(
                LintIssue(
                    "leaf_not_first",
                    material.body_file,
                    f"starts with '{name_of(material.served[0])}', not with the leaf "
                    f"'{name_of(leaf)}' (the certificate of {material.key_file})",
                    "put the leaf first, then its issuer, then that one's issuer",
                )
            )
        return issues
    if k >= len(body):
        if _is_ca(body[0]):
            issues.append(
                LintIssue(
                    "swapped_fields",
                    f"{material.body_file}, {material.chain_file}",
                    f"the certificate body holds '{name_of(body[0])}', and the chain holds "
                    "the leaf",
                    "swap them",
                )
            )
        else:
            issues.append(
                LintIssue(
                    "leaf_in_chain",
                    material.body_file,
                    f"the certificate body holds '{name_of(body[0])}', but the key belongs "
                    f"to '{name_of(leaf)}' in the chain",
                    f"put '{name_of(leaf)}' in the certificate body",
                )
            )
        return issues
    if len(body) > 1:
        others = len(body) - 1
        issues.append(
            LintIssue(
                "body_holds_chain",
                material.body_file,
                f"the certificate body holds {len(body)} certificates",
                f"keep only the leaf '{name_of(leaf)}' there and move the other {others} "
                "into the certificate chain",
            )
        )
    if any(_der(c) == _der(leaf) for c in chain):
        issues.append(
            LintIssue(
                "leaf_in_chain",
                material.chain_file or material.body_file,
                f"the chain holds the leaf '{name_of(leaf)}' again",
                "remove it: the chain takes only the intermediates",
                WARNING,
            )
        )
    return issues


def _order(
    material: Material, ordered: Sequence[x509.Certificate], path: Sequence[int]
) -> list[LintIssue]:
    if list(path) == sorted(path):
        return []
    wanted = " -> ".join(f"'{name_of(ordered[i])}'" for i in path[1:])
    return [
        LintIssue(
            "chain_out_of_order",
            _chain_label(material),
            "the chain is out of order",
            f"order it from the leaf's issuer up: {wanted}",
        )
    ]


def _missing(
    material: Material,
    ordered: Sequence[x509.Certificate],
    path: Sequence[int],
    roots: TrustBundle | None,
) -> list[LintIssue]:
    """An intermediate the files lack: named, with where to get it (AIA URL, trust store)."""
    top, found = _open_end(ordered, path, roots)
    if top is None:
        return []
    issuer = short_name(top.issuer.rfc4514_string())
    urls = _ca_issuers(top)
    store = roots.source if roots is not None else "the trust store"
    if found is not None:
        where = f"{store} holds it, as a store that cached it does; most clients' stores do not"
    elif urls:
        where = f"its AIA URL {urls[0]} says where it is published (not downloaded); not in {store}"
    else:
        where = f"not in {store}, and '{name_of(top)}' names no AIA URL: get it from your CA"
    if found is None and not urls and _is_ca(top):
        return [
            LintIssue(
                "unknown_issuer",
                _origin(material, top),
                f"the chain ends at '{name_of(top)}', whose issuer '{issuer}' is not in {store}",
                f"if '{issuer}' is an intermediate, add it to the chain; if it is a root, "
                "clients without it will reject",
                WARNING,
            )
        ]
    return [
        LintIssue(
            "missing_intermediate",
            _chain_label(material),
            f"the intermediate '{issuer}' that issued '{name_of(top)}' is missing ({where})",
            f"add '{issuer}' to the certificate chain, after '{name_of(top)}'",
        )
    ]


def _open_end(
    ordered: Sequence[x509.Certificate], path: Sequence[int], roots: TrustBundle | None
) -> tuple[x509.Certificate | None, x509.Certificate | None]:
    """The certificate where the path through the files stops without reaching a root of
    ``roots`` (None when it does reach one), and the issuer ``roots`` holds for it."""
    if not path or _self_signed(ordered[path[-1]]):
        return None, None
    top = ordered[path[-1]]
    found = roots.find_issuer(top) if roots is not None else None
    if found is not None and _self_signed(found):
        return None, None  # the path ends at a root of the store: complete
    return top, found


def aia_needed(material: Material, roots: TrustBundle | None) -> list[str]:
    """The AIA caIssuers URLs a client must download from to complete the path, when the
    files and ``roots`` leave it open; empty when they do not."""
    ordered = leaf_first(material)
    report = analyse_chain([_der(c) for c in ordered], None)
    top, found = _open_end(ordered, report.path, roots)
    return _ca_issuers(top) if top is not None and found is None else []


def _ca_issuers(cert: x509.Certificate) -> list[str]:
    from tlsmatrix.chain.certfacts import _CA_ISSUERS, _aia

    try:
        return list(_aia(cert.extensions, _CA_ISSUERS))
    except ValueError:
        return []


def _validity(
    material: Material, ordered: Sequence[x509.Certificate], now: datetime
) -> list[LintIssue]:
    issues = []
    for i, cert in enumerate(ordered):
        what = "the leaf" if i == 0 else f"'{name_of(cert)}'"
        renew = "renew it" if i == 0 else "replace it with the current one from your CA"
        where = _origin(material, cert)
        start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
        if now > end:
            issues.append(
                LintIssue("expired", where, f"{what} expired on {end:%Y-%m-%d %H:%M}Z", renew)
            )
        elif now < start:
            issues.append(
                LintIssue(
                    "not_yet_valid",
                    where,
                    f"{what} is not valid before {start:%Y-%m-%d %H:%M}Z",
                    "deploy it after that, or check the issuing machine's clock",
                )
            )
        elif end - now < timedelta(days=EXPIRY_WARNING_DAYS):
            days = (end - now).days
            issues.append(
                LintIssue(
                    "expires_soon",
                    where,
                    f"{what} expires in {days} day{'s' * (days != 1)} ({end:%Y-%m-%d}Z)",
                    f"{renew} before then",
                    WARNING,
                )
            )
    return issues


def _names(material: Material, leaf: x509.Certificate, names: Sequence[str]) -> list[LintIssue]:
    issues = []
    for name in names:
        matched, why = leaf_matches_hostname(leaf, name)
        if not matched:
            issues.append(
                LintIssue(
                    "name_not_covered",
                    _origin(material, leaf),
                    f"the leaf does not cover '{name}': {why}",
                    f"reissue it with '{name}' in its subjectAltName, or check --name",
                )
            )
    return issues


def leaf_names(leaf: x509.Certificate) -> list[str]:
    """The names to check when no --name is given: the leaf's DNS names (a wildcard as
    one concrete name under it), else its IP addresses."""
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, x509.DuplicateExtension, ValueError):
        return []
    names = [
        "preflight" + n[1:] if n.startswith("*.") else n
        for n in san.get_values_for_type(x509.DNSName)
    ]
    names = [n for n in names if "*" not in n]
    if not names:
        names = [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    return list(dict.fromkeys(names))
