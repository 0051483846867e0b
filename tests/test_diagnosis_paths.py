"""The diagnosis on chains built here and served by TLSServer on 127.0.0.1, judged by real
clients: a deep chain missing its middle, a leaf issued by the root, a store holding only
the intermediate (leaf-only and full-chain servers), and a cross-signed root."""

from __future__ import annotations

import json

import pytest
from tlsmatrix.chain.fix import build_chain
from tlsmatrix.clients.base import Reason, ReasonSource, Target, Verdict
from tlsmatrix.explain.explanations import fix_advice
from tlsmatrix.explain.path_text import ANCHOR_RULE_STRICT, UNEXPLAINED
from tlsmatrix.lab.aia import AIAServer
from tlsmatrix.lab.tlsserver import TLSServer
from tlsmatrix.results.model import RunResult, to_dict
from tlsmatrix.results.schema import validate
from tlsmatrix.runner.matrix import TrustPlan, run_matrix
from tlsmatrix.runner.pool import collect_infos, load_clients

from tests.chains import Files, make

CLIENTS = ("curl", "requests", "stdlib", "openssl", "node", "java", "gnutls")
CHAIN_REASONS = {
    Reason.INCOMPLETE_CHAIN,
    Reason.UNTRUSTED_ROOT,
    Reason.UNKNOWN_ISSUER,
    Reason.SELF_SIGNED,
}


@pytest.fixture(scope="module")
def clients():
    chosen = load_clients(list(CLIENTS))
    infos = collect_infos(chosen)
    missing = [n for n, i in infos.items() if not i.available]
    assert not missing, f"clients not available: {missing}"  # CI must fail, not skip
    return chosen


@pytest.fixture(scope="module")
def aia():
    with AIAServer() as server:
        yield server


def serve_and_run(files: Files, name: str, nodes, key, clients, trust: TrustPlan) -> RunResult:
    chain = files.write(f"{name}.pem", *nodes, key=key)
    with TLSServer(chain, chain + ".key") as server:
        target = Target("localhost", server.port, "/", "127.0.0.1")
        return run_matrix([target], clients, trust=trust, timeout=20, jobs=4)


def chain_entry(run: RunResult) -> dict:
    [entry] = run.chains.values()
    return entry


def test_deep_chain_missing_its_middle_is_incomplete_for_every_rejecting_client(
    clients, aia, tmp_path
):
    root = make("Deep Root")
    a = make("Deep Intermediate A", root)
    b = make("Deep Intermediate B", a, aia=aia.url + "deep-a.der")
    leaf = make("localhost", b, ca=False)
    aia.publish("/deep-a.der", a.der, "application/pkix-cert")
    files = Files(str(tmp_path))
    roots = files.write("roots.pem", root)
    run = serve_and_run(files, "deep", (leaf, b), leaf, clients, TrustPlan(ca_file=roots))
    rejecting = [o for o in run.results if o.verdict is Verdict.REJECT]
    assert rejecting, [(o.client, o.verdict, o.reason, o.detail) for o in run.results]
    for o in rejecting:
        assert o.reason in CHAIN_REASONS | {Reason.INCOMPLETE_CHAIN}, (o.client, o.detail)
        assert o.reason is Reason.INCOMPLETE_CHAIN, (o.client, o.reason, o.explanation)
        assert "Deep Intermediate A" in o.explanation, o.explanation
        assert "deep-a.der" in o.explanation  # who supplies the missing link
    entry = chain_entry(run)
    codes = {i["code"] for i in entry["issues"]}
    assert "incomplete" in codes
    assert entry["missing_issuer"] == a.cert.subject.rfc4514_string()
    assert any(f["url"].endswith("deep-a.der") and not f["error"] for f in entry["aia_fetches"])
    assert "Deep Intermediate A" in entry["fix"] and "Deep Root" not in entry["fix"]
    # the tlsmatrix/2 document with its paths validates against the shipped schema
    document = json.loads(json.dumps(to_dict(run)))
    assert validate(document) == []
    assert document["chains"][run.targets()[0]]["sent"]["status"] == "incomplete"


def test_a_sent_upper_half_makes_a_gap_an_inferred_missing_intermediate(clients, tmp_path):
    """root -> A -> B -> leaf; the server sends leaf + A (B missing), no AIA anywhere: A
    chains to the trusted root, so the gap is most likely an intermediate (inferred). With
    nothing sent above the gap the same rejection stays unknown_issuer."""
    root = make("Gap Root")
    a = make("Gap Intermediate A", root)
    b = make("Gap Intermediate B", a)
    leaf = make("localhost", b, ca=False)
    files = Files(str(tmp_path))
    roots = files.write("roots.pem", root)
    run = serve_and_run(files, "gap", (leaf, a), leaf, clients, TrustPlan(ca_file=roots))
    rejecting = [o for o in run.results if o.verdict is Verdict.REJECT]
    assert len(rejecting) == len(CLIENTS), [(o.client, o.verdict) for o in run.results]
    for o in rejecting:
        assert o.reason is Reason.INCOMPLETE_CHAIN, (o.client, o.reason, o.detail)
        assert o.reason_source is ReasonSource.INFERRED, o.client
        assert "probably missing (inferred" in o.explanation, o.explanation
        assert "'Gap Intermediate A'" in o.explanation
    alone = serve_and_run(files, "alone", (leaf,), leaf, clients, TrustPlan(ca_file=roots))
    for o in alone.results:
        assert (o.verdict, o.reason) == (Verdict.REJECT, Reason.UNKNOWN_ISSUER), o.client
        assert o.reason_source is ReasonSource.INFERRED


def test_leaf_issued_by_a_trusted_root_is_a_complete_chain(clients, tmp_path):
    root = make("Direct Root")
    leaf = make("localhost", root, ca=False)
    files = Files(str(tmp_path))
    roots = files.write("roots.pem", root)
    run = serve_and_run(files, "direct", (leaf,), leaf, clients, TrustPlan(ca_file=roots))
    for o in run.results:
        assert o.verdict is Verdict.ACCEPT, (o.client, o.reason, o.detail)
        assert "Direct Root" in o.explanation and UNEXPLAINED not in o.explanation
    entry = chain_entry(run)
    assert not entry["issues"], entry["issues"]
    assert entry["missing_issuer"] is None
    assert entry["fix"] == ""
    # fix-chain has nothing to add: the leaf alone, never the root
    fixed = build_chain([leaf.cert], [root.cert], "localhost")
    assert fixed.certificates == (leaf.cert,)


@pytest.mark.parametrize("send_intermediate", [False, True], ids=["leaf-only", "full-chain"])
def test_store_with_the_intermediate_but_no_root(clients, tmp_path, send_intermediate):
    root = make("Partial Root")
    inter = make("Partial Intermediate", root)
    leaf = make("localhost", inter, ca=False)
    files = Files(str(tmp_path))
    store = files.write("intermediate-only.pem", inter)
    sent = (leaf, inter) if send_intermediate else (leaf,)
    run = serve_and_run(files, "partial", sent, leaf, clients, TrustPlan(ca_file=store))
    infos = {c.name: c for c in run.clients}
    verdicts = {o.verdict for o in run.results}
    assert verdicts <= {Verdict.ACCEPT, Verdict.REJECT}, [(o.client, o.detail) for o in run.results]
    for o in run.results:
        info = infos[o.client]
        if o.verdict is Verdict.REJECT:
            assert o.reason is Reason.UNTRUSTED_ROOT, (o.client, o.reason, o.explanation)
            assert o.reason_source in (ReasonSource.CHAIN, ReasonSource.CLIENT)
            assert "Partial Intermediate" in o.explanation
            if not info.partial_chain:
                assert ANCHOR_RULE_STRICT in o.explanation, o.explanation
        else:
            assert "anchoring at the intermediate 'Partial Intermediate'" in o.explanation, (
                o.client,
                o.explanation,
            )
            assert "no root" in o.explanation
    # OpenSSL's default rejects it (measured): the case is not vacuous
    assert any(o.verdict is Verdict.REJECT for o in run.results)


@pytest.mark.parametrize("anchor", ["old", "new"])
def test_cross_signed_root_verifies_against_either_root(clients, tmp_path, anchor):
    old = make("Cross Old Root")
    new = make("Cross New Root")
    cross = make("Cross New Root", old, key=new.key)
    inter = make("Cross Intermediate", new)
    leaf = make("localhost", inter, ca=False)
    files = Files(str(tmp_path))
    store = files.write(f"{anchor}.pem", old if anchor == "old" else new)
    run = serve_and_run(
        files, "cross", (leaf, inter, cross), leaf, clients, TrustPlan(ca_file=store)
    )
    entry = chain_entry(run)
    assert "incomplete" not in {i["code"] for i in entry["issues"]}
    tops = {p["links"][-1]["subject"] for p in entry["paths"] if p["ends"] == "root"}
    assert (old if anchor == "old" else new).cert.subject.rfc4514_string() in tops
    for o in run.results:
        if o.verdict is Verdict.ACCEPT:
            assert UNEXPLAINED not in o.explanation, o.explanation
        else:
            # a client that cannot build the cross path says so; never a missing link
            assert o.reason is not Reason.INCOMPLETE_CHAIN, (o.client, o.explanation)
    assert sum(o.verdict is Verdict.ACCEPT for o in run.results) >= len(CLIENTS) - 1


def test_fix_advice_never_serves_a_root(tmp_path):
    from tlsmatrix.chain.analysis import analyse_chain
    from tlsmatrix.chain.diagnosis import build_graph
    from tlsmatrix.chain.inspection import apply_graph

    root = make("Advice Root")
    leaf = make("localhost", root, ca=False)
    roots = Files(str(tmp_path)).write("roots.pem", root)
    report = analyse_chain([leaf.der], "localhost")
    assert fix_advice(apply_graph(report, build_graph([leaf.der], [roots]))) == ""


def test_fix_chain_fills_a_missing_middle_from_aia_and_never_adds_the_root(aia):
    root = make("Fix Root")
    a = make("Fix Intermediate A", root, aia=aia.url + "fix-root.der")
    b = make("Fix Intermediate B", a, aia=aia.url + "fix-a.der")
    leaf = make("localhost", b, ca=False)
    aia.publish("/fix-a.der", a.der, "application/pkix-cert")
    aia.publish("/fix-root.der", root.der, "application/pkix-cert")
    fixed = build_chain([leaf.cert, b.cert], [root.cert], "localhost")
    assert fixed.certificates == (leaf.cert, b.cert, a.cert)
    assert any("downloaded from" in step and "fix-a.der" in step for step in fixed.steps)


def test_aia_acceptance_cites_the_log_entry_of_this_probe_or_tlsmatrix_own_download(aia, tmp_path):
    import time
    import urllib.request

    from tlsmatrix.chain.aia import AIAFetcher
    from tlsmatrix.chain.analysis import analyse_chain
    from tlsmatrix.chain.diagnosis import build_graph
    from tlsmatrix.chain.inspection import apply_graph
    from tlsmatrix.clients.base import ClientInfo, Observation, TrustUsed
    from tlsmatrix.explain.explanations import Evidence, explain_row

    root = make("Log Root")
    inter = make("Log Intermediate", root)
    leaf = make("localhost", inter, ca=False, aia=aia.url + "log-inter.der")
    aia.publish("/log-inter.der", inter.der, "application/pkix-cert")
    roots = Files(str(tmp_path)).write("roots.pem", root)
    graph = build_graph([leaf.der], [roots], AIAFetcher())
    report = apply_graph(analyse_chain([leaf.der], "localhost"), graph)
    info = ClientInfo("fetcher", True, fetches_aia=True, aia_user_agent="FetcherUA/")
    start = time.time()
    request = urllib.request.Request(
        aia.url + "log-inter.der", headers={"User-Agent": "FetcherUA/1.0"}
    )
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=5):
        pass
    accepted = Observation(
        "t",
        "fetcher",
        Verdict.ACCEPT,
        Reason.OK,
        trust=TrustUsed("bundle", "explicit bundle", roots),
        started_at=start,
        finished_at=time.time(),
    )
    evidence = Evidence(
        infos={"fetcher": info}, reports={"t": report}, aia_log=aia.log(), graphs={"t": graph}
    )
    text = explain_row(accepted, evidence)
    assert "AIA log: GET /log-inter.der" in text and "FetcherUA/1.0" in text, text
    # no log (a real server): tlsmatrix's own download is the evidence
    text = explain_row(
        accepted, Evidence(infos={"fetcher": info}, reports={"t": report}, graphs={"t": graph})
    )
    assert "tlsmatrix downloaded it from" in text and "log-inter.der" in text, text
    assert UNEXPLAINED not in text


def test_fix_chain_says_in_words_when_the_root_is_not_trusted():
    from tlsmatrix.chain.fix import FixChainError

    root = make("Unknown Fix Root")
    inter = make("Unknown Fix Intermediate", root)
    leaf = make("localhost", inter, ca=False)
    other = make("Some Other Root")
    with pytest.raises(FixChainError, match="ends at the root 'Unknown Fix Root'"):
        build_chain([leaf.cert, inter.cert, root.cert], [other.cert], "localhost")
