"""The path builder and its per-client judgement, on certificates built here (no network):
a missing link at any depth, a leaf issued by the root, an intermediate as anchor, cross-signs,
and the bounds."""

from __future__ import annotations

import pytest
from tlsmatrix.chain.diagnosis import (
    COMPLETE,
    INCOMPLETE,
    INTERMEDIATE_REFUSED,
    MISSING_LINK,
    SELF_SIGNED,
    UNKNOWN,
    UNKNOWN_ISSUER,
    UNTRUSTED_ROOT,
    VERIFIED,
    ClientView,
    build_graph,
)
from tlsmatrix.chain.paths import ROOT, CertPool, build_paths

from tests.chains import Files, make


@pytest.fixture(scope="module")
def deep():
    root = make("Deep Root")
    a = make("Deep A", root)
    b = make("Deep B", a)
    leaf = make("deep.leaf", b, ca=False)
    return root, a, b, leaf


def test_deep_chain_missing_its_middle_is_incomplete_when_another_store_holds_it(deep, tmp_path):
    root, a, b, leaf = deep
    files = Files(str(tmp_path))
    roots = files.write("roots.pem", root)
    cached = files.write("cached.pem", root, a)
    graph = build_graph([leaf.der, b.der], [roots, cached])
    finding = graph.sent_finding()
    assert finding.status == INCOMPLETE
    assert (
        finding.missing is not None and finding.missing.subject == a.cert.subject.rfc4514_string()
    )
    assert finding.missing.stores() == (cached,)
    # The client trusting only the roots lacks exactly that link.
    verdict = graph.verdict_for(ClientView(roots))
    assert (
        verdict is not None
        and verdict.kind == MISSING_LINK
        and verdict.at.subject.startswith("CN=Deep A")
    )
    # The one whose store holds it builds the path to the root.
    ok = graph.verdict_for(ClientView(cached))
    assert ok is not None and ok.kind == VERIFIED and ok.at.self_signed


def test_missing_middle_nobody_supplies_is_unknown_not_a_guess(deep, tmp_path):
    root, _a, b, leaf = deep
    roots = Files(str(tmp_path)).write("roots.pem", root)
    graph = build_graph([leaf.der, b.der], [roots])
    assert graph.sent_finding().status == UNKNOWN
    assert graph.sent_finding().missing_issuer == b.cert.issuer.rfc4514_string()
    verdict = graph.verdict_for(ClientView(roots))
    assert verdict is not None and verdict.kind == UNKNOWN_ISSUER


def test_leaf_issued_by_the_root_is_complete_without_the_root(tmp_path):
    root = make("Direct Root")
    leaf = make("direct.leaf", root, ca=False)
    roots = Files(str(tmp_path)).write("roots.pem", root)
    graph = build_graph([leaf.der], [roots])
    finding = graph.sent_finding()
    assert finding.status == COMPLETE and finding.missing is None
    assert finding.anchor is not None and finding.anchor.sha256 == graph.paths[0].top.sha256
    assert graph.verdict_for(ClientView(roots)).kind == VERIFIED  # type: ignore[union-attr]
    # A client without that root: the path ends at a root it does not trust.
    other = Files(str(tmp_path)).write("other.pem", make("Unrelated Root"))
    graph2 = build_graph([leaf.der], [roots, other])
    assert graph2.verdict_for(ClientView(other)).kind == UNTRUSTED_ROOT  # type: ignore[union-attr]


@pytest.mark.parametrize("sent_intermediate", [False, True])
def test_intermediate_in_the_store_is_an_anchor_only_with_partial_chain(
    tmp_path, sent_intermediate
):
    root = make("Partial Root")
    inter = make("Partial Intermediate", root)
    leaf = make("partial.leaf", inter, ca=False)
    store = Files(str(tmp_path)).write("inter-only.pem", inter)
    sent = [leaf.der, inter.der] if sent_intermediate else [leaf.der]
    graph = build_graph(sent, [store])
    strict = graph.verdict_for(ClientView(store, partial_chain=False))
    assert strict is not None and strict.kind == INTERMEDIATE_REFUSED
    assert strict.at.subject.startswith("CN=Partial Intermediate")
    partial = graph.verdict_for(ClientView(store, partial_chain=True))
    assert partial is not None and partial.kind == VERIFIED and not partial.at.self_signed


def test_cross_signed_root_gives_one_path_per_anchor(tmp_path):
    old = make("Old Root")
    new = make("New Root")
    cross = make("New Root", old, key=new.key)  # the new root's key, certified by the old
    inter = make("Cross Intermediate", new)
    leaf = make("cross.leaf", inter, ca=False)
    files = Files(str(tmp_path))
    old_store, new_store = files.write("old.pem", old), files.write("new.pem", new)
    graph = build_graph([leaf.der, inter.der, cross.der], [old_store, new_store])
    tops = {p.top.subject for p in graph.paths if p.ends == ROOT}
    assert tops == {old.cert.subject.rfc4514_string(), new.cert.subject.rfc4514_string()}
    assert graph.sent_finding().status == COMPLETE
    for store in (old_store, new_store):
        verdict = graph.verdict_for(ClientView(store))
        assert verdict is not None and verdict.kind == VERIFIED
    nothing = graph.verdict_for(ClientView(None))
    assert nothing is not None and nothing.kind == UNTRUSTED_ROOT


def test_same_name_other_key_is_not_an_issuer(tmp_path):
    root = make("Twin Root")
    impostor = make("Twin Root")  # same name, other key
    leaf = make("twin.leaf", root, ca=False)
    store = Files(str(tmp_path)).write("impostor.pem", impostor)
    graph = build_graph([leaf.der], [store])
    assert graph.verdict_for(ClientView(store)).kind == UNKNOWN_ISSUER  # type: ignore[union-attr]


def test_self_signed_leaf(tmp_path):
    leaf = make("self.leaf", ca=False)
    graph = build_graph([leaf.der], [])
    assert graph.verdict_for(ClientView(None)).kind == SELF_SIGNED  # type: ignore[union-attr]


def test_path_building_is_bounded():
    pool = CertPool()
    roots = [make("Loop CA") for _ in range(12)]  # same name, different keys: a wide fan
    mids = [make("Mid", r) for r in roots]
    for cert in [*roots, *mids]:
        pool.add(cert.cert, "store:x")
    leaf = pool.add(make("fan.leaf", mids[0], ca=False).cert, "sent")
    assert leaf is not None
    paths = build_paths(leaf, pool, max_paths=5)
    assert len(paths) <= 5


def test_a_root_that_is_merely_not_sent_is_not_downloaded(tmp_path):
    from tlsmatrix.chain.aia import AIAFetcher

    root = make("Quiet Root")
    inter = make("Quiet Intermediate", root, aia="http://127.0.0.1:9/root.der")
    leaf = make("quiet.leaf", inter, ca=False)
    roots = Files(str(tmp_path)).write("roots.pem", root)
    fetcher = AIAFetcher()
    graph = build_graph([leaf.der, inter.der], [roots], fetcher)
    assert graph.sent_finding().status == COMPLETE
    assert fetcher.record == () and graph.fetches == ()


def test_a_missing_link_before_an_untrusted_root_names_both(tmp_path):
    from tlsmatrix.clients.base import ClientInfo, Observation, Reason, TrustUsed, Verdict
    from tlsmatrix.explain.path_text import reject_text

    root = make("Behind Root")
    inter = make("Behind Intermediate", root)
    leaf = make("behind.leaf", inter, ca=False)
    files = Files(str(tmp_path))
    elsewhere = files.write("elsewhere.pem", root, inter)
    mine = files.write("mine.pem", make("Unrelated Root"))
    graph = build_graph([leaf.der], [elsewhere, mine])
    verdict = graph.verdict_for(ClientView(mine))
    assert verdict is not None and verdict.kind == MISSING_LINK
    rejected = Observation(
        "t", "c", Verdict.REJECT, Reason.INCOMPLETE_CHAIN, trust=TrustUsed("bundle", "x", mine)
    )
    text = reject_text(rejected, ClientInfo("c", True), graph, verdict, "its bundle")
    assert "'Behind Intermediate'" in text
    assert "and even with it, 'Behind Root' is not in this store" in text


def test_stores_loaded_once_serve_every_target_like_a_fresh_load(deep, tmp_path):
    """A run reads its stores once (load_stores) and builds each target's graph on a copy:
    each graph must be what a graph over freshly read stores is, and building one must not
    leak certificates or sources into the next."""
    from tlsmatrix.chain.diagnosis import load_stores

    root, a, b, leaf = deep
    files = Files(str(tmp_path))
    roots = files.write("roots.pem", root)
    cached = files.write("cached.pem", root, a)
    selfie = make("selfie.leaf", ca=False)  # a self-signed leaf its own store trusts
    own = files.write("own.pem", selfie)
    loaded = load_stores([roots, cached, own])
    for sent in ([leaf.der, b.der], [selfie.der], [leaf.der, b.der]):
        shared = build_graph(sent, loaded)
        fresh = build_graph(sent, [roots, cached, own])
        assert shared.sent_finding().to_dict() == fresh.sent_finding().to_dict()
        assert [p.to_dict() for p in shared.paths] == [p.to_dict() for p in fresh.paths]
        assert shared.stores == fresh.stores == (roots, cached, own)
    # The self-signed leaf carries its store as a source though the store was only indexed.
    graph = build_graph([selfie.der], loaded)
    assert graph.leaf is not None and graph.leaf.stores() == (own,)
    assert graph.verdict_for(ClientView(own)).kind == VERIFIED  # type: ignore[union-attr]
    # The shared pool itself never grew: every target worked on its own copy.
    assert len(loaded.pool) == 0
