"""Chromium keeps nothing fetched via AIA from one probe to the next: the same leaf-only
target probed twice, with the AIA server switched from serving to 404 in between, flips
from accept to reject (a fresh browser context per probe, no shared disk cache). Real
headless Chromium against a TLSServer and the lab's AIA server on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

from tlsmatrix.clients.base import Reason, Target, Trust, Verdict
from tlsmatrix.clients.chromium import ChromiumClient
from tlsmatrix.lab.aia import AIAServer
from tlsmatrix.lab.tlsserver import TLSServer

from tests._pki_moreclients import PKI
from tests.conftest import needs

pytestmark = needs(ChromiumClient().info().available, "chromium or certutil not installed")


def test_same_target_flips_when_the_aia_server_stops_serving(tmp_path: Path) -> None:
    pki = PKI(tmp_path)
    with ChromiumClient() as client, AIAServer() as aia:
        aia.publish("/int.der", pki.intermediate.der, "application/pkix-cert")
        with TLSServer(*pki.leaf_only(aia.url + "int.der")) as server:
            target, trust = Target("localhost", server.port), Trust.bundle(pki.root_pem)
            first = client.probe(target, trust, 15)
            aia.withdraw("/int.der")  # 404 from now on
            second = client.probe(target, trust, 15)
        fetches = aia.fetches("/int.der")
        starts = sum(b.starts for b in client._pool.values())
    assert first.reason is Reason.OK, first.detail
    assert second.verdict is Verdict.REJECT and second.issuer_unknown, second
    assert len(fetches) == 2  # the second probe asked again (and got the 404)
    assert starts == 1  # one browser served both probes
