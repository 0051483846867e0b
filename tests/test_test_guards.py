"""The test suite's own guards: under CI no client-specific test may skip silently."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests._cli import ROOT
from tests.conftest import missing, require_binary

pytest_plugins = ["pytester"]
TESTS = Path(__file__).resolve().parent

# Skips that do not depend on a client being installed: (file, the skip's reason text).
ALLOWED_RAW_SKIPS = {("test_unusual_input.py", "this machine has no IPv6 loopback")}
RAW_SKIP = re.compile(r"pytest\.(?:skip\(|mark\.skipif|importorskip\()\s*(?:f?\"([^\"]*)\")?")


def test_missing_skips_locally(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="frobnicate-no-such-binary is not installed"):
        require_binary("frobnicate-no-such-binary")
    with pytest.raises(pytest.skip.Exception):
        missing("x")


@pytest.mark.parametrize("value", ["true", "1", "yes", "TRUE"])
def test_missing_fails_under_ci(monkeypatch, value):
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        require_binary("frobnicate-no-such-binary")


def test_ci_false_is_local(monkeypatch):
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception):
        missing("x")


def test_a_needs_mark_fails_the_test_under_ci(pytester, monkeypatch):
    """The mark, end to end: a pytest run in a temp dir with this conftest."""
    pytester.makeconftest((TESTS / "conftest.py").read_text())
    pytester.makepyfile(
        test_needs="""
from conftest import needs_binary

@needs_binary("frobnicate-no-such-binary")
def test_it():
    pass
"""
    )
    monkeypatch.setenv("PYTHONPATH", ROOT)  # the conftest imports tests.pki
    monkeypatch.delenv("CI", raising=False)
    pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider").assert_outcomes(skipped=1)
    monkeypatch.setenv("CI", "true")
    pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider").assert_outcomes(errors=1)


def test_no_test_skips_around_the_guard():
    """Every skip in tests/ goes through conftest.missing/needs (fails under CI), except the
    few listed that do not depend on a client."""
    raw = []
    for path in sorted(TESTS.glob("*.py")):
        if path.name in ("conftest.py", Path(__file__).name):
            continue
        for match in RAW_SKIP.finditer(path.read_text()):
            if (path.name, match.group(1)) not in ALLOWED_RAW_SKIPS:
                raw.append(f"{path.name}: {match.group(0)}")
    assert raw == [], "use tests.conftest.needs/require_binary/missing instead"
