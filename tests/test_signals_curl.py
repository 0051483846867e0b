"""curl exit codes: every code libcurl names is explained, and the real curl binary's exit
code and ssl_verify_result on real handshakes map to the cause each certificate was built with."""

from __future__ import annotations

import os
import subprocess

import pycurl
import pytest
from tlsmatrix.clients.base import Reason
from tlsmatrix.clients.signals import curl

from tests._signal_pki import every_cause_but, plain_http_peer, refused_port, serve_scenarios
from tests.conftest import require_binary


def test_every_libcurl_error_number_is_explained() -> None:
    numbers = {
        getattr(pycurl, n)
        for n in dir(pycurl)
        if n.startswith("E_") and not n.startswith("E_MULTI") and "CALL_MULTI" not in n
    }
    numbers.discard(99999)  # pycurl's own E_ALREADY_COMPLETE, not a CURLcode
    assert len(numbers) > 80
    for number in numbers:
        assert number in curl.EXIT_CODES or number in curl.OBSOLETE, number
    assert not set(curl.EXIT_CODES) & curl.OBSOLETE


def test_names_agree_with_pycurl_where_it_has_them() -> None:
    for number, (name, _reason) in curl.EXIT_CODES.items():
        value = getattr(pycurl, f"E_{name}", None)
        if value is not None:
            assert value == number, name


@pytest.mark.parametrize(
    ("code", "verify", "stderr", "reason"),
    [
        (0, 0, "", Reason.OK),
        (6, None, "", Reason.DNS_FAILURE),
        (7, None, "", Reason.CONNECTION_REFUSED),
        (28, None, "", Reason.TIMEOUT),
        (60, 10, "", Reason.EXPIRED),
        (60, 20, "", Reason.UNKNOWN_ISSUER),
        (60, 0, "", Reason.HOSTNAME_MISMATCH),
        (60, 1, "", Reason.HOSTNAME_MISMATCH),  # curl's own name check stores !X509_V_OK
        (60, None, "", Reason.INVALID_CERTIFICATE),
        (35, None, "curl: (35) error:0A00010B:SSL routines::wrong version number", Reason.NOT_TLS),
        (
            35,
            None,
            "curl: (35) error:0A00042E:SSL routines::tlsv1 alert protocol version",
            Reason.PROTOCOL_VERSION,
        ),
        (35, None, "", Reason.HANDSHAKE_FAILURE),
        (77, None, "", Reason.CLIENT_ERROR),
        (22, 0, "", Reason.OK),  # an HTTP error after the certificate was accepted
        (250, None, "", Reason.CLIENT_ERROR),
    ],
)
def test_curl_decisions(code: int, verify: int | None, stderr: str, reason: Reason) -> None:
    assert curl.signal_for_curl(code, verify, stderr).reason is reason


def test_alert_number_packs_as_curl_prints_it() -> None:
    # 0x0A00042E: SSL library (20 << 23) | 1070 (TLSV1_ALERT_PROTOCOL_VERSION).
    assert (20 << 23) | 1070 == 0x0A00042E


def _run(port: int, ca: str | None) -> tuple[int, int | None, str]:
    argv = [
        require_binary("curl"),
        "-sS",
        "-o",
        "/dev/null",
        "-w",
        "%{ssl_verify_result}",
        "--max-time",
        "15",
    ]
    argv += ["--resolve", f"localhost:{port}:127.0.0.1"]
    if ca:
        argv += ["--cacert", ca]
    argv.append(f"https://localhost:{port}/")
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_CA_BUNDLE", "CERT_FILE"))}
    done = subprocess.run(
        argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30, env=env
    )
    out = done.stdout.strip()
    return done.returncode, int(out) if out.isdigit() else None, done.stderr


CAUSES = every_cause_but("not_yet_valid", "incomplete_chain", "not_a_ca", "weak_key")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    yield from serve_scenarios(str(tmp_path_factory.mktemp("signals-curl")), {*CAUSES, "ok"})


def test_curl_accepts_the_good_chain(served) -> None:
    root, servers = served
    assert _run(servers["ok"].port, root)[0] == 0


@pytest.mark.parametrize("cause", sorted(CAUSES))
def test_curl_real_signal_maps_to_the_built_cause(served, cause: str) -> None:
    root, servers = served
    code, verify, stderr = _run(servers[cause].port, root)
    assert curl.signal_for_curl(code, verify, stderr).reason is CAUSES[cause], (code, verify)


def test_curl_refused_and_not_tls() -> None:
    assert curl.signal_for_curl(*_run(refused_port(), None)).reason is Reason.CONNECTION_REFUSED
    with plain_http_peer() as port:
        code, verify, stderr = _run(port, None)
    assert curl.signal_for_curl(code, verify, stderr).reason is Reason.NOT_TLS, stderr


def test_pycurl_real_signal_maps_to_the_built_cause(served) -> None:
    import io

    root, servers = served
    for cause in ("expired", "hostname_mismatch", "self_signed", "path_length"):
        port = servers[cause].port
        handle = pycurl.Curl()
        handle.setopt(pycurl.URL, f"https://localhost:{port}/")
        handle.setopt(pycurl.RESOLVE, [f"localhost:{port}:127.0.0.1"])
        handle.setopt(pycurl.CAINFO, root)
        handle.setopt(pycurl.WRITEDATA, io.BytesIO())
        handle.setopt(pycurl.TIMEOUT, 15)
        with pytest.raises(pycurl.error) as caught:
            handle.perform()
        verify = handle.getinfo(pycurl.SSL_VERIFYRESULT)
        handle.close()
        signal = curl.signal_for_curl(caught.value.args[0], verify)
        assert signal.reason is CAUSES[cause], (cause, caught.value.args[0], verify)
