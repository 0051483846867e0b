"""A small generated PKI for the benchmarks, made with the lab's certificate builder:
root -> intermediate -> leaf for ``localhost`` and ``127.0.0.1``; the server sends leaf +
intermediate, the bundle holds the root only (like certifi), so every client builds a
two-link chain."""

from __future__ import annotations

import os
from dataclasses import dataclass

from tlsmatrix.lab.certbuilder import issue_ca, issue_leaf


@dataclass(frozen=True)
class BenchPKI:
    chain: str  # leaf + intermediate, PEM
    key: str  # the leaf key, PEM
    bundle: str  # the root, PEM: the trust every probe is given


def make_pki(directory: str) -> BenchPKI:
    """Write the PKI into ``directory`` and return the paths."""
    root = issue_ca("Bench Root CA")
    inter = issue_ca("Bench Intermediate CA", root)
    leaf = issue_leaf(inter, ("localhost", "127.0.0.1"))

    def write(name: str, data: bytes) -> str:
        path = os.path.join(directory, name)
        with open(path, "wb") as handle:
            handle.write(data)
        return path

    return BenchPKI(
        chain=write("chain.pem", leaf.pem + inter.pem),
        key=write("key.pem", leaf.key_pem),
        bundle=write("root.pem", root.pem),
    )
