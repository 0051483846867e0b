"""The java and java-aia adapters against real loopback TLS servers (a real JVM)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from tlsmatrix.clients import java_archive
from tlsmatrix.clients.base import Reason, Target, Trust, Verdict
from tlsmatrix.clients.java import JavaAIAClient, JavaClient, interpret, jdk_stamp, native_trust

from tests._pki_moreclients import (
    ISSUER_UNKNOWN_FAMILY,
    PKI,
    AIAServer,
    Lab,
    assert_ip_and_resolve,
    assert_unreachable_reasons,
)
from tests.conftest import needs_binary, require_binary

pytestmark = needs_binary("java")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory):
    with Lab(tmp_path_factory.mktemp("pki")) as running:
        yield running


@pytest.fixture(scope="module")
def java() -> JavaClient:
    client = JavaClient()
    assert client.info().available, client.info().unavailable_reason  # compiles TlsProbe
    return client


def test_info_reports_jvm_and_cacerts(java: JavaClient) -> None:
    info = java.info()
    assert info.version and info.tls_library == "JSSE (SunJSSE)"
    assert info.native_trust is not None and "cacerts" in (info.native_trust.origin or "")
    assert info.kind == "subprocess" and not info.fetches_aia
    assert JavaAIAClient().info().fetches_aia


def test_compiled_once_into_the_cache(tmp_path: Path) -> None:
    require_binary("javac")
    client = JavaClient(cache_dir=str(tmp_path))
    client.info()
    classes = list(tmp_path.glob("*/TlsProbe.class"))
    assert len(classes) == 1
    stamp = classes[0].stat().st_mtime_ns
    JavaClient(cache_dir=str(tmp_path)).info()  # a new instance reuses the class
    assert classes[0].stat().st_mtime_ns == stamp
    assert list(tmp_path.glob("*/TlsProbe.class")) == classes


def test_class_data_archive_made_once_and_mapped(tmp_path: Path, lab: Lab) -> None:
    """The program is kept as a JAR; the first worker start makes the JVM's class-data
    archive beside it (info() does not wait for it), and the JVMs map it (the JVM itself
    says so) and judge as before."""
    require_binary("javac")
    client = JavaClient(cache_dir=str(tmp_path))
    assert not any("archive" in n for n in client.info().notes), client.info().notes
    assert list(tmp_path.glob("*/TlsProbe.jar")) and not list(tmp_path.glob("*/*.jsa"))
    obs = client.probe(Target("localhost", lab.port("good")), Trust.bundle(lab.root_pem), 20)
    assert obs.reason is Reason.OK, obs.detail
    archives = list(tmp_path.glob("*/TlsProbe-*.jsa"))
    assert len(archives) == 1 and archives[0].stat().st_size > 1_000_000
    argv = client.argv(client.path() or "java", Target("localhost", 1), Trust.native(), 5)
    assert f"-XX:SharedArchiveFile={archives[0]}" in argv
    jvm = argv[: argv.index("-cp")]
    shown = subprocess.run(
        [*jvm, "-Xshare:on", "-Xlog:cds=info", "-version"],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert f"Opened archive {archives[0]}" in shown.stdout + shown.stderr
    stamp = archives[0].stat().st_mtime_ns
    other = JavaAIAClient(cache_dir=str(tmp_path))  # the same JDK and program: no new one
    obs = other.probe(Target("localhost", lab.port("good")), Trust.bundle(lab.root_pem), 20)
    assert obs.reason is Reason.OK, obs.detail
    assert list(tmp_path.glob("*/TlsProbe-*.jsa")) == archives
    assert archives[0].stat().st_mtime_ns == stamp
    client.close()
    other.close()


def test_class_data_archive_failure_is_remembered(tmp_path: Path) -> None:
    """A JVM that cannot make the archive leaves a marker with the reason: the next run
    reads it instead of trying again, and the client's notes say why it starts slower."""
    jar = java_archive.build_jar(tmp_path)
    archive = java_archive.archive_path(jar, "a JDK")
    args = {"flags": (), "main_class": "TlsProbe", "env": {}}
    why = java_archive.ensure_archive(require_binary("false"), jar, archive, **args)
    assert why and why.startswith("class-data archive not made") and not archive.exists()
    again = java_archive.ensure_archive("/nonexistent/java", jar, archive, **args)
    assert again == why  # read from the marker: nothing was run
    require_binary("javac")
    cache = tmp_path / "cache"
    JavaClient(cache_dir=str(cache)).info()  # compiles
    [compiled] = cache.glob("*/TlsProbe.jar")
    java = JavaClient().path() or "java"
    mine = java_archive.archive_path(compiled, jdk_stamp(java))
    mine.with_suffix(".failed").write_text("class-data archive not made: exit status 3\n")
    notes = JavaClient(cache_dir=str(cache)).info().notes
    assert "class-data archive not made: exit status 3 (slower start-up)" in notes


def test_class_cache_key_follows_the_jdk_image(tmp_path: Path) -> None:
    """The compiled class is keyed by the JDK's files, not by running ``javac -version``:
    a JDK update (a new module image) gives a new key, the same JDK the same key."""
    (tmp_path / "bin").mkdir()
    (tmp_path / "lib").mkdir()
    javac = tmp_path / "bin" / "javac"
    javac.write_text("launcher")
    link = tmp_path / "javac-link"
    link.symlink_to(javac)
    modules = tmp_path / "lib" / "modules"
    modules.write_bytes(b"image 1")
    before = jdk_stamp(str(link))
    assert before == jdk_stamp(str(javac))  # the link resolves to the same JDK
    modules.write_bytes(b"image 2, updated")
    assert jdk_stamp(str(link)) != before
    modules.unlink()
    assert jdk_stamp(str(link)) not in (before, "")


def test_unwritable_cache_falls_back_to_source_launch(lab: Lab, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    client = JavaClient(cache_dir=str(blocker / "cache"))
    info = client.info()
    assert info.available and any("single-file source launch" in n for n in info.notes)
    obs = client.probe(Target("localhost", lab.port("good")), Trust.bundle(lab.root_pem), 20)
    assert obs.reason is Reason.OK, obs.detail


def test_info_and_probe_when_binary_missing(lab: Lab) -> None:
    client = JavaClient(binary="tlsmatrix-no-such-java")
    info = client.info()
    assert not info.available and "not found on PATH" in (info.unavailable_reason or "")
    obs = client.probe(Target("localhost", lab.port("good")), Trust.native(), 5)
    assert obs.verdict is Verdict.SKIPPED


@pytest.mark.parametrize("scenario", list(ISSUER_UNKNOWN_FAMILY))
def test_bundle_trust(lab: Lab, java: JavaClient, scenario: str) -> None:
    reason, unknown = ISSUER_UNKNOWN_FAMILY[scenario]
    obs = java.probe(Target("localhost", lab.port(scenario)), Trust.bundle(lab.root_pem), 15)
    assert (obs.reason.value, obs.issuer_unknown) == (reason, unknown), obs.detail
    if reason == "ok":
        assert obs.verdict is Verdict.ACCEPT and obs.tls_version in ("TLS 1.2", "TLS 1.3")
    else:
        assert obs.verdict is Verdict.REJECT


def test_native_trust_is_cacerts(lab: Lab, java: JavaClient) -> None:
    obs = java.probe(Target("localhost", lab.port("good")), Trust.native(), 15)
    assert obs.reason is Reason.UNKNOWN_ISSUER and obs.issuer_unknown  # root A not in cacerts
    assert obs.trust is not None and obs.trust.path and "cacerts" in obs.trust.path


def test_ip_target_and_resolve(lab: Lab, java: JavaClient) -> None:
    assert_ip_and_resolve(java, lab, 15)


def test_aia_fetch_completes_a_leaf_only_chain(tmp_path: Path) -> None:
    from tlsmatrix.lab.tlsserver import TLSServer

    pki = PKI(tmp_path)
    with AIAServer(pki.intermediate.der) as aia, TLSServer(*pki.leaf_only(aia.url)) as server:
        target, trust = Target("localhost", server.port), Trust.bundle(pki.root_pem)
        plain = JavaClient().probe(target, trust, 15)
        assert plain.reason is Reason.UNKNOWN_ISSUER and plain.issuer_unknown
        assert aia.fetches == []  # plain java never fetched it
        fetched = JavaAIAClient().probe(target, trust, 15)
        assert fetched.reason is Reason.OK, fetched.detail
        assert aia.fetches == ["/int.der"]


def test_connection_refused_not_tls_and_timeout(java: JavaClient) -> None:
    assert_unreachable_reasons(java, 10)


def _failure(
    *chain: tuple[str, str], reasons: tuple[str, ...] = (), **fields: object
) -> dict[str, object]:
    return {
        "ok": False,
        "chain": [{"class": c, "message": m} for c, m in chain],
        "reasons": list(reasons),
        **fields,
    }


def _constrained(sig_alg: str, key_bits: int, *outer: tuple[str, str]) -> dict[str, object]:
    """An algorithm-constraint failure (below ``outer`` exceptions) on an RSA certificate
    with ``sig_alg`` and a ``key_bits`` key, as TlsProbe reports it."""
    return _failure(
        *outer,
        (
            "java.security.cert.CertPathValidatorException",
            f"Algorithm constraints check failed on signature algorithm: {sig_alg}",
        ),
        reasons=("ALGORITHM_CONSTRAINED",),
        sig_alg=sig_alg,
        key_alg="RSA",
        key_bits=key_bits,
    )


PKIX_FAILED = ("javax.net.ssl.SSLHandshakeException", "PKIX path validation failed")


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        pytest.param(
            _constrained("SHA1withRSA", 2048, PKIX_FAILED), Reason.WEAK_SIGNATURE, id="sha1"
        ),
        # weak key vs weak signature comes from the failing certificate's data, not the text
        pytest.param(_constrained("SHA256withRSA", 512), Reason.WEAK_KEY, id="rsa512"),
        pytest.param(
            _failure(("java.net.UnknownHostException", "nowhere")), Reason.DNS_FAILURE, id="dns"
        ),
        pytest.param(
            _failure(
                ("javax.net.ssl.SSLHandshakeException", "Received fatal alert: protocol_version")
            ),
            Reason.PROTOCOL_VERSION,
            id="protocol_version",
        ),
        pytest.param(
            _failure(("java.lang.IllegalStateException", "bug")), Reason.CLIENT_ERROR, id="other"
        ),
    ],
)
def test_interpret_maps_exception_chains(payload: dict[str, object], reason: Reason) -> None:
    assert interpret(payload).reason is reason


def test_native_trust_follows_java_tool_options() -> None:
    env = {"JAVA_TOOL_OPTIONS": "-Xmx1g -Djavax.net.ssl.trustStore=/x/store.p12"}
    assert native_trust(None, env).path == "/x/store.p12"


def test_java_and_java_aia_share_one_version_run(tmp_path: Path, monkeypatch) -> None:
    """Both adapters run the same JVM for its properties: one run serves both (a JVM
    start saved per run), and other user JVM options are another JVM's answer."""
    log = tmp_path / "runs.log"
    fake = tmp_path / "bin" / "java"
    fake.parent.mkdir()
    fake.write_text(
        "#!/bin/sh\n"
        f'echo "$JAVA_TOOL_OPTIONS" >> "{log}"\n'
        'echo "    java.runtime.version = 17.0.99-fake" >&2\n'
        'echo "    java.version = 17.0.99" >&2\n'
    )
    fake.chmod(0o755)
    monkeypatch.delenv("JAVA_TOOL_OPTIONS", raising=False)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    assert JavaClient().info().version == "17.0.99-fake"
    assert JavaAIAClient().info().version == "17.0.99-fake"
    assert len(log.read_text().splitlines()) == 1
    monkeypatch.setenv("JAVA_TOOL_OPTIONS", "-Dfake.option=1")
    assert JavaClient().info().version == "17.0.99-fake"
    assert log.read_text().splitlines()[1:] == ["-Dfake.option=1"]


def test_class_data_archive_timeout_is_retried_later_not_every_run(tmp_path, monkeypatch):
    """A training JVM past its bound is killed; a loaded machine is no reason to give up
    on the archive for good, nor to pay the attempt in every run: it waits an hour."""
    slow = tmp_path / "slow-java"
    slow.write_text("#!/bin/sh\nsleep 30\n")
    slow.chmod(0o755)
    monkeypatch.setattr(java_archive, "TRAIN_LIMIT_S", 0.5)
    jar = java_archive.build_jar(tmp_path)
    archive = java_archive.archive_path(jar, "a JDK")
    args = {"flags": (), "main_class": "TlsProbe", "env": {}}
    why = java_archive.ensure_archive(str(slow), jar, archive, **args)
    assert why == "class-data archive not made within 0.5 s"
    assert java_archive.remembered_failure(archive) is None  # not a failure of the JDK
    again = java_archive.ensure_archive("/nonexistent/java", jar, archive, **args)
    assert again is not None and again.endswith("(retried later)")
    archive.with_suffix(".later").write_text("0\n")  # the hour has passed
    retried = java_archive.ensure_archive("/nonexistent/java", jar, archive, **args)
    assert retried is not None and "No such file" in retried


def test_a_probe_never_waits_for_the_archive_training(tmp_path, monkeypatch):
    """The training belongs to a worker's start (held out of probe deadlines): while it
    runs, every other use of the launch line (a probe's arguments, info()) goes on."""
    import threading
    import time

    require_binary("javac")
    training, release = threading.Event(), threading.Event()

    def slow_training(*args: object, **kwargs: object) -> str | None:
        training.set()
        release.wait(20)
        return None

    monkeypatch.setattr(java_archive, "ensure_archive", slow_training)
    client = JavaClient(cache_dir=str(tmp_path))
    java = client.path() or "java"
    trainer = threading.Thread(target=client._launch_target, args=(java,), kwargs={"train": True})
    trainer.start()
    try:
        assert training.wait(20)
        started = time.monotonic()
        other = JavaAIAClient(cache_dir=str(tmp_path))
        assert other.info().available
        assert "-cp" in other.argv(java, Target("localhost", 1), Trust.native(), 5)
        assert time.monotonic() - started < 10  # not held until the training ends
        assert trainer.is_alive()
    finally:
        release.set()
        trainer.join(20)


def test_class_data_archive_in_an_unusable_place_is_a_reason_not_a_crash(tmp_path):
    """Where no archive can be written (here the folder is a file), the worker's start
    gets a reason back and the JVMs start without one, as before."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file")
    jar = java_archive.build_jar(tmp_path)
    archive = blocker / "TlsProbe-x.jsa"
    why = java_archive.ensure_archive(
        "/nonexistent/java", jar, archive, flags=(), main_class="TlsProbe", env={}
    )
    assert why is not None and why.startswith("class-data archive not made")
    assert java_archive.archive_flags(archive) == []
