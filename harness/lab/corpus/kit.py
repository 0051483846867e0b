"""The small toolkit every corpus family builds its cases with."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from cryptography import x509
from cryptography.x509.oid import NameOID
from tlsmatrix.lab.corpus.certs import ORGANIZATION, Forge, Issued
from tlsmatrix.lab.corpus.model import Case, Expectation

LOOPBACK = "127.0.0.1"


class Kit:
    """Builds one case ``family/variation``: a Forge that already holds the corpus's shared
    root under the label ``root`` (a family that needs its own root issues another one
    under that label)."""

    def __init__(self, family: str, variation: str, reference: dt.datetime, root: Issued):
        self.family = family
        self.id = f"{family}/{variation}"
        self.forge = Forge(self.id, reference)
        self.forge.add(root)

    @property
    def root(self) -> Issued:
        return self.forge.issued["root"]

    def own_root(self, **kwargs: object) -> Issued:
        """A root of this case only (kwargs as Forge.issue), replacing the shared one."""
        return self.forge.issue("root", "root", **kwargs)  # type: ignore[arg-type]

    def intermediates(self, depth: int, issuer: Issued | None = None) -> list[Issued]:
        """I1 .. I<depth>, I1 issued by ``issuer`` (the root by default)."""
        chain = []
        parent = issuer or self.root
        for n in range(1, depth + 1):
            parent = self.forge.issue(f"I{n}", "ca", parent)
            chain.append(parent)
        return chain

    def leaf(
        self,
        issuer: Issued | None,
        hostname: str = "localhost",
        *,
        san: Sequence[str] | None = None,
        cn: str | None = None,
        **kwargs: object,
    ) -> Issued:
        """The leaf for ``hostname``: CN and SAN name it unless ``cn``/``san`` say otherwise
        (``san=()`` leaves the SAN out)."""
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, self.id),
                x509.NameAttribute(NameOID.COMMON_NAME, cn or hostname),
            ]
        )
        names = (hostname,) if san is None else tuple(san)
        return self.forge.issue(
            "leaf",
            "leaf",
            issuer,
            subject=subject,
            san=names,
            **kwargs,  # type: ignore[arg-type]
        )

    def case(
        self,
        description: str,
        chain: Sequence[str],
        trust: Sequence[str],
        expectation: Expectation,
        *,
        hostname: str = "localhost",
        position: str | None = None,
        malformed: Sequence[str] = (),
        **facts: object,
    ) -> Case:
        issued = self.forge.issued
        missing = [label for label in (*chain, *trust) if label not in issued]
        if missing:
            raise ValueError(f"{self.id}: no certificate labelled {missing}")
        return Case(
            id=self.id,
            family=self.family,
            description=description,
            certs={label: i.der for label, i in issued.items()},
            chain=tuple(chain),
            trust=tuple(trust),
            key_pem=issued[chain[0]].key_pem(),
            expectation=expectation,
            hostname=hostname,
            connect_to=None if hostname == "localhost" else LOOPBACK,
            position=position,
            malformed=tuple(malformed),
            facts=dict(facts),
        )
