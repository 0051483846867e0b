"""Expectations: parsing (bad files name line or key), the pure check, and
``run --expect`` end to end against the local servers."""

from __future__ import annotations

import json

import pytest
from tlsmatrix.clients.base import Observation, Reason, Verdict, verdict_for
from tlsmatrix.results.expectations import (
    ExpectationError,
    Policy,
    check,
    evaluate,
    parse_expectations,
)
from tlsmatrix.results.model import RunResult, find_divergences
from tlsmatrix.results.schema import validate

from tests._cli import tlsmatrix, trust_args

KNOWN = ("curl", "stdlib", "requests", "openssl")


def obs(target: str, client: str, reason: Reason, detail: str = "") -> Observation:
    return Observation(target, client, verdict_for(reason), reason, detail)


def run_of(*observations: Observation) -> RunResult:
    return RunResult(
        results=observations,
        clients=(),
        environment={},
        generated_at="2026-01-01T00:00:00Z",
        divergences=find_divergences(observations),
    )


def parse(text: str):
    return parse_expectations(text, source="exp.toml", known_clients=KNOWN)


# --- parsing --------------------------------------------------------------------------


def test_parse_full_file():
    spec = parse(
        """
consistent = true

[target."localhost:8443"]
all_accept = true
clients = { curl = "accept" }

[target."https://b.example/x".clients]
requests = { verdict = "reject", reason = "incomplete_chain" }
stdlib = { reason = "expired" }

[scenario.leaf_only]
consistent = false
clients.openssl = "reject"
"""
    )
    assert spec.policy == Policy(all_accept=None, consistent=True)
    first, second, third = spec.sections
    assert (first.kind, first.match, first.policy.all_accept) == (
        "target",
        "https://localhost:8443",
        True,
    )
    assert [(c.client, c.verdict, c.reason) for c in second.clients] == [
        ("requests", Verdict.REJECT, Reason.INCOMPLETE_CHAIN),
        ("stdlib", Verdict.REJECT, Reason.EXPIRED),  # verdict implied by the reason
    ]
    assert second.match == "https://b.example:443/x"
    assert (third.kind, third.match, third.policy.consistent) == ("scenario", "leaf_only", False)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("consistent = true\n[target.x]\nclients = {curl = }\n", "line 3, column"),
        ("a = [1,\n2\n", "line 2 (end of file)"),
        ("strict = true\n", "exp.toml: strict: unknown key"),
        ('[target."h:1"]\nall_accep = true\n', 'target."h:1".all_accep: unknown key'),
        (
            '[target."h:1".clients]\ncurl = "acept"\n',
            "target.\"h:1\".clients.curl: unknown verdict 'acept'",
        ),
        (
            '[target."h:1".clients]\ncurl = {verdict = "reject", reason = "expird"}\n',
            "clients.curl.reason: unknown reason 'expird'",
        ),
        ('[target."h:1".clients]\nwget2 = "accept"\n', "clients.wget2: unknown client 'wget2'"),
        (
            '[target."h:1".clients]\ncurl = {verdict = "accept", reason = "expired"}\n',
            "clients.curl.reason: reason 'expired' never comes with verdict 'accept'",
        ),
        (
            '[target."h:1".clients.curl]\nverdict = "accept"\nwhy = 1\n',
            "clients.curl.why: unknown key",
        ),
        ("all_accept = 1\n", "all_accept: must be true or false"),
        ('[target."http://h"]\n', 'target."http://h": not a target'),
        ("target = 3\n", "target: must be a table"),
    ],
)
def test_bad_files_name_line_or_key(text, needle):
    with pytest.raises(ExpectationError) as info:
        parse(text)
    assert needle in str(info.value)
    assert str(info.value).startswith("exp.toml: ")


# --- the check ------------------------------------------------------------------------


def test_verdict_and_reason_met_and_broken():
    run = run_of(
        obs("https://a.test:443", "curl", Reason.OK),
        obs("https://a.test:443", "stdlib", Reason.INCOMPLETE_CHAIN),
    )
    spec = parse(
        '[target."a.test".clients]\ncurl = "accept"\n'
        'stdlib = {verdict = "reject", reason = "incomplete_chain"}\n'
    )
    assert check(run, spec) == ()
    spec = parse(
        '[target."a.test".clients]\ncurl = "reject"\n'
        'stdlib = {verdict = "reject", reason = "expired"}\n'
    )
    got = check(run, spec)
    assert [(v.client, v.rule, v.expected, v.observed) for v in got] == [
        ("curl", "verdict", "reject", "accept"),
        ("stdlib", "reason", "reject (expired)", "reject (incomplete_chain)"),
    ]
    assert got[0].message() == (
        'https://a.test:443 / curl: expected reject, got accept [target."a.test"]'
    )


def test_policies_global_and_overridden_skipped_takes_no_side():
    run = run_of(
        obs("https://a.test:443", "curl", Reason.OK),
        obs("https://a.test:443", "stdlib", Reason.CLIENT_UNAVAILABLE),
        obs("https://b.test:443", "curl", Reason.OK),
        obs("https://b.test:443", "stdlib", Reason.EXPIRED),
    )
    spec = parse("consistent = true\nall_accept = true\n")
    got = check(run, spec)
    assert [(v.target, v.client, v.rule, v.section) for v in got] == [
        ("https://b.test:443", "stdlib", "all_accept", "global"),
        ("https://b.test:443", None, "consistent", "global"),
    ]
    # A section switches the global policies off for its target.
    spec = parse(
        'consistent = true\nall_accept = true\n[target."b.test"]\nconsistent = false\n'
        "all_accept = false\n"
    )
    assert check(run, spec) == ()


def test_all_accept_with_no_verdict_at_all_is_violated():
    run = run_of(obs("https://a.test:443", "curl", Reason.CLIENT_UNAVAILABLE))
    got = check(run, parse("all_accept = true\n"))
    assert [(v.client, v.observed) for v in got] == [(None, "no client reached a verdict")]


def test_scenario_sections_match_by_label_or_name():
    run = run_of(
        obs("https://127.0.0.1:4001", "curl", Reason.INCOMPLETE_CHAIN),
        obs("expired", "curl", Reason.EXPIRED),
    )
    spec = parse(
        '[scenario.leaf_only.clients]\ncurl = "accept"\n'
        '[scenario.expired.clients]\ncurl = "reject"\n'
    )
    got = check(run, spec, scenarios={"https://127.0.0.1:4001": "leaf_only"})
    assert [(v.target, v.section) for v in got] == [
        ("https://127.0.0.1:4001", "scenario.leaf_only")
    ]
    # Without the mapping the leaf_only section matches nothing: missing when strict.
    got = check(run, spec)
    assert [(v.rule, v.target) for v in got] == [("missing", "leaf_only")]
    assert check(run, spec, strict=False) == ()


def test_missing_client_and_target():
    run = run_of(obs("https://a.test:443", "curl", Reason.OK))
    spec = parse(
        '[target."a.test".clients]\nstdlib = "accept"\n[target."c.test".clients]\ncurl = "accept"\n'
    )
    got = check(run, spec)
    assert [(v.rule, v.target, v.client) for v in got] == [
        ("missing", "https://a.test:443", "stdlib"),
        ("missing", "https://c.test:443", None),
    ]
    assert check(run, spec, strict=False) == ()
    result = evaluate(run, spec)
    assert not result.passed and result.expected_cells == {("https://a.test:443", "stdlib")}
    assert result.to_dict()["violations"][0]["message"].endswith(
        'stdlib has no result for it [target."a.test"]'
    )


# --- run --expect, end to end ---------------------------------------------------------


def _write(tmp_path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def _run_args(servers, pki):
    good = f"https://localhost:{servers['good'].port}"
    leaf = f"https://localhost:{servers['leaf_only'].port}"
    args = ["run", good, leaf, *trust_args(curl=pki.root_and_intermediate_pem, stdlib=pki.root_pem)]
    return good, leaf, args


def test_run_expect_met_exits_0(servers, pki, tmp_path):
    good, leaf, args = _run_args(servers, pki)
    expect = _write(
        tmp_path,
        "ok.toml",
        f'[target."{good}"]\nall_accept = true\nconsistent = true\n'
        f'[target."{leaf}".clients]\ncurl = "accept"\n'
        'stdlib = { verdict = "reject", reason = "incomplete_chain" }\n',
    )
    out = str(tmp_path / "report.json")
    result = tlsmatrix(*args, "--expect", expect, "--format", "json", "-o", out)
    assert result.returncode == 0, result.stderr
    document = json.loads((tmp_path / "report.json").read_text())
    assert document["expectations"] == {"source": expect, "passed": True, "violations": []}
    assert validate(document) == []


def test_run_expect_violated_exits_1_and_lists(servers, pki, tmp_path):
    good, leaf, args = _run_args(servers, pki)
    expect = _write(
        tmp_path,
        "bad.toml",
        f'consistent = true\n[target."{leaf}".clients]\nstdlib = "accept"\ncurl = "accept"\n',
    )
    out = str(tmp_path / "report.json")
    result = tlsmatrix(*args, "--expect", expect, "--format", "json", "-o", out)
    assert result.returncode == 1, result.stderr
    assert "2 expectations not met" in result.stderr
    assert f"{leaf} / stdlib: expected accept, got reject (incomplete_chain)" in result.stderr
    assert (
        f"{leaf}: expected every client agrees, got curl: accept; stdlib: reject" in result.stderr
    )
    document = json.loads((tmp_path / "report.json").read_text())
    assert validate(document) == []
    violations = document["expectations"]["violations"]
    assert document["expectations"]["passed"] is False
    assert sorted((v["client"] or "", v["rule"]) for v in violations) == [
        ("", "consistent"),
        ("stdlib", "verdict"),
    ]


def test_run_expect_bad_toml_exits_2_naming_the_line(tmp_path):
    expect = _write(
        tmp_path, "syntax.toml", '# expectations\n[target."a.test"]\nconsistent = tru\n'
    )
    result = tlsmatrix("run", "a.test", "--client", "curl", "--expect", expect)
    assert result.returncode == 2
    assert result.stderr.startswith(f"tlsmatrix: error: {expect}: line 3, column 14: TOML syntax")
    assert len(result.stderr.splitlines()) == 1


def test_run_expect_unknown_key_and_verdict_exit_2_naming_the_key(tmp_path):
    expect = _write(tmp_path, "key.toml", '[target."a.test"]\nall_accepts = true\n')
    result = tlsmatrix("run", "a.test", "--client", "curl", "--expect", expect)
    assert result.returncode == 2
    assert 'target."a.test".all_accepts: unknown key' in result.stderr
    expect = _write(tmp_path, "verdict.toml", '[target."a.test".clients]\ncurl = "pass"\n')
    result = tlsmatrix("run", "a.test", "--client", "curl", "--expect", expect)
    assert result.returncode == 2
    assert "target.\"a.test\".clients.curl: unknown verdict 'pass'" in result.stderr
    result = tlsmatrix("run", "a.test", "--expect", str(tmp_path / "nope.toml"))
    assert result.returncode == 2 and "cannot read expectations file" in result.stderr


def test_the_readme_example_parses():
    import os
    import re

    readme = os.path.join(os.path.dirname(__file__), os.pardir, "README.md")
    with open(readme, encoding="utf-8") as handle:
        text = handle.read()
    section = text[text.index("## CI mode and reports") :]
    example = re.search(r"```toml\n(.*?)```", section, re.S).group(1)
    spec = parse_expectations(example, known_clients=KNOWN)
    assert spec.policy == Policy(all_accept=False, consistent=True)
    assert [s.match for s in spec.sections] == [
        "https://api.example.com:443",
        "https://legacy.example.com:8443",
        "leaf_only",
    ]


def test_lab_run_scenarios_match_scenario_sections(tmp_path):
    """A lab run's JSON names each target's scenario: [scenario.X] sections apply to it
    when the saved run is checked (merge --expect), and it validates against the schema."""
    lab = tmp_path / "lab.json"
    result = tlsmatrix(
        "lab", "run", "--client", "stdlib", "--scenario", "good", "--scenario", "leaf_only",
        "--format", "json", "-o", str(lab),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    document = json.loads(lab.read_text())
    assert validate(document) == []
    assert sorted(document["lab"]["scenarios"].values()) == ["good", "leaf_only"]
    met = _write(
        tmp_path,
        "met.toml",
        "[scenario.good]\nall_accept = true\n"
        '[scenario.leaf_only.clients]\nstdlib = { reason = "incomplete_chain" }\n',
    )
    result = tlsmatrix("merge", str(lab), "--expect", met, "--format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["expectations"]["passed"] is True
    assert json.loads(result.stdout)["lab"] == document["lab"]
    broken = _write(tmp_path, "broken.toml", '[scenario.leaf_only.clients]\nstdlib = "accept"\n')
    result = tlsmatrix("merge", str(lab), "--expect", broken)
    assert result.returncode == 1
    leaf = next(t for t, s in document["lab"]["scenarios"].items() if s == "leaf_only")
    assert (
        f"{leaf} / stdlib: expected accept, got reject (incomplete_chain) [scenario.leaf_only]"
        in (result.stderr)
    )
