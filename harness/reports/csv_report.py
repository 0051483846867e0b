"""The CSV report: a header row, then one row per result. The columns are fixed (the
``expectation`` column is empty unless the run was checked with ``--expect``, and
``scenario`` unless the target is a lab scenario), so a
spreadsheet or a script can rely on them."""

from __future__ import annotations

import csv
import io

from tlsmatrix.results.expectations import ExpectationResult
from tlsmatrix.results.model import RunResult

COLUMNS = (
    "target",
    "scenario",
    "client",
    "verdict",
    "reason",
    "reason_source",
    "verify_code",
    "tls_version",
    "elapsed_ms",
    "trust_kind",
    "trust_origin",
    "trust_path",
    "detail",
    "explanation",
    "expectation",
)


def render_csv(run: RunResult, expectations: ExpectationResult | None = None) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    scenarios = run.scenarios()
    for o in run.results:
        violated = expectations.for_cell(o.target, o.client) if expectations else ()
        writer.writerow(
            {
                "target": o.target,
                "scenario": scenarios.get(o.target, ""),
                "client": o.client,
                "verdict": o.verdict.value,
                "reason": o.reason.value,
                "reason_source": o.reason_source.value,
                "verify_code": "" if o.verify_code is None else o.verify_code,
                "tls_version": o.tls_version or "",
                "elapsed_ms": f"{o.elapsed_ms:.1f}",
                "trust_kind": o.trust.kind if o.trust else "",
                "trust_origin": o.trust.origin if o.trust else "",
                "trust_path": (o.trust.path or "") if o.trust else "",
                "detail": o.detail,
                "explanation": o.explanation,
                "expectation": ""
                if expectations is None
                else ("; ".join(v.message() for v in violated) if violated else "met"),
            }
        )
    return buffer.getvalue()
