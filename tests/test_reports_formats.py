"""Every report format, rendered from one real run on the local servers and read back by
a real parser: JSON Schema, lxml against a JUnit XSD, csv.DictReader, html.parser."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import socket
from dataclasses import replace
from html.parser import HTMLParser

import pytest
from tlsmatrix.clients.base import Reason, Verdict
from tlsmatrix.reports import FORMATS, render
from tlsmatrix.reports.csv_report import COLUMNS
from tlsmatrix.results.expectations import evaluate, parse_expectations
from tlsmatrix.results.model import RunResult, to_dict
from tlsmatrix.results.schema import load_schema, schema_text, validate
from tlsmatrix.runner.matrix import TrustPlan, run_matrix
from tlsmatrix.runner.pool import BrokenClient, load_clients
from tlsmatrix.runner.shard import Shard
from tlsmatrix.runner.targets import parse_target

from tests._cli import tlsmatrix
from tests.conftest import CLEARED_ENV

XSD = os.path.join(os.path.dirname(__file__), "data", "junit.xsd")
CLIENTS = ("curl", "stdlib", "requests")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def real_run(servers, pki) -> RunResult:
    return make_real_run(servers, pki)


def make_real_run(servers, pki) -> RunResult:
    """curl (root+intermediate), stdlib and requests (root only) on good, leaf_only and
    expired servers and a closed port, plus an adapter that failed to load (skipped).
    The run captures each presented chain and explains each row, as the CLI's does."""
    names = {
        name: f"https://localhost:{servers[name].port}" for name in ("good", "leaf_only", "expired")
    }
    texts = [*names.values(), f"https://127.0.0.1:{closed_port()}"]
    with pytest.MonkeyPatch.context() as mp:
        for name in CLEARED_ENV:
            mp.delenv(name, raising=False)
        run = run_matrix(
            [parse_target(t) for t in texts],
            [*load_clients(CLIENTS), BrokenClient("ghost", "adapter failed to load: no module")],
            trust=TrustPlan(pki.root_pem, {"curl": pki.root_and_intermediate_pem}),
            timeout=10,
            jobs=4,
        )
    assert run.chains, "run_matrix captures the presented chains"
    return run


def cells(run: RunResult) -> dict[tuple[str, str], tuple[str, str]]:
    return {(o.target, o.client): (o.verdict.value, o.reason.value) for o in run.results}


def target_of(run: RunResult, port: int) -> str:
    return next(t for t in run.targets() if t.endswith(f":{port}"))


def test_the_run_itself_has_the_cells_the_reports_show(real_run, servers):
    leaf = target_of(real_run, servers["leaf_only"].port)
    got = cells(real_run)
    assert got[(leaf, "curl")] == ("accept", "ok")
    assert got[(leaf, "stdlib")] == ("reject", "incomplete_chain")
    refused = real_run.targets()[3]
    assert got[(refused, "requests")] == ("error", "connection_refused")
    assert got[(refused, "ghost")] == ("skipped", "client_unavailable")


# --- JSON -----------------------------------------------------------------------------


def test_schema_is_draft_2020_12_and_matches_the_vocabulary():
    import jsonschema

    schema = load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$defs"]["verdict"]["enum"] == [v.value for v in Verdict]
    assert schema["$defs"]["reason"]["enum"] == [r.value for r in Reason]
    assert set(schema["required"]) == set(to_dict(RunResult((), (), {}, "")))


def test_json_report_validates_and_broken_one_does_not(real_run):
    spec = parse_expectations("consistent = true\n", known_clients=CLIENTS)
    text = render(real_run, "json", expectations=evaluate(real_run, spec), shard=Shard(2, 3))
    document = json.loads(text)
    assert validate(document) == []
    assert document["shard"] == {"index": 2, "count": 3}
    assert document["expectations"]["passed"] is False
    assert len(document["results"]) == 4 * 4
    broken = json.loads(text)
    broken["results"][0]["verdict"] = "maybe"
    broken["surprise"] = 1
    problems = validate(broken)
    assert any(p.startswith("results/0/verdict") for p in problems)
    assert any("surprise" in p for p in problems)


def test_schema_command_prints_the_shipped_schema():
    result = tlsmatrix("schema")
    assert result.returncode == 0, result.stderr
    assert result.stdout == schema_text()
    assert json.loads(result.stdout)["properties"]["schema"] == {"const": "tlsmatrix/2"}


# --- JUnit ----------------------------------------------------------------------------


def _junit(text: str):
    from lxml import etree

    schema = etree.XMLSchema(etree.parse(XSD))
    doc = etree.fromstring(text.encode("utf-8"))
    schema.assertValid(doc)
    return doc


def test_junit_valid_one_case_per_cell(real_run, servers):
    doc = _junit(render(real_run, "junit"))
    cases = {(c.get("classname"), c.get("name")): c for c in doc.iter("testcase")}
    assert set(cases) == set(cells(real_run))
    leaf = target_of(real_run, servers["leaf_only"].port)
    good = target_of(real_run, servers["good"].port)
    refused = real_run.targets()[3]
    failure = cases[(leaf, "stdlib")].find("failure")
    assert failure.get("message") == "reject: incomplete_chain"
    assert "unable to get local issuer certificate" in failure.text
    assert list(cases[(leaf, "curl")]) and cases[(leaf, "curl")].find("failure") is None
    assert cases[(good, "requests")].find("failure") is None
    assert cases[(refused, "curl")].find("error").get("type") == "connection_refused"
    assert cases[(refused, "ghost")].find("skipped").get("message").startswith("adapter failed")
    assert doc.get("tests") == "16"
    suites = {s.get("name"): s for s in doc.iter("testsuite")}
    assert suites[refused].get("errors") == "3" and suites[refused].get("skipped") == "1"


def test_junit_with_expectations_fails_only_the_broken_cells(real_run, servers):
    leaf = target_of(real_run, servers["leaf_only"].port)
    refused = real_run.targets()[3]
    spec = parse_expectations(
        f'[target."{leaf}".clients]\ncurl = "accept"\nstdlib = "accept"\n'
        f'[target."{refused}"]\nconsistent = true\nclients.curl = "error"\n',
        known_clients=(*CLIENTS, "ghost"),
    )
    doc = _junit(render(real_run, "junit", expectations=evaluate(real_run, spec)))
    cases = {(c.get("classname"), c.get("name")): c for c in doc.iter("testcase")}
    failure = cases[(leaf, "stdlib")].find("failure")
    assert failure.get("type") == "expectation"
    assert failure.get("message") == "expected accept, got reject (incomplete_chain)"
    # requests rejects too, but nothing expected otherwise: it passes.
    assert len(cases[(leaf, "requests")]) == 1  # only system-out
    # The expected error passes; the others on that target are still errors.
    assert cases[(refused, "curl")].find("error") is None
    assert cases[(refused, "stdlib")].find("error") is not None
    assert doc.get("failures") == "1"


def test_xsd_rejects_what_ci_would_not_read(real_run):
    from lxml import etree

    doc = etree.fromstring(render(real_run, "junit").encode())
    next(doc.iter("testcase")).attrib.pop("name")
    assert not etree.XMLSchema(etree.parse(XSD)).validate(doc)


def _first_changed(run: RunResult, **changes: object) -> RunResult:
    """``run`` with its first result changed (the others as they are)."""
    first, *rest = run.results
    return replace(run, results=(replace(first, **changes), *rest))


def test_junit_survives_control_characters(real_run):
    detail = "bad\x00\x1b[31m <x>&"
    odd = _first_changed(real_run, verdict=Verdict.REJECT, reason=Reason.EXPIRED, detail=detail)
    doc = _junit(render(odd, "junit"))
    failure = next(doc.iter("failure"))
    assert "<x>&" in failure.text and "\x00" not in failure.text


# --- CSV ------------------------------------------------------------------------------


def test_csv_header_and_one_row_per_result(real_run, servers):
    rows = list(csv.DictReader(io.StringIO(render(real_run, "csv"), newline="")))
    assert tuple(rows[0].keys()) == COLUMNS
    assert len(rows) == len(real_run.results)
    leaf = target_of(real_run, servers["leaf_only"].port)
    by_cell = {(r["target"], r["client"]): r for r in rows}
    assert (by_cell[(leaf, "stdlib")]["verdict"], by_cell[(leaf, "stdlib")]["reason"]) == (
        "reject",
        "incomplete_chain",
    )
    assert by_cell[(leaf, "curl")]["trust_path"].endswith("root+intermediate.pem")
    assert {r["expectation"] for r in rows} == {""}
    spec = parse_expectations(
        f'[target."{leaf}".clients]\nstdlib = "accept"\n', known_clients=CLIENTS
    )
    rows = list(
        csv.DictReader(io.StringIO(render(real_run, "csv", expectations=evaluate(real_run, spec))))
    )
    marks = {(r["target"], r["client"]): r["expectation"] for r in rows}
    assert marks[(leaf, "stdlib")].startswith(f"{leaf} / stdlib: expected accept, got reject")
    assert marks[(leaf, "curl")] == "met"


# --- markdown -------------------------------------------------------------------------


def _md_table(text: str) -> list[list[str]]:
    lines = [line for line in text.splitlines() if line.startswith("| ")]
    return [[c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]] for line in lines]


def test_markdown_matrix_and_divergences(real_run, servers):
    text = render(real_run, "markdown")
    table = _md_table(text)
    assert table[0] == ["target", "curl", "stdlib", "requests", "ghost"]
    leaf = target_of(real_run, servers["leaf_only"].port)
    row = next(r for r in table if r[0] == leaf)
    assert row[1:] == ["✅ accept", "❌ incomplete\\_chain", "❌ incomplete\\_chain", "➖ skipped"]
    assert "### Disagreements" in text
    assert f"- **{leaf}**: curl: accept; stdlib, requests: reject (incomplete\\_chain)" in text


def test_markdown_escapes_markup(real_run):
    detail = "<img src=x> | *x*"
    odd = _first_changed(real_run, verdict=Verdict.REJECT, reason=Reason.EXPIRED, detail=detail)
    text = render(odd, "markdown")
    assert not re.search(r"(?<!\\)<img", text)
    assert "\\<img src=x\\> \\| \\*x\\*" in text


# --- HTML -----------------------------------------------------------------------------


VOID = {"br", "meta", "img", "hr", "input", "wbr"}


class Page(HTMLParser):
    """Collects the matrix cells, the chain boxes, the tags and all text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.cells: list[tuple[str, str]] = []  # (class, text) of matrix cells
        self.boxes: list[tuple[str, str]] = []  # (class, text) of chain boxes
        self.text: list[str] = []
        self._open: list[tuple[str, list]] = []  # (tag, sink) while inside a cell or box
        self._depth = 0

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        classes = dict(attrs).get("class") or ""
        if self._open:
            if tag not in VOID:
                self._depth += 1
        elif tag == "td" and classes.startswith("cell"):
            self._open.append((classes, self.cells))
            self._buf: list[str] = []
            self._depth = 0
        elif tag == "div" and classes.startswith("cert"):
            self._open.append((classes, self.boxes))
            self._buf = []
            self._depth = 0

    def handle_endtag(self, tag):
        if self._open and self._depth == 0:
            classes, sink = self._open.pop()
            sink.append((classes, " ".join(" ".join(self._buf).split())))
        elif self._open:
            self._depth -= 1

    def handle_data(self, data):
        self.text.append(data)
        if self._open:
            self._buf.append(data)


def _page(text: str) -> Page:
    page = Page()
    page.feed(text)
    page.close()
    return page


def test_html_matrix_chain_and_explanations(real_run, servers):
    leaf = target_of(real_run, servers["leaf_only"].port)
    text = render(real_run, "html")
    page = _page(text)
    assert len(page.cells) == 16
    # compact cells: the verdict's symbol and a short reason (full text on hover, below)
    assert ("cell accept", "✔") in page.cells
    assert ("cell reject", "✘ chain") in page.cells
    assert ("cell error", "! refused") in page.cells
    assert ("cell skipped", "–") in page.cells
    # The presented chains as boxes: good and expired send leaf + intermediate (root from
    # the store); leaf_only sends its leaf alone, and the missing intermediate is drawn.
    kinds = [k for k, _ in page.boxes]
    assert kinds.count("cert leaf") == 3
    assert kinds.count("cert intermediate") == 2 and kinds.count("cert store") == 2
    assert kinds.count("cert missing") == 1
    missing = next(t for k, t in page.boxes if k == "cert missing")
    assert missing.startswith("not sent")
    assert real_run.chains[leaf]["missing_issuer"] in missing
    body = " ".join(page.text)
    divergence = next(d for d in real_run.divergences if d.target == leaf)
    curl = next(o for o in real_run.results if (o.target, o.client) == (leaf, "curl"))
    assert divergence.explanation and divergence.explanation in body
    assert curl.explanation and curl.explanation in body
    issue = real_run.chains[leaf]["issues"][0]["message"]
    assert issue in body
    if real_run.chains[leaf].get("fix"):
        assert real_run.chains[leaf]["fix"] in body
    # self-contained: no script, no external reference
    assert "script" not in page.tags and "link" not in page.tags
    assert "http://" not in text and 'src="' not in text


def test_html_escapes_everything(real_run):
    first = real_run.results[0]
    evil = "<script>alert(1)</script>"
    odd = replace(
        _first_changed(real_run, detail=evil, explanation='"><b>x</b>'),
        chains={
            first.target: {
                "certificates": [{"common_name": evil, "subject": evil}],
                "issues": [{"code": "<i>", "message": evil}],
            }
        },
    )
    text = render(odd, "html")
    assert evil not in text and '"><b>' not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    page = _page(text)
    assert "script" not in page.tags and "b" not in page.tags and "i" not in page.tags
    assert evil in " ".join(page.text)


def test_html_partial_chain_data_renders(real_run):
    target = real_run.targets()[0]
    for chain in (
        {},
        {"certificates": []},
        {"certificates": [{}], "path": [7]},
        {"error": "reset"},
        "junk",
    ):
        text = render(replace(real_run, chains={target: chain}), "html")
        assert _page(text).cells


def test_every_format_via_the_cli_to_a_file(servers, pki, tmp_path):
    """run writes JSON and HTML files itself; merge re-renders the saved JSON in every
    format, giving the same text as a direct render of that run."""
    url = f"https://localhost:{servers['good'].port}"
    saved = tmp_path / "report.json"
    for fmt, out in (("json", saved), ("html", tmp_path / "direct.html")):
        args = ("run", url, "--client", "stdlib", "--ca-file", pki.root_pem, "--format", fmt)
        result = tlsmatrix(*args, "-o", str(out))
        assert result.returncode == 0, result.stderr
        assert result.stdout == ""
        assert url in out.read_text()
    assert validate(json.loads(saved.read_text())) == []
    from tlsmatrix.results.model import from_dict

    run = from_dict(json.loads(saved.read_text()))
    for fmt in FORMATS:
        out = tmp_path / f"again.{fmt}"
        result = tlsmatrix("merge", str(saved), "--format", fmt, "-o", str(out))
        assert result.returncode == 0, result.stderr
        assert out.read_bytes().decode("utf-8") == render(run, fmt)
    result = tlsmatrix("run", url, "--client", "stdlib", "-o", str(tmp_path / "no" / "x.json"))
    assert result.returncode == 2 and "does not exist" in result.stderr


def test_an_empty_run_renders_in_every_format():
    """An empty shard writes a report like any other."""
    from lxml import etree

    empty = RunResult((), (), {}, "2026-01-01T00:00:00Z")
    for fmt in FORMATS:
        assert render(empty, fmt)
    assert validate(json.loads(render(empty, "json", shard=Shard(3, 3)))) == []
    etree.XMLSchema(etree.parse(XSD)).assertValid(etree.fromstring(render(empty, "junit").encode()))
    assert list(csv.DictReader(io.StringIO(render(empty, "csv")))) == []
    assert "No targets in this run." in render(empty, "html")


def test_markdown_marks_what_broke_an_expectation(real_run, servers):
    leaf = target_of(real_run, servers["leaf_only"].port)
    good = target_of(real_run, servers["good"].port)
    spec = parse_expectations(
        f'[target."{leaf}"]\nconsistent = true\n[target."{good}".clients]\nstdlib = "reject"\n',
        known_clients=CLIENTS,
    )
    text = render(real_run, "markdown", expectations=evaluate(real_run, spec))
    table = {row[0]: row for row in _md_table(text)}
    assert f"{leaf} **(unexpected)**" in table
    assert table[good][1:3] == ["✅ accept", "✅ accept **(unexpected)**"]
    assert "2 expectations violated ❌" in text.splitlines()[0]
    assert "### Unmet expectations" in text
