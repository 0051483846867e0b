"""The AIA/CRL server: what it serves, how it fails on purpose, and its log."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request

import pytest
from tlsmatrix.lab.aia import AIAServer

DER = b"0\x03\x02\x01\x01"


def _opener() -> urllib.request.OpenerDirector:
    # No proxies from the environment: the request must go to the loopback server.
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _get(url: str, timeout: float = 5.0, agent: str = "lab-test/1") -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"User-Agent": agent})
    try:
        with _opener().open(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


@pytest.fixture
def aia(tmp_path):
    server = AIAServer(log_file=tmp_path / "aia.jsonl", max_hang=30)
    server.publish("intermediate.der", DER, "application/pkix-cert")
    with server:
        yield server


def test_serves_and_logs_with_user_agent(aia, tmp_path):
    assert aia.url.startswith("http://127.0.0.1:") and aia.url.endswith("/")
    status, body = _get(aia.url + "intermediate.der", agent="fetcher/2.0")
    assert (status, body) == (200, DER)
    (entry,) = aia.fetches("/intermediate.der")
    assert entry.path == "/intermediate.der"
    assert entry.user_agent == "fetcher/2.0"
    assert entry.status == 200
    assert entry.client.startswith("127.0.0.1:")
    assert abs(entry.time - time.time()) < 30
    assert aia.fetches("intermediate.der") == (entry,)
    lines = (tmp_path / "aia.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["user_agent"] == "fetcher/2.0"


def test_404(aia):
    assert _get(aia.url + "missing/intermediate.der")[0] == 404
    assert _get(aia.url + "nothing-here.der")[0] == 404
    assert [e.status for e in aia.log()] == [404, 404]
    assert aia.fetches("/intermediate.der") == ()


def test_hang_never_answers_and_is_logged(aia):
    started = time.monotonic()
    with pytest.raises((TimeoutError, socket.timeout, urllib.error.URLError)):
        _get(aia.url + "hang/intermediate.der", timeout=0.5)
    assert time.monotonic() - started < 5
    (entry,) = aia.fetches("/hang/intermediate.der")
    assert entry.status is None


def test_hang_is_bounded():
    with AIAServer(max_hang=0.3) as server:
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
            s.sendall(b"GET /hang/x HTTP/1.0\r\n\r\n")
            assert s.recv(1024) == b""  # closed without an answer, after max_hang
        assert 0.2 < time.monotonic() - started < 4


def test_stop_releases_hung_requests():
    server = AIAServer(max_hang=60).start()
    s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    s.sendall(b"GET /hang/x HTTP/1.0\r\n\r\n")
    deadline = time.monotonic() + 5
    while not server.log() and time.monotonic() < deadline:
        time.sleep(0.02)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 5
    assert s.recv(1024) == b""
    s.close()


def test_publish_dir(tmp_path):
    (tmp_path / "root.der").write_bytes(DER)
    (tmp_path / "intermediate.crl").write_bytes(b"crl")
    with AIAServer() as server:
        server.publish_dir(tmp_path)
        assert server.paths() == ["/intermediate.crl", "/root.der"]
        status, body = _get(server.url + "intermediate.crl")
        assert (status, body) == (200, b"crl")
