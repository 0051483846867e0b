"""A representative slice of the conformance corpus through EVERY client (the fast ones
run the whole corpus in test_corpus_run.py; benchmarks/accuracy.py runs it all with every
client). One rejecting case per family, plus a complete control: each cell must be the
constructed cause, or a documented alternative of that case, for that client's measured
properties. Under CI a missing client fails here rather than skipping."""

from __future__ import annotations

import pytest
from tlsmatrix.clients.base import Reason, Verdict
from tlsmatrix.lab.corpus import build_corpus, run_corpus, serve_corpus
from tlsmatrix.lab.corpus.model import Corpus
from tlsmatrix.lab.corpus.score import markdown_table
from tlsmatrix.runner.pool import load_clients

from tests.conftest import in_ci


def representative(corpus: Corpus) -> Corpus:
    """The first case of every family whose cause is a rejection, and the first control."""
    chosen, families = [], set()
    for case in corpus.cases:
        if case.cause is not Reason.OK and case.family not in families:
            families.add(case.family)
            chosen.append(case)
    chosen.append(next(c for c in corpus.cases if c.cause is Reason.OK))
    return Corpus(corpus.reference, tuple(chosen))


@pytest.fixture(scope="module")
def slice_run(tmp_path_factory):
    corpus = representative(build_corpus())
    loaded = load_clients(None)
    with serve_corpus(corpus, tmp_path_factory.mktemp("slice")) as served:
        run = run_corpus(served, loaded, timeout=15, jobs=4)
    return corpus, run


def test_the_slice_covers_every_family_and_client(slice_run):
    corpus, run = slice_run
    full = build_corpus()
    rejecting = {c.family for c in full.cases if c.cause is not Reason.OK}
    assert {c.family for c in corpus.cases} >= rejecting
    clients = {c.client for c in run.cells}
    assert clients == {c.name for c in load_clients(None)}
    skipped = {c.client: c.observed.detail for c in run.cells if c.grade == "skipped"}
    if in_ci():
        assert skipped == {}, "CI must exercise every client"


def test_every_clients_verdicts_and_reasons_hold_on_the_slice(slice_run):
    _, run = slice_run
    errors = [
        (c.case, c.client, c.observed.detail)
        for c in run.cells
        if c.observed.verdict in (Verdict.ERROR, Verdict.TIMEOUT)
    ]
    assert errors == []
    assert [m.line() for m in run.mismatches()] == [], markdown_table(run)
