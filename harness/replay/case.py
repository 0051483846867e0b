"""The replayable case: what one server presented, written by ``tlsmatrix capture`` and
read by ``tlsmatrix lab replay``. No private key is ever part of it.

Format ``tlsmatrix-case/1`` (JSON, one object; JSON Schema in
``harness/replay/schemas/tlsmatrix-case-1.json``, printed by :func:`schema_text`):

``format``       ``"tlsmatrix-case/1"``
``id``           a short name (from the host), used for file names and report rows
``captured_at``  when the capture ran, ISO 8601 UTC (``2026-12-02T19:45:11Z``)
``tool``         ``"tlsmatrix X.Y"``
``target``       ``host`` (the name checked), ``port``, ``path``, ``connect_to`` (the
                 ``--resolve`` address or null), ``sni`` (the name sent, null for an IP)
``tls_version``  the negotiated version (``"TLSv1.3"``) or null
``presented``    the certificates the server sent, in order, duplicates and gaps as sent:
                 each ``{pem, sha256, subject, issuer}``
``aia``          every caIssuers URL tlsmatrix followed (bounded): ``url``,
                 ``certificate`` (sha256 of the certificate naming it), ``outcome``
                 (:data:`AIA_OUTCOMES`), ``detail``, ``encoding`` (der, pem, pkcs7 or
                 null) and the ``certificates`` it served
``anchors``      the certificates of the trust given (``--ca-file``, else the default
                 bundle) whose subject names the issuer of a presented or fetched
                 certificate, or of another anchor
``trust``        ``source`` (ca-file or native), ``name`` (file name only), ``sha256`` of
                 the bundle, ``certificates`` (how many it held)
``revocation``   per certificate: ``certificate`` (sha256), ``crl_urls``, ``ocsp_urls``
``crls``         every CRL URL tlsmatrix downloaded (bounded): ``url``, ``outcome``,
                 ``detail``, ``encoding`` (der or pem, as served) and the CRL as ``pem``
``results``      the live ``tlsmatrix/2`` report when captured ``--with-results``, else null
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from tlsmatrix._attrs import pick

FORMAT = "tlsmatrix-case/1"
SCHEMA_FILE = "schemas/tlsmatrix-case-1.json"
AIA_OUTCOMES = ("ok", "not_found", "timeout", "no_certificate", "refused", "failed", "skipped")
MAX_CASE_BYTES = 20 * 1024 * 1024


class CaseError(ValueError):
    """A case file that cannot be used; one line naming the file."""


@dataclass(frozen=True)
class CaseCert:
    pem: str
    sha256: str
    subject: str
    issuer: str

    @classmethod
    def from_der(cls, der: bytes) -> CaseCert:
        cert = x509.load_der_x509_certificate(der)
        return cls.from_cert(cert)

    @classmethod
    def from_cert(cls, cert: x509.Certificate) -> CaseCert:
        der = cert.public_bytes(serialization.Encoding.DER)
        return cls(
            pem=cert.public_bytes(serialization.Encoding.PEM).decode("ascii"),
            sha256=hashlib.sha256(der).hexdigest(),
            subject=cert.subject.rfc4514_string(),
            issuer=cert.issuer.rfc4514_string(),
        )

    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.pem.encode("ascii"))

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class AIAFetch:
    url: str
    certificate: str  # sha256 of the certificate whose AIA names the URL
    outcome: str
    detail: str = ""
    encoding: str | None = None
    certificates: tuple[CaseCert, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            **pick(self, "url", "certificate", "outcome", "detail", "encoding"),
            "certificates": [c.to_dict() for c in self.certificates],
        }


@dataclass(frozen=True)
class CRLFetch:
    url: str
    outcome: str
    detail: str = ""
    encoding: str | None = None  # der or pem, as served
    pem: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CaseTarget:
    host: str
    port: int
    path: str = "/"
    connect_to: str | None = None
    sni: str | None = None


@dataclass(frozen=True)
class TrustSource:
    source: str  # "ca-file" | "native"
    name: str
    sha256: str | None
    certificates: int


@dataclass(frozen=True)
class Revocation:
    certificate: str
    crl_urls: tuple[str, ...] = ()
    ocsp_urls: tuple[str, ...] = ()


@dataclass(frozen=True)
class Case:
    id: str
    captured_at: str
    tool: str
    target: CaseTarget
    tls_version: str | None
    presented: tuple[CaseCert, ...]
    aia: tuple[AIAFetch, ...]
    anchors: tuple[CaseCert, ...]
    trust: TrustSource
    revocation: tuple[Revocation, ...] = ()
    crls: tuple[CRLFetch, ...] = ()
    results: dict[str, Any] | None = field(default=None, compare=False)

    def all_certificates(self) -> list[CaseCert]:
        """Every distinct certificate of the case (presented, fetched, anchors), once."""
        seen: dict[str, CaseCert] = {}
        for cert in [
            *self.presented,
            *(c for f in self.aia for c in f.certificates),
            *self.anchors,
        ]:
            seen.setdefault(cert.sha256, cert)
        return list(seen.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "id": self.id,
            "captured_at": self.captured_at,
            "tool": self.tool,
            "target": asdict(self.target),
            "tls_version": self.tls_version,
            "presented": [c.to_dict() for c in self.presented],
            "aia": [f.to_dict() for f in self.aia],
            "anchors": [c.to_dict() for c in self.anchors],
            "trust": asdict(self.trust),
            "revocation": [
                {
                    "certificate": r.certificate,
                    "crl_urls": list(r.crl_urls),
                    "ocsp_urls": list(r.ocsp_urls),
                }
                for r in self.revocation
            ],
            "crls": [c.to_dict() for c in self.crls],
            "results": self.results,
        }


def _cert(d: dict[str, Any]) -> CaseCert:
    return CaseCert(d["pem"], d["sha256"], d["subject"], d["issuer"])


def from_dict(data: dict[str, Any], source: str = "<case>") -> Case:
    """A validated Case; raises CaseError (one line) for anything the schema refuses or a
    certificate that does not parse."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        got = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise CaseError(f"{source}: not a {FORMAT} case (format {got!r})")
    errors = validate(data)
    if errors:
        raise CaseError(f"{source}: {errors[0]}")
    t = data["target"]
    case = Case(
        id=data["id"],
        captured_at=data["captured_at"],
        tool=data["tool"],
        target=CaseTarget(t["host"], t["port"], t["path"], t["connect_to"], t["sni"]),
        tls_version=data["tls_version"],
        presented=tuple(_cert(c) for c in data["presented"]),
        aia=tuple(
            AIAFetch(
                f["url"],
                f["certificate"],
                f["outcome"],
                f["detail"],
                f["encoding"],
                tuple(_cert(c) for c in f["certificates"]),
            )
            for f in data["aia"]
        ),
        anchors=tuple(_cert(c) for c in data["anchors"]),
        trust=TrustSource(**data["trust"]),
        revocation=tuple(
            Revocation(r["certificate"], tuple(r["crl_urls"]), tuple(r["ocsp_urls"]))
            for r in data["revocation"]
        ),
        crls=tuple(CRLFetch(**c) for c in data["crls"]),
        results=data["results"],
    )
    for crl in case.crls:
        if crl.pem is not None:
            try:
                x509.load_pem_x509_crl(crl.pem.encode("ascii"))
            except ValueError as exc:
                raise CaseError(f"{source}: the CRL from {crl.url} does not parse: {exc}") from None
    for cert in case.all_certificates():
        try:
            parsed = cert.certificate()
        except ValueError as exc:
            raise CaseError(
                f"{source}: certificate {cert.subject!r} does not parse: {exc}"
            ) from None
        der = parsed.public_bytes(serialization.Encoding.DER)
        if hashlib.sha256(der).hexdigest() != cert.sha256:
            raise CaseError(f"{source}: certificate {cert.subject!r} does not match its sha256")
    return case


def load_case(path: str | os.PathLike[str]) -> Case:
    shown = os.fspath(path)
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_CASE_BYTES + 1)
    except OSError as exc:
        raise CaseError(f"cannot read case {shown}: {exc.strerror or exc}") from None
    if len(raw) > MAX_CASE_BYTES:
        raise CaseError(f"case {shown} is larger than {MAX_CASE_BYTES} bytes")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise CaseError(f"case {shown} is not JSON: {exc}") from None
    return from_dict(data, shown)


def load_cases(path: str | os.PathLike[str]) -> list[tuple[str, Case]]:
    """(file, case) for a case file, or for every ``*.json`` case in a folder (sorted;
    other JSON files there, such as limbo testcases, are left alone)."""
    p = Path(path)
    if not p.is_dir():
        return [(str(p), load_case(p))]
    found = []
    for f in sorted(p.glob("*.json")):
        try:
            head = json.loads(f.read_bytes()[:MAX_CASE_BYTES])
        except (OSError, ValueError):
            continue
        if isinstance(head, dict) and head.get("format") == FORMAT:
            found.append((str(f), from_dict(head, str(f))))
    if not found:
        raise CaseError(f"{p}: no {FORMAT} case in this folder")
    return found


# --- schema -----------------------------------------------------------------------------


def schema_text() -> str:
    return resources.files("tlsmatrix.replay").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")


@cache
def _schema() -> str:
    return schema_text()


def validate(document: Any) -> list[str]:
    """Every way ``document`` breaks the case schema ('path: message'; empty when valid)."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(json.loads(_schema()))
    return [
        f"{'/'.join(str(p) for p in e.absolute_path) or '(top)'}: {e.message}"
        for e in sorted(
            validator.iter_errors(document), key=lambda e: [str(p) for p in e.absolute_path]
        )
    ]
