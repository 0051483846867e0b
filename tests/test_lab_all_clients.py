"""Every available client (the browser aside) over every lab scenario: no cell is a
client_error, and a client that fetches AIA does so with the User-Agent its ClientInfo
states (measured against the lab's AIA server, which logs User-Agents)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from tlsmatrix import clients
from tlsmatrix.clients.base import Reason, Trust, Verdict
from tlsmatrix.lab.lab import Lab

from tests.conftest import loaded_adapters

NAMES = [n for n in clients.BUILTIN if n != "chromium"]


@pytest.fixture(scope="module")
def lab():
    with Lab() as running:
        yield running


@pytest.fixture(scope="module")
def adapters() -> Iterator[dict[str, clients.Client]]:
    # Under CI a missing client fails rather than being left out.
    with loaded_adapters(NAMES, required=bool(os.environ.get("CI"))) as available:
        yield available


def test_no_lab_scenario_is_a_client_error(lab, adapters):
    trust = Trust.bundle(lab.trust_profiles["certifi-like"])
    cells = [(name, running) for name in adapters for running in lab.scenarios]

    def probe(cell):  # type: ignore[no-untyped-def]
        name, running = cell
        return name, running.name, adapters[name].probe(running.target, trust, 15)

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(probe, cells))
    assert len(results) == len(adapters) * len(lab.scenarios)
    errors = [(c, s, o.detail) for c, s, o in results if o.reason is Reason.CLIENT_ERROR]
    assert not errors, errors
    # the run means something: both verdicts occur for every client
    for name in adapters:
        verdicts = {o.verdict for c, _s, o in results if c == name}
        assert {Verdict.ACCEPT, Verdict.REJECT} <= verdicts, (name, verdicts)


def test_aia_user_agent_is_what_the_aia_server_sees(lab, adapters):
    """Each client whose ClientInfo says it fetches AIA completes the leaf-only scenario,
    and the lab AIA server logged its fetch with exactly ``aia_user_agent``; a client that
    does not fetch states no User-Agent."""
    trust = Trust.bundle(lab.trust_profiles["certifi-like"])
    leaf_only = lab.scenario("leaf_only")
    fetchers = 0
    for name, adapter in adapters.items():
        info = adapter.info()
        if not info.fetches_aia:
            assert info.aia_user_agent is None, name
            continue
        fetchers += 1
        lab.aia.clear_log()
        obs = adapter.probe(leaf_only.target, trust, 20)
        assert obs.verdict is Verdict.ACCEPT, (name, obs.detail)
        seen = {r.user_agent for r in lab.aia.fetches("/intermediate.der")}
        assert seen == {info.aia_user_agent}, (name, seen)
    if os.environ.get("CI"):
        assert fetchers >= 1  # java-aia
