"""Just enough DER to re-sign a certificate (or a CRL) without re-encoding it.

Re-building a certificate with cryptography's builder would re-encode every field and
refuse some (SHA-1, MD5, unknown critical extensions); splicing the original
TBSCertificate keeps every byte the twin does not have to change."""

from __future__ import annotations

from dataclasses import dataclass


class DERError(ValueError):
    """The bytes are not the DER this module expects."""


@dataclass(frozen=True)
class TLV:
    """One DER element: ``tag`` (first identifier octet), ``raw`` (the whole element) and
    ``body`` (its contents)."""

    tag: int
    raw: bytes
    body: bytes


def read_tlv(data: bytes, offset: int = 0) -> tuple[TLV, int]:
    """The element at ``offset`` and the offset after it (single-octet tags only, which
    is all X.509 uses)."""
    if offset + 2 > len(data):
        raise DERError("truncated element")
    tag = data[offset]
    if tag & 0x1F == 0x1F:
        raise DERError("multi-octet tags are not supported")
    first = data[offset + 1]
    pos = offset + 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or pos + count > len(data):
            raise DERError("bad length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    end = pos + length
    if end > len(data):
        raise DERError("element runs past the end")
    return TLV(tag, data[offset:end], data[pos:end]), end


def children(body: bytes) -> list[TLV]:
    """The elements inside a constructed element's contents."""
    out = []
    pos = 0
    while pos < len(body):
        tlv, pos = read_tlv(body, pos)
        out.append(tlv)
    return out


def encode(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + body


SEQUENCE = 0x30
BIT_STRING = 0x03
OCTET_STRING = 0x04
BOOLEAN = 0x01
OID = 0x06
EXTENSIONS = 0xA3  # [3] EXPLICIT in TBSCertificate
CRL_EXTENSIONS = 0xA0  # [0] EXPLICIT in TBSCertList


def split_signed(der: bytes) -> tuple[bytes, bytes, bytes]:
    """A signed object (certificate, CRL): (to-be-signed element, signature algorithm
    element, signature bits). Raises DERError."""
    outer, end = read_tlv(der)
    if outer.tag != SEQUENCE or end != len(der):
        raise DERError("not a single DER SEQUENCE")
    parts = children(outer.body)
    if len(parts) != 3 or parts[2].tag != BIT_STRING or not parts[2].body:
        raise DERError("not a signed SEQUENCE { tbs, algorithm, signature }")
    return parts[0].raw, parts[1].raw, parts[2].body[1:]


def join_signed(tbs: bytes, algorithm: bytes, signature: bytes) -> bytes:
    return encode(SEQUENCE, tbs + algorithm + encode(BIT_STRING, b"\x00" + signature))


def tbs_spki_index(tbs_fields: list[TLV]) -> int:
    """Position of subjectPublicKeyInfo among TBSCertificate's fields: after the optional
    [0] version, serial, signature, issuer, validity and subject."""
    start = 1 if tbs_fields and tbs_fields[0].tag == 0xA0 else 0
    index = start + 5
    if index >= len(tbs_fields) or tbs_fields[index].tag != SEQUENCE:
        raise DERError("TBSCertificate has no subjectPublicKeyInfo where expected")
    return index


def oid_der(dotted: str) -> bytes:
    """The OBJECT IDENTIFIER element for a dotted OID."""
    arcs = [int(a) for a in dotted.split(".")]
    body = bytearray([40 * arcs[0] + arcs[1]])
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body += bytes(reversed(chunk))
    return encode(OID, bytes(body))


def rewrite_extensions(
    tbs_fields: list[TLV], replace: dict[bytes, bytes], tag: int = EXTENSIONS
) -> list[TLV]:
    """``tbs_fields`` with the extnValue of each extension whose OID element is a key of
    ``replace`` swapped for the new value; everything else (criticality, order, other
    extensions) byte for byte."""
    out = []
    for field in tbs_fields:
        if field.tag != tag:
            out.append(field)
            continue
        (seq,) = children(field.body)
        exts = []
        for ext in children(seq.body):
            parts = children(ext.body)
            new_value = replace.get(parts[0].raw)
            if new_value is not None:
                parts = [*parts[:-1], TLV(OCTET_STRING, encode(OCTET_STRING, new_value), b"")]
                exts.append(encode(SEQUENCE, b"".join(p.raw for p in parts)))
            else:
                exts.append(ext.raw)
        body = encode(SEQUENCE, b"".join(exts))
        out.append(TLV(tag, encode(tag, body), body))
    return out


def join_tbs(fields: list[TLV]) -> bytes:
    return encode(SEQUENCE, b"".join(f.raw for f in fields))


def is_general_names(value: bytes) -> bool:
    """Whether ``value`` is one DER SEQUENCE of context-tagged GeneralName choices [0]-[8]
    (a subjectAltName's extnValue)."""
    try:
        outer, end = read_tlv(value)
        names = children(outer.body)
    except DERError:
        return False
    return (
        end == len(value)
        and outer.tag == SEQUENCE
        and bool(names)
        and all(n.tag & 0xC0 == 0x80 and n.tag & 0x1F <= 8 for n in names)
    )
