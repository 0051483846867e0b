"""The browser processes: flags that keep Chromium quiet, the host-resolver rules, and one
browser per (trust, resolver rules) with its private HOME, NSS database and profile."""

from __future__ import annotations

import contextlib
import fnmatch
import os
import re
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass

from tlsmatrix.clients.base import Target, Trust
from tlsmatrix.clients.chromium.cdp import (
    BrowserProcess,
    CDPClosed,
    CDPConnection,
    CDPError,
    CDPTimeout,
)
from tlsmatrix.clients.process import child_env, first_line, run_command

DEFAULT_BINARY = "/usr/lib/chromium/chromium"
# Debian's chromium-headless-shell: the same Chromium build (network stack, certificate
# verifier, Chrome Root Store, AIA fetching) without the browser UI layers. Measured here:
# a probe costs about a fifth of the CPU of "chromium --headless=new" (a new context and
# renderer is far lighter), so it is preferred when installed.
HEADLESS_SHELL = "/usr/lib/chromium/chromium-headless-shell"

# Everything that would make the browser talk to anything but the target (and the AIA
# URL it fetches): updaters, metrics, safe browsing, sync, field trials, prefetching,
# QUIC, default apps. Checked by a test that points every other host name at a sink.
QUIET_FLAGS: tuple[str, ...] = (
    "--no-sandbox",  # runs as root in CI containers; no site content is trusted anyway
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-domain-reliability",
    "--disable-breakpad",
    "--disable-crash-reporter",
    "--disable-client-side-phishing-detection",
    "--disable-field-trial-config",
    "--disable-dev-shm-usage",
    "--safebrowsing-disable-auto-update",
    "--no-pings",
    "--dns-prefetch-disable",
    "--metrics-recording-only",
    "--no-proxy-server",
    "--password-store=basic",
    "--use-mock-keychain",
    "--disable-component-extensions-with-background-pages",
    "--allow-browser-signin=false",
    "--disable-search-engine-choice-screen",
    "--disable-variations-seed-fetch",
    "--disable-features="
    + ",".join(
        (
            "OptimizationHints",
            "OptimizationGuideModelDownloading",
            "MediaRouter",
            "DialMediaRouteProvider",
            "Translate",
            "AutofillServerCommunication",
            "CertificateTransparencyComponentUpdater",
            "NetworkTimeServiceQuerying",
            "InterestFeedContentSuggestions",
            "HttpsUpgrades",
            "PrivacySandboxSettings4",
            "SafeBrowsingEnhancedProtection",
            "DnsOverHttps",
            "AsyncDns",
            # A spare renderer waits for the next navigation, but each probe's context is
            # new and cannot use the last one's: one wasted process start per probe
            # (measured: 3 -> 2 new processes and ~20% less CPU a probe).
            "SpareRendererForSitePerProcess",
        )
    ),
)

# Chromium 156 still calls home with all the flags above (measured: accounts.google.com
# and an on-demand component update at update.googleapis.com, a few seconds after start).
# These names resolve to "not found" locally, so no lookup and no connection happens; a
# target that is itself one of them is excluded from the rule. AIA URLs of real CAs
# (Google Trust Services uses pki.goog) are not affected.
BLOCKED_HOSTS: tuple[str, ...] = (
    "google.com",
    "*.google.com",
    "googleapis.com",
    "*.googleapis.com",
    "*.gstatic.com",
    "*.gvt1.com",
    "*.gvt2.com",
    "*.googleusercontent.com",
    "*.google-analytics.com",
    "*.doubleclick.net",
)


def resolver_rules(target: Target, extra: str | None = None) -> str:
    """``--host-resolver-rules`` for a target: its ``--resolve`` address first (the first
    matching MAP wins), then the blocked names, then ``extra``."""
    rules = []
    host = target.ascii_host.lower()
    if target.connect_to:
        address = target.connect_to
        rules.append(f"MAP {host} {f'[{address}]' if ':' in address else address}")
    rules.extend(f"MAP {pattern} ~NOTFOUND" for pattern in BLOCKED_HOSTS)
    if extra:
        rules.append(extra)
    if not target.connect_to and any(fnmatch.fnmatchcase(host, p) for p in BLOCKED_HOSTS):
        rules.append(f"EXCLUDE {host}")  # the user asked for this very name
    return ", ".join(rules)


_PEM_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----\s.+?\s-----END CERTIFICATE-----", re.DOTALL)


class BrowserGone(Exception):
    """The browser's pipe closed before the probe reached the target."""


class BrowserUnavailable(Exception):
    """The browser could not be prepared or started; the message says why."""


@dataclass(frozen=True)
class BrowserKey:
    trust: tuple[str, str | None, int, int]  # kind, path, mtime_ns, size
    rules: str


class Browser:
    """One browser process with its private HOME, NSS database and profile."""

    def __init__(self, binary: str, certutil: str, key: BrowserKey, trust: Trust) -> None:
        self.key = key
        self._binary = binary
        self._certutil = certutil
        self._trust = trust
        self._lock = threading.Lock()
        self._process: BrowserProcess | None = None
        self._dir: str | None = None
        self.users = 0  # probes in flight; guarded by the client's pool lock
        self.starts = 0

    @property
    def log_path(self) -> str | None:
        return os.path.join(self._dir, "browser.log") if self._dir else None

    def process(self, deadline: float) -> BrowserProcess:
        """The running browser, (re)started if needed. Raises BrowserUnavailable, CDPTimeout."""
        if not self._lock.acquire(timeout=max(deadline - time.monotonic(), 0)):
            raise CDPTimeout("waited for the browser to start")
        try:
            if self._process is not None and self._process.alive():
                return self._process
            self._stop_locked(remove_dir=False)
            self._process = self._start(deadline)
            self.starts += 1
            return self._process
        finally:
            self._lock.release()

    def _start(self, deadline: float) -> BrowserProcess:
        if self._dir is None:
            self._dir = tempfile.mkdtemp(prefix="tlsmatrix-chromium-")
            self._make_nssdb(deadline)
        argv = [
            self._binary,
            *headless_flags(self._binary),
            *QUIET_FLAGS,
            "--remote-debugging-pipe",
            f"--user-data-dir={os.path.join(self._dir, 'profile')}",
        ]
        argv.append(f"--host-resolver-rules={self.key.rules}")
        argv.append("about:blank")
        env = child_env(self._trust)
        env["HOME"] = os.path.join(self._dir, "home")  # NSS DB lives at $HOME/.pki/nssdb
        for var in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME"):
            env.pop(var, None)  # keep the browser's files inside its private directory
        try:
            proc = BrowserProcess(argv, env, os.path.join(self._dir, "browser.log"))
        except OSError as exc:
            raise BrowserUnavailable(f"cannot start {self._binary}: {exc}") from exc
        try:
            proc.connection.send("Browser.getVersion", deadline=deadline)
        except (CDPTimeout, CDPClosed, CDPError) as exc:
            proc.kill()
            if isinstance(exc, CDPTimeout):
                raise
            # The log holds D-Bus and GPU noise, not the cause: say how it ended.
            raise BrowserUnavailable(f"exited at start ({proc.exit_description()})") from exc
        return proc

    def _make_nssdb(self, deadline: float) -> None:
        """An NSS database at $HOME/.pki/nssdb: empty for native trust, the bundle's
        certificates as trusted CAs ("C,,") for an explicit bundle."""
        assert self._dir is not None
        db = os.path.join(self._dir, "home", ".pki", "nssdb")
        os.makedirs(db, mode=0o700)
        self._certutil_run(["-N", "--empty-password", "-d", f"sql:{db}"], deadline)
        if self._trust.is_native:
            return
        assert self._trust.path is not None
        try:
            with open(self._trust.path, "rb") as fh:
                pems = _PEM_CERT.findall(fh.read())
        except OSError as exc:
            raise BrowserUnavailable(f"cannot read trust bundle: {exc}") from exc
        if not pems:
            raise BrowserUnavailable(f"no PEM certificate in {self._trust.path}")
        for i, pem in enumerate(pems):
            cert_file = os.path.join(self._dir, "bundle-cert.pem")
            with open(cert_file, "wb") as fh:
                fh.write(pem + b"\n")
            self._certutil_run(
                ["-A", "-a", "-n", f"tlsmatrix-{i}", "-t", "C,,", "-i", cert_file]
                + ["-d", f"sql:{db}"],
                deadline,
            )
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(self._dir, "bundle-cert.pem"))

    def _certutil_run(self, args: list[str], deadline: float) -> None:
        result = run_command([self._certutil, *args], max(deadline - time.monotonic(), 1.0))
        if result.timed_out or result.returncode != 0:
            raise BrowserUnavailable(
                f"certutil {args[0]} failed: {first_line(result.stderr or result.stdout)}"
            )

    def _log_tail(self) -> str:
        path = self.log_path
        if not path:
            return ""
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                return " ".join(fh.read()[-500:].split())
        except OSError:
            return ""

    def kill(self) -> None:
        """Kill the browser (it will be restarted by the next probe); keep the NSS DB."""
        with self._lock:
            self._stop_locked(remove_dir=False)

    def close(self) -> None:
        with self._lock:
            self._stop_locked(remove_dir=True)

    def _stop_locked(self, *, remove_dir: bool) -> None:
        if self._process is not None:
            self._process.kill()
            self._process = None
        if remove_dir and self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


def check_alive(conn: CDPConnection, browser: Browser, until: float) -> None:
    """After a timeout, a browser that does not answer a trivial command within a moment
    (by ``until``, at least 0.1 s) is hung: kill it so the next probe starts a fresh one."""
    try:
        conn.send("Browser.getVersion", deadline=max(until, time.monotonic() + 0.1))
    except (CDPTimeout, CDPClosed, CDPError):
        browser.kill()


def default_binary() -> str:
    """The headless shell if installed, else the full browser (Debian's path, then PATH)."""
    for path in (HEADLESS_SHELL, DEFAULT_BINARY):
        if os.path.isfile(path):
            return path
    found = (
        shutil.which("chromium-headless-shell")
        or shutil.which("chromium")
        or shutil.which("chromium-browser")
    )
    return found or DEFAULT_BINARY


def is_headless_shell(binary: str) -> bool:
    return "headless-shell" in os.path.basename(binary) or "headless_shell" in os.path.basename(
        binary
    )


def headless_flags(binary: str) -> tuple[str, ...]:
    """The full browser needs ``--headless=new``; the headless shell is headless only."""
    return () if is_headless_shell(binary) else ("--headless=new",)


def trust_key(trust: Trust) -> tuple[str, str | None, int, int]:
    if trust.is_native:
        return ("native", None, 0, 0)
    assert trust.path is not None
    path = os.path.realpath(trust.path)
    st = os.stat(path)
    return ("bundle", path, st.st_mtime_ns, st.st_size)


__all__ = [
    "BLOCKED_HOSTS",
    "Browser",
    "BrowserGone",
    "BrowserKey",
    "BrowserUnavailable",
    "DEFAULT_BINARY",
    "HEADLESS_SHELL",
    "QUIET_FLAGS",
    "check_alive",
    "default_binary",
    "headless_flags",
    "is_headless_shell",
    "resolver_rules",
    "trust_key",
]
