"""A class-data-sharing archive for TlsProbe's JVMs (issue 13): made once per machine,
JDK and probe source, next to the compiled class.

A JVM's start goes mostly to loading and verifying the ~1,500 JDK classes a TLS handshake
and PKIX path validation use; the JDK's own archive holds only the classes of an empty
program. A dynamic archive (JDK 13+, ``-XX:ArchiveClassesAtExit``) written by a JVM that
ran a few probes holds them all, and every later JVM maps it instead (measured on a 2-core
machine, java + java-aia over 16 hosts: 5.3 -> 3.5 s of a core). It needs the program in
a JAR and a JVM that exits normally, so the archive comes from a training JVM in server
mode: an accepted and a rejected probe of a throwaway loopback server, then end of input.
The first worker start trains (it is the client's start-up, not a probe's time).

The archive changes no verdict: it holds the JDK's own classes as that JDK would load them
(the JVM checks it against itself and ignores one that does not match). A JVM that cannot
make one leaves a marker, so no later run pays for trying again; one that runs out of time
(a loaded machine) is tried again an hour later."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

JAR = "TlsProbe.jar"
# Well within the runner's bound on a start (STARTUP_LIMIT_S, 30 s), which the training is
# part of together with the worker's own start; ~3 s on a quiet 2-core machine.
TRAIN_LIMIT_S = 12.0
RETRY_AFTER_S = 3600.0


def build_jar(classes: Path) -> Path:
    """The compiled classes of ``classes`` as a JAR in the same directory (CDS archives
    classes from JARs only)."""
    jar = classes / JAR
    with zipfile.ZipFile(jar, "w") as archive:
        archive.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\r\n\r\n")
        for path in sorted(classes.glob("*.class")):
            archive.write(path, path.name)
    return jar


def archive_path(jar: Path, jdk: str) -> Path:
    """Where the archive for ``jar`` run by the JDK that ``jdk`` identifies is kept (a
    JVM maps only an archive its own JDK wrote)."""
    return jar.with_name(f"TlsProbe-{hashlib.sha256(jdk.encode()).hexdigest()[:12]}.jsa")


def archive_flags(archive: Path) -> list[str]:
    """The JVM flags that map ``archive``, when it exists."""
    return [f"-XX:SharedArchiveFile={archive}"] if archive.is_file() else []


def ensure_archive(
    java: str,
    jar: Path,
    archive: Path,
    *,
    flags: Sequence[str],
    main_class: str,
    env: Mapping[str, str],
) -> str | None:
    """Make ``archive`` for ``jar`` unless it (or its failure marker) exists; None when it
    is there, else why not (kept in the marker). ``env`` is the JVM's environment, without
    the user's JVM options: an agent, say, stays out of a shared archive."""
    if archive.is_file():
        return None
    known = remembered_failure(archive)
    if known is not None:
        return known
    later = archive.with_suffix(".later")
    with contextlib.suppress(OSError, ValueError):
        if time.time() < float(later.read_text()):
            return f"class-data archive not made within {TRAIN_LIMIT_S:g} s (retried later)"
    try:
        why = _train(java, jar, flags, main_class, archive, env)
    except OSError as exc:  # e.g. a full disk: the JVMs start without it, as before
        return f"class-data archive not made: {exc}"
    except subprocess.TimeoutExpired:
        # A loaded machine, not this JDK: tried again after RETRY_AFTER_S, so that a busy
        # machine does not pay the attempt in every run.
        with contextlib.suppress(OSError):
            later.write_text(f"{time.time() + RETRY_AFTER_S}\n")
        return f"class-data archive not made within {TRAIN_LIMIT_S:g} s"
    if why is not None:
        with contextlib.suppress(OSError):  # unwritable: the next run tries again
            archive.with_suffix(".failed").write_text(why + "\n")
    return why


def remembered_failure(archive: Path) -> str | None:
    """Why ``archive`` could not be made, when an earlier attempt left its marker."""
    try:
        return archive.with_suffix(".failed").read_text(errors="replace").strip()
    except OSError:
        return None


def _train(
    java: str,
    jar: Path,
    flags: Sequence[str],
    main_class: str,
    archive: Path,
    env: Mapping[str, str],
) -> str | None:
    from tlsmatrix.lab.certbuilder import issue_leaf, write_private
    from tlsmatrix.lab.tlsserver import TLSServer

    work = Path(tempfile.mkdtemp(prefix=".cds-", dir=archive.parent))
    try:
        leaf = issue_leaf(None, ["localhost"])
        chain = work / "leaf.pem"
        chain.write_bytes(leaf.pem)
        key = write_private(work / "key.pem", leaf.key_pem)
        dump = work / archive.name
        argv = [java, *flags, f"-XX:ArchiveClassesAtExit={dump}", "-cp", str(jar), main_class]
        with TLSServer(str(chain), str(key)) as server:
            # accepted (its own certificate as the bundle), then rejected (wrong name)
            requests = [
                [1, "127.0.0.1", server.port, "localhost", "/", 5000, str(chain)],
                [2, "127.0.0.1", server.port, "other.invalid", "/", 5000, str(chain)],
            ]
            try:
                code = _serve_then_exit([*argv, "--serve"], requests, env)
            except OSError as exc:
                return f"class-data archive not made: {exc}"
        if code != 0 or not dump.is_file():
            return f"class-data archive not made: exit status {code}"
        os.replace(dump, archive)  # atomic: a concurrent run sees all of it or none
        return None
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _serve_then_exit(argv: list[str], requests: list[list[object]], env: Mapping[str, str]) -> int:
    """Run TlsProbe in server mode, send ``requests``, read an answer for each, then end
    its input: the JVM exits normally and writes the archive. Its exit status; raises
    TimeoutExpired past TRAIN_LIMIT_S."""
    import threading

    proc = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=dict(env),
        start_new_session=True,
    )
    def kill() -> None:  # the whole group: a launcher's children hold the pipes too
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)

    timer = threading.Timer(TRAIN_LIMIT_S, kill)
    timer.start()
    try:
        assert proc.stdin is not None and proc.stdout is not None
        for ident, *args in requests:
            fields = [base64.b64encode(str(a).encode()).decode() for a in args]
            proc.stdin.write("\t".join([str(ident), *fields]).encode() + b"\n")
        proc.stdin.flush()
        answers = 0
        for line in proc.stdout:
            answers += line.startswith(b'{"id":')
            if answers == len(requests):
                break
        proc.stdin.close()
        proc.stdout.read()
        code = proc.wait(TRAIN_LIMIT_S)
        if not timer.is_alive():  # the timer fired: killed, not failed
            raise subprocess.TimeoutExpired(argv, TRAIN_LIMIT_S)
        return code
    finally:
        timer.cancel()
        if proc.poll() is None:
            kill()
            proc.wait()


__all__ = [
    "JAR",
    "archive_flags",
    "archive_path",
    "build_jar",
    "ensure_archive",
    "remembered_failure",
]
