"""Command-line ergonomics a CI user relies on: client lists, --fail-on, the format from
-o's extension, report modes under the umask, stdin hosts files, help with examples."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest
from tlsmatrix.inputs import choose_format, split_names
from tlsmatrix.results.fail_on import CONDITIONS, failures, parse_fail_on

from tests._cli import python
from tests.conftest import clean_environ
from tests.test_cli import ROOT, rows, tlsmatrix


def test_comma_lists_and_the_short_option(servers, pki):
    url = f"https://localhost:{servers['good'].port}/"
    result = tlsmatrix(
        "run",
        url,
        "-c",
        "stdlib,requests",
        "-c",
        "httpx",
        "--ca-file",
        pki.root_and_intermediate_pem,
        "--format",
        "json",
    )
    assert result.returncode == 0, result.stderr
    assert sorted(rows(result.stdout)) == ["httpx", "requests", "stdlib"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-c", "crul"], "unknown client 'crul' (did you mean 'curl'?)"),
        (["-c", "zzzz"], "unknown client 'zzzz'; known: curl"),
        (["--format", "jsno"], "unknown format 'jsno' (did you mean 'json'?)"),
        (["--fail-on", "rejects"], "(did you mean 'reject'?)"),
    ],
)
def test_unknown_names_get_a_suggestion(args, message):
    result = tlsmatrix("run", "localhost:1", *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_lab_scenario_names_get_a_suggestion():
    result = tlsmatrix("lab", "run", "--scenario", "leaf_onyl")
    assert result.returncode == 2
    assert "(did you mean 'leaf_only'?)" in result.stderr


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("r.json", "json"),
        ("r.md", "markdown"),
        ("r.xml", "junit"),
        ("r.csv", "csv"),
        ("r.HTML", "html"),
        ("r.txt", "table"),
        ("r.out", "table"),
        (None, "table"),
        ("-", "table"),
    ],
)
def test_format_from_the_extension(output, expected):
    formats = ("table", "json", "markdown", "junit", "csv", "html")
    assert choose_format(None, output, formats) == expected
    assert choose_format("csv", output, formats) == "csv"  # --format wins


def test_an_extension_the_command_cannot_write_is_an_error():
    from tlsmatrix.errors import UsageError

    with pytest.raises(UsageError, match="cannot write html"):
        choose_format(None, "x.html", ("table", "json"))


def test_o_json_writes_json_with_mode_from_the_umask(servers, pki, tmp_path):
    url = f"https://localhost:{servers['good'].port}/"
    out = tmp_path / "guess.json"
    script = (
        "import os, sys; os.umask(0o022); from tlsmatrix.cli import main; "
        "sys.exit(main(sys.argv[1:]))"
    )
    result = python(
        "-c", script, "run", url, "-c", "stdlib", "--ca-file", pki.root_pem, "-o", str(out)
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(out.read_text())["results"][0]["client"] == "stdlib"
    assert stat.S_IMODE(out.stat().st_mode) == 0o644


def test_an_existing_report_keeps_the_umask_mode(tmp_path):
    from tlsmatrix.reports.output import current_umask, write_text

    path = tmp_path / "r.txt"
    path.write_text("old")
    os.chmod(path, 0o644)
    write_text("new", str(path))
    assert path.read_text() == "new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~current_umask()
    write_text("key", str(path), private=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_fail_on_reject_and_disagreement(servers, pki):
    good = f"https://localhost:{servers['good'].port}/"
    leaf_only = f"https://localhost:{servers['leaf_only'].port}/"
    base = ["-c", "stdlib", "--ca-file", pki.root_pem, "--format", "json"]
    assert tlsmatrix("run", good, *base, "--fail-on", "reject").returncode == 0
    result = tlsmatrix("run", leaf_only, *base, "--fail-on", "reject,error")
    assert result.returncode == 1
    assert f"--fail-on: rejected on {leaf_only.rstrip('/')}: stdlib (" in result.stderr
    # Without --fail-on a rejection is a result, not a failure.
    assert tlsmatrix("run", leaf_only, *base).returncode == 0

    trust = [
        "--trust",
        f"curl={pki.root_and_intermediate_pem}",
        "--trust",
        f"stdlib={pki.root_pem}",
    ]
    split = tlsmatrix(
        "run",
        leaf_only,
        "-c",
        "curl,stdlib",
        *trust,
        "--format",
        "json",
        "--fail-on",
        "disagreement",
    )
    assert split.returncode == 1
    assert "disagreement on" in split.stderr


def test_fail_on_error_when_every_client_fails():
    # Port 1 on loopback: refused, no TLS verdict at all.
    result = tlsmatrix(
        "run", "https://127.0.0.1:1/", "-c", "stdlib", "--fail-on", "error", "--format", "json"
    )
    assert result.returncode == 1
    assert "--fail-on: no verdict on https://127.0.0.1:1: stdlib (connection_refused)" in (
        result.stderr
    )


def test_fail_on_parsing_and_failures_are_pure():
    assert parse_fail_on(["reject,error", "reject"]) == ("reject", "error")
    assert set(CONDITIONS) == {"disagreement", "reject", "error"}
    from tlsmatrix.clients.base import Observation, Reason, Verdict
    from tlsmatrix.results.model import RunResult, find_divergences

    obs = (
        Observation("t", "a", Verdict.ACCEPT, Reason.OK),
        Observation("t", "b", Verdict.REJECT, Reason.EXPIRED),
        Observation("t", "c", Verdict.SKIPPED, Reason.CLIENT_UNAVAILABLE),
    )
    run = RunResult(obs, (), {}, "now", divergences=find_divergences(obs))
    assert failures(run, ()) == []
    assert failures(run, ("reject",)) == ["rejected on t: b (expired)"]
    assert failures(run, ("error",)) == []
    assert failures(run, ("disagreement",)) == ["disagreement on t: a: accept; b: reject (expired)"]


def test_hosts_file_from_stdin(servers, pki):
    url = f"https://localhost:{servers['good'].port}/"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tlsmatrix",
            "run",
            "--hosts-file",
            "-",
            "-c",
            "stdlib",
            "--ca-file",
            pki.root_pem,
            "--format",
            "json",
        ],
        input=f"# fleet\n{url}\n",
        capture_output=True,
        text=True,
        timeout=120,
        env=clean_environ(PYTHONPATH=ROOT),
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert list(rows(result.stdout)) == ["stdlib"]


def test_run_help_has_examples_and_every_option_is_explained():
    result = tlsmatrix("run", "-h")
    assert result.returncode == 0
    assert "examples:" in result.stdout and "--fail-on disagreement" in result.stdout
    lab = " ".join(tlsmatrix("lab", "run", "-h").stdout.split())
    for text in (
        "only these clients",
        "only these scenarios",
        "serve with Python's ssl",
        "hard deadline per probe",
        "probes run at once",
        "from -o's extension",
        "exit 1 when clients disagree",
    ):
        assert text in lab, text


def test_split_names():
    assert split_names(["a,b", " c ", "a,,"]) == ["a", "b", "c", "a"]


def test_clients_table_is_narrow_and_shows_policy():
    from tlsmatrix import clients

    result = tlsmatrix("clients")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["client", "version", "TLS", "library", "policy"]
    listed = [line.split()[0] for line in lines[2:] if line.strip() and not line.startswith("(")]
    assert listed == clients.names()
    # Every available client's row states its measured policy.
    assert "RSA>=" in result.stdout and ("no SHA-1" in result.stdout or "SHA-1 ok" in result.stdout)
    assert max(len(line) for line in lines) <= 120
    wide = tlsmatrix("clients", "--wide").stdout
    assert "native trust" in wide.splitlines()[0] and "env vars" in wide.splitlines()[0]


def test_policy_label_reads_properties_not_names():
    from tlsmatrix.clients.base import ClientInfo
    from tlsmatrix.commands.clients import policy_label

    info = ClientInfo("anything", True, fetches_aia=True, min_rsa_bits=1024, rejects_sha1=False,
                      partial_chain=True, strict_x509=True, checks_revocation=True,
                      checks_leaf_usage=False)  # fmt: skip
    assert policy_label(info) == (
        "AIA, RSA>=1024, SHA-1 ok, partial chain, strict X.509, revocation, no EKU/KU check"
    )
    assert policy_label(ClientInfo("x", True)) == "no AIA, RSA>=2048, no SHA-1"


@pytest.mark.parametrize("moment", ["load_clients", "run_matrix"])
def test_ctrl_c_before_any_result_still_writes_the_partial_report(
    monkeypatch, tmp_path, capsys, moment
):
    """Ctrl-C can land while clients load or before the first probe ends: the report is
    still written (empty, marked partial) and the exit code is 130. The interrupt is raised
    at that point in-process, so the moment is exact rather than a race with a signal."""
    from tlsmatrix.cli import main
    from tlsmatrix.runner import matrix, pool

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pool if moment == "load_clients" else matrix, moment, interrupted)
    out = tmp_path / "partial.json"
    code = main(["run", "https://127.0.0.1:1/", "-c", "stdlib", "-o", str(out)])
    assert code == 130
    report = json.loads(out.read_text())
    assert report["partial"] is True and report["results"] == []
    assert "interrupted: partial results written" in capsys.readouterr().err
