"""``pycurl``: libcurl in-process. The PyPI wheel bundles its own libcurl and OpenSSL and
picks a system CA file itself (see _WHEEL_CA_FILES)."""

from __future__ import annotations

import os
import re
from typing import Any

from tlsmatrix.clients._common import (
    Outcome,
    is_alert,
    late_outcome,
    outcome_for_signal,
    tls_version_name,
)
from tlsmatrix.clients._inprocess import InProcessAdapter
from tlsmatrix.clients.base import ClientInfo, Reason, Target, Trust, TrustUsed
from tlsmatrix.clients.signals import curl as curl_signals
from tlsmatrix.clients.signals import openssl_reasons, python_ssl
from tlsmatrix.clients.signals._signal import Signal

_CURLE_COULDNT_CONNECT = 7
_CURLE_WRITE_ERROR = 23
_CURLE_PEER_FAILED_VERIFICATION = 60
_BODY_LIMIT = 65536
# The PyPI wheel's pycurl sets CAINFO on every new handle to the first of these files that
# exists (list and order read from its _pycurl extension; pycurl exposes no getter), over
# libcurl's built-in /etc/pki/tls/certs/ca-bundle.crt. No environment variable changes it:
# CURL_CA_BUNDLE is read by the curl command-line tool, not by libcurl or pycurl, and
# OpenSSL's SSL_CERT_FILE / SSL_CERT_DIR apply only when no CA file is set.
_WHEEL_CA_FILES = (
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/usr/share/ssl/certs/ca-bundle.crt",
    "/usr/local/share/certs/ca-root-nss.crt",
)


class PycurlClient(InProcessAdapter):
    name = "pycurl"
    env_vars = ()

    def version(self) -> str:
        import pycurl

        libcurl = pycurl.version_info()[1]
        return f"pycurl {pycurl.version.split()[0].partition('/')[2]} (libcurl {libcurl})"

    def describe(self) -> ClientInfo:
        import pycurl

        ssl_backend = str(pycurl.version_info()[5] or "")  # e.g. "OpenSSL/3.6.5"
        lib, _, lib_version = ssl_backend.partition("/")
        notes = (
            pycurl.version,
            "the wheel's pycurl sets CAINFO to the first existing of "
            + ", ".join(_WHEEL_CA_FILES)
            + "; CURL_CA_BUNDLE, SSL_CERT_FILE and SSL_CERT_DIR are not read",
        )
        return ClientInfo(
            name=self.name,
            available=True,
            version=self.version(),
            tls_library=lib or None,
            tls_library_version=lib_version or None,
            native_trust=self.native_trust(),
            env_vars=self.env_vars,
            fetches_aia=False,
            notes=notes,
            # libcurl sets X509_V_FLAG_PARTIAL_CHAIN (see curl.py); measured by
            # tests/test_partial_chain.py.
            partial_chain=True,
        )

    def native_trust(self) -> TrustUsed:
        for path in _WHEEL_CA_FILES:
            if os.path.isfile(path):
                return TrustUsed("native", "pycurl: first system CA file found", path)
        return TrustUsed("native", "pycurl: no system CA file found", None)

    def outcome(self, target: Target, trust: Trust, timeout: float) -> Outcome:
        try:
            return _perform(target, trust, timeout)
        except Exception as exc:  # an adapter bug or a missing module: never raise
            return Outcome(Reason.CLIENT_ERROR, f"{type(exc).__name__}: {exc}")


def _perform(target: Target, trust: Trust, timeout: float) -> Outcome:
    import pycurl

    curl = pycurl.Curl()  # one handle per probe: handles are not shared across threads
    seen = {"body": 0, "version": None}

    def discard(chunk: bytes) -> int | None:
        seen["body"] += len(chunk)
        return None if seen["body"] <= _BODY_LIMIT else 0  # 0 aborts: enough read

    def debug(kind: int, data: bytes) -> None:
        if kind == pycurl.INFOTYPE_TEXT and seen["version"] is None:
            found = re.search(rb"SSL connection using (TLSv[\d.]+)", data)
            if found:
                seen["version"] = found.group(1).decode()

    try:
        curl.setopt(pycurl.URL, target.url)
        if target.connect_to:
            curl.setopt(pycurl.RESOLVE, [f"{target.ascii_host}:{target.port}:{target.connect_to}"])
        curl.setopt(pycurl.NOPROXY, "*")
        curl.setopt(pycurl.FOLLOWLOCATION, 0)
        curl.setopt(pycurl.PROTOCOLS, pycurl.PROTO_HTTPS)
        curl.setopt(pycurl.TIMEOUT_MS, max(int(timeout * 1000), 1))
        curl.setopt(pycurl.CONNECTTIMEOUT_MS, max(int(timeout * 1000), 1))
        curl.setopt(pycurl.NOSIGNAL, 1)  # no SIGALRM from a worker thread
        curl.setopt(pycurl.WRITEFUNCTION, discard)
        curl.setopt(pycurl.VERBOSE, 1)
        curl.setopt(pycurl.DEBUGFUNCTION, debug)
        if trust.path:
            curl.setopt(pycurl.CAINFO, trust.path)
            curl.unsetopt(pycurl.CAPATH)  # the bundle and nothing else
        try:
            curl.perform()
        except pycurl.error as exc:
            outcome = _classify(curl, exc)
        else:
            outcome = Outcome(Reason.OK, f"HTTP {curl.getinfo(pycurl.RESPONSE_CODE)}")
        return Outcome(
            outcome.reason,
            outcome.detail,
            outcome.verify_code,
            tls_version_name(seen["version"]),  # type: ignore[arg-type]
        )
    finally:
        curl.close()


def _classify(curl: Any, exc: Exception) -> Outcome:
    """Map a pycurl.error (libcurl's CURLE_* number) with CURLINFO_SSL_VERIFYRESULT, the
    OS errno and whether the handshake completed, through signals/curl.py."""
    import pycurl

    errno = exc.args[0] if exc.args and isinstance(exc.args[0], int) else -1
    message = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
    detail = f"curl error {errno}: {message}"
    handshake_done = curl.getinfo(pycurl.APPCONNECT_TIME) > 0
    if errno == _CURLE_WRITE_ERROR and handshake_done:  # our write callback stopped a body
        return Outcome(Reason.OK, f"HTTP {curl.getinfo(pycurl.RESPONSE_CODE)} (body cut)")
    verify = None
    if errno == _CURLE_PEER_FAILED_VERIFICATION:
        verify = curl.getinfo(pycurl.SSL_VERIFYRESULT)
    # libcurl's message carries OpenSSL's packed code ("error:0A00010B:") when it has one
    signal = curl_signals.signal_for_curl(errno, verify, message)
    if errno == _CURLE_COULDNT_CONNECT:
        signal = _connect_signal(curl.getinfo(pycurl.OS_ERRNO), signal)
    if handshake_done and errno != _CURLE_PEER_FAILED_VERIFICATION:
        packed = openssl_reasons.signal_for_packed_text(message)
        if packed is not None and is_alert(packed):  # TLS 1.3 client authentication
            signal = packed
        return late_outcome(signal, detail)
    return outcome_for_signal(signal, detail)


def _connect_signal(os_errno: int, signal: Signal) -> Signal:
    """CURLE_COULDNT_CONNECT says which errno made the connect fail: that decides."""
    if os_errno > 0:
        return python_ssl.signal_for_exception(OSError(os_errno, "connect"))
    return signal
