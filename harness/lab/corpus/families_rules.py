"""Corpus families about certificate rules: validity, algorithms, signatures, constraints,
extensions and names. The chain is complete and its root trusted unless said otherwise,
so the one constructed fault is the cause."""

from __future__ import annotations

from collections.abc import Callable

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, ObjectIdentifier
from tlsmatrix.clients.base import Reason
from tlsmatrix.lab.corpus.certs import key_usage
from tlsmatrix.lab.corpus.kit import Kit
from tlsmatrix.lab.corpus.model import Alternative, Case, Expectation, expect

NewKit = Callable[[str, str], Kit]
POSITIONS = ("leaf", "I1", "root")
NAMES = {"leaf": "the leaf", "I1": "the intermediate", "root": "the root"}

# An OID under a private arc nobody implements: an extension no client can handle.
UNKNOWN_OID = ObjectIdentifier("1.3.6.1.4.1.55555.7.1")
# DER that decodes (a SEQUENCE of one INTEGER) but not as the extension it claims to be.
UNDECODABLE = b"\x30\x03\x02\x01\x05"

ANCHOR_NOT_VALIDATED = "RFC 5280 6.1: a trust anchor's own fields are not part of path "


def _standard(kit: Kit, position: str | None = None, **fault: object) -> None:
    """root -> I1 -> leaf with ``fault`` (Forge.issue keywords) applied to ``position``;
    a faulty root is the case's own root, so the shared one stays untouched."""
    root = kit.own_root(**fault) if position == "root" else kit.root
    i1 = kit.forge.issue("I1", "ca", root, **(fault if position == "I1" else {}))  # type: ignore[arg-type]
    kit.leaf(i1, **(fault if position == "leaf" else {}))


def _complete(
    kit: Kit, description: str, expectation: Expectation, position: str | None, **facts: object
) -> Case:
    return kit.case(description, ["leaf", "I1"], ["root"], expectation, position=position, **facts)


def validity(new: NewKit) -> list[Case]:
    """Expired and not-yet-valid at each position."""
    cases = []
    for state, cause in (("expired", Reason.EXPIRED), ("not_yet_valid", Reason.NOT_YET_VALID)):
        for position in POSITIONS:
            kit = new("validity", f"{position}-{state.replace('_', '-')}")
            _standard(kit, position, validity=state)
            alternatives = ()
            if position == "root":
                alternatives = (
                    Alternative(
                        Reason.OK,
                        ANCHOR_NOT_VALIDATED + "validation; some verifiers skip "
                        "the anchor's validity period",
                    ),
                )
            description = f"root -> I1 -> leaf, {NAMES[position]} {state.replace('_', ' ')}"
            cases.append(_complete(kit, description, expect(cause, None, *alternatives), position))
    return cases


def weak_algorithms(new: NewKit) -> list[Case]:
    """RSA-1024 keys and SHA-1 signatures at each position."""
    cases = []
    for position in POSITIONS:
        kit = new("weak_key", f"{position}-rsa1024")
        _standard(kit, position, key="rsa1024")
        description = f"root -> I1 -> leaf, {NAMES[position]} has an RSA-1024 key"
        expectation = expect(Reason.WEAK_KEY, "min_rsa_bits > 1024")
        cases.append(_complete(kit, description, expectation, position))
    for position in POSITIONS:
        kit = new("weak_signature", f"{position}-sha1")
        _standard(kit, position, sha1=True)
        description = f"root -> I1 -> leaf, {NAMES[position]} is signed with SHA-1"
        if position == "root":
            # The root's SHA-1 is its self-signature, which nobody relies on: not a fault.
            expectation = expect(
                Reason.OK,
                None,
                Alternative(
                    Reason.WEAK_SIGNATURE,
                    ANCHOR_NOT_VALIDATED + "validation, but some verifiers apply their "
                    "algorithm policy to the anchor's self-signature",
                ),
            )
        else:
            expectation = expect(Reason.WEAK_SIGNATURE, "rejects_sha1")
        cases.append(_complete(kit, description, expectation, position))
    return cases


def bad_signature(new: NewKit) -> list[Case]:
    """A signature with one bit flipped, on the leaf and on the intermediate."""
    cases = []
    for position in ("leaf", "I1"):
        kit = new("bad_signature", position)
        _standard(kit, position, corrupt_signature=True)
        description = f"root -> I1 -> leaf, {NAMES[position]}'s signature corrupted"
        cases.append(_complete(kit, description, expect(Reason.BAD_SIGNATURE), position))
    return cases


def not_a_ca(new: NewKit) -> list[Case]:
    """The leaf's issuer is not a CA: basicConstraints CA:FALSE, or no basicConstraints."""
    cases = []
    for variation, bc in (("ca-false", "not_ca"), ("no-basic-constraints", "absent")):
        kit = new("not_a_ca", f"issuer-{variation}")
        _standard(kit, "I1", basic_constraints=bc)
        what = "CA:FALSE" if bc == "not_ca" else "no basicConstraints"
        description = f"root -> I1 -> leaf, I1 (the leaf's issuer) has {what}"
        cases.append(_complete(kit, description, expect(Reason.NOT_A_CA), "I1"))
    return cases


def path_length(new: NewKit) -> list[Case]:
    """pathLenConstraint exceeded below an intermediate, and below the root."""
    cases = []
    for variation, depth, where, limit in (
        ("I1-pathlen0", 2, "I1", 0),
        ("I1-pathlen1", 3, "I1", 1),
        ("root-pathlen0", 1, "root", 0),
    ):
        kit = new("path_length", variation)
        root = kit.own_root(path_length=limit) if where == "root" else kit.root
        parent = root
        for n in range(1, depth + 1):
            limit_here = limit if where == f"I{n}" else None
            parent = kit.forge.issue(f"I{n}", "ca", parent, path_length=limit_here)
        kit.leaf(parent)
        sent = ["leaf", *(f"I{n}" for n in range(depth, 0, -1))]
        alternatives = ()
        if where == "root":
            alternatives = (
                Alternative(
                    Reason.OK,
                    ANCHOR_NOT_VALIDATED + "validation; some verifiers ignore "
                    "the anchor's pathLenConstraint",
                ),
            )
        below = depth - 1 if where == "I1" else depth
        cases.append(
            kit.case(
                f"{where} has pathLenConstraint {limit} and {below} intermediate(s) below it",
                sent,
                ["root"],
                expect(Reason.PATH_LENGTH, None, *alternatives),
                position=where,
                path_length=limit,
                below=below,
            )
        )
    return cases


def usage(new: NewKit) -> list[Case]:
    """Key usage and extended key usage that do not allow a TLS server."""
    client_only = (ExtendedKeyUsageOID.CLIENT_AUTH,)
    cases = []
    kit = new("usage", "leaf-eku-client-auth")
    _standard(kit, "leaf", eku=client_only)
    leaf_usage = expect(Reason.WRONG_USAGE, "checks_leaf_usage")
    cases.append(_complete(kit, "the leaf's EKU is clientAuth only", leaf_usage, "leaf"))
    kit = new("usage", "leaf-ku-non-repudiation")
    _standard(kit, "leaf", key_usage=key_usage(content_commitment=True))
    cases.append(
        _complete(
            kit,
            "the leaf's keyUsage has neither digitalSignature nor keyEncipherment",
            leaf_usage,
            "leaf",
        )
    )
    kit = new("usage", "intermediate-eku-client-auth")
    _standard(kit, "I1", eku=client_only)
    eku_on_ca = Alternative(
        Reason.OK,
        "RFC 5280 path validation does not read EKU in CA certificates; verifiers that "
        "do (OpenSSL, Chromium) refuse, others accept",
    )
    cases.append(
        _complete(
            kit,
            "the intermediate's EKU is clientAuth only",
            expect(Reason.WRONG_USAGE, None, eku_on_ca),
            "I1",
        )
    )
    kit = new("usage", "intermediate-ku-no-cert-sign")
    _standard(kit, "I1", key_usage=key_usage(digital_signature=True, crl_sign=True))
    invalid_ca = Alternative(
        Reason.NOT_A_CA,
        "a CA whose keyUsage lacks keyCertSign is reported by OpenSSL as an invalid CA "
        "(X509_V_ERR_INVALID_CA): the same fault seen as the CA check",
    )
    cases.append(
        _complete(
            kit,
            "the intermediate's keyUsage lacks keyCertSign",
            expect(Reason.WRONG_USAGE, None, invalid_ca),
            "I1",
        )
    )
    return cases


def name_constraints(new: NewKit) -> list[Case]:
    """Name constraints on the intermediate: permitted and excluded subtrees violated, and
    a control whose permitted subtree holds the name."""
    cases = []
    for variation, permitted, excluded, expectation in (
        ("permitted-violated", ["permitted.invalid"], None, expect(Reason.NAME_CONSTRAINTS)),
        ("excluded-violated", None, ["localhost"], expect(Reason.NAME_CONSTRAINTS)),
        ("permitted-satisfied", ["localhost"], None, expect(Reason.OK)),
    ):
        kit = new("name_constraints", variation)
        constraints = x509.NameConstraints(
            permitted_subtrees=[x509.DNSName(n) for n in permitted] if permitted else None,
            excluded_subtrees=[x509.DNSName(n) for n in excluded] if excluded else None,
        )
        _standard(kit, "I1", name_constraints=constraints)
        what = f"permits {permitted}" if permitted else f"excludes {excluded}"
        description = f"I1 {what}; the leaf is for localhost"
        cases.append(_complete(kit, description, expectation, "I1"))
    return cases


def critical_extension(new: NewKit) -> list[Case]:
    """An extension no client knows, marked critical, on the leaf and on the intermediate."""
    cases = []
    for position in ("leaf", "I1"):
        kit = new("critical_extension", position)
        unknown = x509.UnrecognizedExtension(UNKNOWN_OID, b"\x05\x00")
        _standard(kit, position, extra=[(unknown, True)])
        description = (
            f"{NAMES[position]} carries an unknown critical extension {UNKNOWN_OID.dotted_string}"
        )
        cases.append(_complete(kit, description, expect(Reason.CRITICAL_EXTENSION), position))
    return cases


def malformed(new: NewKit) -> list[Case]:
    """Extensions whose bytes do not decode as what their OID says."""
    cases = []
    kit = new("malformed", "leaf-aia")
    bad_aia = x509.UnrecognizedExtension(ExtensionOID.AUTHORITY_INFORMATION_ACCESS, UNDECODABLE)
    _standard(kit, "leaf", extra=[(bad_aia, False)])
    lenient = Alternative(
        Reason.OK,
        "the AIA extension is non-critical and unused when the chain is complete; a "
        "verifier that never decodes it accepts",
    )
    cases.append(
        kit.case(
            "the leaf's (non-critical) AIA extension does not decode",
            ["leaf", "I1"],
            ["root"],
            expect(Reason.MALFORMED_CERTIFICATE, None, lenient),
            position="leaf",
            malformed=["leaf"],
        )
    )
    kit = new("malformed", "leaf-san")
    root = kit.root
    i1 = kit.forge.issue("I1", "ca", root)
    bad_san = x509.UnrecognizedExtension(ExtensionOID.SUBJECT_ALTERNATIVE_NAME, UNDECODABLE)
    # The CN does not name the host either, so no CN fallback can hide the fault.
    kit.leaf(i1, san=(), cn="Corpus leaf", extra=[(bad_san, False)])
    cases.append(
        kit.case(
            "the leaf's SAN extension does not decode (its CN is not the host name)",
            ["leaf", "I1"],
            ["root"],
            expect(Reason.MALFORMED_CERTIFICATE),
            position="leaf",
            malformed=["leaf"],
        )
    )
    kit = new("malformed", "intermediate-san")
    _standard(kit, "I1", extra=[(bad_san, False)])
    unread = Alternative(
        Reason.OK,
        "a CA's SAN names no host anyone checks; a verifier that never decodes it accepts",
    )
    cases.append(
        kit.case(
            "the intermediate's SAN extension does not decode (servable where a leaf's is not)",
            ["leaf", "I1"],
            ["root"],
            expect(Reason.MALFORMED_CERTIFICATE, None, unread),
            position="I1",
            malformed=["I1"],
        )
    )
    kit = new("malformed", "intermediate-basic-constraints")
    bad_bc = x509.UnrecognizedExtension(ExtensionOID.BASIC_CONSTRAINTS, UNDECODABLE)
    _standard(kit, "I1", basic_constraints="absent", extra=[(bad_bc, True)])
    cases.append(
        kit.case(
            "the intermediate's (critical) basicConstraints does not decode",
            ["leaf", "I1"],
            ["root"],
            expect(Reason.MALFORMED_CERTIFICATE),
            position="I1",
            malformed=["I1"],
        )
    )
    return cases


def names(new: NewKit) -> list[Case]:
    """Host names: CN only, a SAN for another name, and wildcards."""
    cn_fallback = Alternative(
        Reason.OK,
        "a client that still falls back to the subject CN when there is no SAN accepts; no "
        "ClientInfo property measures CN fallback yet",
    )
    partial_wildcard = Alternative(
        Reason.OK,
        "RFC 6125 6.4.3 lets a client match a wildcard inside a label (OpenSSL's "
        "X509_check_host does unless told not to); no ClientInfo property measures it yet",
    )
    cases = []
    for variation, host, san, expectation, description in (
        (
            "cn-only",
            "localhost",
            (),
            expect(Reason.HOSTNAME_MISMATCH, None, cn_fallback),
            "no SAN; the subject CN is localhost",
        ),
        (
            "san-other-name",
            "localhost",
            ("other.corpus.invalid",),
            expect(Reason.HOSTNAME_MISMATCH),
            "the SAN names other.corpus.invalid; the client asks for localhost",
        ),
        (
            "wildcard",
            "www.corpus.invalid",
            ("*.corpus.invalid",),
            expect(Reason.OK),
            "SAN *.corpus.invalid; the client asks for www.corpus.invalid",
        ),
        (
            "wildcard-two-labels",
            "a.b.corpus.invalid",
            ("*.corpus.invalid",),
            expect(Reason.HOSTNAME_MISMATCH),
            "SAN *.corpus.invalid; the client asks for a.b.corpus.invalid",
        ),
        (
            "wildcard-bare-domain",
            "corpus.invalid",
            ("*.corpus.invalid",),
            expect(Reason.HOSTNAME_MISMATCH),
            "SAN *.corpus.invalid; the client asks for corpus.invalid",
        ),
        (
            "partial-wildcard",
            "foo.corpus.invalid",
            ("f*.corpus.invalid",),
            expect(Reason.HOSTNAME_MISMATCH, None, partial_wildcard),
            "SAN f*.corpus.invalid; the client asks for foo.corpus.invalid",
        ),
    ):
        kit = new("names", variation)
        i1 = kit.forge.issue("I1", "ca", kit.root)
        # The CN repeats the host only in the CN-only case, so no fallback hides a mismatch.
        cn = host if not san else "Corpus leaf"
        kit.leaf(i1, host, san=san, cn=cn)
        cases.append(
            kit.case(
                description,
                ["leaf", "I1"],
                ["root"],
                expectation,
                hostname=host,
                position="leaf",
                san=san,
            )
        )
    return cases


FAMILIES = (
    validity,
    weak_algorithms,
    bad_signature,
    not_a_ca,
    path_length,
    usage,
    name_constraints,
    critical_extension,
    malformed,
    names,
)
