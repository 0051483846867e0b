from __future__ import annotations

import json

from tlsmatrix.clients._common import classify_exception, reason_for_openssl_code
from tlsmatrix.clients.base import Observation, Reason, TrustUsed, Verdict, verdict_for
from tlsmatrix.reports import render
from tlsmatrix.results.model import RunResult, find_divergences, from_dict, to_dict


def obs(client: str, reason: Reason, target: str = "https://a.example") -> Observation:
    return Observation(
        target,
        client,
        verdict_for(reason),
        reason,
        trust=TrustUsed("native", "certifi", "/x/cacert.pem"),
    )


def test_divergence_groups_clients_by_outcome():
    found = find_divergences(
        [
            obs("curl", Reason.OK),
            obs("requests", Reason.INCOMPLETE_CHAIN),
            obs("openssl", Reason.INCOMPLETE_CHAIN),
            Observation("https://a.example", "node", Verdict.SKIPPED, Reason.CLIENT_UNAVAILABLE),
            obs("curl", Reason.OK, "https://b.example"),
            obs("stdlib", Reason.OK, "https://b.example"),
        ]
    )
    assert len(found) == 1
    assert found[0].groups == (
        ("accept", ("curl",)),
        ("reject (incomplete_chain)", ("requests", "openssl")),
    )
    assert found[0].summary() == "curl: accept; requests, openssl: reject (incomplete_chain)"


def test_json_round_trip():
    results = (obs("curl", Reason.OK), obs("requests", Reason.EXPIRED))
    run = RunResult(results, (), {"python": "3"}, "2026-01-01T00:00:00Z", find_divergences(results))
    again = from_dict(json.loads(render(run, "json")))
    assert again.results == run.results and again.divergences == run.divergences
    assert to_dict(again) == to_dict(run)


def test_openssl_codes():
    assert reason_for_openssl_code(20) is Reason.INCOMPLETE_CHAIN
    assert reason_for_openssl_code(21) is Reason.INCOMPLETE_CHAIN
    assert reason_for_openssl_code(19) is Reason.UNTRUSTED_ROOT
    assert reason_for_openssl_code(18) is Reason.SELF_SIGNED
    assert reason_for_openssl_code(66) is Reason.WEAK_KEY
    assert reason_for_openssl_code(68) is Reason.WEAK_SIGNATURE
    assert reason_for_openssl_code(9999) is Reason.HANDSHAKE_FAILURE


def test_classify_walks_wrapped_exceptions():
    import ssl

    inner = ssl.SSLCertVerificationError(1, "certificate verify failed")
    inner.verify_code = 10
    inner.verify_message = "certificate has expired"
    try:
        try:
            raise inner
        except ssl.SSLError as exc:
            raise ConnectionError("wrapped") from exc
    except ConnectionError as outer:
        c = classify_exception(outer)
    assert (c.reason, c.verify_code) == (Reason.EXPIRED, 10)
    assert classify_exception(ConnectionRefusedError(111, "x")).reason is Reason.CONNECTION_REFUSED
    assert classify_exception(ValueError("?")).reason is Reason.CLIENT_ERROR
    wrong = ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number")
    assert classify_exception(wrong).reason is Reason.NOT_TLS
