"""Private, cached venvs that hold what an adapter needs under one interpreter.

One venv per (interpreter path, its full version, adapter, pinned requirements), under
``$XDG_CACHE_HOME/tlsmatrix/venvs/<hash>/`` (``~/.cache`` without XDG_CACHE_HOME;
``TLSMATRIX_CACHE_DIR`` overrides the whole ``tlsmatrix`` directory). It is built once,
under a file lock and its own timeout, and marked ready last: a later load reuses it and
a probe never installs anything.

The pins follow what each interpreter can run: pip honours Requires-Python too, but an
explicit table says which era of a library a row is about, and lets tlsmatrix say plainly
when an interpreter is too old for a library.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tlsmatrix.clients.interpreter.discovery import Interpreter
from tlsmatrix.clients.process import first_line, run_command

# The probe script itself needs this much.
PROBE_MIN_PYTHON = (3, 6)
# The whole provisioning of one venv (venv, pip upgrade, install) may take this long.
PROVISION_TIMEOUT_S = 600.0
READY_MARKER = "tlsmatrix-venv.json"

# adapter -> rows of (minimum Python, requirements), newest first. The first row whose
# minimum the interpreter meets is used; none: the interpreter is too old for the adapter.
PINS: dict[str, tuple[tuple[tuple[int, int], tuple[str, ...]], ...]] = {
    "stdlib": ((PROBE_MIN_PYTHON, ()),),
    "requests": (
        ((3, 8), ("requests>=2.31,<3", "urllib3>=2,<3", "certifi")),
        ((3, 7), ("requests>=2.28,<2.32", "urllib3>=2,<2.1", "certifi")),
        ((3, 6), ("requests>=2.26,<2.28", "urllib3>=1.26,<2", "certifi")),
    ),
    "urllib3": (
        ((3, 8), ("urllib3>=2,<3",)),
        ((3, 7), ("urllib3>=2,<2.1",)),
        ((3, 6), ("urllib3>=1.26,<2",)),
    ),
    "httpx": (((3, 8), ("httpx>=0.27,<0.29", "certifi")),),
    "pyopenssl": (
        ((3, 8), ("pyOpenSSL>=23", "cryptography>=41", "service-identity>=23")),
        ((3, 7), ("pyOpenSSL>=22,<24", "cryptography>=38,<42", "service-identity>=21,<24")),
        # The 2017-era client: cryptography 2.0.3's cp36 manylinux1 wheel bundles
        # OpenSSL 1.1.0f (no TLS 1.3). pyOpenSSL 17.3.0 is the last that accepts it; newer
        # cffi/pycparser no longer install on 3.6.
        (
            (3, 6),
            (
                "pyOpenSSL==17.3.0",
                "cryptography==2.0.3",
                "cffi<1.16",
                "pycparser<2.22",
                "service-identity<22",
            ),
        ),
    ),
}

# pip bundled with an old Python is too old for today's wheels' tags and metadata.
PIP_PINS: dict[tuple[int, int], str] = {(3, 6): "pip<22", (3, 7): "pip<24.1"}


class ProvisionError(Exception):
    """The venv could not be made; the message is one line for ClientInfo."""


@dataclass(frozen=True)
class Requirements:
    adapter: str
    specs: tuple[str, ...]

    @property
    def needs_venv(self) -> bool:
        return bool(self.specs)


def requirements_for(adapter: str, interpreter: Interpreter) -> Requirements | str:
    """The pinned requirements of ``adapter`` under ``interpreter``, or why it cannot run."""
    rows = PINS.get(adapter)
    if rows is None:
        return f"no adapter {adapter!r} runs under another Python"
    version = interpreter.version_info[:2]
    for minimum, specs in rows:
        if version >= minimum:
            return Requirements(adapter, specs)
    minimum, specs = rows[-1]
    what = f"the pinned {', '.join(specs)}" if specs else "the tlsmatrix probe"
    return (
        f"{adapter} needs Python >= {minimum[0]}.{minimum[1]} for {what}; "
        f"{interpreter.path} is Python {interpreter.version}"
    )


def cache_root() -> Path:
    override = os.environ.get("TLSMATRIX_CACHE_DIR")
    if override:
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "tlsmatrix"


def venv_dir(interpreter: Interpreter, req: Requirements, root: Path | None = None) -> Path:
    # realpath: python, python3 and python3.6 of one installation share one venv
    real = os.path.realpath(interpreter.path)
    key = "\0".join([real, interpreter.version, req.adapter, *req.specs])
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return (root or cache_root()) / "venvs" / f"{req.adapter}-py{interpreter.short}-{digest}"


@dataclass(frozen=True)
class Provisioned:
    """A ready venv: the python to run, and whether this call installed it."""

    python: str
    directory: str
    installed: bool
    seconds: float = 0.0


def find_ready(
    interpreter: Interpreter, req: Requirements, root: Path | None = None
) -> Provisioned | None:
    """The venv if it is already built (never installs)."""
    directory = venv_dir(interpreter, req, root)
    python = directory / "bin" / "python"
    if (directory / READY_MARKER).is_file() and python.exists():
        return Provisioned(str(python), str(directory), installed=False)
    return None


def provision(
    interpreter: Interpreter,
    req: Requirements,
    root: Path | None = None,
    timeout: float = PROVISION_TIMEOUT_S,
) -> Provisioned:
    """The ready venv for ``req`` under ``interpreter``, built now if needed (once: a
    concurrent caller waits on the lock, then finds it ready)."""
    directory = venv_dir(interpreter, req, root)
    directory.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with _locked(directory.with_name(directory.name + ".lock"), timeout):
        ready = find_ready(interpreter, req, root)
        if ready is not None:
            return ready
        if directory.exists():  # a half-built venv from an interrupted run
            shutil.rmtree(directory)
        try:
            _build(interpreter, req, directory, started + timeout)
        except BaseException:
            shutil.rmtree(directory, ignore_errors=True)
            raise
    seconds = round(time.monotonic() - started, 1)
    return Provisioned(str(directory / "bin" / "python"), str(directory), True, seconds)


def _build(interpreter: Interpreter, req: Requirements, directory: Path, deadline: float) -> None:
    _step([interpreter.path, "-m", "venv", str(directory)], deadline, "python -m venv")
    python = str(directory / "bin" / "python")
    pip = [python, "-m", "pip", "--disable-pip-version-check", "--no-input", "-q"]
    pip_pin = PIP_PINS.get(interpreter.version_info[:2])
    if pip_pin:
        _step([*pip, "install", "--upgrade", pip_pin], deadline, f"pip install {pip_pin}")
    # Wheels only: never compile a 2017 cryptography from source.
    _step([*pip, "install", "--only-binary=:all:", *req.specs], deadline, "pip install")
    frozen = run_command([*pip, "freeze"], max(deadline - time.monotonic(), 1), _pip_env())
    record = {
        "interpreter": interpreter.path,
        "version": interpreter.version,
        "adapter": req.adapter,
        "requirements": list(req.specs),
        "installed": frozen.stdout.split(),
    }
    (directory / READY_MARKER).write_text(json.dumps(record, indent=2) + "\n")


def _step(argv: list[str], deadline: float, what: str) -> None:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise ProvisionError(f"{what}: provisioning timed out")
    try:
        res = run_command(argv, remaining, _pip_env())
    except OSError as exc:
        raise ProvisionError(f"{what}: {exc}") from exc
    if res.timed_out:
        raise ProvisionError(f"{what}: did not finish in time")
    if res.returncode != 0:
        lines = [line for line in res.stderr.splitlines() if "is ignored" not in line]
        why = first_line("\n".join(reversed(lines))) or first_line(res.stdout)
        raise ProvisionError(f"{what} failed (exit {res.returncode}): {why}")


def _pip_env() -> dict[str, str]:
    """pip keeps its own configuration (index, certificates); Python's own variables are
    dropped so that nothing from this process leaks into the venv."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}


@contextlib.contextmanager
def _locked(path: Path, timeout: float) -> Iterator[None]:
    with open(path, "a+") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise ProvisionError(f"{path} stayed locked by another run") from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
