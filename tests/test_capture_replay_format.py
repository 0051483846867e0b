"""The case format and its schema, the twin's fidelity rules, the limbo export and the
two commands' command lines."""

from __future__ import annotations

import json
import ssl
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtensionOID
from tlsmatrix.cli import main
from tlsmatrix.clients.base import Target
from tlsmatrix.lab.tlsserver import ServerOptions, TLSServer
from tlsmatrix.replay.capture import capture_case, issued_by
from tlsmatrix.replay.case import (
    FORMAT,
    Case,
    CaseCert,
    CaseError,
    CaseTarget,
    CRLFetch,
    TrustSource,
    from_dict,
    load_cases,
    schema_text,
    validate,
)
from tlsmatrix.replay.limbo import limbo_document
from tlsmatrix.replay.twin import TwinPKI

from tests.test_capture_replay import HOST, issue, key_pem, pem


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A chain built here (root -> CA -> leaf, leaf + CA sent), served on loopback."""
    tmp = tmp_path_factory.mktemp("served")
    root = issue("Format Root", None)
    inter = issue("Format CA", root, aia="http://127.0.0.1:9/nothing-listens-here.der")
    leaf = issue(HOST, inter, ca=False)
    (tmp / "chain.pem").write_bytes(pem(leaf, inter))
    (tmp / "key.pem").write_bytes(key_pem(leaf))
    (tmp / "trust.pem").write_bytes(pem(root))
    with TLSServer(str(tmp / "chain.pem"), str(tmp / "key.pem")) as server:
        yield server, tmp, (root, inter, leaf)


@pytest.fixture(scope="module")
def case(served) -> Case:
    server, tmp, _ = served
    return capture_case(
        Target(HOST, server.port, connect_to="127.0.0.1"), timeout=3, ca_file=str(tmp / "trust.pem")
    )


def _schema_keys(schema: dict, node: dict) -> set[str]:
    if "$ref" in node:
        node = schema["$defs"][node["$ref"].rsplit("/", 1)[1]]
    return set(node["properties"])


def test_writer_and_schema_agree_key_for_key(case):
    document = case.to_dict()
    assert validate(document) == []
    schema = json.loads(schema_text())
    props = schema["properties"]
    assert set(document) == set(props) == set(schema["required"])
    assert set(document["target"]) == _schema_keys(schema, props["target"])
    assert set(document["trust"]) == _schema_keys(schema, props["trust"])
    cert_keys = _schema_keys(schema, props["presented"]["items"])
    assert all(set(c) == cert_keys for c in document["presented"] + document["anchors"])
    (fetch,) = document["aia"]
    assert set(fetch) == _schema_keys(schema, props["aia"]["items"])
    assert fetch["outcome"] in props["aia"]["items"]["properties"]["outcome"]["enum"]
    crl_keys = set(CRLFetch("http://crl.example.invalid/x.crl", "skipped").to_dict())
    assert crl_keys == _schema_keys(schema, props["crls"]["items"])
    assert from_dict(json.loads(json.dumps(document))) == case


def test_a_failed_aia_download_is_recorded_not_fatal(case):
    (fetch,) = case.aia
    assert fetch.outcome == "failed" and fetch.certificates == ()
    assert fetch.certificate == case.presented[1].sha256


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda d: d.update(format="tlsmatrix-case/9"), "not a tlsmatrix-case/1 case"),
        (lambda d: d.pop("anchors"), "anchors"),
        (lambda d: d["presented"][0].update(sha256="0" * 64), "does not match its sha256"),
        (lambda d: d["target"].update(port=0), "port"),
    ],
)
def test_bad_cases_are_refused_in_one_line(case, change, words):
    document = json.loads(json.dumps(case.to_dict()))
    change(document)
    with pytest.raises(CaseError) as info:
        from_dict(document, "x.json")
    assert words in str(info.value) and "\n" not in str(info.value)


def test_a_folder_holds_cases_and_other_json(case, tmp_path):
    (tmp_path / "b.json").write_text(json.dumps(case.to_dict()))
    (tmp_path / "a.limbo.json").write_text(json.dumps(limbo_document(case)))
    assert [Path(f).name for f, _ in load_cases(tmp_path)] == ["b.json"]
    with pytest.raises(CaseError):
        load_cases(tmp_path / "a.limbo.json")


# --- twin fidelity ------------------------------------------------------------------------


def _case_of(*certs: x509.Certificate, anchors: tuple[x509.Certificate, ...] = ()) -> Case:
    return Case(
        id="unit",
        captured_at="2026-01-01T00:00:00Z",
        tool="test",
        target=CaseTarget(HOST, 443),
        tls_version=None,
        presented=tuple(CaseCert.from_cert(c) for c in certs),
        aia=(),
        anchors=tuple(CaseCert.from_cert(c) for c in anchors),
        trust=TrustSource("ca-file", "t.pem", None, len(anchors)),
    )


def test_twin_keeps_everything_but_key_signature_and_urls(served):
    _, _, (root, inter, leaf) = served
    pki = TwinPKI([_case_of(leaf.cert, inter.cert, anchors=(root.cert,))], "http://127.0.0.1:1/")
    twins = {
        n: pki.twin(CaseCert.from_cert(c.cert).sha256).certificate
        for n, c in (("root", root), ("inter", inter), ("leaf", leaf))
    }
    for name, original in (("root", root.cert), ("inter", inter.cert), ("leaf", leaf.cert)):
        twin = twins[name]
        for attr in (
            "serial_number",
            "subject",
            "issuer",
            "not_valid_before_utc",
            "not_valid_after_utc",
            "signature_algorithm_oid",
            "version",
        ):
            assert getattr(twin, attr) == getattr(original, attr), (name, attr)
        kept = [
            e for e in original.extensions if e.oid != ExtensionOID.AUTHORITY_INFORMATION_ACCESS
        ]
        assert [
            e for e in twin.extensions if e.oid != ExtensionOID.AUTHORITY_INFORMATION_ACCESS
        ] == kept
        assert twin.public_key() != original.public_key()
        assert type(twin.public_key()) is type(original.public_key())
    assert issued_by(twins["leaf"], twins["inter"]) and issued_by(twins["inter"], twins["root"])
    assert not issued_by(twins["leaf"], inter.cert)  # the twin is not the original's child
    aia = twins["inter"].extensions.get_extension_for_class(x509.AuthorityInformationAccess)
    assert aia.value[0].access_location.value.startswith("http://127.0.0.1:1/missing/")


def test_missing_issuer_gets_a_throwaway_key_and_says_so(served):
    _, _, (_, inter, leaf) = served
    pki = TwinPKI([_case_of(leaf.cert)], "http://127.0.0.1:1/")
    sha = CaseCert.from_cert(leaf.cert).sha256
    assert any("issuer not in the case" in n for n in pki.notes()[sha])


def _openssl_cert(tmp: Path, *args: str) -> x509.Certificate:
    argv = [
        "openssl",
        "req",
        "-x509",
        "-nodes",
        "-keyout",
        str(tmp / "k.pem"),
        "-out",
        str(tmp / "c.pem"),
        "-days",
        "10",
        *args,
    ]
    subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=60, check=True)
    return x509.load_pem_x509_certificate((tmp / "c.pem").read_bytes())


def test_a_key_size_the_library_refuses_is_named_per_certificate(tmp_path):
    weak = _openssl_cert(tmp_path, "-newkey", "rsa:512", "-subj", "/CN=weak.example.invalid")
    pki = TwinPKI([_case_of(weak)], "http://127.0.0.1:1/")
    sha = CaseCert.from_cert(weak).sha256
    assert any("RSA-512 cannot be generated" in n for n in pki.notes()[sha])
    assert pki.twin(sha).certificate.public_key().key_size == 1024


def test_old_signature_algorithms_are_twinned_not_upgraded(tmp_path):
    md5 = _openssl_cert(tmp_path, "-newkey", "rsa:2048", "-md5", "-subj", "/CN=md5.example.invalid")
    pki = TwinPKI([_case_of(md5)], "http://127.0.0.1:1/")
    sha = CaseCert.from_cert(md5).sha256
    twin = pki.twin(sha)
    signed_md5 = twin.certificate.signature_algorithm_oid == md5.signature_algorithm_oid
    # Either the twin is signed with MD5 like the original, or the note says it is not.
    assert signed_md5 or any("cannot sign with" in n for n in twin.notes)
    if signed_md5:
        assert isinstance(twin.certificate.signature_hash_algorithm, hashes.MD5)
        assert issued_by(twin.certificate, twin.certificate)


def test_limbo_export_names_the_fields_limbo_requires(case):
    document = limbo_document(case)
    assert document["version"] == 1
    (tc,) = document["testcases"]
    required = {
        "id",
        "description",
        "validation_kind",
        "trusted_certs",
        "untrusted_intermediates",
        "peer_certificate",
        "signature_algorithms",
        "key_usage",
        "extended_key_usage",
        "expected_result",
        "expected_peer_names",
    }
    assert required <= set(tc)
    assert tc["validation_kind"] == "SERVER"
    assert tc["expected_peer_name"] == {"kind": "DNS", "value": HOST}
    assert tc["peer_certificate"] == case.presented[0].pem
    assert tc["untrusted_intermediates"] == [case.presented[1].pem]
    assert tc["trusted_certs"] == [case.anchors[0].pem]
    assert tc["extended_key_usage"] == ["serverAuth"]
    assert tc["validation_time"] == case.captured_at
    assert tc["expected_result"] == "SUCCESS", tc["description"]
    assert tc["id"].startswith("tlsmatrix::capture::")


# --- command lines --------------------------------------------------------------------------


def test_capture_and_replay_from_the_command_line(served, tmp_path, capsys):
    server, tmp, _ = served
    out = tmp_path / "shop.json"
    code = main(
        [
            "capture",
            f"{HOST}:{server.port}",
            "--resolve",
            f"{HOST}:{server.port}:127.0.0.1",
            "--ca-file",
            str(tmp / "trust.pem"),
            "--timeout",
            "3",
            "-o",
            str(out),
            "--format",
            "limbo",
            "--with-results",
            "-c",
            "stdlib",
        ]
    )
    assert code == 0, capsys.readouterr().err
    document = json.loads(out.read_text())
    assert document["format"] == FORMAT and document["results"]["schema"] == "tlsmatrix/2"
    assert json.loads((tmp_path / "shop.limbo.json").read_text())["testcases"]
    capsys.readouterr()
    code = main(["lab", "replay", str(tmp_path), "-c", "stdlib", "--format", "json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    run = json.loads(captured.out)
    assert [r["verdict"] for r in run["results"]] == ["accept"]
    assert run["replay"]["cases"][0]["original"] == f"{HOST}:{server.port}"
    assert "replay matches the live results of 1 case(s)" in captured.err


@pytest.mark.parametrize(
    "argv",
    [
        ["capture", "shop.example.invalid"],  # no -o
        ["capture", "ftp://shop.example.invalid", "-o", "x.json"],
        ["capture", "shop.example.invalid", "-o", "/nonexistent-dir/x.json"],
        ["capture", "shop.example.invalid", "-o", "x.json", "-c", "stdlib"],
        ["lab", "replay", "/nonexistent/case.json"],
        ["lab", "replay", "tests"],  # a folder without cases
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("tlsmatrix: error:") and "\n" not in err and "Traceback" not in err


def test_capturing_a_closed_port_fails_in_one_line(tmp_path, capsys):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = main(["capture", f"127.0.0.1:{port}", "--timeout", "2", "-o", str(tmp_path / "c.json")])
    err = capsys.readouterr().err.strip()
    assert code == 1 and "nothing to capture" in err and "\n" not in err
    assert not (tmp_path / "c.json").exists()


def test_an_ip_target_sends_no_sni_and_exports_an_ip_peer(served):
    server, tmp, _ = served
    case = capture_case(Target("127.0.0.1", server.port), timeout=3, ca_file=str(tmp / "trust.pem"))
    assert case.target.sni is None and case.target.host == "127.0.0.1"
    (tc,) = limbo_document(case)["testcases"]
    assert tc["expected_peer_name"] == {"kind": "IP", "value": "127.0.0.1"}
    assert tc["expected_result"] == "FAILURE"  # the leaf names only shop.example.invalid


def test_replay_says_what_it_could_not_twin(tmp_path, capsys):
    """An RSA-512 server key: the twin cannot have one, and the replay says so on stderr
    and in the report instead of pretending."""
    weak = _openssl_cert(tmp_path, "-newkey", "rsa:512", "-subj", "/CN=weak.example.invalid")
    # RSA-512 cannot make the RSA-PSS signatures TLS 1.3 needs: the server speaks 1.2.
    tls12 = ServerOptions(max_version=ssl.TLSVersion.TLSv1_2)
    with TLSServer(str(tmp_path / "c.pem"), str(tmp_path / "k.pem"), options=tls12) as server:
        case = capture_case(
            Target("weak.example.invalid", server.port, connect_to="127.0.0.1"),
            timeout=3,
            ca_file=str(tmp_path / "c.pem"),
        )
    assert case.presented[0].sha256 == CaseCert.from_cert(weak).sha256
    assert case.tls_version == "TLSv1.2"
    (tmp_path / "weak.json").write_text(json.dumps(case.to_dict()))
    code = main(["lab", "replay", str(tmp_path / "weak.json"), "-c", "stdlib", "--format", "json"])
    captured = capsys.readouterr()
    assert code == 0
    assert "RSA-512 cannot be generated here" in captured.err
    (replayed,) = json.loads(captured.out)["replay"]["cases"]
    assert any("RSA-512" in n["note"] for n in replayed["notes"])


def test_anchors_are_the_bundle_certificates_paths_can_reach(served):
    from tlsmatrix.replay.capture import find_anchors

    _, _, (root, inter, leaf) = served
    unrelated = issue("Unrelated Root", None)
    same_name_other_key = issue("Format Root", None)
    bundle = [unrelated.cert, same_name_other_key.cert, root.cert]
    found = find_anchors([leaf.cert, inter.cert], bundle)
    assert set(found) == {root.cert, same_name_other_key.cert}
    assert find_anchors([leaf.cert], [root.cert]) == []  # the CA is neither sent nor trusted
