"""One navigation over DevTools: go to the URL, watch the events, and note what they
say in a PageState (a 3xx is recorded and not followed)."""

from __future__ import annotations

import time

from tlsmatrix.clients.base import Reason
from tlsmatrix.clients.chromium.cdp import JSON, CDPConnection, CDPTimeout
from tlsmatrix.clients.chromium.mapping import (
    PageState,
    note_security_state,
    read_error,
    wants_security_state,
)


def navigate(
    conn: CDPConnection,
    session_id: str,
    url: str,
    deadline: float,
    page: PageState,
    *,
    interstitials: bool = True,
) -> None:
    """Navigate and read the verdict from the events, filling ``page``.

    Accept = a response with a status for the document (3xx is recorded and not
    followed); reject or error = ``errorText`` of the navigation. ``interstitials`` says
    whether the browser shows an error page whose security state is worth waiting for
    (the headless shell has none: measured, no state arrives and the wait is lost)."""
    nav_id = conn.post("Page.navigate", {"url": url}, session_id=session_id, deadline=deadline)
    nav_done = False
    main_request: str | None = None
    while True:
        conn.wait_any(session_id, [nav_id], deadline=deadline)
        for event in conn.wait_events(session_id, deadline=time.monotonic()):
            method, params = event.get("method"), event.get("params", {})
            if method == "Security.visibleSecurityStateChanged":
                note_security_state(params, page)
            elif method == "Fetch.requestPaused" and params.get("resourceType") == "Document":
                main_request = main_request or params.get("networkId")
                _on_paused(conn, session_id, params, deadline, page)
            elif (
                method == "Network.responseReceived"
                and params.get("type") == "Document"
                and (main_request is None or params.get("requestId") == main_request)
            ):
                response = params.get("response", {})
                page.status = page.status or response.get("status")
                details = response.get("securityDetails") or {}
                page.tls_version = details.get("protocol") or page.tls_version
        if not nav_done and conn.has_result(nav_id):
            nav_done = True
            result = conn.result(nav_id, deadline=deadline)
            page.error_text = result.get("errorText")
        if page.redirect_aborted and nav_done:
            # The 3xx answer proved the handshake; the navigation ended (net::ERR_ABORTED)
            # without following its Location.
            page.reason = Reason.OK
            page.detail = f"HTTP {page.status} to {page.location} (not followed)"
            return
        if nav_done and page.error_text:
            _finish_error(conn, session_id, deadline, page, interstitials)
            return
        if page.status is not None and (nav_done or page.tls_version):
            page.reason = Reason.OK
            page.detail = f"HTTP {page.status}"
            return
        if nav_done and page.status is None:
            page.reason = Reason.CLIENT_ERROR
            page.detail = "navigation committed without a response status"
            return
        if time.monotonic() >= deadline:
            raise CDPTimeout("navigation still pending")


def _on_paused(
    conn: CDPConnection, session_id: str, params: JSON, deadline: float, page: PageState
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
    page.status = status
    if 300 <= status < 400:
        headers = {h["name"].lower(): h["value"] for h in params.get("responseHeaders", [])}
        page.location = headers.get("location")
        page.redirect_aborted = True
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


def _finish_error(
    conn: CDPConnection, session_id: str, deadline: float, page: PageState, interstitials: bool
) -> None:
    error_text = page.error_text or ""
    if interstitials and wants_security_state(error_text):
        # The interstitial's security state carries the certificate (and says whether a
        # signature is SHA-1); wait for it briefly.
        until = min(deadline, time.monotonic() + 0.5)
        while page.valid_from is None and time.monotonic() < until:
            for event in conn.wait_events(session_id, deadline=until):
                if event.get("method") == "Security.visibleSecurityStateChanged":
                    note_security_state(event.get("params", {}), page)
    page.reason, page.detail = read_error(page)


__all__ = ["navigate"]
