"""Every reason an adapter emits comes from its client's signal table.

Two halves: (1) every entry of each table, fed to its adapter's mapper in the shape the
client really produces it, comes out as that entry's reason (nothing in between rewrites a
table's answer); (2) the adapter modules name, on their own, only the reasons no table can
give (ok, timeout, client_error, client_unavailable) plus a short, reviewed list of
structured facts outside the tables (each explained below)."""

from __future__ import annotations

import ast
import ssl
from pathlib import Path

import pytest
from tlsmatrix.clients import curl, gnutls, java, node, openssl_cli, wget
from tlsmatrix.clients._common import exception_outcome, outcome_for_signal
from tlsmatrix.clients.base import Reason
from tlsmatrix.clients.chromium import mapping as chromium
from tlsmatrix.clients.process import CommandResult
from tlsmatrix.clients.signals import chromium as chromium_signals
from tlsmatrix.clients.signals import curl as curl_signals
from tlsmatrix.clients.signals import gnutls as gnutls_signals
from tlsmatrix.clients.signals import java as java_signals
from tlsmatrix.clients.signals import node as node_signals
from tlsmatrix.clients.signals import openssl as openssl_signals
from tlsmatrix.clients.signals._signal import Signal

CLIENTS_DIR = Path(__file__).resolve().parent.parent / "clients"


def expected(signal: Signal) -> Reason:
    """The reason an Outcome made from ``signal`` must have."""
    return outcome_for_signal(signal).reason


def run(stdout: str = "", stderr: str = "", returncode: int = 1) -> CommandResult:
    return CommandResult(returncode=returncode, stdout=stdout, stderr=stderr, timed_out=False)


# --- (1) every table entry reaches the Observation unchanged ---------------------------


@pytest.mark.parametrize("entry", openssl_signals.CODES, ids=lambda e: e.macro)
def test_python_ssl_verify_codes(entry):
    exc = ssl.SSLCertVerificationError(1, "certificate verify failed")
    exc.verify_code = entry.code  # type: ignore[attr-defined]
    if entry.code == 0:
        return  # a verification error never carries X509_V_OK
    outcome = exception_outcome(ConnectionError("wrapped"))  # nothing structured: client_error
    assert outcome.reason is Reason.CLIENT_ERROR
    try:
        raise ConnectionError("from a host named expired.invalid") from exc
    except ConnectionError as outer:
        outcome = exception_outcome(outer)
    assert outcome.reason is entry.reason
    assert outcome.verify_code == entry.code
    assert outcome.issuer_unknown is entry.issuer_unknown


@pytest.mark.parametrize("entry", openssl_signals.CODES, ids=lambda e: e.macro)
def test_s_client_verify_codes(entry):
    stdout = f"    Protocol  : TLSv1.3\nVerify return code: {entry.code} ({entry.text})\n"
    outcome = openssl_cli.interpret(run(stdout, returncode=0))
    assert outcome.reason is entry.reason
    assert outcome.verify_code == entry.code


@pytest.mark.parametrize("code", sorted(curl_signals.EXIT_CODES))
def test_curl_exit_codes(code):
    outcome = curl.interpret(run("TLSMATRIX:000 0\n", returncode=code))
    if code == 0:
        assert outcome.reason is Reason.OK
        return
    assert outcome.reason is expected(curl_signals.signal_for_curl(code, 0 if code == 60 else None))
    assert outcome.verify_code is None  # curl printed 0: no code is invented


@pytest.mark.parametrize("entry", openssl_signals.CODES[2:], ids=lambda e: e.macro)
def test_curl_verify_results(entry):
    outcome = curl.interpret(run(f"TLSMATRIX:000 {entry.code}\n", returncode=60))
    assert outcome.reason is entry.reason
    assert outcome.verify_code == entry.code


@pytest.mark.parametrize("name", node_signals.NODE_VERIFY_NAMES)
def test_node_verify_names(name):
    outcome = node.interpret({"ok": False, "code": name, "message": "x"})
    assert outcome.reason is expected(node_signals.signal_for_node_error(name))
    assert outcome.verify_code == openssl_signals.lookup_name(name).code  # type: ignore[union-attr]


@pytest.mark.parametrize("entry", openssl_signals.CODES[1:], ids=lambda e: e.macro)
def test_node_unspecified_constants(entry):
    payload = {"ok": False, "code": "UNSPECIFIED", "message": entry.text}
    assert node.interpret(payload).reason is entry.reason


@pytest.mark.parametrize("code", sorted(node_signals.NODE_CODES))
def test_node_own_codes(code):
    assert node.interpret({"ok": False, "code": code}).reason is node_signals.NODE_CODES[code]


def _java(reasons=(), chain=(), **fields):  # type: ignore[no-untyped-def]
    return {
        "ok": False,
        "chain": [{"class": c, "message": m} for c, m in chain],
        "reasons": list(reasons),
        **fields,
    }


@pytest.mark.parametrize(
    "name",
    sorted({*java_signals.BASIC_REASONS, *java_signals.PKIX_REASONS} - {"ALGORITHM_CONSTRAINED"}),
)
def test_java_cert_path_reasons(name):
    chain = [("javax.net.ssl.SSLHandshakeException", "x")]
    outcome = java.interpret(_java([name], chain))
    assert outcome.reason is expected(java_signals.signal_for_java(chain, [name]))


@pytest.mark.parametrize(
    ("sig_alg", "key_alg", "bits", "reason"),
    [
        ("SHA1withRSA", "RSA", 2048, Reason.WEAK_SIGNATURE),
        ("MD5withRSA", "RSA", 2048, Reason.WEAK_SIGNATURE),
        ("SHA256withRSA", "RSA", 1024, Reason.WEAK_KEY),
        ("SHA256withRSA", "RSA", 512, Reason.WEAK_KEY),
    ],
)
def test_java_algorithm_constraints_from_data(sig_alg, key_alg, bits, reason):
    payload = _java(["ALGORITHM_CONSTRAINED"], sig_alg=sig_alg, key_alg=key_alg, key_bits=bits)
    outcome = java.interpret(payload)
    assert outcome.reason is reason and not outcome.certificate_invalid


@pytest.mark.parametrize("text", sorted(java_signals.VALIDATOR_ERRORS))
def test_java_validator_errors(text):
    chain = [("sun.security.validator.ValidatorException", "x")]
    outcome = java.interpret(_java(chain=chain, validator_error=text))
    assert outcome.reason is expected(java_signals.signal_for_java(chain, validator_error=text))


@pytest.mark.parametrize("klass", sorted(java_signals.CLASSES))
def test_java_exception_classes(klass):
    chain = [(klass, None)]
    outcome = java.interpret(_java(chain=chain))
    assert outcome.reason is expected(java_signals.signal_for_java(chain))


# Flags with no sentence of their own in gnutls-cli's Status line cannot reach the adapter.
@pytest.mark.parametrize("bit", sorted(b for b, f in gnutls_signals.FLAGS.items() if f[2]))
def test_gnutls_status_flags(bit):
    _name, _reason, sentence = gnutls_signals.FLAGS[bit]
    stdout = f"- Status: The certificate is NOT trusted. {sentence} \n"
    outcome = gnutls.interpret(run(stdout))
    status = gnutls_signals.status_from_sentences(stdout)
    assert status is not None
    assert outcome.reason is expected(gnutls_signals.signal_for_status(status))


@pytest.mark.parametrize("text", sorted(gnutls_signals.FATAL_ERRORS))
def test_gnutls_fatal_errors(text):
    outcome = gnutls.interpret(run(stderr=f"*** Fatal error: {text}\n"))
    assert outcome.reason is gnutls_signals.FATAL_ERRORS[text][1]


@pytest.mark.parametrize("template", sorted(gnutls_signals.WGET_TEMPLATES))
def test_wget_templates(template):
    line = "ERROR: " + template.replace("%s", "'alerts-timeout.invalid'", 1).replace(
        "%s", "alerts-timeout.invalid"
    )
    outcome = wget.interpret(run(stderr=line, returncode=5))
    assert outcome.reason is expected(gnutls_signals.signal_for_wget(5, line))


@pytest.mark.parametrize("text", sorted(gnutls_signals.FATAL_ERRORS))
def test_wget_read_error_after_the_request_is_the_gnutls_error(text):
    """A TLS 1.3 server's alert (client certificate required) can reach wget only once its
    request is out: "Read error (<gnutls_strerror>) in headers." An alert still refuses;
    a reset or an EOF there leaves the certificate accepted (late_outcome)."""
    line = f"HTTP request sent, awaiting response... Read error ({text}) in headers.\n"
    outcome = wget.interpret(run(stderr=line, returncode=4))
    name, reason = gnutls_signals.FATAL_ERRORS[text]
    if "_ALERT_" in name:
        assert outcome.reason is reason
    else:
        assert outcome.reason is Reason.OK and outcome.detail.startswith("certificate accepted")


@pytest.mark.parametrize("code", sorted(gnutls_signals.WGET_EXIT))
def test_wget_exit_codes(code):
    outcome = wget.interpret(run(returncode=code))
    assert outcome.reason is expected(gnutls_signals.signal_for_wget(code, ""))


@pytest.mark.parametrize(
    "name", sorted({*chromium_signals.CERT_ERRORS, *chromium_signals.OTHER_ERRORS})
)
def test_chromium_net_errors(name):
    page = chromium.PageState(error_text=f"net::ERR_{name}")
    chromium.read_error(page)
    outcome = chromium.page_outcome(page)
    signal = chromium_signals.signal_for_net_error(f"net::ERR_{name}")
    assert outcome.reason is expected(signal)
    if name == "CERT_DATE_INVALID":  # never defaulted to expired: the chain decides
        assert outcome.reason is Reason.INVALID_CERTIFICATE and outcome.certificate_invalid


def test_chromium_protocol_error_is_not_tls_only_with_evidence():
    page = chromium.PageState(error_text="net::ERR_SSL_PROTOCOL_ERROR")
    assert chromium.read_error(page)[0] is Reason.HANDSHAKE_FAILURE
    assert chromium.read_error(page, peer_speaks_tls=True)[0] is Reason.HANDSHAKE_FAILURE
    assert chromium.read_error(page, peer_speaks_tls=False)[0] is Reason.NOT_TLS


# --- (2) what the adapters name on their own --------------------------------------------

NO_TABLE_NEEDED = {"OK", "TIMEOUT", "CLIENT_ERROR", "CLIENT_UNAVAILABLE"}
# Structured facts outside the tables, per module: each is a type, a number or a flag of
# the client itself, never a message.
OWN_FACTS: dict[str, set[str]] = {
    # service-identity's exception types: VerificationError / CertificateError (names)
    # or a decoding failure of the certificate; SysCallError -1 is an EOF in the handshake
    "pyopenssl_client.py": {"HOSTNAME_MISMATCH", "MALFORMED_CERTIFICATE", "HANDSHAKE_FAILURE"},
    # s_client's packed BIO_lookup code (getaddrinfo failed) and "no session" at all
    "openssl_cli.py": {"DNS_FAILURE", "HANDSHAKE_FAILURE"},
    # gnutls-cli's "Cannot resolve" line (any gai_strerror) and the GnuTLS certificate
    # flags that decide whether a late failure is a certificate one
    "gnutls.py": {"DNS_FAILURE"},
    # wget's "GnuTLS: received alert [N]": 70 is protocol_version, any other a refusal
    "wget.py": {"PROTOCOL_VERSION", "HANDSHAKE_FAILURE", "INVALID_CERTIFICATE"},
    # the browser's own security state (certificateHasSha1Signature, the leaf's dates), and
    # the two evidence probes comparing python_ssl's signal with NOT_TLS / PROTOCOL_VERSION
    "chromium/mapping.py": {
        "WEAK_SIGNATURE",
        "NOT_YET_VALID",
        "EXPIRED",
        "NOT_TLS",
        "PROTOCOL_VERSION",
    },
}
ADAPTERS = [
    "stdlib.py",
    "requests_client.py",
    "urllib3_client.py",
    "httpx_client.py",
    "truststore_client.py",
    "aiohttp_client.py",
    "pyopenssl_client.py",
    "pycurl_client.py",
    "curl.py",
    "openssl_cli.py",
    "node.py",
    "java.py",
    "gnutls.py",
    "wget.py",
    "chromium/mapping.py",
    "chromium/navigation.py",
    "chromium/client.py",
    "_common.py",
    "_inprocess.py",
    "_subprocess.py",
]


def named_reasons(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id in ("Reason", "R")
        and node.attr.isupper()
    }


@pytest.mark.parametrize("module", ADAPTERS)
def test_adapters_name_only_what_no_table_gives(module):
    names = named_reasons(CLIENTS_DIR / module)
    extra = names - NO_TABLE_NEEDED - OWN_FACTS.get(module, set())
    assert not extra, f"{module} names {sorted(extra)} itself: map them through a table"


def test_no_adapter_matches_words_in_messages():
    """The old text tables are gone: no adapter keeps a list of message substrings."""
    for module in ADAPTERS:
        source = (CLIENTS_DIR / module).read_text()
        for gone in ("reason_for_text", "classify_exception", "_TEXT_REASONS", "is_alert_text"):
            assert gone not in source, (module, gone)
