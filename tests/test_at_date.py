"""``--at DATE``: the chains judged at DATE and real clients run with their clocks moved
there by libfaketime (tlsmatrix.clients.clock); a client that cannot be moved is skipped,
never run at the real date under the moved label."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta

import pytest
from tlsmatrix.clients.base import Trust
from tlsmatrix.clients.clock import BadDate, Clock, find_library, moved_env, parse_at
from tlsmatrix.clients.process import child_env
from tlsmatrix.results.schema import validate

from tests._cli import tlsmatrix
from tests.conftest import needs_binary

NOW = datetime(2026, 12, 2, 21, 0, 0, tzinfo=UTC)
# Subprocess clients the date must reach (each checked when installed; CI installs all).
PROGRAMS = {"curl": "curl", "openssl": "openssl", "node": "node", "gnutls": "gnutls-cli"}
PROGRAMS |= {"wget": "wget", "java": "java", "chromium": "chromium"}
# In-process clients moved by running them as a script under this Python.
SCRIPTED = ("requests", "stdlib", "urllib3", "httpx", "pyopenssl")


# --- parsing (pure) ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2040-01-01", datetime(2040, 1, 1, tzinfo=UTC)),
        ("2040-01-01T12:30:00Z", datetime(2040, 1, 1, 12, 30, tzinfo=UTC)),
        ("2040-01-01T12:30", datetime(2040, 1, 1, 12, 30, tzinfo=UTC)),  # UTC without a zone
        ("2040-01-01T14:30:00+02:00", datetime(2040, 1, 1, 12, 30, tzinfo=UTC)),
        ("+30d", NOW + timedelta(days=30)),
        ("-2d", NOW - timedelta(days=2)),
        ("+12h", NOW + timedelta(hours=12)),
        ("+90m", NOW + timedelta(minutes=90)),
    ],
)
def test_parse_at_reads_iso_and_relative_dates(text, expected):
    assert parse_at(text, now=NOW) == expected


@pytest.mark.parametrize("text", ["tomorrow", "30d", "+30 days", "2040-13-01", "+d", "1960-01-01"])
def test_parse_at_rejects_anything_else(text):
    with pytest.raises(BadDate, match="--at"):
        parse_at(text, now=NOW)


def test_clock_env_starts_the_wall_clock_at_the_date_and_keeps_a_preload():
    env = Clock(datetime(2040, 1, 1, tzinfo=UTC), "/lib/libfaketime.so.1").env(
        {"LD_PRELOAD": "other.so"}
    )
    assert env["FAKETIME"] == "@2040-01-01 00:00:00"
    assert env["LD_PRELOAD"] == "/lib/libfaketime.so.1:other.so"
    assert env["TZ"] == "UTC"


def test_child_env_adds_no_clock_outside_a_moved_probe():
    assert moved_env({}) == {}
    assert "FAKETIME" not in child_env(Trust.native())


@pytest.mark.parametrize("command", ["run", "inspect"])
def test_a_bad_date_is_one_line_and_exit_2(command):
    result = tlsmatrix(command, "https://localhost:1", "--at", "next tuesday")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--at 'next tuesday'" in lines[0], result.stderr
    assert "Traceback" not in result.stderr


# --- real handshakes under libfaketime -----------------------------------------------------


def _run_at(servers, pki, name: str, at: str, *args: str, timeout: float = 120):
    """``tlsmatrix run --at AT`` on the local server ``name``, trusting the test root."""
    port = servers[name].port
    result = tlsmatrix(
        "run",
        f"https://localhost:{port}",
        "--resolve",
        f"localhost:{port}:127.0.0.1",
        "--ca-file",
        pki.root_pem,
        "--at",
        at,
        *args,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr
    return result


def _run(servers, pki, name: str, at: str, *clients: str) -> dict:
    """The JSON report of :func:`_run_at` with ``clients``, checked against the schema."""
    client_args = [arg for c in clients for arg in ("-c", c)]
    options = ("--format", "json", "--timeout", "30", "--jobs", "4", *client_args)
    result = _run_at(servers, pki, name, at, *options, timeout=300)
    doc = json.loads(result.stdout)
    assert validate(doc) == []
    return doc


def _rows(doc: dict) -> dict[str, dict]:
    return {row["client"]: row for row in doc["results"]}


@needs_binary("faketime")
def test_run_at_2040_reports_expired_from_every_moved_client(servers, pki):
    installed = [name for name, program in PROGRAMS.items() if shutil.which(program)]
    assert "curl" in installed and find_library() is not None
    doc = _run(servers, pki, "good", "2040-01-01", *installed, *SCRIPTED, "truststore")
    assert doc["at"] == "2040-01-01T00:00:00Z"
    rows = _rows(doc)
    for name in (*installed, *SCRIPTED):
        row = rows[name]
        assert (row["verdict"], row["reason"]) == ("reject", "expired"), row
    skipped = rows["truststore"]
    assert skipped["verdict"] == "skipped"
    assert skipped["detail"].startswith("cannot move this client's clock: "), skipped
    issues = doc["chains"][f"https://localhost:{servers['good'].port}"]["issues"]
    assert "expired_in_chain" in [i["code"] for i in issues]


@needs_binary("faketime")
def test_run_before_not_before_reports_not_yet_valid(servers, pki):
    doc = _run(servers, pki, "good", "2001-01-01", "curl", "requests")
    rows = _rows(doc)
    for name in ("curl", "requests"):
        assert (rows[name]["verdict"], rows[name]["reason"]) == ("reject", "not_yet_valid")


@needs_binary("faketime")
def test_run_at_plus_30_days_still_accepts_a_90_day_certificate(servers, pki):
    doc = _run(servers, pki, "good", "+30d", "curl", "requests")
    judged = datetime.fromisoformat(doc["at"].replace("Z", "+00:00"))
    assert abs(judged - (datetime.now(UTC) + timedelta(days=30))) < timedelta(minutes=10)
    assert {row["verdict"] for row in doc["results"]} == {"accept"}


@needs_binary("faketime")
def test_the_table_states_the_date(servers, pki):
    result = _run_at(servers, pki, "good", "2040-01-01", "-c", "curl")
    first = result.stdout.splitlines()[0]
    assert first == "judged at 2040-01-01T00:00:00Z (clocks moved with libfaketime)"


def test_inspect_at_2040_shows_the_leaf_expired(servers, pki):
    port = servers["good"].port
    args = ("inspect", f"https://localhost:{port}", "--resolve", f"localhost:{port}:127.0.0.1")
    doc = json.loads(tlsmatrix(*args, "--at", "2040-01-01", "--format", "json").stdout)
    assert doc["checked_at"] == "2040-01-01T00:00:00Z"
    expired = [i for i in doc["issues"] if i["code"] == "expired_in_chain"]
    assert expired and expired[0]["index"] == 0, doc["issues"]
    now = json.loads(tlsmatrix(*args, "--format", "json").stdout)
    assert "expired_in_chain" not in [i["code"] for i in now["issues"]]
    table = tlsmatrix(*args, "--at", "2040-01-01").stdout
    assert table.startswith("judged at 2040-01-01T00:00:00Z\n")
    assert "expired on" in table


def test_a_saved_run_keeps_its_date_and_a_run_without_one_has_no_at_key():
    from tlsmatrix.results.model import RunResult, from_dict, to_dict

    judged = RunResult((), (), {}, "2026-12-02T21:00:00Z", at="2040-01-01T00:00:00Z")
    doc = to_dict(judged)
    assert validate(doc) == [] and doc["at"] == "2040-01-01T00:00:00Z"
    assert from_dict(doc).at == "2040-01-01T00:00:00Z"
    assert "at" not in to_dict(RunResult((), (), {}, "2026-12-02T21:00:00Z"))
