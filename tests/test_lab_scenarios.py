"""The scenario catalogue: registration rules and the predictions' logic."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest
from tlsmatrix.clients.base import Reason, Verdict
from tlsmatrix.lab.pki import generate
from tlsmatrix.lab.scenarios import (
    CATALOGUE,
    CHECKS,
    Catalogue,
    ClientProps,
    Expectation,
    accept,
)

from tests.test_lab_incidents import INCIDENTS

REQUIRED = {
    "good",
    "leaf_only",
    "leaf_only_no_aia",
    "leaf_only_dead_aia",
    "leaf_only_hung_aia",
    "wrong_order",
    "with_root",
    "leaf_and_root",
    "expired_leaf",
    "expired_intermediate",
    "not_yet_valid",
    "wrong_host",
    "self_signed",
    "untrusted_root",
    "weak_key",
    "sha1_intermediate",
    "cross_signed_expired_root",
    "revoked",
    *INCIDENTS,  # from real incidents (issue 15)
}


def all_props():
    for fetches, trust, revocation, bits, sha1 in itertools.product(
        (False, True), ("certifi-like", "workstation"), (False, True), (1024, 2048), (False, True)
    ):
        yield ClientProps("x", fetches, trust, revocation, bits, sha1)


def test_catalogue_has_the_required_scenarios():
    assert set(CATALOGUE.names()) >= REQUIRED


def test_every_scenario_is_described_and_refers_to_real_certificates(tmp_path):
    material = generate("http://127.0.0.1:1/", tmp_path)
    for sc in CATALOGUE:
        assert sc.description and sc.summary
        assert sc.checks and sc.checks <= set(CHECKS)
        assert all(name in material.certs for name in sc.chain), sc.name
        assert sc.key in material.keys and sc.key == sc.chain[0]
        # the key really is the leaf's
        assert material.keys[sc.key].public_key() == material.certs[sc.chain[0]].public_key()
        assert sc.hostname == ("foo.lab.invalid" if sc.name == "partial_wildcard" else "localhost")


def test_prediction_depends_on_properties_not_name():
    for sc in CATALOGUE:
        for props in all_props():
            a = sc.expect(props)
            b = sc.expect(replace(props, name="a completely different client"))
            assert a == b, sc.name
            assert isinstance(a, Expectation) and a.why
            assert (a.verdict is Verdict.ACCEPT) == (a.reasons == {Reason.OK})


def test_duplicate_id_is_an_error():
    cat = Catalogue()

    @cat.scenario(chain=("leaf",))
    def twice(props: ClientProps) -> Expectation:
        """Doc.

        Checks: chain.
        """
        return accept("x")

    with pytest.raises(ValueError, match="duplicate"):

        @cat.scenario(chain=("leaf",))
        def twice(props: ClientProps) -> Expectation:  # noqa: F811
            """Doc.

            Checks: chain.
            """
            return accept("x")

    assert cat.names() == ["twice"]


@pytest.mark.parametrize(
    ("doc", "message"),
    [(None, "no docstring"), ("Teaches nothing.", "Checks"), ("X.\n\nChecks: speed.", "unknown")],
)
def test_docstring_rules(doc, message):
    cat = Catalogue()

    def bad(props: ClientProps) -> Expectation:
        return accept("x")

    bad.__doc__ = doc
    with pytest.raises(ValueError, match=message):
        cat.scenario(chain=("leaf",))(bad)


def test_select_and_get():
    assert [s.name for s in CATALOGUE.select(["leaf_only", "good"])] == ["good", "leaf_only"]
    with pytest.raises(KeyError, match="unknown scenario"):
        CATALOGUE.get("no_such_scenario")


def test_unknown_trust_profile_is_refused():
    with pytest.raises(ValueError):
        ClientProps("x", fetches_aia=False, trust="native")


def _v(name: str, **kw) -> tuple[Verdict, frozenset[Reason]]:
    props = ClientProps("x", **{"fetches_aia": False, "trust": "certifi-like", **kw})
    e = CATALOGUE.get(name).expect(props)
    return e.verdict, e.reasons


def test_the_incident():
    incomplete = (Verdict.REJECT, frozenset({Reason.INCOMPLETE_CHAIN}))
    ok = (Verdict.ACCEPT, frozenset({Reason.OK}))
    assert _v("leaf_only") == incomplete
    assert _v("leaf_only", fetches_aia=True) == ok
    assert _v("leaf_only", trust="workstation") == ok
    assert _v("leaf_and_root", fetches_aia=True) == ok
    for dead in ("leaf_only_no_aia", "leaf_only_dead_aia", "leaf_only_hung_aia"):
        assert _v(dead, fetches_aia=True) == incomplete
        assert _v(dead, trust="workstation") == ok


def test_hung_aia_tolerates_a_timeout_only_for_fetchers():
    sc = CATALOGUE.get("leaf_only_hung_aia")
    fetcher = sc.expect(ClientProps("x", fetches_aia=True, trust="certifi-like"))
    assert fetcher.matches(Verdict.TIMEOUT, Reason.TIMEOUT)
    assert fetcher.matches(Verdict.REJECT, Reason.INCOMPLETE_CHAIN)
    assert not fetcher.matches(Verdict.ACCEPT, Reason.OK)
    plain = sc.expect(ClientProps("x", fetches_aia=False, trust="certifi-like"))
    assert not plain.matches(Verdict.TIMEOUT, Reason.TIMEOUT)


def test_policy_scenarios_follow_policy():
    assert _v("weak_key")[0] is Verdict.REJECT
    assert _v("weak_key", min_rsa_bits=1024)[0] is Verdict.ACCEPT
    assert _v("sha1_intermediate") == (Verdict.REJECT, frozenset({Reason.WEAK_SIGNATURE}))
    assert _v("sha1_intermediate", rejects_sha1=False)[0] is Verdict.ACCEPT
    assert _v("revoked")[0] is Verdict.ACCEPT
    assert _v("revoked", checks_revocation=True) == (Verdict.REJECT, frozenset({Reason.REVOKED}))


def test_certificate_failures_do_not_depend_on_trust_or_aia():
    for name, reason in (
        ("expired_leaf", Reason.EXPIRED),
        ("expired_intermediate", Reason.EXPIRED),
        ("not_yet_valid", Reason.NOT_YET_VALID),
        ("wrong_host", Reason.HOSTNAME_MISMATCH),
        ("self_signed", Reason.SELF_SIGNED),
        ("untrusted_root", Reason.UNTRUSTED_ROOT),
    ):
        for props in all_props():
            e = CATALOGUE.get(name).expect(props)
            assert (e.verdict, e.reasons) == (Verdict.REJECT, frozenset({reason})), name
