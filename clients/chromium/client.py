"""Chromium (Debian's package) driven headless over the DevTools pipe: the adapter.

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
import re
import shutil
import threading
import time
import weakref
from collections import OrderedDict
from dataclasses import replace

from tlsmatrix.clients._common import observe, observe_outcome
from tlsmatrix.clients._subprocess import SubprocessAdapter
from tlsmatrix.clients.base import ClientInfo, Observation, Reason, Target, Trust, TrustUsed
from tlsmatrix.clients.chromium.browser import (
    DEFAULT_BINARY,
    Browser,
    BrowserGone,
    BrowserKey,
    BrowserUnavailable,
    check_alive,
    default_binary,
    is_headless_shell,
    resolver_rules,
    trust_key,
)
from tlsmatrix.clients.chromium.cdp import BrowserProcess, CDPClosed, CDPError, CDPTimeout
from tlsmatrix.clients.chromium.mapping import PageState, page_outcome, refine_protocol_error
from tlsmatrix.clients.chromium.navigation import navigate
from tlsmatrix.clients.process import CommandResult, first_line
from tlsmatrix.clients.startup import STARTUP_LIMIT_S, heavy_share, starting

NATIVE_TRUST = TrustUsed("native", "Chrome Root Store (built-in)", None)

NOTES: tuple[str, ...] = (
    "runs with a private HOME: the user's ~/.pki/nssdb is not consulted; native trust is "
    "the built-in Chrome Root Store only",
    "an explicit bundle is imported into a private NSS database as trusted CAs; the "
    "built-in Chrome Root Store stays trusted too (it cannot be switched off)",
    "fetches missing intermediates from the AIA caIssuers URL; a fresh browser context "
    "per probe, so nothing fetched for one probe helps another",
    "redirects are recorded, not followed",
)


HEADLESS_USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/{version} Safari/537.36"
)


def binary_note(binary: str) -> str:
    if is_headless_shell(binary):
        return (
            f"runs {binary}: Chromium's headless shell, the same network stack and "
            "certificate verifier as the browser without its UI layers; it shows no error "
            "page, so a date error or ERR_CERT_INVALID is named from the chain"
        )
    return f"runs {binary} --headless=new (chromium-headless-shell is lighter when installed)"


class ChromiumClient(SubprocessAdapter):
    """Headless Chromium as a TLS client. ``binary`` and ``certutil`` locate the tools
    (defaults: Debian's paths, else PATH); ``extra_resolver_rules`` is appended to every
    browser's ``--host-resolver-rules`` (tests use it to point all other names at a sink);
    at most ``max_browsers`` idle browsers are kept."""

    name = "chromium"
    default_binary = DEFAULT_BINARY
    package = "chromium"

    def __init__(
        self,
        binary: str | None = None,
        *,
        certutil: str | None = None,
        extra_resolver_rules: str | None = None,
        max_browsers: int = 3,
    ) -> None:
        super().__init__(binary or default_binary())
        self.certutil = certutil or shutil.which("certutil") or "certutil"
        self.extra_resolver_rules = extra_resolver_rules
        self.max_browsers = max(1, max_browsers)
        self._pool: OrderedDict[BrowserKey, Browser] = OrderedDict()
        self._pool_lock = threading.Lock()
        self._start_failures: dict[tuple[str, str | None, int, int], str] = {}
        # A weak reference, so that registering the exit hook keeps no client alive.
        ref = weakref.ref(self)
        atexit.register(lambda: (c := ref()) is not None and c.close())

    # --- info ----------------------------------------------------------------------

    def native_trust(self) -> TrustUsed:
        return NATIVE_TRUST

    def trust_used(self, trust: Trust) -> TrustUsed:
        if trust.is_native:
            return NATIVE_TRUST
        return TrustUsed("bundle", "explicit bundle + Chrome Root Store (built-in)", trust.path)

    def describe(self) -> ClientInfo:
        return replace(
            super().describe(),
            tls_library="BoringSSL",
            fetches_aia=True,
            # Chrome refuses RSA keys under 1024 bits and any SHA-1 signature.
            min_rsa_bits=1024,
            # Chrome's verifier takes a trusted intermediate as an anchor
            # (tests/test_clients_chromium.py measures it on a handshake).
            partial_chain=True,
            notes=(*NOTES, binary_note(self.binary)),
            # One browser serves every probe, each in its own context; measured here a
            # probe costs ~0.3 s of a core idle and up to ~6 s at load average 20, so more
            # than one per core in flight only queues inside the browser.
            max_parallel=heavy_share(1.0),
        )

    def missing(self) -> str | None:
        if shutil.which(self.certutil) is None:
            return f"{self.certutil} not found (Debian: libnss3-tools)"
        return None

    def read_version(self, result: CommandResult, info: ClientInfo) -> ClientInfo:
        match = re.search(r"(\d+(?:\.\d+)+)", first_line(result.stdout))
        if result.returncode != 0 or match is None:
            return self.version_failed(info, result)
        version = match.group(1)
        return replace(
            info,
            available=True,
            version=version,
            # Its AIA fetches carry the browser's own User-Agent: the browser sends Chrome's
            # reduced form (major version only), the headless shell the full version;
            # tests/test_clients_chromium.py checks it against what a real fetch sent.
            aia_user_agent=HEADLESS_USER_AGENT.format(
                version=version
                if is_headless_shell(self.binary)
                else version.split(".")[0] + ".0.0.0"
            ),
        )

    # --- probe ---------------------------------------------------------------------

    def probe(self, target: Target, trust: Trust, timeout: float) -> Observation:
        started = time.monotonic()
        deadline = started + timeout
        used = self.trust_used(trust)
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
            key = BrowserKey(trust_key(trust), resolver_rules(target, self.extra_resolver_rules))
        except OSError as exc:
            return observe(
                target,
                self.name,
                Reason.CLIENT_ERROR,
                detail=f"trust bundle: {exc}",
                started=started,
                trust=used,
            )
        failure = self._start_failures.get(key.trust)
        if failure is not None:  # one failed start speaks for the run (for this trust)
            return observe(
                target,
                self.name,
                Reason.CLIENT_ERROR,
                detail=failure,
                started=started,
                trust=used,
            )
        browser = self._acquire(key, trust)
        try:
            try:
                return self._probe_with(browser, target, deadline, started, used, retry=True)
            except BrowserGone:
                # It died before this probe sent anything to the target (killed, crashed
                # or exited idle): start a new one and try once more.
                browser.kill()
                return self._probe_with(browser, target, deadline, started, used, retry=False)
        finally:
            self._release(browser)

    def warm(self, target: Target, trust: Trust) -> None:
        """Start the browser that the first probe of ``target`` with ``trust`` will use,
        now (the runner's warm-up): its start overlaps tlsmatrix's own. A start that fails
        is remembered for the trust, as a probe's own failed start is."""
        if not self.info().available:
            return
        try:
            key = BrowserKey(trust_key(trust), resolver_rules(target, self.extra_resolver_rules))
        except OSError:
            return  # the probe reports the unreadable bundle
        if key.trust in self._start_failures:
            return
        browser = self._acquire(key, trust)
        try:
            self._start(browser)
        finally:
            self._release(browser)

    def _probe_with(
        self,
        browser: Browser,
        target: Target,
        deadline: float,
        started: float,
        used: TrustUsed,
        *,
        retry: bool,
    ) -> Observation:
        def done(reason: Reason, detail: str) -> Observation:
            return observe(target, self.name, reason, detail=detail, started=started, trust=used)

        # Starting the browser is the client's cost, bounded on its own: the probe's
        # deadline starts once the browser answers.
        budget = deadline - started
        with starting():
            proc = self._start(browser)
        if isinstance(proc, str):
            return done(Reason.CLIENT_ERROR, proc)
        started = time.monotonic()
        deadline = started + budget
        conn = proc.connection
        context_id: str | None = None
        session_id: str | None = None
        navigating = False
        page = PageState()
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
            navigate(
                conn,
                session_id,
                target.url,
                deadline,
                page,
                interstitials=not is_headless_shell(self.binary),
            )
        except CDPTimeout as exc:
            page.reason = Reason.TIMEOUT
            page.detail = f"no answer before the {deadline - started:.1f} s deadline ({exc})"
        except CDPClosed:
            if retry and not navigating:
                raise BrowserGone() from None
            page.reason = Reason.CLIENT_ERROR
            page.detail = f"browser exited during the probe: {browser._log_tail()}"
        except CDPError as exc:
            page.reason = Reason.CLIENT_ERROR
            page.detail = f"DevTools error: {exc}"
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
            if page.reason is Reason.TIMEOUT and not conn.closed:
                check_alive(conn, browser, deadline + 0.4)
        refine_protocol_error(page, target, deadline)
        return observe_outcome(target, self.name, page_outcome(page), started=started, trust=used)

    def _start(self, browser: Browser) -> BrowserProcess | str:
        """The running browser (started if needed), or why it did not start, remembered
        for its trust: every later probe with that trust reports it too."""
        try:
            return browser.process(time.monotonic() + STARTUP_LIMIT_S)
        except BrowserUnavailable as exc:
            return self._start_failed(browser, f"chromium did not start: {exc}")
        except CDPTimeout:
            browser.kill()
            detail = f"chromium did not start: no DevTools answer within {STARTUP_LIMIT_S:g}s"
            return self._start_failed(browser, detail)

    def _start_failed(self, browser: Browser, detail: str) -> str:
        """Remember a failed start: every later probe with that trust reports it too."""
        with self._pool_lock:
            self._start_failures[browser.key.trust] = detail
        return detail

    # --- browser pool ---------------------------------------------------------------

    def _acquire(self, key: BrowserKey, trust: Trust) -> Browser:
        with self._pool_lock:
            browser = self._pool.get(key)
            if browser is None:
                browser = Browser(self.binary, self.certutil, key, trust)
                self._pool[key] = browser
            self._pool.move_to_end(key)
            browser.users += 1
            evict = self._evictable_locked()
        for old in evict:
            old.close()
        return browser

    def _release(self, browser: Browser) -> None:
        with self._pool_lock:
            browser.users -= 1
            evict = self._evictable_locked()
        for old in evict:
            old.close()

    def _evictable_locked(self) -> list[Browser]:
        """Least recently used idle browsers beyond ``max_browsers``, and browsers for an
        older version of a bundle file; removed from the pool."""
        evict: list[Browser] = []
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


__all__ = [
    "ChromiumClient",
    "NATIVE_TRUST",
]
