"""tlsmatrix: run many real TLS clients against one HTTPS endpoint and explain who rejects
the certificate chain, and why.

The public Python API (everything else is private)::

    import tlsmatrix

    res = tlsmatrix.run(["https://example.invalid/"], clients=["curl", "requests"])
    for row in res.results:
        print(row.client, row.verdict, row.reason, row.explanation)
    res.to_json()  # the document `tlsmatrix run --format json` writes

- :func:`run` probes targets with clients and returns a :class:`RunResult`.
- :func:`inspect` captures and analyses the chain one target presents
  (a :class:`ChainInspection`).
- :mod:`tlsmatrix.lab` serves the broken-chain scenarios on loopback (``lab.Lab()``).
- The result types: :class:`RunResult`, :class:`Observation` (one row), :class:`Divergence`,
  :class:`ClientInfo`, :class:`TrustUsed`, the vocabularies :class:`Verdict`,
  :class:`Reason` and :class:`ReasonSource`, and :class:`UsageError` (bad input).

Every name is imported on first use, so ``import tlsmatrix`` (and ``tlsmatrix --help``)
loads no client library, pyOpenSSL or cryptography.
"""

from __future__ import annotations

__version__ = "0.1.0"

from tlsmatrix._lazy import lazy_names as _lazy_names

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at start-up
if TYPE_CHECKING:
    from tlsmatrix import lab
    from tlsmatrix.api import inspect, run
    from tlsmatrix.chain.inspection import ChainInspection
    from tlsmatrix.clients.base import (
        ClientInfo,
        Observation,
        Reason,
        ReasonSource,
        TrustUsed,
        Verdict,
    )
    from tlsmatrix.errors import UsageError
    from tlsmatrix.results.model import Divergence, RunResult

# Public name -> the module that defines it ("" for a sub-package of that name).
_LAZY = {
    "ChainInspection": "tlsmatrix.chain.inspection",
    "ClientInfo": "tlsmatrix.clients.base",
    "Divergence": "tlsmatrix.results.model",
    "Observation": "tlsmatrix.clients.base",
    "Reason": "tlsmatrix.clients.base",
    "ReasonSource": "tlsmatrix.clients.base",
    "RunResult": "tlsmatrix.results.model",
    "TrustUsed": "tlsmatrix.clients.base",
    "UsageError": "tlsmatrix.errors",
    "Verdict": "tlsmatrix.clients.base",
    "inspect": "tlsmatrix.api",
    "lab": "",
    "run": "tlsmatrix.api",
}

__all__ = [
    "ChainInspection",
    "ClientInfo",
    "Divergence",
    "Observation",
    "Reason",
    "ReasonSource",
    "RunResult",
    "TrustUsed",
    "UsageError",
    "Verdict",
    "inspect",
    "lab",
    "run",
]


__getattr__, __dir__ = _lazy_names(__name__, _LAZY, globals())
