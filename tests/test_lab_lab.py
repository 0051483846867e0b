"""The running lab: each scenario presents exactly its chain, from Python and from nginx;
stdlib ssl does what the scenarios predict for an OpenSSL-family client; everything stops."""

from __future__ import annotations

import hashlib
import os
import re
import socket
import ssl
import time
import urllib.request
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtensionOID
from tlsmatrix.clients._common import exception_outcome
from tlsmatrix.clients.base import Reason, Verdict
from tlsmatrix.clients.process import run_command
from tlsmatrix.lab.lab import Lab
from tlsmatrix.lab.nginx import nginx_binary
from tlsmatrix.lab.scenarios import CATALOGUE, ClientProps

from tests.conftest import needs

needs_nginx = needs(nginx_binary() is not None, "nginx is not installed")
SERVERS = ["python", pytest.param("nginx", marks=needs_nginx)]


@pytest.fixture(scope="module", params=SERVERS)
def lab(request):
    with Lab(server=request.param) as running:
        yield running


def presented_chain(port: int) -> list[str]:
    """SHA-256 fingerprints of what the server sends, in order, read by openssl s_client."""
    argv = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost"]
    result = run_command([*argv, "-showcerts"], timeout=20)
    assert not result.timed_out
    blocks = re.findall(
        r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", result.stdout, re.S
    )
    return [
        hashlib.sha256(
            x509.load_pem_x509_certificate(b.encode()).public_bytes(serialization.Encoding.DER)
        ).hexdigest()
        for b in blocks
    ]


def test_every_scenario_presents_its_chain(lab):
    assert [s.name for s in lab.scenarios] == CATALOGUE.names()
    for running in lab.scenarios:
        assert running.url == f"https://{running.scenario.hostname}:{running.port}/"
        expected = tuple(lab.pki.fingerprint(n) for n in running.scenario.chain)
        assert running.fingerprints == expected
        assert tuple(presented_chain(running.port)) == expected, running.name


CHAIN_CAUSES = {Reason.INCOMPLETE_CHAIN, Reason.UNTRUSTED_ROOT, Reason.SELF_SIGNED}


def stdlib_verdict(port: int, cafile: str, host: str = "localhost") -> tuple[Verdict, Reason]:
    """What Python's ssl decides with only ``cafile`` trusted (no environment involved),
    checking the name ``host`` on a connection to 127.0.0.1."""
    ctx = ssl.create_default_context(cafile=cafile)
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=10) as sock,
            ctx.wrap_socket(sock, server_hostname=host),
        ):
            return Verdict.ACCEPT, Reason.OK
    except Exception as exc:  # classified, not swallowed: the reason is compared below
        found = exception_outcome(exc)
        return Verdict.REJECT, found.reason


@pytest.mark.parametrize("profile", ["certifi-like", "workstation"])
def test_stdlib_ssl_does_what_the_scenarios_predict(lab, profile):
    # Python's ssl: OpenSSL 3 at security level 2, no AIA fetching, no revocation checks.
    props = ClientProps("python-ssl", fetches_aia=False, trust=profile)
    outcomes = {}
    for running in lab.scenarios:
        verdict, reason = stdlib_verdict(running.port, lab.trust_profiles[profile], running.host)
        expected = running.expect(props)
        outcomes[running.name] = (verdict, reason)
        if reason is Reason.UNKNOWN_ISSUER:
            # the client said only "issuer not found"; which chain cause it is, the harness
            # decides from the chain: the scenario must predict one of them
            assert verdict is expected.verdict and expected.reasons & CHAIN_CAUSES, running.name
            continue
        assert expected.matches(verdict, reason), (running.name, verdict, reason, expected.why)
    # Both outcomes occur: the comparison above can fail either way.
    assert {v for v, _ in outcomes.values()} == {Verdict.ACCEPT, Verdict.REJECT}
    leaf_only = outcomes["leaf_only"]
    if profile == "certifi-like":
        assert leaf_only == (Verdict.REJECT, Reason.UNKNOWN_ISSUER)
    else:
        assert leaf_only == (Verdict.ACCEPT, Reason.OK)


def test_aia_fetch_through_the_lab(lab):
    leaf = x509.load_pem_x509_certificate(Path(lab.scenario("leaf_only").chain_file).read_bytes())
    ext = leaf.extensions.get_extension_for_oid(ExtensionOID.AUTHORITY_INFORMATION_ACCESS)
    (url,) = [
        d.access_location.value
        for d in ext.value
        if d.access_method == AuthorityInformationAccessOID.CA_ISSUERS
    ]
    assert url == lab.aia.url + "intermediate.der"
    before = len(lab.aia.fetches("/intermediate.der"))
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url, headers={"User-Agent": "lab-aia-test"})
    with opener.open(request, timeout=5) as response:
        fetched = x509.load_der_x509_certificate(response.read())
    assert fetched == lab.pki.material.certs["intermediate"]
    fetches = lab.aia.fetches("/intermediate.der")
    assert len(fetches) == before + 1 and fetches[-1].user_agent == "lab-aia-test"


def test_selection_and_errors():
    with Lab(scenarios=["leaf_only", "good"]) as lab:
        assert [s.name for s in lab.scenarios] == ["good", "leaf_only"]
        with pytest.raises(KeyError):
            lab.scenario("expired_leaf")
        assert set(lab.trust_profiles) == {"certifi-like", "workstation", "intermediate-only"}
    with pytest.raises(KeyError):
        Lab(scenarios=["no_such_scenario"])
    with pytest.raises(ValueError):
        Lab(server="apache")  # type: ignore[arg-type]


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        return True
    return False


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if text.encode() in cmdline:
            found.append(int(pid))
    return found


@pytest.mark.parametrize("server", SERVERS)
def test_lab_stops_everything(server):
    lab = Lab(scenarios=["good", "leaf_only"], server=server).start()
    directory = lab.directory
    ports = [s.port for s in lab.scenarios] + [lab.aia.port]
    assert stat_mode(directory) == 0o700
    assert not any(_refused(p) for p in ports)
    nginx_pid = lab.nginx.pid if lab.nginx else None
    if server == "nginx":
        assert nginx_pid and _processes_mentioning(str(directory))
    lab.close()
    assert not directory.exists()
    deadline = time.monotonic() + 5
    while not all(_refused(p) for p in ports) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(_refused(p) for p in ports)
    assert _processes_mentioning(str(directory)) == []
    if nginx_pid:
        with pytest.raises(ProcessLookupError):
            os.killpg(nginx_pid, 0)  # the whole process group is gone


def stat_mode(path: Path) -> int:
    return os.stat(path).st_mode & 0o777
