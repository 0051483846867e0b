"""The wheel, as a user gets it: built from this checkout (offline), it holds only
``tlsmatrix/`` and its dist-info, ships its package data, and works from a plain (not
editable) install run from an unrelated folder."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests._cli import ROOT
from tests.conftest import clean_environ

PYPROJECT = tomllib.loads((Path(ROOT) / "pyproject.toml").read_text())
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]
# Repository folder -> the import package it becomes.
MAPPED = {folder: package for package, folder in SETUPTOOLS["package-dir"].items()}
PACKAGE_DATA = [
    "tlsmatrix/py.typed",
    "tlsmatrix/clients/node/",
    "tlsmatrix/clients/java/",
    "tlsmatrix/results/schemas/",
]
IGNORED = shutil.ignore_patterns(".*", "__pycache__", "build", "dist", "*.egg-info", "node_modules")


def run(argv: list[str], cwd: Path, timeout: float = 300, **env: str):
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        cwd=cwd,
        env=clean_environ(**env),
    )
    assert done.returncode == 0, f"{argv}: {done.stdout[-2000:]}{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built from a copy of the checkout (building in place would leave build/ and
    *.egg-info behind), without build isolation so that nothing is downloaded."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "src"
    shutil.copytree(ROOT, source, ignore=IGNORED)
    run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--no-index", "-q", "-w", str(work / "dist"), str(source)],
        cwd=work,
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )  # fmt: skip
    [built] = (work / "dist").glob("tlsmatrix-*.whl")
    return built


def test_every_python_folder_is_a_listed_package():
    """Each folder under harness/ and clients/ that holds an __init__.py is in pyproject's
    ``packages`` list, under the name package-dir gives it."""
    found = set()
    for folder, package in MAPPED.items():
        base = Path(ROOT) / folder
        for init in base.rglob("__init__.py"):
            if "__pycache__" in init.parts:
                continue
            relative = init.parent.relative_to(base).parts
            found.add(".".join((package, *relative)))
    assert found <= set(SETUPTOOLS["packages"]), sorted(found - set(SETUPTOOLS["packages"]))
    assert set(SETUPTOOLS["packages"]) <= found, "packages lists a folder that is not there"


def test_the_wheel_holds_only_tlsmatrix_and_its_data(wheel: Path):
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        entry_points = archive.read(
            next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        ).decode()
    tops = {name.split("/", 1)[0] for name in names}
    assert tops == {"tlsmatrix", f"tlsmatrix-{PYPROJECT['project']['version']}.dist-info"}
    for data in PACKAGE_DATA:
        assert any(n.startswith(data) for n in names), f"{data} is not in the wheel"
    assert any(n.endswith(".js") for n in names if n.startswith("tlsmatrix/clients/node/"))
    assert any(n.endswith(".java") for n in names if n.startswith("tlsmatrix/clients/java/"))
    assert any(n.endswith(".json") for n in names if n.startswith("tlsmatrix/results/schemas/"))
    # Every listed package made it in (as its __init__.py).
    for package in SETUPTOOLS["packages"]:
        assert package.replace(".", "/") + "/__init__.py" in names, package
    points = configparser.ConfigParser()
    points.read_string(entry_points)
    assert points["pytest11"]["tlsmatrix"] == "tlsmatrix.lab.pytest_plugin"
    assert points["console_scripts"]["tlsmatrix"] == "tlsmatrix.cli:entry"


def test_a_plain_install_works_from_another_folder(wheel: Path, tmp_path: Path):
    """Install the wheel (not editable) into a fresh venv; the test environment's
    site-packages is appended for the dependencies, so nothing is downloaded, while its
    editable tlsmatrix (a .pth finder there) is not activated."""
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp_path)
    python = venv / "bin" / "python"
    run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
         "--no-index", "-q", str(wheel)],
        cwd=tmp_path,
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )  # fmt: skip
    site = Path(run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                    cwd=tmp_path).stdout.strip())  # fmt: skip
    (site / "zz_test_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "clients").mkdir()  # a folder named like a PyPI package must not matter
    (elsewhere / "clients" / "__init__.py").write_text("")
    env = {"PATH": os.environ["PATH"]}
    location = run([str(python), "-c", "import tlsmatrix; print(tlsmatrix.__file__)"],
                   cwd=elsewhere, **env).stdout.strip()  # fmt: skip
    assert Path(location).is_relative_to(venv), location
    version = run([str(python), "-m", "tlsmatrix", "--version"], cwd=elsewhere, **env)
    assert version.stdout.strip() == f"tlsmatrix {PYPROJECT['project']['version']}"
    schema = run([str(python), "-m", "tlsmatrix", "schema"], cwd=elsewhere, **env)
    assert '"$schema"' in schema.stdout
    script = run([str(venv / "bin" / "tlsmatrix"), "clients", "--format", "json"],
                 cwd=elsewhere, timeout=120, **env)  # fmt: skip
    assert '"curl"' in script.stdout
    # Package data is found from the installed package.
    data = run(
        [str(python), "-c",
         "from importlib.resources import files as f; "
         "print(sorted(p.name for p in f('tlsmatrix.clients').joinpath('node').iterdir()))"],
        cwd=elsewhere, **env,
    )  # fmt: skip
    assert ".js" in data.stdout
