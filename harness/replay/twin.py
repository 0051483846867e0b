"""The twin PKI: every certificate of one or more cases re-issued with a fresh key.

A twin keeps the original's TBSCertificate byte for byte (version, serial, signature
algorithm, issuer, validity, subject, unique ids, every extension with its criticality and
order, key identifiers included) except:

* the subjectPublicKeyInfo, which holds a fresh key of the same type and size; originals
  that share a key (a root and its cross-sign) share the twin key;
* the URLs of AIA (caIssuers and OCSP) and CRL distribution points, rewritten to the
  replay's loopback server, so no client ever leaves the machine: caIssuers paths serve
  the twins of what the capture fetched (404 or a hang where the capture got one); CRL
  paths serve the captured CRLs re-signed by their issuer's twin (entries, dates and
  extensions kept); OCSP paths answer 404 (OCSP answers are not captured).

Each twin is signed with the same signature algorithm by its issuer's twin key (found in
the cases by name and signature); a self-signed original stays self-signed; an original
whose issuer is not in the cases is signed by a throwaway key, so it stays unverifiable.
Whatever cannot be twinned faithfully is listed in :attr:`TwinCert.notes`, never hidden.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import (
    AuthorityInformationAccessOID,
    ExtensionOID,
)
from tlsmatrix.replay import der
from tlsmatrix.replay.capture import issued_by
from tlsmatrix.replay.case import Case
from tlsmatrix.replay.keys import (
    algorithm_id,
    key_for_algorithm,
    sign_like,
    signed_by,
    twin_key,
)

PrivateKey = Any  # rsa/ec/dsa/ed25519/ed448 private keys
SCT_OID = "1.3.6.1.4.1.11129.2.4.2"


@dataclass(frozen=True)
class TwinCert:
    original: str  # sha256 of the original
    subject: str
    certificate: x509.Certificate
    notes: tuple[str, ...] = ()

    @property
    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)


class TwinError(ValueError):
    """A certificate that cannot be twinned at all (its DER is beyond this module)."""


@dataclass
class UrlMap:
    """Original URL -> (path on the replay's AIA server, body or None for 404/hang)."""

    paths: dict[str, str] = field(default_factory=dict)
    count: int = 0

    def path(self, url: str, kind: str, prefix: str = "/missing/", suffix: str = "") -> str:
        if url not in self.paths:
            self.count += 1
            self.paths[url] = f"{prefix}{kind}/{self.count}{suffix}"
        return self.paths[url]


class TwinPKI:
    """Twins of every certificate in ``cases``; ``base_url`` is the replay AIA server's
    URL (``http://127.0.0.1:PORT/``). ``files`` is what that server must publish."""

    def __init__(self, cases: Sequence[Case], base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.urls = UrlMap()
        self._keys: dict[bytes, tuple[PrivateKey, tuple[str, ...]]] = {}
        self._throwaway: dict[tuple[bytes, str], PrivateKey] = {}
        self.crl_notes: list[str] = []
        self.twins: dict[str, TwinCert] = {}
        originals: dict[str, x509.Certificate] = {}
        for case in cases:
            for cert in case.all_certificates():
                originals.setdefault(cert.sha256, cert.certificate())
        self._originals = originals
        self._plan_aia(cases)
        for sha, cert in originals.items():
            try:
                self._twin(sha)
            except (der.DERError, ValueError, TypeError) as exc:
                raise TwinError(
                    f"cannot twin {cert.subject.rfc4514_string()!r}: {exc}".replace("\n", " ")
                ) from None
        self.files: dict[str, tuple[bytes, str]] = self._aia_files(cases)

    # --- public ------------------------------------------------------------------------

    def twin(self, sha256: str) -> TwinCert:
        return self.twins[sha256]

    def key_pem(self, sha256: str) -> bytes:
        """The twin private key of the original certificate ``sha256`` (PKCS#8 PEM)."""
        spki = _spki(self._originals[sha256])
        key, _ = self._keys[spki]
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def notes(self) -> dict[str, tuple[str, ...]]:
        """sha256 of the original -> what could not be twinned faithfully."""
        return {sha: t.notes for sha, t in self.twins.items() if t.notes}

    # --- AIA --------------------------------------------------------------------------

    def _plan_aia(self, cases: Sequence[Case]) -> None:
        self._aia_bodies: dict[str, tuple[str, tuple[str, ...]]] = {}  # path -> (encoding, shas)
        ordered = sorted(
            (f for c in cases for f in c.aia), key=lambda f: f.outcome != "ok"
        )  # an "ok" fetch of a URL wins over a failed one from another case
        for fetch in ordered:
            if fetch.url in self.urls.paths:
                continue
            if fetch.outcome == "ok":
                suffix = {"der": ".der", "pem": ".pem", "pkcs7": ".p7c"}[fetch.encoding or "der"]
                path = self.urls.path(fetch.url, "aia", "/", suffix)
                self._aia_bodies[path] = (
                    fetch.encoding or "der",
                    tuple(c.sha256 for c in fetch.certificates),
                )
            elif fetch.outcome == "timeout":
                self.urls.path(fetch.url, "aia", "/hang/")
            elif fetch.outcome == "no_certificate":
                path = self.urls.path(fetch.url, "aia", "/", ".bin")
                self._aia_bodies[path] = ("junk", ())
            else:
                self.urls.path(fetch.url, "aia")
        self._crl_bodies: dict[str, tuple[str, str]] = {}  # path -> (encoding, original PEM)
        for crl in sorted(
            (c for case in cases for c in case.crls), key=lambda c: c.outcome != "ok"
        ):
            if crl.url in self.urls.paths:
                continue
            if crl.outcome == "ok" and crl.pem:
                path = self.urls.path(crl.url, "crl", "/", ".crl")
                self._crl_bodies[path] = (crl.encoding or "der", crl.pem)
            elif crl.outcome == "timeout":
                self.urls.path(crl.url, "crl", "/hang/", ".crl")

    def _aia_files(self, cases: Sequence[Case]) -> dict[str, tuple[bytes, str]]:
        from cryptography.hazmat.primitives.serialization import pkcs7

        files: dict[str, tuple[bytes, str]] = {}
        for path, (encoding, shas) in self._aia_bodies.items():
            twins = [self.twins[s].certificate for s in shas]
            if encoding == "junk":
                files[path] = (b"not a certificate\n", "application/octet-stream")
            elif encoding == "pem":
                body = b"".join(t.public_bytes(serialization.Encoding.PEM) for t in twins)
                files[path] = (body, "application/x-pem-file")
            elif encoding == "pkcs7":
                body = pkcs7.serialize_certificates(twins, serialization.Encoding.DER)
                files[path] = (body, "application/pkcs7-mime")
            else:
                files[path] = (
                    twins[0].public_bytes(serialization.Encoding.DER),
                    "application/pkix-cert",
                )
        for path, (encoding, original) in self._crl_bodies.items():
            body = self._twin_crl(original)
            if encoding == "pem":
                body = x509.load_der_x509_crl(body).public_bytes(serialization.Encoding.PEM)
            files[path] = (body, "application/pkix-crl")
        return files

    def _twin_crl(self, pem: str) -> bytes:
        """The CRL re-signed by its issuer's twin key (revoked serials, dates and
        extensions kept; the issuing distribution point's URLs rewritten)."""
        crl = x509.load_pem_x509_crl(pem.encode("ascii"))
        issuer = next(
            (
                c
                for c in self._originals.values()
                if crl.issuer == c.subject
                and signed_by(crl, crl.tbs_certlist_bytes, c.public_key())
            ),
            None,
        )
        if issuer is None:
            signer = key_for_algorithm(crl)
            self.crl_notes.append(
                f"CRL of {crl.issuer.rfc4514_string()}: its issuer is not in the case; "
                "signed by a throwaway key"
            )
        else:
            signer, _ = self._key_for(issuer)
        tbs, algorithm, _ = der.split_signed(crl.public_bytes(serialization.Encoding.DER))
        outer, _ = der.read_tlv(tbs)
        fields = der.children(outer.body)
        replace: dict[bytes, bytes] = {}
        try:
            idp = crl.extensions.get_extension_for_oid(
                ExtensionOID.ISSUING_DISTRIBUTION_POINT
            ).value
        except (x509.ExtensionNotFound, x509.DuplicateExtension, ValueError):
            idp = None
        if idp is not None and idp.full_name is not None:
            names = self._rewrite_crl_names(idp.full_name)
            rewritten = x509.IssuingDistributionPoint(
                names,
                idp.relative_name,
                idp.only_contains_user_certs,
                idp.only_contains_ca_certs,
                idp.only_some_reasons,
                idp.indirect_crl,
                idp.only_contains_attribute_certs,
            )
            oid = der.oid_der(ExtensionOID.ISSUING_DISTRIBUTION_POINT.dotted_string)
            replace[oid] = rewritten.public_bytes()
        fields = der.rewrite_extensions(fields, replace, tag=der.CRL_EXTENSIONS)
        new_tbs = der.join_tbs(fields)
        return der.join_signed(new_tbs, algorithm, sign_like(signer, new_tbs, crl))

    def _rewrite_urls(self, cert: x509.Certificate, notes: list[str]) -> dict[bytes, bytes]:
        replace: dict[bytes, bytes] = {}
        exts = {e.oid: e for e in _extensions(cert, notes)}
        aia = exts.get(ExtensionOID.AUTHORITY_INFORMATION_ACCESS)
        if aia is not None:
            descriptions = []
            for d in aia.value:
                loc = d.access_location
                if isinstance(loc, x509.UniformResourceIdentifier):
                    if d.access_method == AuthorityInformationAccessOID.CA_ISSUERS:
                        path = self.urls.path(loc.value, "aia")
                    else:
                        path = self.urls.path(loc.value, "ocsp")
                        notes.append("OCSP URL points at the replay server, which answers 404")
                    loc = x509.UniformResourceIdentifier(self.base_url + path)
                descriptions.append(x509.AccessDescription(d.access_method, loc))
            value = x509.AuthorityInformationAccess(descriptions).public_bytes()
            replace[der.oid_der(ExtensionOID.AUTHORITY_INFORMATION_ACCESS.dotted_string)] = value
        kinds = (
            (ExtensionOID.CRL_DISTRIBUTION_POINTS, x509.CRLDistributionPoints),
            (ExtensionOID.FRESHEST_CRL, x509.FreshestCRL),
        )
        for oid, kind in kinds:
            ext = exts.get(oid)
            if ext is None:
                continue
            points = [self._rewrite_point(p) for p in ext.value]
            replace[der.oid_der(oid.dotted_string)] = kind(points).public_bytes()
            served = [
                n.value
                for p in points
                for n in p.full_name or ()
                if isinstance(n, x509.UniformResourceIdentifier)
            ]
            if not all(urlsplit(u).path in self._crl_bodies for u in served):
                notes.append(
                    "CRL not captured: its URL points at the replay server, which answers "
                    "404 (or never answers, where the live one timed out)"
                )
        if any(e.oid.dotted_string == SCT_OID for e in exts.values()):
            notes.append("embedded SCTs kept as they were: they no longer verify against the twin")
        return replace

    def _rewrite_crl_names(self, names: Iterable[x509.GeneralName]) -> list[x509.GeneralName]:
        """CRL locations pointed at the twin's server; other kinds of name kept."""
        return [
            x509.UniformResourceIdentifier(
                self.base_url + self.urls.path(n.value, "crl", suffix=".crl")
            )
            if isinstance(n, x509.UniformResourceIdentifier)
            else n
            for n in names
        ]

    def _rewrite_point(self, point: x509.DistributionPoint) -> x509.DistributionPoint:
        names = None
        if point.full_name is not None:
            names = self._rewrite_crl_names(point.full_name)
        return x509.DistributionPoint(names, point.relative_name, point.reasons, point.crl_issuer)

    # --- twinning -----------------------------------------------------------------------

    def _issuer(self, cert: x509.Certificate) -> x509.Certificate | None:
        """The certificate of the cases that signed ``cert`` (itself when self-signed)."""
        if issued_by(cert, cert):
            return cert
        for other in self._originals.values():
            if other.subject == cert.issuer and issued_by(cert, other):
                return other
        return None

    def _twin(self, sha: str) -> TwinCert:
        if sha in self.twins:
            return self.twins[sha]
        cert = self._originals[sha]
        notes: list[str] = []
        key, key_notes = self._key_for(cert)
        notes += key_notes
        issuer = self._issuer(cert)
        if issuer is None:
            signer = self._throwaway_key(cert)
            notes.append(
                "issuer not in the case: signed by a throwaway key (unverifiable, as before)"
            )
        elif issuer is cert:
            signer = key
        else:
            signer, _ = self._key_for(issuer)
        tbs, algorithm, _ = der.split_signed(cert.public_bytes(serialization.Encoding.DER))
        outer, _ = der.read_tlv(tbs)
        fields = der.children(outer.body)
        spki_at = der.tbs_spki_index(fields)
        new_spki = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        fields[spki_at] = der.TLV(der.SEQUENCE, new_spki, b"")
        fields = der.rewrite_extensions(fields, self._rewrite_urls(cert, notes))
        new_tbs = der.join_tbs(fields)
        try:
            signature = sign_like(signer, new_tbs, cert)
        except Exception as exc:  # noqa: BLE001 - unsupported hash/algorithm: say so
            fallback = hashes.SHA256()
            notes.append(
                f"cannot sign with {_sig_name(cert)} here ({type(exc).__name__}: {exc}); "
                "the twin is signed with SHA-256 instead"
            )
            algorithm = algorithm_id(signer, fallback)
            sig_at = 1 if fields[0].tag == 0xA0 else 0
            fields[sig_at + 1] = der.TLV(der.SEQUENCE, algorithm, b"")
            new_tbs = der.join_tbs(fields)
            signature = sign_like(signer, new_tbs, None, fallback)
        twin = x509.load_der_x509_certificate(der.join_signed(new_tbs, algorithm, signature))
        result = TwinCert(sha, cert.subject.rfc4514_string(), twin, tuple(dict.fromkeys(notes)))
        self.twins[sha] = result
        return result

    def _key_for(self, cert: x509.Certificate) -> tuple[PrivateKey, tuple[str, ...]]:
        spki = _spki(cert)
        if spki not in self._keys:
            self._keys[spki] = twin_key(cert.public_key())
        return self._keys[spki]

    def _throwaway_key(self, cert: x509.Certificate) -> PrivateKey:
        """One throwaway key per missing issuer (name and key identifier), of the kind the
        signature algorithm needs."""
        try:
            aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
            keyid = (aki.value.key_identifier or b"").hex()
        except (x509.ExtensionNotFound, x509.DuplicateExtension, ValueError):
            keyid = ""
        slot = (cert.issuer.public_bytes(), keyid)
        if slot not in self._throwaway:
            self._throwaway[slot] = key_for_algorithm(cert)
        return self._throwaway[slot]


def _extensions(cert: x509.Certificate, notes: list[str]) -> list[x509.Extension[Any]]:
    try:
        return list(cert.extensions)
    except ValueError as exc:  # duplicate or malformed extension: kept as bytes, not rewritten
        notes.append(f"extensions cannot be decoded ({exc}); URLs in them are not rewritten")
        return []


def _spki(cert: x509.Certificate) -> bytes:
    return cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _sig_name(cert: x509.Certificate) -> str:
    oid = cert.signature_algorithm_oid
    return getattr(oid, "_name", None) or oid.dotted_string
