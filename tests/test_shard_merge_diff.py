"""Sharding a run, merging the parts back, and diffing two runs: real runs through the
CLI on the local servers, plus the pure pieces on their own."""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest
from tlsmatrix.clients.base import Observation, Reason, verdict_for
from tlsmatrix.commands.diff import diff_runs
from tlsmatrix.errors import UsageError
from tlsmatrix.results.model import RunResult
from tlsmatrix.results.schema import validate
from tlsmatrix.runner.shard import Shard, parse_shard, select, shard_of

from tests._cli import tlsmatrix

# --- the pure pieces ------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "1", "0/3", "4/3", "1/0", "a/3", "1/3/2", "-1/3", "1/ 3"])
def test_parse_shard_rejects(text):
    with pytest.raises(UsageError):
        parse_shard(text)


def test_shards_partition_stably_whatever_the_order():
    names = [f"https://h{i}.test:443" for i in range(200)]
    parts = [select(names, Shard(k, 3)) for k in (1, 2, 3)]
    assert sorted(sum(parts, [])) == sorted(names)  # every target in exactly one part
    assert all(40 < len(p) < 95 for p in parts)  # and the parts are of similar size
    # Independent of order and of the other targets:
    assert select(list(reversed(names)), Shard(2, 3)) == list(reversed(parts[1]))
    assert select(names[:7], Shard(2, 3)) == [n for n in names[:7] if n in parts[1]]
    # Fixed forever (SHA-256, not the salted hash()): the same slice on every machine.
    digest = hashlib.sha256(b"https://a.test:443").hexdigest()
    assert shard_of("https://a.test:443", 4) == 1 + int(digest[:16], 16) % 4


def _obs(target: str, client: str, reason: Reason) -> Observation:
    return Observation(target, client, verdict_for(reason), reason)


def _run(*observations: Observation) -> RunResult:
    return RunResult(observations, (), {}, "2026-01-01T00:00:00Z")


def test_diff_runs_kinds():
    before = _run(
        _obs("a", "curl", Reason.OK),
        _obs("a", "stdlib", Reason.EXPIRED),
        _obs("a", "wget", Reason.OK),
        _obs("b", "curl", Reason.OK),
    )
    after = _run(
        _obs("a", "curl", Reason.INCOMPLETE_CHAIN),
        _obs("a", "stdlib", Reason.NOT_YET_VALID),
        _obs("b", "curl", Reason.OK),
        _obs("c", "curl", Reason.OK),
    )
    assert [(c.target, c.client, c.change) for c in diff_runs(before, after)] == [
        ("a", "curl", "verdict"),
        ("a", "stdlib", "reason"),
        ("c", "curl", "added"),
        ("a", "wget", "removed"),
    ]
    assert diff_runs(before, before) == ()


# --- shard, merge, diff through the CLI -----------------------------------------------


@pytest.fixture(scope="module")
def ten(servers, pki):
    """Ten distinct target names on the local servers: the six servers by localhost,
    and four *.invalid names sent to 127.0.0.1 with --resolve (hostname mismatch)."""
    targets = [f"https://localhost:{s.port}" for s in servers.values()]
    resolve = []
    for i, name in enumerate(("good", "leaf_only", "expired", "self_signed"), start=1):
        port = servers[name].port
        targets.append(f"https://t{i}.invalid:{port}")
        resolve += ["--resolve", f"t{i}.invalid:{port}:127.0.0.1"]
    assert len(set(targets)) == 10
    return targets, resolve


def _run_args(ten, pki, *extra: str) -> list[str]:
    targets, resolve = ten
    return [
        "run",
        *targets,
        *resolve,
        "--client",
        "curl",
        "--client",
        "stdlib",
        "--ca-file",
        pki.root_pem,
        "--format",
        "json",
        *extra,
    ]


def _cells(document: dict) -> list[dict]:
    """The result cells without what varies between two runs of the same thing."""
    varies = {"elapsed_ms", "started_at", "finished_at"}  # timing differs between runs
    cells = [{k: v for k, v in r.items() if k not in varies} for r in document["results"]]
    return sorted(cells, key=lambda c: (c["target"], c["client"]))


def _load(path) -> dict:
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def sharded(ten, pki, tmp_path_factory):
    """One unsharded run and the same run split into three shards."""
    where = tmp_path_factory.mktemp("shards")
    whole = where / "all.json"
    result = tlsmatrix(*_run_args(ten, pki, "-o", str(whole)))
    assert result.returncode == 0, result.stderr
    parts = []
    for k in (1, 2, 3):
        part = where / f"part{k}.json"
        result = tlsmatrix(*_run_args(ten, pki, "--shard", f"{k}/3", "-o", str(part)))
        assert result.returncode == 0, result.stderr
        parts.append(part)
    return where, whole, parts


def test_shards_hold_the_right_targets(sharded, ten):
    _, whole, parts = sharded
    targets, _ = ten
    all_names = {r["target"] for r in _load(whole)["results"]}
    assert len(all_names) == 10
    seen: list[str] = []
    for k, part in enumerate(parts, start=1):
        document = _load(part)
        assert document["shard"] == {"index": k, "count": 3}
        assert validate(document) == []
        names = {r["target"] for r in document["results"]}
        assert names == {n for n in all_names if shard_of(n, 3) == k}
        seen += names
    assert sorted(seen) == sorted(all_names)


def test_merge_gives_back_the_unsharded_run(sharded):
    where, whole, parts = sharded
    merged = where / "merged.json"
    result = tlsmatrix("merge", *map(str, parts), "-o", str(merged))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    expected, got = _load(whole), _load(merged)
    assert validate(got) == []
    assert _cells(got) == _cells(expected)
    assert len(got["results"]) == 20
    assert "shard" not in got and got["partial"] is False
    key = lambda d: (d["target"], d["summary"])  # noqa: E731
    assert sorted(got["divergences"], key=key) == sorted(expected["divergences"], key=key)
    assert [c["name"] for c in got["clients"]] == ["curl", "stdlib"]
    assert got["environment"] == _load(parts[0])["environment"]
    # Deterministic: the order of the parts does not matter.
    again = where / "merged-reversed.json"
    result = tlsmatrix("merge", *map(str, reversed(parts)), "-o", str(again))
    assert result.returncode == 0, result.stderr
    assert [(r["target"], r["client"]) for r in _load(again)["results"]] == [
        (r["target"], r["client"]) for r in got["results"]
    ]
    # And diff agrees that nothing changed.
    result = tlsmatrix("diff", str(whole), str(merged))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("No cell changed")


def test_merge_refuses_overlapping_and_mismatched_parts(sharded):
    where, _, parts = sharded
    result = tlsmatrix("merge", str(parts[0]), str(parts[0]))
    assert result.returncode == 2 and "named twice" in result.stderr
    nonempty = next(p for p in parts if _load(p)["results"])
    copy = where / "copy.json"
    shutil.copy(nonempty, copy)
    result = tlsmatrix("merge", str(nonempty), str(copy))
    assert result.returncode == 2
    assert "parts overlap" in result.stderr and len(result.stderr.splitlines()) == 1
    document = _load(parts[1])
    document["shard"]["count"] = 4
    odd = where / "odd.json"
    odd.write_text(json.dumps(document))
    result = tlsmatrix("merge", str(parts[0]), str(odd))
    assert result.returncode == 2 and "mismatched parts" in result.stderr
    document = _load(parts[1])
    document["clients"][0]["version"] = "0.0.1-other"
    other = where / "other-version.json"
    other.write_text(json.dumps(document))
    result = tlsmatrix("merge", str(parts[0]), str(other))
    assert result.returncode == 2 and "client curl is" in result.stderr
    result = tlsmatrix("merge", str(parts[0]), str(where / "missing.json"))
    assert result.returncode == 2 and "cannot read" in result.stderr
    bad = where / "bad.json"
    bad.write_text('{"schema": "something/2"}')
    result = tlsmatrix("merge", str(bad))
    assert result.returncode == 2 and "not a tlsmatrix/1 report" in result.stderr


def test_merge_with_a_shard_missing_is_partial(sharded):
    where, _, parts = sharded
    out = where / "two.json"
    result = tlsmatrix("merge", str(parts[0]), str(parts[1]), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert "shard 3/3 missing" in result.stderr
    assert _load(out)["partial"] is True


def test_diff_reports_flipped_cells_and_exits_1(servers, pki, tmp_path):
    good = f"https://localhost:{servers['good'].port}"
    leaf = f"https://localhost:{servers['leaf_only'].port}"
    common = ["run", good, leaf, "--client", "curl", "--client", "stdlib", "--format", "json"]
    before, after = tmp_path / "before.json", tmp_path / "after.json"
    result = tlsmatrix(*common, "--ca-file", pki.root_pem, "-o", str(before))
    assert result.returncode == 0, result.stderr
    result = tlsmatrix(*common, "--ca-file", pki.other_root_pem, "-o", str(after))
    assert result.returncode == 0, result.stderr

    result = tlsmatrix("diff", str(before), str(after))
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert any(
        good in line and "curl" in line and "accept" in line and "reject" in line for line in lines
    )
    assert "2 verdict changes" in result.stdout
    assert not any(leaf in line for line in lines)  # leaf_only: rejected either way

    result = tlsmatrix("diff", str(before), str(after), "--format", "json")
    assert result.returncode == 1
    document = json.loads(result.stdout)
    assert document["verdict_changes"] == 2
    flipped = {(c["target"], c["client"]): c for c in document["changes"]}
    assert set(flipped) == {(good, "curl"), (good, "stdlib")}
    assert flipped[(good, "curl")]["before"]["verdict"] == "accept"
    assert flipped[(good, "curl")]["after"]["verdict"] == "reject"

    result = tlsmatrix("diff", str(before), str(before))
    assert result.returncode == 0 and "No cell changed" in result.stdout
    result = tlsmatrix("diff", str(before), str(tmp_path / "nope.json"))
    assert result.returncode == 2 and "cannot read" in result.stderr


def test_expectations_on_a_shard_and_on_the_merge(sharded, ten, servers, pki, tmp_path):
    where, _, parts = sharded
    good = f"https://localhost:{servers['good'].port}"
    t1 = f"https://t1.invalid:{servers['good'].port}"
    expect = tmp_path / "expect.toml"
    expect.write_text(
        f'[target."{good}".clients]\ncurl = "accept"\nstdlib = "accept"\n'
        f'[target."{t1}"]\nclients.curl = {{ verdict = "reject", reason = "hostname_mismatch" }}\n'
        '[target."https://nowhere.invalid:1"]\nall_accept = true\n'
    )
    # A shard checks only its own targets: the other sections are not violations.
    k = shard_of(good, 3)
    result = tlsmatrix(*_run_args(ten, pki, "--shard", f"{k}/3", "--expect", str(expect)))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["expectations"]["passed"] is True
    # The merge checks the whole run: the target that no part has is missing.
    junit = tmp_path / "merged.xml"
    args = ("merge", *map(str, parts), "--expect", str(expect), "--format", "junit")
    result = tlsmatrix(*args, "-o", str(junit))
    assert result.returncode == 1, result.stderr
    assert "1 expectation not met" in result.stderr
    assert "https://nowhere.invalid:1: expected a target https://nowhere.invalid:1" in result.stderr
    from lxml import etree

    from tests.test_reports_formats import XSD

    doc = etree.parse(str(junit))
    etree.XMLSchema(etree.parse(XSD)).assertValid(doc)
    failures = [f.getparent().get("classname") for f in doc.iter("failure")]
    assert failures == ["https://nowhere.invalid:1"]


def test_merge_joins_other_sections_and_drops_per_part_ones():
    from dataclasses import replace

    from tlsmatrix.runner.shard import Part, merge

    def part(target: str, scenario: str) -> Part:
        run = replace(
            _run(_obs(target, "curl", Reason.OK)),
            extra={
                "lab": {"scenarios": {target: scenario}, "cells": [{"scenario": scenario}]},
                "expectations": {"passed": True},
                "shard": {"index": 1, "count": 1},
            },
        )
        return Part(target, run)

    merged, notes = merge([part("a", "good"), part("b", "expired")])
    assert notes == []
    assert merged.extra == {
        "lab": {
            "scenarios": {"a": "good", "b": "expired"},
            "cells": [{"scenario": "good"}, {"scenario": "expired"}],
        }
    }
