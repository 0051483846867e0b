"""The long-lived Node worker is as honest as a process per probe: fresh trust per probe,
no session resumption, and a worker that dies costs one client_error, never a lost probe.
Real node, real handshakes against TLSServers on 127.0.0.1."""

from __future__ import annotations

import pytest
from tlsmatrix.clients.base import Reason, Trust, Verdict
from tlsmatrix.clients.node import NodeClient
from tlsmatrix.clients.process import child_env
from tlsmatrix.lab.tlsserver import TLSServer
from tlsmatrix.runner.targets import parse_target

from tests._pki_moreclients import kill_worker_mid_probe
from tests.conftest import needs_binary
from tests.hostile_servers import Silent
from tests.pki import CorePKI

pytestmark = needs_binary("node")


@pytest.fixture()
def node():
    client = NodeClient()
    yield client
    client.close()


def test_fresh_trust_per_probe_on_one_worker(node, pki: CorePKI):
    good = pki.chains["good"]
    with TLSServer(good.chain, good.key) as server:
        target = parse_target(f"https://localhost:{server.port}/")
        verdicts = [
            node.probe(target, Trust.bundle(bundle), 10).verdict
            for bundle in (pki.root_pem, pki.other_root_pem, pki.root_pem)
        ]
    assert verdicts == [Verdict.ACCEPT, Verdict.REJECT, Verdict.ACCEPT]
    assert [w.starts for w in node._workers.values()] == [1]  # one worker served all three


def test_no_session_resumption_between_probes(node, pki: CorePKI):
    good = pki.chains["good"]
    with TLSServer(good.chain, good.key) as server:
        target = parse_target(f"https://localhost:{server.port}/")
        trust = Trust.bundle(pki.root_pem)
        worker = node._worker(node.path(), child_env(trust))  # the one probe() uses
        payloads = [worker.call(node.arguments(target, trust, 10), 10) for _ in range(3)]
        for _ in range(3):
            assert node.probe(target, trust, 10).verdict is Verdict.ACCEPT
        stats = server._context.session_stats()
    assert [p and p.get("session_reused") for p in payloads] == [False, False, False]
    assert stats["accept_good"] >= 6  # the server saw every handshake...
    assert stats["hits"] == 0  # ...and resumed none


def test_a_dead_worker_fails_its_probe_and_the_next_probe_gets_a_new_one(node, pki: CorePKI):
    good = pki.chains["good"]
    trust = Trust.bundle(pki.root_pem)
    with Silent() as silent, TLSServer(good.chain, good.key) as server:
        hung = parse_target(f"https://localhost:{silent.port}/")
        obs, worker = kill_worker_mid_probe(node, hung, trust, 10)
        assert (obs.verdict, obs.reason) == (Verdict.ERROR, Reason.CLIENT_ERROR), obs
        assert obs.detail.startswith("node worker exited during the probe"), obs.detail
        after = node.probe(parse_target(f"https://localhost:{server.port}/"), trust, 10)
    assert after.verdict is Verdict.ACCEPT, after
    assert worker.starts == 2
