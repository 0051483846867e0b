"""The skeleton of the adapters that run a client program (curl, openssl, node, java,
java-aia, gnutls-cli, wget, chromium).

An adapter names its program (``default_binary``, the Debian ``package`` that ships it,
``version_args``), reads its version output (``read_version``), says what it trusts
natively and runs one probe (``run``: its own argv and its own signal mapper). The base
class does the rest the same way for all: the PATH lookup, the version run (once per
adapter, cached), the "not found" ClientInfo and Observation, an OSError as client_error,
and the Observation."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import ClassVar

from tlsmatrix.clients._common import Outcome, observe, observe_outcome
from tlsmatrix.clients._trust import explicit_trust
from tlsmatrix.clients.base import ClientInfo, Observation, Reason, Target, Trust, TrustUsed
from tlsmatrix.clients.process import (
    CommandResult,
    child_env,
    first_line,
    last_json_line,
    run_command,
    run_version,
)
from tlsmatrix.clients.worker import JsonLineWorker, WorkerFailed


class SubprocessAdapter:
    """A TLS client that is a program, run once per probe. ``binary`` overrides the name
    looked up on PATH."""

    name: ClassVar[str]
    default_binary: ClassVar[str]
    package: ClassVar[str]  # the Debian package, named when the program is missing
    version_args: ClassVar[tuple[str, ...]] = ("--version",)
    version_timeout: ClassVar[float] = 10.0
    # Variables that change its trust, in precedence order (ClientInfo.env_vars).
    env_vars: ClassVar[tuple[str, ...]] = ()

    def __init__(self, binary: str | None = None) -> None:
        self.binary = binary or self.default_binary
        self._version_lock = threading.Lock()
        self._version: CommandResult | str | None = None

    # --- what a subclass says ---------------------------------------------------------

    def describe(self) -> ClientInfo:
        """Its ClientInfo as far as it does not depend on running the program (policy,
        trust, variables), marked unavailable; read_version() completes it."""
        return ClientInfo(
            self.name,
            False,
            native_trust=self.native_trust(),
            env_vars=self.env_vars,
            kind="subprocess",
        )

    def read_version(self, result: CommandResult, info: ClientInfo) -> ClientInfo:
        """``info`` completed from the version output: available, or why not."""
        raise NotImplementedError

    def native_trust(self) -> TrustUsed:
        raise NotImplementedError

    def missing(self) -> str | None:
        """What else the client needs that is not there (a probe script, a tool), or None."""
        return None

    def run(self, path: str, target: Target, trust: Trust, timeout: float) -> Outcome:
        """Run one probe with the program at ``path`` and map what it said."""
        raise NotImplementedError

    # --- the shared skeleton ----------------------------------------------------------

    def path(self) -> str | None:
        return shutil.which(self.binary)

    def version_output(self) -> CommandResult | str:
        """The version run's output, or why the program cannot run; run once and kept."""
        with self._version_lock:
            if self._version is None:
                args, package = self.version_args, self.package
                self._version = run_version(self.binary, args, package, self.version_timeout)
            return self._version

    def info(self) -> ClientInfo:
        info = self.describe()
        result = self.version_output()
        if isinstance(result, str):
            return replace(info, unavailable_reason=result)
        missing = self.missing()
        if missing is not None:
            return replace(info, unavailable_reason=missing)
        return self.read_version(result, info)

    def trust_used(self, trust: Trust) -> TrustUsed:
        return self.native_trust() if trust.is_native else explicit_trust(trust)

    def probe(self, target: Target, trust: Trust, timeout: float) -> Observation:
        started = time.monotonic()
        used = self.trust_used(trust)
        path = self.path()
        if path is None:
            return observe(
                target,
                self.name,
                Reason.CLIENT_UNAVAILABLE,
                detail=f"{self.binary} not found on PATH",
                started=started,
                trust=used,
            )
        try:
            outcome = self.run(path, target, trust, timeout)
        except OSError as exc:
            outcome = Outcome(Reason.CLIENT_ERROR, f"cannot run {path}: {exc}")
        return observe_outcome(target, self.name, outcome, started=started, trust=used)

    def version_failed(self, info: ClientInfo, result: CommandResult) -> ClientInfo:
        """``info``, unavailable: the version run said nothing we could read."""
        said = first_line(result.stderr) or first_line(result.stdout) or f"exit {result.returncode}"
        return replace(info, unavailable_reason=f"{self.binary} did not report its version: {said}")

    @staticmethod
    def execute(argv: Sequence[str], timeout: float, trust: Trust) -> CommandResult:
        """Run one probe's command line in the environment ``trust`` calls for."""
        return run_command(argv, timeout, child_env(trust))


def run_json_program(
    argv: Sequence[str],
    timeout: float,
    env: Mapping[str, str] | None,
    interpret: Callable[[Mapping[str, object]], Outcome],
) -> Outcome:
    """Run a probe program that prints its result as one JSON object (our node script,
    our Java program) and map it with ``interpret``; a program that cannot start, is
    killed at the deadline or prints no result gets an Outcome saying so."""
    program = os.path.basename(argv[0])
    try:
        res = run_command(argv, timeout, env=env)
    except OSError as exc:
        return Outcome(Reason.CLIENT_ERROR, f"cannot run {argv[0]}: {exc}")
    if res.timed_out:
        return Outcome(Reason.TIMEOUT, f"{program} killed at the deadline")
    payload = last_json_line(res.stdout)
    if payload is None:
        detail = first_line(res.stderr) or f"{program} exited {res.returncode} without a result"
        return Outcome(Reason.CLIENT_ERROR, detail)
    return interpret(payload)


def run_on_worker(
    worker: JsonLineWorker,
    args: object,
    timeout: float,
    interpret: Callable[[Mapping[str, object]], Outcome],
) -> Outcome:
    """The same probe as :func:`run_json_program`, on a long-lived worker: its answer
    mapped with ``interpret``; a worker that cannot start or dies is client_error, no
    answer by the deadline a timeout."""
    try:
        payload = worker.call(args, timeout)
    except WorkerFailed as exc:
        return Outcome(Reason.CLIENT_ERROR, str(exc))
    if payload is None:
        return Outcome(Reason.TIMEOUT, f"{worker.name} worker: no answer before the deadline")
    return interpret(payload)


__all__ = ["SubprocessAdapter", "run_json_program", "run_on_worker"]
