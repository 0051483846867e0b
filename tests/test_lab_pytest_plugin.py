"""The pytest plugin, used the way a user would: a test file that asks for lab fixtures."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
PLUGIN = "tlsmatrix.lab.pytest_plugin"

USER_TESTS = """
import pytest
import requests


def _session():
    session = requests.Session()
    session.trust_env = False  # no proxies, no REQUESTS_CA_BUNDLE: verify= decides
    return session


def test_leaf_only_is_rejected_with_a_roots_only_bundle(tlsmatrix_leaf_only):
    assert tlsmatrix_leaf_only.url.startswith("https://localhost:")
    with pytest.raises(requests.exceptions.SSLError):
        _session().get(tlsmatrix_leaf_only.url, verify=tlsmatrix_leaf_only.ca_file, timeout=10)


def test_leaf_only_passes_with_the_workstation_bundle(tlsmatrix_leaf_only):
    response = _session().get(
        tlsmatrix_leaf_only.url, verify=tlsmatrix_leaf_only.workstation_ca_file, timeout=10
    )
    assert response.text == "ok\\n"


def test_good_passes(tlsmatrix_good):
    assert _session().get(tlsmatrix_good.url, verify=tlsmatrix_good.ca_file, timeout=10).ok


def test_the_lab_is_shared(tlsmatrix_lab, tlsmatrix_good):
    assert tlsmatrix_lab.scenario("good").url == tlsmatrix_good.url
"""


def _plugin_args() -> list[str]:
    # Installed with its pytest11 entry point, the plugin loads by itself; otherwise ask.
    installed = any(ep.value == PLUGIN for ep in entry_points(group="pytest11"))
    return [] if installed else ["-p", PLUGIN]


def test_plugin_fixtures(pytester, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_subprocess(*_plugin_args(), "-q")
    result.assert_outcomes(passed=4)


def test_plugin_reports_a_wrong_expectation(pytester, monkeypatch):
    # The fixture is real: a test expecting leaf_only to pass with certifi-like fails.
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makepyfile(
        test_wrong="""
import requests

def test_wrong(tlsmatrix_leaf_only):
    s = requests.Session()
    s.trust_env = False
    s.get(tlsmatrix_leaf_only.url, verify=tlsmatrix_leaf_only.ca_file, timeout=10)
"""
    )
    result = pytester.runpytest_subprocess(*_plugin_args(), "-q")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*SSLError*"])


def test_one_fixture_per_scenario():
    import tlsmatrix.lab.pytest_plugin as plugin
    from tlsmatrix.lab.scenarios import CATALOGUE

    for name in CATALOGUE.names():
        assert hasattr(plugin, f"tlsmatrix_{name}")


LAZY_TESTS = """
import sys

HEAVY = ("cryptography", "OpenSSL", "requests", "httpx", "aiohttp", "tlsmatrix.lab.lab",
         "tlsmatrix.lab.pki", "tlsmatrix.runner", "tlsmatrix.chain")


def loaded():
    return sorted(m for m in sys.modules if m in HEAVY)


def test_a_without_fixtures_nothing_heavy_is_loaded():
    assert "tlsmatrix.lab.pytest_plugin" in sys.modules  # the plugin is active
    assert loaded() == []


def test_b_a_lab_fixture_loads_the_lab(tlsmatrix_good):
    assert "cryptography" in loaded() and "tlsmatrix.lab.lab" in loaded()
"""


def test_plugin_loads_nothing_until_a_fixture_asks(pytester, monkeypatch):
    # Run from a temp dir, as in a user's project: tests in file order, a then b.
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makepyfile(test_lazy=LAZY_TESTS)
    result = pytester.runpytest_subprocess(*_plugin_args(), "-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
