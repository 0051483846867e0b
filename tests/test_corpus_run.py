"""The conformance corpus through real clients: every case served on 127.0.0.1 by a
TLSServer, run by the fast clients (stdlib, requests, httpx in process; curl and openssl
as subprocesses) through the product's own run_matrix, each cell scored against the
constructed cause for that client's measured properties.

Every cell must hold: a cell per case and client, rejections reported as rejections, the
verdict the client's measured properties predict, and a reason that is the constructed
cause or a documented alternative of that case."""

from __future__ import annotations

import json
import os

import pytest
from tlsmatrix.clients.base import Reason, Verdict
from tlsmatrix.lab.corpus import build_corpus, run_corpus, serve_corpus
from tlsmatrix.lab.corpus.score import markdown_table
from tlsmatrix.runner.pool import load_clients

IN_CI = bool(os.environ.get("CI"))
FAST_CLIENTS = ("stdlib", "requests", "httpx", "curl", "openssl")


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory):
    corpus = build_corpus()
    loaded = load_clients(FAST_CLIENTS)
    with serve_corpus(corpus, tmp_path_factory.mktemp("corpus")) as served:
        run = run_corpus(served, loaded, timeout=8, jobs=4)
    report = tmp_path_factory.getbasetemp() / "corpus-accuracy.json"
    report.write_text(json.dumps(run.to_dict(), indent=2))
    return corpus, served, run


def test_every_case_and_client_has_a_cell(corpus_run):
    corpus, served, run = corpus_run
    servable = {s.case.id for s in served if s.target is not None}
    cells = {(c.case, c.client) for c in run.cells}
    assert cells == {(case, client) for case in servable for client in FAST_CLIENTS}
    assert len(run.cells) == len(servable) * len(FAST_CLIENTS)
    # Every case is served; only a leaf whose extensions do not decode (which Python's ssl
    # refuses to load) needs the raw TLS 1.2 server.
    assert run.unservable == ()
    assert len(servable) == len(corpus.cases) >= 60
    raw = {s.case.id for s in served if s.server == "raw-tls12"}
    assert raw == set(run.raw_served)
    assert raw == {c.id for c in corpus.cases if "leaf" in c.malformed} - {
        s.case.id for s in served if s.server == "python-ssl"
    }
    assert raw, "the corpus has a leaf only the raw server can send"


def test_every_client_ran(corpus_run):
    _, _, run = corpus_run
    skipped = {
        c.client: c.observed.detail for c in run.cells if c.observed.verdict is Verdict.SKIPPED
    }
    if IN_CI:
        assert skipped == {}, "CI must exercise every fast client"
    for name in set(FAST_CLIENTS) - set(skipped):
        assert run.scores[name].cells > 0


def test_rejections_are_reported_as_rejections(corpus_run):
    """A client that refuses a certificate yields verdict reject, never error or timeout,
    and a certificate fault is never reported as an accepted connection with a reason."""
    _, _, run = corpus_run
    bad = [
        (c.case, c.client, c.observed.verdict.value, c.observed.reason.value, c.observed.detail)
        for c in run.cells
        if c.observed.verdict in (Verdict.ERROR, Verdict.TIMEOUT)
    ]
    assert bad == []
    for cell in run.cells:
        if cell.observed.verdict is Verdict.ACCEPT:
            assert cell.observed.reason is Reason.OK
        if cell.observed.verdict is Verdict.REJECT:
            assert cell.observed.reason is not Reason.OK


def test_scoring_accounts_for_every_cell(corpus_run, record_property):
    _, _, run = corpus_run
    for name, score in run.scores.items():
        mine = [c for c in run.cells if c.client == name and c.grade != "skipped"]
        assert score.cells == len(mine)
        grades = [c.grade for c in mine]
        assert grades.count("mismatch") == len(score.mismatches)
        rejecting = [c for c in mine if c.rejecting]
        assert score.rejecting == len(rejecting)
        assert score.correct_rejecting == sum(c.grade == "correct" for c in rejecting)
        if score.rejecting:
            assert (
                0.0
                <= score.reason_accuracy
                <= score.reason_accuracy_by_vocabulary
                <= score.reason_accuracy_with_alternatives
                <= 1
            )
        record_property(f"reason_accuracy_{name}", score.reason_accuracy)
        record_property(f"verdict_agreement_{name}", score.verdict_agreement)
    print("\n" + markdown_table(run))


def test_control_cases_are_accepted(corpus_run):
    """Chains with no fault (the complete controls) are accepted by every client: the
    harness, servers and trust plumbing are sound, so a rejection elsewhere is the case's."""
    corpus, _, run = corpus_run
    controls = {
        c.id for c in corpus.cases if c.cause is Reason.OK and not c.expectation.alternatives
    }
    for cell in run.cells:
        if cell.case in controls and cell.observed.verdict is not Verdict.SKIPPED:
            assert cell.observed.verdict is Verdict.ACCEPT, (
                cell.case,
                cell.client,
                cell.observed.detail,
            )


def test_verdicts_follow_the_clients_measured_properties(corpus_run):
    """Accept or reject as the case expects for the client's ClientInfo (partial_chain,
    min_rsa_bits, rejects_sha1), or as one of its documented alternatives."""
    _, _, run = corpus_run
    wrong = [
        m.line()
        for c in run.cells
        if c.grade != "skipped" and not c.verdict_agrees
        for m in [c.mismatch()]
    ]
    assert wrong == []


def test_reason_accuracy_is_complete(corpus_run):
    """Issue 12's bar: every rejection names the constructed cause or a documented
    alternative of that case (the fast clients here; benchmarks/accuracy.py runs them all)."""
    _, _, run = corpus_run
    assert [m.line() for m in run.mismatches()] == [], markdown_table(run)


def test_accuracy_benchmark_writes_its_table_and_json(tmp_path):
    from tests._cli import python
    from tests.conftest import clean_environ

    out = tmp_path / "accuracy.json"
    args = ["--clients", "stdlib", "--family", "names", "--json", str(out)]
    done = python("benchmarks/accuracy.py", *args, env=clean_environ())
    assert done.returncode == 0, done.stderr
    assert "| stdlib | 6 |" in done.stdout
    result = json.loads(out.read_text())
    assert result["scores"]["stdlib"]["cells"] == 6
    assert {c["case"] for c in result["cells"]} == {
        c.id for c in build_corpus().cases if c.family == "names"
    }
    bad = python("benchmarks/accuracy.py", "--clients", "no-such-client", env=clean_environ())
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    assert "Traceback" not in bad.stderr
