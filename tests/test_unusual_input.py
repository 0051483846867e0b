"""Unusual but valid targets work with every client: IDN host names (punycode on the
wire, shown as written), bracketed IPv6 literals, IP addresses checked against IP SANs,
and a trailing dot in the host name. Each passing case has its failing twin beside it.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace

import pytest
import trustme
from tlsmatrix import clients
from tlsmatrix.clients.base import Observation, Reason, Target, Trust, Verdict
from tlsmatrix.lab.tlsserver import TLSServer
from tlsmatrix.runner.targets import parse_target

from tests._cli import ROOT, tlsmatrix
from tests.conftest import clean_environ, loaded_adapters, missing

ALL = list(clients.BUILTIN)
TIMEOUT = 8.0
PARALLEL = 4
ACCEPT = (Verdict.ACCEPT, Reason.OK)
MISMATCH = (Verdict.REJECT, Reason.HOSTNAME_MISMATCH)


def has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


@dataclass(frozen=True)
class Case:
    target: Target
    expected: tuple[Verdict, Reason]
    exceptions: dict[str, tuple[Verdict, Reason]]


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[trustme.CA, str]:
    authority = trustme.CA()
    path = str(tmp_path_factory.mktemp("unusual") / "ca.pem")
    authority.cert_pem.write_to_path(path)
    return authority, path


@contextlib.contextmanager
def server_for(authority: trustme.CA, directory, *names: str, host: str = "127.0.0.1"):
    leaf = authority.issue_cert(*names)
    tag = "-".join(names).replace(":", "_")
    chain, key = directory / f"{tag}.chain.pem", directory / f"{tag}.key.pem"
    chain.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    leaf.private_key_pem.write_to_path(str(key))
    with TLSServer(str(chain), str(key), host=host) as server:
        yield server


def resolved(url: str, address: str = "127.0.0.1") -> Target:
    """The target as ``--resolve HOST:PORT:ADDRESS`` makes it: no DNS lookup at all."""
    return replace(parse_target(url), connect_to=address)


@pytest.fixture(scope="module")
def cases(ca, tmp_path_factory) -> Iterator[dict[str, Case]]:
    authority, _ = ca
    directory = tmp_path_factory.mktemp("unusual-servers")
    with contextlib.ExitStack() as stack:

        def start(*names: str, host: str = "127.0.0.1") -> int:
            return stack.enter_context(server_for(authority, directory, *names, host=host)).port

        idn = start("xn--bcher-kva.invalid")
        only_name = start("localhost")
        with_ip = start("localhost", "127.0.0.1")
        found = {
            # IDN: the certificate names the punycode form; the name as written must
            # reach the wire as punycode (SNI and the check) and match.
            "idn": Case(resolved(f"https://bücher.invalid:{idn}/"), ACCEPT, {}),
            "idn_other_name": Case(resolved(f"https://bucher.invalid:{idn}/"), MISMATCH, {}),
            # An IP address target is checked against the IP SANs...
            "ip": Case(parse_target(f"https://127.0.0.1:{with_ip}/"), ACCEPT, {}),
            # ...and rejected when the address is not among them.
            "ip_not_in_sans": Case(parse_target(f"https://127.0.0.1:{only_name}/"), MISMATCH, {}),
            # "localhost." is the same name as "localhost". Clients that strip the dot
            # (curl, urllib3 and so requests, service-identity, Node, JSSE, GnuTLS, wget,
            # Chromium) accept. OpenSSL's name check compares the name as given and s_client,
            # the ssl module and httpx hand it over unchanged: a genuine mismatch (see
            # test_trailing_dot_mismatch_is_the_ssl_module_s_own).
            "trailing_dot": Case(
                resolved(f"https://localhost.:{only_name}/"),
                ACCEPT,
                {"openssl": MISMATCH, "stdlib": MISMATCH, "httpx": MISMATCH},
            ),
        }
        if has_ipv6_loopback():
            v6 = start("::1", host="::1")
            v6_name_only = start("localhost", host="::1")
            found["ipv6"] = Case(parse_target(f"https://[::1]:{v6}/"), ACCEPT, {})
            found["ipv6_not_in_sans"] = Case(
                parse_target(f"https://[::1]:{v6_name_only}/"), MISMATCH, {}
            )
        yield found


@pytest.fixture(scope="module")
def adapters() -> Iterator[dict[str, clients.Client]]:
    with loaded_adapters(ALL) as available:
        yield available


@pytest.fixture(scope="module")
def observed(cases, adapters, ca) -> dict[tuple[str, str], Observation]:
    """Every case x every client, PARALLEL probes at a time."""
    _, ca_path = ca
    results: dict[tuple[str, str], Observation] = {}
    slots = threading.Semaphore(PARALLEL)

    def one(case: str, client: str) -> None:
        with slots:
            obs = adapters[client].probe(cases[case].target, Trust.bundle(ca_path), TIMEOUT)
            results[(case, client)] = obs

    threads = [
        threading.Thread(target=one, args=(case, client), daemon=True)
        for case in cases
        for client in adapters
    ]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 600
    for t in threads:
        t.join(max(deadline - time.monotonic(), 0))
    return results


CASE_NAMES = ["idn", "idn_other_name", "ip", "ip_not_in_sans", "trailing_dot"]
CASE_NAMES += ["ipv6", "ipv6_not_in_sans"]


@pytest.mark.parametrize("client", ALL)
@pytest.mark.parametrize("case", CASE_NAMES)
def test_unusual_target(cases, adapters, observed, case, client):
    if case not in cases:
        pytest.skip("this machine has no IPv6 loopback")
    if client not in adapters:
        missing(f"{client} is not available here")
    spec = cases[case]
    obs = observed[(case, client)]
    assert obs.target == spec.target.name  # shown as written, e.g. https://bücher.invalid:N
    assert (obs.verdict, obs.reason) == spec.exceptions.get(client, spec.expected), obs.detail


def test_idn_is_shown_as_written_and_sent_as_punycode():
    target = parse_target("https://Bücher.invalid:8443/")
    assert target.name == "https://bücher.invalid:8443"
    assert target.ascii_host == "xn--bcher-kva.invalid"
    assert target.url == "https://xn--bcher-kva.invalid:8443/"


def test_trailing_dot_mismatch_is_the_ssl_module_s_own(ca, tmp_path):
    """The stdlib adapter's mismatch for "localhost." is what the ssl module itself does
    with that server_hostname, not something the adapter adds."""
    authority, ca_path = ca
    with server_for(authority, tmp_path, "localhost") as server:
        ctx = ssl.create_default_context(cafile=ca_path)
        for name, ok in (("localhost", True), ("localhost.", False)):
            with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
                try:
                    ctx.wrap_socket(sock, server_hostname=name).close()
                    accepted = True
                except ssl.SSLCertVerificationError as exc:
                    assert exc.verify_code == 62
                    accepted = False
            assert accepted is ok, name


def test_idn_through_the_cli_with_resolve(ca, tmp_path):
    """--resolve with a name as written: every client connects to loopback, checks the
    punycode name, and the report shows the name as written."""
    authority, ca_path = ca
    with server_for(authority, tmp_path, "xn--bcher-kva.invalid") as server:
        url = f"https://bücher.invalid:{server.port}/"
        result = tlsmatrix(
            "run",
            url,
            "--resolve",
            f"bücher.invalid:{server.port}:127.0.0.1",
            "--ca-file",
            ca_path,
            "--timeout",
            str(TIMEOUT),
            "--format",
            "json",
            env=clean_environ(PYTHONPATH=ROOT),
        )
    assert result.returncode == 0, result.stderr
    rows = [r for r in json.loads(result.stdout)["results"] if r["verdict"] != "skipped"]
    assert len(rows) >= 7
    for row in rows:
        assert row["target"] == f"https://bücher.invalid:{server.port}", row
        assert (row["verdict"], row["reason"]) == ("accept", "ok"), row
