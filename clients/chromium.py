"""Chromium (Debian's package) driven headless over the DevTools pipe.

One browser process per distinct (trust, ``--resolve`` mapping), started on first use and
reused (a probe then costs a few hundred milliseconds); every probe runs in a fresh browser
context, disposed afterwards, so intermediates fetched via AIA for one probe never help
another. Each browser runs with a private HOME and profile in a temporary directory: the
user's ``~/.pki/nssdb`` is never read or written. An explicit bundle becomes that private
HOME's NSS database (``certutil``); Chromium's built-in Chrome Root Store stays trusted too,
since it cannot be switched off.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import fnmatch
import os
import re
import shutil
import tempfile
import threading
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass

from tlsmatrix.clients._common import observe, tls_version_name
from tlsmatrix.clients.base import ClientInfo, Observation, Reason, Target, Trust, TrustUsed
from tlsmatrix.clients.chromium_cdp import (
    JSON,
    BrowserProcess,
    CDPClosed,
    CDPConnection,
    CDPError,
    CDPTimeout,
)
from tlsmatrix.clients.process import child_env, first_line, run_command

DEFAULT_BINARY = "/usr/lib/chromium/chromium"

# Everything that would make the browser talk to anything but the target (and the AIA
# URL it fetches): updaters, metrics, safe browsing, sync, field trials, prefetching,
# QUIC, default apps. Checked by a test that points every other host name at a sink.
QUIET_FLAGS: tuple[str, ...] = (
    "--headless=new",
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
        )
    ),
)

# net error (without "net::") -> reason. Not listed: certificate errors fall back to
# handshake_failure, other errors to client_error; the raw text is always kept.
NET_ERRORS: dict[str, Reason] = {
    "ERR_CERT_AUTHORITY_INVALID": Reason.INCOMPLETE_CHAIN,  # refined by the harness
    "ERR_CERT_DATE_INVALID": Reason.EXPIRED,  # or not_yet_valid, from the certificate
    "ERR_CERT_COMMON_NAME_INVALID": Reason.HOSTNAME_MISMATCH,
    "ERR_CERT_REVOKED": Reason.REVOKED,
    "ERR_CERT_WEAK_KEY": Reason.WEAK_KEY,
    "ERR_CERT_WEAK_SIGNATURE_ALGORITHM": Reason.WEAK_SIGNATURE,
    "ERR_CERT_SYMANTEC_LEGACY": Reason.UNTRUSTED_ROOT,
    "ERR_CERT_KNOWN_INTERCEPTION_BLOCKED": Reason.UNTRUSTED_ROOT,
    "ERR_SSL_VERSION_OR_CIPHER_MISMATCH": Reason.PROTOCOL_VERSION,
    "ERR_SSL_OBSOLETE_VERSION_OR_CIPHER": Reason.PROTOCOL_VERSION,
    "ERR_SSL_PROTOCOL_ERROR": Reason.HANDSHAKE_FAILURE,  # also what a plain-HTTP port gives
    "ERR_CONNECTION_RESET": Reason.HANDSHAKE_FAILURE,
    "ERR_CONNECTION_CLOSED": Reason.HANDSHAKE_FAILURE,
    "ERR_BAD_SSL_CLIENT_AUTH_CERT": Reason.HANDSHAKE_FAILURE,
    "ERR_SSL_CLIENT_AUTH_CERT_NEEDED": Reason.HANDSHAKE_FAILURE,
    # What headless Chromium 156 reports when the server demands a client certificate
    # (it has none to offer and the server closes): the handshake did not complete.
    "ERR_SOCKET_NOT_CONNECTED": Reason.HANDSHAKE_FAILURE,
    "ERR_CONNECTION_REFUSED": Reason.CONNECTION_REFUSED,
    "ERR_ADDRESS_UNREACHABLE": Reason.CONNECTION_REFUSED,
    "ERR_CONNECTION_FAILED": Reason.CONNECTION_REFUSED,
    "ERR_NAME_NOT_RESOLVED": Reason.DNS_FAILURE,
    "ERR_NAME_RESOLUTION_FAILED": Reason.DNS_FAILURE,
    "ERR_TIMED_OUT": Reason.TIMEOUT,
    "ERR_CONNECTION_TIMED_OUT": Reason.TIMEOUT,
}

# Errors raised only after the handshake verified the certificate: the TLS verdict is
# "accept" and the HTTP trouble goes into the detail.
AFTER_HANDSHAKE = frozenset(
    {
        "ERR_EMPTY_RESPONSE",
        "ERR_INVALID_HTTP_RESPONSE",
        "ERR_INVALID_RESPONSE",
        "ERR_RESPONSE_HEADERS_TRUNCATED",
        "ERR_HTTP2_PROTOCOL_ERROR",
        "ERR_INCOMPLETE_CHUNKED_ENCODING",
        "ERR_CONTENT_LENGTH_MISMATCH",
    }
)


def reason_for_net_error(error_text: str) -> Reason:
    """Map Chromium's ``net::ERR_*`` text to a reason (certificate errors we have no finer
    name for reject as handshake_failure; unknown non-certificate errors are client_error)."""
    name = error_text.strip().removeprefix("net::")
    if name in AFTER_HANDSHAKE:
        return Reason.OK
    if name in NET_ERRORS:
        return NET_ERRORS[name]
    if name.startswith(("ERR_CERT_", "ERR_SSL_", "ERR_CERTIFICATE_")):
        return Reason.HANDSHAKE_FAILURE
    return Reason.CLIENT_ERROR


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


class _BrowserGone(Exception):
    """The browser's pipe closed before the probe reached the target."""


class BrowserUnavailable(Exception):
    """The browser could not be prepared or started; the message says why."""


@dataclass(frozen=True)
class _Key:
    trust: tuple[str, str | None, int, int]  # kind, path, mtime_ns, size
    rules: str


class _Browser:
    """One browser process with its private HOME, NSS database and profile."""

    def __init__(self, binary: str, certutil: str, key: _Key, trust: Trust) -> None:
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
            raise BrowserUnavailable(f"browser exited at start: {self._log_tail()}") from exc
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


@dataclass
class _Outcome:
    reason: Reason | None = None
    detail: str = ""
    status: int | None = None
    location: str | None = None
    tls_version: str | None = None
    valid_from: float | None = None
    valid_to: float | None = None
    certificate: str | None = None  # base64 DER of the leaf, from the security state
    weak_signature: bool = False  # the security state says SHA-1 / a weak signature
    redirect_aborted: bool = False
    error_text: str | None = None


class ChromiumClient:
    """Headless Chromium as a TLS client. ``binary`` and ``certutil`` locate the tools
    (defaults: Debian's paths, else PATH); ``extra_resolver_rules`` is appended to every
    browser's ``--host-resolver-rules`` (tests use it to point all other names at a sink);
    at most ``max_browsers`` idle browsers are kept."""

    name = "chromium"

    def __init__(
        self,
        binary: str | None = None,
        *,
        certutil: str | None = None,
        extra_resolver_rules: str | None = None,
        max_browsers: int = 3,
    ) -> None:
        self.binary = binary or _default_binary()
        self.certutil = certutil or shutil.which("certutil") or "certutil"
        self.extra_resolver_rules = extra_resolver_rules
        self.max_browsers = max(1, max_browsers)
        self._pool: OrderedDict[_Key, _Browser] = OrderedDict()
        self._pool_lock = threading.Lock()
        self._info: ClientInfo | None = None
        # A weak reference, so that registering the exit hook keeps no client alive.
        ref = weakref.ref(self)
        atexit.register(lambda: (c := ref()) is not None and c.close())

    # --- info ----------------------------------------------------------------------

    def info(self) -> ClientInfo:
        if self._info is None:
            self._info = self._make_info()
        return self._info

    def _make_info(self) -> ClientInfo:
        common = {
            "name": self.name,
            "tls_library": "BoringSSL",
            "native_trust": NATIVE_TRUST,
            "env_vars": (),
            "fetches_aia": True,
            # Chrome refuses RSA keys under 1024 bits and any SHA-1 signature.
            "min_rsa_bits": 1024,
            "kind": "subprocess",
            "notes": NOTES,
        }
        try:
            if not (os.path.isfile(self.binary) and os.access(self.binary, os.X_OK)):
                return ClientInfo(
                    available=False, unavailable_reason=f"{self.binary} not found", **common
                )
            if shutil.which(self.certutil) is None:
                return ClientInfo(
                    available=False,
                    unavailable_reason=f"{self.certutil} not found (Debian: libnss3-tools)",
                    **common,
                )
            result = run_command([self.binary, "--version"], 10.0, env=child_env(Trust.native()))
            text = first_line(result.stdout)
            match = re.search(r"(\d+(?:\.\d+)+)", text)
            if result.timed_out or result.returncode != 0 or match is None:
                reason = "timed out" if result.timed_out else first_line(result.stderr)
                return ClientInfo(
                    available=False,
                    unavailable_reason=f"{self.binary} --version failed: {reason}",
                    **common,
                )
            return ClientInfo(available=True, version=match.group(1), **common)
        except Exception as exc:  # info() never raises
            return ClientInfo(available=False, unavailable_reason=f"{exc}", **common)

    # --- probe ---------------------------------------------------------------------

    def probe(self, target: Target, trust: Trust, timeout: float) -> Observation:
        started = time.monotonic()
        deadline = started + timeout
        used = _trust_used(trust)
        info = self.info()
        if not info.available:
            return observe(
                target,
                self.name,
                Reason.CLIENT_UNAVAILABLE,
                detail=info.unavailable_reason or "",
                started=started,
                trust=used,
            )
        try:
            key = _Key(_trust_key(trust), resolver_rules(target, self.extra_resolver_rules))
        except OSError as exc:
            return observe(
                target,
                self.name,
                Reason.CLIENT_ERROR,
                detail=f"trust bundle: {exc}",
                started=started,
                trust=used,
            )
        browser = self._acquire(key, trust)
        try:
            try:
                return self._probe_with(browser, target, deadline, started, used, retry=True)
            except _BrowserGone:
                # It died before this probe sent anything to the target (killed, crashed
                # or exited idle): start a new one and try once more.
                browser.kill()
                return self._probe_with(browser, target, deadline, started, used, retry=False)
        finally:
            self._release(browser)

    def _probe_with(
        self,
        browser: _Browser,
        target: Target,
        deadline: float,
        started: float,
        used: TrustUsed,
        *,
        retry: bool,
    ) -> Observation:
        def done(reason: Reason, detail: str, **kw: object) -> Observation:
            return observe(
                target, self.name, reason, detail=detail, started=started, trust=used, **kw
            )  # type: ignore[arg-type]

        try:
            proc = browser.process(deadline)
        except BrowserUnavailable as exc:
            return done(Reason.CLIENT_ERROR, str(exc))
        except CDPTimeout:
            browser.kill()
            return done(Reason.TIMEOUT, "browser did not start before the deadline")
        conn = proc.connection
        context_id: str | None = None
        session_id: str | None = None
        navigating = False
        outcome = _Outcome()
        try:
            context_id = conn.send(
                "Target.createBrowserContext", {"disposeOnDetach": True}, deadline=deadline
            )["browserContextId"]
            target_id = conn.send(
                "Target.createTarget",
                {"url": "about:blank", "browserContextId": context_id},
                deadline=deadline,
            )["targetId"]
            session_id = conn.send(
                "Target.attachToTarget", {"targetId": target_id, "flatten": True}, deadline=deadline
            )["sessionId"]
            conn.subscribe(session_id)
            for method, params in (
                ("Network.enable", {}),
                ("Security.enable", {}),
                (
                    "Fetch.enable",
                    {
                        "patterns": [
                            {
                                "urlPattern": "*",
                                "resourceType": "Document",
                                "requestStage": "Response",
                            }
                        ]
                    },
                ),
            ):
                conn.send(method, params, session_id=session_id, deadline=deadline)
            navigating = True
            _navigate(conn, session_id, target.url, deadline, outcome)
        except CDPTimeout as exc:
            outcome.reason = Reason.TIMEOUT
            outcome.detail = f"no answer before the {deadline - started:.1f} s deadline ({exc})"
        except CDPClosed:
            if retry and not navigating:
                raise _BrowserGone() from None
            outcome.reason = Reason.CLIENT_ERROR
            outcome.detail = f"browser exited during the probe: {browser._log_tail()}"
        except CDPError as exc:
            outcome.reason = Reason.CLIENT_ERROR
            outcome.detail = f"DevTools error: {exc}"
        finally:
            if session_id is not None:
                conn.unsubscribe(session_id)
            # Past the deadline the caller may not wait for the cleanup (the runner stops
            # waiting 0.5 s after it): the dispose is sent without waiting for its reply,
            # and only a browser that then does not answer at all is killed.
            late = time.monotonic() >= deadline
            if context_id is not None and not conn.closed:
                params = {"browserContextId": context_id}
                try:  # closes the tab and forgets everything the context fetched
                    if late:
                        conn.post("Target.disposeBrowserContext", params, deadline=deadline + 0.2)
                    else:
                        conn.send(
                            "Target.disposeBrowserContext",
                            params,
                            deadline=time.monotonic() + 1.0,
                        )
                except (CDPTimeout, CDPError, CDPClosed):
                    browser.kill()  # hung or confused: the next probe gets a new one
            if outcome.reason is Reason.TIMEOUT and not conn.closed:
                _check_alive(conn, browser, deadline + 0.4)
        reason = outcome.reason or Reason.CLIENT_ERROR
        return done(
            reason,
            outcome.detail,
            tls_version=tls_version_name(outcome.tls_version),
            issuer_unknown=outcome.error_text == "net::ERR_CERT_AUTHORITY_INVALID",
            # "the certificate is invalid" with no why: the harness names it from the chain
            certificate_invalid=outcome.error_text
            in ("net::ERR_CERT_INVALID", "net::ERR_CERT_DATE_INVALID"),
        )

    # --- browser pool ---------------------------------------------------------------

    def _acquire(self, key: _Key, trust: Trust) -> _Browser:
        with self._pool_lock:
            browser = self._pool.get(key)
            if browser is None:
                browser = _Browser(self.binary, self.certutil, key, trust)
                self._pool[key] = browser
            self._pool.move_to_end(key)
            browser.users += 1
            evict = self._evictable_locked()
        for old in evict:
            old.close()
        return browser

    def _release(self, browser: _Browser) -> None:
        with self._pool_lock:
            browser.users -= 1
            evict = self._evictable_locked()
        for old in evict:
            old.close()

    def _evictable_locked(self) -> list[_Browser]:
        """Least recently used idle browsers beyond ``max_browsers``, and browsers for an
        older version of a bundle file; removed from the pool."""
        evict: list[_Browser] = []
        newest_stamp: dict[str | None, tuple[int, int]] = {}
        for key in self._pool:
            kind, path, mtime, size = key.trust
            if kind == "bundle":
                newest_stamp[path] = max(newest_stamp.get(path, (0, 0)), (mtime, size))
        for key, browser in list(self._pool.items()):
            kind, path, mtime, size = key.trust
            stale = kind == "bundle" and newest_stamp[path] != (mtime, size)
            if browser.users == 0 and (stale or len(self._pool) - len(evict) > self.max_browsers):
                evict.append(browser)
        for browser in evict:
            del self._pool[browser.key]
        return evict

    def close(self) -> None:
        """Kill every browser and remove its temporary HOME and profile."""
        with self._pool_lock:
            browsers = list(self._pool.values())
            self._pool.clear()
        for browser in browsers:
            browser.close()

    def __enter__(self) -> ChromiumClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _navigate(
    conn: CDPConnection, session_id: str, url: str, deadline: float, outcome: _Outcome
) -> None:
    """Navigate and read the verdict from the events, filling ``outcome``.

    Accept = a response with a status for the document (3xx is recorded and not
    followed); reject or error = ``errorText`` of the navigation."""
    nav_id = conn.post("Page.navigate", {"url": url}, session_id=session_id, deadline=deadline)
    nav_done = False
    main_request: str | None = None
    while True:
        conn.wait_any(session_id, [nav_id], deadline=deadline)
        for event in conn.wait_events(session_id, deadline=time.monotonic()):
            method, params = event.get("method"), event.get("params", {})
            if method == "Security.visibleSecurityStateChanged":
                _note_security_state(params, outcome)
            elif method == "Fetch.requestPaused" and params.get("resourceType") == "Document":
                main_request = main_request or params.get("networkId")
                _on_paused(conn, session_id, params, deadline, outcome)
            elif (
                method == "Network.responseReceived"
                and params.get("type") == "Document"
                and (main_request is None or params.get("requestId") == main_request)
            ):
                response = params.get("response", {})
                outcome.status = outcome.status or response.get("status")
                details = response.get("securityDetails") or {}
                outcome.tls_version = details.get("protocol") or outcome.tls_version
        if not nav_done and conn.has_result(nav_id):
            nav_done = True
            result = conn.result(nav_id, deadline=deadline)
            outcome.error_text = result.get("errorText")
        if outcome.redirect_aborted and nav_done:
            # The 3xx answer proved the handshake; the navigation ended (net::ERR_ABORTED)
            # without following its Location.
            outcome.reason = Reason.OK
            outcome.detail = f"HTTP {outcome.status} to {outcome.location} (not followed)"
            return
        if nav_done and outcome.error_text:
            _finish_error(conn, session_id, deadline, outcome)
            return
        if outcome.status is not None and (nav_done or outcome.tls_version):
            outcome.reason = Reason.OK
            outcome.detail = f"HTTP {outcome.status}"
            return
        if nav_done and outcome.status is None:
            outcome.reason = Reason.CLIENT_ERROR
            outcome.detail = "navigation committed without a response status"
            return
        if time.monotonic() >= deadline:
            raise CDPTimeout("navigation still pending")


def _on_paused(
    conn: CDPConnection, session_id: str, params: JSON, deadline: float, outcome: _Outcome
) -> None:
    request_id = params["requestId"]
    status = params.get("responseStatusCode")
    if status is None:  # paused without a response (a network error): let it fail
        conn.post(
            "Fetch.continueRequest",
            {"requestId": request_id},
            session_id=session_id,
            deadline=deadline,
        )
        return
    outcome.status = status
    if 300 <= status < 400:
        headers = {h["name"].lower(): h["value"] for h in params.get("responseHeaders", [])}
        outcome.location = headers.get("location")
        outcome.redirect_aborted = True
        conn.post(
            "Fetch.failRequest",
            {"requestId": request_id, "errorReason": "Aborted"},
            session_id=session_id,
            deadline=deadline,
        )
    else:
        conn.post(
            "Fetch.continueRequest",
            {"requestId": request_id},
            session_id=session_id,
            deadline=deadline,
        )


def _note_security_state(params: JSON, outcome: _Outcome) -> None:
    state = params.get("visibleSecurityState", {}).get("certificateSecurityState")
    if not state:
        return
    outcome.tls_version = state.get("protocol") or outcome.tls_version
    outcome.valid_from = state.get("validFrom", outcome.valid_from)
    outcome.valid_to = state.get("validTo", outcome.valid_to)
    chain = state.get("certificate") or []
    if chain:
        outcome.certificate = chain[0]
    if state.get("certificateHasSha1Signature") or state.get("certificateHasWeakSignature"):
        outcome.weak_signature = True


def _finish_error(conn: CDPConnection, session_id: str, deadline: float, outcome: _Outcome) -> None:
    error_text = outcome.error_text or ""
    reason = reason_for_net_error(error_text)
    outcome.detail = error_text
    vague_invalid = "ERR_CERT_INVALID" in error_text
    if reason is Reason.EXPIRED or vague_invalid:
        # The interstitial's security state carries the certificate (and says whether a
        # signature is SHA-1); wait for it briefly.
        until = min(deadline, time.monotonic() + 0.5)
        while outcome.valid_from is None and time.monotonic() < until:
            for event in conn.wait_events(session_id, deadline=until):
                if event.get("method") == "Security.visibleSecurityStateChanged":
                    _note_security_state(event.get("params", {}), outcome)
        if reason is Reason.EXPIRED:
            reason = _date_reason(outcome)
        elif outcome.weak_signature:
            reason = Reason.WEAK_SIGNATURE
    elif reason is Reason.OK:
        outcome.detail = f"certificate accepted; then {error_text}"
    outcome.reason = reason


def _date_reason(outcome: _Outcome) -> Reason:
    """Expired or not yet valid, from the leaf's validity as the browser reported it."""
    now = time.time()
    if outcome.valid_from is not None and now < outcome.valid_from:
        return Reason.NOT_YET_VALID
    if outcome.valid_from is None and outcome.certificate:
        with contextlib.suppress(Exception):
            from cryptography import x509

            cert = x509.load_der_x509_certificate(base64.b64decode(outcome.certificate))
            if now < cert.not_valid_before_utc.timestamp():
                return Reason.NOT_YET_VALID
    return Reason.EXPIRED


def _check_alive(conn: CDPConnection, browser: _Browser, until: float) -> None:
    """After a timeout, a browser that does not answer a trivial command within a moment
    (by ``until``, at least 0.1 s) is hung: kill it so the next probe starts a fresh one."""
    try:
        conn.send("Browser.getVersion", deadline=max(until, time.monotonic() + 0.1))
    except (CDPTimeout, CDPClosed, CDPError):
        browser.kill()


def _default_binary() -> str:
    if os.path.isfile(DEFAULT_BINARY):
        return DEFAULT_BINARY
    return shutil.which("chromium") or shutil.which("chromium-browser") or DEFAULT_BINARY


def _trust_key(trust: Trust) -> tuple[str, str | None, int, int]:
    if trust.is_native:
        return ("native", None, 0, 0)
    assert trust.path is not None
    path = os.path.realpath(trust.path)
    st = os.stat(path)
    return ("bundle", path, st.st_mtime_ns, st.st_size)


NATIVE_TRUST = TrustUsed("native", "Chrome Root Store (built-in)", None)


def _trust_used(trust: Trust) -> TrustUsed:
    if trust.is_native:
        return NATIVE_TRUST
    return TrustUsed("bundle", "explicit bundle + Chrome Root Store (built-in)", trust.path)


NOTES: tuple[str, ...] = (
    "runs with a private HOME: the user's ~/.pki/nssdb is not consulted; native trust is "
    "the built-in Chrome Root Store only",
    "an explicit bundle is imported into a private NSS database as trusted CAs; the "
    "built-in Chrome Root Store stays trusted too (it cannot be switched off)",
    "fetches missing intermediates from the AIA caIssuers URL; a fresh browser context "
    "per probe, so nothing fetched for one probe helps another",
    "redirects are recorded, not followed",
)


__all__ = [
    "BLOCKED_HOSTS",
    "ChromiumClient",
    "NET_ERRORS",
    "QUIET_FLAGS",
    "reason_for_net_error",
    "resolver_rules",
]
