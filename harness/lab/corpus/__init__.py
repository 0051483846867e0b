"""The generated conformance corpus: certificate chains whose cause of rejection is known
by construction, served on loopback and run through real clients to measure how often a
client's reason is the constructed cause (issue 12, section 4).

``build_corpus()`` makes every case (cached per reference day); ``serve_corpus()`` serves
them on 127.0.0.1; ``run_corpus()`` runs clients over them and scores each cell. Cryptography
is imported only by the generator, so importing this package is cheap.
"""

from __future__ import annotations

from tlsmatrix.lab.corpus.generate import build_corpus
from tlsmatrix.lab.corpus.model import POLICIES, Alternative, Case, Corpus, Expectation
from tlsmatrix.lab.corpus.run import (
    CorpusCell,
    CorpusRun,
    Mismatch,
    ServedCase,
    run_corpus,
    serve_corpus,
)

__all__ = [
    "Alternative",
    "Case",
    "Corpus",
    "CorpusCell",
    "CorpusRun",
    "Expectation",
    "Mismatch",
    "POLICIES",
    "ServedCase",
    "build_corpus",
    "run_corpus",
    "serve_corpus",
]
