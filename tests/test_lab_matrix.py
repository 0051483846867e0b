"""Every lab scenario x every client, real clients against Python and nginx servers:
each cell must be what the scenario predicts from the client's properties."""

from __future__ import annotations

import pytest
from tlsmatrix import clients
from tlsmatrix.clients.base import Reason, Verdict
from tlsmatrix.lab.lab import Lab
from tlsmatrix.lab.nginx import nginx_binary
from tlsmatrix.lab.run import LabTarget, render_lab_matrix, run_lab
from tlsmatrix.runner.pool import load_clients

from tests.conftest import in_ci, needs

SERVERS = [
    "python",
    pytest.param(
        "nginx",
        marks=needs(nginx_binary() is not None, "nginx is not installed"),
    ),
]


@pytest.fixture(scope="module")
def every_client():
    loaded = load_clients(None)
    yield loaded
    for client in loaded:
        close = getattr(client, "close", None)
        if close:
            close()


@pytest.fixture(scope="module", params=SERVERS)
def lab_run(request, every_client):
    with Lab(server=request.param) as lab:
        targets = [LabTarget(s.name, s.target, s.scenario) for s in lab.scenarios]
        yield run_lab(
            targets, every_client, lab.trust_profiles, timeout=8, jobs=6, aia_log=lab.aia.log
        )


def test_every_cell_matches_the_prediction(lab_run):
    mismatches = lab_run.mismatches()
    assert not mismatches, render_lab_matrix(lab_run)


def test_no_scenario_maps_to_client_error(lab_run):
    errors = [
        (c.scenario, c.client, c.observed.detail)
        for c in lab_run.cells
        if c.observed.reason is Reason.CLIENT_ERROR
    ]
    assert errors == []


def test_every_client_is_available_in_ci(lab_run):
    skipped = {
        c.client: c.observed.detail for c in lab_run.cells if c.observed.verdict is Verdict.SKIPPED
    }
    if in_ci():
        assert skipped == {}, "CI must exercise every adapter"
    assert set(lab_run.profiles) == set(clients.names())


def test_aia_fetchers_complete_leaf_only_and_the_log_shows_it(lab_run):
    cells = {(c.scenario, c.client): c.observed for c in lab_run.cells}
    for client in ("java-aia", "chromium"):
        if cells[("leaf_only", client)].verdict is Verdict.SKIPPED:
            continue
        assert cells[("leaf_only", client)].verdict is Verdict.ACCEPT
        assert "AIA log: GET /intermediate.der" in cells[("leaf_only", client)].explanation
        assert cells[("leaf_only_no_aia", client)].reason is Reason.INCOMPLETE_CHAIN
        assert cells[("leaf_only_dead_aia", client)].reason is Reason.INCOMPLETE_CHAIN
    # and the OpenSSL family with a roots-only store does not, as in the incident
    assert cells[("leaf_only", "requests")].reason is Reason.INCOMPLETE_CHAIN
    assert cells[("leaf_only", "openssl")].verify_code == 21


def test_chain_issues_are_captured_for_every_scenario(lab_run):
    expected = {
        "good": set(),
        "leaf_only": {"incomplete"},
        "wrong_order": {"wrong_order", "contains_anchor"},
        "with_root": {"contains_anchor"},
        "leaf_and_root": {"incomplete", "contains_anchor"},
        "expired_leaf": {"expired_in_chain"},
        "not_yet_valid": {"not_yet_valid_in_chain"},
        "wrong_host": {"hostname_mismatch"},
        "weak_key": {"weak_key"},
        "sha1_intermediate": {"weak_signature"},
    }
    by_scenario = {v: k for k, v in lab_run.run.extra["lab"]["scenarios"].items()}
    for scenario, codes in expected.items():
        chain = lab_run.run.chains[by_scenario[scenario]]
        assert {i["code"] for i in chain["issues"]} == codes, (scenario, chain["issues"])
