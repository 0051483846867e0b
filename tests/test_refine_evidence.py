"""Reason refinement from evidence beyond the sent list, on the corpus's own chains (pure
logic): a name mismatch caused by a SAN that does not decode, a TLS-layer usage refusal of
a leaf whose extensions do not decode, a vague date error about a root in the client's
store, and an intermediate whose EKU excludes TLS servers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from tlsmatrix.chain.analysis import analyse_chain
from tlsmatrix.chain.certfacts import san_undecodable
from tlsmatrix.chain.diagnosis import build_graph
from tlsmatrix.chain.inspection import apply_graph
from tlsmatrix.clients.base import Observation, Reason, ReasonSource, TrustUsed, verdict_for
from tlsmatrix.explain.refine import refine_reason
from tlsmatrix.lab.corpus import build_corpus
from tlsmatrix.lab.corpus.certs import to_pem


@pytest.fixture(scope="module")
def corpus():
    return build_corpus()


def judged(case, tmp_path: Path, said: Reason, **flags: object) -> Observation:
    """``said`` (with the client's own flags) refined against the case's chain, the client
    trusting the case's bundle."""
    store = tmp_path / "trust.pem"
    store.write_bytes(b"".join(to_pem(d) for d in case.trust_der))
    graph = build_graph(case.chain_der, [str(store)])
    now = dt.datetime.now(dt.UTC)
    report = apply_graph(analyse_chain(case.chain_der, case.hostname, now), graph)
    obs = Observation(
        "https://t",
        "client",
        verdict_for(said),
        said,
        trust=TrustUsed("bundle", "test", str(store)),
        **flags,  # type: ignore[arg-type]
    )
    return refine_reason(obs, report, graph)


def test_san_undecodable_reads_the_raw_extension(corpus):
    def cert(case_id: str, label: str) -> x509.Certificate:
        return x509.load_der_x509_certificate(corpus.get(case_id).certs[label])

    assert san_undecodable(cert("malformed/leaf-san", "leaf"))
    assert san_undecodable(cert("malformed/intermediate-san", "I1"))
    assert not san_undecodable(cert("malformed/leaf-aia", "leaf"))  # another extension
    assert not san_undecodable(cert("malformed/leaf-san", "I1"))


def test_a_name_mismatch_from_an_undecodable_san_is_the_malformed_certificate(corpus, tmp_path):
    got = judged(corpus.get("malformed/leaf-san"), tmp_path, Reason.HOSTNAME_MISMATCH)
    assert (got.reason, got.reason_source) == (Reason.MALFORMED_CERTIFICATE, ReasonSource.CHAIN)
    # A SAN that decodes keeps the client's own reason.
    kept = judged(corpus.get("malformed/leaf-aia"), tmp_path, Reason.HOSTNAME_MISMATCH)
    assert (kept.reason, kept.reason_source) == (Reason.HOSTNAME_MISMATCH, ReasonSource.CLIENT)


def test_a_tls_layer_usage_refusal_of_an_undecodable_leaf_is_the_malformed_certificate(
    corpus, tmp_path
):
    # OpenSSL's "ecc cert not for signing" (node, pycurl): no verify code.
    got = judged(corpus.get("malformed/leaf-san"), tmp_path, Reason.WRONG_USAGE)
    assert (got.reason, got.reason_source) == (Reason.MALFORMED_CERTIFICATE, ReasonSource.CHAIN)
    # A leaf that decodes and really has no server usage keeps it.
    kept = judged(corpus.get("usage/leaf-eku-client-auth"), tmp_path, Reason.WRONG_USAGE)
    assert kept.reason is Reason.WRONG_USAGE


@pytest.mark.parametrize(
    "case_id, reason",
    [
        ("validity/root-expired", Reason.EXPIRED),
        ("validity/root-not-yet-valid", Reason.NOT_YET_VALID),
    ],
)
def test_a_vague_date_error_names_the_root_in_the_clients_store(corpus, tmp_path, case_id, reason):
    # Chromium's ERR_CERT_DATE_INVALID: the root is not sent, only the store holds it.
    case = corpus.get(case_id)
    assert "root" not in case.chain
    got = judged(case, tmp_path, Reason.INVALID_CERTIFICATE, certificate_invalid=True)
    assert (got.reason, got.reason_source) == (reason, ReasonSource.CHAIN)


def test_certificate_invalid_names_an_intermediates_eku(corpus, tmp_path):
    case = corpus.get("usage/intermediate-eku-client-auth")
    got = judged(case, tmp_path, Reason.INVALID_CERTIFICATE, certificate_invalid=True)
    assert (got.reason, got.reason_source) == (Reason.WRONG_USAGE, ReasonSource.CHAIN)


def test_openssl_invalid_ca_about_an_issuers_key_usage_is_wrong_usage(corpus, tmp_path):
    # OpenSSL's INVALID_CA covers a CA:TRUE issuer whose keyUsage lacks keyCertSign.
    case = corpus.get("usage/intermediate-ku-no-cert-sign")
    got = judged(case, tmp_path, Reason.NOT_A_CA, verify_code=79)
    assert (got.reason, got.reason_source) == (Reason.WRONG_USAGE, ReasonSource.CHAIN)
    # An issuer that is no CA at all keeps "not a CA".
    kept = judged(corpus.get("not_a_ca/issuer-ca-false"), tmp_path, Reason.NOT_A_CA)
    assert (kept.reason, kept.reason_source) == (Reason.NOT_A_CA, ReasonSource.CLIENT)
