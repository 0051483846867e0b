"""The long-lived JVM is as honest as a JVM per probe: no AIA download carried from one
probe to the next (the JDK caches them per URI for 30 s), fresh trust per probe, a dead
worker costs one client_error. Real JVM, real handshakes on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

from tlsmatrix.clients.base import Reason, Target, Trust, Verdict
from tlsmatrix.clients.java import JavaAIAClient, JavaClient
from tlsmatrix.lab.tlsserver import TLSServer

from tests._pki_moreclients import (
    PKI,
    kill_worker_mid_probe,
    probe_across_aia_withdrawal,
    silent_server,
)
from tests.conftest import needs_binary

pytestmark = needs_binary("java")


def test_aia_download_is_not_reused_by_the_next_probe(tmp_path: Path) -> None:
    client = JavaAIAClient()
    try:
        first, second, fetches = probe_across_aia_withdrawal(client, PKI(tmp_path))
        assert first.reason is Reason.OK, first.detail
        assert second.verdict is Verdict.REJECT and second.issuer_unknown, second
        assert fetches == 2  # the second probe asked again (and got the 404)
        assert [w.starts for w in client._workers.values()] == [1]  # one JVM served both
    finally:
        client.close()


def test_fresh_trust_per_probe_on_one_jvm(tmp_path: Path) -> None:
    pki, other = PKI(tmp_path / "a", "A"), PKI(tmp_path / "b", "B")
    client = JavaClient()
    try:
        with TLSServer(*pki.good()) as server:
            target = Target("localhost", server.port)
            verdicts = [
                client.probe(target, Trust.bundle(bundle), 15).verdict
                for bundle in (pki.root_pem, other.root_pem, pki.root_pem)
            ]
        assert verdicts == [Verdict.ACCEPT, Verdict.REJECT, Verdict.ACCEPT]
        assert [w.starts for w in client._workers.values()] == [1]
    finally:
        client.close()


def test_a_dead_jvm_fails_its_probe_and_is_restarted(tmp_path: Path) -> None:
    pki = PKI(tmp_path)
    client = JavaClient()
    trust = Trust.bundle(pki.root_pem)
    try:
        with silent_server() as port, TLSServer(*pki.good()) as server:
            obs, worker = kill_worker_mid_probe(client, Target("localhost", port), trust, 15)
            assert obs.reason is Reason.CLIENT_ERROR, obs
            assert obs.detail.startswith("java worker exited during the probe"), obs.detail
            after = client.probe(Target("localhost", server.port), trust, 15)
        assert after.verdict is Verdict.ACCEPT, after
        assert worker.starts == 2
    finally:
        client.close()


def test_warm_starts_the_jvm_its_probes_then_use(tmp_path: Path) -> None:
    """warm() starts the JVM before any probe asks; the probes of a matrix run then use
    that JVM, not a second one, and judge as they would cold."""
    from tlsmatrix.runner.matrix import TrustPlan, run_matrix

    pki = PKI(tmp_path)
    client = JavaClient()
    try:
        with TLSServer(*pki.good()) as one, TLSServer(*pki.good()) as two:
            targets = [Target("localhost", one.port), Target("localhost", two.port)]
            client.warm(targets[0], Trust.bundle(pki.root_pem))
            assert [w.starts for w in client._workers.values()] == [1]  # before any probe
            run = run_matrix(
                targets, [client], trust=TrustPlan(pki.root_pem), timeout=15,
                capture_chains=False,
            )  # fmt: skip
        assert [o.verdict for o in run.results] == [Verdict.ACCEPT, Verdict.ACCEPT], run.results
        assert [w.starts for w in client._workers.values()] == [1]
    finally:
        client.close()
