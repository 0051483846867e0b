"""The Chromium adapter against real local servers, with the real browser.

Every browser in this module runs with ``--host-resolver-rules`` that send every name but
localhost/127.0.0.1 to a local sink, so nothing can leave the machine, and a test checks
that the sink heard nothing (no update checks, metrics, safe browsing ...).
"""

from __future__ import annotations

import datetime as dt
import http.server
import os
import re
import signal
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from tlsmatrix.clients.base import Reason, Target, Trust, Verdict
from tlsmatrix.clients.chromium import ChromiumClient
from tlsmatrix.clients.chromium.browser import (
    BLOCKED_HOSTS,
    DEFAULT_BINARY,
    HEADLESS_SHELL,
    default_binary,
    headless_flags,
    resolver_rules,
)
from tlsmatrix.clients.chromium.mapping import PageState, read_error
from tlsmatrix.lab.tlsserver import ThreadedListener, TLSServer

from tests.chains import Node, make
from tests.conftest import missing, needs

pytestmark = needs(ChromiumClient().info().available, "chromium or certutil not installed")

NOW = dt.datetime.now(dt.UTC)
LOCALHOST = ("localhost",)  # the leaves' one name


# --- pure logic ---------------------------------------------------------------------


def reason_for_net_error(text: str) -> Reason:
    return read_error(PageState(error_text=text))[0]


def test_net_error_mapping() -> None:
    # "no path to a trusted root": unknown_issuer, refined by the harness from the chain
    assert reason_for_net_error("net::ERR_CERT_AUTHORITY_INVALID") is Reason.UNKNOWN_ISSUER
    assert reason_for_net_error("net::ERR_CERT_COMMON_NAME_INVALID") is Reason.HOSTNAME_MISMATCH
    # a date is wrong, which one Chromium does not say: never defaulted to expired
    assert reason_for_net_error("net::ERR_CERT_DATE_INVALID") is Reason.INVALID_CERTIFICATE
    assert reason_for_net_error("net::ERR_CONNECTION_REFUSED") is Reason.CONNECTION_REFUSED
    assert reason_for_net_error("net::ERR_NAME_NOT_RESOLVED") is Reason.DNS_FAILURE
    # a certificate rule, not a TLS-level failure
    assert reason_for_net_error("net::ERR_CERT_NAME_CONSTRAINT_VIOLATION") is (
        Reason.NAME_CONSTRAINTS
    )
    assert reason_for_net_error("net::ERR_EMPTY_RESPONSE") is Reason.OK  # after the handshake
    assert reason_for_net_error("net::ERR_UNSAFE_PORT") is Reason.CLIENT_ERROR
    # the browser's own leaf dates name the date error when they show it
    late = PageState(error_text="net::ERR_CERT_DATE_INVALID", valid_to=time.time() - 3600)
    assert read_error(late)[0] is Reason.EXPIRED
    early = PageState(error_text="net::ERR_CERT_DATE_INVALID", valid_from=time.time() + 3600)
    assert read_error(early)[0] is Reason.NOT_YET_VALID


def test_resolver_rules() -> None:
    blocked = ", ".join(f"MAP {p} ~NOTFOUND" for p in BLOCKED_HOSTS)
    assert resolver_rules(Target("a.test", 443)) == blocked
    assert resolver_rules(Target("a.test", 443, connect_to="10.0.0.1"), "X") == (
        f"MAP a.test 10.0.0.1, {blocked}, X"
    )
    assert resolver_rules(Target("a.test", 443, connect_to="::1")).startswith("MAP a.test [::1], ")
    # A target that is itself a blocked name stays reachable.
    assert resolver_rules(Target("www.google.com", 443)).endswith(", EXCLUDE www.google.com")


# --- a PKI with AIA, and servers ----------------------------------------------------


@dataclass(frozen=True)
class Pki:
    dir: Path
    bundle: str  # the roots the tests trust (ours and trustme's)
    int_der: bytes


def _write_server_files(path: Path, leaf: Node, *chain: Node) -> None:
    """``path``.pem (the leaf, then ``chain``) and ``path``.key, as :func:`serve` reads them."""
    path.with_suffix(".pem").write_bytes(b"".join(n.pem for n in (leaf, *chain)))
    path.with_suffix(".key").write_bytes(leaf.key_pem)


class AiaLog(http.server.ThreadingHTTPServer):
    """Serves /int.der; everything else 404. Remembers (path, user agent) of each GET."""

    def __init__(self, int_der: bytes) -> None:
        self.int_der = int_der
        self.requests: list[tuple[str, str]] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                server.requests.append((self.path, self.headers.get("User-Agent", "")))
                if self.path == "/int.der":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/pkix-cert")
                    self.send_header("Content-Length", str(len(server.int_der)))
                    self.end_headers()
                    self.wfile.write(server.int_der)
                else:
                    self.send_error(404)

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    def paths(self) -> list[str]:
        return [p for p, _ in self.requests]


class Sink(ThreadedListener):
    """A TCP listener that records the first bytes of every connection made to it."""

    def __init__(self) -> None:
        super().__init__("127.0.0.1", 0)
        self.heard: list[bytes] = []

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(1)
        try:
            self.heard.append(conn.recv(4096))
        except OSError:
            self.heard.append(b"")
        conn.close()


@pytest.fixture(scope="module")
def sink() -> Iterator[Sink]:
    with Sink() as s:
        yield s


@pytest.fixture(scope="module")
def client(sink: Sink) -> Iterator[ChromiumClient]:
    rules = f"MAP * 127.0.0.1:{sink.port}, EXCLUDE localhost, EXCLUDE 127.0.0.1"
    with ChromiumClient(extra_resolver_rules=rules) as c:
        yield c


@pytest.fixture(scope="module")
def aia_log() -> Iterator[AiaLog]:
    server = AiaLog(b"")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory, aia_log: AiaLog) -> Pki:
    d = tmp_path_factory.mktemp("pki")
    root = make("tlsmatrix test root")
    inter = make("tlsmatrix test intermediate", root)
    aia_log.int_der = inter.der
    base = f"http://127.0.0.1:{aia_log.server_port}"
    leaves = {
        "good": ([inter], None, {}),
        "aia": ([], f"{base}/int.der", {}),
        "deadaia": ([], f"{base}/missing.der", {}),
        "expired": (
            [inter],
            None,
            {"not_after": NOW - dt.timedelta(days=1), "not_before": NOW - dt.timedelta(days=30)},
        ),
        "future": (
            [inter],
            None,
            {"not_before": NOW + dt.timedelta(days=2), "not_after": NOW + dt.timedelta(days=30)},
        ),
    }
    # localhost only: a probe of 127.0.0.1 is a hostname mismatch (test_wrong_host)
    for name, (extra, aia, validity) in leaves.items():
        leaf = make("localhost", inter, ca=False, aia=aia, hosts=LOCALHOST, **validity)
        _write_server_files(d / name, leaf, *extra)
    # A self-signed leaf, and a chain from a root nobody trusts.
    _write_server_files(d / "selfsigned", make("localhost", ca=False, hosts=LOCALHOST))
    other = make("untrusted root")
    other_int = make("untrusted int", other)
    leaf = make("localhost", other_int, ca=False, hosts=LOCALHOST)
    _write_server_files(d / "untrusted", leaf, other_int, other)
    bundle = d / "roots.pem"
    bundle.write_bytes(root.pem)
    return Pki(d, str(bundle), inter.der)


def serve(pki: Pki, name: str) -> TLSServer:
    return TLSServer(str(pki.dir / f"{name}.pem"), str(pki.dir / f"{name}.key"))


def probe(
    client: ChromiumClient,
    port: int,
    trust: Trust,
    *,
    host: str = "localhost",
    timeout: float = 10.0,
):  # noqa: ANN201
    return client.probe(Target(host, port), trust, timeout)


# --- verdicts -----------------------------------------------------------------------


def test_good_chain_accepted_and_warm_probe_is_fast(client: ChromiumClient, pki: Pki) -> None:
    with serve(pki, "good") as srv:
        first = probe(client, srv.port, Trust.bundle(pki.bundle))
        second = probe(client, srv.port, Trust.bundle(pki.bundle))
    assert first.verdict is Verdict.ACCEPT, first
    assert first.reason is Reason.OK and first.detail == "HTTP 200"
    assert first.tls_version == "TLS 1.3"
    assert first.trust is not None and first.trust.path == pki.bundle
    assert "Chrome Root Store" in first.trust.origin
    assert second.verdict is Verdict.ACCEPT
    assert second.elapsed_ms < 3000, second.elapsed_ms


def test_native_trust_does_not_know_our_root(client: ChromiumClient, pki: Pki) -> None:
    with serve(pki, "good") as srv:
        obs = probe(client, srv.port, Trust.native())
    assert obs.verdict is Verdict.REJECT, obs
    assert obs.detail == "net::ERR_CERT_AUTHORITY_INVALID" and obs.issuer_unknown
    assert obs.trust is not None and obs.trust.origin == "Chrome Root Store (built-in)"


def test_aia_fetch_completes_chain_and_nothing_carries_over(
    client: ChromiumClient, pki: Pki, aia_log: AiaLog
) -> None:
    aia_log.requests.clear()
    with serve(pki, "aia") as aia_srv, serve(pki, "deadaia") as dead_srv:
        fetched = probe(client, aia_srv.port, Trust.bundle(pki.bundle))
        after_fetch = probe(client, dead_srv.port, Trust.bundle(pki.bundle))
        again = probe(client, aia_srv.port, Trust.bundle(pki.bundle))
    assert fetched.verdict is Verdict.ACCEPT, fetched
    assert after_fetch.verdict is Verdict.REJECT, after_fetch
    assert after_fetch.reason is Reason.UNKNOWN_ISSUER and after_fetch.issuer_unknown
    assert again.verdict is Verdict.ACCEPT, again
    # Each probe fetched for itself: the intermediate of the first probe did not help the
    # second, and the third fetched it again.
    assert aia_log.paths() == ["/int.der", "/missing.der", "/int.der"], aia_log.requests
    # the User-Agent ClientInfo states is the one the fetches carried
    assert {ua for _, ua in aia_log.requests} == {client.info().aia_user_agent}, aia_log.requests


def test_expired_and_not_yet_valid(client: ChromiumClient, pki: Pki) -> None:
    with serve(pki, "expired") as old, serve(pki, "future") as new:
        expired = probe(client, old.port, Trust.bundle(pki.bundle))
        future = probe(client, new.port, Trust.bundle(pki.bundle))
    # The browser's leaf dates name the error when its security state arrived in time;
    # otherwise the Observation says only "a date is invalid" and the harness decides from
    # the chain. Never the wrong one of the two.
    for obs, right in ((expired, Reason.EXPIRED), (future, Reason.NOT_YET_VALID)):
        assert obs.verdict is Verdict.REJECT, obs
        assert obs.reason is right or (
            obs.reason is Reason.INVALID_CERTIFICATE and obs.certificate_invalid
        ), obs
        assert "net::ERR_CERT_DATE_INVALID" in obs.detail


def test_partial_chain_policy_is_what_the_handshake_shows(
    client: ChromiumClient, pki: Pki, tmp_path: Path
) -> None:
    """The trust holds only the intermediate: ClientInfo.partial_chain says Chromium takes
    it as an anchor, and the leaf-only server is accepted."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    only_int = tmp_path / "intermediate.pem"
    inter = x509.load_der_x509_certificate(pki.int_der)
    only_int.write_bytes(inter.public_bytes(serialization.Encoding.PEM))
    with serve(pki, "deadaia") as srv:  # leaf only, its AIA URL answers 404
        obs = probe(client, srv.port, Trust.bundle(str(only_int)))
    assert client.info().partial_chain is (obs.verdict is Verdict.ACCEPT), obs


def test_wrong_host(client: ChromiumClient, pki: Pki) -> None:
    with serve(pki, "good") as srv:
        obs = probe(client, srv.port, Trust.bundle(pki.bundle), host="127.0.0.1")
    assert (obs.verdict, obs.reason) == (Verdict.REJECT, Reason.HOSTNAME_MISMATCH), obs


@pytest.mark.parametrize("name", ["selfsigned", "untrusted"])
def test_issuer_unknown_for_self_signed_and_untrusted_root(
    client: ChromiumClient, pki: Pki, name: str
) -> None:
    with serve(pki, name) as srv:
        obs = probe(client, srv.port, Trust.bundle(pki.bundle))
    # Chromium says ERR_CERT_AUTHORITY_INVALID for both; the harness refines the reason
    # from the captured chain.
    assert obs.verdict is Verdict.REJECT, obs
    assert obs.issuer_unknown and obs.detail == "net::ERR_CERT_AUTHORITY_INVALID"


def test_concurrent_probes_share_one_browser(client: ChromiumClient, pki: Pki) -> None:
    with serve(pki, "good") as good, serve(pki, "expired") as old:
        ports = [good.port, old.port, good.port, old.port]
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda p: probe(client, p, Trust.bundle(pki.bundle)), ports))
    assert [r.reason for r in results][::2] == [Reason.OK, Reason.OK], results
    for obs in results[1::2]:  # each probe read its own server's date error
        assert obs.detail == "net::ERR_CERT_DATE_INVALID", obs
        assert obs.reason is Reason.EXPIRED or obs.certificate_invalid, obs


class RedirectServer(ThreadedListener):
    """Answers every request over TLS with a 301 to ``location``."""

    def __init__(self, chain: str, key: str, location: str) -> None:
        import ssl

        super().__init__("127.0.0.1", 0)
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(chain, key)
        self.location = location

    def _handle(self, conn: socket.socket) -> None:
        try:
            with self.ctx.wrap_socket(conn, server_side=True) as tls:
                tls.settimeout(5)
                tls.recv(65536)
                tls.sendall(
                    b"HTTP/1.1 301 Moved Permanently\r\nLocation: "
                    + self.location.encode()
                    + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                )
        except OSError:
            pass
        finally:
            conn.close()


def test_redirect_is_recorded_not_followed(client: ChromiumClient, pki: Pki) -> None:
    with Sink() as elsewhere:
        location = f"https://127.0.0.1:{elsewhere.port}/next"
        good = (str(pki.dir / "good.pem"), str(pki.dir / "good.key"))
        with RedirectServer(*good, location) as server:
            obs = probe(client, server.port, Trust.bundle(pki.bundle))
            time.sleep(0.3)
    assert obs.verdict is Verdict.ACCEPT, obs
    assert obs.detail == f"HTTP 301 to {location} (not followed)"
    assert elsewhere.heard == []


# --- errors -------------------------------------------------------------------------


def test_connection_refused(client: ChromiumClient) -> None:
    with socket.create_server(("127.0.0.1", 0)) as s:
        port = s.getsockname()[1]
    obs = probe(client, port, Trust.native(), host="127.0.0.1")
    assert (obs.verdict, obs.reason) == (Verdict.ERROR, Reason.CONNECTION_REFUSED), obs


def test_silent_server_times_out_within_deadline(client: ChromiumClient, pki: Pki) -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts (backlog), never answers
        started = time.monotonic()
        obs = probe(client, silent.getsockname()[1], Trust.native(), host="127.0.0.1", timeout=2)
        elapsed = time.monotonic() - started
    assert (obs.verdict, obs.reason) == (Verdict.TIMEOUT, Reason.TIMEOUT), obs
    assert elapsed < 3.0, elapsed
    with serve(pki, "good") as srv:  # the browser still works afterwards
        assert probe(client, srv.port, Trust.bundle(pki.bundle)).verdict is Verdict.ACCEPT


def test_browser_killed_behind_our_back_is_restarted(client: ChromiumClient, pki: Pki) -> None:
    with serve(pki, "good") as srv:
        assert probe(client, srv.port, Trust.bundle(pki.bundle)).verdict is Verdict.ACCEPT
        for browser in list(client._pool.values()):
            process = browser._process
            if process is not None:
                os.killpg(process.pid, 9)
        obs = probe(client, srv.port, Trust.bundle(pki.bundle))
    assert obs.verdict is Verdict.ACCEPT, obs


def test_hung_browser_times_out_and_is_replaced(client: ChromiumClient, pki: Pki) -> None:
    with serve(pki, "good") as srv:
        assert probe(client, srv.port, Trust.bundle(pki.bundle)).verdict is Verdict.ACCEPT
        browser = list(client._pool.values())[-1]  # the most recently used: this one
        assert browser._process is not None
        os.killpg(browser._process.pid, signal.SIGSTOP)  # alive, but answers nothing
        started = time.monotonic()
        hung = probe(client, srv.port, Trust.bundle(pki.bundle), timeout=2)
        elapsed = time.monotonic() - started
        after = probe(client, srv.port, Trust.bundle(pki.bundle))
    assert (hung.verdict, hung.reason) == (Verdict.TIMEOUT, Reason.TIMEOUT), hung
    assert elapsed < 3.5, elapsed
    assert after.verdict is Verdict.ACCEPT, after


def test_missing_binary_is_unavailable(tmp_path: Path) -> None:
    bogus = ChromiumClient(binary=str(tmp_path / "no-chromium"))
    info = bogus.info()
    assert not info.available and "no-chromium" in (info.unavailable_reason or "")
    obs = bogus.probe(Target("localhost", 443), Trust.native(), 5)
    assert (obs.verdict, obs.reason) == (Verdict.SKIPPED, Reason.CLIENT_UNAVAILABLE)


def test_info_of_installed_browser() -> None:
    info = ChromiumClient().info()
    assert info.available and info.version and info.version.split(".")[0].isdigit()
    assert info.fetches_aia and info.kind == "subprocess" and info.env_vars == ()
    assert info.tls_library == "BoringSSL"


def test_nothing_but_the_targets_was_contacted(
    client: ChromiumClient, pki: Pki, sink: Sink
) -> None:
    """Runs late: every browser of this module sent all other names to the sink."""
    with serve(pki, "good") as srv:
        probe(client, srv.port, Trust.bundle(pki.bundle))
    time.sleep(2)  # background services start a little after the browser
    assert sink.heard == [], [_server_name(b) for b in sink.heard]


def _server_name(hello: bytes) -> str:
    """The SNI host name of a TLS ClientHello (or the first line of anything else)."""
    try:
        if hello[:1] != b"\x16":
            return hello.split(b"\r\n", 1)[0].decode("latin-1")
        pos = 5 + 4 + 2 + 32  # record header, handshake header, version, random
        pos += 1 + hello[pos]  # session id
        pos += 2 + int.from_bytes(hello[pos : pos + 2], "big")  # cipher suites
        pos += 1 + hello[pos]  # compression methods
        end = pos + 2 + int.from_bytes(hello[pos : pos + 2], "big")
        pos += 2
        while pos + 4 <= end:
            kind = int.from_bytes(hello[pos : pos + 2], "big")
            size = int.from_bytes(hello[pos + 2 : pos + 4], "big")
            if kind == 0:  # server_name: list length, type, name length, name
                return hello[pos + 9 : pos + 4 + size].decode("ascii", "replace")
            pos += 4 + size
    except IndexError:
        pass
    return repr(hello[:40])


# --- the headless shell and the full browser ----------------------------------------


@pytest.mark.parametrize("binary", [HEADLESS_SHELL, DEFAULT_BINARY], ids=["shell", "browser"])
def test_both_debian_binaries_give_the_same_answers(
    binary: str, sink: Sink, pki: Pki, aia_log: AiaLog
) -> None:
    """The headless shell (preferred: a fifth of the CPU) and ``chromium --headless=new``
    are one Chromium build: same verdicts, same net errors, and each states the AIA
    User-Agent its own fetches carry."""
    if not os.path.isfile(binary):
        missing(f"{binary} is not installed (chromium-headless-shell / chromium)")
    rules = f"MAP * 127.0.0.1:{sink.port}, EXCLUDE localhost, EXCLUDE 127.0.0.1"
    aia_log.requests.clear()
    with ChromiumClient(binary, extra_resolver_rules=rules) as c:
        assert any(binary in note for note in c.info().notes), c.info().notes
        answers = {}
        for name in ("good", "expired", "untrusted", "aia"):
            with serve(pki, name) as srv:
                obs = probe(c, srv.port, Trust.bundle(pki.bundle))
            # the net error or "HTTP"; the browser may add what its security state said
            answers[name] = (obs.verdict, re.search(r"ERR_[A-Z_]+|HTTP", obs.detail)[0])
        with serve(pki, "good") as srv:
            wrong = probe(c, srv.port, Trust.bundle(pki.bundle), host="127.0.0.1")
        user_agent = c.info().aia_user_agent
    assert answers == {
        "good": (Verdict.ACCEPT, "HTTP"),
        "expired": (Verdict.REJECT, "ERR_CERT_DATE_INVALID"),
        "untrusted": (Verdict.REJECT, "ERR_CERT_AUTHORITY_INVALID"),
        "aia": (Verdict.ACCEPT, "HTTP"),
    }
    assert (wrong.verdict, wrong.detail) == (Verdict.REJECT, "net::ERR_CERT_COMMON_NAME_INVALID")
    assert {ua for _, ua in aia_log.requests} == {user_agent}, aia_log.requests


def test_the_headless_shell_is_preferred() -> None:
    if not os.path.isfile(HEADLESS_SHELL):
        missing("chromium-headless-shell is not installed")
    assert default_binary() == HEADLESS_SHELL
    assert headless_flags(HEADLESS_SHELL) == ()
    assert headless_flags(DEFAULT_BINARY) == ("--headless=new",)
