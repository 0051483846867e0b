"""Corpus scoring, pure logic: the vocabulary's answer where the evidence cannot show the
cause counts as correct "as the vocabulary asks"; a client's documented behaviour does not."""

from __future__ import annotations

from tlsmatrix.clients.base import Observation, Reason, verdict_for
from tlsmatrix.lab.corpus.model import Alternative
from tlsmatrix.lab.corpus.score import CorpusCell, score_cells

EVIDENCE = Alternative(Reason.UNKNOWN_ISSUER, "gap under the anchor", by_evidence=True)
BEHAVIOUR = Alternative(Reason.NOT_A_CA, "the client names the CA check", "some_policy")


def cell(said: Reason, *alternatives: Alternative, client: str = "c") -> CorpusCell:
    obs = Observation("https://t", client, verdict_for(said), said)
    return CorpusCell("case", "family", client, Reason.INCOMPLETE_CHAIN, alternatives, obs)


def test_the_vocabularys_answer_counts_a_clients_behaviour_does_not() -> None:
    cells = [
        cell(Reason.INCOMPLETE_CHAIN, EVIDENCE),  # the cause
        cell(Reason.UNKNOWN_ISSUER, EVIDENCE),  # what the vocabulary asks for
        cell(Reason.NOT_A_CA, BEHAVIOUR),  # a documented client behaviour
        cell(Reason.UNTRUSTED_ROOT, EVIDENCE),  # wrong
    ]
    assert [c.as_vocabulary_asks for c in cells] == [True, True, False, False]
    assert [c.grade for c in cells] == ["correct", "acceptable", "acceptable", "mismatch"]
    score = score_cells(cells, ["c"])["c"]
    assert (score.correct_rejecting, score.vocabulary_rejecting) == (1, 2)
    assert score.acceptable_rejecting == 2 and score.rejecting == 4
    assert score.reason_accuracy_by_vocabulary == 0.5
    assert score.to_dict()["reason_accuracy_by_vocabulary"] == 0.5
