"""What a corpus case is: a chain whose cause is known by construction, and what each
client should say about it, decided from the client's measured properties (ClientInfo),
never from its name."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from tlsmatrix.clients.base import ClientInfo, Reason

# The client properties an expectation may depend on. Each is a ClientInfo field measured
# by a test against a real handshake; the key is what reports show.
POLICIES: Mapping[str, Callable[[ClientInfo], bool]] = {
    "min_rsa_bits > 1024": lambda info: info.min_rsa_bits > 1024,
    "rejects_sha1": lambda info: info.rejects_sha1,
    "not partial_chain": lambda info: not info.partial_chain,
    "checks_leaf_usage": lambda info: info.checks_leaf_usage,
}


@dataclass(frozen=True)
class Alternative:
    """Another outcome that is honest for this case. ``basis`` says why; ``property`` names
    the ClientInfo field that decides it, or is None when no measured property captures
    the behaviour yet (such alternatives are listed in reports so they can be measured)."""

    reason: Reason
    basis: str
    property: str | None = None
    # True when this is what the vocabulary asks for because the evidence any observer has
    # (the chain, the stores, AIA) cannot show the cause, e.g. unknown_issuer for a gap
    # under the anchor: not a client's behaviour, the contract's answer.
    by_evidence: bool = False


@dataclass(frozen=True)
class Expectation:
    """The constructed cause of a case, and for which clients it applies.

    ``applies_if`` names a :data:`POLICIES` entry; for a client where it is false the
    chain is acceptable and the expected reason is ``ok``. ``alternatives`` are honest
    outcomes beside the cause (see :class:`Alternative`)."""

    cause: Reason
    applies_if: str | None = None
    alternatives: tuple[Alternative, ...] = ()

    def __post_init__(self) -> None:
        if self.applies_if is not None and self.applies_if not in POLICIES:
            raise ValueError(f"unknown policy {self.applies_if!r}; one of {sorted(POLICIES)}")

    def reason_for(self, info: ClientInfo) -> Reason:
        """The reason a client with ``info`` should give."""
        if self.applies_if is not None and not POLICIES[self.applies_if](info):
            return Reason.OK
        return self.cause

    def alternatives_for(self, info: ClientInfo) -> tuple[Alternative, ...]:
        """The alternatives that apply to ``info`` (none when the cause does not apply)."""
        if self.reason_for(info) is not self.cause:
            return ()
        return self.alternatives


def expect(cause: Reason, applies_if: str | None = None, *alternatives: Alternative) -> Expectation:
    return Expectation(cause, applies_if, tuple(alternatives))


@dataclass(frozen=True, eq=False)
class Case:
    """One corpus case.

    ``certs`` holds every certificate the case made, by label (DER, possibly malformed on
    purpose); ``chain`` the labels the server sends, leaf first; ``trust`` the labels in
    the trust bundle every client is given; ``key_pem`` the leaf's private key.
    ``hostname`` is the name clients connect with and check; ``connect_to`` the address
    they connect to when the name does not resolve to loopback by itself. ``position``
    is the label of the certificate that carries the fault (None: the whole chain, or
    none). ``malformed`` labels the certificates whose extensions do not decode on
    purpose. ``facts`` are construction details the build tests check."""

    id: str
    family: str
    description: str
    certs: Mapping[str, bytes]
    chain: tuple[str, ...]
    trust: tuple[str, ...]
    key_pem: bytes
    expectation: Expectation
    hostname: str = "localhost"
    connect_to: str | None = None
    position: str | None = None
    malformed: tuple[str, ...] = ()
    facts: Mapping[str, object] = field(default_factory=dict)

    @property
    def chain_der(self) -> tuple[bytes, ...]:
        return tuple(self.certs[label] for label in self.chain)

    @property
    def trust_der(self) -> tuple[bytes, ...]:
        return tuple(self.certs[label] for label in self.trust)

    @property
    def cause(self) -> Reason:
        return self.expectation.cause


@dataclass(frozen=True)
class Corpus:
    """Every case, generated for one reference time (validity windows are relative to it)."""

    reference: dt.datetime
    cases: tuple[Case, ...]

    def get(self, case_id: str) -> Case:
        for case in self.cases:
            if case.id == case_id:
                return case
        raise KeyError(f"unknown corpus case {case_id!r}")

    @property
    def families(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c.family for c in self.cases))

    def select(self, families: tuple[str, ...] | None = None) -> Corpus:
        """The cases of ``families`` only (all when None)."""
        if not families:
            return self
        unknown = set(families) - set(self.families)
        if unknown:
            raise KeyError(f"unknown corpus families {sorted(unknown)}; known: {self.families}")
        return Corpus(self.reference, tuple(c for c in self.cases if c.family in families))
