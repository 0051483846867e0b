"""Properties every signal table keeps, whatever the client: an "issuer unknown" reason
always carries the flag the harness refines it by, and the flags never contradict."""

from __future__ import annotations

from tlsmatrix.clients.base import Reason
from tlsmatrix.clients.signals import chromium, curl, gnutls, java, node, openssl
from tlsmatrix.clients.signals._signal import Signal


def _all_signals() -> list[Signal]:
    found = [openssl.signal_for_code(c.code) for c in openssl.CODES]
    found += [node.signal_for_node_error(n) for n in (*node.NODE_VERIFY_NAMES, *node.NODE_CODES)]
    found += [gnutls.signal_for_status(bit | 2) for bit in gnutls.FLAGS]
    found += [
        chromium.signal_for_net_error(n) for n in (*chromium.CERT_ERRORS, *chromium.OTHER_ERRORS)
    ]
    found += [java.signal_for_java([], [n]) for n in (*java.BASIC_REASONS, *java.PKIX_REASONS)]
    found += [java.signal_for_java([(k, None)]) for k in java.CLASSES]
    found += [curl.signal_for_curl(code, 0) for code in curl.EXIT_CODES]
    return found


def test_unknown_issuer_always_carries_the_flag() -> None:
    for signal in _all_signals():
        if signal.reason is Reason.UNKNOWN_ISSUER:
            assert signal.issuer_unknown, signal
        if signal.issuer_unknown:
            assert signal.reason is Reason.UNKNOWN_ISSUER, signal


def test_flags_only_on_certificate_reasons_and_handshake_errors_are_never_certificate_rules() -> (
    None
):
    from tlsmatrix.clients.base import CERTIFICATE_REASONS

    for signal in _all_signals():
        if signal.certificate_invalid or signal.date_ambiguous:
            assert signal.reason in CERTIFICATE_REASONS, signal
        if signal.after_handshake:
            assert signal.reason is Reason.OK, signal
        assert signal.token
