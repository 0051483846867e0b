"""The Java adapters: JSSE (SunJSSE) through a small program, ``clients/java/TlsProbe.java``.

``java`` is the JVM as a user gets it; ``java-aia`` the same JVM with
``-Dcom.sun.security.enableAIAcaIssuers=true``, which completes a chain the server sent
incomplete by downloading the issuer from the leaf's AIA caIssuers URL.

The program is compiled once per machine into a cache directory keyed by the source and
the javac version (``$XDG_CACHE_HOME/tlsmatrix/java/<hash>/``), never per probe; without
javac, Java 11+'s single-file source launch is used (slower). It prints one JSON line: the
negotiated protocol and status line, or the exception cause chain, which is mapped here.
One long-lived JVM per environment (``TlsProbe --serve``, clients/worker.py) serves the
probes, each with a new SSLContext and TrustManager and the JDK's AIA download cache emptied
first; ``one_shot`` starts a JVM per probe instead.

Trust: natively ``cacerts`` of the JVM (or ``-Djavax.net.ssl.trustStore`` given in
``JAVA_TOOL_OPTIONS``/``JDK_JAVA_OPTIONS``); an explicit bundle is read by the program into an
in-memory KeyStore that is the only trust.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import hashlib
import os
import re
import shutil
import tempfile
import threading
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from tlsmatrix.clients import java_archive
from tlsmatrix.clients._common import Outcome, outcome_for_signal, tls_version_name
from tlsmatrix.clients._subprocess import SubprocessAdapter, run_json_program, run_on_worker
from tlsmatrix.clients.base import ClientInfo, Reason, Target, Trust, TrustUsed
from tlsmatrix.clients.process import CommandResult, child_env, first_line, run_command
from tlsmatrix.clients.signals import java as java_signals
from tlsmatrix.clients.signals._signal import Signal
from tlsmatrix.clients.startup import heavy_share
from tlsmatrix.clients.worker import JsonLineWorker, WorkerFailed, WorkerPool

SOURCE = Path(__file__).with_name("java") / "TlsProbe.java"
MAIN_CLASS = "TlsProbe"

# Fast JVM start-up: class-data sharing, C1 only, the simplest collector; and
# sun.security.validator exported so TlsProbe can read ValidatorException.getErrorType().
JVM_FLAGS = (
    "-Xshare:auto",
    "-XX:TieredStopAtLevel=1",
    "-XX:+UseSerialGC",
    "--add-exports=java.base/sun.security.validator=ALL-UNNAMED",
)
# Recent JDK updates also filter caIssuers URIs through the security property
# com.sun.security.allowedAIALocations, deny-all by default: without "any",
# enableAIAcaIssuers alone no longer fetches (measured on 17.0.21). Older JDKs ignore it.
AIA_FLAGS = (
    "-Dcom.sun.security.enableAIAcaIssuers=true",
    "-Dcom.sun.security.allowedAIALocations=any",
    "-Dcom.sun.security.enableCRLDP=false",
)

# The worker empties the JDK's static AIA download cache before every probe (reflection
# into URICertStore and sun.security.util.Cache).
WORKER_FLAGS = (
    "--add-opens=java.base/sun.security.provider.certpath=ALL-UNNAMED",
    "--add-opens=java.base/sun.security.util=ALL-UNNAMED",
)

JAVA_OPTION_VARS = ("JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS")

_TRUSTSTORE_OPTION = re.compile(r"-Djavax\.net\.ssl\.trustStore=(\S+)")


def interpret(payload: Mapping[str, object]) -> Outcome:
    """Map TlsProbe's JSON line to an Outcome (pure; unit-tested) through signals/java.py:
    the CertPathValidatorException reasons, ValidatorException.getErrorType(), the failing
    certificate's algorithms (ALGORITHM_CONSTRAINED: weak key or weak signature from the
    data) and the exception classes of the cause chain."""
    protocol = payload.get("protocol")
    tls_version = tls_version_name(protocol) if isinstance(protocol, str) else None
    if payload.get("ok"):
        return Outcome(
            Reason.OK, str(payload.get("status") or "handshake completed"), tls_version=tls_version
        )
    raw_chain = payload.get("chain")
    entries = [c for c in raw_chain if isinstance(c, dict)] if isinstance(raw_chain, list) else []
    chain = [(str(c.get("class") or ""), _str(c.get("message"))) for c in entries]
    raw_reasons = payload.get("reasons")
    reasons = [str(r) for r in raw_reasons] if isinstance(raw_reasons, list) else []
    bits = payload.get("key_bits")
    signal = java_signals.signal_for_java(
        chain,
        reasons,
        validator_error=_str(payload.get("validator_error")),
        sig_alg=_str(payload.get("sig_alg")),
        key_alg=_str(payload.get("key_alg")),
        key_bits=bits if isinstance(bits, int) and not isinstance(bits, bool) else None,
    )
    detail = " <- ".join(
        f"{cls.rsplit('.', 1)[-1]}: {msg}" if msg else cls.rsplit(".", 1)[-1] for cls, msg in chain
    )
    if isinstance(payload.get("index"), int):
        detail += f" (certificate {payload['index']} of the path)"
    if payload.get("secured") is True and not _refusal(signal):
        return Outcome(Reason.OK, f"certificate accepted; then {detail}", tls_version=tls_version)
    return outcome_for_signal(signal, detail, tls_version=tls_version)


def _refusal(signal: Signal) -> bool:
    """After the handshake, still a refusal: a TLS alert (TLS 1.3 client authentication
    fails after our Finished) or the deadline."""
    return signal.reason is Reason.TIMEOUT or signal.token.startswith(
        ("received alert", "sent alert")
    )


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def java_home(java: str) -> Path:
    """JAVA_HOME of a ``java`` binary (…/bin/java, symlinks resolved)."""
    return Path(os.path.realpath(java)).parent.parent


def native_trust(java: str | None, env: Mapping[str, str]) -> TrustUsed:
    """What the JVM trusts by default given ``env``."""
    for var in JAVA_OPTION_VARS:
        m = _TRUSTSTORE_OPTION.search(env.get(var, ""))
        if m:
            return TrustUsed("native", f"{var} -Djavax.net.ssl.trustStore", m.group(1))
    if java is None:
        return TrustUsed("native", "JVM cacerts", None)
    home = java_home(java)
    for candidate in (
        home / "lib" / "security" / "jssecacerts",
        home / "lib" / "security" / "cacerts",
    ):
        if candidate.exists():
            return TrustUsed("native", f"JVM {candidate.name}", os.path.realpath(candidate))
    return TrustUsed("native", "JVM cacerts", str(home / "lib" / "security" / "cacerts"))


def cache_root(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    base = env.get("XDG_CACHE_HOME") or os.path.join(
        env.get("HOME") or tempfile.gettempdir(), ".cache"
    )
    return Path(base) / "tlsmatrix" / "java"


_compile_lock = threading.Lock()
_archive_locks: dict[Path, threading.Lock] = {}  # one training at a time per archive
# The JVM's properties, per JVM (binary, JDK files) and user JVM options: java and java-aia
# run the same version command, a JVM start each.
_properties_runs: dict[tuple[str, ...], CommandResult] = {}
_properties_lock = threading.Lock()


def jdk_stamp(javac: str) -> str:
    """What identifies the JDK behind ``javac`` (or ``java``) for the class cache: the
    resolved binary and the JDK's module image (``lib/modules``), by path, size and
    modification time. Any JDK update replaces that image. Cheaper than ``javac
    -version``, which costs a JVM start (~0.3 s of a core) on every run."""
    real = Path(os.path.realpath(shutil.which(javac) or javac))
    parts = []
    for path in (real, real.parent.parent / "lib" / "modules"):
        try:
            st = path.stat()
        except OSError:
            parts.append(f"{path}:-")
            continue
        parts.append(f"{path}:{st.st_size}:{st.st_mtime_ns}")
    return "\n".join(parts)


class JavaClient(SubprocessAdapter):
    """JSSE through TlsProbe. ``binary``/``javac`` override the names looked up on PATH;
    ``cache_dir`` overrides where the compiled class is kept."""

    name = "java"
    default_binary = "java"
    package = "openjdk-17-jre-headless"
    version_args = ("-XshowSettings:properties", "-version")
    version_timeout = 20.0
    env_vars = JAVA_OPTION_VARS
    aia = False

    def __init__(
        self,
        binary: str | None = None,
        javac: str = "javac",
        cache_dir: str | None = None,
        *,
        one_shot: bool = False,
    ) -> None:
        super().__init__(binary)
        self.javac = javac
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self._classpath: str | None = None  # the compiled program's JAR
        self._compile_error: str | None = None
        self.one_shot = one_shot
        self._workers = WorkerPool()
        ref = weakref.ref(self)  # the exit hook keeps no client alive
        atexit.register(lambda: (c := ref()) is not None and c.close())

    # --- info ---------------------------------------------------------------------------

    def native_trust(self) -> TrustUsed:
        return native_trust(self.path(), os.environ)

    def describe(self) -> ClientInfo:
        return replace(
            super().describe(),
            fetches_aia=self.aia,
            # jdk.certpath.disabledAlgorithms: "RSA keySize < 1024" and "SHA1 jdkCA": SHA-1
            # is refused only on chains to the JDK's own cacerts roots.
            min_rsa_bits=1024,
            rejects_sha1=False,
            tls_library="JSSE (SunJSSE)",
            # PKIX takes any trusted certificate as an anchor, self-signed or not
            # (tests/test_partial_chain.py measures it on a handshake).
            partial_chain=True,
            # One long-lived JVM serves the probes (a thread each); a cold JVM cost
            # ~0.75-1.5 s of a core, a warm probe tens of ms, but path building and the
            # JIT still want a core: more than one probe per core in flight only queues.
            max_parallel=heavy_share(1.0),
        )

    def missing(self) -> str | None:
        return None if SOURCE.is_file() else f"probe source missing: {SOURCE}"

    def version_output(self) -> CommandResult | str:
        """The version run, shared by the adapters of one process that run the same JVM
        with the same options (a failure is not shared: the next run tries again)."""
        path = self.path()
        if path is None:
            return super().version_output()
        env = child_env(Trust.native())
        key = (path, jdk_stamp(path), *(env.get(name, "") for name in JAVA_OPTION_VARS))
        with _properties_lock:
            known = _properties_runs.get(key)
            if known is None:
                result = super().version_output()
                if isinstance(result, str):
                    return result
                known = _properties_runs[key] = result
            return known

    def read_version(self, result: CommandResult, info: ClientInfo) -> ClientInfo:
        props = _properties(result.stderr)
        version = props.get("java.runtime.version") or props.get("java.version")
        java = self.path()
        if version is None or java is None:
            return self.version_failed(info, result)
        launch = self._launch_target(java)  # compile now (once per machine), not in a probe
        notes = [f"vendor: {props.get('java.vendor', '?')}"]
        if self.aia:
            notes.append("runs with " + " ".join(AIA_FLAGS))
        if shutil.which(self.javac) is None:
            notes.append("javac not found: single-file source launch (slower start-up)")
        elif self._compile_error:
            notes.append(f"{self._compile_error}: single-file source launch (slower start-up)")
        if "-cp" in launch:  # compiled: has this JDK's class-data archive failed before?
            jar = Path(launch[launch.index("-cp") + 1])
            why = java_archive.remembered_failure(java_archive.archive_path(jar, jdk_stamp(java)))
            if why:
                notes.append(f"{why} (slower start-up)")
        java_version = props.get("java.version", version)
        return replace(
            info,
            available=True,
            version=version,
            tls_library_version=java_version,
            notes=tuple(notes),
            # URLConnection's default User-Agent, which the AIA fetches carry (measured
            # against the lab AIA server by tests/test_client_policy.py)
            aia_user_agent=f"Java/{java_version}" if self.aia else None,
        )

    # --- compilation --------------------------------------------------------------------

    def _launch_target(self, java: str, *, train: bool = False) -> list[str]:
        """The class-data archive's flags (when there is one), classpath and main class,
        compiling once if needed; or the source file itself. ``train`` makes the archive
        first if this JDK has none: a worker's start does, not an info() or a probe."""
        javac = shutil.which(self.javac)
        if javac is None:
            return [str(SOURCE)]  # Java 11+ runs a single source file directly
        with _compile_lock:
            if self._classpath is None and self._compile_error is None:
                try:
                    self._classpath, self._compile_error = self._compile(javac)
                except OSError as exc:  # e.g. an unwritable cache: run the source instead
                    self._compile_error = f"cannot compile into the cache: {exc}"
            if self._classpath is None:
                return [str(SOURCE)]
            jar = Path(self._classpath)
        archive = java_archive.archive_path(jar, jdk_stamp(java))
        if train:
            # its own lock: a probe that only reads the launch line never waits for it;
            # the archive or its markers tell a later start that this one tried
            with _archive_locks.setdefault(archive, threading.Lock()):
                env = {k: v for k, v in child_env(Trust()).items() if k not in JAVA_OPTION_VARS}
                java_archive.ensure_archive(
                    java,
                    jar,
                    archive,
                    flags=(*JVM_FLAGS, *WORKER_FLAGS),
                    main_class=MAIN_CLASS,
                    env=env,
                )
        return [*java_archive.archive_flags(archive), "-cp", str(jar), MAIN_CLASS]

    def _compile(self, javac: str) -> tuple[str | None, str | None]:
        source = SOURCE.read_bytes()
        # "jar": the program is kept as a JAR, which class-data sharing needs
        stamp = jdk_stamp(javac).encode()
        key = hashlib.sha256(source + b"\0jar\0" + stamp).hexdigest()[:16]
        final = (self.cache_dir or cache_root()) / key
        if (final / java_archive.JAR).is_file():
            return str(final / java_archive.JAR), None
        final.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=final.parent))
        res = run_command(
            [javac, "-nowarn", "-d", str(work), str(SOURCE)], timeout=120, env=child_env(Trust())
        )
        if res.returncode != 0 or not (work / f"{MAIN_CLASS}.class").is_file():
            shutil.rmtree(work, ignore_errors=True)
            return None, f"javac failed: {first_line(res.stderr) or res.returncode}"
        java_archive.build_jar(work)
        try:
            os.replace(work, final)  # atomic; another process may have won the race
        except OSError:
            shutil.rmtree(work, ignore_errors=True)
        return str(final / java_archive.JAR), None

    # --- probe --------------------------------------------------------------------------

    def argv(self, java: str, target: Target, trust: Trust, timeout: float) -> list[str]:
        """The java command line for one probe (public so tests can read it)."""
        flags: Sequence[str] = (*JVM_FLAGS, *(AIA_FLAGS if self.aia else ()))
        return [java, *flags, *self._launch_target(java), *_probe_args(target, trust, timeout)]

    def run(self, path: str, target: Target, trust: Trust, timeout: float) -> Outcome:
        """One probe on the long-lived JVM for this environment (``one_shot``: a JVM of
        its own, as before)."""
        env = child_env(trust)
        if self.one_shot:
            argv = self.argv(path, target, trust, timeout)
            return run_json_program(argv, timeout, env, interpret)
        # the worker takes the probe's own arguments, without the JVM's
        args = _probe_args(target, trust, timeout)
        return run_on_worker(self._worker(path, env), args, timeout, interpret)

    def warm(self, target: Target, trust: Trust) -> None:
        """Start the JVM that the first probe with ``trust`` will use, now (the runner's
        warm-up): its start overlaps tlsmatrix's own. A failure is the probe's to report."""
        java = self.path()
        if self.one_shot or java is None or not self.info().available:
            return
        with contextlib.suppress(WorkerFailed, OSError):
            self._worker(java, child_env(trust)).start()

    def _worker(self, java: str, env: dict[str, str]) -> JsonLineWorker:
        """The JVM serving probes in ``env``."""

        def make() -> JsonLineWorker:
            flags = (*JVM_FLAGS, *WORKER_FLAGS, *(AIA_FLAGS if self.aia else ()))

            def argv() -> list[str]:  # at the start, which may first make the archive
                return [java, *flags, *self._launch_target(java, train=True), "--serve"]

            return JsonLineWorker(self.name, argv, env, encode=_java_request)

        return self._workers.get(java, env, make)

    def close(self) -> None:
        self._workers.close()


def _probe_args(target: Target, trust: Trust, timeout: float) -> list[str]:
    """TlsProbe's arguments for one probe, after the JVM's own."""
    timeout_ms = max(100, int(timeout * 1000 * 0.8) - 300)  # leave the JVM time to report
    bundle = "-" if trust.is_native else str(trust.path)
    return [
        target.address,
        str(target.port),
        target.ascii_host,
        target.path,
        str(timeout_ms),
        bundle,
    ]


def _java_request(ident: int, args: object) -> bytes:
    """TlsProbe's server-mode request: the id, then each argument in base64, tab-separated."""
    assert isinstance(args, list)
    fields = [base64.b64encode(str(a).encode()).decode() for a in args]
    return "\t".join([str(ident), *fields]).encode() + b"\n"


class JavaAIAClient(JavaClient):
    """The same JVM with AIA fetching of missing intermediates enabled."""

    name = "java-aia"
    aia = True


def _properties(text: str) -> dict[str, str]:
    props: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition(" = ")
        if sep and key and " " not in key:
            props.setdefault(key, value.strip())
    return props


__all__ = [
    "AIA_FLAGS",
    "JVM_FLAGS",
    "JavaAIAClient",
    "JavaClient",
    "cache_root",
    "interpret",
    "native_trust",
]
