"""The public Python API: every ``__all__`` is true, ``import tlsmatrix`` stays cheap, bad
input raises one clear UsageError, and the API reproduces the incident on a real server."""

from __future__ import annotations

import importlib
import json
import pkgutil
import tomllib
import types
from pathlib import Path

import pytest
import tlsmatrix
from tlsmatrix.lab.tlsserver import TLSServer

from tests._cli import ROOT, python
from tests._cli import tlsmatrix as tlsmatrix_cli

PACKAGES = tomllib.loads((Path(ROOT) / "pyproject.toml").read_text())["tool"]["setuptools"][
    "packages"
]
# Modules whose __all__ is not sorted yet: they are being rewritten on other branches
# (diagnosis in harness/chain, the adapter bases in clients/). Remove each once it lands.
UNSORTED_PENDING = {
    "tlsmatrix.clients._common",
}
# The sub-packages DESIGN.md makes public, beside the functions and result types.
PUBLIC_SUBPACKAGES = {"tlsmatrix": {"lab"}, "tlsmatrix.lab": {"export"}}
HEAVY = ("requests", "httpx", "urllib3", "aiohttp", "pycurl", "cryptography", "OpenSSL")


def modules_with_all() -> list[types.ModuleType]:
    found = []
    for package in PACKAGES:
        pkg = importlib.import_module(package)
        names = [package]
        names += [
            m.name
            for m in pkgutil.iter_modules(pkg.__path__, package + ".")
            if not m.ispkg and not m.name.endswith(".__main__")
        ]
        for name in names:
            module = importlib.import_module(name)
            if hasattr(module, "__all__"):
                found.append(module)
    return found


def test_every_all_is_true():
    modules = modules_with_all()
    assert {"tlsmatrix", "tlsmatrix.lab", "tlsmatrix.clients"} <= {m.__name__ for m in modules}
    for module in modules:
        names = list(module.__all__)
        assert len(names) == len(set(names)), module.__name__
        missing = [n for n in names if not hasattr(module, n)]
        assert missing == [], f"{module.__name__}.__all__ names what it lacks: {missing}"
        if module.__name__ not in UNSORTED_PENDING:
            assert names == sorted(names), f"{module.__name__}.__all__ is not sorted"


@pytest.mark.parametrize("package", sorted(PUBLIC_SUBPACKAGES))
def test_public_packages_list_their_public_modules_and_document_every_name(package):
    module = importlib.import_module(package)
    listed_modules = {n for n in module.__all__ if isinstance(getattr(module, n), types.ModuleType)}
    assert listed_modules == PUBLIC_SUBPACKAGES[package]
    for name in listed_modules:
        assert getattr(module, name).__name__ == f"{package}.{name}"
    # The lazy table and __all__ agree, and the package docstring names each public name.
    assert sorted(module._LAZY) == module.__all__
    undocumented = [n for n in module.__all__ if n not in module.__doc__]
    assert undocumented == []


def test_the_api_names_and_types():
    assert tlsmatrix.run is importlib.import_module("tlsmatrix.api").run
    assert isinstance(tlsmatrix.lab.Lab, type)
    assert issubclass(tlsmatrix.UsageError, ValueError)
    assert "to_json" in vars(tlsmatrix.RunResult)
    with pytest.raises(AttributeError):
        tlsmatrix.no_such_name  # noqa: B018
    assert (Path(tlsmatrix.__file__).parent / "py.typed").is_file()


def _imported_after(code: str) -> set[str]:
    out = python("-c", f"{code}\nimport sys; print(' '.join(sys.modules))", timeout=60)
    assert out.returncode == 0, out.stderr
    return {name.split(".")[0] for name in out.stdout.split()}


@pytest.mark.parametrize(
    "code",
    [
        "import tlsmatrix",
        "import tlsmatrix.lab",
        "import tlsmatrix, tlsmatrix.lab.pytest_plugin",
        "from tlsmatrix.cli import main\ntry: main(['--help'])\nexcept SystemExit: pass",
        "from tlsmatrix.cli import main\ntry: main(['run', '--help'])\nexcept SystemExit: pass",
    ],
)
def test_import_and_help_stay_cheap(code):
    assert _imported_after(code).isdisjoint(HEAVY)


def test_the_check_sees_a_heavy_import():
    assert "cryptography" in _imported_after(
        "import tlsmatrix\ntlsmatrix.RunResult\nimport tlsmatrix.lab.pki"
    )


# --- bad input: one UsageError with a plain message, before any probe ------------------

BAD_CALLS = [
    (dict(targets="ftp://x.invalid/"), "only https://"),
    (dict(targets=[]), "no targets"),
    (dict(targets=42), "targets must be a string"),
    (dict(targets=[b"https://x.invalid/"]), "strings only"),
    (dict(targets=["https://x.invalid/"], clients=["nope"]), "unknown client 'nope'"),
    (dict(targets=["https://x.invalid/"], clients=[]), "clients is empty"),
    (dict(targets=["https://x.invalid/"], ca_file="/nonexistent/x.pem"), "ca_file"),
    (dict(targets=["https://x.invalid/"], ca_file=3), "path to a PEM file"),
    (dict(targets=["https://x.invalid/"], trust=["curl"]), "trust must be a mapping"),
    (dict(targets=["https://x.invalid/"], trust={"nope": "x.pem"}), "unknown client"),
    (
        dict(targets=["https://x.invalid/"], clients=["curl"], trust={"requests": __file__}),
        "does not include",
    ),
    (dict(targets=["https://x.invalid/"], resolve=["x.invalid:443"]), "HOST:PORT:ADDR"),
    (dict(targets=["https://x.invalid/"], timeout=0), "positive number"),
    (dict(targets=["https://x.invalid/"], timeout="10"), "number of seconds"),
    (dict(targets=["https://x.invalid/"], timeout=float("nan")), "positive number"),
    (dict(targets=["https://x.invalid/"], jobs=0), "jobs"),
    (dict(targets=["https://x.invalid/"], jobs=2.5), "jobs"),
]


@pytest.mark.parametrize(("kwargs", "message"), BAD_CALLS)
def test_bad_input_raises_one_usage_error(kwargs, message):
    with pytest.raises(tlsmatrix.UsageError, match=message) as caught:
        tlsmatrix.run(**kwargs)
    assert "\n" not in str(caught.value)


def test_a_file_that_is_not_pem_is_a_usage_error(tmp_path):
    not_pem = tmp_path / "x.pem"
    not_pem.write_text("hello")
    with pytest.raises(tlsmatrix.UsageError, match="holds no PEM certificate"):
        tlsmatrix.run(["https://x.invalid/"], ca_file=not_pem)


def test_inspect_bad_input():
    with pytest.raises(tlsmatrix.UsageError, match="one string"):
        tlsmatrix.inspect(["https://x.invalid/"])  # type: ignore[arg-type]
    with pytest.raises(tlsmatrix.UsageError, match="positive"):
        tlsmatrix.inspect("https://x.invalid/", timeout=-1)


# --- the incident, through the API --------------------------------------------------


def test_the_incident_through_the_api(pki):
    """A server that sends its leaf only. curl, given the workstation bundle (root + the
    intermediate it had cached), accepts; requests with a certifi-like bundle (roots only)
    rejects for the missing intermediate; to_json() is the `run --format json` document."""
    with TLSServer(pki.chains["leaf_only"].chain, pki.chains["leaf_only"].key) as server:
        url = f"https://localhost:{server.port}/"
        res = tlsmatrix.run(
            [url],
            clients=["curl", "requests"],
            ca_file=pki.root_and_intermediate_pem,
            trust={"requests": Path(pki.root_pem)},
            timeout=10,
            jobs=2,
        )
        cli = tlsmatrix_cli(
            "run", url, "--client", "curl", "--client", "requests",
            "--ca-file", pki.root_and_intermediate_pem, "--trust", f"requests={pki.root_pem}",
            "--format", "json",
        )  # fmt: skip
    rows = {r.client: r for r in res.results}
    assert (rows["curl"].verdict, rows["curl"].reason) == ("accept", "ok"), rows["curl"].detail
    assert (rows["requests"].verdict, rows["requests"].reason) == ("reject", "incomplete_chain")
    assert "intermediate" in rows["requests"].explanation.lower()
    doc = json.loads(res.to_json())
    assert cli.returncode == 0, cli.stderr
    want = json.loads(cli.stdout)
    assert doc.keys() == want.keys() and doc["schema"] == want["schema"]
    volatile = {"elapsed_ms", "started_at", "finished_at"}
    for got_row, want_row in zip(doc["results"], want["results"], strict=True):
        assert {k: v for k, v in got_row.items() if k not in volatile} == {
            k: v for k, v in want_row.items() if k not in volatile
        }


def test_inspect_sees_the_missing_intermediate(pki):
    with TLSServer(pki.chains["leaf_only"].chain, pki.chains["leaf_only"].key) as server:
        inspection = tlsmatrix.inspect(f"https://localhost:{server.port}/", timeout=10)
    assert inspection.report is not None and len(inspection.report.certificates) == 1
    assert inspection.report.missing_issuer
    assert inspection.to_dict()["target"].endswith(f":{server.port}")
