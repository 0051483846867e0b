"""The Python exception walker on the real HTTP libraries: requests, urllib3, httpx,
aiohttp and pyOpenSSL each wrap the ssl error their own way; the signal found inside must
be the cause the certificate was built with. Nothing reads str(exc)."""

from __future__ import annotations

import asyncio
import socket
import ssl

import pytest
from tlsmatrix.clients.base import Reason
from tlsmatrix.clients.signals import python_ssl
from tlsmatrix.lab.tlsserver import TLSServer

from tests._signal_pki import causes, serve_scenarios

CAUSES = causes(("expired", "hostname_mismatch", "incomplete_chain", "name_constraints"))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    yield from serve_scenarios(str(tmp_path_factory.mktemp("signals-python")), CAUSES)


def _url(server: TLSServer) -> str:
    return f"https://localhost:{server.port}/"


def _requests(root: str, url: str) -> BaseException:
    import requests

    with pytest.raises(requests.exceptions.RequestException) as caught:
        requests.get(url, verify=root, timeout=10)
    return caught.value


def _urllib3(root: str, url: str) -> BaseException:
    import urllib3

    pool = urllib3.PoolManager(ca_certs=root, retries=False, timeout=10)
    with pytest.raises(urllib3.exceptions.HTTPError) as caught:
        pool.request("GET", url)
    return caught.value


def _httpx(root: str, url: str) -> BaseException:
    import httpx

    with pytest.raises(httpx.HTTPError) as caught:
        httpx.get(url, verify=ssl.create_default_context(cafile=root), timeout=10)
    return caught.value


def _aiohttp(root: str, url: str) -> BaseException:
    import aiohttp

    async def fetch() -> None:
        context = ssl.create_default_context(cafile=root)
        timeout = aiohttp.ClientTimeout(total=10)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(url, ssl=context),
        ):
            pass

    with pytest.raises(aiohttp.ClientError) as caught:
        asyncio.run(fetch())
    return caught.value


LIBRARIES = {"requests": _requests, "urllib3": _urllib3, "httpx": _httpx, "aiohttp": _aiohttp}


@pytest.mark.parametrize("library", sorted(LIBRARIES))
@pytest.mark.parametrize("cause", sorted(CAUSES))
def test_wrapped_errors_map_to_the_built_cause(served, library: str, cause: str) -> None:
    root, servers = served
    exc = LIBRARIES[library](root, _url(servers[cause]))
    assert python_ssl.signal_for_exception(exc).reason is CAUSES[cause], repr(exc)


def test_pyopenssl_error_tuples(served) -> None:
    from OpenSSL import SSL

    root, servers = served
    seen: list[int] = []

    def remember(_conn, _cert, errno: int, _depth: int, ok: int) -> bool:
        if not ok and not seen:
            seen.append(errno)
        return bool(ok)

    context = SSL.Context(SSL.TLS_CLIENT_METHOD)
    context.load_verify_locations(root)
    context.set_verify(SSL.VERIFY_PEER, remember)
    raw = socket.create_connection(("127.0.0.1", servers["expired"].port), timeout=10)
    raw.setblocking(True)  # pyOpenSSL on a socket with a timeout raises WantReadError
    conn = SSL.Connection(context, raw)
    conn.set_tlsext_host_name(b"localhost")
    conn.set_connect_state()
    with pytest.raises(SSL.Error) as caught:
        conn.do_handshake()
    raw.close()
    signal = python_ssl.signal_for_pyopenssl_error(caught.value.args[0], seen[0])
    assert signal.reason is Reason.EXPIRED
    assert python_ssl.signal_for_pyopenssl_error(caught.value.args[0]).certificate_invalid


def test_socket_level_errors_by_type() -> None:
    assert python_ssl.signal_for_exception(socket.gaierror(-2, "x")).reason is (Reason.DNS_FAILURE)
    assert python_ssl.signal_for_exception(TimeoutError()).reason is Reason.TIMEOUT
    wrapped = RuntimeError("outer")
    wrapped.__cause__ = ConnectionRefusedError(111, "refused")
    assert python_ssl.signal_for_exception(wrapped).reason is Reason.CONNECTION_REFUSED
    assert python_ssl.signal_for_exception(ValueError("x")).reason is Reason.CLIENT_ERROR
