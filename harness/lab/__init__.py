"""The broken-chain lab: a generated PKI, one scenario per way a chain goes wrong, served on
loopback by Python or nginx, with an AIA/CRL server that logs who fetched what.

Importing this package imports no cryptography (the PKI is generated when a lab starts).
"""

from __future__ import annotations

from tlsmatrix.lab.aia import AIARequest, AIAServer
from tlsmatrix.lab.export import ExportedScenario, ExportManifest, export, load_manifest
from tlsmatrix.lab.lab import Lab, RunningScenario
from tlsmatrix.lab.scenarios import (
    CATALOGUE,
    Catalogue,
    ClientProps,
    Expectation,
    Scenario,
    all_scenarios,
)

__all__ = [
    "AIARequest",
    "AIAServer",
    "CATALOGUE",
    "Catalogue",
    "ClientProps",
    "ExportManifest",
    "ExportedScenario",
    "Expectation",
    "Lab",
    "RunningScenario",
    "Scenario",
    "all_scenarios",
    "export",
    "load_manifest",
]
