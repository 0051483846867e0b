"""RawTLSServer, the corpus's TLS 1.2 server that sends certificate bytes as they are:
real handshakes with real clients, the passing case beside the failing ones."""

from __future__ import annotations

import socket
import ssl
import subprocess

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from tlsmatrix.lab.corpus import build_corpus
from tlsmatrix.lab.corpus.rawserver import RawTLSServer, prf
from tlsmatrix.lab.corpus.run import write_case
from tlsmatrix.lab.tlsserver import TLSServer

from tests.conftest import clean_environ


@pytest.fixture
def serve(tmp_path):
    started = []

    def run(case_id):
        case = build_corpus().get(case_id)
        _, _, trust = write_case(case, tmp_path)
        server = RawTLSServer(case.chain_der, load_pem_private_key(case.key_pem, None))
        started.append(server.start())
        return case, server, trust

    yield run
    for server in started:
        server.stop()


def fetch(case, port, trust):
    ctx = ssl.create_default_context(cafile=trust)
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname=case.hostname) as tls,
    ):
        tls.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        return tls.version(), tls.getpeercert(binary_form=True), tls.recv(1024)


def test_a_valid_chain_completes_a_real_handshake(serve):
    case, server, trust = serve("missing_link/d2-complete")
    version, leaf, answer = fetch(case, server.port, trust)
    assert version == "TLSv1.2"
    assert leaf == case.certs["leaf"]
    assert answer.startswith(b"HTTP/1.1 200 OK")


def test_curl_accepts_the_valid_chain_and_names_the_wrong_one(serve):
    for case_id, code in (("missing_link/d1-complete", 0), ("names/san-other-name", 60)):
        case, server, trust = serve(case_id)
        argv = ["curl", "-sS", "--max-time", "10", "--cacert", trust]
        argv += ["--resolve", f"localhost:{server.port}:127.0.0.1"]
        argv += [f"https://localhost:{server.port}/"]
        done = subprocess.run(
            argv,
            capture_output=True,
            timeout=20,
            stdin=subprocess.DEVNULL,
            env=clean_environ(),
        )
        assert done.returncode == code, done.stderr


def test_the_undecodable_leaf_reaches_the_client(serve):
    case, server, trust = serve("malformed/leaf-san")
    with pytest.raises(ssl.SSLError):
        fetch(case, server.port, trust)
    # The bytes on the wire are the malformed leaf itself (OpenSSL will not hand such a
    # certificate back even unverified, so read the server's first flight directly).
    assert case.certs["leaf"] in first_flight(server.port)


def first_flight(port: int) -> bytes:
    """The server's answer to a real ClientHello (Python's ssl over memory BIOs)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        raw.sendall(outgoing.read())
        while b"\x0e\x00\x00\x00" not in received:  # up to ServerHelloDone
            chunk = raw.recv(65536)
            if not chunk:
                break
            received += chunk
    return received


def test_python_ssl_refuses_that_leaf(tmp_path):
    case = build_corpus().get("malformed/leaf-san")
    chain, key, _ = write_case(case, tmp_path)
    with pytest.raises(ssl.SSLError):
        TLSServer(chain, key)


def test_only_p256_keys():
    with pytest.raises(ValueError):
        RawTLSServer([b""], rsa.generate_private_key(public_exponent=65537, key_size=1024))
    with pytest.raises(ValueError):
        RawTLSServer([b""], ec.generate_private_key(ec.SECP384R1()))


def test_prf_matches_the_published_tls12_vector():
    # The SHA-256 PRF test vector circulated on the IETF TLS list (100 bytes).
    secret = bytes.fromhex("9bbe436ba940f017b17652849a71db35")
    seed = bytes.fromhex("a0ba9f936cda311827a6f796ffd5198c")
    out = prf(secret, b"test label", seed, 100)
    assert out[:16].hex() == "e3f229ba727be17b8d122620557cd453"
