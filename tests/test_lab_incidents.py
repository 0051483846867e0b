"""The incident scenarios: their certificates have the shape the story needs (checked by
cryptography and by ``openssl verify``), the predictions follow the measured properties,
and real clients on the running lab split as predicted."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtensionOID
from tlsmatrix.clients.base import ClientInfo, Reason, Verdict
from tlsmatrix.clients.process import run_command
from tlsmatrix.lab.behaviours import BEHAVIOURS, behaviour_props
from tlsmatrix.lab.lab import Lab
from tlsmatrix.lab.pki import PKI
from tlsmatrix.lab.pki_incidents import PARTIAL_WILDCARD_HOST, PARTIAL_WILDCARD_SAN
from tlsmatrix.lab.run import LabTarget, props_for, render_lab_matrix, run_lab
from tlsmatrix.lab.scenarios import CATALOGUE, ClientProps
from tlsmatrix.runner.pool import load_clients

from tests.conftest import needs_binary

INCIDENTS = (
    "partial_chain_anchor",
    "strict_x509",
    "cn_only",
    "partial_wildcard",
    "no_digital_signature",
    "aia_pkcs7",
    "aia_three_hops",
    "expired_cross_sign",
    "name_constrained_root",
)
# Scenarios whose docstring says why they cannot split the clients installed here.
CANNOT_SPLIT_HERE = {"strict_x509", "expired_cross_sign"}


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    with PKI("http://127.0.0.1:1/", tmp_path_factory.mktemp("pki") / "lab") as p:
        yield p


def _ext(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> x509.Extension | None:
    try:
        return cert.extensions.get_extension_for_oid(oid)
    except x509.ExtensionNotFound:
        return None


# --- the certificates ------------------------------------------------------------------


def test_incident_certificates_have_the_story_shape(pki):
    certs = pki.material.certs
    now = dt.datetime.now(dt.UTC)
    bc = _ext(certs["lax_intermediate"], ExtensionOID.BASIC_CONSTRAINTS)
    assert bc is not None and bc.value.ca and not bc.critical
    assert _ext(certs["leaf_cn_only"], ExtensionOID.SUBJECT_ALTERNATIVE_NAME) is None
    san = _ext(certs["leaf_partial_wildcard"], ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    assert san is not None and san.value.get_values_for_type(x509.DNSName) == [PARTIAL_WILDCARD_SAN]
    usage = _ext(certs["leaf_no_digital_signature"], ExtensionOID.KEY_USAGE)
    assert usage is not None and not usage.value.digital_signature
    nc = _ext(certs["constrained_root"], ExtensionOID.NAME_CONSTRAINTS)
    assert nc is not None and nc.critical
    # DST shape: the cross-sign certifies the ISRG-like root's own name and key, and is
    # still valid while the DST-like root that signed it has expired.
    cross, isrg, dst = certs["isrg_cross_signed"], certs["isrg_root"], certs["dst_root"]
    assert cross.subject == isrg.subject and cross.issuer == dst.subject
    assert cross.public_key() == isrg.public_key()
    assert cross.not_valid_after_utc > now > dst.not_valid_after_utc
    # The anchored intermediate's root is in no profile.
    for profile, path in pki.trust_profiles.items():
        held = x509.load_pem_x509_certificates(path.read_bytes())
        assert certs["offline_root"] not in held, profile


def test_every_aia_hop_is_published(pki):
    files = pki.material.http_files()
    for leaf, path in (("leaf_three_hops", "/hop2.der"), ("hop2", "/hop1.der"),
                       ("hop1", "/root.der"), ("leaf_pkcs7", "/intermediate.p7c")):  # fmt: skip
        aia = _ext(pki.material.certs[leaf], ExtensionOID.AUTHORITY_INFORMATION_ACCESS)
        assert aia is not None
        assert [d.access_location.value for d in aia.value] == [pki.material.url(path[1:])]
        assert path in files


def _verify(pki: PKI, profile: str, leaf: str, untrusted: list[str], *flags: str) -> str:
    argv = ["openssl", "verify", *flags, "-CAfile", str(pki.trust_profiles[profile])]
    if untrusted:
        argv += ["-untrusted", str(pki.chain_path(untrusted))]
    result = run_command([*argv, str(pki.cert_path(leaf))], timeout=20)
    assert not result.timed_out
    return result.stdout + result.stderr


@needs_binary("openssl")
def test_openssl_verify_shows_the_partial_chain_and_strict_rules(pki):
    # The anchored intermediate is trusted, its root is not: only -partial_chain accepts.
    assert "error 2 " in _verify(pki, "certifi-like", "leaf_partial_anchor", [])
    assert ": OK" in _verify(pki, "certifi-like", "leaf_partial_anchor", [], "-partial_chain")
    # The main chain's story store: Lab Intermediate CA alone.
    assert "error 2 " in _verify(pki, "intermediate-only", "leaf", [])
    assert ": OK" in _verify(pki, "intermediate-only", "leaf", [], "-partial_chain")
    # A non-critical basicConstraints passes, except under -x509_strict (Python 3.13).
    assert ": OK" in _verify(pki, "certifi-like", "leaf_strict", ["lax_intermediate"])
    strict = _verify(pki, "certifi-like", "leaf_strict", ["lax_intermediate"], "-x509_strict")
    assert ": OK" not in strict and "critical" in strict.lower()
    # Trusted-first: the expired cross-sign is never needed.
    assert ": OK" in _verify(pki, "certifi-like", "leaf_r3", ["r3", "isrg_cross_signed"])


# --- predictions -----------------------------------------------------------------------


def _expect(name: str, **props: object) -> tuple[Verdict, frozenset[Reason]]:
    base = ClientProps("x", fetches_aia=False, trust="certifi-like")
    e = CATALOGUE.get(name).expect(replace(base, **props))  # type: ignore[arg-type]
    return e.verdict, e.reasons


@pytest.mark.parametrize(
    ("name", "prop", "when_true", "when_false"),
    [
        ("partial_chain_anchor", "partial_chain", Verdict.ACCEPT, Verdict.REJECT),
        ("strict_x509", "strict_x509", Verdict.REJECT, Verdict.ACCEPT),
        ("cn_only", "cn_fallback", Verdict.ACCEPT, Verdict.REJECT),
        ("partial_wildcard", "partial_wildcard", Verdict.ACCEPT, Verdict.REJECT),
        ("no_digital_signature", "needs_digital_signature", Verdict.REJECT, Verdict.ACCEPT),
        ("aia_pkcs7", "fetches_aia", Verdict.ACCEPT, Verdict.REJECT),
        ("aia_three_hops", "fetches_aia", Verdict.ACCEPT, Verdict.REJECT),
        ("name_constrained_root", "anchor_constraints", Verdict.REJECT, Verdict.ACCEPT),
    ],
)
def test_each_prediction_turns_on_its_measured_property(name, prop, when_true, when_false):
    assert _expect(name, **{prop: True})[0] is when_true
    assert _expect(name, **{prop: False})[0] is when_false


def test_workstation_helps_the_p7c_leaf_but_not_the_three_hops():
    assert _expect("aia_pkcs7", trust="workstation")[0] is Verdict.ACCEPT
    assert _expect("aia_three_hops", trust="workstation") == (
        Verdict.REJECT,
        frozenset({Reason.INCOMPLETE_CHAIN}),
    )


def test_behaviours_prefer_clientinfo_then_the_table_then_the_default():
    partial = next(b for b in BEHAVIOURS if b.field == "partial_chain")
    assert partial.value(ClientInfo("curl", True)) is True  # measured in the table
    assert partial.value(ClientInfo("stdlib", True)) is False
    # stdlib under Python 3.13 reports it itself (clients/interpreter measures the flags)
    assert partial.value(ClientInfo("stdlib@3.13", True, partial_chain=True)) is True
    assert partial.value(ClientInfo("stdlib@3.11", True)) is False
    cn_row = next(b for b in BEHAVIOURS if b.field == "cn_fallback")
    assert cn_row.value(ClientInfo("requests@3.13", True)) is False  # requests' own row
    cn = next(b for b in BEHAVIOURS if b.field == "cn_fallback")
    assert cn.value(ClientInfo("an unmeasured client", True)) is cn.default
    props = props_for(ClientInfo("stdlib@3.13", True, strict_x509=True), "certifi-like")
    assert props.strict_x509
    assert CATALOGUE.get("strict_x509").expect(props).verdict is Verdict.REJECT
    assert set(behaviour_props(ClientInfo("x", True))) == {b.field for b in BEHAVIOURS}
    # every field the table sets is one ClientProps has
    assert all(hasattr(props, b.field) for b in BEHAVIOURS)


# --- real clients on the running lab -----------------------------------------------------

# Clients of different families, none a browser (test_lab_matrix runs them all).
FAMILIES = ("stdlib", "requests", "openssl", "curl", "node", "java-aia", "gnutls", "wget")


@pytest.fixture(scope="module")
def incident_run():
    clients = load_clients(list(FAMILIES))
    try:
        with Lab(INCIDENTS) as lab:
            targets = [LabTarget(s.name, s.target, s.scenario) for s in lab.scenarios]
            yield run_lab(targets, clients, lab.trust_profiles, timeout=10, jobs=4,
                          aia_log=lab.aia.log)  # fmt: skip
    finally:
        for client in clients:
            close = getattr(client, "close", None)
            if close:
                close()


def test_partial_wildcard_is_served_under_its_own_name():
    with Lab(["partial_wildcard"]) as lab:
        running = lab.scenario("partial_wildcard")
        assert running.host == PARTIAL_WILDCARD_HOST
        assert running.target.connect_to == "127.0.0.1"
        assert running.url.startswith(f"https://{PARTIAL_WILDCARD_HOST}:")


def test_real_clients_give_the_predicted_verdicts(incident_run):
    """Verdicts, not reasons: an adapter that cannot map a signal (client_error) is
    test_lab_matrix's finding; the reasons are compared there too."""
    available = {i.name for i in incident_run.run.clients if i.available}
    wrong = [
        (c.scenario, c.client, c.observed.verdict.value, c.observed.detail[:80])
        for c in incident_run.cells
        if c.client in available
        and c.observed.reason is not Reason.CLIENT_ERROR
        and c.expected is not None
        and c.observed.verdict is not c.expected.verdict
    ]
    assert wrong == [], render_lab_matrix(incident_run)


def test_each_incident_splits_the_clients_or_says_why_not(incident_run):
    verdicts: dict[str, set[Verdict]] = {}
    for c in incident_run.cells:
        if c.observed.verdict is not Verdict.SKIPPED:
            verdicts.setdefault(c.scenario, set()).add(c.observed.verdict)
    for name in INCIDENTS:
        if name in CANNOT_SPLIT_HERE:
            description = " ".join(CATALOGUE.get(name).description.split())
            assert "cannot split the clients installed here" in description, name
            continue
        assert len(verdicts.get(name, ())) >= 2, (name, render_lab_matrix(incident_run))
