"""GnuTLS tables against the real library (bit values from gnutls.h, each sentence from
gnutls_certificate_verification_status_print, each fatal error from gnutls_strerror), and
gnutls-cli's and wget's real output on real handshakes mapped to the built cause."""

from __future__ import annotations

import ctypes
import os
import subprocess

import pytest
from tlsmatrix.clients.base import Reason
from tlsmatrix.clients.signals import gnutls

from tests._signal_pki import (
    causes,
    every_cause_but,
    header_matches,
    plain_http_peer,
    refused_port,
    serve_scenarios,
)
from tests.conftest import missing, require_binary


def _libgnutls() -> ctypes.CDLL:
    try:
        return ctypes.CDLL("libgnutls.so.30")
    except OSError:
        missing("libgnutls not installed")


class _Datum(ctypes.Structure):
    _fields_ = [("data", ctypes.c_char_p), ("size", ctypes.c_uint)]


def test_bits_match_the_header() -> None:
    header = "/usr/include/gnutls/gnutls.h"
    pairs = header_matches(header, r"GNUTLS_CERT_(\w+) = 1 << (\d+)", "libgnutls28-dev")
    assert len(pairs) == len(gnutls.FLAGS)
    for name, shift in pairs:
        assert gnutls.FLAGS[1 << int(shift)][0] == name


def test_every_sentence_is_the_library_constant() -> None:
    printer = _libgnutls().gnutls_certificate_verification_status_print
    for bit, (name, _reason, sentence) in gnutls.FLAGS.items():
        out = _Datum()
        assert printer(ctypes.c_uint(bit | 2), 1, ctypes.byref(out), 0) == 0
        text = out.data.decode()
        assert text.startswith("The certificate is NOT trusted.")
        if sentence:
            assert sentence in text, name
        line = f"- Status: {text}"
        assert gnutls.status_from_sentences(line) == bit | 2, name


def test_every_fatal_error_is_a_gnutls_strerror_constant() -> None:
    lib = _libgnutls()
    text = lib.gnutls_strerror
    text.restype = ctypes.c_char_p
    name = lib.gnutls_strerror_name
    name.restype = ctypes.c_char_p
    known = {}
    for code in range(-1, -1000, -1):
        if name(code):
            known[text(code).decode()] = name(code).decode()
    for sentence, (short, _reason) in gnutls.FATAL_ERRORS.items():
        assert known.get(sentence) == f"GNUTLS_E_{short}", sentence


def test_precedence_covers_every_bit_and_picks_the_first_stop() -> None:
    assert sorted(gnutls.PRECEDENCE) == sorted(n for n, _r, _s in gnutls.FLAGS.values())
    both = (1 << 6) | (1 << 10) | 2  # issuer unknown and expired
    signal = gnutls.signal_for_status(both)
    assert (signal.reason, signal.issuer_unknown) == (Reason.UNKNOWN_ISSUER, True)
    assert gnutls.signal_for_status((1 << 16) | 2).certificate_invalid
    assert gnutls.signal_for_status(0).reason is Reason.OK


def test_wget_templates_ignore_the_host() -> None:
    line = "ERROR: The certificate of ‘expired.invalid’ has expired.\n"
    assert gnutls.signal_for_wget(5, line).reason is Reason.EXPIRED
    line = "ERROR: The certificate of ‘x.invalid’ doesn't have a known issuer.\n"
    assert gnutls.signal_for_wget(5, line).issuer_unknown
    # A host that looks like a sentence does not change the verdict.
    line = "ERROR: The certificate of ‘has.expired.invalid’ is not yet activated.\n"
    assert gnutls.signal_for_wget(5, line).reason is Reason.NOT_YET_VALID
    assert gnutls.signal_for_wget(8, "").after_handshake


GNUTLS_CAUSES = every_cause_but(
    "weak_key",
    self_signed=Reason.UNKNOWN_ISSUER,  # GnuTLS: "issuer unknown"; the chain refines
    # Both set only SIGNER_CONSTRAINTS_FAILURE: vague, the chain decides.
    path_length=Reason.INVALID_CERTIFICATE,
    name_constraints=Reason.INVALID_CERTIFICATE,
)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    yield from serve_scenarios(str(tmp_path_factory.mktemp("signals-gnutls")))


def _gnutls_cli(port: int, ca: str | None, host: str = "localhost") -> str:
    argv = [require_binary("gnutls-cli"), "-p", str(port), f"--verify-hostname={host}"]
    argv += [f"--x509cafile={ca}"] if ca else []
    argv.append("127.0.0.1")
    done = subprocess.run(
        argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30
    )
    return done.stdout + done.stderr


@pytest.mark.parametrize("cause", sorted(GNUTLS_CAUSES))
def test_gnutls_cli_real_status_maps_to_the_built_cause(served, cause: str) -> None:
    root, servers = served
    signal = gnutls.signal_for_gnutls_cli(_gnutls_cli(servers[cause].port, root))
    assert signal is not None and signal.reason is GNUTLS_CAUSES[cause]


def test_gnutls_cli_accepts_the_good_chain_and_refuses_a_plain_http_peer(served) -> None:
    root, servers = served
    assert gnutls.signal_for_gnutls_cli(_gnutls_cli(servers["ok"].port, root)).reason is (Reason.OK)
    with plain_http_peer() as port:
        out = _gnutls_cli(port, None)
    assert gnutls.signal_for_gnutls_cli(out).reason is Reason.NOT_TLS


WGET_CAUSES = causes(
    ("expired", "not_yet_valid", "hostname_mismatch", "incomplete_chain", "not_a_ca"),
    critical_extension=Reason.INVALID_CERTIFICATE,  # wget says only "is not trusted"
)


@pytest.mark.parametrize("cause", sorted(WGET_CAUSES))
def test_wget_real_messages_map_to_the_built_cause(served, cause: str) -> None:
    root, servers = served
    port = servers[cause].port
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("LC_")}, "LC_ALL": "C"}
    done = subprocess.run(
        [
            require_binary("wget"),
            "-O",
            "/dev/null",
            "-t",
            "1",
            "-T",
            "15",
            f"--ca-certificate={root}",
            f"https://localhost:{port}/",
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )
    signal = gnutls.signal_for_wget(done.returncode, done.stderr)
    assert signal.reason is WGET_CAUSES[cause], done.stderr[-400:]


def test_wget_refused() -> None:
    port = refused_port()
    env = {**os.environ, "LC_ALL": "C"}
    done = subprocess.run(
        [require_binary("wget"), "-O", "/dev/null", "-t", "1", f"https://127.0.0.1:{port}/"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )
    assert gnutls.signal_for_wget(done.returncode, done.stderr).reason is (
        Reason.CONNECTION_REFUSED
    )


def test_every_certificate_parsing_error_of_the_library_is_a_certificate_reason() -> None:
    """Exhaustive over the installed libgnutls: each GNUTLS_E_ASN1_* / GNUTLS_E_X509_*
    error (the peer's certificate does not parse) is mapped, and never to a TLS failure."""
    lib = _libgnutls()
    text = lib.gnutls_strerror
    text.restype = ctypes.c_char_p
    name = lib.gnutls_strerror_name
    name.restype = ctypes.c_char_p
    parsing = {
        name(code).decode(): text(code).decode()
        for code in range(-1, -1000, -1)
        if name(code)
        and name(code).decode().startswith(("GNUTLS_E_ASN1_", "GNUTLS_E_X509_"))
    }
    assert len(parsing) > 15, parsing
    for constant, sentence in parsing.items():
        assert sentence in gnutls.FATAL_ERRORS, constant
        signal = gnutls.signal_for_gnutls_cli(f"*** Fatal error: {sentence}\n")
        assert signal is not None and signal.reason not in (Reason.HANDSHAKE_FAILURE,), constant
    dup = gnutls.signal_for_gnutls_cli(
        "*** Fatal error: Duplicate extension in X.509 certificate.\n"
    )
    assert dup is not None and dup.reason is Reason.MALFORMED_CERTIFICATE
