"""The demo's store-swap sentence follows what the swap returned."""

from __future__ import annotations

from tlsmatrix.clients.base import Observation, Reason, Verdict, verdict_for
from tlsmatrix.lab.demo import swap_summary
from tlsmatrix.results.model import RunResult


def run_of(**reasons: Reason) -> RunResult:
    rows = tuple(
        Observation("https://t.invalid", name, verdict_for(r), r) for name, r in reasons.items()
    )
    return RunResult(rows, (), {}, "")


def test_the_trust_store_sentence_only_when_the_swap_showed_it():
    shown = swap_summary(run_of(requests=Reason.OK, curl=Reason.INCOMPLETE_CHAIN))
    assert "requests now accepts and curl now rejects" in shown
    for run in (
        run_of(requests=Reason.INCOMPLETE_CHAIN, curl=Reason.INCOMPLETE_CHAIN),
        run_of(requests=Reason.OK, curl=Reason.OK),
        run_of(requests=Reason.TIMEOUT, curl=Reason.INCOMPLETE_CHAIN),
        run_of(curl=Reason.INCOMPLETE_CHAIN),
    ):
        text = swap_summary(run)
        assert "now accepts" not in text and "difference was the trust store" not in text
        assert text.strip().startswith("After the swap:")
    assert Verdict.REJECT is verdict_for(Reason.INCOMPLETE_CHAIN)
