"""Lab runs keep their scenario names (JSON rows, every report, diff, progress) and the
terminal table: colour only for a person, a default width that fits 120 columns."""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import re
import subprocess
import sys

import pytest
from tlsmatrix.reports import render
from tlsmatrix.reports.colour import use_colour
from tlsmatrix.results.model import from_dict
from tlsmatrix.results.schema import validate

from tests._cli import ROOT, tlsmatrix
from tests.conftest import clean_environ

ANSI = re.compile(r"\x1b\[[0-9;]*m")
SCENARIOS = ("good", "leaf_only")
LAB = ("lab", "run", "-c", "curl,requests", "--scenario", ",".join(SCENARIOS))


@pytest.fixture(scope="module")
def two_lab_runs(tmp_path_factory):
    """Two real lab runs (each on fresh random ports) saved as JSON."""
    folder = tmp_path_factory.mktemp("labruns")
    paths = []
    for name in ("before.json", "after.json"):
        path = folder / name
        result = tlsmatrix(*LAB, "-o", str(path))
        assert result.returncode == 0, result.stderr
        paths.append(str(path))
    return paths


def _document(path: str) -> dict:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def test_every_lab_row_names_its_scenario_and_validates(two_lab_runs):
    document = _document(two_lab_runs[0])
    assert validate(document) == []
    assert {r["scenario"] for r in document["results"]} == set(SCENARIOS)
    for row in document["results"]:
        assert document["lab"]["scenarios"][row["target"]] == row["scenario"]


def test_two_lab_runs_diff_clean(two_lab_runs):
    before, after = two_lab_runs
    assert _document(before)["results"][0]["target"] != _document(after)["results"][0]["target"]
    result = tlsmatrix("diff", before, after, "--format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["changes"] == []


def test_reports_show_scenario_names_not_ports(two_lab_runs):
    run = from_dict(_document(two_lab_runs[0]))
    port = re.compile(r"localhost:\d+")
    table = render(run, "table")
    assert all(s in table for s in SCENARIOS)
    markdown = render(run, "markdown")
    matrix = [line for line in markdown.splitlines() if line.startswith("| ")]
    assert matrix and not any(port.search(line) for line in matrix)
    assert any(line.startswith("| leaf\\_only |") for line in matrix)
    junit = render(run, "junit")
    assert 'classname="leaf_only"' in junit and not re.search(r'classname="https', junit)
    rows = list(csv.DictReader(io.StringIO(render(run, "csv"))))
    assert {r["scenario"] for r in rows} == set(SCENARIOS)
    html = render(run, "html")
    assert ">leaf_only<" in html


def test_merge_keeps_scenarios_and_rows_alone_restore_them(two_lab_runs, tmp_path):
    merged = tmp_path / "merged.json"
    result = tlsmatrix("merge", two_lab_runs[0], "-o", str(merged))
    assert result.returncode == 0, result.stderr
    assert {r["scenario"] for r in _document(str(merged))["results"]} == set(SCENARIOS)
    # a document whose lab section was dropped still knows each row's scenario
    stripped = _document(two_lab_runs[0])
    del stripped["lab"]
    assert set(from_dict(stripped).scenarios().values()) == set(SCENARIOS)


def test_piped_lab_run_prints_progress_with_scenario_names():
    result = tlsmatrix(*LAB, "--format", "json")
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("tlsmatrix: [")]
    assert lines, result.stderr
    assert lines[-1].startswith("tlsmatrix: [4/4]")
    assert any(s in line for line in lines for s in SCENARIOS)
    assert "localhost" not in "".join(lines)


# --- colour and width ------------------------------------------------------------------


def test_colour_choice(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_colour("always", None) and use_colour("always", "x.txt")
    assert not use_colour("never", None)
    assert not use_colour("auto", "report.txt")  # a file is not a person
    monkeypatch.setenv("NO_COLOR", "")
    assert not use_colour("auto", None)


def _in_pty(args: list[str], **env: str) -> str:
    """Run the CLI with stdout on a pseudo-terminal (a person's terminal) and read it."""
    main, child = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tlsmatrix", *args],
        stdout=child,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        env=clean_environ(PYTHONPATH=ROOT, **env),
        cwd=ROOT,
    )
    os.close(child)
    chunks = []
    while True:
        try:
            data = os.read(main, 65536)
        except OSError:  # EIO: the child closed its end
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=120)
    os.close(main)
    return b"".join(chunks).decode("utf-8", "replace")


@pytest.fixture(scope="module")
def lab_target():
    from tlsmatrix.lab.lab import Lab

    with Lab(["leaf_only"]) as lab:
        yield lab.scenarios[0].url, lab.trust_profiles["workstation"]


def test_terminal_gets_colour_unless_no_color(lab_target):
    url, bundle = lab_target
    args = ["run", url, "-c", "curl,requests", "--trust", f"curl={bundle}"]
    coloured = _in_pty(args)
    assert "\x1b[32m" in coloured and "\x1b[31m" in coloured  # accept green, reject red
    assert "\x1b[1;33mDisagreement" in coloured
    assert not ANSI.search(_in_pty(args, NO_COLOR="1"))
    assert not ANSI.search(_in_pty([*args, "--color", "never"]))


def test_piped_table_is_plain_unless_always_and_fits_120_columns(lab_target):
    url, bundle = lab_target
    args = ["run", url, "-c", "curl,requests,openssl", "--trust", f"curl={bundle}"]
    plain = tlsmatrix(*args)
    assert plain.returncode == 0, plain.stderr
    assert not ANSI.search(plain.stdout)
    table = plain.stdout.split("Disagreement")[0]
    assert max(len(line) for line in table.splitlines()) <= 120, table
    assert f"bundle {os.path.basename(bundle)}" in table
    assert re.search(r"native \(\w", table)
    always = tlsmatrix(*args, "--color", "always")
    assert "\x1b[31mREJECT\x1b[0m" in always.stdout
    wide = tlsmatrix(*args, "--wide")
    assert f"bundle {bundle}" in wide.stdout or "bundle …" in wide.stdout


def test_default_table_width_with_long_fields_stays_within_120():
    from tlsmatrix.clients.base import Observation, Reason, TrustUsed, Verdict
    from tlsmatrix.results.model import RunResult

    rows = tuple(
        Observation(
            target="https://a-rather-long-host-name.example.invalid:8443/path",
            client=client,
            verdict=Verdict.REJECT,
            reason=Reason.MALFORMED_CERTIFICATE,
            detail="x" * 300,
            tls_version="TLSv1.3",
            elapsed_ms=12345.0,
            trust=TrustUsed("bundle", "--ca-file", "/very/long/" * 10 + "some-bundle-name.pem"),
        )
        for client in ("gnutls-cli", "truststore", "java-aia")
    )
    table = render(RunResult(rows, (), {}, ""), "table")
    assert max(len(line) for line in table.splitlines()[:5]) <= 120, table
    wide = render(RunResult(rows, (), {}, ""), "table", wide=True)
    assert max(len(line) for line in wide.splitlines()) > 120
