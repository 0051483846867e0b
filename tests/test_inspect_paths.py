"""`tlsmatrix inspect` on chains built here: the paths per store, a Java keystore read as a
store, and plain words instead of a verifier library's internals."""

from __future__ import annotations

import json

from tlsmatrix.lab.aia import AIAServer
from tlsmatrix.lab.tlsserver import TLSServer

from tests.chains import Files, make
from tests.test_diagnosis import tlsmatrix


def test_inspect_names_the_missing_middle_and_reads_the_java_keystore(tmp_path):
    root = make("Inspect Root")
    a = make("Inspect Intermediate A", root)
    with AIAServer() as aia:
        b = make("Inspect Intermediate B", a, aia=aia.url + "a.der")
        leaf = make("localhost", b, ca=False)
        aia.publish("/a.der", a.der, "application/pkix-cert")
        files = Files(str(tmp_path))
        roots = files.write("roots.pem", root)
        chain = files.write("deep.pem", leaf, b, key=leaf)
        with TLSServer(chain, chain + ".key") as server:
            url = f"https://localhost:{server.port}"
            resolve = f"localhost:{server.port}:127.0.0.1"
            result = tlsmatrix(
                "inspect", url, "--resolve", resolve, "--ca-file", roots, "--format", "json"
            )
            table = tlsmatrix("inspect", url, "--resolve", resolve, "--ca-file", roots)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert "incomplete" in [i["code"] for i in doc["issues"]]
    assert doc["missing_issuer"] == a.cert.subject.rfc4514_string()
    stores = {s["origin"]: s for s in doc["trust_stores"]}
    mine = stores["--ca-file"]
    assert mine["verdict"] == "reject"
    assert "Inspect Intermediate A" in mine["detail"] and "a.der" in mine["detail"]
    assert "Inspect Root" in [p["links"][-1]["subject"].split(",")[0][3:] for p in doc["paths"]]
    java = [s for s in doc["trust_stores"] if s["store"] and s["store"].endswith("cacerts")]
    assert java, doc["trust_stores"]
    for entry in java:
        assert entry["verdict"] != "error", entry
        assert "keystore" in entry["form"] and "PEM" not in entry["detail"]
    text = result.stdout + table.stdout
    assert "exhausted" not in text and "not a PEM bundle" not in text
    assert table.returncode == 0, table.stderr
    assert "Paths from the leaf:" in table.stdout and "AIA http://127.0.0.1" in table.stdout


def test_inspect_explains_an_intermediate_only_store_and_a_complete_leaf_by_root(tmp_path):
    root = make("Store Root")
    inter = make("Store Intermediate", root)
    leaf = make("localhost", inter, ca=False)
    direct = make("localhost", root, ca=False)
    files = Files(str(tmp_path))
    only_inter = files.write("inter.pem", inter)
    roots = files.write("roots.pem", root)
    full = files.write("full.pem", leaf, inter, key=leaf)
    by_root = files.write("by-root.pem", direct, key=direct)
    docs = {}
    for name, chain, store in (("partial", full, only_inter), ("direct", by_root, roots)):
        with TLSServer(chain, chain + ".key") as server:
            result = tlsmatrix(
                "inspect",
                f"https://localhost:{server.port}",
                "--resolve",
                f"localhost:{server.port}:127.0.0.1",
                "--ca-file",
                store,
                "--format",
                "json",
            )
        assert result.returncode == 0, result.stderr
        docs[name] = json.loads(result.stdout)
    partial = {s["origin"]: s for s in docs["partial"]["trust_stores"]}["--ca-file"]
    assert partial["verdict"] == "reject"
    assert "holds the intermediate 'Store Intermediate' but no root" in partial["detail"]
    direct_doc = docs["direct"]
    assert direct_doc["issues"] == [] and direct_doc["fix"] == ""
    assert direct_doc["sent"]["status"] == "complete"
    mine = {s["origin"]: s for s in direct_doc["trust_stores"]}["--ca-file"]
    assert mine["verdict"] == "accept" and "self-signed root 'Store Root'" in mine["detail"]
