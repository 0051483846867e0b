"""Building the chain a server should send: its leaf, then each intermediate, no root.

Issuers come from what the server already sends, else from the AIA caIssuers URLs
(bounded: see harness.aia_fetch); the result must verify against a trust bundle before
it is written."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

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
    # What is wrong beyond the server's reach (the trust anchor itself), in words.
    notes: tuple[str, ...] = ()

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
        if _self_signed(current) or (current is not sent[0] and current in roots):
            break  # a root, or the bundle's own (intermediate) anchor: served up to here
        if any(_issued_by(current, root) and _self_signed(root) for root in roots):
            break  # the next one is a root the bundle holds: never served
        # An intermediate the bundle holds is still served: it is no root, and clients
        # with another store need it (the bundle may hold no root above it at all).
        issuer, how = _issuer_of(current, sent, roots, deadline)
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
    anchor = _anchor(chain[-1], roots)
    verdict = verify_against(chain[0], chain[1:], roots, hostname)
    # Our own checks decide and name the rule: the verifier accepts some chains most
    # clients refuse (a leaf keyUsage without digitalSignature) and its refusals carry
    # its internals.
    why = _why_not(chain, anchor, hostname)
    if why is not None:
        raise FixChainError(f"the built chain does not verify: {why}")
    notes = _anchor_notes(anchor)
    if not verdict.ok and not notes:
        at_root = [f for f in _rule_findings(chain, anchor) if f.cert.cert not in chain]
        if at_root:
            raise FixChainError(
                f"the built chain does not verify: {at_root[0].evidence} "
                f"({at_root[0].reason.value}); the trust anchor is at fault, serving other "
                "certificates cannot fix that"
            )
        raise FixChainError(
            "the built chain does not verify: the verifier refuses it and tlsmatrix's own "
            "rule checks find no cause; run 'tlsmatrix inspect' to see the paths"
        )
    return FixedChain(chain, tuple(steps), verdict, notes)


def _anchor(top: x509.Certificate, roots: Sequence[x509.Certificate]) -> x509.Certificate | None:
    """The bundle certificate the chain ends at: ``top`` itself or the root that issued it."""
    if top in roots:
        return top
    return next((r for r in roots if _issued_by(top, r)), None)


def _why_not(
    chain: Sequence[x509.Certificate], anchor: x509.Certificate | None, hostname: str | None
) -> str | None:
    """The first rule the chain to serve breaks, in words and with its reason (our own
    checks: tlsmatrix.chain.rules, validity, the host name, weak signatures)."""
    from datetime import UTC, datetime

    from tlsmatrix.chain.certfacts import _WEAK_SIGNATURE_OIDS
    from tlsmatrix.chain.hostname import leaf_matches_hostname

    now = datetime.now(UTC)
    for cert in chain:
        if cert.not_valid_after_utc < now:
            return f"'{_name(cert)}' expired on {cert.not_valid_after_utc:%Y-%m-%d} (expired)"
        if cert.not_valid_before_utc > now:
            return (
                f"'{_name(cert)}' is not valid before {cert.not_valid_before_utc:%Y-%m-%d} "
                "(not_yet_valid)"
            )
    for finding in _rule_findings(chain, anchor):
        if finding.cert.cert in chain:
            return f"{finding.evidence} ({finding.reason.value})"
    for cert in chain:
        weak = _WEAK_SIGNATURE_OIDS.get(cert.signature_algorithm_oid.dotted_string)
        if weak:
            return (
                f"'{_name(cert)}' is signed with {weak}, a broken hash current clients "
                "refuse (weak_signature)"
            )
    if hostname and not leaf_matches_hostname(chain[0], hostname)[0]:
        return f"the leaf '{_name(chain[0])}' is not valid for {hostname} (hostname_mismatch)"
    return None


def _rule_findings(chain: Sequence[x509.Certificate], anchor: x509.Certificate | None) -> Any:
    """tlsmatrix.chain.rules over the chain and its anchor, as one path."""
    from tlsmatrix.chain.paths import NO_ISSUER, ROOT, SENT, CandidatePath, CertPool
    from tlsmatrix.chain.rules import check_path

    pool = CertPool()
    certs = [*chain, anchor] if anchor is not None and anchor not in chain else list(chain)
    links = tuple(e for e in (pool.add(c, SENT) for c in certs) if e is not None)
    ends = ROOT if links and links[-1].self_signed else NO_ISSUER
    return check_path(CandidatePath(links, ends))


def _anchor_notes(anchor: x509.Certificate | None) -> tuple[str, ...]:
    """What is odd about the trust anchor itself: the server cannot change it, so it is
    said, not refused."""
    if anchor is None:
        return ()
    notes = []
    if not anchor.subject.rdns:
        notes.append(
            f"the root (SHA-256 {_fingerprint(anchor)[:16]}) has an empty subject: strict "
            "verifiers (RFC 5280, cryptography) refuse a chain to it, most clients accept it"
        )
    from tlsmatrix.chain.paths import SENT, CertPool

    entry = CertPool().add(anchor, SENT)  # the path builder's own reading of the anchor
    if entry is not None and entry.signs_itself and not entry.self_signed:
        notes.append(
            f"the root '{_name(anchor)}' signs itself but its authorityKeyIdentifier names "
            "another key: OpenSSL-style clients take it for an intermediate and reject the "
            "chain unless they trust partial chains; reissue the root (serving it does not help)"
        )
    return tuple(notes)


def _fingerprint(cert: x509.Certificate) -> str:
    from cryptography.hazmat.primitives import hashes

    return cert.fingerprint(hashes.SHA256()).hex()


def _issuer_of(
    cert: x509.Certificate,
    sent: Sequence[x509.Certificate],
    roots: Sequence[x509.Certificate],
    deadline: float,
) -> tuple[x509.Certificate, str]:
    for candidate in sent:
        if candidate is not cert and _issued_by(cert, candidate):
            return candidate, "sent by the server"
    for candidate in roots:
        if candidate != cert and _issued_by(cert, candidate):
            return candidate, "from the trust bundle"
    urls = _ca_issuers(cert)
    name = _name(cert)
    # A sent certificate that bears the issuer's name but whose key fails the signature.
    impostor = next(
        (
            c
            for c in sent
            if c is not cert and c.subject == cert.issuer and signature_verifies(cert, c) is False
        ),
        None,
    )
    if impostor is not None and not urls:
        raise FixChainError(_bad_signature(cert, impostor))
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
    if impostor is not None:
        raise FixChainError(_bad_signature(cert, impostor))
    raise FixChainError("; ".join(errors))


def _bad_signature(cert: x509.Certificate, issuer: x509.Certificate) -> str:
    return (
        f"the signature on '{_name(cert)}' does not verify with the key of its issuer "
        f"'{_name(issuer)}', which the server sends (bad_signature): '{_name(cert)}' was "
        "altered or not issued by that key; reissue it"
    )


def _ca_issuers(cert: x509.Certificate) -> list[str]:
    from cryptography.x509.oid import AuthorityInformationAccessOID, ExtensionOID

    try:
        aia = cert.extensions.get_extension_for_oid(ExtensionOID.AUTHORITY_INFORMATION_ACCESS)
    except (x509.ExtensionNotFound, x509.DuplicateExtension, ValueError):
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
