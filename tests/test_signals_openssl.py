"""The OpenSSL signal tables against the real library: every verify code the installed
libcrypto builds know is in the table with the library's own text, every SSL-library reason
resolves, and real handshakes of Python's ssl map to the cause each certificate was built with."""

from __future__ import annotations

import ctypes
import glob
import os
import socket
import ssl

import pytest
from tlsmatrix.clients.base import Reason
from tlsmatrix.clients.signals import openssl, openssl_reasons, python_ssl

from tests._signal_pki import (
    header_matches,
    plain_http_peer,
    refused_port,
    serve_scenarios,
    tls_1_1_server,
)

UNKNOWN = b"unknown certificate verification error"


def _libcrypto_builds() -> list[str]:
    """The system libcrypto Python links, plus any bundled build (pycurl ships OpenSSL 3.6)."""
    found = ["libcrypto.so.3"]
    import pycurl

    site = os.path.dirname(os.path.dirname(pycurl.__file__))
    found += glob.glob(os.path.join(site, "pycurl.libs", "libcrypto-*.so*"))
    return found


def _verify_strings(path: str) -> dict[int, str]:
    lib = ctypes.CDLL(path)
    text = lib.X509_verify_cert_error_string
    text.restype = ctypes.c_char_p
    text.argtypes = [ctypes.c_long]
    return {n: text(n).decode() for n in range(0, 400) if text(n) != UNKNOWN}


@pytest.mark.parametrize("path", _libcrypto_builds())
def test_every_verify_code_of_the_library_is_in_the_table_with_its_text(path: str) -> None:
    known = _verify_strings(path)
    assert len(known) > 90
    for code, text in known.items():
        entry = openssl.BY_CODE.get(code)
        assert entry is not None, f"{path}: code {code} ({text}) missing"
        assert openssl.lookup_text(text) is entry, code


def test_table_names_match_the_header() -> None:
    header = "/usr/include/openssl/x509_vfy.h"
    pairs = header_matches(header, r"#\s*define\s+X509_V_ERR_(\w+)\s+(\d+)\b", "libssl-dev")
    assert len(pairs) > 90
    for name, number in pairs:
        assert openssl.BY_CODE[int(number)].name == name


def test_the_table_is_one_entry_per_code_and_name() -> None:
    assert len(openssl.BY_CODE) == len(openssl.CODES) == len(openssl.BY_NAME)
    assert {c.text for c in openssl.CODES} <= set(openssl.BY_TEXT)


@pytest.mark.parametrize(
    ("code", "reason", "issuer_unknown"),
    [
        (2, Reason.UNKNOWN_ISSUER, True),
        (20, Reason.UNKNOWN_ISSUER, True),
        (21, Reason.UNKNOWN_ISSUER, True),
        (18, Reason.SELF_SIGNED, False),
        (19, Reason.UNTRUSTED_ROOT, False),
        (9, Reason.NOT_YET_VALID, False),
        (10, Reason.EXPIRED, False),
        (12, Reason.INVALID_CERTIFICATE, False),  # a stale CRL is not an expired certificate
        (13, Reason.MALFORMED_CERTIFICATE, False),
        (23, Reason.REVOKED, False),
        (25, Reason.PATH_LENGTH, False),
        (26, Reason.WRONG_USAGE, False),
        (34, Reason.CRITICAL_EXTENSION, False),
        (47, Reason.NAME_CONSTRAINTS, False),
        (48, Reason.NAME_CONSTRAINTS, False),
        (62, Reason.HOSTNAME_MISMATCH, False),
        (64, Reason.HOSTNAME_MISMATCH, False),
        (66, Reason.WEAK_KEY, False),
        (67, Reason.WEAK_KEY, False),
        (68, Reason.WEAK_SIGNATURE, False),
        (7, Reason.BAD_SIGNATURE, False),
        (79, Reason.NOT_A_CA, False),
        (1, Reason.INVALID_CERTIFICATE, False),
    ],
)
def test_decisions(code: int, reason: Reason, issuer_unknown: bool) -> None:
    signal = openssl.signal_for_code(code)
    assert (signal.reason, signal.issuer_unknown, signal.verify_code) == (
        reason,
        issuer_unknown,
        code,
    )


def test_vague_codes_ask_the_chain_and_unknown_codes_still_reject() -> None:
    assert openssl.signal_for_code(1).certificate_invalid
    assert not openssl.signal_for_code(10).certificate_invalid
    future = openssl.signal_for_code(250)
    assert future.reason is Reason.INVALID_CERTIFICATE and future.certificate_invalid


def test_code_24_follows_the_library_version() -> None:
    assert openssl.signal_for_code(24).reason is Reason.MALFORMED_CERTIFICATE
    assert openssl.signal_for_code(24, openssl_major=1).reason is Reason.NOT_A_CA


def test_lookup_by_node_name_and_by_exact_library_text() -> None:
    assert openssl.lookup_name("CERT_HAS_EXPIRED").code == 10
    assert openssl.lookup_name("X509_V_ERR_INVALID_PURPOSE").code == 26
    assert openssl.lookup_text("CA signature digest algorithm too weak").code == 68
    assert openssl.lookup_text("expired for host.invalid") is None  # whole constants only


# --- SSL-library reasons -----------------------------------------------------------------


def _ssl_reason_names() -> dict[str, int]:
    header = "/usr/include/openssl/sslerr.h"
    pattern = r"#\s*define\s+SSL_R_(\w+)\s+(\d+)"
    return {n: int(v) for n, v in header_matches(header, pattern, "libssl-dev")}


def test_every_ssl_reason_resolves_and_every_named_one_is_real() -> None:
    names = _ssl_reason_names()
    assert len(names) > 300
    for name in names:
        assert isinstance(openssl_reasons.signal_for_reason(name).reason, Reason)
    newer = {"RECORD_LAYER_FAILURE"}  # OpenSSL 3.2+
    for name in openssl_reasons.REASONS:
        assert name in names or name in newer or name in openssl_reasons.COMMON_REASONS, name
    for example in openssl_reasons.HANDSHAKE_EXAMPLES:
        assert example in names and example not in openssl_reasons.REASONS
    for number, name in openssl_reasons.NUMBERS.items():
        if name not in newer:
            assert names[name] == number, name


def test_reason_strings_of_the_library_normalize_to_the_names() -> None:
    lib = ctypes.CDLL("libssl.so.3")
    text = lib.ERR_reason_error_string
    text.restype = ctypes.c_char_p
    text.argtypes = [ctypes.c_ulong]
    lib.OPENSSL_init_ssl(ctypes.c_uint64(0), None)
    for number, name in openssl_reasons.NUMBERS.items():
        raw = text((openssl_reasons.ERR_LIB_SSL << 23) | number)
        if raw is not None:
            assert openssl_reasons.normalize(raw.decode()) == name


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ("WRONG_VERSION_NUMBER", Reason.NOT_TLS),
        ("wrong version number", Reason.NOT_TLS),  # Node's err.reason, pyOpenSSL's tuples
        ("ERR_SSL_WRONG_VERSION_NUMBER", Reason.NOT_TLS),  # Node's err.code
        ("TLSV1_ALERT_PROTOCOL_VERSION", Reason.PROTOCOL_VERSION),
        ("UNSUPPORTED_PROTOCOL", Reason.PROTOCOL_VERSION),
        ("SSLV3_ALERT_HANDSHAKE_FAILURE", Reason.HANDSHAKE_FAILURE),
        ("TLSV13_ALERT_CERTIFICATE_REQUIRED", Reason.HANDSHAKE_FAILURE),
        ("CA_MD_TOO_WEAK", Reason.WEAK_SIGNATURE),
        ("EE_KEY_TOO_SMALL", Reason.WEAK_KEY),
        ("NO_CIPHER_MATCH", Reason.CLIENT_ERROR),
        ("CERTIFICATE_VERIFY_FAILED", Reason.INVALID_CERTIFICATE),
    ],
)
def test_ssl_reason_decisions(given: str, reason: Reason) -> None:
    assert openssl_reasons.signal_for_reason(given).reason is reason


def test_packed_codes_as_curl_prints_them() -> None:
    line = "curl: (35) error:0A00010B:SSL routines::wrong version number"
    assert openssl_reasons.signal_for_packed_text(line).reason is Reason.NOT_TLS
    assert openssl_reasons.signal_for_packed_text("error:8000006F:system library") is None
    assert openssl_reasons.signal_for_reason("certificate verify failed", 10).reason is (
        Reason.EXPIRED
    )


# --- real handshakes with Python's ssl ----------------------------------------------------

CAUSES = {
    "expired": (Reason.EXPIRED, 10),
    "not_yet_valid": (Reason.NOT_YET_VALID, 9),
    "hostname_mismatch": (Reason.HOSTNAME_MISMATCH, 62),
    "wrong_usage": (Reason.WRONG_USAGE, 26),
    "critical_extension": (Reason.CRITICAL_EXTENSION, 34),
    "incomplete_chain": (Reason.UNKNOWN_ISSUER, 20),
    "self_signed": (Reason.SELF_SIGNED, 18),
    "path_length": (Reason.PATH_LENGTH, 25),
    "not_a_ca": (Reason.NOT_A_CA, 79),
    "name_constraints": (Reason.NAME_CONSTRAINTS, 47),
    "weak_key": (Reason.WEAK_KEY, 66),
    "weak_signature": (Reason.WEAK_SIGNATURE, 68),
}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    yield from serve_scenarios(str(tmp_path_factory.mktemp("signals")))


def _python_handshake(root: str, port: int) -> BaseException | None:
    context = ssl.create_default_context(cafile=root)
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname="localhost"),
        ):
            return None
    except (OSError, ssl.SSLError) as exc:
        return exc


def test_python_accepts_the_good_chain(served) -> None:
    root, servers = served
    assert _python_handshake(root, servers["ok"].port) is None


@pytest.mark.parametrize("cause", sorted(CAUSES))
def test_python_ssl_real_signal_maps_to_the_built_cause(served, cause: str) -> None:
    root, servers = served
    exc = _python_handshake(root, servers[cause].port)
    assert exc is not None
    signal = python_ssl.signal_for_exception(exc)
    assert (signal.reason, signal.verify_code) == CAUSES[cause]


def test_python_plain_tcp_refused_and_not_tls(tmp_path) -> None:
    try:
        socket.create_connection(("127.0.0.1", refused_port()), timeout=5)
    except OSError as exc:
        assert python_ssl.signal_for_exception(exc).reason is Reason.CONNECTION_REFUSED
    # A peer that answers a ClientHello with HTTP text is not TLS.
    context = ssl.create_default_context()
    with plain_http_peer() as port:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
                context.wrap_socket(raw, server_hostname="localhost")
            raise AssertionError("handshake with a plain-HTTP peer succeeded")
        except ssl.SSLError as exc:
            assert python_ssl.signal_for_exception(exc).reason is Reason.NOT_TLS


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_python_against_a_tls_1_1_server_is_a_protocol_version(served) -> None:
    root, _servers = served
    with tls_1_1_server(root) as server:
        exc = _python_handshake(root, server.port)
    assert exc is not None
    assert python_ssl.signal_for_exception(exc).reason is Reason.PROTOCOL_VERSION, repr(exc)
