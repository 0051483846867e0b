"""Certificate rules over a built path: what makes a verifier call a chain "invalid".

Path building (:mod:`tlsmatrix.chain.paths`) links certificates by name, key identifier
and signature; it does not apply RFC 5280's other rules. A client that says only
"certificate invalid" (GnuTLS, wget, Chromium) leaves the harness to find which rule the
chain breaks. :func:`check_path` checks one path (leaf first) and returns one
:class:`RuleFinding` per broken rule, most specific first:

- ``bad_signature``: a link whose issuer's key does not verify it (or, for a path that
  stops, a certificate named as its issuer whose key does not verify it);
- ``malformed_certificate``: an extension that cannot be decoded;
- ``not_a_ca``: an issuer without basicConstraints CA:TRUE;
- ``path_length``: an issuer's pathLenConstraint exceeded by the non-self-issued
  intermediates below it (RFC 5280 6.1.4 (l)/(m)). The trust anchor's own constraint is
  applied too: RFC 5280 makes an anchor's constraints optional, but OpenSSL and GnuTLS
  apply a root certificate's basicConstraints, and a finding names the certificate, so a
  reader sees when it is the root's;
- ``name_constraints``: a leaf DNS name (the CN when it has no SAN) or IP address outside
  a permitted subtree or inside an excluded one of any CA on the path;
- ``critical_extension``: a critical extension outside the set RFC 5280 clients process;
- ``wrong_usage``: an issuer whose keyUsage lacks keyCertSign, a leaf extendedKeyUsage
  without serverAuth/anyExtendedKeyUsage, a leaf keyUsage without digitalSignature
  (or keyEncipherment for RSA).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID
from tlsmatrix.chain.certfacts import signature_verifies
from tlsmatrix.clients.base import Reason

if TYPE_CHECKING:
    from tlsmatrix.chain.diagnosis import ChainGraph
    from tlsmatrix.chain.paths import CandidatePath, PoolCert

# Critical extensions an RFC 5280 client is expected to process.
HANDLED_CRITICAL = frozenset(
    {
        ExtensionOID.BASIC_CONSTRAINTS,
        ExtensionOID.KEY_USAGE,
        ExtensionOID.EXTENDED_KEY_USAGE,
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
        ExtensionOID.NAME_CONSTRAINTS,
        ExtensionOID.POLICY_CONSTRAINTS,
        ExtensionOID.INHIBIT_ANY_POLICY,
        ExtensionOID.CERTIFICATE_POLICIES,
    }
)

# Most specific first: the order findings are returned in.
RULE_ORDER = (
    Reason.BAD_SIGNATURE,
    Reason.MALFORMED_CERTIFICATE,
    Reason.NOT_A_CA,
    Reason.PATH_LENGTH,
    Reason.NAME_CONSTRAINTS,
    Reason.CRITICAL_EXTENSION,
    Reason.WRONG_USAGE,
)
RULE_REASONS = frozenset(RULE_ORDER)
# An extendedKeyUsage that allows a TLS server certificate.
_SERVER_USAGES = frozenset(
    {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE}
)


@dataclass(frozen=True)
class RuleFinding:
    """One broken rule: the certificate it is about, the reason and one line of evidence."""

    cert: PoolCert
    reason: Reason
    evidence: str
    on_leaf: bool = False
    # bad_signature: the certificate whose key does not verify ``cert``'s signature.
    issuer: PoolCert | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject": self.cert.subject,
            "reason": self.reason.value,
            "evidence": self.evidence,
        }


def check_path(path: CandidatePath, graph: ChainGraph | None = None) -> tuple[RuleFinding, ...]:
    """Every rule ``path`` breaks, most specific first. With ``graph``, a path that stops
    is also checked for a would-be issuer whose key does not verify its top."""
    links = path.links
    found: list[RuleFinding] = []
    for i, link in enumerate(links):
        exts = _extensions(link)
        if exts is None:
            found.append(
                _f(
                    link,
                    Reason.MALFORMED_CERTIFICATE,
                    _undecodable(link),
                    i == 0,
                )
            )
            continue
        found += _critical(link, exts, i == 0)
        found += _algorithm_mismatch(link, i == 0)
        if i == 0:
            found += _leaf_usage(link, exts)
            continue
        found += _signature(links[i - 1], link, i == 1)
        found += _issuer_rules(link, exts, links[:i])
    if graph is not None and not path.top.self_signed:
        found += bad_issuer_signature(path.top, graph)
    return tuple(sorted(found, key=lambda f: RULE_ORDER.index(f.reason)))


def _f(
    cert: PoolCert,
    reason: Reason,
    evidence: str,
    on_leaf: bool = False,
    issuer: PoolCert | None = None,
) -> RuleFinding:
    return RuleFinding(cert, reason, evidence, on_leaf, issuer)


def _cn(cert: PoolCert) -> str:
    try:
        attrs = cert.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if attrs:
            return str(attrs[0].value)
    except Exception:  # noqa: BLE001
        pass
    return cert.subject or "(empty subject)"


def _undecodable(cert: PoolCert) -> str:
    """Which extension of ``cert`` cannot be decoded, in words."""
    from tlsmatrix.chain.certfacts import undecodable_extensions

    names = undecodable_extensions(cert.cert)
    if not names:
        return f"'{_cn(cert)}' has an extension that cannot be decoded"
    which = " and ".join(names)
    return f"'{_cn(cert)}' has a malformed {which} extension that cannot be decoded"


def _extensions(cert: PoolCert) -> x509.Extensions | None:
    try:
        return cert.cert.extensions
    except Exception:  # noqa: BLE001 - an undecodable extension
        return None


def _get(exts: x509.Extensions, oid: x509.ObjectIdentifier) -> x509.Extension[Any] | None:
    try:
        return exts.get_extension_for_oid(oid)
    except x509.ExtensionNotFound:
        return None


def _algorithm_mismatch(cert: PoolCert, on_leaf: bool) -> list[RuleFinding]:
    from tlsmatrix.chain.certfacts import signature_algorithm_mismatch

    mismatch = signature_algorithm_mismatch(cert.cert)
    if mismatch is None:
        return []
    inside, outside = mismatch
    return [
        _f(
            cert,
            Reason.MALFORMED_CERTIFICATE,
            f"'{_cn(cert)}' names the signature algorithm {inside} inside its signed part and "
            f"{outside} outside it (RFC 5280 requires the two to match)",
            on_leaf,
        )
    ]


def _signature(child: PoolCert, issuer: PoolCert, on_leaf: bool) -> list[RuleFinding]:
    if signature_verifies(child.cert, issuer.cert) is False:
        return [
            _f(
                child,
                Reason.BAD_SIGNATURE,
                f"the signature on '{_cn(child)}' does not verify with the key of '{_cn(issuer)}'",
                on_leaf,
                issuer,
            )
        ]
    return []


def bad_issuer_signature(top: PoolCert, graph: ChainGraph) -> list[RuleFinding]:
    """A certificate named as ``top``'s issuer (and not ruled out by key identifiers)
    whose key does not verify ``top``: the path stopped on a bad signature."""
    from tlsmatrix.chain.paths import _authority_key_id, _subject_key_id

    try:
        issuer_name = top.cert.issuer
    except Exception:  # noqa: BLE001
        return []
    aki = _authority_key_id(top.cert)
    for cand in graph.pool:
        if cand.sha256 == top.sha256 or cand.cert.subject != issuer_name:
            continue
        ski = _subject_key_id(cand.cert)
        if aki is not None and ski is not None and aki != ski:
            continue
        if signature_verifies(top.cert, cand.cert) is False:
            return [
                _f(
                    top,
                    Reason.BAD_SIGNATURE,
                    f"the signature on '{_cn(top)}' does not verify with the key of its "
                    f"issuer '{_cn(cand)}'",
                    top is graph.leaf,
                    cand,
                )
            ]
    return []


def _critical(cert: PoolCert, exts: x509.Extensions, on_leaf: bool) -> list[RuleFinding]:
    return [
        _f(
            cert,
            Reason.CRITICAL_EXTENSION,
            f"'{_cn(cert)}' has the unhandled critical extension {ext.oid.dotted_string}",
            on_leaf,
        )
        for ext in exts
        if ext.critical and ext.oid not in HANDLED_CRITICAL
    ]


def _issuer_rules(
    issuer: PoolCert, exts: x509.Extensions, below: Sequence[PoolCert]
) -> list[RuleFinding]:
    found: list[RuleFinding] = []
    name = _cn(issuer)
    bc = _get(exts, ExtensionOID.BASIC_CONSTRAINTS)
    v1_anchor = issuer.self_signed and issuer.cert.version is x509.Version.v1
    if bc is None and not v1_anchor:
        found.append(
            _f(
                issuer,
                Reason.NOT_A_CA,
                f"'{name}' issues '{_cn(below[-1])}' but has no basicConstraints",
            )
        )
    elif bc is not None and not bc.value.ca:
        found.append(
            _f(
                issuer,
                Reason.NOT_A_CA,
                f"'{name}' issues '{_cn(below[-1])}' but has basicConstraints CA:FALSE",
            )
        )
    ku = _get(exts, ExtensionOID.KEY_USAGE)
    if ku is not None and not ku.value.key_cert_sign:
        found.append(
            _f(
                issuer,
                Reason.WRONG_USAGE,
                f"'{name}' issues '{_cn(below[-1])}' but its keyUsage lacks keyCertSign",
            )
        )
    eku = _get(exts, ExtensionOID.EXTENDED_KEY_USAGE)
    if eku is not None and not issuer.self_signed and not set(eku.value) & _SERVER_USAGES:
        # An intermediate's EKU constrains what it may issue for (OpenSSL's purpose check,
        # Chromium, NSS); a trust anchor's is not checked.
        found.append(
            _f(
                issuer,
                Reason.WRONG_USAGE,
                f"'{name}' issues '{_cn(below[-1])}' but its extendedKeyUsage lacks serverAuth",
            )
        )
    if bc is not None and bc.value.ca and bc.value.path_length is not None:
        # Non-self-issued intermediates between this issuer and the leaf (RFC 5280 6.1.4).
        count = sum(1 for c in below[1:] if c.subject != c.issuer)
        if count > bc.value.path_length:
            noun = "intermediate" if count == 1 else "intermediates"
            found.append(
                _f(
                    issuer,
                    Reason.PATH_LENGTH,
                    f"'{name}' has pathLenConstraint {bc.value.path_length} "
                    f"and {count} {noun} below it",
                )
            )
    nc = _get(exts, ExtensionOID.NAME_CONSTRAINTS)
    if nc is not None:
        found += _name_constraints(issuer, nc.value, below[0])
    return found


def _leaf_names(
    leaf: PoolCert,
) -> tuple[list[str], list[ipaddress.IPv4Address | ipaddress.IPv6Address]]:
    try:
        san = leaf.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        return san.get_values_for_type(x509.DNSName), san.get_values_for_type(x509.IPAddress)
    except x509.ExtensionNotFound:
        cns = leaf.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        return [str(a.value) for a in cns], []
    except Exception:  # noqa: BLE001 - extensions that do not decode: malformed, named apart
        return [], []


def _dns_within(name: str, base: str) -> bool:
    name, base = name.lower().rstrip("."), base.lower().rstrip(".")
    if not base:
        return True
    if base.startswith("."):
        return name.endswith(base)
    return name == base or name.endswith("." + base)


def _name_constraints(ca: PoolCert, nc: x509.NameConstraints, leaf: PoolCert) -> list[RuleFinding]:
    dns_names, ips = _leaf_names(leaf)
    permitted = list(nc.permitted_subtrees or ())
    excluded = list(nc.excluded_subtrees or ())
    found: list[RuleFinding] = []

    def hit(what: str, value: str) -> None:
        found.append(
            _f(ca, Reason.NAME_CONSTRAINTS, f"'{_cn(ca)}' {what}, and the leaf names '{value}'")
        )

    for dns in dns_names:
        allowed = [g.value for g in permitted if isinstance(g, x509.DNSName)]
        banned = [g.value for g in excluded if isinstance(g, x509.DNSName)]
        bad = next((b for b in banned if _dns_within(dns, b)), None)
        if bad is not None:
            hit(f"excludes the DNS subtree '{bad}'", dns)
        elif allowed and not any(_dns_within(dns, a) for a in allowed):
            hit(f"permits only the DNS subtrees {', '.join(repr(a) for a in allowed)}", dns)
    for ip in ips:
        allowed_nets = [g.value for g in permitted if isinstance(g, x509.IPAddress)]
        banned_nets = [g.value for g in excluded if isinstance(g, x509.IPAddress)]
        bad_net = next((n for n in banned_nets if _ip_in(ip, n)), None)
        if bad_net is not None:
            hit(f"excludes the IP range {bad_net}", str(ip))
        elif allowed_nets and not any(_ip_in(ip, n) for n in allowed_nets):
            hit(f"permits only the IP ranges {', '.join(str(n) for n in allowed_nets)}", str(ip))
    return found


def _ip_in(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, net: Any) -> bool:
    return (
        isinstance(net, (ipaddress.IPv4Network, ipaddress.IPv6Network))
        and ip.version == net.version
        and ip in net
    )


def _leaf_usage(leaf: PoolCert, exts: x509.Extensions) -> list[RuleFinding]:
    found: list[RuleFinding] = []
    name = _cn(leaf)
    eku = _get(exts, ExtensionOID.EXTENDED_KEY_USAGE)
    if eku is not None and not set(eku.value) & _SERVER_USAGES:
        found.append(
            _f(
                leaf,
                Reason.WRONG_USAGE,
                f"the leaf '{name}' has an extendedKeyUsage without serverAuth",
                True,
            )
        )
    ku = _get(exts, ExtensionOID.KEY_USAGE)
    if ku is not None and not leaf.self_signed:
        is_rsa = isinstance(_public_key(leaf), rsa.RSAPublicKey)
        ok = ku.value.digital_signature or (is_rsa and ku.value.key_encipherment)
        if not ok:
            needs = "digitalSignature or keyEncipherment" if is_rsa else "digitalSignature"
            found.append(
                _f(
                    leaf,
                    Reason.WRONG_USAGE,
                    f"the leaf '{name}' has a keyUsage without {needs}",
                    True,
                )
            )
    return found


def _public_key(cert: PoolCert) -> Any:
    try:
        return cert.cert.public_key()
    except Exception:  # noqa: BLE001 - an unsupported key type
        return None


def path_findings(graph: ChainGraph, path: CandidatePath | None) -> tuple[RuleFinding, ...]:
    """The findings on ``path`` (the client's verified or best path), else on every path
    of the graph in order, so a rule broken on any path is still seen."""
    if path is not None:
        found = check_path(path, graph)
        if found:
            return found
    for other in graph.paths:
        found = check_path(other, graph)
        if found:
            return found
    return ()
