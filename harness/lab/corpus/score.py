"""Scoring corpus cells: is a client's reason the constructed cause?

A cell is ``correct`` when the client's verdict and reason are what the case expects for
that client's properties, ``acceptable`` when they are one of the case's documented
alternatives, ``mismatch`` otherwise, and ``skipped`` when the client was unavailable.
Reason accuracy = correct rejecting cells / all rejecting cells, per client.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from tlsmatrix._attrs import pick
from tlsmatrix.clients.base import ClientInfo, Observation, Reason, Verdict, verdict_for
from tlsmatrix.lab.corpus.model import Alternative, Case
from tlsmatrix.results.model import RunResult

Grade = Literal["correct", "acceptable", "mismatch", "skipped"]


@dataclass(frozen=True)
class Mismatch:
    case: str
    client: str
    expected: Reason
    alternatives: tuple[Reason, ...]
    verdict: Verdict
    got: Reason
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "case": self.case,
            "client": self.client,
            "expected": self.expected.value,
            "alternatives": [r.value for r in self.alternatives],
            "verdict": self.verdict.value,
            "got": self.got.value,
            "detail": self.detail,
        }

    def line(self) -> str:
        alt = f" (or {', '.join(r.value for r in self.alternatives)})" if self.alternatives else ""
        return (
            f"{self.case} × {self.client}: expected {self.expected.value}{alt}, got "
            f"{self.verdict.value}/{self.got.value}: {' '.join(self.detail.split())[:160]}"
        )


@dataclass(frozen=True)
class CorpusCell:
    case: str
    family: str
    client: str
    expected: Reason
    alternatives: tuple[Alternative, ...]
    observed: Observation

    @classmethod
    def grade_of(cls, case: Case, info: ClientInfo, obs: Observation) -> CorpusCell:
        expected = case.expectation.reason_for(info)
        alternatives = case.expectation.alternatives_for(info)
        return cls(case.id, case.family, obs.client, expected, alternatives, obs)

    @property
    def grade(self) -> Grade:
        obs = self.observed
        if obs.verdict is Verdict.SKIPPED:
            return "skipped"
        if _is(obs, self.expected):
            return "correct"
        if any(_is(obs, alt.reason) for alt in self.alternatives):
            return "acceptable"
        return "mismatch"

    @property
    def as_vocabulary_asks(self) -> bool:
        """The constructed cause, or what the vocabulary asks for when the evidence cannot
        show it (an Alternative ``by_evidence``)."""
        obs = self.observed
        return _is(obs, self.expected) or any(
            alt.by_evidence and _is(obs, alt.reason) for alt in self.alternatives
        )

    @property
    def rejecting(self) -> bool:
        return self.observed.verdict is Verdict.REJECT

    @property
    def verdict_agrees(self) -> bool:
        wanted = {verdict_for(self.expected), *(verdict_for(a.reason) for a in self.alternatives)}
        return self.observed.verdict in wanted

    def mismatch(self) -> Mismatch:
        return Mismatch(
            case=self.case,
            client=self.client,
            expected=self.expected,
            alternatives=tuple(a.reason for a in self.alternatives),
            verdict=self.observed.verdict,
            got=self.observed.reason,
            detail=self.observed.detail,
        )


def _is(obs: Observation, reason: Reason) -> bool:
    return obs.reason is reason and obs.verdict is verdict_for(reason)


@dataclass(frozen=True)
class ClientScore:
    """One client's tally over the corpus (skipped cells left out)."""

    client: str
    cells: int
    rejecting: int
    correct_rejecting: int  # rejecting cells whose reason is the constructed cause
    acceptable_rejecting: int  # rejecting cells whose reason is a documented alternative
    vocabulary_rejecting: int  # rejecting cells whose reason is what the vocabulary asks for
    verdict_agreeing: int
    errors: int  # verdict error or timeout: no verdict where one was due
    mismatches: tuple[Mismatch, ...]

    @property
    def reason_accuracy(self) -> float | None:
        return self.correct_rejecting / self.rejecting if self.rejecting else None

    @property
    def reason_accuracy_with_alternatives(self) -> float | None:
        if not self.rejecting:
            return None
        return (self.correct_rejecting + self.acceptable_rejecting) / self.rejecting

    @property
    def reason_accuracy_by_vocabulary(self) -> float | None:
        """Correct when the reason is the cause, or the vocabulary's answer where the
        evidence cannot show the cause; what is left are client behaviours."""
        return self.vocabulary_rejecting / self.rejecting if self.rejecting else None

    @property
    def verdict_agreement(self) -> float | None:
        return self.verdict_agreeing / self.cells if self.cells else None

    def to_dict(self) -> dict[str, Any]:
        return {
            **pick(
                self, "client", "cells", "rejecting", "correct_rejecting", "acceptable_rejecting"
            ),
            "reason_accuracy": _round(self.reason_accuracy),
            "reason_accuracy_by_vocabulary": _round(self.reason_accuracy_by_vocabulary),
            "reason_accuracy_with_alternatives": _round(self.reason_accuracy_with_alternatives),
            "verdict_agreeing": self.verdict_agreeing,
            "verdict_agreement": _round(self.verdict_agreement),
            "errors": self.errors,
            "mismatches": [m.to_dict() for m in self.mismatches],
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def score_cells(cells: Sequence[CorpusCell], clients: Sequence[str]) -> dict[str, ClientScore]:
    scores = {}
    for client in clients:
        mine = [c for c in cells if c.client == client and c.grade != "skipped"]
        rejecting = [c for c in mine if c.rejecting]
        scores[client] = ClientScore(
            client=client,
            cells=len(mine),
            rejecting=len(rejecting),
            correct_rejecting=sum(c.grade == "correct" for c in rejecting),
            acceptable_rejecting=sum(c.grade == "acceptable" for c in rejecting),
            vocabulary_rejecting=sum(c.as_vocabulary_asks for c in rejecting),
            verdict_agreeing=sum(c.verdict_agrees for c in mine),
            errors=sum(c.observed.verdict in (Verdict.ERROR, Verdict.TIMEOUT) for c in mine),
            mismatches=tuple(c.mismatch() for c in mine if c.grade == "mismatch"),
        )
    return scores


@dataclass(frozen=True)
class CorpusRun:
    cells: tuple[CorpusCell, ...]
    scores: Mapping[str, ClientScore]
    unservable: tuple[tuple[str, str], ...]
    clients: tuple[ClientInfo, ...]
    runs: tuple[RunResult, ...] = ()
    raw_served: tuple[str, ...] = ()  # cases only RawTLSServer could send (TLS 1.2)

    def mismatches(self) -> list[Mismatch]:
        return [m for s in self.scores.values() for m in s.mismatches]

    def to_dict(self) -> dict[str, Any]:
        return {
            "cases": len({c.case for c in self.cells}) + len(self.unservable),
            "unservable": [{"case": c, "why": why} for c, why in self.unservable],
            "served_by_raw_tls12": list(self.raw_served),
            "clients": {
                i.name: {
                    "available": i.available,
                    "version": i.version,
                    "min_rsa_bits": i.min_rsa_bits,
                    "rejects_sha1": i.rejects_sha1,
                    "partial_chain": i.partial_chain,
                }
                for i in self.clients
            },
            "scores": {name: s.to_dict() for name, s in self.scores.items()},
            "cells": [
                {
                    "case": c.case,
                    "client": c.client,
                    "expected": c.expected.value,
                    "alternatives": [a.reason.value for a in c.alternatives],
                    "verdict": c.observed.verdict.value,
                    "reason": c.observed.reason.value,
                    "reason_source": c.observed.reason_source.value,
                    "grade": c.grade,
                }
                for c in self.cells
            ],
        }


def markdown_table(run: CorpusRun) -> str:
    """Per client: rejecting cells, reason accuracy (the constructed cause; the cause or
    what the vocabulary asks for where the evidence cannot show it; counting every
    documented alternative) and verdict agreement, as a GitHub markdown table."""
    lines = [
        "| client | cells | rejecting | reason correct | reason accuracy | "
        "as the vocabulary asks | with documented alternatives | verdict agreement | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, s in run.scores.items():
        if not s.cells:
            lines.append(f"| {name} | unavailable | | | | | | | |")
            continue
        lines.append(
            f"| {name} | {s.cells} | {s.rejecting} | {s.correct_rejecting} | "
            f"{_pct(s.reason_accuracy)} | {_pct(s.reason_accuracy_by_vocabulary)} | "
            f"{_pct(s.reason_accuracy_with_alternatives)} | "
            f"{_pct(s.verdict_agreement)} | {s.errors} |"
        )
    return "\n".join(lines) + "\n"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def family_table(run: CorpusRun) -> str:
    """Families down, clients across: "correct/rejecting" per cell (reason accuracy by
    family), "-" where a client rejected nothing in that family."""
    clients = [name for name, s in run.scores.items() if s.cells]
    families = list(dict.fromkeys(c.family for c in run.cells))
    lines = [
        "| family | " + " | ".join(clients) + " |",
        "|---|" + "---:|" * len(clients),
    ]
    for family in families:
        row = [family]
        for client in clients:
            rejecting = [
                c for c in run.cells if c.family == family and c.client == client and c.rejecting
            ]
            correct = sum(c.grade == "correct" for c in rejecting)
            row.append(f"{correct}/{len(rejecting)}" if rejecting else "-")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"
