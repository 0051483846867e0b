"""Bad input through the CLI, as a user (or an attacker feeding a hosts file) types it:
exactly one clear line on stderr, exit 2, nothing on stdout, no traceback — and nothing
is ever handed to a shell.

Complements tests/test_cli.py::test_bad_input_gives_one_line_and_exit_2 (not repeated
here). No target below can reach the network: each is rejected before any probe runs.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tlsmatrix.errors import UsageError
from tlsmatrix.runner.targets import parse_resolve, parse_target

from tests._cli import tlsmatrix


def assert_usage_error(result, needle: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert lines[0].startswith("tlsmatrix: error: "), lines[0]
    assert needle in lines[0], lines[0]
    assert result.stdout == ""


# (argv after "run", what the one line must say)
TARGETS = [
    (["example.invalid;id"], "not a valid host name"),
    (["$(id).example"], "not a valid host name"),
    (["`id`.example"], "not a valid host name"),
    (["https://a.invalid|id/"], "not a valid host name"),
    (["a.invalid&&id"], "not a valid host name"),
    (["a.invalid>out"], "not a valid host name"),
    (["--", "-oProxyCommand=id.invalid"], "may not start with '-'"),
    (["--", "--help.invalid"], "may not start with '-'"),
    (["a .invalid"], "spaces or control characters"),
    (["a\tb.invalid"], "spaces or control characters"),
    (["a.invalid\nb.invalid"], "spaces or control characters"),
    (["a\u202eb.invalid"], "not a valid host name"),  # right-to-left override
    (["::1:8443"], "IPv6 addresses must be in brackets"),
    (["fe80::1:443"], "IPv6 addresses must be in brackets"),
    (["https://::1:8443/"], "IPv6 addresses must be in brackets"),
    (["https://[::1/"], "malformed target"),
    (["a.invalid:70000"], "port out of range"),
    (["https://a.invalid:0/"], "port out of range"),
    (["a.invalid:-1"], "port"),
    (["a.invalid:http"], "port"),
    (["a.invalid:\u00b2"], "port"),
    (["https://user:secret@a.invalid/"], "user info"),
    (["https://user@a.invalid/"], "user info"),
    (["http://a.invalid/"], "only https://"),
    (["file:///etc/passwd"], "only https://"),
    (["wss://a.invalid/"], "only https://"),
    (["HTTP://a.invalid/"], "only https://"),
    (["https:///path-only"], "no host"),
    (["https://a..invalid/"], "not a valid host name"),
    (["https://" + "a" * 64 + ".invalid/"], "not a valid host name"),
]


@pytest.mark.parametrize("argv, needle", TARGETS, ids=[repr(a[-1])[:40] for a, _ in TARGETS])
def test_bad_target(argv, needle):
    assert_usage_error(tlsmatrix("run", *argv), needle)


@pytest.fixture
def files(tmp_path: Path, pki) -> dict[str, str]:
    """Bad hosts files and CA files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    pem = Path(pki.root_pem).read_bytes()
    der = x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)
    made = {
        "empty": b"",
        "comments": b"# nothing here\n\n   \n",
        "binary": bytes(range(256)) * 4,
        "nul": b"a.invalid\n\x00b.invalid\n",
        "latin1": "caf\xe9.invalid\n".encode("latin-1"),
        "metachar": b"good.invalid\n$(id).invalid\n",
        "leading_dash": b"-oProxyCommand=id\n",
        "spaces": b"a b.invalid\n",
        "der": der,
        "truncated": pem[: len(pem) // 2],
        "key_only": b"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n"
        b"-----END PRIVATE KEY-----\n",
        "garbage_pem": b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
    }
    paths = {}
    for name, data in made.items():
        path = tmp_path / name
        path.write_bytes(data)
        paths[name] = str(path)
    (tmp_path / "a-directory").mkdir()
    paths["directory"] = str(tmp_path / "a-directory")
    return paths


HOSTS_FILES = [
    ("empty", "names no targets"),
    ("comments", "names no targets"),
    ("binary", "binary"),
    ("nul", "binary"),  # argv cannot carry a NUL; a hosts file can
    ("latin1", "not UTF-8"),
    ("metachar", "not a valid host name"),
    ("leading_dash", "may not start with '-'"),
    ("spaces", "spaces or control characters"),
    ("directory", "cannot read hosts file"),
]


@pytest.mark.parametrize("name, needle", HOSTS_FILES)
def test_bad_hosts_file(files, name, needle):
    assert_usage_error(tlsmatrix("run", "--hosts-file", files[name]), needle)


CA_FILES = [
    ("directory", "is a directory"),
    ("der", "looks like DER"),
    ("truncated", "malformed PEM certificate"),
    ("garbage_pem", "malformed PEM certificate"),
    ("key_only", "no PEM certificate"),
    ("empty", "no PEM certificate"),
]


@pytest.mark.parametrize("name, needle", CA_FILES)
def test_bad_ca_file(files, name, needle):
    assert_usage_error(tlsmatrix("run", "a.invalid", "--ca-file", files[name]), needle)
    # the same check guards --trust
    result = tlsmatrix("run", "a.invalid", "--trust", f"curl={files[name]}")
    assert_usage_error(result, needle)


OPTIONS = [
    (["--timeout", "-0.5"], "positive"),
    (["--timeout", "0"], "positive"),
    (["--timeout", "nan"], "positive"),
    (["--timeout", "inf"], "positive"),
    (["--timeout", "ten"], "not a number"),
    (["--jobs", "-3"], "at least 1"),
    (["--jobs", "1.5"], "at least 1"),
    (["--client", "curl;id"], "unknown client"),
    (["--client", "../../bin/sh"], "unknown client"),
    (["--trust", "nosuch=/etc/hosts"], "unknown client"),
    (["--resolve", "a.invalid:443:$(id)"], "must be an IP address"),
    (["--resolve", "a.invalid:443"], "HOST:PORT:ADDR"),
    (["--resolve", "a.invalid:\u00b2:127.0.0.1"], "port is not a number"),  # "²" was a traceback
    (["--resolve", "a.invalid:99999:127.0.0.1"], "port out of range"),
    (["--resolve", "$(id):443:127.0.0.1"], "not a valid host name"),
]


@pytest.mark.parametrize("argv, needle", OPTIONS, ids=[" ".join(a) for a, _ in OPTIONS])
def test_bad_option(argv, needle):
    assert_usage_error(tlsmatrix("run", "a.invalid", *argv), needle)


def test_shell_payloads_are_never_executed(tmp_path, servers, pki):
    """Shell syntax is data, never code: rejected in a host name, and carried verbatim
    (as one argv element or one JSON string) to every client when it is in the path."""
    marker = f"/tmp/tlsmatrix-PWNED-{uuid.uuid4().hex}"
    payloads = [f"$(touch {marker}-a)", f"`touch {marker}-b`", f";touch {marker}-c"]
    for payload in payloads:
        result = tlsmatrix("run", f"{payload}.example")
        assert result.returncode == 2
    # In the path, ${IFS} stands in for the space a URL cannot hold.
    path = "/" + "".join(p.replace(" ", "${IFS}") for p in payloads)
    url = f"https://localhost:{servers['good'].port}{path}"
    result = tlsmatrix("run", url, "--ca-file", pki.root_pem, "--timeout", "10", "--format", "json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["results"]
    ran = [r for r in rows if r["verdict"] != "skipped"]
    assert len(ran) >= 7, rows
    # the server answers any path: every client that ran got through with it
    assert all(r["verdict"] == "accept" for r in ran), [(r["client"], r["detail"]) for r in ran]
    for suffix in "abc":
        assert not os.path.exists(f"{marker}-{suffix}"), "a shell ran the payload"


@pytest.mark.parametrize("name", ["curl", "openssl", "node", "java", "gnutls", "wget"], ids=str)
def test_subprocess_adapters_pass_the_host_as_one_argv_element(name, tmp_path):
    """Subprocess adapters build argv lists: the host (and path) arrive as one element
    each, never joined into a command line for a shell."""
    from tlsmatrix import clients
    from tlsmatrix.clients.base import Trust
    from tlsmatrix.runner.targets import parse_target

    target = parse_target("https://bücher.invalid:8443/$(id);`id`")
    trust = Trust.bundle(str(tmp_path / "ca.pem"))
    adapter = clients.load(name)
    if name == "curl":
        argv = adapter.argv(target, trust, 5)
        assert argv[-1] == target.url and argv[-2] == "--"
        assert "--globoff" in argv  # [] and {} in a path are not curl URL patterns
    elif name == "openssl":
        argv = adapter.argv(target, trust)
        assert "xn--bcher-kva.invalid:8443" in argv
        assert argv[argv.index("-servername") + 1] == "xn--bcher-kva.invalid"
    elif name == "node":
        args = adapter.arguments(target, trust, 5)
        assert args["host"] == "xn--bcher-kva.invalid" and args["path"] == target.path
        return
    elif name == "java":
        argv = adapter.argv("java", target, trust, 5)
        assert "xn--bcher-kva.invalid" in argv and target.path in argv
    elif name == "gnutls":
        argv = adapter.argv("gnutls-cli", target, trust)
        assert any(a.endswith("xn--bcher-kva.invalid") for a in argv)
    else:
        argv = adapter.argv("wget", target, trust, 5, None)
        assert argv[-1] == target.url
    assert isinstance(argv, list) and all(isinstance(a, str) for a in argv)
    # the shell syntax in the path survives untouched, in exactly one element
    assert sum(target.path in a for a in argv) == (0 if name in ("openssl", "gnutls") else 1)


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        st.text(),
        st.text(alphabet="[]:/@.%$`;|&-_ \t\n\x00²١aéß", max_size=30),
        st.text(max_size=20).map("https://".__add__),
        st.lists(st.text(alphabet="a.:[]²١-1 \n", max_size=8), min_size=3, max_size=4).map(
            ":".join
        ),
    )
)
def test_target_parser_raises_only_usage_errors(text):
    """Whatever is typed, the parser returns a Target or a UsageError (one clear line
    in the CLI), never another exception (a traceback)."""
    for parse in (parse_target, parse_resolve):
        try:
            parse(text)
        except UsageError as exc:
            assert "\n" not in str(exc)
