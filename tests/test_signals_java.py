"""JSSE tables against the real JDK (every BasicReason and PKIXReason value it defines) and
TlsProbe's real output on real handshakes mapped to the cause each certificate was built with."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from tlsmatrix.clients.base import Reason
from tlsmatrix.clients.signals import java

from tests._signal_pki import every_cause_but, serve_scenarios
from tests.conftest import require_binary

PROBE = os.path.join(os.path.dirname(java.__file__), os.pardir, "java", "TlsProbe.java")

ENUMS = """
public class Enums {
    public static void main(String[] a) {
        for (Object r : java.security.cert.CertPathValidatorException.BasicReason.values())
            System.out.println("basic " + r);
        for (Object r : java.security.cert.PKIXReason.values())
            System.out.println("pkix " + r);
    }
}
"""


def test_every_reason_enum_value_of_the_jdk_is_mapped(tmp_path) -> None:
    source = tmp_path / "Enums.java"
    source.write_text(ENUMS)
    done = subprocess.run(
        [require_binary("java"), str(source)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = [line.split() for line in done.stdout.splitlines()]
    basic = {v for k, v in lines if k == "basic"}
    pkix = {v for k, v in lines if k == "pkix"}
    assert basic == set(java.BASIC_REASONS)
    assert pkix == set(java.PKIX_REASONS)


@pytest.mark.parametrize(
    ("chain", "reasons", "kwargs", "reason"),
    [
        (
            [("javax.net.ssl.SSLHandshakeException", "(certificate_expired) PKIX ...")],
            ["EXPIRED"],
            {},
            Reason.EXPIRED,
        ),
        ([], ["ALGORITHM_CONSTRAINED"], {"sig_alg": "SHA1withRSA"}, Reason.WEAK_SIGNATURE),
        (
            [],
            ["ALGORITHM_CONSTRAINED"],
            {"sig_alg": "SHA256withRSA", "key_alg": "RSA", "key_bits": 1024},
            Reason.WEAK_KEY,
        ),
        ([("java.net.ConnectException", "Connection refused")], [], {}, Reason.CONNECTION_REFUSED),
        ([("java.net.UnknownHostException", "x.invalid")], [], {}, Reason.DNS_FAILURE),
        ([("java.net.SocketTimeoutException", "Read timed out")], [], {}, Reason.TIMEOUT),
        (
            [("javax.net.ssl.SSLException", "Unsupported or unrecognized SSL message")],
            [],
            {},
            Reason.NOT_TLS,
        ),
        (
            [("javax.net.ssl.SSLHandshakeException", "Received fatal alert: protocol_version")],
            [],
            {},
            Reason.PROTOCOL_VERSION,
        ),
        (
            [("javax.net.ssl.SSLHandshakeException", "Received fatal alert: handshake_failure")],
            [],
            {},
            Reason.HANDSHAKE_FAILURE,
        ),
        (
            [("java.security.cert.CertificateException", "No subject alternative names present")],
            [],
            {},
            Reason.HOSTNAME_MISMATCH,
        ),
        ([], [], {"validator_error": "No trusted certificate found"}, Reason.UNTRUSTED_ROOT),
    ],
)
def test_java_decisions(chain, reasons, kwargs, reason: Reason) -> None:
    assert java.signal_for_java(chain, reasons, **kwargs).reason is reason


def test_a_constrained_algorithm_without_the_probe_fields_is_vague() -> None:
    assert java.signal_for_java([], ["ALGORITHM_CONSTRAINED"]).certificate_invalid


CAUSES = every_cause_but(
    "weak_key",
    "weak_signature",
    self_signed=Reason.UNKNOWN_ISSUER,  # "PKIX path building failed": the chain refines
)


@pytest.fixture(scope="module")
def probe_classes(tmp_path_factory: pytest.TempPathFactory) -> str:
    out = str(tmp_path_factory.mktemp("tlsprobe"))
    subprocess.run(
        [require_binary("javac"), "-d", out, PROBE],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        check=True,
        timeout=180,
    )
    return out


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    yield from serve_scenarios(str(tmp_path_factory.mktemp("signals-java")), {*CAUSES, "ok"})


def _run(classes: str, port: int, root: str) -> dict:
    done = subprocess.run(
        [
            require_binary("java"),
            "-cp",
            classes,
            "TlsProbe",
            "127.0.0.1",
            str(port),
            "localhost",
            "/",
            "15000",
            root,
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=90,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_java_real_signals_map_to_the_built_causes(served, probe_classes) -> None:
    root, servers = served
    assert _run(probe_classes, servers["ok"].port, root)["ok"] is True
    for cause, expected in sorted(CAUSES.items()):
        out = _run(probe_classes, servers[cause].port, root)
        assert out["ok"] is False, cause
        chain = [(c["class"], c["message"]) for c in out["chain"]]
        signal = java.signal_for_java(chain, out["reasons"])
        assert signal.reason is expected, (cause, out)
