"""The explainer and the reason refinement as pure logic, on real analysed chains."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import trustme
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from tlsmatrix.chain.analysis import analyse_chain
from tlsmatrix.chain.diagnosis import build_graph
from tlsmatrix.chain.inspection import apply_graph
from tlsmatrix.clients.base import (
    ClientInfo,
    Observation,
    Reason,
    ReasonSource,
    TrustUsed,
    verdict_for,
)
from tlsmatrix.explain.explanations import UNEXPLAINED, Evidence, explain_row
from tlsmatrix.explain.refine import refine_reason

ROOT = trustme.CA()
INTER = ROOT.create_child_ca()
LEAF = INTER.issue_cert("localhost")
OTHER = trustme.CA()
OTHER_LEAF = OTHER.create_child_ca().issue_cert("localhost")


def ders(leaf: trustme.LeafCert, parts: int | None = None) -> list[bytes]:
    pems = [b.bytes() for b in leaf.cert_chain_pems]
    return [x509.load_pem_x509_certificate(p).public_bytes(Encoding.DER) for p in pems[:parts]]


def obs(
    reason: Reason,
    *,
    issuer_unknown: bool = False,
    certificate_invalid: bool = False,
    trust: TrustUsed | None = None,
    client: str = "java",
) -> Observation:
    """What ``client`` said about https://t; its verdict follows from ``reason``, as every
    adapter's does."""
    return Observation(
        "https://t",
        client,
        verdict_for(reason),
        reason,
        trust=trust,
        issuer_unknown=issuer_unknown,
        certificate_invalid=certificate_invalid,
    )


def test_issuer_unknown_is_refined_from_the_chain(tmp_path):
    leaf_only = analyse_chain(ders(LEAF, 1), "localhost")
    other_full = analyse_chain(ders(OTHER_LEAF), "localhost")
    # The sent list alone cannot tell a missing intermediate from an unknown root: that is
    # unknown_issuer, marked inferred (it used to be guessed as incomplete_chain).
    alone = refine_reason(obs(Reason.INCOMPLETE_CHAIN, issuer_unknown=True), leaf_only)
    assert alone.reason is Reason.UNKNOWN_ISSUER
    assert alone.reason_source is ReasonSource.INFERRED
    # With the paths over the stores the missing intermediate is decided.
    roots = _bundle(tmp_path, ROOT)
    cached = tmp_path / "cached.pem"
    cached.write_bytes(ROOT.cert_pem.bytes() + INTER.cert_pem.bytes())
    graph = build_graph(ders(LEAF, 1), [roots, str(cached)])
    with_roots = replace(
        obs(Reason.UNKNOWN_ISSUER, issuer_unknown=True),
        trust=TrustUsed("bundle", "explicit bundle", roots),
    )
    decided = refine_reason(with_roots, apply_graph(leaf_only, graph), graph, ClientInfo("x", True))
    assert decided.reason is Reason.INCOMPLETE_CHAIN
    assert decided.reason_source is ReasonSource.CHAIN
    # leaf + intermediate of another root: a root some other store holds and this one lacks
    other_store = str(tmp_path / "other.pem")
    (tmp_path / "other.pem").write_bytes(OTHER.cert_pem.bytes())
    other_graph = build_graph(ders(OTHER_LEAF), [roots, other_store])
    untrusted = refine_reason(
        with_roots, apply_graph(other_full, other_graph), other_graph, ClientInfo("x", True)
    )
    assert untrusted.reason is Reason.UNTRUSTED_ROOT
    assert untrusted.reason_source is ReasonSource.CHAIN
    # a precise signal is never overridden
    assert refine_reason(obs(Reason.EXPIRED), leaf_only).reason is Reason.EXPIRED
    assert refine_reason(obs(Reason.INCOMPLETE_CHAIN), other_full).reason is (
        Reason.INCOMPLETE_CHAIN
    )
    assert refine_reason(obs(Reason.EXPIRED), leaf_only).reason_source is ReasonSource.CLIENT


def _bundle(tmp_path, *cas: trustme.CA) -> str:
    path = tmp_path / "bundle.pem"
    path.write_bytes(b"".join(ca.cert_pem.bytes() for ca in cas))
    return str(path)


def test_accept_without_evidence_is_labelled_unexplained(tmp_path):
    report = analyse_chain(ders(LEAF, 1), "localhost")
    roots_only = TrustUsed("bundle", "explicit bundle", _bundle(tmp_path, ROOT))
    evidence = Evidence(infos={"java": ClientInfo("java", True)}, reports={"https://t": report})
    accepted = obs(Reason.OK, trust=roots_only)
    text = explain_row(accepted, evidence)
    assert UNEXPLAINED in text and "does not contain it" in text
    # with the intermediate in the bundle the same acceptance is explained
    both = TrustUsed("bundle", "explicit bundle", str(tmp_path / "both.pem"))
    (tmp_path / "both.pem").write_bytes(ROOT.cert_pem.bytes() + INTER.cert_pem.bytes())
    text = explain_row(obs(Reason.OK, trust=both), evidence)
    assert UNEXPLAINED not in text and "contains it" in text


def test_aia_fetcher_acceptance_without_an_aia_url_is_unexplained():
    report = analyse_chain(ders(LEAF, 1), "localhost")
    # trustme leaves carry no AIA URL: "it fetches via AIA" cannot explain the acceptance
    assert not report.leaf.aia_ca_issuers
    evidence = Evidence(
        infos={"chromium": ClientInfo("chromium", True, fetches_aia=True)},
        reports={"https://t": report},
    )
    text = explain_row(obs(Reason.OK, client="chromium"), evidence)
    assert UNEXPLAINED in text


def test_expired_rejection_cites_the_certificate():
    now = dt.datetime.now(dt.UTC)
    expired = INTER.issue_cert(
        "localhost", not_before=now - dt.timedelta(days=9), not_after=now - dt.timedelta(days=2)
    )
    report = analyse_chain(ders(expired), "localhost")
    text = explain_row(obs(Reason.EXPIRED), Evidence(infos={}, reports={"https://t": report}))
    assert text.startswith("rejected:") and "expired" in text.lower()


def test_vague_date_error_is_named_from_the_chain():
    now = dt.datetime.now(dt.UTC)
    future = INTER.issue_cert(
        "localhost", not_before=now + dt.timedelta(days=1), not_after=now + dt.timedelta(days=30)
    )
    past = INTER.issue_cert(
        "localhost", not_before=now - dt.timedelta(days=30), not_after=now - dt.timedelta(days=1)
    )
    vague = obs(Reason.EXPIRED, client="chromium", certificate_invalid=True)
    assert refine_reason(vague, analyse_chain(ders(future), "localhost")).reason is (
        Reason.NOT_YET_VALID
    )
    assert refine_reason(vague, analyse_chain(ders(past), "localhost")).reason is Reason.EXPIRED
    # a bare "invalid" on a chain with one weak point is named after it
    bare = obs(Reason.HANDSHAKE_FAILURE, client="chromium", certificate_invalid=True)
    wrong = INTER.issue_cert("other.example")
    assert refine_reason(bare, analyse_chain(ders(wrong), "localhost")).reason is (
        Reason.HOSTNAME_MISMATCH
    )
    # and left alone when the chain shows nothing that explains it
    assert refine_reason(bare, analyse_chain(ders(LEAF), "localhost")).reason is (
        Reason.HANDSHAKE_FAILURE
    )


def test_aia_log_entries_match_by_user_agent_and_probe_window():
    from dataclasses import dataclass

    from tlsmatrix.explain.path_text import log_entries_for

    @dataclass(frozen=True)
    class Entry:
        path: str
        time: float
        user_agent: str | None
        status: int | None = 200

    info = ClientInfo("any-name", True, fetches_aia=True, aia_user_agent="Java/")
    probe = replace(obs(Reason.OK), started_at=1000.0, finished_at=1002.0)
    url = ["http://aia.invalid/i.der"]
    log = [
        Entry("/i.der", 999.0, "Java/17"),  # before this probe: another scenario's download
        Entry("/i.der", 1001.0, "curl/8"),  # inside the window, other client
        Entry("/i.der", 1001.5, "Java/17"),  # this probe's
        Entry("/other.der", 1001.6, "Java/17"),  # another URL
        Entry("/i.der", 1010.0, "Java/17"),  # after it
    ]
    assert [e.time for e in log_entries_for(probe, info, url, log)] == [1001.5]
    # without a measured User-Agent or a window nothing is claimed
    assert log_entries_for(probe, ClientInfo("x", True), url, log) == []
    assert log_entries_for(obs(Reason.OK), info, url, log) == []


def expired_anchor(tmp_path, cn: str):  # noqa: ANN201
    """leaf + intermediate sent, both valid, under a root ``cn`` in the store that expired
    yesterday: (report, graph, trust)."""
    from tests.chains import Files, make

    now = dt.datetime.now(dt.UTC)
    root = make(cn, not_before=now - dt.timedelta(days=90), not_after=now - dt.timedelta(days=1))
    inter = make("Mid CA", root)
    leaf = make("localhost", inter, ca=False)
    store = Files(str(tmp_path)).write("roots.pem", root)
    sent = [leaf.der, inter.der]
    graph = build_graph(sent, [store])
    report = apply_graph(analyse_chain(sent, "localhost"), graph)
    return report, graph, TrustUsed("bundle", "--ca-file", store)


def test_an_expired_root_in_the_store_explains_an_expired_rejection(tmp_path):
    """The client's own path ends at a root in its store that has expired: the
    explanation names it, not 'unexplained'."""
    report, graph, trust = expired_anchor(tmp_path, "Old Root")
    said = refine_reason(obs(Reason.EXPIRED, trust=trust, client="stdlib"), report, graph)
    evidence = Evidence(infos={}, reports={"https://t": report}, graphs={"https://t": graph})
    text = explain_row(said, evidence)
    assert UNEXPLAINED not in text, text
    assert "'Old Root'" in text and "expired on" in text and "does not send it" in text, text


def test_an_inferred_reason_is_not_said_to_come_from_the_clients_signal():
    vague = replace(
        obs(Reason.INVALID_CERTIFICATE, client="gnutls"), reason_source=ReasonSource.INFERRED
    )
    report = analyse_chain(ders(LEAF), "localhost")
    text = explain_row(vague, Evidence(infos={}, reports={"https://t": report}))
    assert "on the client's own signal" not in text
    assert "Provisional" in text and "the client said" in text, text


def test_a_root_with_an_empty_subject_is_named_by_its_fingerprint(tmp_path):
    from tests.chains import Files, make, raw_root

    root = raw_root(x509.Name([]))
    leaf = make("localhost", root, ca=False)
    store = Files(str(tmp_path)).write("roots.pem", root)
    graph = build_graph([leaf.der], [store])
    report = apply_graph(analyse_chain([leaf.der], "localhost"), graph)
    accepted = obs(Reason.OK, trust=TrustUsed("bundle", "--ca-file", store), client="stdlib")
    evidence = Evidence(infos={}, reports={"https://t": report}, graphs={"https://t": graph})
    text = explain_row(accepted, evidence)
    assert "'?'" not in text and "(empty subject, SHA-256 " in text, text


def test_an_accept_over_an_expired_anchor_says_so(tmp_path):
    """Java accepts an expired root in its store: its row says the anchor expired and
    that this client does not check those dates (the acceptance shows it)."""
    report, graph, trust = expired_anchor(tmp_path, "Old Anchor")
    evidence = Evidence(infos={}, reports={"https://t": report}, graphs={"https://t": graph})
    text = explain_row(obs(Reason.OK, trust=trust), evidence)
    assert "'Old Anchor'" in text and "expired on" in text and "does not check" in text, text
