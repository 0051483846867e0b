"""The terminal table: per target, one row per client, then who disagrees with whom."""

from __future__ import annotations

from tabulate import tabulate
from tlsmatrix.clients.base import ReasonSource, TrustUsed
from tlsmatrix.results.model import INFERRED_NOTE, RunResult, grouped, reason_text

HEADERS = ("client", "verdict", "reason", "detail", "TLS", "trusted", "time")


def short(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def short_path(path: str, width: int = 42) -> str:
    return path if len(path) <= width else "…" + path[-(width - 1) :]


def trust_label(trust: TrustUsed | None) -> str:
    """'bundle: /x/workstation.pem' or 'native: certifi /…/cacert.pem'."""
    if trust is None:
        return "-"
    if trust.kind == "bundle":
        return f"bundle {short_path(trust.path or '?')}"
    where = f" {short_path(trust.path)}" if trust.path else ""
    return f"native: {trust.origin}{where}"


def render_table(run: RunResult) -> str:
    out: list[str] = []
    for target in run.targets():
        rows = [
            (
                o.client,
                o.verdict.value.upper()
                if o.verdict.value in ("accept", "reject")
                else o.verdict.value,
                reason_text(o),
                short(o.detail, 60),
                o.tls_version or "-",
                trust_label(o.trust),
                f"{o.elapsed_ms / 1000:.2f}s",
            )
            for o in run.results
            if o.target == target
        ]
        out.append(target)
        out.append(tabulate(rows, headers=HEADERS, tablefmt="simple"))
        divergence = next((d for d in run.divergences if d.target == target), None)
        if divergence is not None:
            out.append(f"Disagreement: {divergence.summary()}")
        else:
            verdicts = {o.verdict.value for o in run.results if o.target == target} - {"skipped"}
            if verdicts:
                out.append(f"All clients agree: {', '.join(sorted(verdicts))}.")
        why = grouped([o for o in run.results if o.target == target])
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
