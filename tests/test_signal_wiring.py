"""Every adapter maps its client's structured signal through the tables in clients/signals,
on real handshakes: a host name never decides a reason, and the policy fields of ClientInfo
(partial_chain, strict_x509) are what a real handshake shows."""

from __future__ import annotations

import datetime as dt
import os
import ssl
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from tlsmatrix import clients
from tlsmatrix.clients.base import Reason, Trust, Verdict
from tlsmatrix.lab.tlsserver import ServerOptions, TLSServer
from tlsmatrix.runner.targets import parse_target

from tests import hostile_servers as hs
from tests.chains import raw_root
from tests.conftest import loaded_adapters, missing

# Every client but the browser (its own test file covers it, once per run).
NAMES = [n for n in clients.BUILTIN if n != "chromium"]
PYTHON_SSL = ["stdlib", "requests", "urllib3", "httpx", "truststore", "aiohttp"]
# Host names that contain the words the old text matching looked for.
TRAP_NAMES = ("timeout-monitor.invalid", "alerts.invalid")


@pytest.fixture(scope="module")
def adapters() -> Iterator[dict[str, clients.Client]]:
    # Under CI a missing client fails rather than being left out.
    with loaded_adapters(NAMES, required=bool(os.environ.get("CI"))) as available:
        yield available


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA(organization_name="Wiring Root")


@pytest.fixture(scope="module")
def files(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """root.pem, a leaf (+ intermediate) for the trap names and localhost, and a bundle that
    holds only the intermediate."""
    directory = tmp_path_factory.mktemp("wiring")
    intermediate = ca.create_child_ca()
    leaf = intermediate.issue_cert(*TRAP_NAMES, "localhost")
    out = {
        "root": ca.cert_pem,
        "intermediate": intermediate.cert_pem,
        "full": b"".join(b.bytes() for b in leaf.cert_chain_pems[:2]),
        "leaf": leaf.cert_chain_pems[0].bytes(),
        "key": leaf.private_key_pem.bytes(),
    }
    paths = {}
    for name, blob in out.items():
        path = directory / f"{name}.pem"
        path.write_bytes(blob if isinstance(blob, bytes) else blob.bytes())
        paths[name] = str(path)
    return paths


def _skip_missing(adapters: dict[str, clients.Client], name: str) -> clients.Client:
    if name not in adapters:
        missing(f"{name} is not available here")
    return adapters[name]


def _target(host: str, port: int):  # type: ignore[no-untyped-def]
    return replace(parse_target(f"{host}:{port}"), connect_to="127.0.0.1")


# --- host names decide nothing ---------------------------------------------------------


@pytest.mark.parametrize("client", NAMES)
def test_alert_from_a_host_named_timeout_is_not_a_timeout(adapters, files, client):
    """A TLS 1.0-only server refuses with a protocol_version alert; its name contains
    "timeout". The reason is the version, never a timeout."""
    adapter = _skip_missing(adapters, client)
    options = ServerOptions(max_version=ssl.TLSVersion.TLSv1)
    with TLSServer(files["full"], files["key"], options=options) as server:
        obs = adapter.probe(_target(TRAP_NAMES[0], server.port), Trust.bundle(files["root"]), 8)
    assert (obs.verdict, obs.reason) == (Verdict.REJECT, Reason.PROTOCOL_VERSION), obs.detail


@pytest.mark.parametrize("client", NAMES)
def test_reset_after_the_handshake_from_a_host_named_alerts_is_an_accept(adapters, files, client):
    """Half the headers, then a reset: the certificate had been accepted. The host's name
    contains "alerts"; only a real TLS alert would make this a refusal."""
    adapter = _skip_missing(adapters, client)
    with hs.ResetMidResponse(files["full"], files["key"]) as server:
        obs = adapter.probe(_target(TRAP_NAMES[1], server.port), Trust.bundle(files["root"]), 8)
    assert (obs.verdict, obs.reason) == (Verdict.ACCEPT, Reason.OK), obs.detail


@pytest.mark.parametrize("client", NAMES)
def test_reset_during_the_handshake_from_a_host_named_timeout(adapters, client):
    """The server closes right after the ClientHello: a handshake failure, not a timeout."""
    adapter = _skip_missing(adapters, client)
    with hs.CloseAfterHello() as server:
        obs = adapter.probe(_target(TRAP_NAMES[0], server.port), Trust.native(), 8)
    assert (obs.verdict, obs.reason) == (Verdict.REJECT, Reason.HANDSHAKE_FAILURE), obs.detail


# --- partial chain: an intermediate in the store as an anchor --------------------------


@pytest.mark.parametrize("served", ["leaf", "full"])
@pytest.mark.parametrize("client", NAMES)
def test_partial_chain_policy_is_what_the_handshake_shows(adapters, files, client, served):
    """The bundle holds only the intermediate (no root). A client whose ClientInfo says
    partial_chain accepts (the intermediate is its anchor), the others reject with an
    issuer-not-found signal, on a leaf-only and on a full-chain server alike."""
    adapter = _skip_missing(adapters, client)
    info = adapter.info()
    with TLSServer(files[served], files["key"]) as server:
        obs = adapter.probe(
            _target("localhost", server.port), Trust.bundle(files["intermediate"]), 10
        )
    if info.partial_chain:
        assert (obs.verdict, obs.reason) == (Verdict.ACCEPT, Reason.OK), obs.detail
    else:
        assert obs.verdict is Verdict.REJECT, obs.detail
        assert obs.issuer_unknown or obs.reason is Reason.UNTRUSTED_ROOT, obs


# --- X509 strict mode (Python's default context since 3.13) ----------------------------


def _root_and_leaf(
    directory: Path, *, extra: tuple[x509.ExtensionType, ...] = ()
) -> dict[str, str]:
    """A root and a localhost leaf it signs, without an Authority Key Identifier (which
    X509_V_FLAG_X509_STRICT refuses and OpenSSL's default accepts), plus ``extra``."""
    now = dt.datetime.now(dt.UTC)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Wiring Test Root")])
    root_node = raw_root(root_name)  # no authorityKeyIdentifier
    root, root_key = root_node.cert, root_node.key
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(root_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    for extension in extra:
        builder = builder.add_extension(extension, critical=False)
    leaf = builder.sign(root_key, hashes.SHA256())
    pem = serialization.Encoding.PEM
    paths = {"root": directory / "root.pem", "leaf": directory / "leaf.pem"}
    paths["root"].write_bytes(root.public_bytes(pem))
    paths["leaf"].write_bytes(leaf.public_bytes(pem))
    paths["key"] = directory / "key.pem"
    paths["key"].write_bytes(
        leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return {k: str(v) for k, v in paths.items()}


@pytest.fixture(scope="module")
def no_aki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return _root_and_leaf(tmp_path_factory.mktemp("no-aki"))


@pytest.fixture(scope="module")
def garbage_aia(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A leaf whose (non-critical) AIA extension holds bytes that do not decode."""
    from cryptography.x509.oid import ExtensionOID

    bad = x509.UnrecognizedExtension(ExtensionOID.AUTHORITY_INFORMATION_ACCESS, b"\x04\x03abc")
    return _root_and_leaf(tmp_path_factory.mktemp("garbage-aia"), extra=(bad,))


def test_pyopenssl_undecodable_aia_is_malformed_not_a_name_mismatch(adapters, garbage_aia):
    """service-identity cannot decode the leaf's extensions: that is a malformed
    certificate, not a name mismatch (the SAN says localhost and the probe asks for it).
    stdlib, which never decodes the AIA, accepts the same server."""
    pyopenssl = _skip_missing(adapters, "pyopenssl")
    stdlib = _skip_missing(adapters, "stdlib")
    trust = Trust.bundle(garbage_aia["root"])
    with TLSServer(garbage_aia["leaf"], garbage_aia["key"]) as server:
        target = _target("localhost", server.port)
        obs = pyopenssl.probe(target, trust, 8)
        lenient = stdlib.probe(target, trust, 8)
    assert (obs.verdict, obs.reason) == (Verdict.REJECT, Reason.MALFORMED_CERTIFICATE), obs.detail
    assert lenient.verdict is Verdict.ACCEPT, lenient.detail


def test_the_strict_fixture_separates_strict_from_default(no_aki):
    """The no-AKI chain really is what X509_STRICT refuses and the default accepts, so the
    test below can fail either way."""
    import socket

    with TLSServer(no_aki["leaf"], no_aki["key"]) as server:
        for strict in (False, True):
            ctx = ssl.create_default_context(cafile=no_aki["root"])
            ctx.verify_flags &= ~ssl.VERIFY_X509_STRICT
            if strict:
                ctx.verify_flags |= ssl.VERIFY_X509_STRICT
            try:
                with (
                    socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock,
                    ctx.wrap_socket(sock, server_hostname="localhost"),
                ):
                    accepted = True
            except ssl.SSLCertVerificationError:
                accepted = False
            assert accepted is not strict


@pytest.mark.parametrize("client", PYTHON_SSL)
def test_strict_x509_policy_is_what_the_handshake_shows(adapters, no_aki, client):
    adapter = _skip_missing(adapters, client)
    info = adapter.info()
    with TLSServer(no_aki["leaf"], no_aki["key"]) as server:
        obs = adapter.probe(_target("localhost", server.port), Trust.bundle(no_aki["root"]), 8)
    assert (obs.verdict is Verdict.REJECT) is info.strict_x509, obs.detail
    assert obs.verdict in (Verdict.ACCEPT, Verdict.REJECT)


@pytest.mark.parametrize("client", PYTHON_SSL)
def test_python_policy_comes_from_the_context_flags(adapters, client):
    """partial_chain / strict_x509 are read from the flags of the context the library
    makes: the same bits as a context made here the library's way says."""
    adapter = _skip_missing(adapters, client)
    flags = adapter.policy_context().verify_flags  # type: ignore[attr-defined]
    info = adapter.info()
    assert info.partial_chain is bool(flags & ssl.VERIFY_X509_PARTIAL_CHAIN)
    assert info.strict_x509 is bool(flags & ssl.VERIFY_X509_STRICT)


def test_policy_context_is_the_default_context_without_its_store():
    """The base policy context is ssl.create_default_context() minus reading the default
    store: the same flags, mode, options and protocol bounds, and no CA loaded."""
    from tlsmatrix.clients._trust import policy_default_context

    policy, default = policy_default_context(), ssl.create_default_context()
    for attr in ("verify_flags", "verify_mode", "check_hostname", "options", "protocol"):
        assert getattr(policy, attr) == getattr(default, attr), attr
    assert (policy.minimum_version, policy.maximum_version) == (
        default.minimum_version,
        default.maximum_version,
    )
    assert policy.cert_store_stats()["x509_ca"] == 0


def test_fixture_files_exist(files):
    assert all(Path(p).is_file() for p in files.values())


@pytest.mark.parametrize("client", ["java", "java-aia"])
def test_java_sends_no_sni_for_a_name_sniHostName_refuses(adapters, files, client):
    """An underscore is not allowed in SNIHostName; the JDK's own socket code then sends
    no SNI. TlsProbe does the same: the probe reaches a certificate verdict (the leaf is
    not for that name), never an IllegalArgumentException."""
    adapter = _skip_missing(adapters, client)
    with TLSServer(files["full"], files["key"]) as server:
        obs = adapter.probe(
            _target("under_score.invalid", server.port), Trust.bundle(files["root"]), 10
        )
    assert (obs.verdict, obs.reason) == (Verdict.REJECT, Reason.HOSTNAME_MISMATCH), obs.detail
