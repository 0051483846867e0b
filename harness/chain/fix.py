"""Building the chain a server should send: its leaf, then each intermediate, no root.

Issuers come from what the server already sends, else from the AIA caIssuers URLs
(bounded: see harness.aia_fetch); the result must verify against a trust bundle before
it is written."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from tlsmatrix.chain.aia import AIAFetchError, fetch_issuer
from tlsmatrix.chain.analysis import signature_verifies
from tlsmatrix.chain.verify import StoreVerdict, verify_against
from tlsmatrix.explain.names import short_name

MAX_DEPTH = 6


class FixChainError(Exception):
    """The chain cannot be built or does not verify; the message is one line."""


@dataclass(frozen=True)
class FixedChain:
    certificates: tuple[x509.Certificate, ...]  # leaf first, no root
    steps: tuple[str, ...]  # how each certificate was obtained
    verdict: StoreVerdict

    def pem(self) -> str:
        return "".join(c.public_bytes(Encoding.PEM).decode() for c in self.certificates)


def _issued_by(child: x509.Certificate, parent: x509.Certificate) -> bool:
    return child.issuer == parent.subject and signature_verifies(child, parent) is not False


def _self_signed(cert: x509.Certificate) -> bool:
    return _issued_by(cert, cert)


def build_chain(
    sent: Sequence[x509.Certificate],
    roots: Sequence[x509.Certificate],
    hostname: str | None,
    *,
    timeout: float = 20.0,
) -> FixedChain:
    """Leaf + intermediates up to an anchor in ``roots``. Raises FixChainError."""
    if not sent:
        raise FixChainError("the server sent no certificate")
    if _self_signed(sent[0]):
        raise FixChainError(
            f"the server's certificate '{_name(sent[0])}' is self-signed: there is no chain to "
            "complete; serve a certificate issued by a CA your clients trust"
        )
    deadline = time.monotonic() + timeout
    path = [sent[0]]
    steps = [f"leaf '{short_name(sent[0].subject.rfc4514_string())}' (sent by the server)"]
    current = sent[0]
    for _ in range(MAX_DEPTH):
        if _self_signed(current) or any(_issued_by(current, root) for root in roots):
            break
        issuer, how = _issuer_of(current, sent, deadline)
        if any(issuer == seen for seen in path):
            raise FixChainError(f"AIA loop: '{_name(issuer)}' appears twice in the chain")
        path.append(issuer)
        steps.append(f"'{_name(issuer)}' ({how})")
        current = issuer
    else:
        raise FixChainError(f"no anchor within {MAX_DEPTH} certificates: giving up")
    top = path[-1]
    if _self_signed(top) and not any(_issued_by(top, root) for root in roots):
        # say it in words rather than pass the verifier's internals through
        raise FixChainError(
            f"the chain ends at the root '{_name(top)}', which the trust bundle does not "
            "contain: serving more certificates cannot fix that"
        )
    chain = tuple(c for c in path if not _self_signed(c) or c is path[0])
    verdict = verify_against(chain[0], chain[1:], roots, hostname)
    if not verdict.ok:
        raise FixChainError(f"the built chain does not verify: {_why_not(chain, hostname)}")
    return FixedChain(chain, tuple(steps), verdict)


def _why_not(chain: Sequence[x509.Certificate], hostname: str | None) -> str:
    """Why a verifier refused the built chain, in words from our own checks: the
    verifier's message carries its internals (extension OIDs, object reprs)."""
    from datetime import UTC, datetime

    from tlsmatrix.chain.hostname import leaf_matches_hostname

    now = datetime.now(UTC)
    for cert in chain:
        if cert.not_valid_after_utc < now:
            return f"'{_name(cert)}' expired on {cert.not_valid_after_utc:%Y-%m-%d}"
        if cert.not_valid_before_utc > now:
            return f"'{_name(cert)}' is not valid before {cert.not_valid_before_utc:%Y-%m-%d}"
    if hostname and not leaf_matches_hostname(chain[0], hostname)[0]:
        return f"the leaf '{_name(chain[0])}' is not valid for {hostname}"
    return (
        "a certificate on the path breaks a rule of the web PKI (key usage, basic "
        "constraints or an extension); run 'tlsmatrix inspect' to see which"
    )


def _issuer_of(
    cert: x509.Certificate, sent: Sequence[x509.Certificate], deadline: float
) -> tuple[x509.Certificate, str]:
    for candidate in sent:
        if candidate is not cert and _issued_by(cert, candidate):
            return candidate, "sent by the server"
    urls = _ca_issuers(cert)
    name = _name(cert)
    if not urls:
        raise FixChainError(
            f"'{name}' names no AIA caIssuers URL and its issuer "
            f"'{short_name(cert.issuer.rfc4514_string())}' was not sent: the chain cannot be "
            "completed automatically; get the intermediate from your CA"
        )
    errors = []
    for url in urls:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            errors.append(f"no time left for {url}")
            break
        try:
            fetched = fetch_issuer(url, timeout=min(remaining, 10.0))
        except AIAFetchError as exc:
            errors.append(str(exc))
            continue
        for candidate in fetched.certificates:
            if _issued_by(cert, candidate):
                return candidate, f"downloaded from {url}"
        errors.append(f"{url} holds no certificate that issued '{name}'")
    raise FixChainError("; ".join(errors))


def _ca_issuers(cert: x509.Certificate) -> list[str]:
    from cryptography.x509.oid import AuthorityInformationAccessOID, ExtensionOID

    try:
        aia = cert.extensions.get_extension_for_oid(ExtensionOID.AUTHORITY_INFORMATION_ACCESS)
    except (x509.ExtensionNotFound, ValueError):
        return []
    return [
        d.access_location.value
        for d in aia.value
        if d.access_method == AuthorityInformationAccessOID.CA_ISSUERS
        and isinstance(d.access_location, x509.UniformResourceIdentifier)
    ]


def _name(cert: x509.Certificate) -> str:
    return short_name(cert.subject.rfc4514_string())


INSTALL_HELP = """\
Install it (the file holds the leaf first, then the intermediates; never the root):
  nginx    ssl_certificate     {path};   (with ssl_certificate_key pointing at your key)
  Apache   SSLCertificateFile  {path}    (2.4.8+; older: SSLCertificateChainFile for the
           intermediates)
  HAProxy  append the private key to the same file and use it in `bind ... ssl crt FILE`
  AWS      ACM/IAM certificate import: paste the leaf into "Certificate body" and ONLY the
           intermediates into "Certificate chain" (leaving that field empty is exactly how
           a server ends up sending the leaf alone)
Then check again: tlsmatrix run TARGET
"""
