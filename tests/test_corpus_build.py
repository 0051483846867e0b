"""The conformance corpus is what it claims to be: every case's construction really has
the property its expected cause names (checked with cryptography, independently of the
generator's own bookkeeping where possible). Pure: no server, no client."""

from __future__ import annotations

import datetime as dt
import fnmatch

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import verification
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID
from tlsmatrix.clients.base import ClientInfo, Reason
from tlsmatrix.lab.corpus import build_corpus
from tlsmatrix.lab.corpus.families_rules import UNKNOWN_OID
from tlsmatrix.lab.corpus.generate import _build, reference_day
from tlsmatrix.replay.der import oid_der

FAMILIES = {
    "missing_link",
    "root_issued",
    "anchors",
    "untrusted",
    "cross_sign",
    "validity",
    "weak_key",
    "weak_signature",
    "bad_signature",
    "not_a_ca",
    "path_length",
    "usage",
    "name_constraints",
    "critical_extension",
    "malformed",
    "names",
}


@pytest.fixture(scope="module")
def corpus():
    return build_corpus()


def cert(case, label) -> x509.Certificate:
    return x509.load_der_x509_certificate(case.certs[label])


def cases_of(corpus, family):
    return [c for c in corpus.cases if c.family == family]


def verifies(case, chain_labels=None) -> bool:
    """Does cryptography's path builder (RFC 5280 + CA/B profile) accept the chain?"""
    labels = case.chain if chain_labels is None else chain_labels
    store = verification.Store([cert(case, label) for label in case.trust])
    verifier = (
        verification.PolicyBuilder()
        .store(store)
        .time(build_corpus().reference + dt.timedelta(hours=12))
        .build_server_verifier(verification.DNSName(case.hostname))
    )
    try:
        verifier.verify(cert(case, labels[0]), [cert(case, label) for label in labels[1:]])
    except verification.VerificationError:
        return False
    return True


def signed_by(child: x509.Certificate, issuer: x509.Certificate) -> bool:
    key = issuer.public_key()
    algorithm = child.signature_hash_algorithm
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(child.signature, child.tbs_certificate_bytes, ec.ECDSA(algorithm))
        else:
            assert isinstance(key, rsa.RSAPublicKey)
            key.verify(child.signature, child.tbs_certificate_bytes, padding.PKCS1v15(), algorithm)
    except Exception:
        return False
    return True


def issuer_label(case, label):
    """The label of the certificate (of this case) that issued ``label``."""
    child = cert(case, label)
    for other in case.certs:
        if other != label and cert(case, other).subject == child.issuer:
            return other
    return label if child.issuer == child.subject else None


def test_corpus_is_large_and_covers_every_family(corpus):
    assert len(corpus.cases) >= 60
    assert set(corpus.families) == FAMILIES
    ids = [c.id for c in corpus.cases]
    assert len(ids) == len(set(ids))
    for case in corpus.cases:
        assert case.description and case.chain and case.trust
        assert case.chain[0] == "leaf"


def test_generation_is_deterministic_in_content():
    reference = reference_day(dt.datetime(2031, 5, 17, 15, 4, tzinfo=dt.UTC))
    first, second = _build.__wrapped__(reference), _build.__wrapped__(reference)

    def shape(der):
        c = x509.load_der_x509_certificate(der)
        try:
            extensions = tuple((e.oid.dotted_string, e.critical) for e in c.extensions)
        except ValueError:
            extensions = ("undecodable",)
        return (
            c.subject.rfc4514_string(),
            c.issuer.rfc4514_string(),
            c.serial_number,
            c.not_valid_before_utc,
            c.not_valid_after_utc,
            c.signature_algorithm_oid,
            extensions,
        )

    assert [c.id for c in first.cases] == [c.id for c in second.cases]
    for a, b in zip(first.cases, second.cases, strict=True):
        assert (a.chain, a.trust, a.hostname, a.cause) == (b.chain, b.trust, b.hostname, b.cause)
        assert {k: shape(v) for k, v in a.certs.items()} == {
            k: shape(v) for k, v in b.certs.items()
        }
    assert build_corpus() is build_corpus()  # generated once per session


def test_every_certificate_parses_or_is_malformed_on_purpose(corpus):
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    for case in corpus.cases:
        for label, der in case.certs.items():
            parsed = x509.load_der_x509_certificate(der)
            if label in case.malformed:
                with pytest.raises(ValueError):
                    _ = parsed.extensions
            else:
                assert parsed.extensions is not None, (case.id, label)
        key = load_pem_private_key(case.key_pem, None)
        assert key.public_key() == cert(case, "leaf").public_key(), case.id
        # only certificates of this case and the shared root: no cross-case paths
        for label in case.certs:
            ou = cert(case, label).subject.get_attributes_for_oid(
                x509.oid.NameOID.ORGANIZATIONAL_UNIT_NAME
            )
            assert ou[0].value in (case.id, "shared"), (case.id, label)


def test_complete_chains_verify_and_missing_links_do_not(corpus):
    for case in cases_of(corpus, "missing_link"):
        omitted = case.facts["omitted"]
        full = ["leaf", *(f"I{n}" for n in range(case.facts["depth"], 0, -1))]
        assert [label for label in full if label not in case.chain] == list(omitted)
        assert verifies(case, full), case.id  # the only fault is the omission
        assert verifies(case) is (not omitted), case.id
        assert "root" not in case.chain and case.trust == ("root",)
    ok_cases = [
        *cases_of(corpus, "root_issued"),
        corpus.get("anchors/root-trusted-and-sent"),
        corpus.get("name_constraints/permitted-satisfied"),
        corpus.get("names/wildcard"),
        *(c for c in cases_of(corpus, "cross_sign") if c.cause is Reason.OK),
    ]
    for case in ok_cases:
        assert case.cause is Reason.OK
        assert verifies(case), case.id
    missing_cross = corpus.get("cross_sign/trust-old-cross-not-sent")
    assert not verifies(missing_cross)
    assert verifies(missing_cross, [*missing_cross.chain, "X"])


def test_leaf_issued_by_root_has_no_intermediate(corpus):
    for case in cases_of(corpus, "root_issued"):
        assert issuer_label(case, "leaf") == "root"
        assert signed_by(cert(case, "leaf"), cert(case, "root"))


def test_cross_sign_is_the_new_roots_key_under_the_old_roots_name(corpus):
    for case in cases_of(corpus, "cross_sign"):
        cross, new, old = cert(case, "X"), cert(case, "root"), cert(case, "old-root")
        assert cross.subject == new.subject and cross.public_key() == new.public_key()
        assert cross.issuer == old.subject and signed_by(cross, old)
        assert new.issuer == new.subject and old.issuer == old.subject


def test_partial_chain_and_untrusted_anchors(corpus):
    for case in cases_of(corpus, "anchors"):
        if case.cause is Reason.OK:
            continue
        (anchor,) = case.trust
        trusted = cert(case, anchor)
        assert trusted.issuer != trusted.subject  # an intermediate, not a root
        assert "root" not in case.trust
        # cryptography's verifier takes any stored certificate as an anchor (partial
        # chain): the path to the intermediate is valid, only the anchor rule decides
        assert verifies(case)
        assert case.expectation.reason_for(_info(partial_chain=True)) is Reason.OK
        assert case.expectation.reason_for(_info()) is Reason.UNTRUSTED_ROOT
    for variation in ("root-sent", "root-not-sent"):
        case = corpus.get(f"untrusted/{variation}")
        top = cert(case, "other-root")
        assert top.issuer == top.subject and "other-root" not in case.trust
        assert not verifies(case) and not verifies(case, [*case.chain[:2], "other-root"])
    leaf = cert(corpus.get("untrusted/self-signed-leaf"), "leaf")
    assert leaf.issuer == leaf.subject and signed_by(leaf, leaf)


@pytest.mark.parametrize("state", ["expired", "not-yet-valid"])
def test_validity_fault_is_at_its_position_only(corpus, state):
    moment = corpus.reference + dt.timedelta(hours=12)
    for case in cases_of(corpus, "validity"):
        if not case.id.endswith(state):
            continue
        for label in ("leaf", "I1", "root"):
            c = cert(case, label)
            inside = c.not_valid_before_utc <= moment <= c.not_valid_after_utc
            assert inside is (label != case.position), (case.id, label)
            if label == case.position and state == "expired":
                assert c.not_valid_after_utc < moment
            elif label == case.position:
                assert c.not_valid_before_utc > moment


def test_weak_keys_and_signatures_are_at_their_position(corpus):
    for case in cases_of(corpus, "weak_key"):
        for label in ("leaf", "I1", "root"):
            key = cert(case, label).public_key()
            weak = isinstance(key, rsa.RSAPublicKey) and key.key_size == 1024
            assert weak is (label == case.position), (case.id, label)
        assert case.expectation.reason_for(_info(min_rsa_bits=1024)) is Reason.OK
        assert case.expectation.reason_for(_info()) is Reason.WEAK_KEY
    for case in cases_of(corpus, "weak_signature"):
        for label in ("leaf", "I1", "root"):
            c = cert(case, label)
            sha1 = isinstance(c.signature_hash_algorithm, hashes.SHA1)
            assert sha1 is (label == case.position), (case.id, label)
            assert signed_by(c, cert(case, issuer_label(case, label))), (case.id, label)
        if case.position != "root":
            assert case.expectation.reason_for(_info(rejects_sha1=False)) is Reason.OK
            assert case.expectation.reason_for(_info()) is Reason.WEAK_SIGNATURE


def test_bad_signatures_fail_only_at_their_position(corpus):
    for case in cases_of(corpus, "bad_signature"):
        for label in ("leaf", "I1"):
            valid = signed_by(cert(case, label), cert(case, issuer_label(case, label)))
            assert valid is (label != case.position), (case.id, label)
        assert not verifies(case)


def test_non_ca_issuers_and_path_lengths(corpus):
    for case in cases_of(corpus, "not_a_ca"):
        issuer = cert(case, "I1")
        try:
            bc = issuer.extensions.get_extension_for_class(x509.BasicConstraints).value
            assert bc.ca is False
        except x509.ExtensionNotFound:
            pass
        assert issuer_label(case, "leaf") == "I1"
    for case in cases_of(corpus, "path_length"):
        holder = cert(case, case.position)
        bc = holder.extensions.get_extension_for_class(x509.BasicConstraints).value
        assert bc.path_length == case.facts["path_length"]
        # the CA certificates strictly below the holder on the path, leaf excluded
        below = [label for label in case.chain[1:] if label != case.position]
        if case.position != "root":
            below = [label for label in below if int(label[1:]) > int(case.position[1:])]
        assert len(below) == case.facts["below"] > bc.path_length, case.id
        assert verifies(case, case.chain) is False


def test_usage_faults(corpus):
    server_auth = ExtendedKeyUsageOID.SERVER_AUTH
    for case in cases_of(corpus, "usage"):
        c = cert(case, case.position)
        if "eku" in case.id:
            eku = c.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
            assert server_auth not in eku
        elif case.position == "leaf":
            ku = c.extensions.get_extension_for_class(x509.KeyUsage).value
            assert not ku.digital_signature and not ku.key_encipherment
        else:
            ku = c.extensions.get_extension_for_class(x509.KeyUsage).value
            assert not ku.key_cert_sign
            assert c.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_name_constraints_hold_or_are_violated_as_claimed(corpus):
    for case in cases_of(corpus, "name_constraints"):
        nc = cert(case, "I1").extensions.get_extension_for_class(x509.NameConstraints).value
        permitted = [n.value for n in nc.permitted_subtrees or ()]
        excluded = [n.value for n in nc.excluded_subtrees or ()]
        host = case.hostname
        violated = (permitted and not _within(host, permitted)) or _within(host, excluded)
        assert bool(violated) is (case.cause is Reason.NAME_CONSTRAINTS), case.id
        assert verifies(case) is (not violated), case.id


def _within(host: str, subtrees: list[str]) -> bool:
    return any(host == n or host.endswith("." + n) for n in subtrees)


def test_critical_and_malformed_extensions(corpus):
    for case in cases_of(corpus, "critical_extension"):
        ext = cert(case, case.position).extensions.get_extension_for_oid(UNKNOWN_OID)
        assert ext.critical and isinstance(ext.value, x509.UnrecognizedExtension)
    for case in cases_of(corpus, "malformed"):
        assert case.malformed == (case.position,)
        parsed = cert(case, case.position)
        with pytest.raises(ValueError):
            _ = parsed.extensions
        oids = {
            "aia": ExtensionOID.AUTHORITY_INFORMATION_ACCESS,
            "san": ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
            "basic-constraints": ExtensionOID.BASIC_CONSTRAINTS,
        }
        suffix = case.id.split("-", 1)[1]
        assert oids[suffix].dotted_string.encode() and _has_oid(
            case.certs[case.position], oids[suffix]
        )


def _has_oid(der: bytes, oid: x509.ObjectIdentifier) -> bool:
    """Whether the DER contains the OID's encoding (the extension we made undecodable)."""
    return oid_der(oid.dotted_string) in der


def _matches(pattern: str, host: str) -> bool:
    """RFC 6125 as the strict clients apply it: '*' is a whole left-most label."""
    if not pattern.startswith("*."):
        return pattern == host
    head, _, rest = host.partition(".")
    return bool(head) and rest == pattern[2:]


def test_names_match_or_not_as_claimed(corpus):
    for case in cases_of(corpus, "names"):
        leaf = cert(case, "leaf")
        try:
            san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            names = san.get_values_for_type(x509.DNSName)
        except x509.ExtensionNotFound:
            names = []
        assert names == list(case.facts["san"])
        strict = any(_matches(n, case.hostname) for n in names)
        assert strict is (case.cause is Reason.OK), case.id
        if case.id.endswith("partial-wildcard"):
            assert any(fnmatch.fnmatchcase(case.hostname, n) for n in names)
        if not names:
            cn = leaf.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)[0].value
            assert cn == case.hostname
        assert verifies(case) is strict, case.id


def test_every_expected_cause_is_a_certificate_reason_or_ok(corpus):
    from tlsmatrix.clients.base import CERTIFICATE_REASONS

    for case in corpus.cases:
        assert case.cause is Reason.OK or case.cause in CERTIFICATE_REASONS
        for alt in case.expectation.alternatives:
            assert alt.basis and alt.reason is not case.cause


def _info(**policy) -> ClientInfo:
    return ClientInfo("any", True, **policy)
