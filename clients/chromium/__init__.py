"""Chromium (Debian's package) driven headless over the DevTools pipe.

``client`` is the adapter (probe, browser pool), ``browser`` the browser processes (quiet
flags, resolver rules, private HOME and NSS database), ``navigation`` one page load over
DevTools, ``mapping`` what Chromium's errors and security state mean as reasons, and
``cdp`` the DevTools pipe client.
"""

from __future__ import annotations

from tlsmatrix.clients.chromium.client import ChromiumClient

__all__ = ["ChromiumClient"]
