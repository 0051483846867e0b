"""NAME@INTERPRETER against real loopback TLS servers: real interpreters from pyenv, real
libraries in provisioned venvs (PyPI, the first time), real handshakes.

Measured here: Python 3.13's default context sets VERIFY_X509_PARTIAL_CHAIN and
VERIFY_X509_STRICT, 3.11's does not, and the verdicts follow; pyOpenSSL on cryptography
2.0.3 under Python 3.6 is OpenSSL 1.1.0f and speaks TLS 1.2 at most."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from tlsmatrix import clients
from tlsmatrix.clients.base import Reason, Target, Trust, Verdict
from tlsmatrix.clients.interpreter import InterpreterClient
from tlsmatrix.lab.certbuilder import name as _name
from tlsmatrix.lab.tlsserver import ServerOptions, TLSServer

from tests._cli import tlsmatrix
from tests._pki_moreclients import (
    DAY,
    NOW,
    PKI,
    Issued,
    closed_port,
    make_leaf,
    plain_http_server,
    silent_server,
)
from tests.test_interpreter import need

provisions = pytest.mark.provisions


def _ca_without_critical_bc(cn: str, parent: Issued) -> Issued:
    """An intermediate CA whose basicConstraints is NOT critical (RFC 5280 wants it
    critical; OpenSSL's X509_STRICT checks it)."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(parent.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - DAY)
        .not_valid_after(NOW + 365 * DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=False)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(parent.key.public_key()), False
        )
        .sign(parent.key, hashes.SHA256())
    )
    return Issued(cert, key)


class Servers:
    def __init__(self, directory: Path) -> None:
        self.pki = pki = PKI(directory)
        self.root = pki.root_pem
        self.intermediate_only = pki.write("intermediate-only.pem", pki.intermediate.pem)
        loose = _ca_without_critical_bc("tlsmatrix test loose CA", pki.root)
        files = {
            "good": pki.good(),
            "leaf_only": pki.leaf_only(),
            "expired": pki.expired(),
            "wrong_host": pki.wrong_host(),
            "self_signed": pki.self_signed(),
            "loose_ca": pki.serve_files("loose", make_leaf(loose), loose),
        }
        self.servers = {name: TLSServer(*f).start() for name, f in files.items()}
        tls13 = ServerOptions(min_version=ssl.TLSVersion.TLSv1_3)
        self.servers["tls13_only"] = TLSServer(*files["good"], options=tls13).start()
        self.servers["resolve"] = TLSServer(*files["good"], host="127.0.0.2").start()

    def target(self, name: str, host: str = "localhost") -> Target:
        return Target(host, self.servers[name].port)

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    servers = Servers(tmp_path_factory.mktemp("interp"))
    yield servers
    servers.stop()


_LOADED: dict[str, InterpreterClient] = {}


def client(name: str) -> InterpreterClient:
    """The loaded client (venv provisioned once per test session, cached across runs)."""
    need(name.partition("@")[2])
    if name not in _LOADED:
        loaded = clients.load(name)
        assert isinstance(loaded, InterpreterClient)
        _LOADED[name] = loaded
    info = _LOADED[name].info()
    assert info.available, info.unavailable_reason
    return _LOADED[name]


# --- the two measured facts ----------------------------------------------------------------


def test_partial_chain_store_311_rejects_313_accepts(lab: Servers) -> None:
    """The store holds the intermediate only and the server sends its leaf only."""
    trust = Trust.bundle(lab.intermediate_only)
    old, new = client("stdlib@3.11"), client("stdlib@3.13")
    assert not old.info().partial_chain and not old.info().strict_x509
    assert new.info().partial_chain and new.info().strict_x509  # from the measured flags
    assert new.info().version.startswith("Python 3.13.")  # type: ignore[union-attr]
    rejected = old.probe(lab.target("leaf_only"), trust, 10)
    assert (rejected.verdict, rejected.reason, rejected.verify_code) == (
        Verdict.REJECT,
        Reason.INCOMPLETE_CHAIN,
        2,
    ), rejected.detail
    assert rejected.issuer_unknown and rejected.client == "stdlib@3.11"
    accepted = new.probe(lab.target("leaf_only"), trust, 10)
    assert accepted.verdict is Verdict.ACCEPT, accepted.detail
    assert accepted.client == "stdlib@3.13" and accepted.tls_version == "TLS 1.3"


def test_313_rejects_a_ca_whose_basic_constraints_is_not_critical(lab: Servers) -> None:
    trust = Trust.bundle(lab.root)
    assert client("stdlib@3.11").probe(lab.target("loose_ca"), trust, 10).reason is Reason.OK
    strict = client("stdlib@3.13").probe(lab.target("loose_ca"), trust, 10)
    assert strict.verdict is Verdict.REJECT
    assert (strict.reason, strict.verify_code) == (Reason.INVALID_CERTIFICATE, 89), strict.detail


# --- every supported NAME under at least one interpreter -----------------------------------

NAMES = [
    "stdlib@3.6",
    pytest.param("requests@3.6", marks=provisions),  # requests 2.27 + urllib3 1.26
    pytest.param("urllib3@3.13", marks=provisions),  # urllib3 2 with 3.13's strict flags
    pytest.param("httpx@3.12", marks=provisions),
    pytest.param("pyopenssl@3.12", marks=provisions),
]


@pytest.mark.parametrize("name", NAMES)
def test_each_name_against_real_servers(lab: Servers, name: str) -> None:
    c = client(name)
    info = c.info()
    assert info.kind == "subprocess" and info.tls_library == "OpenSSL"
    assert info.tls_library_version and info.version and "Python" in info.version
    root = Trust.bundle(lab.root)
    ok = c.probe(lab.target("good"), root, 10)
    assert (ok.verdict, ok.detail) == (Verdict.ACCEPT, "HTTP 200"), ok.detail
    assert ok.client == name and ok.tls_version in ("TLS 1.2", "TLS 1.3")
    # With a verify code (3.7+ ssl, pyOpenSSL's callback) the client names the cause;
    # Python 3.6's ssl says only "certificate verify failed": the chain analysis decides.
    coded = c.adapter == "pyopenssl" or c._interpreter.version_info >= (3, 7)  # type: ignore[union-attr]
    for scenario, reason in (
        ("leaf_only", Reason.INCOMPLETE_CHAIN),
        ("expired", Reason.EXPIRED),
        ("self_signed", Reason.SELF_SIGNED),
    ):
        obs = c.probe(lab.target(scenario), root, 10)
        assert obs.verdict is Verdict.REJECT, (scenario, obs.detail)
        expected = reason if coded else Reason.INVALID_CERTIFICATE
        assert obs.reason is expected, (scenario, obs.detail)
        assert obs.certificate_invalid is not coded
    wrong = c.probe(lab.target("wrong_host"), root, 10)
    assert (wrong.reason, wrong.verify_code) == (Reason.HOSTNAME_MISMATCH, 62), wrong.detail


@pytest.mark.parametrize("name", ["stdlib@3.13", pytest.param("requests@3.6", marks=provisions)])
def test_connect_to_is_honoured(lab: Servers, name: str) -> None:
    """Connect to 127.0.0.2 but send SNI and check the name ``localhost``: a client that
    resolved localhost itself would reach 127.0.0.1, where nothing listens on that port."""
    port = lab.servers["resolve"].port
    obs = client(name).probe(
        Target("localhost", port, connect_to="127.0.0.2"), Trust.bundle(lab.root), 10
    )
    assert obs.verdict is Verdict.ACCEPT, obs.detail


def test_native_trust_follows_ssl_cert_file(lab: Servers, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", lab.root)
    c = client("stdlib@3.13")
    obs = c.probe(lab.target("good"), Trust.native(), 10)
    assert obs.verdict is Verdict.ACCEPT, obs.detail
    assert obs.trust is not None and (obs.trust.origin, obs.trust.path) == (
        "SSL_CERT_FILE",
        lab.root,
    )
    monkeypatch.delenv("SSL_CERT_FILE")
    assert c.probe(lab.target("good"), Trust.native(), 10).verdict is Verdict.REJECT


@pytest.mark.parametrize("name", ["stdlib@3.13", "stdlib@3.6"])
def test_network_failures(name: str) -> None:
    c = client(name)
    with closed_port() as port:
        assert c.probe(Target("127.0.0.1", port), Trust.native(), 5).reason is (
            Reason.CONNECTION_REFUSED
        )
    with plain_http_server() as port:
        assert c.probe(Target("localhost", port), Trust.native(), 5).reason is Reason.NOT_TLS
    with silent_server() as port:
        obs = c.probe(Target("localhost", port), Trust.native(), 2)
        assert obs.reason is Reason.TIMEOUT and obs.elapsed_ms < 4000


def test_too_old_interpreter_is_unavailable_not_an_error() -> None:
    need("3.6")
    info = clients.load("httpx@3.6").info()
    assert not info.available and info.name == "httpx@3.6"
    assert (info.unavailable_reason or "").startswith("httpx needs Python >= 3.8 for the pinned")


# --- provisioning ------------------------------------------------------------------------


@provisions
def test_second_load_reuses_the_venv(tmp_path: Path) -> None:
    spec = sys.executable  # the running Python: nothing to fetch but urllib3 itself
    first = InterpreterClient(f"urllib3@{spec}", "urllib3", spec, cache=tmp_path)
    first.prepare()
    assert first.info().available, first.info().unavailable_reason
    assert first.provisioned is not None and first.provisioned.installed
    marker = Path(first.provisioned.directory) / "tlsmatrix-venv.json"
    stamp = marker.stat().st_mtime_ns
    assert json.loads(marker.read_text())["adapter"] == "urllib3"
    second = InterpreterClient(f"urllib3@{spec}", "urllib3", spec, cache=tmp_path)
    second.prepare()
    assert second.provisioned is not None and not second.provisioned.installed
    assert second.provisioned.directory == first.provisioned.directory
    assert marker.stat().st_mtime_ns == stamp
    assert len(list((tmp_path / "venvs").glob("urllib3-*/"))) == 1


@provisions
def test_probe_never_installs(tmp_path: Path, lab: Servers) -> None:
    spec = sys.executable
    fresh = InterpreterClient(f"urllib3@{spec}", "urllib3", spec, cache=tmp_path)
    obs = fresh.probe(lab.target("good"), Trust.bundle(lab.root), 5)
    assert obs.verdict is Verdict.SKIPPED and "not provisioned" in obs.detail
    assert not (tmp_path / "venvs").exists() or not any((tmp_path / "venvs").iterdir())
    fresh.prepare()  # what load() does: now it installs, and the probe runs
    assert fresh.probe(lab.target("good"), Trust.bundle(lab.root), 10).verdict is Verdict.ACCEPT


# --- the 2017-era client: pyOpenSSL on cryptography 2.0.3 (OpenSSL 1.1.0f), Python 3.6 -----


@provisions
def test_old_openssl_client(lab: Servers) -> None:
    """Provisions pyOpenSSL 17.3.0 + cryptography 2.0.3 into a Python 3.6 venv the first time
    (about half a minute here); needs Python 3.6 (CI fails without it)."""
    c = client("pyopenssl@3.6")
    info = c.info()
    assert info.tls_library_version is not None
    assert info.tls_library_version.startswith("OpenSSL 1.1.0f"), info.tls_library_version
    assert "cryptography 2.0.3" in (info.version or "") and "Python 3.6" in (info.version or "")
    root = Trust.bundle(lab.root)
    ok = c.probe(lab.target("good"), root, 10)
    assert (ok.verdict, ok.tls_version) == (Verdict.ACCEPT, "TLS 1.2"), ok.detail
    # no TLS 1.3 in OpenSSL 1.1.0: a TLS 1.3-only server refuses it
    refused = c.probe(lab.target("tls13_only"), root, 10)
    assert refused.verdict is Verdict.REJECT
    assert refused.reason is Reason.PROTOCOL_VERSION, refused.detail
    # while Python 3.6's own ssl (OpenSSL 3 here) speaks TLS 1.3 to the same server
    modern = client("stdlib@3.6").probe(lab.target("tls13_only"), root, 10)
    assert (modern.verdict, modern.tls_version) == (Verdict.ACCEPT, "TLS 1.3"), modern.detail
    lo = c.probe(lab.target("leaf_only"), root, 10)
    assert (lo.reason, lo.verify_code) == (Reason.INCOMPLETE_CHAIN, 20), lo.detail


@provisions
def test_old_openssl_client_native_trust(lab: Servers, monkeypatch: pytest.MonkeyPatch) -> None:
    """OpenSSL 1.1.0f's own default paths point into the wheel's build tree; SSL_CERT_FILE
    still redirects them, and the system file is pyOpenSSL's fallback without it."""
    c = client("pyopenssl@3.6")
    monkeypatch.setenv("SSL_CERT_FILE", lab.root)
    obs = c.probe(lab.target("good"), Trust.native(), 10)
    assert obs.verdict is Verdict.ACCEPT, obs.detail
    assert obs.trust is not None and obs.trust.origin == "SSL_CERT_FILE"
    monkeypatch.delenv("SSL_CERT_FILE")
    obs = c.probe(lab.target("good"), Trust.native(), 10)
    assert (obs.verdict, obs.reason) == (Verdict.REJECT, Reason.INCOMPLETE_CHAIN), obs.detail


def test_run_command_shows_names_as_typed(lab: Servers, tmp_path: Path) -> None:
    """The done-when of issue 15, part 1: stdlib rejects, stdlib@python3.13 accepts."""
    need("3.13")
    out = tmp_path / "r.json"
    res = tlsmatrix(
        "run",
        f"https://localhost:{lab.servers['leaf_only'].port}",
        *("--ca-file", lab.intermediate_only),
        *("--client", "stdlib", "--client", "stdlib@python3.13"),
        *("--format", "json", "-o", str(out)),
    )
    assert res.returncode in (0, 1), res.stderr
    data = json.loads(out.read_text())
    text = json.dumps(data)
    assert "stdlib@python3.13" in text
    verdicts = _verdicts(data)
    assert verdicts["stdlib"] == "reject" and verdicts["stdlib@python3.13"] == "accept", verdicts


def _verdicts(data: object) -> dict[str, str]:
    """client -> verdict from the run's JSON, wherever its results sit."""
    found: dict[str, str] = {}

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("client"), str) and isinstance(node.get("verdict"), str):
                found[node["client"]] = node["verdict"]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(data)
    return found


def test_ip_target_checks_the_ip_san(lab: Servers) -> None:
    """An IP target: no SNI, the IP SAN is checked."""
    c = client("stdlib@3.13")
    obs = c.probe(lab.target("good", host="127.0.0.1"), Trust.bundle(lab.root), 10)
    assert obs.verdict is Verdict.ACCEPT, obs.detail


@provisions
def test_failed_provisioning_is_reported_and_leaves_nothing(tmp_path: Path) -> None:
    from tlsmatrix.clients.interpreter import provision

    here = need(sys.executable)
    impossible = provision.Requirements("urllib3", ("urllib3==0.0.0",))
    with pytest.raises(provision.ProvisionError, match=r"^pip install failed \(exit \d+\)"):
        provision.provision(here, impossible, tmp_path, timeout=300)
    assert not provision.venv_dir(here, impossible, tmp_path).exists()
    assert provision.find_ready(here, impossible, tmp_path) is None


def test_python2_is_listed_as_too_old() -> None:
    need("2.7")
    info = clients.load("stdlib@2.7").info()
    assert not info.available
    assert "stdlib needs Python >= 3.6 for the tlsmatrix probe" in (info.unavailable_reason or "")


@pytest.mark.parametrize("spec", ["3.13", "3.6"])
def test_probe_line_carries_structured_fields(lab: Servers, spec: str) -> None:
    """The raw line probe.py prints under that Python: versions, measured flags, and the
    failure as fields (3.13: verify_code; 3.6: only the SSLError's reason and library)."""
    from tlsmatrix.clients.interpreter.adapter import SCRIPT

    interp = need(spec)
    c = InterpreterClient(f"stdlib@{spec}", "stdlib", spec)
    args = c.arguments(lab.target("leaf_only"), Trust.bundle(lab.root), 10)
    res = subprocess.run(
        [interp.path, "-I", str(SCRIPT), json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    line = json.loads(res.stdout.strip().splitlines()[-1])
    assert line["ok"] is False and line["python"] == interp.version
    assert line["ssl_openssl"] == interp.openssl and isinstance(line["verify_flags"], int)
    assert line["stage"] == "before_handshake"
    coded = [r for r in line["errors"] if "verify_code" in r]
    if interp.version_info >= (3, 7):
        assert coded and coded[0]["verify_code"] == 20
        assert "SSLCertVerificationError" in coded[0]["mro"]
    else:
        assert not coded
        record = line["errors"][0]
        assert (record["reason"], record["library"]) == ("CERTIFICATE_VERIFY_FAILED", "SSL")
