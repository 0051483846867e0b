"""Property tests over every adapter's signal mapper: whatever a client prints, exits
with or raises, the mapper returns a valid reason (and an Observation whose verdict
follows from it) and never raises. Real client texts seed the strategies so the
interesting branches are reached, not only the fallbacks."""

from __future__ import annotations

import socket
import ssl
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tlsmatrix.clients import (
    curl,
    gnutls,
    java,
    node,
    openssl_cli,
    pyopenssl_client,
    wget,
)
from tlsmatrix.clients._common import (
    exception_outcome,
    late_outcome,
    observe,
    observe_outcome,
)
from tlsmatrix.clients.base import Observation, Reason, Verdict, verdict_for
from tlsmatrix.clients.chromium import mapping as chromium
from tlsmatrix.clients.process import CommandResult, last_json_line
from tlsmatrix.clients.signals import chromium as chromium_signals
from tlsmatrix.clients.signals import node as node_signals
from tlsmatrix.clients.signals import openssl as openssl_signals
from tlsmatrix.clients.signals._signal import Signal
from tlsmatrix.runner.targets import parse_target

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TARGET = parse_target("https://fuzz.invalid:8443/")

# Fragments of what real clients say, so generated text hits the real branches.
FRAGMENTS = [
    "curl: (60) SSL certificate problem: unable to get local issuer certificate",
    "curl: (35) OpenSSL/3.0.19: error:0A00010B:SSL routines::wrong version number",
    "curl: (56) Recv failure: Connection reset by peer",
    "* SSL certificate verify ok.",
    "* SSL connection using TLSv1.3 / TLS_AES_256_GCM_SHA384",
    "no alternative certificate subject name matches target host name",
    "TLSMATRIX:200 0",
    "TLSMATRIX:000 20",
    "TLSMATRIX:301 ²",
    "Verify return code: 21 (unable to verify the first certificate)",
    "Verify return code: 0 (ok)",
    "no peer certificate available",
    "New, TLSv1.3, Cipher is TLS_AES_256_GCM_SHA384",
    "    Protocol  : TLSv1.2",
    "error:0A000126:SSL routines:ssl3_read_n:unexpected eof while reading",
    "connect:errno=111",
    "errno=104",
    "- Status: The certificate is NOT trusted. The certificate issuer is unknown.",
    "- Status: The certificate is trusted. ",
    "- Handshake was completed",
    "- Description: (TLS1.3-X.509)-(ECDHE-SECP256R1)",
    "*** Fatal error: A TLS fatal alert has been received.",
    "*** Fatal error: Error in the pull function.",
    "Processed 1 CA certificate(s).",
    "HTTP request sent, awaiting response... 200 OK",
    "HTTP request sent, awaiting response... Read error (Error in the pull function.) in headers.",
    "ERROR: The certificate of 'x' is not trusted.",
    "The certificate has expired",
    "Unable to establish SSL connection.",
    "Read error (Connection timed out) in headers.",
    "tlsv13 alert certificate required",
    "excessive message size",
    "Hostname mismatch",
]
texts = st.one_of(
    st.text(),
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=40)), max_size=8).map(
        "\n".join
    ),
)
exit_codes = st.one_of(st.none(), st.integers(-300, 300), st.sampled_from([0, 4, 5, 6, 7, 8]))


def command_results() -> st.SearchStrategy[CommandResult]:
    return st.builds(
        CommandResult,
        returncode=exit_codes,
        stdout=texts,
        stderr=texts,
        timed_out=st.booleans(),
    )


def assert_valid(reason: object) -> None:
    assert isinstance(reason, Reason)


@FUZZ
@given(command_results())
def test_curl(result):
    outcome = curl.interpret(result)
    assert_valid(outcome.reason)
    assert isinstance(outcome.detail, str)
    assert outcome.verify_code is None or isinstance(outcome.verify_code, int)
    if result.timed_out:
        assert outcome.reason is Reason.TIMEOUT


@FUZZ
@given(command_results())
def test_openssl_s_client(result):
    outcome = openssl_cli.interpret(result)
    assert_valid(outcome.reason)
    if outcome.reason is Reason.OK:
        assert "no peer certificate available" not in result.stdout


@pytest.mark.parametrize("interpret", [gnutls.interpret, wget.interpret], ids=["gnutls", "wget"])
@FUZZ
@given(command_results())
def test_gnutls_and_wget(interpret, result):
    outcome = interpret(result)
    assert_valid(outcome.reason)
    assert outcome.issuer_unknown in (None, True, False) and isinstance(outcome.detail, str)
    if result.timed_out:
        assert outcome.reason is Reason.TIMEOUT


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


def payloads(keys: list[str], codes: list[str]) -> st.SearchStrategy[dict[str, object]]:
    """JSON objects shaped like a probe script's line: known keys with any JSON value,
    known error codes and messages more often than chance would pick them."""
    value = st.one_of(json_values, st.sampled_from(codes), texts)
    return st.dictionaries(st.sampled_from(keys) | st.text(max_size=8), value, max_size=8)


NODE_CODES = [
    *node_signals.NODE_VERIFY_NAMES,
    *node_signals.NODE_CODES,
    "UNSPECIFIED",
    "EPROTO",
    "ERR_SSL_X",
    "",
]


@FUZZ
@given(
    payloads(
        ["ok", "code", "message", "protocol", "status", "reason", "library", "secured"],
        NODE_CODES,
    )
)
def test_node(payload):
    result = node.interpret(payload)
    assert_valid(result.reason)
    assert result.verify_code is None or isinstance(result.verify_code, int)


@FUZZ
@given(st.text())
def test_node_output_line_parser(stdout):
    parsed = last_json_line(stdout)
    assert parsed is None or isinstance(parsed, dict)


JAVA_TEXTS = [
    "javax.net.ssl.SSLHandshakeException",
    "javax.net.ssl.SSLProtocolException",
    "java.net.SocketTimeoutException",
    "PKIX path building failed",
    "No subject alternative DNS name matching x found.",
    "Received fatal alert: protocol_version",
    "EXPIRED",
    "ALGORITHM_CONSTRAINED",
]
java_chains = st.lists(
    st.dictionaries(
        st.sampled_from(["class", "message"]),
        st.one_of(st.sampled_from(JAVA_TEXTS), st.text(max_size=30), json_values),
    ),
    max_size=5,
)


@FUZZ
@given(
    payloads(
        [
            "ok",
            "protocol",
            "status",
            "chain",
            "reasons",
            "secured",
            "index",
            "sig_alg",
            "key_alg",
            "key_bits",
            "validator_error",
        ],
        JAVA_TEXTS,
    ),
    st.one_of(java_chains, json_values),
    st.one_of(st.lists(st.sampled_from(JAVA_TEXTS) | st.text()), json_values),
)
def test_java(payload, chain, reasons):
    payload = {**payload, "chain": chain, "reasons": reasons}
    result = java.interpret(payload)
    assert_valid(result.reason)
    assert isinstance(result.detail, str)


@FUZZ
@given(
    st.one_of(
        st.text(),
        st.sampled_from([*chromium_signals.CERT_ERRORS, *chromium_signals.OTHER_ERRORS]).map(
            "net::ERR_".__add__
        ),
        st.text(max_size=20).map("net::ERR_CERT_".__add__),
    ),
    st.one_of(st.none(), st.floats(allow_nan=True), st.floats(0, 4e9)),
    st.booleans(),
)
def test_chromium_net_errors(text, valid_to, weak):
    page = chromium.PageState(error_text=text, valid_to=valid_to, weak_signature=weak)
    reason, detail = chromium.read_error(page)
    assert_valid(reason)
    assert_valid(chromium.page_outcome(page).reason)


@FUZZ
@given(st.integers())
def test_openssl_codes(code):
    signal = openssl_signals.signal_for_code(code)
    assert_valid(signal.reason)
    assert signal.verify_code == code  # the code given, never another one


EXCEPTION_TYPES = [
    Exception,
    OSError,
    ConnectionResetError,
    ConnectionRefusedError,
    BrokenPipeError,
    TimeoutError,
    ValueError,
    RuntimeError,
    ssl.SSLError,
    ssl.SSLEOFError,
    ssl.SSLZeroReturnError,
]


@st.composite
def exceptions(draw: st.DrawFn, depth: int = 0) -> BaseException:
    """An exception with an arbitrary message, possibly wrapping others (as __cause__,
    __context__, .reason or an argument), sometimes a verify error with any code."""
    kind = draw(st.sampled_from(["plain", "verify", "gai", "nested"] if depth < 3 else ["plain"]))
    message = draw(texts)
    if kind == "verify":
        exc: BaseException = ssl.SSLCertVerificationError(1, message)
        exc.verify_code = draw(st.one_of(st.none(), st.integers()))  # type: ignore[attr-defined]
        exc.verify_message = draw(st.one_of(st.none(), st.text()))  # type: ignore[attr-defined]
        return exc
    if kind == "gai":
        return socket.gaierror(draw(st.integers(-10, 10)), message)
    cls = draw(st.sampled_from(EXCEPTION_TYPES))
    if kind == "plain":
        return cls(message)
    inner = draw(exceptions(depth + 1))
    how = draw(st.sampled_from(["cause", "context", "reason", "arg"]))
    exc = cls(message, inner) if how == "arg" else cls(message)
    if how == "cause":
        exc.__cause__ = inner
    elif how == "context":
        exc.__context__ = inner
    elif how == "reason":
        exc.reason = inner  # type: ignore[attr-defined]
    return exc


@FUZZ
@given(exceptions())
def test_python_exceptions(exc):
    classified = exception_outcome(exc)
    assert_valid(classified.reason)
    assert isinstance(classified.detail, str)
    late = exception_outcome(exc, late=True)
    assert_valid(late.reason)
    assert late.reason in (Reason.OK, Reason.TIMEOUT, Reason.HANDSHAKE_FAILURE)


def test_exception_cycles_terminate():
    a, b = OSError("a"), OSError("b")
    a.__cause__, b.__context__ = b, a
    assert_valid(exception_outcome(a).reason)


@FUZZ
@given(
    exceptions(),
    st.lists(st.tuples(st.integers(), st.integers()), max_size=3),
    st.one_of(st.none(), st.text(max_size=10)),
)
def test_pyopenssl_failures(exc, errors, version):
    for outcome in (
        pyopenssl_client.failure(exc, errors),
        pyopenssl_client.late_failure(exc, version),
    ):
        obs = observe_outcome(TARGET, "pyopenssl", outcome, started=time.monotonic(), trust=None)
        assert_observation(obs)


def assert_observation(obs: Observation) -> None:
    assert isinstance(obs, Observation)
    assert_valid(obs.reason)
    assert obs.verdict is verdict_for(obs.reason)
    assert isinstance(obs.verdict, Verdict)
    assert len(obs.detail) <= 2000


@FUZZ
@given(st.sampled_from(list(Reason)), texts, st.one_of(st.none(), st.integers()))
def test_observe_always_consistent(reason, detail, code):
    assert_observation(
        observe(TARGET, "fuzz", reason, detail=detail, verify_code=code, started=0.0, trust=None)
    )


def test_late_outcome_keeps_alerts_and_timeouts():
    """The one rule the hostile-server suite relies on, stated directly: after a completed
    handshake, an alert (by its OpenSSL constant) still refuses and a timeout stays one."""
    alert = Signal(Reason.HANDSHAKE_FAILURE, "TLSV13_ALERT_CERTIFICATE_REQUIRED")
    assert late_outcome(alert).reason is Reason.HANDSHAKE_FAILURE
    assert late_outcome(Signal(Reason.TIMEOUT, "TimeoutError")).reason is Reason.TIMEOUT
    reset = late_outcome(Signal(Reason.HANDSHAKE_FAILURE, "ECONNRESET"), "reset by peer")
    assert reset.reason is Reason.OK and reset.detail.startswith("certificate accepted; then")
    # a host name that contains "alert" or "timeout" in the detail changes nothing
    text = "ECONNRESET from alerts.invalid / timeout-monitor.invalid"
    assert late_outcome(Signal(Reason.HANDSHAKE_FAILURE, "ECONNRESET"), text).reason is Reason.OK
