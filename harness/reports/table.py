"""The terminal table: per target, a header line, one row per client, then who disagrees
with whom. The default fits 120 columns (short detail, the trust store's file name);
``wide`` shows every column in full. Colour is the caller's choice (reports.colour)."""

from __future__ import annotations

import os

from tabulate import tabulate
from tlsmatrix.clients.base import ReasonSource, TrustUsed
from tlsmatrix.reports.colour import paint
from tlsmatrix.results.model import (
    INFERRED_NOTE,
    RunResult,
    grouped,
    judged_at_line,
    reason_text,
)

HEADERS = ("client", "verdict", "reason", "detail", "TLS", "trusted", "time")
DETAIL_WIDTH = 32  # the default table's detail column (the full text is in --wide/JSON)
WIDE_DETAIL_WIDTH = 60


def short(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def short_path(path: str, width: int = 42) -> str:
    return path if len(path) <= width else "…" + path[-(width - 1) :]


def trust_label(trust: TrustUsed | None) -> str:
    """'bundle /x/workstation.pem' or 'native: certifi /…/cacert.pem' (the wide table)."""
    if trust is None:
        return "-"
    if trust.kind == "bundle":
        return f"bundle {short_path(trust.path or '?')}"
    where = f" {short_path(trust.path)}" if trust.path else ""
    return f"native: {trust.origin}{where}"


def compact_trust(trust: TrustUsed | None) -> str:
    """'bundle workstation.pem' or 'native (certifi)': what a person needs to tell them apart."""
    if trust is None:
        return "-"
    if trust.kind == "bundle":
        return short(f"bundle {os.path.basename(trust.path or '?')}", 24)
    return short(f"native ({trust.origin})", 24)


def render_table(run: RunResult, *, colour: bool = False, wide: bool = False) -> str:
    out: list[str] = []
    judged = judged_at_line(run)
    if judged:
        out += [paint(judged, "bold", colour), ""]
    for target in run.targets():
        mine = [o for o in run.results if o.target == target]
        rows = []
        for o in mine:
            verdict = o.verdict.value
            shown = verdict.upper() if verdict in ("accept", "reject") else verdict
            rows.append(
                (
                    o.client,
                    paint(shown, verdict, colour),
                    reason_text(o) if wide else short(reason_text(o), 20),
                    short(o.detail, WIDE_DETAIL_WIDTH if wide else DETAIL_WIDTH),
                    o.tls_version or "-",
                    trust_label(o.trust) if wide else compact_trust(o.trust),
                    f"{o.elapsed_ms / 1000:.2f}s",
                )
            )
        label = run.target_label(target)
        out.append(paint(label if label == target else f"{label}  ({target})", "bold", colour))
        out.append(tabulate(rows, headers=HEADERS, tablefmt="simple"))
        divergence = next((d for d in run.divergences if d.target == target), None)
        if divergence is not None:
            out.append(paint(f"Disagreement: {divergence.summary()}", "disagreement", colour))
        else:
            verdicts = {o.verdict.value for o in mine} - {"skipped"}
            if verdicts:
                out.append(f"All clients agree: {', '.join(sorted(verdicts))}.")
        why = grouped(mine)
        if why:
            out.append("Why:")
            out.extend(f"  {', '.join(clients)}: {text}" for clients, text in why)
        fix = (run.chains.get(target) or {}).get("fix")
        if fix:
            out.append(fix)
        out.append("")
    if any(o.reason_source is ReasonSource.INFERRED for o in run.results):
        out.append(INFERRED_NOTE)
    if run.partial:
        out.append("PARTIAL RESULTS: the run was interrupted.")
    return "\n".join(out).rstrip() + "\n"
