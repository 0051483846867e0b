"""Running the matrix on the lab: every scenario x every client, each cell compared with
what the scenario predicts from the client's properties (trust profile, AIA fetching,
policy). A cell where reality differs from the prediction is a finding, and is marked."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from tlsmatrix.clients.base import Client, ClientInfo, Observation, Target, Verdict
from tlsmatrix.lab.scenarios import ClientProps, Expectation, Scenario
from tlsmatrix.reports.colour import paint
from tlsmatrix.results.model import SHORT_REASONS as _SHORT
from tlsmatrix.results.model import RunResult
from tlsmatrix.runner.matrix import TrustPlan, run_matrix


@dataclass(frozen=True)
class LabTarget:
    """A running scenario as the lab run needs it (from a Lab or from an export)."""

    name: str
    target: Target
    scenario: Scenario


@dataclass(frozen=True)
class LabCell:
    scenario: str
    client: str
    observed: Observation
    expected: Expectation | None  # None for a skipped client

    @property
    def matches(self) -> bool:
        if self.expected is None:
            return True
        return self.expected.matches(self.observed.verdict, self.observed.reason)


@dataclass(frozen=True)
class LabRun:
    run: RunResult
    cells: tuple[LabCell, ...]
    scenarios: tuple[str, ...]
    profiles: Mapping[str, str] = field(default_factory=dict)  # client -> profile name

    def mismatches(self) -> list[LabCell]:
        return [c for c in self.cells if not c.matches]


def props_for(info: ClientInfo, profile: str) -> ClientProps:
    """The properties a scenario's prediction may depend on: never the client's name.
    Behaviours ClientInfo does not carry yet come from the lab's measured table."""
    from tlsmatrix.lab.behaviours import behaviour_props

    return ClientProps(
        name=info.name,
        fetches_aia=info.fetches_aia,
        trust=profile,
        checks_revocation=info.checks_revocation,
        min_rsa_bits=info.min_rsa_bits,
        rejects_sha1=info.rejects_sha1,
        **behaviour_props(info),
    )


def run_lab(
    targets: Sequence[LabTarget],
    clients: Sequence[Client],
    trust_profiles: Mapping[str, str],
    *,
    profile_for: Mapping[str, str] | None = None,
    default_profile: str = "certifi-like",
    timeout: float = 10.0,
    jobs: int = 8,
    progress: Callable[[int, int, Observation], None] | None = None,
    aia_log: Callable[[], Sequence[Any]] | None = None,
) -> LabRun:
    """Run ``clients`` on the lab ``targets``; each client trusts the profile named in
    ``profile_for`` (else ``default_profile``)."""
    profile_for = dict(profile_for or {})
    profiles = {c.name: profile_for.get(c.name, default_profile) for c in clients}
    # Every profile is a store the diagnosis may read to name a missing link, even the ones
    # no client was given (the workstation profile holds the lab's intermediate).
    plan = TrustPlan(
        per_client={n: trust_profiles[p] for n, p in profiles.items()},
        known_stores=tuple(str(p) for p in trust_profiles.values()),
    )
    run = run_matrix(
        [t.target for t in targets],
        clients,
        trust=plan,
        timeout=timeout,
        jobs=jobs,
        progress=progress,
        aia_log=aia_log,
    )
    infos = {i.name: i for i in run.clients}
    by_target = {t.target.name: t for t in targets}
    cells = []
    for obs in run.results:
        lab_target = by_target[obs.target]
        info = infos[obs.client]
        expected = (
            lab_target.scenario.expect(props_for(info, profiles[obs.client]))
            if info.available
            else None
        )
        cells.append(LabCell(lab_target.name, obs.client, obs, expected))
    lab_meta = {
        "scenarios": {t.target.name: t.name for t in targets},
        "profiles": profiles,
        "cells": [
            {
                "scenario": c.scenario,
                "client": c.client,
                "expected_verdict": c.expected.verdict.value if c.expected else None,
                "expected_reasons": sorted(r.value for r in c.expected.reasons)
                if c.expected
                else [],
                "why": c.expected.why if c.expected else "",
                "matches": c.matches,
            }
            for c in cells
        ],
    }
    run = replace(run, extra={**run.extra, "lab": lab_meta})
    return LabRun(run, tuple(cells), tuple(t.name for t in targets), profiles)


# --- rendering ------------------------------------------------------------------------


def cell_text(obs: Observation) -> str:
    if obs.verdict is Verdict.ACCEPT:
        return "ok"
    if obs.verdict is Verdict.SKIPPED:
        return "-"
    if obs.verdict is Verdict.TIMEOUT:
        return "timeout"
    if obs.verdict is Verdict.ERROR:
        return f"E:{_SHORT.get(obs.reason, obs.reason.value)}"
    return "x " + _SHORT.get(obs.reason, obs.reason.value)


def render_lab_matrix(lab: LabRun, *, colour: bool = False) -> str:
    """Scenarios down, clients across; '!' marks a cell that differs from the prediction."""
    from tabulate import tabulate

    clients = list(dict.fromkeys(c.client for c in lab.cells))
    grid: dict[tuple[str, str], LabCell] = {(c.scenario, c.client): c for c in lab.cells}
    rows = []
    for scenario in lab.scenarios:
        row = [scenario]
        for client in clients:
            cell = grid.get((scenario, client))
            if cell is None:
                row.append("")
                continue
            text = cell_text(cell.observed) + ("" if cell.matches else " !")
            row.append(paint(text, cell.observed.verdict.value, colour))
        rows.append(row)
    out = [tabulate(rows, headers=["scenario", *clients], tablefmt="simple")]
    trusts = sorted(
        {
            (p, ", ".join(sorted(c for c, q in lab.profiles.items() if q == p)))
            for p in lab.profiles.values()
        }
    )
    out.append("")
    out.append("Trust: " + "; ".join(f"{p}: {names}" for p, names in trusts))
    out.append(
        "Legend: ok accept · x REASON reject (chain = incomplete_chain, root = "
        "untrusted_root, self, expired, notyet, host, key, sig, revoked, hs = "
        "handshake_failure) · E: error · - skipped · ! differs from the prediction"
    )
    skipped = sorted({c.client for c in lab.cells if c.observed.verdict is Verdict.SKIPPED})
    if skipped:
        reasons = {c.client: c.observed.detail for c in lab.cells}
        out.append("Skipped: " + "; ".join(f"{n} ({reasons[n]})" for n in skipped))
    mismatches = lab.mismatches()
    if mismatches:
        out.append("")
        out.append(f"{len(mismatches)} cell(s) differ from the prediction:")
        for c in mismatches:
            assert c.expected is not None
            want = c.expected.verdict.value + (
                f" ({', '.join(sorted(r.value for r in c.expected.reasons))})"
                if c.expected.reasons
                else ""
            )
            out.append(
                f"  {c.scenario} × {c.client}: expected {want} — {c.expected.why}; "
                f"got {c.observed.verdict.value} ({c.observed.reason.value}): "
                f"{c.observed.detail[:120]}"
            )
    else:
        out.append("Every cell matches the prediction from the client's properties.")
    return "\n".join(out) + "\n"
