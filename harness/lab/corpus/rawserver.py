"""A minimal TLS 1.2 server that sends certificate bytes exactly as given.

OpenSSL (so Python's ``ssl``, nginx, ``s_server``) and GnuTLS refuse to load a leaf whose
extensions do not decode; a corpus case about such a leaf still has to reach clients. This
server speaks just enough TLS 1.2 to do that: one cipher suite
(TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, RFC 5289), P-256, an EC leaf key, no session
resumption, no renegotiation. It answers one HTTP request with a short 200 and closes.
It is lab equipment for loopback only: it is not hardened and must never face a network.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import socket
import struct
from collections.abc import Sequence

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from tlsmatrix.lab.tlsserver import ThreadedListener

SUITE = b"\xc0\x2b"  # TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
SECP256R1 = 23
ECDSA_SHA256 = b"\x04\x03"
TLS12 = b"\x03\x03"
HANDSHAKE, CCS, ALERT, APPDATA = 22, 20, 21, 23
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n"
    b"Connection: close\r\n\r\nok\n"
)


class Abort(Exception):
    """The peer went away, sent an alert or something this server does not speak."""


def prf(secret: bytes, label: bytes, seed: bytes, size: int) -> bytes:
    """TLS 1.2's PRF with SHA-256 (RFC 5246 section 5)."""
    seed = label + seed
    out, a = b"", seed
    while len(out) < size:
        a = hmac.new(secret, a, hashlib.sha256).digest()
        out += hmac.new(secret, a + seed, hashlib.sha256).digest()
    return out[:size]


class _Conn:
    """One connection's record layer and handshake state."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.pending = b""  # handshake bytes received but not yet parsed
        self.transcript = b""
        self.read_key: tuple[AESGCM, bytes] | None = None
        self.write_key: tuple[AESGCM, bytes] | None = None
        self.read_seq = self.write_seq = 0

    def _exact(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise Abort("connection closed")
            data += chunk
        return data

    def record(self) -> tuple[int, bytes]:
        kind, _version, length = struct.unpack("!B2sH", self._exact(5))
        payload = self._exact(length)
        if self.read_key is not None and kind != CCS:
            aead, salt = self.read_key
            size = len(payload) - 8 - 16
            aad = struct.pack("!QB2sH", self.read_seq, kind, TLS12, size)
            try:
                payload = aead.decrypt(salt + payload[:8], payload[8:], aad)
            except Exception as exc:
                raise Abort("bad record") from exc
            self.read_seq += 1
        if kind == ALERT:
            raise Abort(f"alert {payload.hex()}")
        return kind, payload

    def send(self, kind: int, payload: bytes) -> None:
        for at in range(0, max(len(payload), 1), 16384):
            part = payload[at : at + 16384]
            if self.write_key is not None:
                aead, salt = self.write_key
                explicit = struct.pack("!Q", self.write_seq)
                aad = struct.pack("!QB2sH", self.write_seq, kind, TLS12, len(part))
                part = explicit + aead.encrypt(salt + explicit, part, aad)
                self.write_seq += 1
            self.sock.sendall(struct.pack("!B2sH", kind, TLS12, len(part)) + part)

    def message(self) -> tuple[int, bytes]:
        """The next handshake message (type, body); it is added to the transcript."""
        while len(self.pending) < 4 or len(self.pending) < 4 + _u24(self.pending[1:4]):
            kind, payload = self.record()
            if kind != HANDSHAKE:
                raise Abort(f"expected a handshake record, got {kind}")
            self.pending += payload
        size = 4 + _u24(self.pending[1:4])
        raw, self.pending = self.pending[:size], self.pending[size:]
        self.transcript += raw
        return raw[0], raw[4:]


def _u24(data: bytes) -> int:
    return int.from_bytes(data, "big")


def _vec(data: bytes, size: int) -> bytes:
    return len(data).to_bytes(size, "big") + data


def _handshake(kind: int, body: bytes) -> bytes:
    return bytes([kind]) + _vec(body, 3)


def _parse_hello(body: bytes) -> tuple[bytes, list[bytes], dict[int, bytes]]:
    """(client random, cipher suites, extensions by type) of a ClientHello."""
    random, at = body[2:34], 34
    at += 1 + body[at]  # session id
    size = int.from_bytes(body[at : at + 2], "big")
    suites = [body[i : i + 2] for i in range(at + 2, at + 2 + size, 2)]
    at += 2 + size
    at += 1 + body[at]  # compression methods
    extensions: dict[int, bytes] = {}
    if at + 2 <= len(body):
        end = at + 2 + int.from_bytes(body[at : at + 2], "big")
        at += 2
        while at + 4 <= end:
            kind, size = struct.unpack("!HH", body[at : at + 4])
            extensions[kind] = body[at + 4 : at + 4 + size]
            at += 4 + size
    return random, suites, extensions


def serve_connection(
    sock: socket.socket, chain: Sequence[bytes], key: ec.EllipticCurvePrivateKey
) -> None:
    """Run one TLS 1.2 handshake sending ``chain`` as it is, then answer one request.
    Raises Abort (or OSError) when the client gives up, which a rejecting client does."""
    conn = _Conn(sock)
    kind, body = conn.message()
    if kind != 1:
        raise Abort("expected a ClientHello")
    client_random, suites, extensions = _parse_hello(body)
    if SUITE not in suites:
        conn.send(ALERT, b"\x02\x28")  # handshake_failure
        raise Abort("the client offers no suite this server speaks")
    server_random = os.urandom(32)
    ext = b""
    if 0xFF01 in extensions or b"\x00\xff" in suites:
        ext += b"\xff\x01\x00\x01\x00"  # renegotiation_info, empty (RFC 5746)
    ext += b"\x00\x0b\x00\x02\x01\x00"  # ec_point_formats: uncompressed
    hello = TLS12 + server_random + b"\x00" + SUITE + b"\x00" + _vec(ext, 2)
    certificate = _vec(b"".join(_vec(der, 3) for der in chain), 3)
    ephemeral = ec.generate_private_key(ec.SECP256R1())
    point = ephemeral.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    params = b"\x03" + SECP256R1.to_bytes(2, "big") + _vec(point, 1)
    signature = key.sign(client_random + server_random + params, ec.ECDSA(hashes.SHA256()))
    flight = (
        _handshake(2, hello)
        + _handshake(11, certificate)
        + _handshake(12, params + ECDSA_SHA256 + _vec(signature, 2))
        + _handshake(14, b"")
    )
    conn.transcript += flight
    conn.send(HANDSHAKE, flight)

    kind, body = conn.message()
    if kind != 16:
        raise Abort("expected a ClientKeyExchange")
    peer = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), body[1 : 1 + body[0]])
    premaster = ephemeral.exchange(ec.ECDH(), peer)
    master = prf(premaster, b"master secret", client_random + server_random, 48)
    block = prf(master, b"key expansion", server_random + client_random, 40)
    conn.read_key = (AESGCM(block[0:16]), block[32:36])
    kind, _ = conn.record()
    if kind != CCS:
        raise Abort("expected ChangeCipherSpec")
    expected = prf(master, b"client finished", hashlib.sha256(conn.transcript).digest(), 12)
    kind, body = conn.message()
    if kind != 20 or not hmac.compare_digest(body, expected):
        raise Abort("bad client Finished")
    conn.send(CCS, b"\x01")
    conn.write_key = (AESGCM(block[16:32]), block[36:40])
    verify = prf(master, b"server finished", hashlib.sha256(conn.transcript).digest(), 12)
    conn.send(HANDSHAKE, _handshake(20, verify))

    request = b""
    while b"\r\n\r\n" not in request and len(request) < 65536:
        kind, payload = conn.record()
        if kind == APPDATA:
            request += payload
    conn.send(APPDATA, RESPONSE)
    conn.send(ALERT, b"\x01\x00")  # close_notify


class RawTLSServer(ThreadedListener):
    """Serve ``chain`` (DER, leaf first, sent byte for byte) with the leaf's EC P-256
    ``key`` on host:port; the same start()/stop()/port as TLSServer."""

    def __init__(
        self,
        chain: Sequence[bytes],
        key: ec.EllipticCurvePrivateKey,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        timeout: float = 10.0,
    ) -> None:
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise ValueError("RawTLSServer speaks ECDSA with P-256 only")
        self.chain, self.key, self.timeout = tuple(chain), key, timeout
        super().__init__(host, port)

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(self.timeout)
        with conn, contextlib.suppress(Abort, OSError, ValueError, IndexError):
            serve_connection(conn, self.chain, self.key)
