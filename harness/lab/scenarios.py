"""The lab's scenario catalogue: one way a certificate chain goes wrong per scenario.

Each scenario is a function registered with :func:`scenario`. Its name is the scenario id,
its docstring says what it teaches and ends with a ``Checks:`` line naming which of the
five checks a client makes it exercises (trusted issuer, chain, validity period,
revocation, name); the function itself is the prediction: given a client's properties
(:class:`ClientProps`, never its name) it returns what that client should do.

The AIA server behaviour a scenario needs is carried by the leaf's AIA URL (see
:mod:`tlsmatrix.lab.pki`): ``leaf_only_dead_aia`` points at a path that answers 404 and
``leaf_only_hung_aia`` at one that accepts and never answers; they are two scenarios, not
one with a parameter, so that each has its own server, URL and row in a matrix.

The scenarios from real incidents (partial-chain anchors, Python 3.13's strict checks,
names, key usage, AIA formats and hops, the DST Root CA X3 cross-sign, constrained
anchors) live in :mod:`tlsmatrix.lab.scenarios_incidents` and register into the same
catalogue when this module loads.

This module imports no cryptography: the pytest plugin and the CLI read the catalogue
cheaply.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

from tlsmatrix.clients.base import Reason, Verdict

TRUST_PROFILE_NAMES = ("certifi-like", "workstation")
CHECKS = ("trusted issuer", "chain", "validity period", "revocation", "name")
AiaMode = Literal["normal", "404", "hang", "none"]


@dataclass(frozen=True)
class ClientProps:
    """What a client is, as far as the lab's predictions depend on it.

    ``trust`` is the trust profile the client was given ("certifi-like": Lab Root only;
    "workstation": Lab Root and Lab Intermediate; both also hold the incident scenarios'
    anchors). The defaults describe an OpenSSL 3 client at security level 2 used through
    Python's ``ssl``: RSA keys under 2048 bits and SHA-1 signatures rejected, no
    revocation checking, OpenSSL's default path building (no partial chains, not strict)
    and name checks (CN fallback, no partial wildcards), name constraints enforced even
    in a trust anchor, and a TLS 1.3 handshake that does not look at the leaf's keyUsage.

    ``partial_chain``, ``strict_x509`` come from ClientInfo; ``cn_fallback``,
    ``partial_wildcard``, ``anchor_constraints`` (name constraints on a trust anchor
    are enforced) and ``needs_digital_signature`` (a TLS leaf without digitalSignature is
    refused) from the lab's table of measured behaviours
    (:mod:`tlsmatrix.lab.behaviours`) until ClientInfo carries them."""

    name: str
    fetches_aia: bool
    trust: str
    checks_revocation: bool = False
    min_rsa_bits: int = 2048
    rejects_sha1: bool = True
    partial_chain: bool = False
    strict_x509: bool = False
    cn_fallback: bool = True
    partial_wildcard: bool = False
    anchor_constraints: bool = True
    needs_digital_signature: bool = False

    def __post_init__(self) -> None:
        if self.trust not in TRUST_PROFILE_NAMES:
            raise ValueError(f"unknown trust profile {self.trust!r}; one of {TRUST_PROFILE_NAMES}")


@dataclass(frozen=True)
class Expectation:
    """What a client should do with a scenario: ``verdict``, the reasons that count as
    right (any one of them), and ``why`` in a sentence. ``tolerated`` lists other
    verdicts that are honest too (a client whose AIA fetch outlives the probe's deadline
    times out on a hung AIA server)."""

    verdict: Verdict
    reasons: frozenset[Reason]
    why: str
    tolerated: frozenset[Verdict] = frozenset()

    def matches(self, verdict: Verdict, reason: Reason) -> bool:
        """True when an observed (verdict, reason) is what this expectation predicts."""
        if verdict in self.tolerated:
            return True
        return verdict is self.verdict and reason in self.reasons


def accept(why: str) -> Expectation:
    return Expectation(Verdict.ACCEPT, frozenset({Reason.OK}), why)


def reject(reason: Reason, why: str, *, tolerated: frozenset[Verdict] = frozenset()) -> Expectation:
    return Expectation(Verdict.REJECT, frozenset({reason}), why, tolerated)


ExpectFn = Callable[[ClientProps], Expectation]


@dataclass(frozen=True)
class Scenario:
    """One scenario. ``chain`` are certificate names (see :mod:`tlsmatrix.lab.pki`) in the
    order the server sends them, leaf first; ``key`` is the leaf key's name; ``aia`` is
    how the AIA server answers the leaf's caIssuers URL ("none": the leaf has no URL)."""

    name: str
    description: str
    checks: frozenset[str]
    chain: tuple[str, ...]
    key: str
    hostname: str
    aia: AiaMode
    expect_fn: ExpectFn = field(repr=False, compare=False)

    def expect(self, props: ClientProps) -> Expectation:
        """What a client with ``props`` should do here."""
        return self.expect_fn(props)

    @property
    def summary(self) -> str:
        """The docstring's first paragraph, as one line."""
        return " ".join(self.description.split("\n\n")[0].split()) if self.description else ""


class Catalogue:
    """An ordered registry of scenarios; registering an id twice is an error."""

    def __init__(self) -> None:
        self._scenarios: dict[str, Scenario] = {}

    def scenario(
        self,
        *,
        chain: Sequence[str],
        key: str | None = None,
        hostname: str = "localhost",
        aia: AiaMode = "normal",
    ) -> Callable[[ExpectFn], ExpectFn]:
        """Register the decorated function as a scenario named after it.

        Raises ValueError for a duplicate id, an empty chain, a missing docstring or a
        docstring without a valid ``Checks:`` line."""

        def register(fn: ExpectFn) -> ExpectFn:
            name = fn.__name__
            if name in self._scenarios:
                raise ValueError(f"duplicate scenario id {name!r}")
            if not chain:
                raise ValueError(f"scenario {name!r}: the chain is empty")
            doc = _dedent(fn.__doc__ or "")
            if not doc:
                raise ValueError(f"scenario {name!r} has no docstring")
            self._scenarios[name] = Scenario(
                name=name,
                description=doc,
                checks=_parse_checks(name, doc),
                chain=tuple(chain),
                key=key or chain[0],
                hostname=hostname,
                aia=aia,
                expect_fn=fn,
            )
            return fn

        return register

    def get(self, name: str) -> Scenario:
        """The scenario ``name``; KeyError names the known ones."""
        try:
            return self._scenarios[name]
        except KeyError:
            raise KeyError(f"unknown scenario {name!r}; known: {', '.join(self.names())}") from None

    def names(self) -> list[str]:
        return list(self._scenarios)

    def select(self, names: Sequence[str] | None = None) -> list[Scenario]:
        """The scenarios ``names`` (all when None), in catalogue order, without repeats."""
        if names is None:
            return list(self._scenarios.values())
        wanted = {self.get(n).name for n in names}
        return [s for s in self._scenarios.values() if s.name in wanted]

    def __iter__(self) -> Iterator[Scenario]:
        return iter(list(self._scenarios.values()))

    def __len__(self) -> int:
        return len(self._scenarios)

    def __contains__(self, name: object) -> bool:
        return name in self._scenarios


def _dedent(doc: str) -> str:
    import inspect

    return inspect.cleandoc(doc)


_CHECKS_LINE = re.compile(r"^Checks:\s*(.+?)\.?\s*$", re.MULTILINE)


def _parse_checks(name: str, doc: str) -> frozenset[str]:
    match = _CHECKS_LINE.search(doc)
    if not match:
        raise ValueError(f"scenario {name!r}: docstring needs a 'Checks: ...' line")
    found = frozenset(c.strip() for c in match.group(1).split(","))
    unknown = found - set(CHECKS)
    if unknown:
        raise ValueError(f"scenario {name!r}: unknown checks {sorted(unknown)}; use {CHECKS}")
    return found


CATALOGUE = Catalogue()
scenario = CATALOGUE.scenario


def get(name: str) -> Scenario:
    return CATALOGUE.get(name)


def all_scenarios() -> list[Scenario]:
    return CATALOGUE.select()


# --- shared reasoning -----------------------------------------------------------------


def _missing_intermediate(props: ClientProps, *, aia_works: bool, what: str) -> Expectation:
    """The incident's logic: the server did not send the intermediate."""
    if props.trust == "workstation":
        return accept(
            f"{what}, but this trust profile holds Lab Intermediate CA, so the client "
            "completes the chain from its own store"
        )
    if props.fetches_aia and aia_works:
        return accept(
            f"{what}; the client downloads Lab Intermediate CA from the leaf's AIA "
            "caIssuers URL and completes the chain"
        )
    if props.fetches_aia:
        return reject(
            Reason.INCOMPLETE_CHAIN,
            f"{what}; the client tries the leaf's AIA URL but gets no certificate, and its "
            "roots-only store cannot link the leaf to Lab Root CA",
        )
    return reject(
        Reason.INCOMPLETE_CHAIN,
        f"{what}; the client does not fetch AIA and its roots-only store cannot link the "
        "leaf to Lab Root CA",
    )


# --- the catalogue --------------------------------------------------------------------


@scenario(chain=("leaf", "intermediate"))
def good(props: ClientProps) -> Expectation:
    """A correctly configured server: leaf and intermediate, in order.

    The baseline every other scenario differs from: any client that rejects it has a
    trust or policy problem, not a chain problem.
    Checks: trusted issuer, chain, validity period, name.
    """
    return accept("leaf + intermediate link to Lab Root CA, which every profile trusts")


@scenario(chain=("leaf",))
def leaf_only(props: ClientProps) -> Expectation:
    """The incident: the server sends only the leaf; its AIA URL works.

    Browsers that fetch the intermediate from the AIA URL (and laptops that had it
    cached) accept; OpenSSL-family clients with a roots-only bundle such as certifi reject.
    Checks: chain, trusted issuer.
    """
    return _missing_intermediate(props, aia_works=True, what="the server sends only the leaf")


@scenario(chain=("leaf_no_aia",), aia="none")
def leaf_only_no_aia(props: ClientProps) -> Expectation:
    """Only the leaf, and the leaf has no AIA URL: even AIA fetchers cannot repair it.

    Checks: chain, trusted issuer.
    """
    return _missing_intermediate(
        props, aia_works=False, what="the server sends only a leaf without an AIA URL"
    )


@scenario(chain=("leaf_dead_aia",), aia="404")
def leaf_only_dead_aia(props: ClientProps) -> Expectation:
    """Only the leaf; its AIA URL answers 404 (the CA moved the file).

    Checks: chain, trusted issuer.
    """
    return _missing_intermediate(
        props, aia_works=False, what="the server sends only the leaf and its AIA URL answers 404"
    )


@scenario(chain=("leaf_hung_aia",), aia="hang")
def leaf_only_hung_aia(props: ClientProps) -> Expectation:
    """Only the leaf; its AIA URL accepts the connection and never answers.

    Shows how long an AIA fetcher waits before giving up: it may time out as a whole.
    Checks: chain, trusted issuer.
    """
    found = _missing_intermediate(
        props,
        aia_works=False,
        what="the server sends only the leaf and its AIA server never answers",
    )
    if props.fetches_aia and props.trust != "workstation":
        # The AIA fetch may outlive the probe's deadline: a timeout is honest too.
        return Expectation(found.verdict, found.reasons, found.why, frozenset({Verdict.TIMEOUT}))
    return found


@scenario(chain=("leaf", "root", "intermediate"))
def wrong_order(props: ClientProps) -> Expectation:
    """Leaf first, then the root, then the intermediate (out of order).

    Servers refuse anything but the leaf first, so this is the only "wrong order" there
    is; modern clients build the path from the pool regardless of order.
    Checks: chain.
    """
    return accept("modern path building ignores the order of the certificates after the leaf")


@scenario(chain=("leaf", "intermediate", "root"))
def with_root(props: ClientProps) -> Expectation:
    """The full chain plus the root: harmless, a few wasted bytes.

    The sent root is ignored; the client anchors at its own copy.
    Checks: chain, trusted issuer.
    """
    return accept("the root sent is the trusted Lab Root CA itself; the chain is complete")


@scenario(chain=("leaf", "root"))
def leaf_and_root(props: ClientProps) -> Expectation:
    """Leaf and root, intermediate missing: sending the root does not replace the
    intermediate.

    Checks: chain, trusted issuer.
    """
    return _missing_intermediate(
        props, aia_works=True, what="the server sends the leaf and the root but no intermediate"
    )


@scenario(chain=("leaf_expired", "intermediate"))
def expired_leaf(props: ClientProps) -> Expectation:
    """The leaf's validity period ended ten days ago.

    Checks: validity period.
    """
    return reject(Reason.EXPIRED, "the leaf's notAfter is in the past")


@scenario(chain=("leaf_expired_intermediate", "expired_intermediate"))
def expired_intermediate(props: ClientProps) -> Expectation:
    """A valid leaf under an intermediate that expired (Lab Expired Intermediate CA, in no
    trust profile, so no client has a fresher copy).

    Checks: validity period, chain.
    """
    return reject(Reason.EXPIRED, "the intermediate's notAfter is in the past")


@scenario(chain=("leaf_not_yet_valid", "intermediate"))
def not_yet_valid(props: ClientProps) -> Expectation:
    """The leaf becomes valid tomorrow (a clock or issuance mistake).

    Checks: validity period.
    """
    return reject(Reason.NOT_YET_VALID, "the leaf's notBefore is in the future")


@scenario(chain=("leaf_wrong_host", "intermediate"))
def wrong_host(props: ClientProps) -> Expectation:
    """A valid chain for another name (wrong.host.example) served as localhost.

    Checks: name.
    """
    return reject(Reason.HOSTNAME_MISMATCH, "the leaf names wrong.host.example, not localhost")


@scenario(chain=("leaf_self_signed",), aia="none")
def self_signed(props: ClientProps) -> Expectation:
    """A self-signed leaf: no chain at all, nothing any store trusts.

    Checks: trusted issuer.
    """
    return reject(Reason.SELF_SIGNED, "the leaf signed itself and is in no trust store")


@scenario(chain=("leaf_other", "other_intermediate", "other_root"))
def untrusted_root(props: ClientProps) -> Expectation:
    """A complete chain to Other Root CA, which no trust profile holds.

    Unlike leaf_only, nothing is missing: the anchor is simply not trusted.
    Checks: trusted issuer.
    """
    return reject(Reason.UNTRUSTED_ROOT, "the chain ends at Other Root CA, trusted by no profile")


@scenario(chain=("leaf_weak_key", "intermediate"))
def weak_key(props: ClientProps) -> Expectation:
    """A leaf with an RSA-1024 key: refused by policy (OpenSSL security level 2 wants
    2048 bits), accepted by clients with a laxer policy.

    Checks: chain.
    """
    if props.min_rsa_bits > 1024:
        return reject(
            Reason.WEAK_KEY,
            f"the leaf's RSA key has 1024 bits; the client wants {props.min_rsa_bits}",
        )
    return accept("the client's policy allows RSA-1024 keys")


@scenario(chain=("leaf_sha1_intermediate", "sha1_intermediate"))
def sha1_intermediate(props: ClientProps) -> Expectation:
    """An intermediate whose certificate is signed with SHA-1 (Lab SHA-1 Intermediate CA).

    Checks: chain.
    """
    if props.rejects_sha1:
        return reject(Reason.WEAK_SIGNATURE, "the intermediate is signed with SHA-1")
    return accept("the client's policy still accepts SHA-1 signatures on certificates")


@scenario(chain=("leaf", "intermediate", "root_cross_signed"))
def cross_signed_expired_root(props: ClientProps) -> Expectation:
    """The DST Root CA X3 story: the server also sends Lab Root CA cross-signed by the
    expired Lab Old Root CA. One path (to the trusted, self-signed Lab Root) is valid,
    another (through the cross-sign to the old root) is expired.

    Clients that prefer trusted certificates while building the path accept; old ones
    that follow the sent chain to its end (OpenSSL 1.0.2, old GnuTLS) reject.
    Checks: chain, validity period, trusted issuer.
    """
    return accept(
        "the client finds the self-signed Lab Root CA in its store and stops there, "
        "never reaching the expired cross-sign"
    )


@scenario(chain=("leaf_revoked", "intermediate"))
def revoked(props: ClientProps) -> Expectation:
    """A leaf listed in the CRL that Lab Intermediate CA publishes on the lab's AIA server.

    Most non-browser clients check no revocation by default and accept.
    Checks: revocation.
    """
    if props.checks_revocation:
        return reject(Reason.REVOKED, "the leaf's serial is on intermediate.crl")
    return accept("the client checks no revocation, so the revoked leaf passes")


# The incident scenarios register themselves into CATALOGUE (after the classic ones).
from tlsmatrix.lab import scenarios_incidents as _incidents  # noqa: E402,F401

__all__ = [
    "CATALOGUE",
    "CHECKS",
    "Catalogue",
    "ClientProps",
    "Expectation",
    "Scenario",
    "TRUST_PROFILE_NAMES",
    "accept",
    "all_scenarios",
    "get",
    "reject",
    "scenario",
]
