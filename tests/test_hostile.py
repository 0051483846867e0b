"""Every client against servers that misbehave: each probe ends within its timeout plus
1 s, no outcome is a client_error, and the verdict and reason say what really happened.

All clients probe one hostile server side by side (as a matrix run does); the results
are collected once per module and checked per (case, client).
"""

from __future__ import annotations

import contextlib
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from tlsmatrix import clients
from tlsmatrix.clients.base import Observation, Reason, Trust, Verdict
from tlsmatrix.clients.startup import STARTUP_LIMIT_S
from tlsmatrix.lab.tlsserver import ServerOptions, TLSServer
from tlsmatrix.runner.matrix import TrustPlan, run_matrix
from tlsmatrix.runner.targets import parse_target

from tests import hostile_servers as hs
from tests.conftest import loaded_adapters, missing
from tests.pki import CorePKI

ALL = list(clients.BUILTIN)  # every built-in adapter, in report order
SLOW = 2.0  # timeout for the cases that end in a timeout
FAST = 4.0  # timeout for the others (3 s is enough on an idle machine; CI shares cores)
PARALLEL = 4  # probes at once

ACCEPT = (Verdict.ACCEPT, Reason.OK)
REJECT_HANDSHAKE = (Verdict.REJECT, Reason.HANDSHAKE_FAILURE)
TIMEOUT = (Verdict.TIMEOUT, Reason.TIMEOUT)
NOT_TLS = (Verdict.ERROR, Reason.NOT_TLS)


@dataclass(frozen=True)
class Case:
    """A hostile server, the timeout its probes get, and what each client must say:
    ``expected`` for everyone, ``exceptions`` where a client's own signal honestly says
    something else (each explained where the case is defined)."""

    name: str
    timeout: float
    expected: tuple[Verdict, Reason]
    exceptions: dict[str, tuple[Verdict, Reason]]


CASES = [
    # Accepts TCP, never speaks: nothing can happen before the deadline.
    Case("silent", SLOW, TIMEOUT, {}),
    # Closes right after the ClientHello: the handshake failed (EOF), whatever the client.
    Case("close_after_hello", FAST, REJECT_HANDSHAKE, {}),
    # Random bytes (first byte no TLS record type): not TLS. Chromium says only
    # ERR_SSL_PROTOCOL_ERROR, the same as for any broken handshake; its adapter then asks
    # the peer once whether it answers a ClientHello with TLS, and it does not.
    Case("random_bytes", FAST, NOT_TLS, {}),
    # Plain HTTP on the port: not TLS ("wrong version number", "unexpected TLS packet",
    # "Unsupported or unrecognized SSL message"); Chromium as above.
    Case("plain_http", FAST, NOT_TLS, {}),
    # A valid handshake trickled one byte a second: it cannot finish in time.
    Case("trickle", SLOW, TIMEOUT, {}),
    # 150 certificates (leaf + 149 CAs up to a trusted root): deeper than any client
    # allows (OpenSSL 100, Java and GnuTLS far less, and Java refuses the 50 KB message).
    # The OpenSSL-based clients say X509_V_ERR_CERT_CHAIN_TOO_LONG (code 22): path_length.
    # s_client and Node report the chain cut at its depth limit as code 20 "unable to get
    # local issuer certificate", Chromium as ERR_CERT_AUTHORITY_INVALID: their signal is
    # "issuer unknown" (unknown_issuer, refined by the harness). GnuTLS says only "Error in
    # the certificate" and wget "No certificate presented": invalid_certificate, flagged for
    # the chain to decide. Java refuses the 50 KB Certificate message: a TLS-level failure.
    Case(
        "long_chain",
        FAST,
        (Verdict.REJECT, Reason.PATH_LENGTH),
        {
            "openssl": (Verdict.REJECT, Reason.UNKNOWN_ISSUER),
            "node": (Verdict.REJECT, Reason.UNKNOWN_ISSUER),
            "chromium": (Verdict.REJECT, Reason.UNKNOWN_ISSUER),
            "gnutls": (Verdict.REJECT, Reason.INVALID_CERTIFICATE),
            "wget": (Verdict.REJECT, Reason.INVALID_CERTIFICATE),
            "java": REJECT_HANDSHAKE,
            "java-aia": REJECT_HANDSHAKE,
        },
    ),
    # A 1 MB certificate: over every client's limit for the Certificate message
    # (OpenSSL 100 KB "excessive message size", Java 32 KB, GnuTLS "too large").
    Case("huge_certificate", FAST, REJECT_HANDSHAKE, {}),
    # The server requires a client certificate nobody has. TLS 1.3 clients learn it
    # only after their handshake (the alert arrives on the first read or write): still
    # handshake_failure. s_client sends no request and never reads that alert: it
    # checked the certificate, accepted it, and left.
    Case("client_cert_required", FAST, REJECT_HANDSHAKE, {"openssl": ACCEPT}),
    # TLS 1.0 only: every modern client refuses the version.
    Case("tls10_only", FAST, (Verdict.REJECT, Reason.PROTOCOL_VERSION), {}),
    # A 301 to another host: the answer proves the certificate was accepted, and no
    # client may follow it (checked below: the other host sees no connection).
    Case("redirect", FAST, ACCEPT, {}),
    # Half the response headers, then a TCP reset. The handshake had verified the
    # certificate, so the TLS verdict is accept and the detail names the failure.
    # Chromium's ERR_CONNECTION_RESET does not say whether the handshake had finished
    # (a reset during the handshake gives the same), so its honest reading is a
    # handshake failure.
    Case("reset_mid_response", FAST, ACCEPT, {"chromium": REJECT_HANDSHAKE}),
]
BY_NAME = {case.name: case for case in CASES}


@dataclass
class Run:
    observations: dict[str, tuple[Observation, float]]  # client -> (observation, seconds)
    extra: dict[str, int]  # what the servers counted


@pytest.fixture(scope="module")
def adapters() -> Iterator[dict[str, clients.Client]]:
    with loaded_adapters(ALL) as available:
        yield available


@pytest.fixture(scope="module")
def hostile_certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, str, str]]:
    directory = str(tmp_path_factory.mktemp("hostile"))
    return {
        "long_chain": hs.long_chain(directory, 150),
        "huge_certificate": hs.huge_certificate(directory, 1_000_000),
    }


@contextlib.contextmanager
def serve(
    case: str, pki: CorePKI, certs: dict[str, tuple[str, str, str]], extra: dict[str, int]
) -> Iterator[tuple[str, Trust]]:
    """Start the hostile server for ``case``; yield (URL, trust to probe it with)."""
    good = pki.chains["good"]
    root = Trust.bundle(pki.root_pem)
    simple: dict[str, Callable[[], hs.HostileServer]] = {
        "silent": hs.Silent,
        "close_after_hello": hs.CloseAfterHello,
        "random_bytes": hs.RandomBytes,
        "plain_http": hs.PlainHTTP,
    }
    if case in simple:
        with simple[case]() as server:
            yield f"https://localhost:{server.port}/", root
    elif case == "trickle":
        with TLSServer(good.chain, good.key) as upstream, hs.Trickle(upstream.port) as server:
            yield f"https://localhost:{server.port}/", root
            extra["trickled"] = server.sent
    elif case in certs:
        chain, key, anchor = certs[case]
        with TLSServer(chain, key) as server:
            yield f"https://localhost:{server.port}/", Trust.bundle(anchor)
    elif case == "client_cert_required":
        with hs.ClientCertRequired(good.chain, good.key) as server:
            yield f"https://localhost:{server.port}/", root
    elif case == "tls10_only":
        options = ServerOptions(max_version=ssl.TLSVersion.TLSv1)
        with TLSServer(good.chain, good.key, options=options) as server:
            yield f"https://localhost:{server.port}/", root
    elif case == "redirect":
        with hs.ConnectionCounter(host="127.0.0.2") as other:
            location = f"https://127.0.0.2:{other.port}/"
            with hs.Redirect(good.chain, good.key, location) as server:
                yield f"https://localhost:{server.port}/", root
            time.sleep(0.3)  # a client following the redirect would have connected by now
            extra["redirect_target_connections"] = other.connections
    elif case == "reset_mid_response":
        with hs.ResetMidResponse(good.chain, good.key) as server:
            yield f"https://localhost:{server.port}/", root
    else:
        raise AssertionError(case)


def probe_all(
    adapters: dict[str, clients.Client], url: str, trust: Trust, timeout: float
) -> dict[str, tuple[Observation, float]]:
    """The adapters probe ``url`` side by side (PARALLEL at a time, as a matrix run
    does; all 13 at once on two cores would starve the JVMs and the browser of CPU);
    each result comes with its wall time."""
    target = parse_target(url)
    results: dict[str, tuple[Observation, float]] = {}
    slots = threading.Semaphore(PARALLEL)

    def one(name: str) -> None:
        with slots:
            started = time.monotonic()
            obs = adapters[name].probe(target, trust, timeout)
            results[name] = (obs, time.monotonic() - started)

    threads = [threading.Thread(target=one, args=(n,), daemon=True) for n in adapters]
    for t in threads:
        t.start()
    for t in threads:
        t.join(3 * timeout + 10)  # a hung adapter shows up as a missing result, not a hang
    return results


@pytest.fixture(scope="module")
def runs(adapters, pki, hostile_certs) -> dict[str, Run]:
    done: dict[str, Run] = {}
    for case in CASES:
        extra: dict[str, int] = {}
        with serve(case.name, pki, hostile_certs, extra) as (url, trust):
            observations = probe_all(adapters, url, trust, case.timeout)
        done[case.name] = Run(observations, extra)
    return done


@pytest.mark.parametrize("client", ALL)
@pytest.mark.parametrize("case", [c.name for c in CASES])
def test_hostile_server(runs, adapters, case, client):
    if client not in adapters:
        missing(f"{client} is not available here")
    spec = BY_NAME[case]
    assert client in runs[case].observations, f"{client} never returned"
    obs, elapsed = runs[case].observations[client]
    # The probe's own clock: starting the client's runtime (a browser, a worker) happens
    # before its deadline starts and is bounded on its own.
    assert obs.elapsed_ms <= (spec.timeout + 1.0) * 1000, obs
    assert elapsed <= spec.timeout + 1.0 + STARTUP_LIMIT_S, (elapsed, obs)
    assert obs.reason is not Reason.CLIENT_ERROR, obs.detail
    expected = spec.exceptions.get(client, spec.expected)
    assert (obs.verdict, obs.reason) == expected, obs.detail
    if expected[1] is Reason.UNKNOWN_ISSUER:
        assert obs.issuer_unknown, obs  # the client said only "issuer unknown"


def test_trickle_server_really_sends(runs):
    assert runs["trickle"].extra["trickled"] >= 1  # slow, not silent


def test_no_client_follows_a_redirect(runs, adapters):
    assert runs["redirect"].extra["redirect_target_connections"] == 0
    for name, (obs, _) in runs["redirect"].observations.items():
        if name not in ("openssl", "gnutls"):  # these two send no request
            assert "301" in obs.detail, (name, obs.detail)


def test_reset_is_named_when_the_client_saw_it(runs):
    """An accept after a reset says so when the client noticed the reset (clients that
    parsed the status line before the reset report the status, which is fine)."""
    for name, (obs, _) in runs["reset_mid_response"].observations.items():
        if obs.verdict is Verdict.ACCEPT and not obs.detail.startswith(("HTTP", "Verify")):
            assert obs.detail.startswith("certificate accepted; then"), (name, obs.detail)


def test_matrix_over_hostile_servers_completes(adapters, pki):
    """The matrix runner over several hostile servers at once: every row is there, none
    is a client_error, none took longer than its deadline, and the verdicts match."""
    chosen = ["silent", "trickle", "tls10_only", "reset_mid_response"]
    with contextlib.ExitStack() as stack:
        urls = {}
        for case in chosen:
            url, _ = stack.enter_context(serve(case, pki, {}, {}))
            urls[case] = url
        started = time.monotonic()
        result = run_matrix(
            [parse_target(u) for u in urls.values()],
            list(adapters.values()),
            trust=TrustPlan(ca_file=pki.root_pem),
            timeout=FAST,
            jobs=6,
        )
        elapsed = time.monotonic() - started
    assert not result.partial
    assert len(result.results) == len(chosen) * len(adapters)
    by_target = {parse_target(u).name: case for case, u in urls.items()}
    for obs in result.results:
        spec = BY_NAME[by_target[obs.target]]
        assert obs.elapsed_ms <= (FAST + 1.0) * 1000, obs
        assert "stopped waiting" not in obs.detail, obs  # the adapter kept its deadline
        assert (obs.verdict, obs.reason) == spec.exceptions.get(obs.client, spec.expected), obs
    # 52 probes, 6 at a time, 26 of them waiting 3 s: far less than one after another
    assert elapsed < 60, elapsed
