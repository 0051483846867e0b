"""The gnutls-cli and wget adapters against real loopback TLS servers (GnuTLS both)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tlsmatrix.clients import gnutls, wget
from tlsmatrix.clients.base import Reason, Target, Trust, Verdict
from tlsmatrix.clients.gnutls import GnuTLSClient, ca_certificates_loaded
from tlsmatrix.clients.process import CommandResult
from tlsmatrix.clients.wget import WgetClient

from tests._pki_moreclients import (
    ISSUER_UNKNOWN_FAMILY,
    Lab,
    assert_ip_and_resolve,
    assert_unreachable_reasons,
    closed_port,
)
from tests.conftest import needs_binary

needs_gnutls = needs_binary("gnutls-cli")
needs_wget = needs_binary("wget")

CLIENTS = [
    pytest.param(GnuTLSClient, id="gnutls", marks=needs_gnutls),
    pytest.param(WgetClient, id="wget", marks=needs_wget),
]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory):
    with Lab(tmp_path_factory.mktemp("pki")) as running:
        yield running


@pytest.fixture(autouse=True)
def empty_wgetrc(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No user wgetrc setting ca_certificate: native means the system store here."""
    rc = tmp_path / "empty-wgetrc"
    rc.write_text("")
    monkeypatch.setenv("WGETRC", str(rc))


@pytest.mark.parametrize("make", CLIENTS)
def test_info(make: type) -> None:
    info = make().info()
    assert info.available, info.unavailable_reason
    assert info.version and info.version[0].isdigit()
    assert info.tls_library == "GnuTLS" and info.tls_library_version
    assert info.native_trust is not None
    assert info.native_trust.path == "/etc/ssl/certs/ca-certificates.crt"
    assert info.kind == "subprocess" and not info.fetches_aia


@pytest.mark.parametrize("make", CLIENTS)
def test_info_and_probe_when_binary_missing(make: type, lab: Lab) -> None:
    client = make(binary="tlsmatrix-no-such-binary")
    info = client.info()
    assert not info.available and "not found on PATH" in (info.unavailable_reason or "")
    assert "Debian package" in (info.unavailable_reason or "")
    obs = client.probe(Target("localhost", lab.port("good")), Trust.native(), 5)
    assert obs.verdict is Verdict.SKIPPED


@pytest.mark.parametrize("scenario", list(ISSUER_UNKNOWN_FAMILY))
@pytest.mark.parametrize("make", CLIENTS)
def test_bundle_trust(make: type, lab: Lab, scenario: str) -> None:
    reason, unknown = ISSUER_UNKNOWN_FAMILY[scenario]
    obs = make().probe(Target("localhost", lab.port(scenario)), Trust.bundle(lab.root_pem), 10)
    assert (obs.reason.value, obs.issuer_unknown) == (reason, unknown), obs.detail
    assert obs.verdict is (Verdict.ACCEPT if reason == "ok" else Verdict.REJECT)
    assert obs.verify_code is None  # GnuTLS has no OpenSSL codes


@pytest.mark.parametrize("make", CLIENTS)
def test_native_trust_is_the_system_store(make: type, lab: Lab) -> None:
    obs = make().probe(Target("localhost", lab.port("good")), Trust.native(), 10)
    assert obs.reason is Reason.UNKNOWN_ISSUER and obs.issuer_unknown  # root A not there
    assert obs.trust is not None and obs.trust.kind == "native"


@pytest.mark.parametrize("make", CLIENTS)
def test_ip_target_and_resolve(make: type, lab: Lab) -> None:
    client = make()
    assert_ip_and_resolve(client, lab, 10)
    # The name is still what is checked at the address.
    mismatch = client.probe(
        Target("wrong.example", lab.port("good"), connect_to="127.0.0.1"),
        Trust.bundle(lab.root_pem),
        10,
    )
    assert mismatch.reason is Reason.HOSTNAME_MISMATCH, mismatch.detail


@pytest.mark.parametrize("make", CLIENTS)
def test_connection_refused_not_tls_and_timeout(make: type) -> None:
    client = make()
    assert_unreachable_reasons(client, 5)
    with closed_port() as port:
        via_proxy = client.probe(
            Target("localhost", port, connect_to="127.0.0.1"), Trust.native(), 5
        )
        assert via_proxy.reason is Reason.CONNECTION_REFUSED, via_proxy.detail


@needs_gnutls
def test_gnutls_cafile_replaces_system_trust(lab: Lab) -> None:
    """With --x509cafile gnutls-cli loads only that file, not the ~140 system roots."""
    from tlsmatrix.clients.process import child_env, run_command

    client = GnuTLSClient()
    path = shutil.which("gnutls-cli")
    assert path
    target = Target("localhost", lab.port("good"))
    both = lab.pki.write("two-roots.pem", Path(lab.root_pem).read_bytes() + lab.other.root.pem)
    res = run_command(client.argv(path, target, Trust.bundle(both)), 10, child_env(Trust()))
    assert ca_certificates_loaded(res.stdout + res.stderr) == 2
    native = run_command(client.argv(path, target, Trust.native()), 10, child_env(Trust()))
    assert (ca_certificates_loaded(native.stdout + native.stderr) or 0) > 2


@needs_wget
def test_wget_native_trust_reads_wgetrc_but_bundle_does_not(
    lab: Lab, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    rc = tmp_path / "wgetrc"
    rc.write_text(f"ca_certificate = {lab.root_pem}\n")
    monkeypatch.setenv("WGETRC", str(rc))
    target = Target("localhost", lab.port("good"))
    native = WgetClient().probe(target, Trust.native(), 10)
    assert native.reason is Reason.OK, native.detail
    assert native.trust is not None and native.trust.path == lab.root_pem
    # An explicit bundle ignores wgetrc and the system store: root B alone rejects.
    bundle = WgetClient().probe(target, Trust.bundle(lab.other.root_pem), 10)
    assert bundle.reason is Reason.UNKNOWN_ISSUER and bundle.issuer_unknown, bundle.detail


def run(stdout: str = "", stderr: str = "", returncode: int = 1) -> CommandResult:
    return CommandResult(returncode=returncode, stdout=stdout, stderr=stderr, timed_out=False)


def test_gnutls_mapping_reads_constants_not_host_names() -> None:
    status = (
        "- Status: The certificate is NOT trusted. The certificate chain uses insecure algorithm. "
    )
    assert gnutls.interpret(run(status)).reason is Reason.WEAK_SIGNATURE
    both = (
        "- Status: The certificate is NOT trusted. The certificate issuer is unknown. "
        "The name in the certificate does not match the expected. "
    )
    unknown = gnutls.interpret(run(both))
    assert (unknown.reason, unknown.issuer_unknown) == (Reason.UNKNOWN_ISSUER, True)
    dns = gnutls.interpret(
        run(stderr="Cannot resolve expired.invalid:443: Name or service not known")
    )
    assert dns.reason is Reason.DNS_FAILURE
    refused = "Could not connect to alerts.invalid:1: Connection refused"
    assert gnutls.interpret(run(stderr=refused)).reason is Reason.CONNECTION_REFUSED
    alert = gnutls.interpret(run("*** Received alert [70]: Protocol version"))
    assert alert.reason is Reason.PROTOCOL_VERSION
    assert gnutls.interpret(run("something new")).reason is Reason.CLIENT_ERROR


def test_wget_mapping_reads_templates_not_host_names() -> None:
    # a host whose name says "expired" and "timed out": only the template decides
    text = "ERROR: The certificate of 'expired-timed-out.invalid' is not yet activated."
    obs = wget.interpret(run(stderr=text, returncode=5))
    assert obs.reason is Reason.NOT_YET_VALID
    refused = (
        "Connecting to alerts.invalid (alerts.invalid)|127.0.0.1|:1... failed: Connection refused."
    )
    assert wget.interpret(run(stderr=refused, returncode=4)).reason is Reason.CONNECTION_REFUSED
    not_tls = "GnuTLS: An unexpected TLS packet was received.\nUnable to establish SSL connection."
    assert wget.interpret(run(stderr=not_tls, returncode=4)).reason is Reason.NOT_TLS


@needs_wget
def test_wget_broken_wgetrc_is_a_client_error(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    """wget refuses to run when WGETRC names a missing file: reported, not hidden."""
    monkeypatch.setenv("WGETRC", "/nonexistent/tlsmatrix-wgetrc")
    obs = WgetClient().probe(Target("localhost", lab.port("good")), Trust.native(), 10)
    assert obs.reason is Reason.CLIENT_ERROR and "WGETRC" in obs.detail
    info = WgetClient().info()
    assert not info.available and "WGETRC" in (info.unavailable_reason or "")


PLUGIN_CHECK = """
import json, sys
from tlsmatrix import clients
from tlsmatrix.clients.base import Target, Trust
port, bundle = int(sys.argv[1]), sys.argv[2]
client = clients.load("wget-plugin")
info = client.info()
obs = client.probe(Target("localhost", port), Trust.bundle(bundle), 10)
print(json.dumps({"names": clients.names(), "name": client.name, "available": info.available,
                  "reason": obs.reason.value, "client": obs.client}))
"""


@needs_wget
def test_entry_point_plugin(lab: Lab, tmp_path: Path) -> None:
    """A separately installed distribution adds an adapter through the entry-point group.

    It is pip-installed into a private --target directory (built from a copy, so the
    source tree stays clean), never into the shared environment: nothing to uninstall."""
    import json
    import os
    import subprocess
    import sys

    repo = Path(__file__).resolve().parent.parent
    source = tmp_path / "src"
    shutil.copytree(repo / "tests" / "plugin_example", source)
    target = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(target), str(source)],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(target), str(repo)]))
    without = subprocess.run(
        [
            sys.executable,
            "-c",
            "from tlsmatrix import clients; print('wget-plugin' in clients.names())",
        ],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=str(repo)),
    )  # fmt: skip
    assert without.stdout.strip() == "False", without.stderr  # only the install adds it
    run = subprocess.run(
        [sys.executable, "-c", PLUGIN_CHECK, str(lab.port("good")), lab.root_pem],
        capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert "wget-plugin" in result["names"] and "wget" in result["names"]
    assert result["names"].index("wget-plugin") > result["names"].index("wget")
    assert result["name"] == result["client"] == "wget-plugin"
    assert result["available"] and result["reason"] == "ok"
