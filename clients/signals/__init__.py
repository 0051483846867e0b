"""Signal tables: each client's own structured failure signal -> the shared Reason.

One module per signal family (OpenSSL verify codes and library reasons, Node error codes,
Java exception classes and PKIX reasons, GnuTLS status flags and fixed sentences, Chromium
net errors, curl exit codes, Python exception chains). The modules are pure: they read
codes, enum names and exception types, never a message that may carry a host name.
"""

from __future__ import annotations

from tlsmatrix.clients.signals._signal import Signal

__all__ = ["Signal"]
