"""``pycurl``: libcurl in-process. The PyPI wheel bundles its own libcurl and OpenSSL and
picks a system CA file itself (see _WHEEL_CA_FILES)."""

from __future__ import annotations

import os
import re
from typing import Any

from tlsmatrix.clients._common import (
    Outcome,
    reason_for_openssl_code,
    reason_for_text,
    tls_version_name,
)
from tlsmatrix.clients._inprocess import InProcessAdapter
from tlsmatrix.clients.base import ClientInfo, Reason, Target, Trust, TrustUsed

# libcurl error numbers (CURLE_*) we name; anything else keeps its text.
_CURLE_REASONS: dict[int, Reason] = {
    5: Reason.DNS_FAILURE,  # couldn't resolve proxy
    6: Reason.DNS_FAILURE,
    7: Reason.CONNECTION_REFUSED,  # refined below: only ECONNREFUSED is "refused"
    28: Reason.TIMEOUT,
    35: Reason.HANDSHAKE_FAILURE,
    60: Reason.HANDSHAKE_FAILURE,  # peer failed verification: refined by the verify result
}
_ECONNREFUSED = 111
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
    """Map a pycurl.error (libcurl's CURLE_* number and message) to an Outcome."""
    import pycurl

    errno = exc.args[0] if exc.args else None
    message = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
    detail = f"curl error {errno}: {message}"
    handshake_done = curl.getinfo(pycurl.APPCONNECT_TIME) > 0
    if errno == 60:
        # libcurl checks the name itself after OpenSSL accepted the chain
        if "no alternative certificate subject name" in message or "does not match" in message:
            return Outcome(Reason.HOSTNAME_MISMATCH, detail, 62)
        code = curl.getinfo(pycurl.SSL_VERIFYRESULT)
        if code:
            return Outcome(reason_for_openssl_code(code), detail, code)
        return Outcome(reason_for_text(message) or Reason.HANDSHAKE_FAILURE, detail)
    if errno == 7:
        if curl.getinfo(pycurl.OS_ERRNO) == _ECONNREFUSED:
            return Outcome(Reason.CONNECTION_REFUSED, detail)
        return Outcome(Reason.CLIENT_ERROR, detail)
    if errno == 23 and handshake_done:  # our write callback stopped a long body
        return Outcome(Reason.OK, f"HTTP {curl.getinfo(pycurl.RESPONSE_CODE)} (body cut)")
    if errno == 28:
        return Outcome(Reason.TIMEOUT, detail)
    if handshake_done:  # failed after verifying and accepting the certificate
        if "alert" in message.lower():
            return Outcome(Reason.HANDSHAKE_FAILURE, detail)
        return Outcome(Reason.OK, f"certificate accepted; then {detail}")
    if errno in _CURLE_REASONS:
        found = reason_for_text(message)
        if errno == 35 and found is not None:
            return Outcome(found, detail)
        return Outcome(_CURLE_REASONS[errno], detail)
    return Outcome(reason_for_text(message) or Reason.CLIENT_ERROR, detail)
