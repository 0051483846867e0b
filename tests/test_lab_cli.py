"""``tlsmatrix lab serve`` and ``lab run`` through the CLI."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

from tests.conftest import clean_environ

ROOT = __file__.rsplit("/tests/", 1)[0]


def tlsmatrix(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tlsmatrix", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        env=clean_environ(PYTHONPATH=ROOT),
        cwd=ROOT,
    )


def test_lab_serve_prints_urls_and_trust_and_cleans_up():
    proc = subprocess.Popen(
        [sys.executable, "-m", "tlsmatrix", "lab", "serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
        env=clean_environ(PYTHONPATH=ROOT),
        cwd=ROOT,
    )
    lines = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        lines.append(line)
        if line.startswith("Try:"):
            break
    text = "".join(lines)
    urls = dict(re.findall(r"^\s+(\w+)\s+(https://localhost:\d+/)", text, re.M))
    assert {"good", "leaf_only", "revoked"} <= set(urls)
    profiles = dict(re.findall(r"^trust profile (\S+): (\S+)$", text, re.M))
    assert set(profiles) == {"certifi-like", "workstation"}
    assert all(os.path.exists(p) for p in profiles.values())
    # the lab really serves: the incident, against the running lab
    check = tlsmatrix(
        "run",
        urls["leaf_only"],
        "--client",
        "curl",
        "--client",
        "requests",
        "--trust",
        f"curl={profiles['workstation']}",
        "--trust",
        f"requests={profiles['certifi-like']}",
        "--format",
        "json",
    )
    got = {r["client"]: r for r in json.loads(check.stdout)["results"]}
    assert got["curl"]["verdict"] == "accept"
    assert got["requests"]["reason"] == "incomplete_chain"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert "tlsmatrix lab: stopping" in err and "keys removed" in err
    assert not any(os.path.exists(p) for p in profiles.values())


def _free_port_pair() -> int:
    """A base port whose next port is free too (bound and released: a small race that the
    test then reports as a clear failure, not a hang)."""
    import socket

    for _ in range(50):
        with socket.socket() as a:
            a.bind(("127.0.0.1", 0))
            base = a.getsockname()[1]
            with socket.socket() as b:
                try:
                    b.bind(("127.0.0.1", base + 1))
                except OSError:
                    continue
                return base
    raise AssertionError("no two consecutive free ports")


def test_lab_serve_port_and_manifest_answer(tmp_path):
    base = _free_port_pair()
    out_dir = tmp_path / "served"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tlsmatrix", "lab", "serve", "--scenario", "good,leaf_only",
         "--port", str(base), "--dir", str(out_dir), "--format", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
        env=clean_environ(PYTHONPATH=ROOT), cwd=ROOT,
    )  # fmt: skip
    try:
        doc = json.loads(_read_json_document(proc))
        assert [(s["name"], s["port"]) for s in doc["scenarios"]] == [
            ("good", base),
            ("leaf_only", base + 1),
        ]
        manifest = json.loads((out_dir / "lab.json").read_text())
        assert [s["url"] for s in manifest["scenarios"]] == [s["url"] for s in doc["scenarios"]]
        assert manifest["base_url"] == doc["aia_url"]
        check = tlsmatrix("lab", "run", "--from-export", str(out_dir), "-c", "stdlib",
                          "--format", "json")  # fmt: skip
        assert check.returncode == 0, check.stderr
        got = {r["target"]: r for r in json.loads(check.stdout)["results"]}
        assert got[f"https://localhost:{base}"]["verdict"] == "accept"
        assert got[f"https://localhost:{base + 1}"]["reason"] == "incomplete_chain"
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=20)
    assert proc.returncode == 0


def test_lab_serve_on_a_port_in_use_is_one_clear_line():
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = tlsmatrix("lab", "serve", "--scenario", "good", "--port", str(port))
    assert result.returncode == 2
    assert result.stderr.startswith("tlsmatrix: error: cannot serve the lab:")
    assert len(result.stderr.strip().splitlines()) == 1


def _read_json_document(proc: subprocess.Popen[str]) -> str:
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        if not line:
            break
        lines.append(line)
        if line.rstrip() == "}":
            return "".join(lines)
    raise AssertionError("lab serve printed no JSON document: " + "".join(lines))


def test_lab_run_json_and_strict():
    result = tlsmatrix(
        "lab",
        "run",
        "--client",
        "stdlib",
        "--client",
        "curl",
        "--scenario",
        "good",
        "--scenario",
        "leaf_only",
        "--format",
        "json",
        "--strict",
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    cells = {(c["scenario"], c["client"]): c for c in doc["lab"]["cells"]}
    assert cells[("leaf_only", "curl")]["expected_verdict"] == "reject"
    assert all(c["matches"] for c in cells.values())
    # with the workstation store everyone accepts leaf_only: the prediction follows
    result = tlsmatrix(
        "lab",
        "run",
        "--client",
        "stdlib",
        "--scenario",
        "leaf_only",
        "--trust",
        "stdlib=workstation",
        "--format",
        "json",
    )
    cell = json.loads(result.stdout)["lab"]["cells"][0]
    assert cell["expected_verdict"] == "accept" and cell["matches"]


def test_lab_bad_input():
    for argv, needle in [
        (["lab", "run", "--scenario", "nope"], "unknown scenario"),
        (["lab", "run", "--trust", "curl=laptop"], "unknown trust profile"),
        (["lab"], "lab needs a command"),
    ]:
        result = tlsmatrix(*argv)
        assert result.returncode == 2, (argv, result.stderr)
        assert needle in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_lab_run_checks_scenario_expectations(tmp_path):
    met = tmp_path / "met.toml"
    met.write_text(
        '[scenario.leaf_only]\nclients = { curl = { verdict = "reject", '
        'reason = "incomplete_chain" } }\n'
    )
    result = tlsmatrix(
        "lab", "run", "--client", "curl", "--scenario", "leaf_only", "--expect", str(met)
    )
    assert result.returncode == 0, result.stderr
    broken = tmp_path / "broken.toml"
    broken.write_text('[scenario.leaf_only]\nclients = { curl = "accept" }\n')
    result = tlsmatrix(
        "lab", "run", "--client", "curl", "--scenario", "leaf_only", "--expect", str(broken)
    )
    assert result.returncode == 1
    assert "expected accept, got reject (incomplete_chain) [scenario.leaf_only]" in result.stderr
