"""The markdown report, for a pull-request comment or a CI job summary
(``$GITHUB_STEP_SUMMARY``): one matrix of targets x clients with ✅/❌ and reasons, then
who disagrees and why, then unmet expectations and the details of every non-accept.

Everything that comes from a server or a client (details, names) is escaped, so a
certificate subject cannot inject markup into the comment."""

from __future__ import annotations

import re

from tlsmatrix.clients.base import Observation, ReasonSource, Verdict
from tlsmatrix.reports import grid
from tlsmatrix.results.expectations import ExpectationResult
from tlsmatrix.results.model import INFERRED_NOTE, RunResult, judged_at_line, reason_text

ICONS = {
    Verdict.ACCEPT: "✅",
    Verdict.REJECT: "❌",
    Verdict.ERROR: "⚠️",
    Verdict.TIMEOUT: "⏱️",
    Verdict.SKIPPED: "➖",
}
DETAIL_WIDTH = 300

# CommonMark lets a backslash escape any ASCII punctuation; these are the ones that could
# start markup (or an HTML tag, an entity, a table cell) inside our text.
_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|~&])")


def md_escape(text: str) -> str:
    """Text as literal markdown: markup characters escaped, lines joined."""
    return _SPECIAL.sub(r"\\\1", " ".join(text.split()))


def cell_text(obs: Observation | None) -> str:
    """'✅ accept', '❌ incomplete_chain', '⚠️ error: connection_refused', ..."""
    if obs is None:
        return "·"
    icon = ICONS[obs.verdict]
    if obs.verdict is Verdict.ACCEPT:
        return f"{icon} accept"
    if obs.verdict is Verdict.REJECT:
        return f"{icon} {md_escape(reason_text(obs))}"
    if obs.verdict is Verdict.SKIPPED:
        return f"{icon} skipped"
    return f"{icon} {obs.verdict.value}: {md_escape(reason_text(obs))}"


def render_markdown(run: RunResult, expectations: ExpectationResult | None = None) -> str:
    targets, clients, cells = grid(run)
    out: list[str] = []
    n_div = len(run.divergences)
    headline = (
        f"## tlsmatrix: {len(targets)} target{'s' * (len(targets) != 1)} × "
        f"{len(clients)} client{'s' * (len(clients) != 1)}, "
        f"{n_div} disagreement{'s' * (n_div != 1)}"
    )
    if expectations is not None:
        n = len(expectations.violations)
        headline += (
            ", expectations met ✅"
            if expectations.passed
            else f", {n} expectation{'s' * (n != 1)} violated ❌"
        )
    out += [headline, ""]
    judged = judged_at_line(run)
    if judged:
        out += [f"> {md_escape(judged)}", ""]
    if run.partial:
        out += ["> **Partial results:** the run was interrupted or a shard is missing.", ""]
    if any(o.reason_source is ReasonSource.INFERRED for o in run.results):
        out += [f"> {md_escape(INFERRED_NOTE)}", ""]
    if targets:
        out.append("| target | " + " | ".join(md_escape(c) for c in clients) + " |")
        out.append("|---|" + "---|" * len(clients))
        for target in targets:
            row = []
            for client in clients:
                text = cell_text(cells.get((target, client)))
                if expectations is not None and expectations.for_cell(target, client):
                    text += " **(unexpected)**"
                row.append(text)
            name = md_escape(run.target_label(target))
            if expectations is not None and expectations.for_target(target):
                name += " **(unexpected)**"
            out.append(f"| {name} | " + " | ".join(row) + " |")
        out.append("")
    else:
        out += ["No targets in this run.", ""]

    if run.divergences:
        out += ["### Disagreements", ""]
        for d in run.divergences:
            line = f"- **{md_escape(run.target_label(d.target))}**: {md_escape(d.summary())}"
            if d.explanation:
                line += f"  \n  Why: {md_escape(d.explanation)}"
            out.append(line)
        out.append("")

    if expectations is not None and expectations.violations:
        out += [f"### Unmet expectations ({md_escape(expectations.source)})", ""]
        out += [f"- {md_escape(v.message())}" for v in expectations.violations]
        out.append("")

    noteworthy = [o for o in run.results if o.verdict is not Verdict.ACCEPT or o.explanation]
    if noteworthy:
        out += ["<details><summary>Details</summary>", ""]
        for target in targets:
            mine = [o for o in noteworthy if o.target == target]
            if not mine:
                continue
            label = run.target_label(target)
            full = f" ({md_escape(target)})" if label != target else ""
            out.append(f"**{md_escape(label)}**{full}")
            out.append("")
            for o in mine:
                detail = (
                    o.detail if len(o.detail) <= DETAIL_WIDTH else o.detail[:DETAIL_WIDTH] + "…"
                )
                line = f"- {md_escape(o.client)}: {o.verdict.value} ({reason_text(o)})"
                if detail:
                    line += f" — {md_escape(detail)}"
                if o.explanation:
                    line += f"  \n  {md_escape(o.explanation)}"
                out.append(line)
            out.append("")
        out += ["</details>", ""]
    return "\n".join(out).rstrip() + "\n"
