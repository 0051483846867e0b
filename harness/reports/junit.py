"""The JUnit XML report, for CI systems that show test results (GitHub Actions through a
JUnit action, GitLab ``artifacts:reports:junit``, Jenkins).

One ``<testsuite>`` per target, one ``<testcase>`` per target x client with
``classname`` = target and ``name`` = client. Without expectations a reject is a
``<failure>`` (reason and detail), an error or timeout an ``<error>``, a skipped client
``<skipped>``. With expectations (``--expect``) the expectations decide: a cell that breaks
one fails with the violation, any other cell passes, except errors and timeouts that no
expectation asked for, which stay errors. A target-wide violation (``consistent``) is a
testcase of its own named ``(consistent)``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from tlsmatrix.clients.base import Observation, Verdict
from tlsmatrix.reports import grid
from tlsmatrix.results.expectations import ExpectationResult, Violation
from tlsmatrix.results.model import RunResult

# XML 1.0 cannot carry most control characters, even escaped; a server's text might.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_text(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def _seconds(ms: float) -> str:
    return f"{max(ms, 0.0) / 1000:.3f}"


def _system_out(o: Observation) -> str:
    lines = [
        f"verdict: {o.verdict.value}",
        f"reason: {o.reason.value}",
        f"reason_source: {o.reason_source.value}",
    ]
    if o.detail:
        lines.append(f"detail: {o.detail}")
    if o.verify_code is not None:
        lines.append(f"verify code: {o.verify_code}")
    if o.tls_version:
        lines.append(f"TLS: {o.tls_version}")
    if o.trust is not None:
        lines.append(f"trusted: {o.trust.kind} {o.trust.origin} {o.trust.path or ''}".rstrip())
    if o.explanation:
        lines.append(f"why: {o.explanation}")
    return "\n".join(lines) + "\n"


def _body(o: Observation) -> str:
    text = o.detail or "(no detail)"
    if o.explanation:
        text += f"\n{o.explanation}"
    return text


def _add(parent: ET.Element, tag: str, message: str, kind: str, text: str) -> None:
    element = ET.SubElement(parent, tag, {"message": xml_text(message), "type": kind})
    element.text = xml_text(text)


def render_junit(run: RunResult, expectations: ExpectationResult | None = None) -> str:
    targets, clients, cells = grid(run)
    extra_cells: dict[str, list[str]] = {}  # clients with a violation but no result
    if expectations is not None:
        for v in expectations.violations:
            if v.client is not None and (v.target, v.client) not in cells:
                extra_cells.setdefault(v.target, []).append(v.client)
            if v.target not in targets:
                targets.append(v.target)
    asked = expectations.expected_cells if expectations is not None else frozenset()
    root = ET.Element("testsuites", {"name": "tlsmatrix"})
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    total_time = 0.0
    for target in targets:
        # A lab target is named by its scenario (its port changes on every run).
        label = run.target_label(target)
        suite = ET.SubElement(root, "testsuite", {"name": xml_text(label)})
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        suite_time = 0.0
        names = [c for c in clients if (target, c) in cells] + extra_cells.get(target, [])
        for client in dict.fromkeys(names):
            o = cells.get((target, client))
            case = ET.SubElement(
                suite,
                "testcase",
                {
                    "classname": xml_text(label),
                    "name": xml_text(client),
                    "time": _seconds(o.elapsed_ms if o else 0.0),
                },
            )
            counts["tests"] += 1
            suite_time += (o.elapsed_ms if o else 0.0) / 1000
            violated: tuple[Violation, ...] = ()
            if expectations is not None:
                violated = expectations.for_cell(target, client)
            outcome = _outcome(o, expectations, violated, (target, client) in asked)
            if outcome == "failure":
                if violated:
                    message = "; ".join(
                        f"expected {v.expected}, got {v.observed}" for v in violated
                    )
                    text = "\n".join(v.message() for v in violated)
                    if o is not None:
                        text += "\n" + _body(o)
                    _add(case, "failure", message, "expectation", text)
                else:
                    assert o is not None
                    _add(case, "failure", f"reject: {o.reason.value}", o.reason.value, _body(o))
                counts["failures"] += 1
            elif outcome == "error":
                assert o is not None
                _add(
                    case, "error", f"{o.verdict.value}: {o.reason.value}", o.reason.value, _body(o)
                )
                counts["errors"] += 1
            elif outcome == "skipped":
                assert o is not None
                skipped = ET.SubElement(
                    case, "skipped", {"message": xml_text(o.detail or "skipped")}
                )
                skipped.text = None
                counts["skipped"] += 1
            if o is not None:
                ET.SubElement(case, "system-out").text = xml_text(_system_out(o))
        if expectations is not None:
            for v in expectations.for_target(target):
                case = ET.SubElement(
                    suite,
                    "testcase",
                    {"classname": xml_text(label), "name": f"({v.rule})", "time": "0.000"},
                )
                _add(case, "failure", f"expected {v.expected}", "expectation", v.message())
                counts["tests"] += 1
                counts["failures"] += 1
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
        suite.set("time", f"{suite_time:.3f}")
        total_time += suite_time
    for key in ("tests", "failures", "errors"):
        root.set(key, str(totals[key]))
    root.set("time", f"{total_time:.3f}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _outcome(
    o: Observation | None,
    expectations: ExpectationResult | None,
    violated: tuple[Violation, ...],
    asked: bool,
) -> str:
    """'pass', 'failure', 'error' or 'skipped' for one cell."""
    if violated:
        return "failure"
    if o is None:
        return "pass"
    if o.verdict is Verdict.SKIPPED:
        return "skipped"
    if o.verdict in (Verdict.ERROR, Verdict.TIMEOUT):
        return "pass" if asked else "error"
    if expectations is None and o.verdict is Verdict.REJECT:
        return "failure"
    return "pass"
