"""Issue 4 end to end on the lab: inspect, fix-chain (and serving its output), and the
explanations a run carries."""

from __future__ import annotations

import json
import subprocess

import pytest
from tlsmatrix.clients.base import Trust, Verdict
from tlsmatrix.lab.lab import Lab
from tlsmatrix.lab.tlsserver import TLSServer
from tlsmatrix.runner.pool import load_clients

from tests._cli import ROOT, tlsmatrix
from tests.conftest import clean_environ


@pytest.fixture(scope="module")
def lab():
    names = [
        "good",
        "leaf_only",
        "leaf_only_no_aia",
        "leaf_only_dead_aia",
        "leaf_only_hung_aia",
        "weak_key",
    ]
    with Lab(names, max_hang=30) as running:
        yield running


def test_fix_chain_builds_a_chain_that_openssl_verifies_and_every_client_accepts(lab, tmp_path):
    out = tmp_path / "fullchain.pem"
    certifi_like = lab.trust_profiles["certifi-like"]
    result = tlsmatrix(
        "fix-chain", lab.scenario("leaf_only").url, "--ca-file", certifi_like, "-o", str(out)
    )
    assert result.returncode == 0, result.stderr
    assert "downloaded from http://127.0.0.1:" in result.stdout
    assert "Certificate chain" in result.stdout and "ssl_certificate" in result.stdout
    pem = out.read_text()
    assert pem.count("BEGIN CERTIFICATE") == 2  # leaf + intermediate, no root
    leaf = tmp_path / "leaf.pem"
    leaf.write_text(pem.split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n")
    check = subprocess.run(
        ["openssl", "verify", "-CAfile", certifi_like, "-untrusted", str(out), str(leaf)],
        capture_output=True,
        text=True,
        timeout=20,
        stdin=subprocess.DEVNULL,
    )
    assert check.returncode == 0 and ": OK" in check.stdout, check.stdout + check.stderr
    # served with the same key, every client accepts it with the roots-only store
    key = lab.scenario("leaf_only").key_file
    clients = load_clients(None)
    with TLSServer(str(out), key) as server:
        from tlsmatrix.runner.targets import parse_target

        target = parse_target(f"localhost:{server.port}")
        for client in clients:
            obs = client.probe(target, Trust.bundle(certifi_like), 15)
            assert obs.verdict in (Verdict.ACCEPT, Verdict.SKIPPED), (client.name, obs.detail)


@pytest.mark.parametrize(
    "scenario, needle",
    [
        ("leaf_only_no_aia", "names no AIA caIssuers URL"),
        ("leaf_only_dead_aia", "HTTP 404"),
        ("leaf_only_hung_aia", "timed out"),
    ],
)
def test_fix_chain_fails_clearly_without_a_working_aia(lab, tmp_path, scenario, needle):
    out = tmp_path / "x.pem"
    result = tlsmatrix(
        "fix-chain",
        lab.scenario(scenario).url,
        "--ca-file",
        lab.trust_profiles["certifi-like"],
        "-o",
        str(out),
        "--timeout",
        "3",
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], result.stderr
    assert not out.exists()


def test_inspect_lists_the_chain_issues_and_store_verdicts(lab):
    result = tlsmatrix(
        "inspect",
        lab.scenario("leaf_only").url,
        "--ca-file",
        lab.trust_profiles["workstation"],
        "--format",
        "json",
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert [i["code"] for i in doc["issues"]] == ["incomplete"]
    assert doc["missing_issuer"].startswith("CN=Lab Intermediate CA")
    stores = {s["origin"]: s for s in doc["trust_stores"]}
    assert stores["--ca-file"]["verdict"] == "accept"
    assert stores["certifi"]["verdict"] == "reject"
    assert "Lab Intermediate CA" in stores["certifi"]["detail"]
    assert "fix-chain" in doc["fix"]
    table = tlsmatrix("inspect", lab.scenario("good").url)
    assert "Issues: none" in table.stdout and "Lab Intermediate CA" in table.stdout


def test_incident_explanation_names_the_missing_intermediate_and_the_trust(lab):
    stores = lab.trust_profiles
    result = tlsmatrix(
        "run",
        lab.scenario("leaf_only").url,
        "--client",
        "curl",
        "--client",
        "requests",
        "--trust",
        f"curl={stores['workstation']}",
        "--trust",
        f"requests={stores['certifi-like']}",
        "--format",
        "json",
    )
    doc = json.loads(result.stdout)
    rows = {r["client"]: r for r in doc["results"]}
    assert "'Lab Intermediate CA'" in rows["curl"]["explanation"]
    assert f"{stores['workstation']} contains it" in rows["curl"]["explanation"]
    assert f"{stores['certifi-like']} does not contain it" in rows["requests"]["explanation"]
    assert "does not fetch intermediates via AIA" in rows["requests"]["explanation"]
    [divergence] = doc["divergences"]
    assert "workstation.pem contains it" in divergence["explanation"]
    assert "does not contain it" in divergence["explanation"]
    chain = doc["chains"][rows["curl"]["target"]]
    assert "serve the intermediate 'Lab Intermediate CA'" in chain["fix"]


def test_environment_variable_that_changed_trust_is_named(lab):
    env = clean_environ(PYTHONPATH=ROOT, REQUESTS_CA_BUNDLE=lab.trust_profiles["workstation"])
    result = tlsmatrix(
        "run", lab.scenario("leaf_only").url, "--client", "requests", "--format", "json", env=env
    )
    [row] = json.loads(result.stdout)["results"]
    assert row["verdict"] == "accept"
    assert "REQUESTS_CA_BUNDLE" in row["explanation"]
    assert "replaced its default trust store" in row["explanation"]


def test_policy_difference_is_explained(lab):
    result = tlsmatrix(
        "run",
        lab.scenario("weak_key").url,
        "--client",
        "openssl",
        "--client",
        "gnutls",
        "--ca-file",
        lab.trust_profiles["certifi-like"],
        "--format",
        "json",
    )
    rows = {r["client"]: r for r in json.loads(result.stdout)["results"]}
    assert rows["openssl"]["reason"] == "weak_key"
    assert rows["openssl"]["explanation"].startswith("rejected by policy")
    if rows["gnutls"]["verdict"] != "skipped":
        assert rows["gnutls"]["verdict"] == "accept"
        assert "does not refuse it by policy" in rows["gnutls"]["explanation"]
