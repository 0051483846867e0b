"""A case as an x509-limbo testcase (C2SP/x509-limbo, ``limbo-schema.json``), so a
divergence found in the field can be filed with that suite.

Limbo knows no AIA and no server: ``peer_certificate`` is the first certificate sent,
``untrusted_intermediates`` the rest as sent (AIA downloads are left out, and named in the
description), ``trusted_certs`` the anchors the capture found. ``expected_result`` is what
pyca/cryptography's verifier (a strict RFC 5280 / Web PKI validator) says at
``validation_time``; the description says so, so a reviewer can disagree."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from cryptography import x509
from tlsmatrix.lab.certbuilder import general_names
from tlsmatrix.replay.case import Case

LIMBO_VERSION = 1


def limbo_document(case: Case) -> dict[str, Any]:
    """``{"version": 1, "testcases": [testcase]}``."""
    return {"version": LIMBO_VERSION, "testcases": [limbo_testcase(case)]}


def limbo_testcase(case: Case) -> dict[str, Any]:
    host = case.target.host
    kind = "IP" if isinstance(_peer_name(host), x509.IPAddress) else "DNS"
    peer = {"kind": kind, "value": host}
    result, why = expected_result(case)
    fetched = [c for f in case.aia for c in f.certificates]
    description = (
        f"Captured by {case.tool} from {host}:{case.target.port} at {case.captured_at}: "
        f"{len(case.presented)} certificate(s) sent, {len(case.anchors)} trusted anchor(s) "
        f"from the {case.trust.source} trust ({case.trust.name or 'unnamed'}). "
        f"expected_result is pyca/cryptography's verdict: {why}."
    )
    if fetched:
        description += (
            f" Not included: {len(fetched)} issuer certificate(s) downloaded from AIA "
            "caIssuers URLs, which limbo does not model."
        )
    return {
        "id": "tlsmatrix::capture::" + _limbo_id(case.id),
        "conflicts_with": [],
        "features": [],
        "description": description,
        "validation_kind": "SERVER",
        "trusted_certs": [c.pem for c in case.anchors],
        "untrusted_intermediates": [c.pem for c in case.presented[1:]],
        "peer_certificate": case.presented[0].pem,
        "peer_certificate_key": None,
        "validation_time": case.captured_at,
        "signature_algorithms": [],
        "key_usage": [],
        "extended_key_usage": ["serverAuth"],
        "expected_result": result,
        "expected_peer_name": peer,
        "expected_peer_names": [],
        "max_chain_depth": None,
    }


def expected_result(case: Case) -> tuple[str, str]:
    """("SUCCESS"|"FAILURE", why) from cryptography's server verifier."""
    from cryptography.x509.verification import PolicyBuilder, Store

    when = dt.datetime.strptime(case.captured_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    if not case.anchors:
        return "FAILURE", "no certificate of the trust given completes a path"
    try:
        store = Store([c.certificate() for c in case.anchors])
        builder = PolicyBuilder().store(store).time(when)
        host = case.target.host
        verifier = builder.build_server_verifier(_peer_name(host))
        verifier.verify(
            case.presented[0].certificate(), [c.certificate() for c in case.presented[1:]]
        )
    except Exception as exc:  # noqa: BLE001 - any refusal is the verdict; keep its words
        return "FAILURE", " ".join(str(exc).split())[:200] or type(exc).__name__
    return "SUCCESS", "a valid path to a trusted anchor exists"


def _limbo_id(text: str) -> str:
    """Limbo ids: a letter, then letters, digits, '-' and '.'."""
    cleaned = re.sub(r"[^A-Za-z0-9.-]+", "-", text).strip("-.") or "case"
    return cleaned if cleaned[0].isalpha() else "c" + cleaned


def _peer_name(host: str) -> x509.GeneralName:
    """The name a client checks: an IP address where ``host`` is one, else a DNS name."""
    return general_names([host])[0]
