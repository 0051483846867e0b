"""Chromium keeps nothing fetched via AIA from one probe to the next: the same leaf-only
target probed twice, with the AIA server switched from serving to 404 in between, flips
from accept to reject (a fresh browser context per probe, no shared disk cache). Real
headless Chromium against a TLSServer and the lab's AIA server on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

from tlsmatrix.clients.base import Reason, Verdict
from tlsmatrix.clients.chromium import ChromiumClient

from tests._pki_moreclients import PKI, probe_across_aia_withdrawal
from tests.conftest import needs

pytestmark = needs(ChromiumClient().info().available, "chromium or certutil not installed")


def test_same_target_flips_when_the_aia_server_stops_serving(tmp_path: Path) -> None:
    with ChromiumClient() as client:
        first, second, fetches = probe_across_aia_withdrawal(client, PKI(tmp_path))
        starts = sum(b.starts for b in client._pool.values())
    assert first.reason is Reason.OK, first.detail
    assert second.verdict is Verdict.REJECT and second.issuer_unknown, second
    assert fetches == 2  # the second probe asked again (and got the 404)
    assert starts == 1  # one browser served both probes


def test_warm_starts_the_browser_its_probes_then_use(tmp_path: Path) -> None:
    """warm() starts the browser before any probe asks; every probe of a matrix run then
    uses it, each in a context of its own."""
    from tlsmatrix.clients.base import Target, Trust
    from tlsmatrix.lab.tlsserver import TLSServer
    from tlsmatrix.runner.matrix import TrustPlan, run_matrix

    pki = PKI(tmp_path)
    with ChromiumClient() as client, TLSServer(*pki.good()) as one, TLSServer(*pki.good()) as two:
        targets = [Target("localhost", one.port), Target("localhost", two.port)]
        client.warm(targets[0], Trust.bundle(pki.root_pem))
        assert sum(b.starts for b in client._pool.values()) == 1  # before any probe
        run = run_matrix(
            targets, [client], trust=TrustPlan(pki.root_pem), timeout=20, capture_chains=False
        )
        starts = sum(b.starts for b in client._pool.values())
    assert [o.verdict for o in run.results] == [Verdict.ACCEPT, Verdict.ACCEPT], run.results
    assert starts == 1
