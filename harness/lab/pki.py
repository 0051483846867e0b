"""The lab's certificate authority: every certificate the broken-chain scenarios serve.

:func:`generate` makes the whole PKI in memory (EC P-256 keys except where a scenario needs
RSA); :class:`PKI` writes it into a private directory (0700, files 0600) that ``close()``
removes. The AIA and CRL URLs inside the certificates start with ``base_url``, so the same
PKI works on loopback (``http://127.0.0.1:<port>/``) and under docker compose
(``http://aia:8080/``).

Certificate names (keys of :attr:`Material.certs`):

========================  ==========================================================
``root``                  Lab Root CA, self-signed; the anchor of both trust profiles
``intermediate``          Lab Intermediate CA (AIA caIssuers -> root.der)
``leaf``                  localhost, AIA caIssuers -> intermediate.der, CRL DP
``leaf_no_aia``           as ``leaf`` without an AIA extension
``leaf_dead_aia``         AIA caIssuers -> missing/intermediate.der (answers 404)
``leaf_hung_aia``         AIA caIssuers -> hang/intermediate.der (never answers)
``leaf_expired``          validity in the past
``leaf_not_yet_valid``    starts tomorrow
``leaf_wrong_host``       SAN wrong.host.example only
``leaf_self_signed``      self-signed localhost
``leaf_revoked``          listed in intermediate.crl
``leaf_weak_key``         RSA-1024 key
``expired_intermediate``  Lab Expired Intermediate CA (expired), issues
                          ``leaf_expired_intermediate``
``sha1_intermediate``     Lab SHA-1 Intermediate CA, signed with SHA-1 (by ``openssl x509``,
                          since cryptography refuses SHA-1 signatures), issues
                          ``leaf_sha1_intermediate``
``other_root``            Other Root CA (in no trust profile) -> ``other_intermediate`` ->
                          ``leaf_other``
``old_root``              Lab Old Root CA, expired (the DST Root CA X3 of the story)
``root_cross_signed``     subject Lab Root CA, issuer Lab Old Root CA, Lab Root's key, expired
========================  ==========================================================

The incident scenarios' certificates are listed in :mod:`tlsmatrix.lab.pki_incidents`.
Their anchors (Lab Anchored Intermediate CA without its root, the ISRG-like and the expired
DST-like roots, Lab Constrained Root CA) are in both lab-run profiles, so each of those
scenarios shows its divergence under the default profile. ``intermediate-only`` (Lab
Intermediate CA and nothing else) is the store of the partial-chain story: give it to
``tlsmatrix run --ca-file`` with the ``leaf_only`` or ``good`` scenario.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import shutil
import stat
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7
from tlsmatrix.lab.certbuilder import (
    LAB_HOSTNAME,
    LOOPBACK_NAMES,
    PrivateKey,
    build,
    build_crl,
    ec_key,
    key_pem,
    rsa_key,
    write_private,
)
from tlsmatrix.lab.certbuilder import (
    name as subject_name,
)
from tlsmatrix.lab.pki_incidents import AIA_PATHS as INCIDENT_AIA_PATHS
from tlsmatrix.lab.pki_incidents import ANCHORS, generate_incidents

__all__ = [
    "AIA_PATHS",
    "CONTENT_TYPES",
    "CRL_PATHS",
    "HANG_PREFIX",
    "LAB_HOSTNAME",
    "MISSING_PREFIX",
    "Material",
    "PKI",
    "TRUST_PROFILES",
    "WRONG_HOSTNAME",
    "generate",
    "normalize_base_url",
]

WRONG_HOSTNAME = "wrong.host.example"  # never looked up: only written into a SAN

TRUST_PROFILES: Mapping[str, tuple[str, ...]] = {
    # A bundle like certifi's: roots only (for the main chain).
    "certifi-like": ("root", *ANCHORS),
    # A workstation that had cached the intermediate (browser, OS store, an old install).
    "workstation": ("root", "intermediate", *ANCHORS),
    # The partial-chain story's store: the intermediate and not its root. Not a lab-run
    # profile (no prediction is made for it): a store for ``run --ca-file`` and the demo.
    "intermediate-only": ("intermediate",),
}

# URL paths (relative to base_url) the AIA server answers, and what they hold.
AIA_PATHS: Mapping[str, str] = {
    "intermediate.der": "intermediate",
    "intermediate.pem": "intermediate",
    "intermediate.p7c": "intermediate",
    "root.der": "root",
    "expired_intermediate.der": "expired_intermediate",
    "sha1_intermediate.der": "sha1_intermediate",
    "other_intermediate.der": "other_intermediate",
    "other_root.der": "other_root",
    "old_root.der": "old_root",
    **INCIDENT_AIA_PATHS,
}
CRL_PATHS: Mapping[str, str] = {"intermediate.crl": "intermediate", "root.crl": "root"}
MISSING_PREFIX = "missing/"  # the AIA server answers 404 below it
HANG_PREFIX = "hang/"  # the AIA server accepts below it and never answers

CONTENT_TYPES: Mapping[str, str] = {
    ".der": "application/pkix-cert",
    ".pem": "application/x-pem-file",
    ".p7c": "application/pkcs7-mime",
    ".crl": "application/pkix-crl",
}


@dataclass(frozen=True)
class Material:
    """The generated PKI, in memory. ``certs`` and ``keys`` share names; ``crls`` is keyed
    by the issuing CA's name."""

    base_url: str
    certs: Mapping[str, x509.Certificate]
    keys: Mapping[str, PrivateKey]
    crls: Mapping[str, x509.CertificateRevocationList]

    def pem(self, name: str) -> bytes:
        return self.certs[name].public_bytes(serialization.Encoding.PEM)

    def der(self, name: str) -> bytes:
        return self.certs[name].public_bytes(serialization.Encoding.DER)

    def key_pem(self, name: str) -> bytes:
        return key_pem(self.keys[name])

    def chain_pem(self, names: Sequence[str]) -> bytes:
        """The PEM certificates ``names`` in that order (what a server sends)."""
        return b"".join(self.pem(n) for n in names)

    def fingerprint(self, name: str) -> str:
        """SHA-256 of the DER certificate, lower-case hex."""
        return hashlib.sha256(self.der(name)).hexdigest()

    def trust_profile_pem(self, profile: str) -> bytes:
        return self.chain_pem(TRUST_PROFILES[profile])

    def url(self, path: str) -> str:
        return self.base_url + path

    def http_files(self) -> dict[str, tuple[bytes, str]]:
        """What the AIA/CRL server publishes: URL path (with leading slash) -> (body,
        content type)."""
        files: dict[str, tuple[bytes, str]] = {}
        for path, name in AIA_PATHS.items():
            if path.endswith(".der"):
                body = self.der(name)
            elif path.endswith(".pem"):
                body = self.pem(name)
            else:
                body = pkcs7.serialize_certificates([self.certs[name]], serialization.Encoding.DER)
            files["/" + path] = (body, CONTENT_TYPES[Path(path).suffix])
        for path, ca in CRL_PATHS.items():
            body = self.crls[ca].public_bytes(serialization.Encoding.DER)
            files["/" + path] = (body, CONTENT_TYPES[".crl"])
        return files


def normalize_base_url(base_url: str) -> str:
    """``http://host:port`` -> ``http://host:port/``; rejects anything but http(s) URLs."""
    if not base_url.startswith(("http://", "https://")):
        raise ValueError(f"AIA base URL must be http(s)://...: {base_url!r}")
    return base_url if base_url.endswith("/") else base_url + "/"


# --- generation -----------------------------------------------------------------------


def generate(base_url: str, workdir: str | os.PathLike[str]) -> Material:
    """Generate the whole lab PKI whose AIA/CRL URLs start with ``base_url``.

    ``workdir`` must be a private directory: the SHA-1 intermediate is signed by the
    ``openssl`` command line there, which needs the root key in a file.
    Raises RuntimeError when that ``openssl`` call fails."""
    base_url = normalize_base_url(base_url)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    day = dt.timedelta(days=1)
    certs: dict[str, x509.Certificate] = {}
    keys: dict[str, PrivateKey] = {n: ec_key() for n in _EC_KEY_NAMES}
    keys["leaf_weak_key"] = rsa_key(1024)
    # The cross-signed root certifies the Lab Root's own key.
    keys["root_cross_signed"] = keys["root"]

    for name, cn, issuer, start, end, aia, crl in _CAS:
        certs[name] = build(
            subject=subject_name(cn),
            key=keys[name],
            issuer_cert=certs[issuer] if issuer else None,
            issuer_key=keys[issuer or name],
            not_before=now + start * day,
            not_after=now + end * day,
            ca=True,
            # Intermediates may issue leaves only; the cross-signed root is a root.
            pathlen=None if issuer is None or name == "root_cross_signed" else 0,
            aia=base_url + aia if aia else None,
            crl=base_url + crl if crl else None,
        )
        if name == "root":
            certs["sha1_intermediate"] = _sign_sha1_intermediate(
                workdir,
                cn="Lab SHA-1 Intermediate CA",
                key=keys["sha1_intermediate"],
                issuer_cert=certs["root"],
                issuer_key=keys["root"],
                aia=base_url + "root.der",
            )
    for name, issuer, aia, start, end, host in _LEAVES:
        certs[name] = build(
            subject=subject_name(host),
            key=keys[name],
            issuer_cert=certs[issuer] if issuer != name else None,
            issuer_key=keys[issuer],
            not_before=now + start * day,
            not_after=now + end * day,
            ca=False,
            aia=base_url + aia if aia else None,
            crl=base_url + "intermediate.crl" if issuer == "intermediate" else None,
            sans=LOOPBACK_NAMES if host == LAB_HOSTNAME else (host,),
        )

    generate_incidents(base_url, now, certs, keys)
    crls = {
        "intermediate": build_crl(
            certs["intermediate"], keys["intermediate"], [certs["leaf_revoked"]], now
        ),
        "root": build_crl(certs["root"], keys["root"], [], now),
    }
    return Material(base_url=base_url, certs=certs, keys=keys, crls=crls)


# The CAs, in signing order: name, CN, issuer (None: self-signed), valid from / until (days
# from now), caIssuers and CRL paths below base_url. The SHA-1 intermediate is made apart.
_CAS: tuple[tuple[str, str, str | None, int, int, str | None, str | None], ...] = (
    ("root", "Lab Root CA", None, -1, 3650, None, None),
    ("intermediate", "Lab Intermediate CA", "root", -1, 5 * 365, "root.der", "root.crl"),
    ("expired_intermediate", "Lab Expired Intermediate CA", "root", -400, -30, "root.der", None),
    ("other_root", "Other Root CA", None, -1, 3650, None, None),
    ("other_intermediate", "Other Intermediate CA", "other_root", -1, 5 * 365, "other_root.der",
     None),
    ("old_root", "Lab Old Root CA", None, -20 * 365, -365, None, None),
    ("root_cross_signed", "Lab Root CA", "old_root", -5 * 365, -30, "old_root.der", None),
)  # fmt: skip
# The leaves: name, issuer (itself: self-signed), caIssuers path, valid from / until (days
# from now), host name.
_LEAVES: tuple[tuple[str, str, str | None, int, int, str], ...] = (
    ("leaf", "intermediate", "intermediate.der", -1, 90, LAB_HOSTNAME),
    ("leaf_no_aia", "intermediate", None, -1, 90, LAB_HOSTNAME),
    ("leaf_dead_aia", "intermediate", MISSING_PREFIX + "intermediate.der", -1, 90, LAB_HOSTNAME),
    ("leaf_hung_aia", "intermediate", HANG_PREFIX + "intermediate.der", -1, 90, LAB_HOSTNAME),
    ("leaf_expired", "intermediate", "intermediate.der", -100, -10, LAB_HOSTNAME),
    ("leaf_not_yet_valid", "intermediate", "intermediate.der", 1, 91, LAB_HOSTNAME),
    ("leaf_wrong_host", "intermediate", "intermediate.der", -1, 90, WRONG_HOSTNAME),
    ("leaf_self_signed", "leaf_self_signed", None, -1, 90, LAB_HOSTNAME),
    ("leaf_revoked", "intermediate", "intermediate.der", -1, 90, LAB_HOSTNAME),
    ("leaf_weak_key", "intermediate", "intermediate.der", -1, 90, LAB_HOSTNAME),
    ("leaf_expired_intermediate", "expired_intermediate", "expired_intermediate.der", -1, 90,
     LAB_HOSTNAME),
    ("leaf_sha1_intermediate", "sha1_intermediate", "sha1_intermediate.der", -1, 90,
     LAB_HOSTNAME),
    ("leaf_other", "other_intermediate", "other_intermediate.der", -1, 90, LAB_HOSTNAME),
)  # fmt: skip

_EC_KEY_NAMES = (
    "root",
    "intermediate",
    "expired_intermediate",
    "sha1_intermediate",
    "other_root",
    "other_intermediate",
    "old_root",
    "leaf",
    "leaf_no_aia",
    "leaf_dead_aia",
    "leaf_hung_aia",
    "leaf_expired",
    "leaf_not_yet_valid",
    "leaf_wrong_host",
    "leaf_self_signed",
    "leaf_revoked",
    "leaf_expired_intermediate",
    "leaf_sha1_intermediate",
    "leaf_other",
)


def _sign_sha1_intermediate(
    workdir: str | os.PathLike[str],
    *,
    cn: str,
    key: PrivateKey,
    issuer_cert: x509.Certificate,
    issuer_key: PrivateKey,
    aia: str,
) -> x509.Certificate:
    """An intermediate signed with SHA-1. cryptography (>= 45) refuses SHA-1 signatures,
    so the ``openssl x509 -req -sha1`` command signs a CSR made here."""
    from tlsmatrix.clients.process import run_command

    work = Path(tempfile.mkdtemp(prefix="sha1-", dir=workdir))
    try:
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(subject_name(cn))
            .sign(key, hashes.SHA256())
        )
        write_private(work / "csr.pem", csr.public_bytes(serialization.Encoding.PEM))
        write_private(work / "ca.pem", issuer_cert.public_bytes(serialization.Encoding.PEM))
        write_private(
            work / "ca.key",
            issuer_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
        write_private(
            work / "ext.cnf",
            (
                "[v3]\n"
                "basicConstraints=critical,CA:TRUE,pathlen:0\n"
                "keyUsage=critical,keyCertSign,cRLSign,digitalSignature\n"
                "subjectKeyIdentifier=hash\n"
                "authorityKeyIdentifier=keyid\n"
                f"authorityInfoAccess=caIssuers;URI:{aia}\n"
            ).encode(),
        )
        serial = str(x509.random_serial_number())
        argv = ["openssl", "x509", "-req", "-in", str(work / "csr.pem")]
        argv += ["-CA", str(work / "ca.pem"), "-CAkey", str(work / "ca.key"), "-sha1"]
        argv += ["-set_serial", serial, "-days", "1825", "-extfile", str(work / "ext.cnf")]
        argv += ["-extensions", "v3", "-out", str(work / "out.pem")]
        result = run_command(argv, timeout=20)
        if result.returncode != 0 or not (work / "out.pem").exists():
            raise RuntimeError(f"openssl could not sign the SHA-1 intermediate: {result.stderr}")
        return x509.load_pem_x509_certificate((work / "out.pem").read_bytes())
    finally:
        shutil.rmtree(work, ignore_errors=True)


# --- files ----------------------------------------------------------------------------


class PKI:
    """The lab PKI written to a directory: ``certs/NAME.pem``, ``keys/NAME.key``,
    ``chains/*.pem``, ``trust/PROFILE.pem`` and ``crl/CA.crl``.

    Without ``directory`` a private temporary directory (0700) is made and ``close()``
    removes it; a given directory is created 0700 if missing and left in place.
    Every file is written 0600."""

    def __init__(self, base_url: str, directory: str | os.PathLike[str] | None = None) -> None:
        if directory is None:
            self.directory = Path(tempfile.mkdtemp(prefix="tlsmatrix-lab-"))
            self._owned = True
        else:
            self.directory = Path(directory)
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._owned = False
        os.chmod(self.directory, 0o700)
        try:
            self.material = generate(base_url, self.directory)
            self._write_all()
        except BaseException:
            self.close()
            raise

    @property
    def base_url(self) -> str:
        return self.material.base_url

    def _write_all(self) -> None:
        for sub in ("certs", "keys", "chains", "trust", "crl"):
            (self.directory / sub).mkdir(mode=0o700, exist_ok=True)
        m = self.material
        for name in m.certs:
            write_private(self.cert_path(name), m.pem(name))
        for name in m.keys:
            write_private(self.key_path(name), m.key_pem(name))
        for profile in TRUST_PROFILES:
            write_private(self.trust_profiles[profile], m.trust_profile_pem(profile))
        for ca, crl in m.crls.items():
            write_private(
                self.directory / "crl" / f"{ca}.crl", crl.public_bytes(serialization.Encoding.PEM)
            )

    def cert_path(self, name: str) -> Path:
        return self.directory / "certs" / f"{name}.pem"

    def key_path(self, name: str) -> Path:
        return self.directory / "keys" / f"{name}.key"

    def crl_path(self, ca: str) -> Path:
        """The CRL issued by ``ca`` (PEM)."""
        return self.directory / "crl" / f"{ca}.crl"

    def chain_path(self, names: Sequence[str], label: str | None = None) -> Path:
        """Write the PEM chain ``names`` (in that order) and return its path."""
        path = self.directory / "chains" / f"{label or '+'.join(names)}.pem"
        write_private(path, self.material.chain_pem(names))
        return path

    @property
    def trust_profiles(self) -> dict[str, Path]:
        """{"certifi-like": path, "workstation": path, "intermediate-only": path}."""
        return {p: self.directory / "trust" / f"{p}.pem" for p in TRUST_PROFILES}

    def fingerprint(self, name: str) -> str:
        return self.material.fingerprint(name)

    def close(self) -> None:
        """Remove the directory if this PKI made it."""
        if self._owned:
            with contextlib.suppress(FileNotFoundError):
                # Make sure a half-written tree can be removed whatever its modes.
                for root, dirs, _ in os.walk(self.directory):
                    for d in dirs:
                        os.chmod(os.path.join(root, d), stat.S_IRWXU)
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> PKI:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
