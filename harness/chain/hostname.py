"""Whether a leaf covers a host name, decided as modern clients decide it."""

from __future__ import annotations

import ipaddress

from cryptography import x509
from cryptography.x509.oid import ExtensionOID
from tlsmatrix.chain.certfacts import _common_name, _one_line, raw_san


def leaf_matches_hostname(leaf: x509.Certificate, hostname: str) -> tuple[bool, str]:
    """Whether ``leaf`` covers ``hostname`` as modern clients decide it (RFC 6125 via
    service_identity): DNS SANs with wildcards for names, IP SANs for IP literals, the
    common name ignored, a trailing dot ignored, IDN compared in punycode.

    Returns (matched, why-not)."""
    from service_identity.exceptions import CertificateError
    from service_identity.hazmat import DNS_ID, DNSPattern, IPAddress_ID, IPAddressPattern

    host = hostname.strip().strip("[]").rstrip(".")
    try:
        sans = leaf.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
        general_names: x509.SubjectAlternativeName | None = sans.value  # type: ignore[assignment]
    except x509.ExtensionNotFound:
        general_names = None
    except Exception as exc:  # noqa: BLE001 - malformed extension
        # cryptography refuses every extension when one is bad: read the SAN on its own,
        # so a broken AIA (say) is not taken for a name mismatch.
        try:
            general_names = raw_san(leaf)
        except ValueError:
            return False, f"its subjectAltName cannot be decoded ({_one_line(exc)})"
    if general_names is None:
        cn = _common_name(leaf.subject)
        extra = f" (its common name '{cn}' is ignored by modern clients)" if cn else ""
        return False, f"it has no subjectAltName{extra}"

    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if ip is not None:
        ips = general_names.get_values_for_type(x509.IPAddress)
        service_id = IPAddress_ID(ip)
        if any(service_id.verify(IPAddressPattern(pattern=address)) for address in ips):
            return True, ""
        shown = ", ".join(str(a) for a in ips) or "none"
        return False, f"no IP address SAN matches (IP SANs: {shown})"

    try:
        wire = host.encode("idna").decode("ascii") if not host.isascii() else host
        service_id = DNS_ID(wire)
    except (UnicodeError, ValueError) as exc:
        return False, f"'{hostname}' is not a valid DNS name ({_one_line(exc)})"
    names = general_names.get_values_for_type(x509.DNSName)
    for name in names:
        try:
            pattern = DNSPattern.from_bytes(name.encode("utf-8"))
        except (CertificateError, UnicodeError, ValueError):
            continue  # an invalid pattern matches nothing
        if service_id.verify(pattern):
            return True, ""
    shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
    return False, f"no DNS SAN matches (DNS SANs: {shown or 'none'})"
