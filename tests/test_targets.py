from __future__ import annotations

import pytest
from tlsmatrix.clients.base import Target
from tlsmatrix.errors import UsageError
from tlsmatrix.runner.targets import apply_resolve, parse_resolve, parse_target, read_hosts_file


@pytest.mark.parametrize(
    "text, host, port, path",
    [
        ("example.com", "example.com", 443, "/"),
        ("example.com:8443", "example.com", 8443, "/"),
        ("https://Example.COM/x?y=1", "example.com", 443, "/x?y=1"),
        ("https://[::1]:8443/", "::1", 8443, "/"),
        ("127.0.0.1:4443", "127.0.0.1", 4443, "/"),
        ("bücher.example", "bücher.example", 443, "/"),
        ("example.com.", "example.com.", 443, "/"),
    ],
)
def test_valid_targets(text, host, port, path):
    t = parse_target(text)
    assert (t.host, t.port, t.path) == (host, port, path)


def test_idn_is_sent_as_punycode_and_shown_as_written():
    t = parse_target("https://bücher.example:8443/")
    assert t.ascii_host == "xn--bcher-kva.example"
    assert t.url == "https://xn--bcher-kva.example:8443/"
    assert t.name == "https://bücher.example:8443"


def test_ipv6_url_keeps_brackets():
    t = parse_target("[::1]:8443")
    assert t.url == "https://[::1]:8443/" and t.is_ip


@pytest.mark.parametrize(
    "text, needle",
    [
        ("", "empty"),
        ("-x", "'-'"),
        ("http://example.com", "only https"),
        ("https://user:pw@example.com/", "user info"),
        ("example.com:70000", "port"),
        ("example.com:0", "port"),
        ("::1:443", "brackets"),
        ("exa\x00mple.com", "control"),
        ("exa mple.com", "spaces"),
        ("a;rm -rf /", "spaces"),
        ("a$(id).example", "not a valid host"),
        ("https://:443/", "no host"),
    ],
)
def test_invalid_targets(text, needle):
    with pytest.raises(UsageError, match=None) as info:
        parse_target(text)
    assert needle in str(info.value)


def test_resolve_entries():
    assert parse_resolve("backend.example:443:127.0.0.1") == ("backend.example", 443, "127.0.0.1")
    assert parse_resolve("h.example:8443:[::1]") == ("h.example", 8443, "::1")
    for bad in ("nohost", "h:443", "h:x:1.2.3.4", "h:443:not-an-ip", "h:0:127.0.0.1"):
        with pytest.raises(UsageError):
            parse_resolve(bad)
    targets = apply_resolve(
        [Target("h.example", 443), Target("other.example", 443)], [("h.example", 443, "127.0.0.1")]
    )
    assert [t.connect_to for t in targets] == ["127.0.0.1", None]
    assert targets[0].address == "127.0.0.1" and targets[0].ascii_host == "h.example"


def test_hosts_file(tmp_path):
    f = tmp_path / "hosts.txt"
    f.write_text("# servers\nexample.com\n\n  other.example:8443  # staging\n")
    assert read_hosts_file(str(f)) == ["example.com", "other.example:8443"]
    (tmp_path / "empty.txt").write_text("# nothing\n")
    with pytest.raises(UsageError, match="names no targets"):
        read_hosts_file(str(tmp_path / "empty.txt"))
    (tmp_path / "bin").write_bytes(b"\x00\x01\x02")
    with pytest.raises(UsageError, match="binary"):
        read_hosts_file(str(tmp_path / "bin"))
