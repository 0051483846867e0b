"""Find a Python interpreter from what the user typed after ``@``, and list those found.

``INTERPRETER`` is a path (``/opt/py36/bin/python3``), a name on PATH (``python3.13``) or
a pyenv version (``3.12`` -> the newest ``$(pyenv root)/versions/3.12.*``). pyenv's shims
on PATH only run the versions pyenv has selected, so a shim is looked through: ``pyenv
which`` names the selected one, else the newest version that has the command is used.

Every candidate is run once (``-E -s -c``, a Python 2 compatible script) to learn what it
really is: its sys.executable, version and ssl.OPENSSL_VERSION.
"""

from __future__ import annotations

import functools
import glob
import json
import os
import re
import shutil
from dataclasses import dataclass

from tlsmatrix.clients.process import run_command

IDENTIFY = (
    "import json, platform, sys\n"
    "try:\n    import ssl; o = ssl.OPENSSL_VERSION\nexcept Exception:\n    o = None\n"
    "print(json.dumps({'executable': sys.executable, 'version': platform.python_version(),"
    " 'implementation': platform.python_implementation(), 'openssl': o}))\n"
)
VERSION_SPEC = re.compile(r"^\d+(\.\d+){0,2}$")
# Names looked for on PATH (and in pyenv's versions) when listing interpreters.
LISTED_NAMES = ("python3", *(f"python3.{minor}" for minor in range(6, 16)))


class InterpreterNotFound(LookupError):
    """``INTERPRETER`` names no runnable Python; the message is one line for the user."""


@dataclass(frozen=True)
class Interpreter:
    path: str  # sys.executable as the interpreter reports it (a venv is not resolved away)
    version: str  # "3.13.0"
    implementation: str  # "CPython"
    openssl: str | None  # ssl.OPENSSL_VERSION, None without an ssl module

    @property
    def version_info(self) -> tuple[int, ...]:
        return tuple(int(p) for p in re.findall(r"\d+", self.version)[:3])

    @property
    def short(self) -> str:
        return ".".join(str(p) for p in self.version_info[:2])


def pyenv_root() -> str:
    """$PYENV_ROOT, else ``pyenv root`` when pyenv is on PATH, else ~/.pyenv."""
    root = os.environ.get("PYENV_ROOT")
    if root:
        return root
    pyenv = shutil.which("pyenv")
    if pyenv:
        try:
            res = run_command([pyenv, "root"], timeout=10)
        except OSError:
            res = None
        if res is not None and res.returncode == 0 and res.stdout.strip():
            return res.stdout.strip()
    return os.path.join(os.path.expanduser("~"), ".pyenv")


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", name))


def pyenv_versions() -> list[str]:
    """Directories of pyenv's installed versions, newest first."""
    found = [d for d in glob.glob(os.path.join(pyenv_root(), "versions", "*")) if os.path.isdir(d)]
    return sorted(found, key=lambda d: _version_key(os.path.basename(d)), reverse=True)


def _in_pyenv(command: str) -> str | None:
    """The newest pyenv version's bin/``command``."""
    for directory in pyenv_versions():
        path = os.path.join(directory, "bin", command)
        if os.access(path, os.X_OK):
            return path
    return None


def _is_shim_dir(directory: str) -> bool:
    """pyenv's shims (and its plugins', e.g. pyenv-virtualenv's)."""
    root = os.path.join(pyenv_root(), "")
    return os.path.basename(directory.rstrip("/")) == "shims" and directory.startswith(root)


def _is_shim(path: str) -> bool:
    return _is_shim_dir(os.path.dirname(path))


def candidate(spec: str) -> str | None:
    """The executable ``spec`` names, before running it."""
    if "/" in spec:
        path = os.path.expanduser(spec)
        return path if os.path.isfile(path) and os.access(path, os.X_OK) else None
    if VERSION_SPEC.match(spec):
        for directory in pyenv_versions():
            name = os.path.basename(directory)
            if name == spec or name.startswith(spec + "."):
                path = os.path.join(directory, "bin", "python")
                if os.access(path, os.X_OK):
                    return path
        return None
    found = shutil.which(spec)
    if found is not None and _is_shim(found):
        # the version pyenv selects for this command, else the newest that has it
        return _pyenv_which(spec) or _in_pyenv(spec) or found
    return found or _in_pyenv(spec)


def _pyenv_which(command: str) -> str | None:
    pyenv = shutil.which("pyenv")
    if pyenv is None:
        return None
    try:
        res = run_command([pyenv, "which", command], timeout=10)
    except OSError:
        return None
    path = res.stdout.strip()
    return path if res.returncode == 0 and os.access(path, os.X_OK) else None


def describe_lookup(spec: str) -> str:
    if "/" in spec:
        return "no such executable file"
    if VERSION_SPEC.match(spec):
        return f"no pyenv version {spec} in {os.path.join(pyenv_root(), 'versions')}"
    return f"not on PATH nor in {os.path.join(pyenv_root(), 'versions')}"


@functools.lru_cache(maxsize=64)
def identify(path: str) -> Interpreter:
    """Run ``path`` to learn what it is. Raises InterpreterNotFound if it is no Python."""
    try:
        res = run_command([path, "-E", "-s", "-c", IDENTIFY], timeout=15)
    except OSError as exc:
        raise InterpreterNotFound(f"{path} does not run: {exc}") from exc
    if res.timed_out:
        raise InterpreterNotFound(f"{path} did not answer within 15 s")
    try:
        data = json.loads(res.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        why = (res.stderr.strip().splitlines() or [f"exit {res.returncode}"])[-1]
        raise InterpreterNotFound(f"{path} is not a Python interpreter ({why})") from None
    return Interpreter(
        path=str(data.get("executable") or path),
        version=str(data.get("version") or "?"),
        implementation=str(data.get("implementation") or "?"),
        openssl=data.get("openssl"),
    )


def resolve(spec: str) -> Interpreter:
    """The interpreter ``spec`` names. Raises InterpreterNotFound with a one-line reason."""
    if not spec:
        raise InterpreterNotFound("no interpreter after '@'")
    path = candidate(spec)
    if path is None:
        raise InterpreterNotFound(f"no Python interpreter {spec!r}: {describe_lookup(spec)}")
    return identify(path)


def discover() -> list[Interpreter]:
    """Every interpreter found on PATH and in pyenv, one per sys.executable."""
    paths: list[str] = []
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if directory and not _is_shim_dir(directory):  # every entry: shims hide the system's
            paths.extend(os.path.join(directory, name) for name in LISTED_NAMES)
    for directory in pyenv_versions():
        paths.append(os.path.join(directory, "bin", "python"))
    seen: dict[str, Interpreter] = {}
    for path in paths:
        if not os.access(path, os.X_OK):
            continue
        try:
            found = identify(path)
        except InterpreterNotFound:
            continue
        seen.setdefault(os.path.realpath(found.path), found)
    return sorted(seen.values(), key=lambda i: (i.version_info, i.path), reverse=True)
