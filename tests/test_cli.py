"""The CLI end to end, as a user runs it: a subprocess with a controlled environment."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from tests._cli import ROOT, rows, tlsmatrix, trust_args
from tests.conftest import clean_environ


def test_the_incident(servers, pki):
    """Leaf-only server: curl with a root+intermediate bundle (the laptop) accepts;
    requests with only the root (certifi) rejects; s_client says code 21."""
    url = f"https://localhost:{servers['leaf_only'].port}/"
    bundles = trust_args(
        curl=pki.root_and_intermediate_pem, requests=pki.root_pem, openssl=pki.root_pem
    )
    result = tlsmatrix("run", url, *bundles, "--format", "json")
    assert result.returncode == 0, result.stderr
    got = rows(result.stdout)
    assert got["curl"]["verdict"] == "accept"
    assert got["curl"]["trust"]["path"] == pki.root_and_intermediate_pem
    assert (got["requests"]["verdict"], got["requests"]["reason"]) == ("reject", "incomplete_chain")
    assert "unable to get local issuer certificate" in got["requests"]["detail"]
    assert (got["openssl"]["verdict"], got["openssl"]["verify_code"]) == ("reject", 21)
    divergences = json.loads(result.stdout)["divergences"]
    assert [d["target"] for d in divergences] == [url.rstrip("/")]


def test_table_names_verdict_reason_trust_and_disagreement(servers, pki):
    url = f"https://localhost:{servers['leaf_only'].port}/"
    result = tlsmatrix(
        "run", url, *trust_args(curl=pki.root_and_intermediate_pem, stdlib=pki.root_pem)
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    curl = next(line for line in lines if line.startswith("curl"))
    stdlib = next(line for line in lines if line.startswith("stdlib"))
    assert "ACCEPT" in curl and "bundle root+intermediat" in curl  # the column is narrow
    assert "REJECT" in stdlib and "incomplete_chain" in stdlib and "root.pem" in stdlib
    assert any(
        line.startswith("Disagreement:")
        and "curl: accept" in line
        and "stdlib: reject (incomplete_chain)" in line
        for line in lines
    )


@pytest.mark.parametrize(
    "scenario, verdict, reason",
    [
        ("good", "accept", "ok"),
        ("expired", "reject", "expired"),
        ("wrong_host", "reject", "hostname_mismatch"),
        ("self_signed", "reject", "self_signed"),
        ("untrusted_root", "reject", "untrusted_root"),
        # Only the root is known and the leaf names no AIA URL: nothing tells a missing
        # intermediate from an unknown root, so the reason is unknown_issuer (issue 12).
        ("leaf_only", "reject", "unknown_issuer"),
    ],
)
def test_ca_file_gives_every_client_the_same_bundle(servers, pki, scenario, verdict, reason):
    result = tlsmatrix(
        "run", f"localhost:{servers[scenario].port}", "--ca-file", pki.root_pem, "--format", "json"
    )
    assert result.returncode == 0, result.stderr
    got = [r for r in json.loads(result.stdout)["results"] if r["verdict"] != "skipped"]
    required = {"curl", "openssl", "requests", "httpx", "urllib3", "stdlib", "pyopenssl"}
    assert {r["client"] for r in got} >= required
    for r in got:
        assert (r["verdict"], r["reason"]) == (verdict, reason), r
        if reason == "unknown_issuer":
            assert r["reason_source"] == "inferred" and "Provisional" in r["explanation"], r


def test_native_trust_is_reported_truthfully(servers, pki):
    url = f"localhost:{servers['good'].port}"
    redirected = tlsmatrix(
        "run",
        url,
        "--client",
        "requests",
        "--format",
        "json",
        env=clean_environ(PYTHONPATH=ROOT, REQUESTS_CA_BUNDLE=pki.root_pem),
    )
    row = rows(redirected.stdout)["requests"]
    assert row["trust"] == {"kind": "native", "origin": "REQUESTS_CA_BUNDLE", "path": pki.root_pem}
    assert row["verdict"] == "accept"  # and it really used that file
    default = tlsmatrix("run", url, "--client", "requests", "--format", "json")
    row = rows(default.stdout)["requests"]
    assert row["trust"]["origin"] == "certifi" and row["trust"]["path"].endswith("cacert.pem")
    assert row["verdict"] == "reject"
    env = json.loads(redirected.stdout)["environment"]["env"]
    assert env == {"REQUESTS_CA_BUNDLE": pki.root_pem}


def test_silent_server_costs_at_most_the_timeout(silent_server):
    started = time.monotonic()
    result = tlsmatrix(
        "run", f"127.0.0.1:{silent_server.port}", "--timeout", "1", "--format", "json"
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    got = json.loads(result.stdout)["results"]
    assert len(got) >= 7 and all(r["verdict"] == "timeout" for r in got)
    assert all(r["elapsed_ms"] <= 2000 for r in got)
    assert elapsed < 15  # all clients ran side by side, not one after another


def test_clients_command_lists_every_client():
    result = tlsmatrix("clients", "--format", "json")
    assert result.returncode == 0, result.stderr
    infos = {c["name"]: c for c in json.loads(result.stdout)}
    assert {"curl", "openssl", "requests", "httpx", "urllib3", "stdlib", "pyopenssl"} <= set(infos)
    assert infos["requests"]["env_vars"] == ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"]
    assert infos["httpx"]["env_vars"] == ["SSL_CERT_FILE", "SSL_CERT_DIR"]
    assert infos["curl"]["available"] and infos["curl"]["version"].startswith("curl ")


def _bad(tmp_path):
    not_pem = tmp_path / "notes.txt"
    not_pem.write_text("hello\n")
    return [
        (["run", "localhost:443", "--client", "nosuchclient"], "unknown client"),
        (["run", "https://exa mple.com/"], "spaces"),
        (["run", "ftp://example.com/"], "only https://"),
        (["run", "localhost:99999"], "port"),
        (["run", "localhost:0"], "port"),
        (["run", "--", "-oProxyCommand=x"], "start with '-'"),
        (["run", "https://-bad.example/"], "start with '-'"),
        (["run", "localhost", "--ca-file", str(tmp_path / "missing.pem")], "cannot read"),
        (["run", "localhost", "--ca-file", str(not_pem)], "no PEM certificate"),
        (["run", "localhost", "--trust", "curl"], "CLIENT=PEM"),
        (["run", "localhost", "--timeout", "-1"], "positive"),
        (["run", "localhost", "--jobs", "0"], "at least 1"),
        (["run"], "no targets"),
        (["nosuchcommand"], "invalid choice"),
    ]


def test_bad_input_gives_one_line_and_exit_2(tmp_path):
    for argv, needle in _bad(tmp_path):
        result = tlsmatrix(*argv)
        assert result.returncode == 2, (argv, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, (argv, result.stderr)
        assert "Traceback" not in result.stderr
        assert needle in lines[0], (argv, lines[0])
        assert result.stdout == ""


def test_help_imports_no_client_library():
    code = (
        "import sys; from tlsmatrix.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = {'requests', 'httpx', 'urllib3', 'cryptography', 'OpenSSL'} & set(sys.modules)\n"
        "print(sorted(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=clean_environ(PYTHONPATH=ROOT),
        cwd=ROOT,
        timeout=30,
    )
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout


def test_missing_binaries_are_skipped_with_the_reason_and_the_rest_runs(servers, pki, tmp_path):
    import os
    import shutil

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("curl", "openssl"):  # everything else (gnutls-cli, node, wget) is "removed"
        os.symlink(shutil.which(tool), bin_dir / tool)
    env = clean_environ(PYTHONPATH=ROOT, PATH=str(bin_dir))
    result = tlsmatrix(
        "run",
        f"localhost:{servers['good'].port}",
        "--ca-file",
        pki.root_pem,
        "--client",
        "curl",
        "--client",
        "gnutls",
        "--client",
        "node",
        "--client",
        "wget",
        "--client",
        "stdlib",
        "--format",
        "json",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    got = rows(result.stdout)
    for missing in ("gnutls", "node", "wget"):
        assert (got[missing]["verdict"], got[missing]["reason"]) == (
            "skipped",
            "client_unavailable",
        )
        assert "not found" in got[missing]["detail"], got[missing]["detail"]
    assert got["curl"]["verdict"] == "accept" and got["stdlib"]["verdict"] == "accept"


def _processes_with_env(marker: str) -> list[str]:
    """Command lines of live processes whose environment holds ``marker``."""
    import os

    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if marker.encode() not in f.read():
                    continue
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                found.append(f.read().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:
            continue
    return found


def test_the_quick_exit_still_cleans_up_flushes_and_stops_workers(servers, pki, tmp_path):
    """``python -m tlsmatrix`` skips the interpreter's teardown (cli.entry): the report must
    still be complete on a pipe, the workers (node) stopped and temporary files (curl's
    empty CA directory, made for an explicit bundle) removed, as the atexit handlers
    promise."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    url = f"https://localhost:{servers['good'].port}/"
    env = clean_environ(PYTHONPATH=ROOT, TMPDIR=str(temp))
    result = subprocess.run(
        [sys.executable, "-m", "tlsmatrix", "run", url, "-c", "curl,node",
         "--ca-file", pki.root_pem, "--format", "json"],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert {r["client"] for r in json.loads(result.stdout)["results"]} == {"curl", "node"}
    deadline = time.monotonic() + 5
    while _processes_with_env(f"TMPDIR={temp}") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _processes_with_env(f"TMPDIR={temp}") == []
    assert list(temp.iterdir()) == []


def test_a_command_line_builds_only_its_own_command():
    """``tlsmatrix run ...`` registers (and imports) the run command only; anything else
    (no command, --help, a typo) gets every command, so help and errors list them all."""
    import argparse

    from tlsmatrix.cli import COMMANDS, build_parser

    def commands(argv: list[str]) -> list[str]:
        parser = build_parser(argv)
        [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        return list(sub.choices)

    assert commands(["run", "example.invalid"]) == ["run"]
    assert commands(["fix-chain", "--help"]) == ["fix-chain"]
    for argv in ([], ["--help"], ["rnu", "x"], ["--version"]):
        assert commands(argv) == list(COMMANDS), argv
