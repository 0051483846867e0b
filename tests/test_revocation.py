"""Revocation checked by tlsmatrix itself: CRLs (signature verified with the path's
issuer) and OCSP from real loopback HTTP servers, within bounds; ``inspect`` and ``run``
show it (the lab's ``revoked`` scenario and its CRL on the lab's AIA server)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID
from tlsmatrix.chain.revocation import GOOD, REVOKED, UNKNOWN, check_path
from tlsmatrix.lab.certbuilder import build_crl, issue_ca, issue_leaf, now
from tlsmatrix.results.schema import validate

from tests._cli import tlsmatrix
from tests._pki_moreclients import http_server


@pytest.fixture(scope="module")
def cas():
    root = issue_ca("Revocation Test Root")
    return root, issue_ca("Revocation Test Intermediate", root)


def _der(crl: x509.CertificateRevocationList) -> bytes:
    return crl.public_bytes(serialization.Encoding.DER)


def test_crl_listed_not_listed_forged_and_redirected(cas):
    root, inter = cas
    with http_server() as (base, routes):
        revoked = issue_leaf(inter, crl=f"{base}/inter.crl")
        fine = issue_leaf(inter, crl=f"{base}/inter.crl")
        forged_leaf = issue_leaf(inter, crl=f"{base}/forged.crl")
        moved = issue_leaf(inter, crl=f"{base}/moved.crl")
        other = issue_ca("Someone Else")  # signs a CRL in the intermediate's name
        port = base.rsplit(":", 1)[1]
        routes.update(
            {
                "/inter.crl": _der(build_crl(inter.cert, inter.key, [revoked.cert], now())),
                "/forged.crl": _der(build_crl(inter.cert, other.key, [forged_leaf.cert], now())),
                "/moved.crl": lambda _: (
                    302,
                    {"Location": f"http://localhost:{port}/inter.crl"},
                    b"",
                ),
            }
        )
        got = check_path([revoked.cert, inter.cert, root.cert]).checked
        assert got[0].status == REVOKED and got[0].method == "CRL"
        assert got[0].url == f"{base}/inter.crl" and got[0].revoked_at
        assert got[0].text().startswith(f"revoked (CRL {base}/inter.crl, at ")
        assert got[1].status == UNKNOWN and "names no CRL" in got[1].why
        assert check_path([fine.cert, inter.cert]).leaf.status == GOOD
        forged = check_path([forged_leaf.cert, inter.cert]).leaf
        assert forged.status == UNKNOWN and "signature" in forged.why
        redirected = check_path([moved.cert, inter.cert]).leaf
        assert redirected.status == UNKNOWN and "another host" in redirected.why


def test_crl_bounds_size_and_time(cas, monkeypatch):
    from tlsmatrix.chain import revocation

    _, inter = cas
    with http_server() as (base, routes):
        big = issue_leaf(inter, crl=f"{base}/big.crl")
        routes["/big.crl"] = b"0" * 2048
        monkeypatch.setattr(revocation, "MAX_CRL_BYTES", 1024)
        status = check_path([big.cert, inter.cert]).leaf
        assert status.status == UNKNOWN and "larger than 1024 bytes" in status.why
        spent = check_path([big.cert, inter.cert], total_seconds=0).leaf
        assert spent.status == UNKNOWN and "time is spent" in spent.why


def _ocsp_leaf(inter, url: str):
    access = x509.AuthorityInformationAccess(
        [
            x509.AccessDescription(
                AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(url)
            )
        ]
    )
    return issue_leaf(inter, extensions=[access])


def test_ocsp_revoked_and_good_signed_by_the_issuer(cas):
    _, inter = cas
    with http_server() as (base, routes):
        revoked = _ocsp_leaf(inter, f"{base}/ocsp")
        fine = _ocsp_leaf(inter, f"{base}/ocsp")

        def respond(body: bytes):
            request = ocsp.load_der_ocsp_request(body)
            cert = revoked if request.serial_number == revoked.cert.serial_number else fine
            is_revoked = cert is revoked
            at = now() - dt.timedelta(hours=2)
            answer = (
                ocsp.OCSPResponseBuilder()
                .add_response(
                    cert=cert.cert,
                    issuer=inter.cert,
                    algorithm=hashes.SHA1(),
                    cert_status=ocsp.OCSPCertStatus.REVOKED
                    if is_revoked
                    else ocsp.OCSPCertStatus.GOOD,
                    this_update=now(),
                    next_update=now() + dt.timedelta(days=1),
                    revocation_time=at if is_revoked else None,
                    revocation_reason=x509.ReasonFlags.key_compromise if is_revoked else None,
                )
                .responder_id(ocsp.OCSPResponderEncoding.HASH, inter.cert)
                .sign(inter.key, hashes.SHA256())
            )
            der = answer.public_bytes(serialization.Encoding.DER)
            return 200, {"Content-Type": "application/ocsp-response"}, der

        routes["/ocsp"] = respond
        status = check_path([revoked.cert, inter.cert]).leaf
        assert status.status == REVOKED and status.method == "OCSP" and status.revoked_at
        assert check_path([fine.cert, inter.cert]).leaf.status == GOOD


# --- the lab's revoked scenario through the CLI ----------------------------------------


@pytest.fixture(scope="module")
def revoked_lab():
    from tlsmatrix.lab.lab import Lab

    with Lab(["revoked"]) as lab:
        yield lab


def test_inspect_shows_revoked_with_crl_and_date(revoked_lab):
    url = revoked_lab.scenarios[0].url
    result = tlsmatrix("inspect", url)
    assert result.returncode == 0, result.stderr
    assert "Issues: none" not in result.stdout
    assert "revoked (CRL http://127.0.0.1:" in result.stdout
    assert "/intermediate.crl, at 20" in result.stdout
    document = json.loads(tlsmatrix("inspect", url, "--format", "json").stdout)
    assert document["revocation"]["status"] == "revoked"


def test_run_explains_an_accept_of_a_revoked_leaf(revoked_lab):
    scenario = revoked_lab.scenarios[0]
    bundle = revoked_lab.trust_profiles["workstation"]
    result = tlsmatrix("run", scenario.url, "-c", "curl,requests", "--ca-file", bundle,
                       "--format", "json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert validate(document) == []
    chain = next(iter(document["chains"].values()))
    assert chain["revocation"]["status"] == "revoked"
    infos = {c["name"]: c for c in document["clients"]}
    accepted = [r for r in document["results"] if r["verdict"] == "accept"]
    assert accepted, document["results"]
    for row in accepted:
        assert "accepted although revoked (CRL http://127.0.0.1:" in row["explanation"]
        if not infos[row["client"]]["checks_revocation"]:
            assert "this client does not check revocation" in row["explanation"]


def test_revocation_downloads_follow_their_switch(revoked_lab):
    """Offline (preflight without --allow-network) tlsmatrix asks no CRL server."""
    from tlsmatrix.runner.matrix import run_matrix
    from tlsmatrix.runner.pool import load_clients

    target = revoked_lab.scenarios[0].target
    clients = load_clients(["requests"])
    before = len(revoked_lab.aia.log())
    off = run_matrix([target], clients, fetch_revocation=False)
    assert "revocation" not in off.chains[target.name]
    assert not [e for e in revoked_lab.aia.log()[before:] if e.path.endswith(".crl")]
    on = run_matrix([target], clients)
    assert on.chains[target.name]["revocation"]["status"] == "revoked"
