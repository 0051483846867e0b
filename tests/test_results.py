from __future__ import annotations

import json

from tlsmatrix.clients._common import exception_outcome
from tlsmatrix.clients.base import Observation, Reason, TrustUsed, Verdict, verdict_for
from tlsmatrix.clients.signals.openssl import signal_for_code
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
    # 20/21 say only "no issuer found": unknown_issuer, flagged for the chain to decide
    assert (
        signal_for_code(20).reason is Reason.UNKNOWN_ISSUER and signal_for_code(20).issuer_unknown
    )
    assert signal_for_code(21).reason is Reason.UNKNOWN_ISSUER
    assert signal_for_code(19).reason is Reason.UNTRUSTED_ROOT
    assert signal_for_code(18).reason is Reason.SELF_SIGNED
    assert signal_for_code(66).reason is Reason.WEAK_KEY
    assert signal_for_code(68).reason is Reason.WEAK_SIGNATURE


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
        c = exception_outcome(outer)
    assert (c.reason, c.verify_code) == (Reason.EXPIRED, 10)
    assert exception_outcome(ConnectionRefusedError(111, "x")).reason is Reason.CONNECTION_REFUSED
    assert exception_outcome(ValueError("?")).reason is Reason.CLIENT_ERROR
    # A real SSLError carries its structured reason (the text alone decides nothing).
    wrong = ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number")
    wrong.library, wrong.reason = "SSL", "WRONG_VERSION_NUMBER"
    assert exception_outcome(wrong).reason is Reason.NOT_TLS
    unstructured = ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number")
    assert exception_outcome(unstructured).reason is not Reason.NOT_TLS


def test_schema_2_carries_reason_source_and_verify_code_only_when_given():
    from tlsmatrix.clients.base import ClientInfo, ReasonSource
    from tlsmatrix.results.model import SCHEMA
    from tlsmatrix.results.schema import load_schema, validate

    given = Observation(
        "https://a.example", "openssl", Verdict.REJECT, Reason.EXPIRED, verify_code=10
    )
    inferred = Observation(
        "https://a.example",
        "java",
        Verdict.REJECT,
        Reason.UNKNOWN_ISSUER,
        reason_source=ReasonSource.INFERRED,
        started_at=100.0,
        finished_at=101.5,
    )
    run = RunResult(
        (given, inferred), (ClientInfo("openssl", True), ClientInfo("java", True)), {}, "t"
    )
    doc = to_dict(run)
    assert doc["schema"] == SCHEMA == "tlsmatrix/2"
    assert validate(json.loads(json.dumps(doc))) == []
    first, second = doc["results"]
    assert first["verify_code"] == 10 and "verify_code" not in second
    assert (first["reason_source"], second["reason_source"]) == ("client", "inferred")
    back = from_dict(doc)
    assert back.results == run.results
    assert load_schema()["$defs"]["reason_source"]["enum"] == [s.value for s in ReasonSource]
    # reports mark the inferred row
    table = render(run, "table")
    assert "unknown_issuer?" in table and "inferred" in table
    assert "unknown_issuer?" in render(run, "markdown")


def test_schema_1_documents_still_load():
    from tlsmatrix.clients.base import ReasonSource

    old = {
        "schema": "tlsmatrix/1",
        "generated_at": "t",
        "partial": False,
        "environment": {},
        "clients": [],
        "results": [
            {
                "target": "https://a.example",
                "client": "curl",
                "verdict": "reject",
                "reason": "incomplete_chain",
                "detail": "",
                "verify_code": None,
                "tls_version": None,
                "elapsed_ms": 1.0,
                "trust": None,
                "explanation": "",
            }
        ],
        "chains": {},
        "divergences": [],
    }
    [row] = from_dict(old).results
    assert row.reason is Reason.INCOMPLETE_CHAIN and row.reason_source is ReasonSource.CLIENT
    assert row.verify_code is None
