"""Capture -> replay equivalence for every built-in lab scenario: the lab serves each
scenario, tlsmatrix captures it (certifi-like trust), and the replay of all the cases as
one lab (a folder of case files) gives the same matrix cell by cell, on both server
backends."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from tlsmatrix.clients.base import Verdict
from tlsmatrix.lab.lab import Lab
from tlsmatrix.lab.nginx import nginx_binary
from tlsmatrix.replay.capture import capture_case
from tlsmatrix.replay.case import load_cases
from tlsmatrix.replay.serve import Replay, run_replay
from tlsmatrix.runner.matrix import TrustPlan, run_matrix
from tlsmatrix.runner.pool import load_clients

from tests.conftest import needs

FAST = ("stdlib", "requests", "httpx", "curl", "openssl", "node", "gnutls")
IN_CI = bool(os.environ.get("CI"))
NGINX = needs(nginx_binary() is not None, "nginx is not installed")


def _close(clients) -> None:  # noqa: ANN001
    for client in clients:
        close = getattr(client, "close", None)
        if close:
            close()


def lab_round_trip(clients, server: str, folder: Path):  # noqa: ANN001
    """(live cells, replayed cells), both keyed by (scenario, client)."""
    with Lab(server=server, max_hang=20) as lab:
        trust = lab.trust_profiles["certifi-like"]
        live = run_matrix(
            [s.target for s in lab.scenarios], clients, trust=TrustPlan(trust), timeout=8, jobs=6
        )
        for s in lab.scenarios:
            case = capture_case(s.target, timeout=5, ca_file=trust, case_id=s.name)
            (folder / f"{s.name}.json").write_text(json.dumps(case.to_dict()))
        names = {s.target.name: s.name for s in lab.scenarios}
    live_cells = {(names[o.target], o.client): (o.verdict, o.reason) for o in live.results}
    with Replay(load_cases(folder), server=server) as replay:
        replayed = run_replay(replay, clients, timeout=8, jobs=6)
        rows = {c.target.name: c.name for c in replay.cases}
    replay_cells = {(rows[o.target], o.client): (o.verdict, o.reason) for o in replayed.results}
    return live_cells, replay_cells


def _differences(live, replayed) -> list[str]:  # noqa: ANN001
    return [
        f"{key}: live {live[key]} replay {replayed.get(key)}"
        for key in sorted(live)
        if replayed.get(key) != live[key]
    ]


@pytest.mark.parametrize("server", ["python", pytest.param("nginx", marks=NGINX)])
def test_every_lab_scenario_replays_to_the_same_matrix(server, tmp_path):
    clients = load_clients(list(FAST))
    try:
        live, replayed = lab_round_trip(clients, server, tmp_path)
    finally:
        _close(clients)
    assert set(replayed) == set(live)
    assert _differences(live, replayed) == []
    from tlsmatrix.lab.scenarios import CATALOGUE

    assert {s for s, _ in live} == set(CATALOGUE.names())
    ran = [k for k, (verdict, _) in live.items() if verdict is not Verdict.SKIPPED]
    assert len(ran) >= len(CATALOGUE.names()) * 5  # a few clients may be missing off CI
    assert len({v for v in live.values()}) >= 5  # accepts and several kinds of rejection


@pytest.mark.slow
def test_every_lab_scenario_replays_to_the_same_matrix_with_every_client(tmp_path):
    clients = load_clients(None)
    try:
        live, replayed = lab_round_trip(clients, "python", tmp_path)
    finally:
        _close(clients)
    assert _differences(live, replayed) == []


def test_the_revoked_scenario_replays_with_a_twin_crl(tmp_path):
    """The CRL the capture downloaded is served again, re-signed by the twin issuer, with
    the same revoked serial: a revocation-checking client would see what it saw live."""
    import urllib.request

    from cryptography import x509
    from tlsmatrix.replay.capture import issued_by

    with Lab(["revoked"]) as lab:
        running = lab.scenario("revoked")
        case = capture_case(running.target, timeout=5, ca_file=lab.trust_profiles["certifi-like"])
    assert [c.outcome for c in case.crls] == ["ok", "ok"]
    with Replay([("revoked.json", case)]) as replay:
        assert replay.cases[0].notes == ()
        leaf = replay.pki.twin(case.presented[0].sha256).certificate
        inter = replay.pki.twin(case.presented[1].sha256).certificate
        assert issued_by(leaf, inter)
        points = leaf.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
        url = points[0].full_name[0].value
        assert url.startswith(replay.aia.url)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(url, timeout=5) as answer:
            crl = x509.load_der_x509_crl(answer.read())
    assert crl.is_signature_valid(inter.public_key())
    assert crl.get_revoked_certificate_by_serial_number(leaf.serial_number) is not None
