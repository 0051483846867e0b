"""Scenarios from real incidents, registered into the lab's catalogue
(:data:`tlsmatrix.lab.scenarios.CATALOGUE`) after the classic broken chains.

Each docstring tells the incident and names its public source; each prediction reads the
client's measured properties (:class:`~tlsmatrix.lab.scenarios.ClientProps`), never its
name. Their certificates are made by :mod:`tlsmatrix.lab.pki_incidents`, and their anchors
are in both lab-run trust profiles, so the default profile shows every divergence.
"""

from __future__ import annotations

from tlsmatrix.clients.base import Reason, Verdict
from tlsmatrix.lab.scenarios import ClientProps, Expectation, accept, reject, scenario

__all__ = ["CONSTRAINED_DOMAIN", "PARTIAL_WILDCARD_HOST", "PARTIAL_WILDCARD_SAN"]

# Names written into the certificates (tlsmatrix.lab.pki_incidents); never looked up.
CONSTRAINED_DOMAIN = "lab.invalid"  # the constrained root permits DNS names below it only
PARTIAL_WILDCARD_SAN = "f*.lab.invalid"
PARTIAL_WILDCARD_HOST = "foo.lab.invalid"  # clients connect to 127.0.0.1 by address


def _fetch_missing(props: ClientProps, *, what: str, workstation_helps: bool) -> Expectation:
    """A leaf-only server whose missing issuers are all behind working AIA URLs."""
    if workstation_helps and props.trust == "workstation":
        return accept(f"{what}, but this trust profile holds the missing intermediate")
    if props.fetches_aia:
        return accept(f"{what}; the client follows the AIA caIssuers URLs and completes the chain")
    return reject(
        Reason.INCOMPLETE_CHAIN,
        f"{what}; the client does not fetch AIA, so the leaf's issuer stays missing",
    )


@scenario(chain=("leaf_partial_anchor",), aia="none")
def partial_chain_anchor(props: ClientProps) -> Expectation:
    """The store holds the intermediate but not its root: Lab Anchored Intermediate CA is
    in every lab profile, its issuer Lab Offline Root CA in none; the server sends the leaf.

    The seed story's other half ("the laptop's store had the intermediate"). OpenSSL's
    default verification needs a self-signed anchor and answers "unable to get issuer
    certificate"; libcurl sets X509_V_FLAG_PARTIAL_CHAIN, Java, GnuTLS and Chromium take
    any trusted certificate as an anchor, and Python 3.13's default context sets
    VERIFY_X509_PARTIAL_CHAIN (What's New in Python 3.13, ssl: "create_default_context()
    now sets VERIFY_X509_PARTIAL_CHAIN and VERIFY_X509_STRICT"). The same story on the
    main chain: ``tlsmatrix run <leaf_only URL> --ca-file trust/intermediate-only.pem``.
    Checks: trusted issuer, chain.
    """
    if props.partial_chain:
        return accept("the client takes the trusted intermediate as its anchor (partial chain)")
    return Expectation(
        Verdict.REJECT,
        # The client says only "issuer not found" (OpenSSL code 2): the harness names it
        # from the chain (untrusted_root); an adapter's own reading may be either of the
        # "issuer missing" reasons.
        frozenset({Reason.UNTRUSTED_ROOT, Reason.UNKNOWN_ISSUER, Reason.INCOMPLETE_CHAIN}),
        "the client anchors only at a self-signed root, and the intermediate's root is in "
        "no store (OpenSSL: unable to get issuer certificate)",
    )


@scenario(chain=("leaf_strict", "lax_intermediate"))
def strict_x509(props: ClientProps) -> Expectation:
    """An intermediate whose basicConstraints extension is not marked critical (Lab Lax
    Intermediate CA), otherwise a complete, valid chain.

    RFC 5280 4.2.1.9 says CAs MUST mark it critical; most verifiers never checked. Python
    3.13 turned on VERIFY_X509_STRICT in ssl.create_default_context() (What's New in
    Python 3.13; CPython gh-107361), and private CAs with such intermediates broke
    ("Basic Constraints of CA cert not marked critical"). Without a Python 3.13 client
    (``stdlib@3.13``) in the run every installed client accepts it, so it cannot split
    the clients installed here: only the interpreter upgrade breaks, which is the story.
    Checks: chain.
    """
    if props.strict_x509:
        return Expectation(
            Verdict.REJECT,
            frozenset({Reason.INVALID_CERTIFICATE, Reason.NOT_A_CA, Reason.CRITICAL_EXTENSION}),
            "strict X.509 checking refuses a CA whose basicConstraints is not critical",
        )
    return accept("the client does not insist that a CA's basicConstraints be critical")


@scenario(chain=("leaf_cn_only", "intermediate"))
def cn_only(props: ClientProps) -> Expectation:
    """A leaf with no subjectAltName at all: its only name is the subject CN (localhost).

    RFC 6125 (and RFC 9525, which forbids it outright) deprecated matching the CN; Chrome
    58 stopped in 2017 (the "NET::ERR_CERT_COMMON_NAME_INVALID" wave), urllib3 2.0 set
    ``hostname_checks_common_name = False`` in 2023, and old internal certificates broke
    each time. OpenSSL's X509_check_host still falls back to the CN when there is no SAN.
    Checks: name.
    """
    if props.cn_fallback:
        return accept("without a SAN the client still matches the subject CN, localhost")
    return reject(
        Reason.HOSTNAME_MISMATCH, "the client matches SAN entries only, and there is none"
    )


@scenario(chain=("leaf_partial_wildcard", "intermediate"), hostname=PARTIAL_WILDCARD_HOST)
def partial_wildcard(props: ClientProps) -> Expectation:
    """A leaf whose only name is the partial wildcard ``f*.lab.invalid``, served as
    foo.lab.invalid (connected to on 127.0.0.1).

    RFC 6125 6.4.3 allowed a wildcard inside a label; the CA/Browser Forum Baseline
    Requirements never did, and Python's ssl sets X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS
    (since 3.7). OpenSSL's own X509_check_host still matches it.
    Checks: name.
    """
    if props.partial_wildcard:
        return accept("the client matches the wildcard inside the first label (f* ~ foo)")
    return reject(
        Reason.HOSTNAME_MISMATCH, "the client allows a wildcard only as a whole left-most label"
    )


@scenario(chain=("leaf_no_digital_signature", "intermediate"))
def no_digital_signature(props: ClientProps) -> Expectation:
    """An ECDSA leaf whose keyUsage says keyEncipherment only, not digitalSignature: the
    RSA template copied onto an EC key.

    An ECDSA key cannot encipher; in (EC)DHE the server signs the handshake, which RFC 5280
    4.2.1.3 and RFC 8446 4.4.2.2 tie to digitalSignature. Java, GnuTLS and Chromium refuse
    it (Chromium: ERR_SSL_KEY_USAGE_INCOMPATIBLE, enforced for locally trusted roots since
    Chrome 124, 2024, after the RSA key-usage enforcement announced in Chromium's
    "Enforcing key usage for RSA" post of 2023); OpenSSL's server purpose accepts
    keyEncipherment and libssl checks the bit only for TLS 1.2 ECDSA cipher suites, so
    every OpenSSL client (and wget, which sets no purpose) accepts it over TLS 1.3.
    Checks: chain.
    """
    if props.needs_digital_signature:
        return reject(
            Reason.WRONG_USAGE,
            "the client refuses an ECDSA server key whose keyUsage lacks digitalSignature",
        )
    return accept("the client does not hold the handshake signature to the leaf's keyUsage")


@scenario(chain=("leaf_pkcs7",))
def aia_pkcs7(props: ClientProps) -> Expectation:
    """Only the leaf; its AIA caIssuers URL serves the intermediate as a PKCS#7 bundle
    (``intermediate.p7c``, application/pkcs7-mime) instead of a DER certificate.

    RFC 5280 4.2.2.1 allows both; several public CAs (e.g. DigiCert and the US Federal
    PKI, whose caIssuers URLs end in .p7c) publish PKCS#7. A fetcher that only parses DER
    fails where a DER URL would have worked.
    Checks: chain, trusted issuer.
    """
    return _fetch_missing(
        props, what="the server sends only the leaf (AIA serves a .p7c)", workstation_helps=True
    )


@scenario(chain=("leaf_three_hops",))
def aia_three_hops(props: ClientProps) -> Expectation:
    """Lab Root CA -> Lab Hop 1 CA -> Lab Hop 2 CA -> leaf, and the server sends only the
    leaf: the leaf's AIA gives hop 2, hop 2's gives hop 1, then Lab Root is in the store.

    Tests whether an AIA fetcher fetches again for the certificate it just fetched, as
    long chains of government and bridge PKIs need (e.g. the US Federal PKI's
    cross-certified paths). No lab profile holds either hop.
    Checks: chain, trusted issuer.
    """
    return _fetch_missing(
        props, what="the server sends only the leaf, two intermediates away from the root",
        workstation_helps=False,
    )


@scenario(chain=("leaf_r3", "r3", "isrg_cross_signed"))
def expired_cross_sign(props: ClientProps) -> Expectation:
    """The DST Root CA X3 expiry (Let's Encrypt, 2021-09-30): leaf -> Lab R3 -> Lab
    ISRG-like Root X1, and the server also sends that root cross-signed by Lab DST-like
    Root X3, which expired. Both the self-signed ISRG-like root and the expired DST-like
    root are in the trust profile.

    Two paths: leaf -> R3 -> ISRG-like root (valid) and on through the cross-sign to the
    expired DST-like root. OpenSSL 1.0.2 followed the sent chain and failed; OpenSSL 1.1+
    (trusted-first), GnuTLS >= 3.6.14, Java, NSS and Chromium stop at the trusted
    self-signed root (Let's Encrypt, "DST Root CA X3 Expiration (September 2021)";
    OpenSSL blog, "Old Let's Encrypt root certificate expiry and OpenSSL 1.0.2",
    2021-09-13). Every client installed here is of the fixed generation, so it cannot split
    the clients installed here: it is the regression check that none takes the expired
    path.
    Checks: chain, validity period, trusted issuer.
    """
    return accept(
        "the client finds the trusted self-signed ISRG-like root and never needs the "
        "expired DST-like root behind the cross-sign"
    )


@scenario(chain=("leaf_constrained", "constrained_intermediate"))
def name_constrained_root(props: ClientProps) -> Expectation:
    """A trusted root whose own certificate carries name constraints (DNS names below
    lab.invalid only), and a leaf for localhost under it.

    RFC 5280 6.1.1 leaves a trust anchor's constraints to the relying party (RFC 5937
    makes them optional inputs). Chrome applies the constraints in a root's certificate
    (its path builder since the Chrome Root Store, Chrome 105+; the Chrome Root Program
    policy relies on it for constrained roots), as do OpenSSL and GnuTLS; Java builds a
    keystore's TrustAnchor without them and accepts, so a "constrained" corporate root is
    not constrained for Java clients.
    Checks: trusted issuer, name.
    """
    if props.anchor_constraints:
        return Expectation(
            Verdict.REJECT,
            # OpenSSL names the violation (code 47); GnuTLS says "signer constraints",
            # wget "not trusted" and Chromium ERR_CERT_INVALID, and the chain analysis does
            # not evaluate an anchor's constraints: those stay invalid_certificate.
            frozenset({Reason.NAME_CONSTRAINTS, Reason.INVALID_CERTIFICATE}),
            "the client applies the trusted root's name constraints, and localhost is not "
            "below lab.invalid",
        )
    return accept("the client ignores name constraints written in a trust anchor's certificate")
