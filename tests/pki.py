"""The core tests' PKI, made with the lab's certificate builder
(:mod:`tlsmatrix.lab.certbuilder`): Test Root -> Test Intermediate -> leaves, and an
unrelated Other Root, each chain written to a directory for a TLSServer."""

from __future__ import annotations

import os
from dataclasses import dataclass

from tlsmatrix.lab.certbuilder import DAY, Issued, issue_ca, issue_leaf, now

NAMES = ("localhost", "127.0.0.1", "::1", "backend.invalid")


@dataclass(frozen=True)
class Served:
    """What one test server presents: PEM chain file (leaf first) and key file."""

    chain: str
    key: str


@dataclass(frozen=True)
class CorePKI:
    directory: str
    root_pem: str  # Test Root only (like certifi: roots only)
    root_and_intermediate_pem: str  # like a workstation that cached the intermediate
    other_root_pem: str
    chains: dict[str, Served]


def _write(path: str, data: bytes) -> str:
    with open(path, "wb") as handle:
        handle.write(data)
    return path


def make_pki(directory: str) -> CorePKI:
    root = issue_ca("Test Root CA", organization="Test Root")
    intermediate = issue_ca("Test Intermediate CA", root, organization="Test Root")
    other_root = issue_ca("Other Root CA", organization="Other Root")
    other_intermediate = issue_ca("Other Intermediate CA", other_root, organization="Other Root")
    start = now()

    def serve(name: str, leaf: Issued, *chain: Issued) -> Served:
        return Served(
            _write(
                os.path.join(directory, f"{name}.chain.pem"),
                leaf.pem + b"".join(c.pem for c in chain),
            ),
            _write(os.path.join(directory, f"{name}.key.pem"), leaf.key_pem),
        )

    good = issue_leaf(intermediate, NAMES)
    expired = issue_leaf(
        intermediate, NAMES, not_before=start - 60 * DAY, not_after=start - 30 * DAY
    )
    chains = {
        "good": serve("good", good, intermediate),
        "leaf_only": serve("leaf_only", good),
        "expired": serve("expired", expired, intermediate),
        "wrong_host": serve(
            "wrong_host", issue_leaf(intermediate, ("wrong.host.example",)), intermediate
        ),
        "untrusted_root": serve(
            "untrusted_root", issue_leaf(other_intermediate, NAMES), other_intermediate, other_root
        ),
        "self_signed": serve("self_signed", issue_leaf(None, ("localhost", "127.0.0.1"))),
    }
    return CorePKI(
        directory=directory,
        root_pem=_write(os.path.join(directory, "root.pem"), root.pem),
        root_and_intermediate_pem=_write(
            os.path.join(directory, "root+intermediate.pem"), root.pem + intermediate.pem
        ),
        other_root_pem=_write(os.path.join(directory, "other_root.pem"), other_root.pem),
        chains=chains,
    )
