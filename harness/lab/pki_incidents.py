"""The certificates of the incident scenarios (:mod:`tlsmatrix.lab.scenarios_incidents`),
made beside the lab's main PKI by :func:`tlsmatrix.lab.pki.generate`.

Certificate names (keys of ``Material.certs``), each with the scenario that serves it:

=============================  =====================================================
``offline_root``               Lab Offline Root CA: in no trust profile
``anchored_intermediate``      Lab Anchored Intermediate CA, by the offline root; in
                               every profile *without its root* (partial_chain_anchor)
``leaf_partial_anchor``        localhost, by the anchored intermediate, no AIA
``lax_intermediate``           Lab Lax Intermediate CA, by Lab Root: basicConstraints
                               NOT critical (strict_x509)
``leaf_strict``                localhost, by the lax intermediate
``leaf_cn_only``               CN localhost and no SAN at all (cn_only)
``leaf_partial_wildcard``      SAN ``f*.lab.invalid`` only (partial_wildcard)
``leaf_no_digital_signature``  ECDSA key, keyUsage keyEncipherment only
                               (no_digital_signature)
``leaf_pkcs7``                 AIA caIssuers -> intermediate.p7c (aia_pkcs7)
``hop1``, ``hop2``             Lab Hop 1 CA (by Lab Root), Lab Hop 2 CA (by hop 1), each
                               with an AIA URL to its issuer (aia_three_hops)
``leaf_three_hops``            localhost, by hop 2, AIA -> hop2.der
``isrg_root``                  Lab ISRG-like Root X1, self-signed, valid; trusted
``dst_root``                   Lab DST-like Root X3, self-signed, EXPIRED; trusted
``isrg_cross_signed``          subject Lab ISRG-like Root X1, issuer the DST-like root,
                               still valid itself (as the real cross-sign outlived
                               DST Root CA X3)
``r3``                         Lab R3, by the ISRG-like root
``leaf_r3``                    localhost, by R3 (expired_cross_sign)
``constrained_root``           Lab Constrained Root CA: permits DNS names below
                               lab.invalid only; trusted
``constrained_intermediate``   Lab Constrained Intermediate CA, by the constrained root
``leaf_constrained``           localhost (violates the root's constraint)
=============================  =====================================================
"""

from __future__ import annotations

import datetime as dt
from collections.abc import MutableMapping

from cryptography import x509
from tlsmatrix.lab.certbuilder import (
    LAB_HOSTNAME,
    LOOPBACK_NAMES,
    PrivateKey,
    build,
    ec_key,
    key_usage,
)
from tlsmatrix.lab.certbuilder import name as subject_name
from tlsmatrix.lab.scenarios_incidents import (
    CONSTRAINED_DOMAIN,
    PARTIAL_WILDCARD_HOST,
    PARTIAL_WILDCARD_SAN,
)

__all__ = [
    "AIA_PATHS",
    "ANCHORS",
    "CONSTRAINED_DOMAIN",
    "PARTIAL_WILDCARD_HOST",
    "PARTIAL_WILDCARD_SAN",
    "generate_incidents",
]

# Extra anchors every lab-run trust profile holds: what these scenarios need trusted.
ANCHORS = ("anchored_intermediate", "isrg_root", "dst_root", "constrained_root")

# AIA paths (below base_url) these scenarios publish, and the certificate each serves.
AIA_PATHS = {
    "hop1.der": "hop1",
    "hop2.der": "hop2",
    "lax_intermediate.der": "lax_intermediate",
    "isrg_root.der": "isrg_root",
    "r3.der": "r3",
    "constrained_root.der": "constrained_root",
    "constrained_intermediate.der": "constrained_intermediate",
}

_DAY = dt.timedelta(days=1)


def generate_incidents(
    base_url: str,
    now: dt.datetime,
    certs: MutableMapping[str, x509.Certificate],
    keys: MutableMapping[str, PrivateKey],
) -> None:
    """Add the incident certificates to ``certs``/``keys``; ``certs`` must already hold
    Lab Root CA (``root``) and Lab Intermediate CA (``intermediate``)."""

    def make(
        cert_name: str,
        cn: str,
        issuer: str | None,
        *,
        ca: bool,
        days: tuple[int, int] = (-1, 90),
        key_of: str | None = None,
        aia: str | None = None,
        **options: object,
    ) -> None:
        if cert_name not in keys:
            keys[cert_name] = keys[key_of] if key_of else ec_key()
        certs[cert_name] = build(
            subject=subject_name(cn),
            key=keys[cert_name],
            issuer_cert=certs[issuer] if issuer else None,
            issuer_key=keys[issuer or cert_name],
            not_before=now + days[0] * _DAY,
            not_after=now + days[1] * _DAY,
            ca=ca,
            aia=base_url + aia if aia else None,
            **options,  # type: ignore[arg-type]
        )

    ca_days = (-1, 3650)
    # partial_chain_anchor: the store holds the intermediate, never its root.
    make("offline_root", "Lab Offline Root CA", None, ca=True, days=ca_days)
    make("anchored_intermediate", "Lab Anchored Intermediate CA", "offline_root", ca=True,
         days=ca_days, pathlen=0)
    make("leaf_partial_anchor", LAB_HOSTNAME, "anchored_intermediate", ca=False)
    # strict_x509: a CA whose basicConstraints is not critical.
    make("lax_intermediate", "Lab Lax Intermediate CA", "root", ca=True, days=ca_days,
         pathlen=0, aia="root.der", bc_critical=False)
    make("leaf_strict", LAB_HOSTNAME, "lax_intermediate", ca=False, aia="lax_intermediate.der")
    # Names: CN only; a partial wildcard.
    make("leaf_cn_only", LAB_HOSTNAME, "intermediate", ca=False, aia="intermediate.der",
         with_san=False)
    make("leaf_partial_wildcard", PARTIAL_WILDCARD_SAN, "intermediate", ca=False,
         aia="intermediate.der", sans=(PARTIAL_WILDCARD_SAN,))
    # no_digital_signature: the RSA template's keyEncipherment on an ECDSA key.
    make("leaf_no_digital_signature", LAB_HOSTNAME, "intermediate", ca=False,
         aia="intermediate.der",
         key_usage=key_usage(key_encipherment=True))
    # aia_pkcs7 and aia_three_hops.
    make("leaf_pkcs7", LAB_HOSTNAME, "intermediate", ca=False, aia="intermediate.p7c")
    make("hop1", "Lab Hop 1 CA", "root", ca=True, days=ca_days, pathlen=1, aia="root.der")
    make("hop2", "Lab Hop 2 CA", "hop1", ca=True, days=ca_days, pathlen=0, aia="hop1.der")
    make("leaf_three_hops", LAB_HOSTNAME, "hop2", ca=False, aia="hop2.der")
    # expired_cross_sign: the Let's Encrypt / DST Root CA X3 shape of 2021.
    make("isrg_root", "Lab ISRG-like Root X1", None, ca=True, days=ca_days)
    make("dst_root", "Lab DST-like Root X3", None, ca=True, days=(-20 * 365, -30))
    make("isrg_cross_signed", "Lab ISRG-like Root X1", "dst_root", ca=True,
         days=(-3 * 365, 365), key_of="isrg_root")
    make("r3", "Lab R3", "isrg_root", ca=True, days=(-1, 5 * 365), pathlen=0,
         aia="isrg_root.der")
    make("leaf_r3", LAB_HOSTNAME, "r3", ca=False, aia="r3.der")
    # name_constrained_root: the anchor itself carries the constraint.
    permitted = x509.NameConstraints(
        permitted_subtrees=[x509.DNSName(CONSTRAINED_DOMAIN)], excluded_subtrees=None
    )
    make("constrained_root", "Lab Constrained Root CA", None, ca=True, days=ca_days,
         name_constraints=permitted)
    make("constrained_intermediate", "Lab Constrained Intermediate CA", "constrained_root",
         ca=True, days=ca_days, pathlen=0, aia="constrained_root.der")
    make("leaf_constrained", LAB_HOSTNAME, "constrained_intermediate", ca=False,
         aia="constrained_intermediate.der", sans=LOOPBACK_NAMES)
