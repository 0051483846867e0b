"""``tlsmatrix preflight`` end to end: real files made here with cryptography (not a lab
scenario), served on 127.0.0.1 by the command itself, judged by real clients. Trust is
always given with --ca-file: the native stores of this machine hold no test root."""

from __future__ import annotations

import base64
import json
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from tlsmatrix.cli import main
from tlsmatrix.lab.nginx import nginx_binary
from tlsmatrix.preflight import inputs
from tlsmatrix.preflight.serve import offline_aia_note, private_dir, serving

from tests.conftest import needs
from tests.test_preflight_lint import AIA_URL, INTERMEDIATE, NAME, Files, _key_pem, make_files

IN_CI = bool(os.environ.get("CI"))
# Clients that do not fetch AIA and so show the incident: each must be installed.
INCIDENT_CLIENTS = ("requests", "openssl", "node")


@pytest.fixture
def files(tmp_path: Path) -> Files:
    return make_files(str(tmp_path))


@pytest.fixture
def aia_files(tmp_path: Path) -> Iterator[tuple[Files, str]]:
    """Files whose leaf names an AIA URL on 127.0.0.1 that serves the intermediate, as a
    public CA's does: the evidence a diagnosis may use offline (no network needed)."""
    import http.server
    import threading

    der: list[bytes] = []

    class Issuer(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            self.send_response(200)
            self.send_header("Content-Type", "application/pkix-cert")
            self.send_header("Content-Length", str(len(der[0])))
            self.end_headers()
            self.wfile.write(der[0])

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Issuer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/intermediate.crt"
        made = make_files(str(tmp_path), aia=url)
        der.append(made.intermediate_cert.public_bytes(serialization.Encoding.DER))
        yield made, url
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where preflight's private directory goes, to check it is gone afterwards."""
    place = tmp_path / "tmp"
    place.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(place))
    return place


def preflight_dirs(place: Path) -> list[Path]:
    """preflight's private directories left in ``place`` (adapters keep their own)."""
    return list(place.glob("tlsmatrix-preflight-*"))


def preflight(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["preflight", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_leaf_alone_is_caught_before_deployment(
    aia_files: tuple[Files, str], private_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files, aia_url = aia_files
    args = ("--cert", files.leaf, "--key", files.key, "--ca-file", files.root)
    code, out, err = preflight(capsys, *args, "-c", ",".join(INCIDENT_CLIENTS), "--format", "json")
    assert code == 1
    report = json.loads(out)
    rows = {r["client"]: r for r in report["results"]}
    assert set(rows) == set(INCIDENT_CLIENTS)
    for client in INCIDENT_CLIENTS:
        assert (rows[client]["verdict"], rows[client]["reason"]) == ("reject", "incomplete_chain")
        assert rows[client]["target"].startswith(f"https://{NAME}:")
    [chain] = report["chains"].values()
    assert INTERMEDIATE in chain["fix"]
    missing = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(missing) == 1
    assert f"'{INTERMEDIATE}'" in missing[0] and aia_url in missing[0]
    assert "tlsmatrix: preflight: 1 lint error in the files" in err
    [rejected] = [line for line in err.splitlines() if line.startswith("tlsmatrix: --fail-on: ")]
    assert rejected.startswith(f"tlsmatrix: --fail-on: rejected on https://{NAME}:")
    assert rejected.endswith(
        ": requests (incomplete_chain), openssl (incomplete_chain), node (incomplete_chain)"
    )
    assert preflight_dirs(private_tmp) == []

    code, out, err = preflight(capsys, *args, "-c", "requests")
    assert code == 1
    assert f"Fix: serve the intermediate '{INTERMEDIATE}' after the leaf" in out


def test_aia_fetching_clients_are_held_back_offline(
    files: Files, capsys: pytest.CaptureFixture[str]
) -> None:
    """java-aia would download the intermediate from pki.invalid: not offline."""
    args = ("--cert", files.leaf, "--key", files.key, "--ca-file", files.root, "-c", "java-aia")
    code, out, _ = preflight(capsys, *args, "--format", "json")
    [row] = json.loads(out)["results"]
    assert row["verdict"] == "skipped"
    assert row["detail"].startswith(
        f"AIA needs the network: this client would download the "
        f"missing issuer from {AIA_URL}; not fetched offline"
    )
    assert code == 1  # the lint error still fails the check
    # tlsmatrix's own diagnosis does not download it either.
    fetches = [f for c in json.loads(out)["chains"].values() for f in c.get("aia_fetches", [])]
    assert all(f["error"] == "AIA downloads are turned off" for f in fetches)


def test_aia_fetch_that_stays_on_this_machine_is_run(
    aia_files: tuple[Files, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """An AIA URL on 127.0.0.1 needs no network: java-aia runs, fetches and accepts."""
    files, _ = aia_files
    code, out, err = preflight(
        capsys,
        *("--cert", files.leaf, "--key", files.key, "--ca-file", files.root),
        *("-c", "java-aia,openssl", "--format", "json"),
    )
    rows = {r["client"]: (r["verdict"], r["reason"]) for r in json.loads(out)["results"]}
    assert rows == {"java-aia": ("accept", "ok"), "openssl": ("reject", "incomplete_chain")}
    assert code == 1  # the lint error and openssl's rejection stand


def test_offline_aia_note_only_for_remote_urls() -> None:
    assert offline_aia_note([]) is None
    assert offline_aia_note(["http://127.0.0.1:8080/i.crt"]) is None
    assert "http://ca.invalid/i.crt" in (offline_aia_note(["http://ca.invalid/i.crt"]) or "")


def test_swapped_fields_are_named_and_not_served(
    files: Files, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = preflight(
        capsys,
        *("--cert", files.intermediate, "--chain", files.leaf, "--key", files.key),
        *("--ca-file", files.root, "-c", "openssl"),
    )
    assert code == 1
    assert out == ""
    assert (
        f"error: --cert {files.intermediate}, --chain {files.leaf}: the certificate body holds "
        f"'{INTERMEDIATE}', and the chain holds the leaf: swap them"
    ) in err.splitlines()


def test_good_files_every_available_client_accepts(
    files: Files, private_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tlsmatrix import clients

    chosen = [n for n in clients.names() if n != "chromium"]  # chromium: its own tests
    code, out, err = preflight(
        capsys,
        *("--cert", files.leaf, "--chain", files.intermediate, "--key", files.key),
        *("--ca-file", files.root, "-c", ",".join(chosen), "--format", "json"),
    )
    rows = json.loads(out)["results"]
    ran = {r["client"]: (r["verdict"], r["reason"]) for r in rows if r["verdict"] != "skipped"}
    assert ran == {name: ("accept", "ok") for name in ran}, err
    assert {"requests", "openssl", "curl"} <= set(ran)
    if IN_CI:
        assert set(ran) == set(chosen), "CI must exercise every client"
    assert code == 0, err
    assert err == ""
    assert preflight_dirs(private_tmp) == []


def test_disagreement_policy(files: Files, capsys: pytest.CaptureFixture[str]) -> None:
    """requests trusts another root (--trust), openssl the right one: they disagree."""
    elsewhere = Path(files.directory) / "elsewhere"
    elsewhere.mkdir()
    stranger = make_files(str(elsewhere))
    full = files.write("full.pem", files.read(files.leaf) + files.read(files.intermediate))
    args = (
        *("--fullchain", full, "--key", files.key, "--ca-file", files.root),
        *("-c", "requests,openssl", "--trust", f"requests={stranger.root}"),
    )
    code, _, err = preflight(capsys, *args, "--fail-on", "disagreement")
    assert code == 1
    assert err.startswith("tlsmatrix: --fail-on: disagreement on https://")
    code, _, err = preflight(capsys, *args)  # reject is the default
    assert code == 1
    assert err.endswith(": requests (untrusted_root)\n")
    # The conditions are those of run: a rejection is not an error.
    code, _, err = preflight(capsys, *args, "--fail-on", "error")
    assert (code, err) == (0, "")
    code, _, err = preflight(capsys, *args, "--fail-on", "error,rejected")
    assert code == 2
    assert err == (
        "tlsmatrix: error: unknown --fail-on condition 'rejected' (did you mean 'reject'?)\n"
    )


def test_key_that_does_not_match_is_one_line_exit_2(
    files: Files, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = files.write("wrong.key", _key_pem(ec.generate_private_key(ec.SECP256R1())))
    code, out, err = preflight(capsys, "--cert", files.leaf, "--key", wrong)
    assert code == 2 and out == ""
    assert err.count("\n") == 1
    assert err.startswith(f"tlsmatrix: error: --key {wrong} does not match the certificate")


@pytest.mark.parametrize(
    "argv",
    [
        ("--cert", "missing.pem", "--key", "missing.key"),
        ("--fullchain", "missing.pem"),
        ("--pfx", "missing.pfx"),
        ("--cert", "a.pem", "--pfx", "b.pfx"),
        ("--k8s-secret", "missing.yaml"),
    ],
)
def test_bad_input_is_one_line_exit_2(
    argv: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = preflight(capsys, *argv)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and err.startswith("tlsmatrix: error: ")


def test_pfx_and_k8s_secret_are_served(files: Files, capsys: pytest.CaptureFixture[str]) -> None:
    pfx = files.write(
        "web.pfx",
        pkcs12.serialize_key_and_certificates(
            b"web",
            files.leaf_key,  # type: ignore[arg-type]
            files.leaf_cert,
            [files.intermediate_cert],
            serialization.BestAvailableEncryption(b"pw"),
        ),
    )
    password = files.write("pw.txt", b"pw\n")
    trust = ("--ca-file", files.root, "-c", "openssl,requests")
    code, out, err = preflight(capsys, "--pfx", pfx, "--password-file", password, *trust)
    assert code == 0, err
    assert "All clients agree: accept." in out
    wrong = files.write("wrong.txt", b"nope\n")
    code, out, err = preflight(capsys, "--pfx", pfx, "--password-file", wrong, *trust)
    assert code == 2 and "wrong password" in err and out == ""

    crt = base64.b64encode(files.read(files.leaf) + files.read(files.intermediate)).decode()
    key = base64.b64encode(files.read(files.key)).decode()
    secret = files.write(
        "secret.yaml",
        f"apiVersion: v1\nkind: Secret\ntype: kubernetes.io/tls\n"
        f"data:\n  tls.crt: {crt}\n  tls.key: {key}\nmetadata:\n  name: web\n".encode(),
    )
    code, out, err = preflight(capsys, "--k8s-secret", secret, *trust)
    assert code == 0, err
    assert "All clients agree: accept." in out


def test_name_flag_checks_that_name(files: Files, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = preflight(
        capsys,
        *("--cert", files.leaf, "--chain", files.intermediate, "--key", files.key),
        *("--ca-file", files.root, "-c", "openssl,requests", "--name", "www.other.invalid"),
    )
    assert code == 1
    assert "the leaf does not cover 'www.other.invalid'" in err
    assert "https://www.other.invalid:" in out
    assert out.count("hostname_mismatch") == 2


def test_lint_only_starts_no_server(files: Files, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = preflight(
        capsys, "--cert", files.leaf, "--key", files.key, "--ca-file", files.root, "--lint-only"
    )
    assert (code, out) == (1, "")
    assert "missing" in err


@needs(nginx_binary() is not None, "nginx is not installed")
def test_nginx_serves_the_files(files: Files, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = preflight(
        capsys,
        *("--cert", files.leaf, "--key", files.key, "--ca-file", files.root),
        *("-c", "openssl", "--server", "nginx", "--format", "json"),
    )
    [row] = json.loads(out)["results"]
    # Offline, with the AIA URL on a remote name and the intermediate in no store, nothing
    # tells a missing intermediate from an untrusted root: the honest reason, marked inferred.
    assert (row["verdict"], row["reason"], row["reason_source"]) == (
        "reject",
        "unknown_issuer",
        "inferred",
    )
    assert code == 1


def test_files_live_only_in_a_private_dir_removed_after(files: Files) -> None:
    material = inputs.read_fields(files.leaf, files.intermediate, files.key, None)
    with private_dir() as directory, serving(material, directory) as port:
        assert port > 0
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
        written = sorted(p.name for p in directory.iterdir())
        assert written == ["fullchain.pem", "key.pem"]
        for path in directory.iterdir():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not directory.exists()
    with pytest.raises(RuntimeError), private_dir() as directory:
        (directory / "x").write_text("x")
        raise RuntimeError("even when something fails")
    assert not directory.exists()
