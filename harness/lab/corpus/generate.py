"""Generating the corpus: every family's cases for one reference time."""

from __future__ import annotations

import datetime as dt
import functools

from tlsmatrix.lab.corpus import families_chain, families_rules
from tlsmatrix.lab.corpus.model import Corpus

FAMILY_FUNCTIONS = (*families_chain.FAMILIES, *families_rules.FAMILIES)


def reference_day(now: dt.datetime | None = None) -> dt.datetime:
    """Midnight UTC of ``now`` (today by default): validity windows are relative to it, so
    a corpus built any time on one day has the same dates."""
    now = now or dt.datetime.now(dt.UTC)
    return dt.datetime(now.year, now.month, now.day, tzinfo=dt.UTC)


def build_corpus(reference: dt.datetime | None = None) -> Corpus:
    """Every case, dated from ``reference`` (midnight UTC today by default). Names, serials,
    dates and extensions depend only on the case and ``reference``; keys are fresh per
    build, but a build is cached per reference, so a session generates it once."""
    return _build(reference_day(reference))


@functools.lru_cache(maxsize=4)
def _build(reference: dt.datetime) -> Corpus:
    from tlsmatrix.lab.corpus.certs import Forge
    from tlsmatrix.lab.corpus.kit import Kit

    root = Forge("shared", reference).issue("root", "root")

    def new(family: str, variation: str) -> Kit:
        return Kit(family, variation, reference, root)

    cases = [case for family in FAMILY_FUNCTIONS for case in family(new)]
    seen: set[str] = set()
    for case in cases:
        if case.id in seen:
            raise ValueError(f"duplicate corpus case id {case.id!r}")
        seen.add(case.id)
    return Corpus(reference, tuple(cases))
