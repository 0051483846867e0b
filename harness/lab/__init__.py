"""The broken-chain lab: a generated PKI, one scenario per way a chain goes wrong, served on
loopback by Python or nginx, with an AIA/CRL server that logs who fetched what.

Public names:

- :class:`Lab` serves the scenarios (``with Lab() as lab: lab.scenario("leaf_only").url``);
  :class:`RunningScenario` is one of them, running.
- :data:`CATALOGUE` (a :class:`Catalogue`) and :func:`all_scenarios` hold every
  :class:`Scenario`, with the :class:`Expectation` it predicts from a client's measured
  :class:`ClientProps`.
- :class:`AIAServer` serves the AIA/CRL files and logs each :class:`AIARequest`.
- :mod:`export` writes a lab to a directory for docker compose; :func:`load_manifest`
  reads its :class:`ExportManifest` back (one :class:`ExportedScenario` per scenario).

Importing this package imports nothing else: each name below loads its module on first use,
and no cryptography is imported until a lab starts (the PKI is generated then).
"""

from __future__ import annotations

from tlsmatrix._lazy import lazy_names as _lazy_names

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from tlsmatrix.lab import export
    from tlsmatrix.lab.aia import AIARequest, AIAServer
    from tlsmatrix.lab.export import ExportedScenario, ExportManifest, load_manifest
    from tlsmatrix.lab.lab import Lab, RunningScenario
    from tlsmatrix.lab.scenarios import (
        CATALOGUE,
        Catalogue,
        ClientProps,
        Expectation,
        Scenario,
        all_scenarios,
    )

# Public name -> its module ("" for a sub-module of that name), imported on first use: the
# pytest plugin imports this package in every pytest session, so it must cost (almost) nothing.
_LAZY = {
    "AIARequest": "tlsmatrix.lab.aia",
    "AIAServer": "tlsmatrix.lab.aia",
    "CATALOGUE": "tlsmatrix.lab.scenarios",
    "Catalogue": "tlsmatrix.lab.scenarios",
    "ClientProps": "tlsmatrix.lab.scenarios",
    "ExportManifest": "tlsmatrix.lab.export",
    "ExportedScenario": "tlsmatrix.lab.export",
    "Expectation": "tlsmatrix.lab.scenarios",
    "Lab": "tlsmatrix.lab.lab",
    "RunningScenario": "tlsmatrix.lab.lab",
    "Scenario": "tlsmatrix.lab.scenarios",
    "all_scenarios": "tlsmatrix.lab.scenarios",
    "export": "",  # the module (its export() writes a lab for docker compose)
    "load_manifest": "tlsmatrix.lab.export",
}

__all__ = [
    "AIARequest",
    "AIAServer",
    "CATALOGUE",
    "Catalogue",
    "ClientProps",
    "Expectation",
    "ExportManifest",
    "ExportedScenario",
    "Lab",
    "RunningScenario",
    "Scenario",
    "all_scenarios",
    "export",
    "load_manifest",
]


__getattr__, __dir__ = _lazy_names(__name__, _LAZY, globals())
