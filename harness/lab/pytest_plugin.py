"""pytest fixtures for testing your own HTTPS code against the lab's broken chains.

Fixtures:

- ``tlsmatrix_lab``: the session's :class:`tlsmatrix.lab.lab.Lab` (all scenarios, Python
  servers on 127.0.0.1), started on first use.
- ``tlsmatrix_<scenario>`` for every scenario (``tlsmatrix_good``, ``tlsmatrix_leaf_only``,
  ...): a :class:`LabEndpoint` with ``url``, ``ca_file`` (the certifi-like bundle: Lab Root
  only) and ``workstation_ca_file`` (Lab Root and Lab Intermediate).

Example::

    import pytest
    import requests


    def test_my_client_rejects_incomplete_chain(tlsmatrix_leaf_only):
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(tlsmatrix_leaf_only.url, verify=tlsmatrix_leaf_only.ca_file)

Enabled by the ``pytest11`` entry point ``tlsmatrix`` or with ``-p tlsmatrix.lab.pytest_plugin``.
Importing this module imports no cryptography; the lab starts only when a fixture is used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from tlsmatrix.lab.scenarios import CATALOGUE, Scenario

if TYPE_CHECKING:
    from tlsmatrix.lab.lab import Lab


@dataclass(frozen=True)
class LabEndpoint:
    """One scenario served by the session lab."""

    name: str
    url: str
    host: str
    port: int
    ca_file: str  # certifi-like: roots only
    workstation_ca_file: str  # roots + the intermediate
    scenario: Scenario


@pytest.fixture(scope="session")
def tlsmatrix_lab() -> Iterator[Lab]:
    """The lab, all scenarios, for the whole session; stopped and removed at its end."""
    from tlsmatrix.lab.lab import Lab

    with Lab() as lab:
        yield lab


def _endpoint_fixture(name: str) -> Callable[..., LabEndpoint]:
    def fixture(tlsmatrix_lab: Lab) -> LabEndpoint:
        running = tlsmatrix_lab.scenario(name)
        profiles = tlsmatrix_lab.trust_profiles
        return LabEndpoint(
            name=name,
            url=running.url,
            host=running.host,
            port=running.port,
            ca_file=profiles["certifi-like"],
            workstation_ca_file=profiles["workstation"],
            scenario=running.scenario,
        )

    fixture.__name__ = f"tlsmatrix_{name}"
    fixture.__doc__ = f"The lab scenario {name!r}: {CATALOGUE.get(name).summary}"
    return pytest.fixture(scope="session", name=f"tlsmatrix_{name}")(fixture)


# One module-level fixture per scenario: pytest finds fixtures in a plugin's namespace.
_namespace: dict[str, Any] = globals()
for _scenario in CATALOGUE:
    _namespace[f"tlsmatrix_{_scenario.name}"] = _endpoint_fixture(_scenario.name)
del _namespace, _scenario
